//! `data::load` over Parquet files written here with the `parquet` crate (snappy-compressed, as
//! pyarrow and the Hugging Face hub write them by default).
#![cfg(feature = "parquet")]

use std::path::Path;
use std::sync::Arc;

use dspy_core::data::{self, DataError, Loader};
use parquet::basic::Compression;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
struct Qa {
    question: String,
    answer: String,
    difficulty: Option<u8>,
}

/// Three rows; the third's difficulty (300) does not fit a `u8`.
fn write_file(path: &Path) {
    let schema = Arc::new(
        parse_message_type(
            "message qa { REQUIRED BYTE_ARRAY question (UTF8); REQUIRED BYTE_ARRAY answer (UTF8); OPTIONAL INT32 difficulty; }",
        )
        .unwrap(),
    );
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let mut writer = SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let text = |v: &[&str]| v.iter().map(|s| ByteArray::from(*s)).collect::<Vec<_>>();
    let mut column = 0;
    while let Some(mut col) = group.next_column().unwrap() {
        match (column, col.untyped()) {
            (0, ColumnWriter::ByteArrayColumnWriter(w)) => {
                w.write_batch(&text(&["2+2?", "Capital of France?", "Sky colour?"]), None, None).unwrap();
            }
            (1, ColumnWriter::ByteArrayColumnWriter(w)) => {
                w.write_batch(&text(&["4", "Paris", "Blue"]), None, None).unwrap();
            }
            (2, ColumnWriter::Int32ColumnWriter(w)) => {
                w.write_batch(&[1, 300], Some(&[1, 0, 1]), None).unwrap();
            }
            (i, _) => panic!("unexpected column {i}"),
        };
        col.close().unwrap();
        column += 1;
    }
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn parquet_rows_load_typed_and_bad_rows_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qa.parquet");
    write_file(&path);

    let err = data::load::<Qa>(&path).unwrap_err();
    let DataError::Row(row) = err else { panic!("expected a row error, got {err:?}") };
    assert_eq!((row.line, row.field.as_deref()), (3, Some("difficulty")));
    assert!(row.message.contains("300"), "{}", row.message);

    let loaded = Loader::new(&path).skip_bad_rows().load::<Qa>().unwrap();
    assert_eq!(
        loaded.rows,
        [
            Qa { question: "2+2?".into(), answer: "4".into(), difficulty: Some(1) },
            Qa { question: "Capital of France?".into(), answer: "Paris".into(), difficulty: None },
        ]
    );
    assert_eq!(loaded.skipped.len(), 1);
}

#[test]
fn a_corrupt_parquet_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    std::fs::write(&path, b"PAR1 this is not a parquet file").unwrap();
    let err = data::load::<Qa>(&path).unwrap_err();
    assert!(matches!(&err, DataError::Malformed { message, .. } if message.contains("not a readable Parquet file")), "{err:?}");

    // A real file cut short loses its footer.
    let good = dir.path().join("qa.parquet");
    write_file(&good);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(data::load::<Qa>(&path), Err(DataError::Malformed { .. })));
}
