//! Helpers shared by the tests that run the reference's vectors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use dspy::{Adapter, ChatAdapter, Field, FieldKind, FieldType, JSONAdapter, Signature, XMLAdapter};
use serde_json::Value;

/// Where one kind of reference vector is read from, each a directory of `*.json` cases:
///
/// - `tests/data/<name>`, the copy vendored in this repository, always, so a fresh clone passes;
/// - `$env_var` when it is set (it must then exist), else `../shared/<name>` beside the repository
///   when that exists: the reference's newest vectors, held-out cases included, picked up with no
///   code change.
pub fn vector_dirs(env_var: &str, name: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("tests/data").join(name)];
    match std::env::var_os(env_var) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(dir.is_dir(), "{env_var}={} is not a directory", dir.display());
            dirs.push(dir);
        }
        None => {
            let shared = root.join("..").join("shared").join(name);
            if shared.is_dir() {
                dirs.push(shared);
            }
        }
    }
    dirs
}

/// Every `*.json` in `dir`, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read vector directory {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Pass and fail counts of one vector directory, printed as the closing `N passed, M failed`
/// line that CI reads.
#[derive(Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
}

impl Tally {
    /// Records one case's outcome, printing a line for a failure.
    pub fn record(&mut self, case: &str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(e) => {
                println!("FAIL {case}: {e}");
                self.failed += 1;
            }
        }
    }

    /// Prints the counts for `dir` and fails the test on any failure or on an empty directory.
    pub fn finish(self, what: &str, dir: &Path) {
        println!("{}: {} passed, {} failed", dir.display(), self.passed, self.failed);
        assert!(self.passed + self.failed > 0, "no {what} found in {}", dir.display());
        assert_eq!(self.failed, 0, "{} {what} failed in {}", self.failed, dir.display());
    }
}

/// Reads one JSON vector file.
pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("unreadable: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))
}

/// The adapter a vector names.
pub fn adapter(name: &str) -> Box<dyn Adapter> {
    match name {
        "chat" => Box::new(ChatAdapter::new()),
        "json" => Box::new(JSONAdapter::new()),
        "xml" => Box::new(XMLAdapter::new()),
        other => panic!("unknown adapter {other:?}"),
    }
}

/// The dynamic signature of a vector: types from the reference's type names, schemas as given.
pub fn signature(spec: &Value) -> Result<Signature, String> {
    let mut fields = Vec::new();
    for f in spec["fields"].as_array().ok_or("signature.fields is not a list")? {
        let name = f["name"].as_str().ok_or("field without a name")?;
        let kind = match f["kind"].as_str() {
            Some("input") => FieldKind::Input,
            Some("output") => FieldKind::Output,
            other => return Err(format!("field {name}: bad kind {other:?}")),
        };
        let schema = f["json_schema"].clone();
        let type_name = f["type"].as_str().ok_or("field without a type")?;
        let ty = field_type(type_name, &schema).map_err(|e| format!("field {name}: {e}"))?;
        let mut field = Field::new(name, kind, ty).schema(schema);
        if let Some(desc) = f.get("desc").and_then(Value::as_str) {
            field = field.desc(desc);
        }
        fields.push(field);
    }
    let instructions = spec["instructions"].as_str().map(String::from);
    Signature::from_fields("ConformanceSignature", instructions, fields).map_err(|e| e.to_string())
}

/// A reference type name resolved against the reference's JSON schema of the field: user
/// models and enums get their schema (nested ones from `$defs`).
pub fn field_type(name: &str, schema: &Value) -> Result<FieldType, String> {
    let resolve = |n: &str| -> Option<FieldType> {
        let short = n.rsplit('.').next().unwrap_or(n);
        if short == name || n == name {
            return Some(FieldType::named(short, schema.clone()));
        }
        let def = schema.get("$defs")?.get(short)?.clone();
        let mut def = def;
        if let (Some(defs), Value::Object(map)) = (schema.get("$defs"), &mut def) {
            map.insert("$defs".into(), defs.clone());
        }
        Some(FieldType::named(short, def))
    };
    FieldType::parse(name, &resolve).map_err(|e| e.to_string())
}

/// JSON equality where `9.0 == 9`.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w))),
        _ => a == b,
    }
}

/// Validates a value with an independent JSON-schema validator.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("bad schema: {e}"))?;
    let errors: Vec<String> = validator.iter_errors(value).map(|e| e.to_string()).collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// Where two message lists first differ, for a readable failure line.
pub fn first_difference(expected: &Value, got: &Value) -> String {
    let (e, g) = (expected.as_array(), got.as_array());
    let (Some(e), Some(g)) = (e, g) else { return format!("expected {expected}, got {got}") };
    if e.len() != g.len() {
        return format!("expected {} messages, got {}", e.len(), g.len());
    }
    for (i, (em, gm)) in e.iter().zip(g).enumerate() {
        if em != gm {
            let (es, gs) = (em.to_string(), gm.to_string());
            let at = es.chars().zip(gs.chars()).take_while(|(a, b)| a == b).count();
            let ctx = |s: &str| s.chars().skip(at.saturating_sub(40)).take(100).collect::<String>();
            return format!("message {i} differs at char {at}: expected …{}… got …{}…", ctx(&es), ctx(&gs));
        }
    }
    "messages differ".into()
}
