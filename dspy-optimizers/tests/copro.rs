//! COPRO raises the metric on a held-out split, reproducibly.

use dspy_core::{Module, Predict, Predictor};
use dspy_optimizers::{Copro, Optimizer};
use dspy_sim::{AnswerMatch, KEYWORD, SimLm, accuracy, dataset};

#[tokio::test]
async fn copro_raises_held_out_accuracy_and_is_reproducible() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let trainset = dataset(24, 0);
    let holdout = dataset(60, 500);
    let baseline = accuracy(&student, &holdout).await;

    let copro = Copro::new().prompt_model(lm.clone()).breadth(6).depth(2).seed(0).progress(false);
    let first = copro.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    println!("COPRO: baseline {baseline:.3} -> {after:.3}, LM calls {}, metric calls {}", first.report.lm_calls, first.report.metric_calls);
    println!("{}", first.report);
    assert!(first.program.signature().instructions().contains(KEYWORD), "{}", first.program.signature().instructions());
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");
    // breadth 6: 5 proposals + the original, then 6 new ones: 12 evaluations of 24 examples.
    assert_eq!(first.report.trials.len(), 12);
    assert_eq!(first.report.metric_calls, 12 * 24);
    assert_eq!(first.report.extra["total_calls"], 12);

    let second = copro.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert_eq!(second.program.signature().instructions(), first.program.signature().instructions());
    assert_eq!(second.report.best_score, first.report.best_score);
    let scores = |r: &dspy_optimizers::CompileReport| r.trials.iter().map(|t| t.score).collect::<Vec<_>>();
    assert_eq!(scores(&second.report), scores(&first.report));
}

#[tokio::test]
async fn copro_rejects_breadth_one() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let err = Copro::new().breadth(1).compile(&student, &dataset(4, 0), &AnswerMatch).await.unwrap_err();
    assert!(err.to_string().contains("Breadth must be greater than 1"));
}

#[tokio::test]
async fn copro_searches_each_predictor_of_a_two_step_program() {
    use dspy_core::Module;
    let lm = SimLm::new();
    let student = dspy_sim::TwoStep::new().with_lm(lm.clone());
    let (trainset, holdout) = (dataset(16, 0), dataset(60, 500));
    let baseline = accuracy(&student, &holdout).await;
    let copro = Copro::new().prompt_model(lm.clone()).breadth(3).depth(2).progress(false);
    let c = copro.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let after = accuracy(&c.program, &holdout).await;
    println!("COPRO two-step: baseline {baseline:.3} -> {after:.3}");
    // Depth 1: 3 candidates per predictor; depth 2: all 6 candidates of each predictor again.
    assert_eq!(c.report.trials.len(), 3 + 3 + 6 + 6);
    assert!(c.program.answer.signature().instructions().contains(KEYWORD));
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");
    let names: Vec<String> = c.program.named_predictors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["classify", "answer"]);
}
