//! Parquet, through the `parquet` crate's row API: each row becomes a JSON object (columns by
//! name, nested groups and lists as objects and arrays) and then the caller's type.

use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde::de::DeserializeOwned;

use super::{DataError, Sink, from_json_value};

pub(super) fn read<T: DeserializeOwned>(path: &Path, sink: &mut Sink<'_, T>) -> Result<(), DataError> {
    let file = std::fs::File::open(path).map_err(|e| sink.io(e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| sink.malformed(format!("not a readable Parquet file: {e}")))?;
    let rows = reader.get_row_iter(None).map_err(|e| sink.malformed(format!("cannot read rows: {e}")))?;
    for (i, row) in rows.enumerate() {
        let number = i as u64 + 1;
        // A row the file cannot give is corruption past this point: stop, whatever the policy.
        let row = row.map_err(|e| sink.malformed(format!("row {number}: {e}")))?;
        let row = from_json_value(row.to_json_value()).map_err(|(field, message)| sink.row_error(number, field, message));
        sink.push(row)?;
    }
    Ok(())
}
