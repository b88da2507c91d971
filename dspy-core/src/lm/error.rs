//! The error of the LM area. A leaf: it depends on nothing else in `lm`, so the crate's
//! [`Error`](crate::Error) can wrap it without `error.rs` depending on the LM clients.

use std::time::Duration;

/// Why a language model call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LmError {
    /// The API key was missing or rejected (401/403).
    #[error("authentication failed for {provider}: {message}")]
    Authentication {
        /// The provider.
        provider: String,
        /// The server's explanation.
        message: String,
    },
    /// Rate limited (429) even after the retries.
    #[error("rate limited by {provider} after {attempts} attempt(s): {message}")]
    RateLimited {
        /// The provider.
        provider: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last `Retry-After`, if the server sent one.
        retry_after: Option<Duration>,
        /// The server's explanation.
        message: String,
    },
    /// The request was rejected as invalid (400/404/422).
    #[error("bad request ({status}): {message}")]
    BadRequest {
        /// The HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// The prompt does not fit the model's context window.
    #[error("context window exceeded: {message}")]
    ContextWindowExceeded {
        /// The server's explanation.
        message: String,
    },
    /// The server failed (5xx) even after the retries.
    #[error("server error ({status}) after {attempts} attempt(s): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// How many attempts were made.
        attempts: u32,
        /// The server's explanation.
        message: String,
    },
    /// No answer within the timeout, even after the retries.
    #[error("timed out after {after:?} ({attempts} attempt(s))")]
    Timeout {
        /// The timeout per attempt.
        after: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The server could not be reached.
    #[error("connection to {url} failed: {message}")]
    Connection {
        /// Where we tried to connect.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The server answered with something that is not a valid response.
    #[error("malformed response: {message}")]
    MalformedResponse {
        /// What is wrong with it.
        message: String,
    },
    /// The model name or settings are invalid.
    #[error("invalid LM configuration: {0}")]
    Config(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}
