//! CSV with a header row, through the `csv` crate: columns map to fields by name, an empty cell
//! to `None` for an `Option` field.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::{DataError, Sink, field_of};

pub(super) fn read<T: DeserializeOwned>(path: &Path, sink: &mut Sink<'_, T>) -> Result<(), DataError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(e) => sink.io(e),
        other => sink.malformed(format!("{other:?}")),
    })?;
    let headers = reader.headers().map_err(|e| sink.malformed(format!("unreadable header row: {e}")))?.clone();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(sink.io(std::io::Error::other(e.to_string())));
                }
                let line = e.position().map_or(line, |p| p.line());
                sink.push(Err(sink.row_error(line, None, csv_message(&e))))?;
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let row = record.deserialize::<T>(Some(&headers)).map_err(|e| match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => {
                let message = err.kind().to_string();
                let column = err.field().and_then(|i| headers.get(i as usize)).map(str::to_string);
                sink.row_error(line, column.or_else(|| field_of("", &message)), message)
            }
            _ => sink.row_error(line, None, csv_message(&e)),
        });
        sink.push(row)?;
    }
}

/// The csv crate's message without its own position prefix (the loader gives the line).
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} field(s), but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8: {err}"),
        _ => e.to_string(),
    }
}
