//! The errors of the module area: saved state that does not fit a program, failed assertions,
//! sandbox runs and tool calls. A leaf: it depends on nothing else in `module`, so the crate's
//! [`Error`](crate::Error) can wrap these without `error.rs` reaching into module internals.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::pyfmt;
use super::id::PredictorId;

/// A saved state that does not fit the program: which predictors are missing from the file,
/// which the file has that the program does not, and whose fields differ in number.
///
/// ```
/// use dspy_core::module::StateMismatch;
/// let m = StateMismatch { missing: vec!["generate_answer.predict".into()], ..Default::default() };
/// assert!(m.to_string().contains("missing from the saved state: generate_answer.predict"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct StateMismatch {
    /// The file the state came from, if any.
    pub path: Option<PathBuf>,
    /// Predictors of the program that the state does not have.
    pub missing: Vec<String>,
    /// Predictor entries of the state that the program does not have.
    pub extra: Vec<String>,
    /// Predictors whose saved signature has another number of fields: (name, saved, program).
    pub field_counts: Vec<(String, usize, usize)>,
    /// Entries that are present but malformed: (name, reason).
    pub invalid: Vec<(String, String)>,
}

impl StateMismatch {
    pub(super) fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.field_counts.is_empty() && self.invalid.is_empty()
    }
}

impl fmt::Display for StateMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "the state saved in {} does not match the program:", p.display())?,
            None => write!(f, "the saved state does not match the program:")?,
        }
        if !self.missing.is_empty() {
            write!(f, " predictor(s) missing from the saved state: {};", self.missing.join(", "))?;
        }
        if !self.extra.is_empty() {
            write!(f, " predictor(s) in the saved state but not in the program: {};", self.extra.join(", "))?;
        }
        for (name, saved, ours) in &self.field_counts {
            write!(f, " `{name}` has {saved} field(s) saved but {ours} in the program;")?;
        }
        for (name, reason) in &self.invalid {
            write!(f, " `{name}`: {reason};")?;
        }
        Ok(())
    }
}

/// Hard constraint or soft one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    /// `Assert`: the program fails if backtracking cannot satisfy it.
    Assert,
    /// `Suggest`: backtracking tries to satisfy it, then the program goes on.
    Suggest,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConstraintKind::Assert => "assertion",
            ConstraintKind::Suggest => "suggestion",
        })
    }
}

/// A constraint failed (and, under [`Backtracking`](super::Backtracking), kept failing).
///
/// ```
/// let err = dspy_core::module::assert(false, "answer must be one word").unwrap_err();
/// assert!(err.to_string().contains("answer must be one word"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} failed after {attempts} attempt(s): {message}")]
pub struct AssertionError {
    /// Assert or Suggest.
    pub kind: ConstraintKind,
    /// The feedback message.
    pub message: String,
    /// The predictor to backtrack to, when given (else the last one called).
    pub target: Option<PredictorId>,
    /// How many times the program ran.
    pub attempts: usize,
}

/// What a sandbox escape attempt tried to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// Opening, listing or changing files.
    FileSystem,
    /// Sockets and network protocols.
    Network,
    /// Starting programs, forking, signalling other processes.
    Process,
    /// Importing a module outside the allow-list.
    Import,
    /// Frames, code objects, tracing, `ctypes` and other interpreter internals.
    Introspection,
}

impl Capability {
    pub(super) fn from_code(code: &str) -> Self {
        match code {
            "filesystem" => Capability::FileSystem,
            "network" => Capability::Network,
            "process" => Capability::Process,
            "import" => Capability::Import,
            _ => Capability::Introspection,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Capability::FileSystem => "file system access",
            Capability::Network => "network access",
            Capability::Process => "starting or signalling processes",
            Capability::Import => "importing this module",
            Capability::Introspection => "interpreter introspection",
        }
    }
}

