//! The error of the media types. A leaf, so the crate's [`Error`](crate::Error) can wrap it
//! without `error.rs` depending on the rest of `types`.

/// An image or audio value could not be read or is not supported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The file could not be read.
    #[error("cannot read media file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes or declared type are not a supported format.
    #[error("unsupported media: {0}")]
    UnsupportedFormat(String),
    /// Not a usable URL or data URI.
    #[error("not an http(s) URL or data URI: {0}")]
    InvalidUrl(String),
    /// The base64 data does not decode.
    #[error("invalid base64 data: {0}")]
    InvalidBase64(String),
}
