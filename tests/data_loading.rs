//! `dspy::data`: typed datasets from JSONL, JSON and CSV files, with bad rows reported by file,
//! line and field (or skipped), and Python-identical seeded shuffles and splits.

use std::path::{Path, PathBuf};

use dspy::data::{self, BadRows, DataError, Format, Loader, RowError};
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
struct Qa {
    question: String,
    answer: String,
    #[serde(default)]
    difficulty: Option<u8>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Tagged {
    text: String,
    meta: Meta,
    tags: Vec<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Meta {
    id: u32,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn row_error(err: DataError) -> RowError {
    match err {
        DataError::Row(e) => e,
        other => panic!("expected a row error, got {other:?}"),
    }
}

#[test]
fn jsonl_rows_load_into_the_callers_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "qa.jsonl",
        "{\"question\": \"2+2?\", \"answer\": \"4\"}\n\n{\"question\": \"Capital of France?\", \"answer\": \"Paris\", \"difficulty\": 2}\n",
    );
    let rows: Vec<Qa> = data::load(&path).unwrap();
    assert_eq!(
        rows,
        [
            Qa { question: "2+2?".into(), answer: "4".into(), difficulty: None },
            Qa { question: "Capital of France?".into(), answer: "Paris".into(), difficulty: Some(2) },
        ]
    );
}

#[test]
fn a_bad_jsonl_row_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = "{\"text\": \"a\", \"meta\": {\"id\": 1}, \"tags\": [\"x\"]}";
    let cases = [
        ("{\"text\": \"b\", \"meta\": {\"id\": \"two\"}, \"tags\": []}", Some("meta.id"), "invalid type: string \"two\", expected u32"),
        ("{\"text\": \"b\", \"meta\": {}, \"tags\": []}", Some("meta.id"), "missing field `id`"),
        ("{\"text\": \"b\", \"meta\": {\"id\": 2}}", Some("tags"), "missing field `tags`"),
        ("{\"text\": \"b\", \"meta\": {\"id\": 2}, \"tags\": [\"ok\", 3]}", Some("tags[1]"), "invalid type: integer `3`, expected a string"),
        ("{\"text\": \"b\", ", None, "EOF while parsing a value"),
        ("\"just text\"", None, "invalid type: string \"just text\", expected struct Tagged"),
    ];
    for (bad, field, message) in cases {
        let path = write(dir.path(), "t.jsonl", &format!("{good}\n{good}\n{bad}\n{good}\n"));
        let e = row_error(data::load::<Tagged>(&path).unwrap_err());
        assert_eq!(e.file, path);
        assert_eq!(e.line, 3, "{bad}");
        assert_eq!(e.field.as_deref(), field, "{bad}");
        assert_eq!(e.message, message, "{bad}");
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("{}:3: ", path.display())), "{shown}");
    }
}

#[test]
fn skipped_rows_are_reported_and_the_rest_kept_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "qa.jsonl",
        "{\"question\": \"q1\", \"answer\": \"a1\"}\n{\"question\": \"q2\"}\nnot json\n{\"question\": \"q4\", \"answer\": \"a4\"}\n",
    );
    let loaded = Loader::new(&path).skip_bad_rows().load::<Qa>().unwrap();
    let questions: Vec<&str> = loaded.rows.iter().map(|r| r.question.as_str()).collect();
    assert_eq!(questions, ["q1", "q4"]);
    let skipped: Vec<(u64, Option<&str>)> = loaded.skipped.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(skipped, [(2, Some("answer")), (3, None)]);
    // The same file, strict: the first bad row is the error.
    let strict = Loader::new(&path).bad_rows(BadRows::Fail).load::<Qa>().unwrap_err();
    assert_eq!(row_error(strict).line, 2);
}

