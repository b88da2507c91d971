//! The error of the retrieve area. A leaf: it depends on nothing else in `retrieve`, so the
//! crate's [`Error`](crate::Error) can wrap it without `error.rs` reaching into retrievers.

/// Why retrieval or embedding failed.
///
/// ```
/// let e = dspy_core::retrieve::RetrieveError::NoRetriever;
/// assert!(e.to_string().contains("configure"));
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RetrieveError {
    /// `Retrieve` was called with no retriever given nor configured.
    #[error("no retriever configured: call `dspy::configure(Settings::new().rm(...))` or give `Retrieve` one with `with_rm`")]
    NoRetriever,
    /// The server could not be reached.
    #[error("request to {url} failed: {message}")]
    Connection {
        /// Where.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// Where.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The body (trimmed).
        message: String,
    },
    /// The server's answer is not what the protocol says.
    #[error("unexpected response from {url}: {message}")]
    Malformed {
        /// Where.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The embedder failed or returned unusable vectors.
    #[error("embedding failed: {0}")]
    Embedding(String),
    /// The query is missing or not text.
    #[error("invalid query: {0}")]
    Query(String),
}
