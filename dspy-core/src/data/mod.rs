//! Datasets as `Vec`s of the user's own types.
//!
//! A trainset or devset is a `Vec<T>` for any `T: DeserializeOwned` (typically the example type
//! `#[derive(Signature)]` generates), read from JSONL, JSON, CSV or, with the `parquet` feature,
//! Parquet. A bad row is an error naming the file, the line and the field, or, when the caller
//! asks for it, is skipped and reported. [`shuffle`] and [`train_test_split`] reproduce Python's
//! `random.Random(seed)` streams, so a DSPy set-up that splits with a seed gets the same split.
//!
//! ```
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize)]
//! struct Row { question: String, answer: String }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("qa.jsonl");
//! std::fs::write(&path, "{\"question\": \"2+2?\", \"answer\": \"4\"}\n{\"question\": \"3+3?\", \"answer\": 6}\n").unwrap();
//!
//! // Strict: the first bad row is the error, with its file, line and field.
//! let err = dspy_core::data::load::<Row>(&path).unwrap_err();
//! assert!(err.to_string().ends_with("qa.jsonl:2: field `answer`: invalid type: integer `6`, expected a string"), "{err}");
//!
//! // Lenient: bad rows are skipped and reported.
//! let loaded = dspy_core::data::Loader::new(&path).skip_bad_rows().load::<Row>().unwrap();
//! assert_eq!(loaded.rows.len(), 1);
//! assert_eq!(loaded.skipped[0].line, 2);
//! ```

mod csv;
mod json;
#[cfg(feature = "parquet")]
mod parquet;
mod pyrandom;
mod split;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use split::{Size, shuffle, train_test_split};

/// The file formats [`Loader`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// One JSON object per line (`.jsonl`, `.ndjson`); blank lines are ignored.
    Jsonl,
    /// One JSON array of objects (`.json`).
    Json,
    /// Comma-separated values with a header row (`.csv`); columns map to fields by name.
    Csv,
    /// Apache Parquet (`.parquet`), read row by row; needs the `parquet` feature.
    #[cfg(feature = "parquet")]
    Parquet,
}

impl Format {
    /// The format a file's extension names, if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            #[cfg(feature = "parquet")]
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// One row that could not be read into the caller's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line of the row (for Parquet, the 1-based row number).
    pub line: u64,
    /// The field at fault, as a path into the row (`answer`, `context[2]`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RowError {}

/// A dataset could not be loaded. Converts into the crate's [`Error`](crate::Error) with `?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension names no format this build reads; say it with [`Loader::format`].
    #[error("{}: unknown data format (expected .jsonl, .json, .csv{}); set it with Loader::format", path.display(), if cfg!(feature = "parquet") { " or .parquet" } else { "" })]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file as a whole is not in its format (not a JSON array, no CSV header, a corrupt
    /// Parquet footer...).
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A row could not be read into the caller's type (strict loading).
    #[error(transparent)]
    Row(#[from] RowError),
    /// A split was asked for with sizes that do not fit the dataset.
    #[error("invalid split: {0}")]
    Split(String),
}

/// What to do with a row that does not fit the caller's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadRows {
    /// Stop at the first bad row and return it as the error (the default).
    #[default]
    Fail,
    /// Skip bad rows and report them in [`Loaded::skipped`].
    Skip,
}

/// The rows read, and the rows skipped when [`BadRows::Skip`] was asked for.
#[derive(Clone, Debug)]
pub struct Loaded<T> {
    /// The rows, in file order.
    pub rows: Vec<T>,
    /// The rows that could not be read, in file order (always empty with [`BadRows::Fail`]).
    pub skipped: Vec<RowError>,
}

/// Reads a dataset file into `Vec<T>`, with the format and the bad-row policy chosen.
#[derive(Clone, Debug)]
pub struct Loader {
    path: PathBuf,
    format: Option<Format>,
    bad_rows: BadRows,
}

