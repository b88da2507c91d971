//! Options and failures mean what they mean in DSPy 3.4.1 (issue 16, points 3 and 5): a failed
//! run scores 0 without throwing a candidate away, `stop_at_score` is a percentage, a
//! `metric_threshold` of 0 is no threshold, random search keeps `LabeledFewShot(k=0)`, and
//! MIPROv2's default trial is the student as it is.

use dspy_core::evaluate::{Evaluate, Metric, Score};
use dspy_core::trace::TraceEntry;
use dspy_core::{DummyLM, Error, Example, Module, Predict, Prediction, Predictor};
use dspy_optimizers::{BootstrapFewShot, BootstrapFewShotWithRandomSearch, Copro, MiproV2, Optimizer, Simba, Split};
use dspy_sim::{AnswerMatch, CATEGORIES, SimLm, dataset};

/// `AnswerMatch`, except that it fails (an `Err`, as an LM-judged metric whose judge
/// errs) on every category but `delta`: three runs in four fail.
struct FailsOnMost;

#[async_trait::async_trait]
impl Metric for FailsOnMost {
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score {
        AnswerMatch.score(example, prediction, trace)
    }

    async fn try_score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> dspy_core::Result<Score> {
        match example.get_str("question") {
            Some(q) if q.starts_with("[delta]") => Ok(self.score(example, prediction, trace)),
            _ => Err(Error::msg("the judge is down")),
        }
    }
}

#[tokio::test]
async fn a_failed_run_scores_zero_and_the_compile_goes_on() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let trainset = dataset(16, 0);
    assert_eq!(CATEGORIES.len(), 4);

    // COPRO: 12 of 16 runs of every candidate fail, past DSPy's limit of 10 errors; each
    // candidate is still scored over all 16 examples, failures as 0.
    let copro = Copro::new().prompt_model(lm.clone()).breadth(3).depth(1).progress(false);
    let c = copro.compile(&student, &trainset, &FailsOnMost).await.unwrap();
    assert_eq!(c.report.trials.len(), 3);
    for t in &c.report.trials {
        assert!(!t.description.contains("failed"), "{}", t.description);
        assert!(t.score <= 25.0, "at most the 4 delta examples of 16 can score: {}", t.score);
    }
    assert!(c.report.trials.iter().any(|t| t.score > 0.0), "the delta examples still count");
    assert_eq!(c.report.budget.errors, 3 * 12);

    // SIMBA: its final validation of the step winners does not throw a winner away either.
    let simba = Simba::new().bsize(8).num_candidates(2).max_steps(2).prompt_model(lm.clone()).progress(false);
    let c = simba.compile(&student, &trainset, &FailsOnMost).await.unwrap();
    let finals: Vec<_> = c.report.trials.iter().filter(|t| t.description.starts_with("winner of step")).collect();
    assert!(!finals.is_empty());
    assert!(finals.iter().all(|t| !t.description.contains("failed") && t.split == Split::Train && t.num_examples == 16), "{finals:?}");

    // An explicit limit brings DSPy's `Evaluate` behaviour back: COPRO stops.
    let err = copro.clone().max_errors(10).compile(&student, &trainset, &FailsOnMost).await.unwrap_err();
    assert!(err.to_string().contains("the judge is down"), "{err}");
}

#[tokio::test]
async fn every_run_failing_is_an_error_not_a_silent_zero() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let only_failures: Vec<Example> = dataset(12, 0).into_iter().filter(|e| !e.get_str("question").unwrap().starts_with("[delta]")).collect();
    let err = Copro::new().prompt_model(lm.clone()).breadth(2).depth(1).progress(false).compile(&student, &only_failures, &FailsOnMost).await.unwrap_err();
    assert!(err.to_string().contains("the judge is down"), "{err}");
}

/// A program that answers every question right: `"q{i}"` -> `"a{i}"`.
fn always_right(n: usize) -> (Predict, Vec<Example>) {
    let answers = (0..n).map(|i| (format!("q{i}?"), serde_json::json!({"answer": format!("a{i}")}))).collect();
    let student = Predict::parse("question -> answer").unwrap().with_lm(DummyLM::by_substring(answers));
    let data = (0..n).map(|i| Example::new().with("question", format!("q{i}?")).with("answer", format!("a{i}")).with_inputs(["question"])).collect();
    (student, data)
}