/// Why a run failed. Errors of the code ([`SandboxError::is_code_error`]) go back to the LM;
/// the others mean the sandbox itself could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The code is not valid Python (DSPy's wording).
    #[error("Invalid Python syntax. message: {message}")]
    Syntax {
        /// Python's `SyntaxError`, as `traceback` formats it.
        message: String,
    },
    /// The code raised an exception (DSPy's `{type}: {args}` wording).
    #[error("{}", execution_text(error_type, args, message))]
    Execution {
        /// The exception's class name.
        error_type: String,
        /// Its `args`, as JSON.
        args: Vec<Value>,
        /// `str(exception)`.
        message: String,
    },
    /// The code tried something the sandbox forbids; the attempt was blocked.
    #[error("SandboxViolation: {} is not allowed in the sandbox ({detail})", capability.text())]
    Denied {
        /// What it tried.
        capability: Capability,
        /// The operation (e.g. `open '/etc/passwd'`, `socket.connect`).
        detail: String,
    },
    /// The code imported a module outside the allow-list.
    #[error("ImportError: importing '{module}' is not allowed in the sandbox; allowed modules: {}", allowed.join(", "))]
    ForbiddenImport {
        /// The module.
        module: String,
        /// The allow-list.
        allowed: Vec<String>,
    },
    /// The code ran past the wall-clock limit and was killed.
    #[error("TimeoutError: the code did not finish within the sandbox's time limit of {}s", limit.as_secs_f64())]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// The code used up its CPU time and was killed.
    #[error("TimeoutError: the code used up the sandbox's CPU-time limit of {seconds}s")]
    CpuLimit {
        /// The limit in seconds.
        seconds: u64,
    },
    /// The code ran out of memory.
    #[error("MemoryError: the code exceeded the sandbox's memory limit of {} MiB", limit_bytes / (1024 * 1024))]
    MemoryLimit {
        /// The limit in bytes.
        limit_bytes: u64,
    },
    /// The interpreter died without a reply (e.g. killed by a signal).
    #[error("the sandboxed interpreter exited unexpectedly ({status}): {stderr}")]
    Crashed {
        /// How it ended.
        status: String,
        /// The end of what it wrote on stderr.
        stderr: String,
    },
    /// The sandbox cannot run here (no interpreter, no seccomp on this platform).
    #[error("the Python sandbox is unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The interpreter's reply could not be read.
    #[error("the Python sandbox sent an unreadable reply: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
}

fn execution_text(error_type: &str, args: &[Value], message: &str) -> String {
    if args.is_empty() {
        format!("{error_type}: {message}")
    } else {
        format!("{error_type}: {}", pyfmt::py_repr(&Value::Array(args.to_vec())))
    }
}

impl SandboxError {
    /// Whether the code caused this error (so the LM can fix the code), rather than the sandbox.
    pub fn is_code_error(&self) -> bool {
        !matches!(self, SandboxError::Unavailable { .. } | SandboxError::Protocol { .. })
    }
}

/// Why a tool call failed. [`ReAct`](super::ReAct) shows it to the LM as the observation
/// `Execution error in {tool}: {error}`; the texts of the argument errors are DSPy's.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// An argument the tool does not take.
    #[error("Arg {arg} is not in the tool's args.")]
    UnknownArg {
        /// The tool.
        tool: String,
        /// The argument.
        arg: String,
    },
    /// An argument whose value does not match its JSON schema.
    #[error("Arg {arg} is invalid: {reason}")]
    InvalidArg {
        /// The tool.
        tool: String,
        /// The argument.
        arg: String,
        /// The schema violation, worded as Python's `jsonschema` words it.
        reason: String,
    },
    /// Required arguments were not given.
    #[error("{}", missing_args_text(tool, missing))]
    MissingArgs {
        /// The tool.
        tool: String,
        /// The missing arguments.
        missing: Vec<String>,
    },
    /// The arguments are not a JSON object.
    #[error("the arguments of {tool} must be a JSON object, got {got}")]
    NotAnObject {
        /// The tool.
        tool: String,
        /// What was given, as Python would print it.
        got: String,
    },
    /// The arguments passed the schema but not the function's Rust types.
    #[error("invalid arguments for {tool}: {reason}")]
    Deserialize {
        /// The tool.
        tool: String,
        /// serde's explanation.
        reason: String,
    },
    /// The tool ran and reported a failure.
    #[error("{message}")]
    Failed {
        /// The tool.
        tool: String,
        /// The tool's error message.
        message: String,
    },
    /// The tool panicked.
    #[error("{tool} panicked: {message}")]
    Panicked {
        /// The tool.
        tool: String,
        /// The panic message.
        message: String,
    },
    /// The tool's output could not be turned into JSON.
    #[error("the output of {tool} is not serialisable: {reason}")]
    Output {
        /// The tool.
        tool: String,
        /// serde's explanation.
        reason: String,
    },
    /// No tool of that name exists.
    #[error("no tool named `{tool}`")]
    UnknownTool {
        /// The name asked for.
        tool: String,
    },
}

impl ToolError {
    /// A failure reported by the tool itself (what a tool's `Err(e)` becomes).
    pub fn failed(tool: impl Into<String>, message: impl fmt::Display) -> Self {
        ToolError::Failed { tool: tool.into(), message: message.to_string() }
    }
}

/// Python's `TypeError` text for a call with missing arguments.
fn missing_args_text(tool: &str, missing: &[String]) -> String {
    let quoted: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
    let list = match quoted.as_slice() {
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
        [] => String::new(),
    };
    let plural = if missing.len() == 1 { "" } else { "s" };
    format!("{tool}() missing {} required positional argument{plural}: {list}", missing.len())
}