impl Loader {
    /// A loader for `path`; the format comes from its extension unless [`Loader::format`] says.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Loader { path: path.as_ref().to_path_buf(), format: None, bad_rows: BadRows::Fail }
    }

    /// Reads the file as `format` whatever its extension.
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// What to do with a row that does not fit the type.
    pub fn bad_rows(mut self, policy: BadRows) -> Self {
        self.bad_rows = policy;
        self
    }

    /// Skips rows that do not fit the type, reporting them in [`Loaded::skipped`].
    pub fn skip_bad_rows(self) -> Self {
        self.bad_rows(BadRows::Skip)
    }

    /// Reads every row.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Loaded<T>, DataError> {
        let format = match self.format.or_else(|| Format::from_path(&self.path)) {
            Some(format) => format,
            None => return Err(DataError::UnknownFormat { path: self.path.clone() }),
        };
        let mut sink = Sink { file: &self.path, policy: self.bad_rows, loaded: Loaded { rows: Vec::new(), skipped: Vec::new() } };
        match format {
            Format::Jsonl => json::read_lines(&self.path, &mut sink)?,
            Format::Json => json::read_array(&self.path, &mut sink)?,
            Format::Csv => csv::read(&self.path, &mut sink)?,
            #[cfg(feature = "parquet")]
            Format::Parquet => parquet::read(&self.path, &mut sink)?,
        }
        Ok(sink.loaded)
    }
}

/// Reads every row of `path` (format from the extension), failing on the first bad row.
pub fn load<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>, DataError> {
    Loader::new(path).load().map(|loaded| loaded.rows)
}

/// Where the format readers put each row's outcome; applies the bad-row policy in one place.
pub(crate) struct Sink<'a, T> {
    file: &'a Path,
    policy: BadRows,
    loaded: Loaded<T>,
}

impl<T> Sink<'_, T> {
    /// Keeps a row, or applies the policy to its error.
    pub(crate) fn push(&mut self, row: Result<T, RowError>) -> Result<(), DataError> {
        match row {
            Ok(row) => self.loaded.rows.push(row),
            Err(e) if self.policy == BadRows::Skip => self.loaded.skipped.push(e),
            Err(e) => return Err(DataError::Row(e)),
        }
        Ok(())
    }

    pub(crate) fn row_error(&self, line: u64, field: Option<String>, message: impl Into<String>) -> RowError {
        RowError { file: self.file.to_path_buf(), line, field, message: message.into() }
    }

    pub(crate) fn io(&self, source: std::io::Error) -> DataError {
        DataError::Io { path: self.file.to_path_buf(), source }
    }

    pub(crate) fn malformed(&self, message: impl Into<String>) -> DataError {
        DataError::Malformed { path: self.file.to_path_buf(), message: message.into() }
    }
}

/// Deserializes one JSON row, naming the field at fault (`serde_path_to_error`). Returns the
/// field path and serde's message on failure, plus serde_json's 1-based line within the row.
pub(crate) fn from_json_row<T: DeserializeOwned>(text: &str) -> Result<T, (Option<String>, String, usize)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = strip_position(&e.inner().to_string());
        (field_of(&e.path().to_string(), &message), message, e.inner().line().max(1))
    })?;
    de.end().map_err(|e| (None, strip_position(&e.to_string()), e.line().max(1)))?;
    Ok(value)
}

/// A value that is already JSON (a Parquet row) into the caller's type.
#[cfg(feature = "parquet")]
pub(crate) fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, (Option<String>, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        (field_of(&e.path().to_string(), &message), message)
    })
}

/// The field path of a deserialization error. serde reports a missing field at its parent's
/// path, naming it only in the message (`missing field `answer``), so that name is appended.
fn field_of(path: &str, message: &str) -> Option<String> {
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    // `?` stands for a position serde could not name (e.g. between two keys of a broken object).
    let path = path.strip_suffix("?").map_or(path, |p| p.strip_suffix('.').unwrap_or(p));
    let path = (path != ".").then_some(path).filter(|p| !p.is_empty());
    match (path, missing) {
        (Some(p), Some(m)) => Some(format!("{p}.{m}")),
        (Some(p), None) => Some(p.to_string()),
        (None, Some(m)) => Some(m.to_string()),
        (None, None) => None,
    }
}

/// serde_json's message without its ` at line L column C` suffix (the loader gives the file's line).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_name_missing_fields() {
        assert_eq!(field_of(".", "missing field `answer`"), Some("answer".into()));
        assert_eq!(field_of("meta", "missing field `id`"), Some("meta.id".into()));
        assert_eq!(field_of("context[2]", "invalid type"), Some("context[2]".into()));
        assert_eq!(field_of(".", "expected value"), None);
        assert_eq!(field_of("?", "EOF while parsing an object"), None);
        assert_eq!(field_of("meta.?", "EOF while parsing an object"), Some("meta".into()));
    }

    #[test]
    fn positions_are_stripped_from_messages() {
        assert_eq!(strip_position("invalid type: integer `6`, expected a string at line 1 column 30"), "invalid type: integer `6`, expected a string");
        assert_eq!(strip_position("EOF while parsing"), "EOF while parsing");
    }
}
