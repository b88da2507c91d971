//! Budget accounting of COPRO, MIPROv2, SIMBA and GEPA: every LM and metric call is counted,
//! and hard limits are respected.

use dspy_core::Predict;
use dspy_core::Module;
use dspy_optimizers::{AutoMode, Copro, Gepa, MiproV2, Optimizer, Simba};
use dspy_sim::{AnswerMatch, SimLm, dataset};

#[tokio::test]
async fn every_lm_call_is_counted() {
    let (trainset, valset) = (dataset(40, 0), dataset(60, 300));

    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let c = MiproV2::new().prompt_model(lm.clone()).progress(false).compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    assert_eq!(c.report.lm_calls, lm.calls());
    let stages = &c.report.extra["lm_calls_by_stage"];
    let by_stage: u64 = ["bootstrap", "proposal", "search"].iter().map(|s| stages[*s].as_u64().unwrap()).sum();
    assert_eq!(by_stage, lm.calls());
    // The search's program runs are exactly the trials' examples (one LM call per run here).
    let trial_runs: u64 = c.report.trials.iter().map(|t| t.num_examples as u64).sum();
    assert_eq!(stages["search"].as_u64().unwrap(), trial_runs);
    assert!(c.report.usage.total_tokens > 0);

    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let c = Gepa::new().auto(AutoMode::Light).reflection_lm(lm.clone()).progress(false).compile(&student, &trainset, &AnswerMatch).valset(&valset[..20]).await.unwrap();
    let reflections = c.report.extra["reflection_calls"].as_u64().unwrap();
    assert_eq!(c.report.metric_calls + reflections, lm.calls());
    assert_eq!(c.report.lm_calls, lm.calls());

    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let c = Copro::new().prompt_model(lm.clone()).breadth(3).depth(2).progress(false).compile(&student, &trainset[..10], &AnswerMatch).await.unwrap();
    // 2 proposal calls (n = 2, then n = 3) + 6 evaluations of 10 examples.
    assert_eq!(lm.calls(), 2 + 6 * 10);
    assert_eq!(c.report.lm_calls, lm.calls());
    assert_eq!(c.report.metric_calls, 60);

    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let c = Simba::new().bsize(8).num_candidates(3).max_steps(2).prompt_model(lm.clone()).progress(false).compile(&student, &trainset[..16], &AnswerMatch).await.unwrap();
    assert_eq!(c.report.lm_calls, lm.calls());
    // Every program run is scored: runs = metric calls, the rest are rule-writing calls.
    assert!(lm.calls() >= c.report.metric_calls);
    assert!(lm.calls() - c.report.metric_calls <= 2 * 4);
}

#[tokio::test]
async fn hard_limits_are_respected() {
    let (trainset, valset) = (dataset(40, 0), dataset(60, 300));
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());

    let c = Copro::new().prompt_model(lm.clone()).breadth(4).depth(3).max_metric_calls(50).progress(false).compile(&student, &trainset[..24], &AnswerMatch).await.unwrap();
    assert!(c.report.metric_calls <= 50);
    assert!(c.report.budget.exhausted);
    assert_eq!(c.report.extra["stopped_by_budget"], true);

    // MIPROv2 stops its search when the LM calls are spent; runs in flight (8 at a time) finish.
    let c = MiproV2::new().prompt_model(lm.clone()).max_lm_calls(200).progress(false).compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    assert!(c.report.lm_calls <= 200 + 8, "{}", c.report.lm_calls);
    assert!(c.report.budget.exhausted);
    assert_eq!(c.report.extra["stopped_by_budget"], true);
    assert!(c.report.trials.len() < 10);

    let c = Simba::new().bsize(8).num_candidates(3).max_steps(8).max_metric_calls(100).prompt_model(lm.clone()).progress(false).compile(&student, &trainset[..16], &AnswerMatch).await.unwrap();
    assert!(c.report.metric_calls <= 100, "{}", c.report.metric_calls);
    assert_eq!(c.report.extra["stopped_by_budget"], true);

    let c = Gepa::new().reflection_lm(lm.clone()).max_metric_calls(45).progress(false).compile(&student, &trainset, &AnswerMatch).valset(&valset[..20]).await.unwrap();
    assert!(c.report.metric_calls <= 45);
    assert_eq!(c.report.extra["total_metric_calls"], c.report.metric_calls);
}