fn exact(ex: &Example, p: &Prediction, _t: Option<&[TraceEntry]>) -> bool {
    ex.get("answer") == p.get("answer")
}

#[tokio::test]
async fn stop_at_score_is_dspys_percentage() {
    let (student, data) = always_right(6);
    let search = BootstrapFewShotWithRandomSearch::new().num_candidate_programs(3).max_bootstrapped_demos(1).max_labeled_demos(1).progress(false);
    // The first candidate (zero-shot) already scores 100 %: a ported `stop_at_score=90` stops there.
    let stopped = search.clone().stop_at_score(90.0).compile(&student, &data, exact).await.unwrap();
    assert_eq!(stopped.report.trials.len(), 1, "{}", stopped.report);
    assert_eq!(stopped.report.best_score, Some(100.0));
    // Out of reach, every candidate of the schedule (-3, -2, -1, 0, 1, 2) is tried.
    let all = search.stop_at_score(100.5).compile(&student, &data, exact).await.unwrap();
    assert_eq!(all.report.trials.len(), 6);
}

#[tokio::test]
async fn a_metric_threshold_of_zero_is_no_threshold() {
    let (student, data) = always_right(4);
    // Every score is 0.0: DSPy's `if self.metric_threshold:` is false for 0, so the score's own
    // truthiness decides and nothing passes (a `>= 0` test would pass everything).
    let zero = |_: &Example, _: &Prediction, _: Option<&[TraceEntry]>| 0.0;
    let boot = BootstrapFewShot::new().max_bootstrapped_demos(2).max_labeled_demos(0).metric_threshold(0.0);
    let c = boot.clone().compile(&student, &data, zero).await.unwrap();
    assert!(c.program.demos().is_empty(), "{:?}", c.program.demos());
    // A real threshold still applies.
    let half = |_: &Example, _: &Prediction, _: Option<&[TraceEntry]>| 0.5;
    assert_eq!(boot.clone().metric_threshold(0.5).compile(&student, &data, half).await.unwrap().program.demos().len(), 2);
    assert!(boot.metric_threshold(0.6).compile(&student, &data, half).await.unwrap().program.demos().is_empty());
}

#[tokio::test]
async fn random_search_keeps_labeled_few_shot_with_k_zero() {
    let (student, data) = always_right(4);
    let search = BootstrapFewShotWithRandomSearch::new().num_candidate_programs(1).max_labeled_demos(0).progress(false);
    let c = search.compile(&student, &data, exact).await.unwrap();
    let names: Vec<&str> = c.report.trials.iter().map(|t| t.description.as_str()).collect();
    assert_eq!(names[..3], ["seed -3: zero-shot", "seed -2: labeled only", "seed -1: unshuffled bootstrap"], "{names:?}");
}

#[tokio::test]
async fn mipro_default_trial_is_the_student_with_its_own_demos() {
    let lm = SimLm::new();
    // Demos of every category make the simulated LM follow the rules: the student is good as
    // it is, and a zero-shot copy is not.
    let demos = dataset(4, 700);
    let mut student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    student.set_demos(demos);
    let (trainset, valset) = (dataset(20, 0), dataset(20, 300));
    let own = Evaluate::new(valset.clone(), AnswerMatch).run(&student).await.unwrap().score;
    let mut bare = student.clone();
    bare.set_demos(Vec::new());
    let zero_shot = Evaluate::new(valset.clone(), AnswerMatch).run(&bare).await.unwrap().score;
    assert!(own > zero_shot, "own demos {own}, none {zero_shot}");

    let c = MiproV2::new().prompt_model(lm.clone()).progress(false).compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    assert!(c.report.trials[0].description.starts_with("default program"), "{}", c.report.trials[0].description);
    assert_eq!(c.report.trials[0].score, own);
    assert!(c.report.best_score.unwrap() >= own);
}
