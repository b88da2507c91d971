//! `Evaluate` and the built-in metrics: scores, errors, tables, saved results, and the
//! LM-judged `SemanticF1` (prompts byte-identical to DSPy 3.4.1's, recorded by
//! `tests/data/semantic_f1/generate.py`).

use std::sync::Arc;

use dspy::evaluate::{Evaluate, Metric, Score, SemanticF1, answer_exact_match, answer_passage_match};
use dspy::prelude::*;
use dspy::trace::TraceEntry;
use serde_json::{Value, json};

fn devset() -> Vec<Example> {
    ["2 + 2", "3 + 3", "boom", "5 + 5"]
        .iter()
        .zip(["4", "6", "x", "10"])
        .map(|(q, a)| Example::new().with("question", *q).with("answer", a).with_inputs(["question"]))
        .collect()
}

fn program() -> Predict {
    let lm = Arc::new(DummyLM::by_substring(vec![
        ("2 + 2".into(), json!({"answer": "4"})),
        ("3 + 3".into(), json!({"answer": "7"})),
        ("5 + 5".into(), json!({"answer": "The 10."})),
    ]));
    Predict::parse("question -> answer").unwrap().with_lm(lm)
}

#[tokio::test]
async fn scores_rows_tables_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let (json_path, csv_path) = (dir.path().join("r.json"), dir.path().join("r.csv"));
    let eval = Evaluate::new(devset(), answer_exact_match)
        .num_threads(3)
        .save_as_json(&json_path)
        .save_as_csv(&csv_path);
    let result = eval.run(&program()).await.unwrap();
    // "boom" gets "No more responses", which does not parse: a failed example scores 0.
    assert_eq!(result.score, 50.0);
    assert_eq!(result.results.len(), 4);
    assert!(result.results[2].error.is_some());
    assert_eq!(result.results[3].score, Score::from(true), "normalisation drops `The` and `.`");
    assert_eq!(result.metric_name, "answer_exact_match");

    let rows: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(rows[1], json!({"question": "3 + 3", "example_answer": "6", "pred_answer": "7", "answer_exact_match": 0.0}));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv.starts_with("question,example_answer,pred_answer,answer_exact_match,answer,error\r\n2 + 2,4,4,1.0,,\r\n"), "{csv}");

    let table = result.table(2);
    assert!(table.contains("| question | example_answer | pred_answer | answer_exact_match |"), "{table}");
    assert!(table.contains("✔️ [1.000]"));
    assert!(table.contains("... 2 more rows not displayed ..."));
}

#[tokio::test]
async fn max_errors_stops_the_run() {
    let eval = Evaluate::new(devset(), answer_exact_match).max_errors(1);
    let err = eval.run(&program()).await.unwrap_err();
    assert!(matches!(err, dspy::Error::TooManyErrors { errors: 1, max_errors: 1, .. }), "{err}");
    let empty = Evaluate::new(Vec::<Example>::new(), answer_exact_match).run(&program()).await;
    assert!(empty.is_err());
}

#[tokio::test]
async fn metrics_with_feedback_and_failure_score() {
    let metric = |ex: &Example, p: &Prediction, _: Option<&[TraceEntry]>| {
        let ok = ex.get("answer") == p.get("answer");
        Score::with_feedback(if ok { 1.0 } else { 0.25 }, if ok { "right" } else { "wrong" })
    };
    let result = Evaluate::new(devset(), metric).failure_score(0.5).run(&program()).await.unwrap();
    assert_eq!(result.score, (100.0 * (1.0 + 0.25 + 0.5 + 0.25) / 4.0_f64 * 100.0).round() / 100.0);
    assert_eq!(result.results[1].score.feedback.as_deref(), Some("wrong"));
    assert_eq!(result.rows()[1]["metric_feedback"], "wrong");
}

#[test]
fn passage_match_reads_the_context() {
    let ex = Example::new().with("answer", json!(["Eiffel Tower"]));
    let hit = Prediction::new(json!({"context": ["It is the Eiffel tower, in Paris."]}).as_object().unwrap().clone());
    let miss = Prediction::new(json!({"context": ["The Eiffeltower"]}).as_object().unwrap().clone());
    assert!(answer_passage_match(&ex, &hit, None));
    assert!(!answer_passage_match(&ex, &miss, None));
}

#[tokio::test]
async fn semantic_f1_prompts_match_the_reference() {
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/semantic_f1/semantic-f1.json")).unwrap(),
    )
    .unwrap();
    let ex = Example::new().with("question", "Why is the sky blue?").with("response", "Rayleigh scattering.");
    let pred = Prediction::new(json!({"response": "Scattering, and also the sea."}).as_object().unwrap().clone());
    for (name, decompositional) in [("plain", false), ("decompositional", true)] {
        let v = &vectors[name];
        let lm = Arc::new(DummyLM::raw(vec![v["outputs"][0].as_str().unwrap().to_string()]));
        let metric = SemanticF1::new().decompositional(decompositional);
        let score = dspy::settings::context(Settings::new().lm(lm.clone()), metric.try_score(&ex, &pred, None)).await.unwrap();
        assert!((score.value - v["score"].as_f64().unwrap()).abs() < 1e-12, "{name}");
        assert_eq!(serde_json::to_value(&lm.history()[0].messages).unwrap(), v["messages"], "{name}");
    }
    // With a trace (compiling), the score is whether F1 reaches the threshold.
    let lm = Arc::new(DummyLM::raw(vec![vectors["plain"]["outputs"][0].as_str().unwrap().to_string()]));
    let strict = SemanticF1::new().threshold(0.9);
    let score = dspy::settings::context(Settings::new().lm(lm), strict.try_score(&ex, &pred, Some(&[]))).await.unwrap();
    assert_eq!(score, Score::from(false));
}

#[test]
fn semantic_f1_also_scores_from_sync_code() {
    let lm = Arc::new(DummyLM::new(vec![json!({"reasoning": "r", "recall": 0.5, "precision": 0.5})]));
    let _guard = dspy::settings::scoped(Settings::new().lm(lm));
    let ex = Example::new().with("question", "q").with("response", "a");
    let pred = Prediction::new(json!({"response": "a"}).as_object().unwrap().clone());
    assert!((SemanticF1::new().score(&ex, &pred, None).value - 0.5).abs() < 1e-12);
    let missing = SemanticF1::new().score(&Example::new(), &pred, None);
    assert_eq!(missing.value, 0.0);
    assert!(missing.feedback.unwrap().contains("question"));
}
