//! MIPROv2 raises the metric on a held-out split, reproducibly, with demos and zero-shot.

use dspy_core::{Module, Predict, Predictor};
use dspy_optimizers::{MiproV2, Optimizer, Split};
use dspy_sim::{AnswerMatch, KEYWORD, SimLm, accuracy, dataset};

fn summary(c: &dspy_optimizers::Compiled<Predict>) -> (String, usize, Option<f64>, Vec<f64>) {
    (
        c.program.signature().instructions().to_string(),
        c.program.demos().len(),
        c.report.best_score,
        c.report.trials.iter().map(|t| t.score).collect(),
    )
}

#[tokio::test]
async fn mipro_light_raises_held_out_accuracy_and_is_reproducible() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, valset, holdout) = (dataset(40, 0), dataset(60, 300), dataset(80, 900));
    let baseline = accuracy(&student, &holdout).await;

    let mipro = MiproV2::new().prompt_model(lm.clone()).progress(false);
    let first = mipro.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    println!("MIPROv2 light: baseline {baseline:.3} -> {after:.3}; LM calls {}; metric calls {}", first.report.lm_calls, first.report.metric_calls);
    println!("{}", first.report);
    println!("{}", serde_json::to_string_pretty(&first.report.extra).unwrap());
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");
    // light, 1 predictor with demos: 10 trials, 3 instruction candidates, 6 demo sets.
    assert_eq!(first.report.extra["num_trials"], 10);
    assert_eq!(first.report.extra["instruction_candidates"][0].as_array().unwrap().len(), 3);
    assert_eq!(first.report.extra["demo_sets"].as_array().unwrap().len(), 6);
    assert_eq!(first.report.extra["minibatch"], true);

    let second = mipro.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    assert_eq!(summary(&second), summary(&first));
}

#[tokio::test]
async fn mipro_zero_shot_finds_the_instruction() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, valset, holdout) = (dataset(40, 0), dataset(60, 300), dataset(80, 900));
    let baseline = accuracy(&student, &holdout).await;
    let mipro = MiproV2::new().prompt_model(lm.clone()).zero_shot().progress(false);
    let first = mipro.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    println!("MIPROv2 zero-shot: baseline {baseline:.3} -> {after:.3}; LM calls {}", first.report.lm_calls);
    println!("{}", first.report);
    assert!(first.program.demos().is_empty());
    assert!(first.program.signature().instructions().contains(KEYWORD));
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");
    // Zero-shot: n = 6 instruction candidates, 9 trials.
    assert_eq!(first.report.extra["instruction_candidates"][0].as_array().unwrap().len(), 6);
    assert_eq!(first.report.extra["num_trials"], 9);
    let second = mipro.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    assert_eq!(summary(&second), summary(&first));
}

#[tokio::test]
async fn mipro_light_on_a_two_step_program() {
    let lm = SimLm::new();
    let student = dspy_sim::TwoStep::new().with_lm(lm.clone());
    let (trainset, valset, holdout) = (dataset(50, 0), dataset(100, 300), dataset(80, 900));
    let baseline = accuracy(&student, &holdout).await;
    let c = MiproV2::new().prompt_model(lm.clone()).progress(false).compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    let after = accuracy(&c.program, &holdout).await;
    println!("MIPROv2 light two-step: baseline {baseline:.3} -> {after:.3}; LM calls {}", c.report.lm_calls);
    // DSPy's light numbers for 2 predictors with demos: 20 trials, 3 instructions, 6 demo sets.
    assert_eq!(c.report.extra["num_trials"], 20);
    assert_eq!(c.report.extra["instruction_candidates"][1].as_array().unwrap().len(), 3);
    // 1 default + 20 minibatch trials + full evaluations at trials 6, 12, 18 and 24.
    assert_eq!(c.report.trials.iter().filter(|t| t.split == Split::Minibatch).count(), 20);
    assert_eq!(c.report.trials.iter().filter(|t| t.split == Split::Val).count(), 5);
    assert_eq!(c.report.extra["lm_calls_by_stage"]["search"], 2 * (100 * 5 + 35 * 20));
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");
}
