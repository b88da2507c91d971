//! Adapter conformance against the reference DSPy 3.4.1: every vector in
//! `tests/data/conformance` (vendored), in `../shared/conformance` or `$DSPY_CONFORMANCE_DIR`, and every vector of our own in
//! `tests/data/conformance-extra`, is formatted or parsed with the named adapter and compared
//! with what the reference produced. See the shared directory's README for the format.

mod common;

use dspy::{Example, FieldType};
use serde_json::{Map, Value};

use std::path::Path;

use common::{Tally, json_eq};

fn check(case: &Value) -> Result<(), String> {
    let sig = common::signature(&case["signature"])?;
    let adapter = common::adapter(case["adapter"].as_str().unwrap_or("chat"));
    match case["kind"].as_str() {
        Some("format") => {
            let demos: Vec<Example> = case["demos"]
                .as_array()
                .map(|d| d.iter().filter_map(|x| x.as_object().cloned().map(Example::from_map)).collect())
                .unwrap_or_default();
            let inputs: Map<String, Value> = case["inputs"].as_object().cloned().unwrap_or_default();
            let messages = serde_json::to_value(adapter.format(&sig, &demos, &inputs)).map_err(|e| e.to_string())?;
            let expected = &case["expected"]["messages"];
            if &messages == expected {
                return Ok(());
            }
            Err(common::first_difference(expected, &messages))
        }
        Some("parse") => {
            let completion = case["completion"].as_str().ok_or("parse case without completion")?;
            let result = adapter.parse(&sig, completion);
            let expected = &case["expected"];
            match (expected["ok"].as_bool(), result) {
                (Some(true), Ok(outputs)) => {
                    let got = Value::Object(outputs);
                    if json_eq(&got, &expected["outputs"]) {
                        Ok(())
                    } else {
                        Err(format!("outputs differ: expected {} got {got}", expected["outputs"]))
                    }
                }
                (Some(true), Err(e)) => Err(format!("expected outputs {}, got error: {e}", expected["outputs"])),
                (Some(false), Err(_)) => Ok(()),
                (Some(false), Ok(outputs)) => {
                    // More lenient than the reference is allowed only with schema-valid values.
                    for f in sig.output_fields() {
                        let value = outputs.get(&f.name).ok_or_else(|| format!("missing output {}", f.name))?;
                        common::validate(&f.schema, value).map_err(|e| format!("accepted an invalid value for {}: {e}", f.name))?;
                    }
                    Ok(())
                }
                (None, _) => Err("expected.ok is missing".into()),
            }
        }
        other => Err(format!("unknown kind {other:?}")),
    }
}

/// Runs every vector of `dir`, printing one line per failure and a closing `N passed, M failed`;
/// fails when any vector fails.
fn run_vectors(dir: &Path) {
    let mut tally = Tally::default();
    for path in common::json_files(dir) {
        let outcome = common::read_json(&path).and_then(|case| check(&case));
        tally.record(&path.display().to_string(), outcome);
    }
    tally.finish("conformance vectors", dir);
}

/// The reference's vectors: the vendored copy (`tests/data/conformance`), then
/// `$DSPY_CONFORMANCE_DIR` or `../shared/conformance` when present.
#[test]
fn conformance_vectors() {
    for dir in common::vector_dirs("DSPY_CONFORMANCE_DIR", "conformance") {
        run_vectors(&dir);
    }
}

/// Our own vectors from the same reference (`tests/data/conformance-extra`, written by
/// `tests/conformance-gen/generate.py`): more signatures, types and parse cases.
#[test]
fn extra_conformance_vectors() {
    run_vectors(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance-extra"));
}

#[test]
fn reference_type_names_round_trip() {
    for name in ["list[str]", "dict[str, int]", "Union[float, NoneType]", "Literal['a', 'b']", "Literal[1, 2, 3]"] {
        let t = common::field_type(name, &Value::Null).unwrap();
        assert_eq!(t.name(), name);
    }
    assert_eq!(common::field_type("Verdict", &serde_json::json!({"type": "object"})).unwrap(), FieldType::named("Verdict", serde_json::json!({"type": "object"})));
}
