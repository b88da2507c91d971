//! SIMBA raises the metric on a held-out split, reproducibly.

use dspy_core::{Module, Predict, Predictor};
use dspy_optimizers::{Optimizer, Simba};
use dspy_sim::{AnswerMatch, SimLm, accuracy, dataset};

fn summary(c: &dspy_optimizers::Compiled<Predict>) -> (String, Vec<dspy_core::Example>, Option<f64>, Vec<f64>) {
    (
        c.program.signature().instructions().to_string(),
        c.program.demos().to_vec(),
        c.report.best_score,
        c.report.trials.iter().map(|t| t.score).collect(),
    )
}

#[tokio::test]
async fn simba_raises_held_out_accuracy_and_is_reproducible() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, holdout) = (dataset(48, 0), dataset(80, 900));
    let baseline = accuracy(&student, &holdout).await;
    let simba = Simba::new().bsize(16).num_candidates(4).max_steps(4).prompt_model(lm.clone()).progress(false);
    let first = simba.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    println!("SIMBA: baseline {baseline:.3} -> {after:.3}; LM calls {}; metric calls {}", first.report.lm_calls, first.report.metric_calls);
    println!("{}", first.report);
    println!("{}", serde_json::to_string_pretty(&first.report.extra).unwrap());
    assert!(after >= baseline + 0.3, "baseline {baseline}, after {after}");
    let second = simba.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert_eq!(summary(&second), summary(&first));
}

#[tokio::test]
async fn simba_rules_only_and_small_trainset() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let err = Simba::new().compile(&student, &dataset(8, 0), &AnswerMatch).await.unwrap_err();
    assert!(err.to_string().contains("Trainset too small: 8 < 32"));
    let (trainset, holdout) = (dataset(48, 0), dataset(80, 900));
    let baseline = accuracy(&student, &holdout).await;
    let rules = Simba::new().bsize(16).num_candidates(4).max_steps(4).max_demos(0).prompt_model(lm.clone()).progress(false);
    let compiled = rules.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let after = accuracy(&compiled.program, &holdout).await;
    println!("SIMBA rules only: baseline {baseline:.3} -> {after:.3}; instructions: {}", compiled.program.signature().instructions());
    assert!(compiled.program.demos().is_empty());
    assert!(after >= baseline + 0.3, "baseline {baseline}, after {after}");
}

