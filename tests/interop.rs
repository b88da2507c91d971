//! Interop with programs saved by Python DSPy 3.4.1: every `<name>.json` with a
//! `<name>.expected.json` in `tests/data/interop` (vendored) and in `../shared/interop` (or
//! `$DSPY_INTEROP_DIR`) is loaded into the
//! Rust program of the same (multihop) structure, which, fed the recorded completions, must
//! send exactly the recorded messages and return the recorded answer. Prints `N passed, M failed`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dspy::module::{ModuleExt, StateMismatch};
use dspy::prelude::*;
use serde_json::Value;

signature! { pub GenerateQuery = "context: list[str], question -> search_query" }
signature! { pub GenerateAnswer = "context: list[str], question -> answer" }

/// The README's structure: the answer step sees the context plus the generated query.
#[module]
struct MultiHop {
    generate_query: ChainOfThought<GenerateQuery>,
    generate_answer: ChainOfThought<GenerateAnswer>,
}

#[module]
impl MultiHop {
    async fn forward(&self, context: Vec<String>, question: String) -> Result<Prediction> {
        let query = self.generate_query.call((context.clone(), question.clone())).await?;
        let mut context = context;
        context.push(query.search_query.clone());
        Ok(self.generate_answer.call((context, question)).await?.prediction().clone())
    }
}

fn multihop() -> MultiHop {
    MultiHop { generate_query: ChainOfThought::new(), generate_answer: ChainOfThought::new() }
}

/// `(program, expected)` file pairs, sorted by name.
fn pairs(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter_map(|p| {
                    let name = p.file_name()?.to_str()?.to_string();
                    let stem = name.strip_suffix(".json")?;
                    if stem.ends_with(".expected") {
                        return None;
                    }
                    let expected = dir.join(format!("{stem}.expected.json"));
                    expected.exists().then_some((p, expected))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

async fn check(program_file: &Path, expected_file: &Path) -> std::result::Result<(), String> {
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(expected_file).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", expected_file.display()))?;
    let mut program = multihop();
    program.load(program_file).map_err(|e| format!("load: {e}"))?;
    let outputs: Vec<String> = expected["lm_outputs"]
        .as_array()
        .ok_or("expected file has no `lm_outputs`")?
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or("`lm_outputs` must be strings"))
        .collect::<std::result::Result<_, _>>()?;
    let lm = Arc::new(DummyLM::raw(outputs));
    let call = Example::from_map(expected["call"].as_object().cloned().ok_or("expected file has no `call` object")?);
    let prediction = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&program, &call))
        .await
        .map_err(|e| format!("forward: {e}"))?;
    let sent: Vec<Value> = lm.history().iter().map(|h| serde_json::to_value(&h.messages).unwrap_or(Value::Null)).collect();
    let want = expected["messages"].as_array().ok_or("expected file has no `messages`")?;
    if sent.len() != want.len() {
        return Err(format!("{} LM call(s) made, {} expected", sent.len(), want.len()));
    }
    for (i, (got, want)) in sent.iter().zip(want).enumerate() {
        if got != want {
            return Err(format!("call {i}: messages differ\n  expected: {want}\n  sent:     {got}"));
        }
    }
    let answer = prediction.get("answer").cloned().unwrap_or(Value::Null);
    if answer != expected["answer"] {
        return Err(format!("answer {answer}, expected {}", expected["answer"]));
    }
    Ok(())
}

#[tokio::test]
async fn interop_programs() {
    for dir in common::vector_dirs("DSPY_INTEROP_DIR", "interop") {
        let mut tally = common::Tally::default();
        for (program, expected) in pairs(&dir) {
            tally.record(&program.display().to_string(), check(&program, &expected).await);
        }
        tally.finish("interop programs", &dir);
    }
}

/// Our own save writes the same state back, and Python's file round-trips through it.
#[test]
fn saved_state_round_trips() {
    let vendored = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/interop");
    let (file, _) = pairs(&vendored).into_iter().next().expect("a vendored interop pair");
    let mut program = multihop();
    program.load(&file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.json");
    program.save(&ours).unwrap();
    let theirs: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&ours).unwrap()).unwrap();
    for (name, state) in theirs.as_object().unwrap() {
        if name != "metadata" {
            assert_eq!(&saved[name], state, "{name}");
        }
    }
    assert_eq!(saved["metadata"]["dependency_versions"]["dspy"], "3.4.1");
    let mut again = multihop();
    again.load(&ours).unwrap();
    assert_eq!(again.to_state(), program.to_state());
}

signature! { pub Answer = "question -> answer" }

#[module]
struct WrongShape {
    generate_query: ChainOfThought<GenerateQuery>,
    generate: Predict<Answer>,
}

#[module]
impl WrongShape {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.generate.forward(inputs).await
    }
}

#[test]
fn mismatched_programs_are_named() {
    let vendored = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/interop");
    let (file, _) = pairs(&vendored).into_iter().next().expect("a vendored interop pair");
    let mut wrong = WrongShape { generate_query: ChainOfThought::new(), generate: Predict::new() };
    let before = wrong.to_state();
    let err = wrong.load(&file).unwrap_err();
    let dspy::Error::StateMismatch(mismatch) = &err else { panic!("unexpected error {err}") };
    assert_eq!(mismatch.missing, ["generate"]);
    assert_eq!(mismatch.extra, ["generate_answer.predict"]);
    assert!(err.to_string().contains("missing from the saved state: generate"), "{err}");
    // Nothing was changed.
    assert_eq!(wrong.to_state(), before);

    // Same names, other fields: the count mismatch is named.
    signature! { pub Narrow = "question -> search_query" }
    #[module]
    struct NarrowQuery {
        generate_query: ChainOfThought<Narrow>,
        generate_answer: ChainOfThought<GenerateAnswer>,
    }
    #[module]
    impl NarrowQuery {
        async fn forward(&self, inputs: &Example) -> Result<Prediction> {
            self.generate_answer.forward(inputs).await
        }
    }
    let mut narrow = NarrowQuery { generate_query: ChainOfThought::new(), generate_answer: ChainOfThought::new() };
    match narrow.load(&file) {
        Err(dspy::Error::StateMismatch(StateMismatch { field_counts, .. })) => {
            assert_eq!(field_counts, [("generate_query.predict".to_string(), 4, 3)]);
        }
        other => panic!("unexpected {other:?}"),
    }
}
