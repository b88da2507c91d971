//! Adapter conformance against the reference DSPy 3.4.1: every vector in
//! `../shared/conformance` (or `$DSPY_CONFORMANCE_DIR`), and every vector of our own in
//! `tests/data/conformance-extra`, is formatted or parsed with the named adapter and compared
//! with what the reference produced. See the shared directory's README for the format.

mod common;

use dspy::{Example, FieldType};
use serde_json::{Map, Value};

use common::{json_eq, vector_files};

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

/// Runs every vector file, printing one line per failure and a closing `N passed, M failed`;
/// fails when any vector fails.
fn run_vectors(files: &[std::path::PathBuf]) {
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        let case: Value = match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string())) {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL {}: unreadable: {e}", path.display());
                failed += 1;
                continue;
            }
        };
        match check(&case) {
            Ok(()) => passed += 1,
            Err(e) => {
                println!("FAIL {}: {e}", case["id"].as_str().unwrap_or(&path.display().to_string()));
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    assert!(passed + failed > 0, "no conformance vectors found");
    assert_eq!(failed, 0, "{failed} conformance vector(s) failed");
}

/// The shared vectors (`../shared/conformance`, or `$DSPY_CONFORMANCE_DIR`).
#[test]
fn conformance_vectors() {
    run_vectors(&vector_files("DSPY_CONFORMANCE_DIR", "conformance"));
}

/// Our own vectors from the same reference (`tests/data/conformance-extra`, written by
/// `tests/conformance-gen/generate.py`): more signatures, types and parse cases.
#[test]
fn extra_conformance_vectors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance-extra");
    run_vectors(&common::json_files(&dir));
}

#[test]
fn reference_type_names_round_trip() {
    for name in ["list[str]", "dict[str, int]", "Union[float, NoneType]", "Literal['a', 'b']", "Literal[1, 2, 3]"] {
        let t = common::field_type(name, &Value::Null).unwrap();
        assert_eq!(t.name(), name);
    }
    assert_eq!(common::field_type("Verdict", &serde_json::json!({"type": "object"})).unwrap(), FieldType::named("Verdict", serde_json::json!({"type": "object"})));
}
