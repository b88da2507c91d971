//! JSONL and JSON arrays.

use std::io::BufRead;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::{DataError, Sink, from_json_row};

/// One object per line, streamed: memory holds one line at a time besides the rows.
pub(super) fn read_lines<T: DeserializeOwned>(path: &Path, sink: &mut Sink<'_, T>) -> Result<(), DataError> {
    let file = std::fs::File::open(path).map_err(|e| sink.io(e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(sink.malformed(format!("line {}: not UTF-8", number + 1)));
            }
            Err(e) => return Err(sink.io(e)),
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let row = from_json_row(text).map_err(|(field, message, _)| sink.row_error(number, field, message));
        sink.push(row)?;
    }
}

/// One array of objects. Each element is deserialized on its own, so one bad row names its own
/// line and does not hide the others.
pub(super) fn read_array<T: DeserializeOwned>(path: &Path, sink: &mut Sink<'_, T>) -> Result<(), DataError> {
    let bytes = std::fs::read(path).map_err(|e| sink.io(e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| sink.malformed(format!("not UTF-8 (at byte {})", e.valid_up_to())))?;
    let elements: Vec<&RawValue> = serde_json::from_str(text)
        .map_err(|e| sink.malformed(format!("expected a JSON array of rows: {e}")))?;
    // Elements come in file order: count newlines from the previous element on, not from the
    // start of the file each time.
    let (mut scanned, mut first_line) = (0usize, 1u64);
    for raw in elements {
        let at = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        first_line += text.as_bytes()[scanned..at].iter().filter(|&&b| b == b'\n').count() as u64;
        scanned = at;
        let row = from_json_row(raw.get())
            .map_err(|(field, message, line)| sink.row_error(first_line + line as u64 - 1, field, message));
        sink.push(row)?;
    }
    Ok(())
}
