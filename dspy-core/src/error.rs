//! Typed errors. Every failure a user can cause or meet is one of these, never a panic.
//!
//! Each area owns its error type ([`LmError`], [`ParseError`], the module area's
//! [`ToolError`] ...) and [`Error`] wraps them. The module and retrieve
//! areas keep theirs in leaf `error` files that import nothing else of their area, so this file
//! depends on those leaves only and no import cycle runs through it.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::lm::error::LmError;
use crate::module::error::{AssertionError, SandboxError, StateMismatch, ToolError};
use crate::retrieve::error::RetrieveError;
use crate::types::error::MediaError;

/// Any error of the dspy runtime.
///
/// Code outside dspy (a tool, a metric, a program's `forward`) returns its own failures as
/// [`Error::msg`] (a message) or [`Error::custom`] (any error, kept whole for downcasting);
/// `?` also converts a `Box<dyn std::error::Error + Send + Sync>`.
///
/// ```
/// let err = dspy_core::Error::msg("the judge refused");
/// assert_eq!(err.to_string(), "the judge refused");
/// let io = std::io::Error::other("disk full");
/// let err = dspy_core::Error::custom(io);
/// assert!(matches!(&err, dspy_core::Error::Custom(e) if e.downcast_ref::<std::io::Error>().is_some()));
/// let boxed: Box<dyn std::error::Error + Send + Sync> = "no such tool".into();
/// assert_eq!(dspy_core::Error::from(boxed).to_string(), "no such tool");
/// ```
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
    /// The inputs or arguments given to a module, metric, evaluator or optimizer are unusable.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Parsed outputs could not be converted into the typed output struct.
    #[error("could not convert the prediction into `{type_name}`: {reason}")]
    Output {
        /// The Rust type asked for.
        type_name: &'static str,
        /// Why the conversion failed.
        reason: String,
    },
    /// Saved state (a program, a report, results) could not be read, written or applied.
    #[error(transparent)]
    State(#[from] StateError),
    /// A file could not be read or written.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image or audio input could not be used.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// A saved program's predictors do not match this program's (names or fields).
    #[error(transparent)]
    StateMismatch(#[from] StateMismatch),
    /// A `dspy::Assert` failed and backtracking did not fix it.
    #[error(transparent)]
    Assertion(#[from] AssertionError),
    /// A retriever or embedder failed.
    #[error(transparent)]
    Retrieve(#[from] RetrieveError),
    /// A dataset file could not be loaded (`dspy::data`).
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
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
    Sandbox(#[from] SandboxError),
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
    Tool(#[from] ToolError),
    /// A module or optimizer has nothing to return: every attempt or candidate failed, or none
    /// was made.
    #[error("{what}: {reason}")]
    NoResult {
        /// The module or optimizer (`COPRO`, `BestOfN`...).
        what: Cow<'static, str>,
        /// What happened, with a hint when there is one.
        reason: String,
    },
    /// An optimizer's budget of LM calls (or metric calls) is used up.
    #[error("the {resource} budget is spent")]
    BudgetSpent {
        /// `LM-call` or `metric-call`.
        resource: &'static str,
    },
    /// Telemetry (the OTLP exporter or the tracing subscriber) could not be set up or flushed.
    #[error("{action}: {source}")]
    Telemetry {
        /// What was being done.
        action: &'static str,
        /// The exporter's or subscriber's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A failure of code outside dspy (a user's tool, metric or module, or an extension's own
    /// error type), kept whole: its message and source chain are its own, and it can be
    /// downcast.
    #[error(transparent)]
    Custom(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// An error with just a message, for failures of your own code (as `anyhow::Error::msg`).
    pub fn msg(message: impl std::fmt::Display) -> Self {
        Error::Custom(message.to_string().into())
    }

    /// Wraps any error of your own code (or a message: `&str` and `String` convert too); the
    /// original stays reachable with `downcast_ref` on [`Error::Custom`].
    pub fn custom(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Custom(error.into())
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Error {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Error::Custom(error)
    }
}

/// The inputs given to a module or metric, or the arguments given to an evaluator or
/// optimizer, cannot be used. `needed_by` names who refused them.
///
/// ```
/// use dspy_core::error::InputError;
/// let e = InputError::Missing { needed_by: "ProgramOfThought".into(), field: "question".into() };
/// assert_eq!(e.to_string(), "ProgramOfThought needs the input `question`, which was not given");
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A required input field is absent.
    #[error("{needed_by} needs the input `{field}`, which was not given")]
    Missing {
        /// The module, metric or program (`` `QA::forward` ``, `SemanticF1`...).
        needed_by: Cow<'static, str>,
        /// The field.
        field: String,
    },
    /// An input field's value does not have the type asked for.
    #[error("input `{field}` of {needed_by}: expected {expected}: {reason}")]
    WrongType {
        /// The module, metric or program.
        needed_by: Cow<'static, str>,
        /// The field.
        field: String,
        /// The type asked for (a Rust type name or a description).
        expected: Cow<'static, str>,
        /// Why the value does not fit (serde's explanation, or the value given).
        reason: String,
    },
    /// Inputs (or completions) must serialise to a field map, and these did not.
    #[error("{what} must serialise to an object: {reason}")]
    NotAnObject {
        /// What was given (`inputs`, `a completion`).
        what: Cow<'static, str>,
        /// What it serialised to, or why it could not be serialised.
        reason: String,
    },
    /// A data set (trainset, devset, valset) is empty or too small, in DSPy's wording.
    #[error("{needed_by}: {message}")]
    Dataset {
        /// The evaluator or optimizer.
        needed_by: Cow<'static, str>,
        /// What is wrong with it.
        message: String,
    },
    /// The program does not have the shape needed (no predictor, a teacher of another
    /// structure...).
    #[error("{needed_by}: {message}")]
    Program {
        /// The optimizer or module.
        needed_by: Cow<'static, str>,
        /// What is wrong with it.
        message: String,
    },
    /// A setting or other argument is invalid, in DSPy's wording.
    #[error("{needed_by}: {message}")]
    Invalid {
        /// The module, metric, evaluator or optimizer.
        needed_by: Cow<'static, str>,
        /// What is wrong with it.
        message: String,
    },
}

/// Saved state (a program's JSON, a compile report, evaluation results) could not be read,
/// written or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file is not what it should be (not JSON at all, or not the expected document).
    #[error("{} is not {expected}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What it should be (`valid JSON`, `a compile report`).
        expected: &'static str,
        /// serde's explanation.
        #[source]
        source: serde_json::Error,
    },
    /// Something could not be serialised.
    #[error("cannot serialise {what}: {source}")]
    Serialize {
        /// What (`the program state`, `the report`).
        what: &'static str,
        /// serde's explanation.
        #[source]
        source: serde_json::Error,
    },
    /// The document has the wrong overall shape.
    #[error("{what} must be {expected}")]
    Shape {
        /// The document (`a saved program`).
        what: &'static str,
        /// Its expected shape.
        expected: &'static str,
    },
    /// An optimizer's checkpoint was written by another compilation (another optimizer,
    /// settings, seed, student program, data or metric), so resuming from it would mix two
    /// runs.
    #[error(
        "{} is the checkpoint of another {optimizer} compilation (different {}); delete it or choose another checkpoint_dir",
        path.display(),
        differs.join(", ")
    )]
    CheckpointMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The optimizer that found it (`MIPROv2`, `GEPA`, `SIMBA`).
        optimizer: String,
        /// What differs (`seed`, `trainset`, `settings.num_trials`...).
        differs: Vec<String>,
    },
    /// One entry of a predictor's saved state is invalid.
    #[error("invalid `{key}` in predictor state: {source}")]
    InvalidEntry {
        /// The key (`signature`, `demos`).
        key: &'static str,
        /// serde's explanation.
        #[source]
        source: serde_json::Error,
    },
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