#[test]
fn json_arrays_report_the_line_of_the_bad_element() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[\n  {\"question\": \"q1\", \"answer\": \"a1\"},\n  {\n    \"question\": \"q2\",\n    \"answer\": 42\n  },\n  {\"question\": \"q3\", \"answer\": \"a3\"}\n]\n";
    let path = write(dir.path(), "qa.json", text);
    let e = row_error(data::load::<Qa>(&path).unwrap_err());
    assert_eq!((e.line, e.field.as_deref()), (5, Some("answer")));
    let loaded = Loader::new(&path).skip_bad_rows().load::<Qa>().unwrap();
    assert_eq!(loaded.rows.len(), 2);
    assert_eq!(loaded.rows[1].question, "q3");

    let not_array = write(dir.path(), "obj.json", "{\"question\": \"q\"}");
    assert!(matches!(data::load::<Qa>(&not_array), Err(DataError::Malformed { message, .. }) if message.contains("expected a JSON array")));
}

#[test]
fn csv_columns_map_to_fields_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "qa.csv",
        "answer,question,difficulty\n4,\"2+2, in words?\",1\nParis,Capital of France?,\nBlue,Sky colour?,high\nx,y\n",
    );
    let e = row_error(data::load::<Qa>(&path).unwrap_err());
    assert_eq!((e.line, e.field.as_deref()), (4, Some("difficulty")));
    assert!(e.message.contains("invalid digit"), "{}", e.message);

    let loaded = Loader::new(&path).skip_bad_rows().load::<Qa>().unwrap();
    assert_eq!(
        loaded.rows,
        [
            Qa { question: "2+2, in words?".into(), answer: "4".into(), difficulty: Some(1) },
            Qa { question: "Capital of France?".into(), answer: "Paris".into(), difficulty: None },
        ]
    );
    let skipped: Vec<(u64, Option<&str>)> = loaded.skipped.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(skipped, [(4, Some("difficulty")), (5, None)]);
    assert_eq!(loaded.skipped[1].message, "2 field(s), but the header has 3");

    let missing_column = write(dir.path(), "q.csv", "question\nq1\n");
    let e = row_error(data::load::<Qa>(&missing_column).unwrap_err());
    assert_eq!((e.line, e.field.as_deref(), e.message.as_str()), (2, Some("answer"), "missing field `answer`"));
}

#[test]
fn formats_come_from_the_extension_or_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "qa.txt", "{\"question\": \"q\", \"answer\": \"a\"}\n");
    assert!(matches!(data::load::<Qa>(&path), Err(DataError::UnknownFormat { .. })));
    let loaded = Loader::new(&path).format(Format::Jsonl).load::<Qa>().unwrap();
    assert_eq!(loaded.rows.len(), 1);
    assert_eq!(Format::from_path(Path::new("x.NDJSON")), Some(Format::Jsonl));

    let missing = dir.path().join("missing.jsonl");
    let err = data::load::<Qa>(&missing).unwrap_err();
    assert!(matches!(&err, DataError::Io { path, .. } if path == &missing), "{err:?}");
}

/// The order-ID task's data, as the examples load it.
#[test]
fn the_order_id_examples_load() {
    #[derive(Deserialize)]
    struct OrderRow {
        message: String,
        order_id: String,
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/order_ids.jsonl");
    let rows: Vec<OrderRow> = data::load(&path).unwrap();
    assert!(rows.len() >= 20, "{} rows", rows.len());
    assert!(rows.iter().all(|r| r.message.contains(&r.order_id)));
    let (train, dev) = data::train_test_split(rows, 0.5, 0).unwrap();
    assert_eq!(train.len(), dev.len());
}

/// `?` turns a data error into the crate's error in a program's own functions.
#[test]
fn data_errors_convert_with_question_mark() {
    fn load_all(path: &Path) -> dspy::Result<Vec<Qa>> {
        Ok(data::load(path)?)
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "qa.jsonl", "{\"question\": \"q\"}\n");
    let err = load_all(&path).unwrap_err();
    assert!(matches!(&err, dspy::Error::Data(DataError::Row(row)) if row.line == 1), "{err:?}");
    assert!(err.to_string().ends_with(":1: field `answer`: missing field `answer`"), "{err}");
}
