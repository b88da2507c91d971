//! Typed errors. Every failure a user can cause or meet is one of these, never a panic.

use crate::lm::LmError;

/// Any error of the dspy runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A signature could not be built or changed.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The LM's completion could not be parsed into the signature's outputs.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The language model call failed.
    #[error(transparent)]
    Lm(#[from] LmError),
    /// No language model was given to the predictor nor configured globally.
    #[error(
        "no language model configured: call `dspy::configure(Settings::new().lm(...))` or give the predictor an LM"
    )]
    NoLm,
    /// The inputs given to a module do not fit its signature.
    #[error("invalid input: {0}")]
    Input(String),
    /// Parsed outputs could not be converted into the typed output struct.
    #[error("could not convert the prediction into `{type_name}`: {reason}")]
    Output {
        /// The Rust type asked for.
        type_name: &'static str,
        /// Why the conversion failed.
        reason: String,
    },
    /// Saved state could not be read, written or applied.
    #[error("state error: {0}")]
    State(String),
    /// A file could not be read or written.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file concerned.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image or audio input could not be used.
    #[error(transparent)]
    Media(#[from] crate::types::MediaError),
    /// Any other failure in a user-supplied piece (tool, metric, module).
    #[error("{0}")]
    Other(String),
    /// A saved program's predictors do not match this program's (names or fields).
    #[error(transparent)]
    StateMismatch(#[from] crate::module::StateMismatch),
    /// A `dspy::Assert` failed and backtracking did not fix it.
    #[error(transparent)]
    Assertion(#[from] crate::module::AssertionError),
    /// A retriever or embedder failed.
    #[error(transparent)]
    Retrieve(#[from] crate::retrieve::RetrieveError),
    /// `Parallel` or `Evaluate` stopped because more items failed than `max_errors` allows.
    #[error("stopped after {errors} failed item(s) (max_errors = {max_errors}); last error: {last}")]
    TooManyErrors {
        /// How many items failed.
        errors: usize,
        /// The error budget.
        max_errors: usize,
        /// The last failure.
        last: Box<Error>,
    },
    /// Generated code could not be run at all (no interpreter, or no sandbox on this platform).
    #[error(transparent)]
    Sandbox(#[from] crate::module::SandboxError),
    /// A module ran out of attempts (ProgramOfThought's `max_iters`), with DSPy's message.
    #[error("Max hops reached. Failed to run {module}: {last_error}")]
    MaxIters {
        /// The module.
        module: &'static str,
        /// The attempts it had.
        max_iters: usize,
        /// The last failure.
        last_error: String,
    },
    /// A tool failed when called directly (agents show tool failures to the LM instead).
    #[error(transparent)]
    Tool(#[from] crate::module::ToolError),
}

/// Shorthand for results of the dspy runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A signature could not be parsed, built or changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A string signature is malformed; `position` counts characters from the start.
    #[error("invalid signature: {message} (at character {position})")]
    Syntax {
        /// Offset in characters.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// Two fields share a name.
    #[error("duplicate field name `{0}`")]
    DuplicateField(String),
    /// No field of that name exists.
    #[error("no field named `{0}` in the signature")]
    UnknownField(String),
    /// An insertion index is outside the section.
    #[error("invalid index {index} to insert into {len} {kind} field(s)")]
    InvalidIndex {
        /// The index asked for.
        index: isize,
        /// How many fields the section has.
        len: usize,
        /// `input` or `output`.
        kind: &'static str,
    },
    /// A signature has no output field.
    #[error("a signature needs at least one output field")]
    NoOutputs,
    /// Saved state does not fit this signature.
    #[error("saved signature state does not match: {0}")]
    StateMismatch(String),
}

/// The LM's completion could not be parsed into the signature's outputs.
///
/// Every variant names the adapter and carries a snippet of the completion, so a failure in a
/// long run can be understood from the error alone.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A field's text could not be turned into a value of its type.
    #[error("{adapter}: field `{field}` expected {expected}: {reason}; completion: {snippet:?}")]
    InvalidValue {
        /// The adapter that parsed.
        adapter: &'static str,
        /// The output field.
        field: String,
        /// The expected type, as DSPy names it.
        expected: String,
        /// Why the value was rejected.
        reason: String,
        /// The start of the completion.
        snippet: String,
    },
    /// Some output fields were not found in the completion.
    #[error("{adapter}: missing output field(s) {missing:?}; completion: {snippet:?}")]
    MissingFields {
        /// The adapter that parsed.
        adapter: &'static str,
        /// The fields not found.
        missing: Vec<String>,
        /// The start of the completion.
        snippet: String,
    },
    /// The completion is not in the adapter's format at all.
    #[error("{adapter}: {reason}; completion: {snippet:?}")]
    Malformed {
        /// The adapter that parsed.
        adapter: &'static str,
        /// What is wrong.
        reason: String,
        /// The start of the completion.
        snippet: String,
    },
    /// The LM returned nothing.
    #[error("{adapter}: the LM returned an empty response")]
    Empty {
        /// The adapter that parsed.
        adapter: &'static str,
    },
}

/// The first 200 characters of a completion, for error messages.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
