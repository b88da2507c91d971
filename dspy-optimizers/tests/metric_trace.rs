//! The metric gets a trace only where DSPy 3.4.1 passes one: BootstrapFewShot's
//! `metric(example, prediction, trace)`, and GEPA's request for feedback on one predictor
//! (`metric(example, prediction, trace, pred_name, pred_trace)`, whose score GEPA ignores).
//! GEPA's traced minibatch runs (`bootstrap_trace_data`, which calls the metric without a
//! trace), SIMBA's (`metric(example, prediction)`) and plain evaluation keep the traces for
//! themselves but score without them, so a trace-aware metric (`score if trace is None else
//! score >= t`) scores a parent and its child the same way.

use std::sync::atomic::{AtomicUsize, Ordering};

use dspy_core::evaluate::{Metric, PredictorCall, Score};
use dspy_core::trace::TraceEntry;
use dspy_core::{Example, Module, Predict, Prediction};
use dspy_optimizers::{BootstrapFewShot, Engine, Gepa, Optimizer, Simba};
use dspy_sim::{AnswerMatch, SimLm, dataset};

/// `AnswerMatch`, counting the calls that came with a trace and those without.
#[derive(Default)]
struct TraceSpy {
    with_trace: AtomicUsize,
    without: AtomicUsize,
    asked_about_a_predictor: AtomicUsize,
}

impl TraceSpy {
    fn counts(&self) -> (usize, usize) {
        (self.with_trace.load(Ordering::SeqCst), self.without.load(Ordering::SeqCst))
    }
}

#[async_trait::async_trait]
impl Metric for TraceSpy {
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score {
        match trace {
            Some(_) => self.with_trace.fetch_add(1, Ordering::SeqCst),
            None => self.without.fetch_add(1, Ordering::SeqCst),
        };
        AnswerMatch.score(example, prediction, trace)
    }

    async fn try_score_predictor(&self, example: &Example, prediction: &Prediction, trace: &[TraceEntry], _predictor: PredictorCall<'_>) -> dspy_core::Result<Score> {
        self.asked_about_a_predictor.fetch_add(1, Ordering::SeqCst);
        Ok(AnswerMatch.score(example, prediction, Some(trace)))
    }
}

#[tokio::test]
async fn only_bootstrap_few_shot_hands_the_trace_to_the_metric() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, valset) = (dataset(16, 0), dataset(8, 300));

    let spy = TraceSpy::default();
    Gepa::new().reflection_lm(lm.clone()).max_metric_calls(60).progress(false).compile(&student, &trainset, &spy).valset(&valset).await.unwrap();
    let (traced, plain) = spy.counts();
    assert_eq!(traced, 0, "GEPA scored {traced} runs with a trace");
    assert!(plain > 0);
    assert!(spy.asked_about_a_predictor.load(Ordering::SeqCst) > 0, "GEPA asks for each predictor's feedback, with the trace");

    let spy = TraceSpy::default();
    Simba::new().bsize(8).num_candidates(2).max_steps(2).prompt_model(lm.clone()).progress(false).compile(&student, &trainset, &spy).await.unwrap();
    let (traced, plain) = spy.counts();
    assert_eq!(traced, 0, "SIMBA scored {traced} runs with a trace");
    assert!(plain > 0);

    let spy = TraceSpy::default();
    BootstrapFewShot::new().max_bootstrapped_demos(2).max_labeled_demos(0).compile(&student, &trainset, &spy).await.unwrap();
    let (traced, plain) = spy.counts();
    assert!(traced > 0, "BootstrapFewShot must score its bootstrap runs with their traces");
    assert_eq!(plain, 0);
}

#[tokio::test]
async fn a_traced_evaluation_keeps_the_traces_without_showing_them_to_the_metric() {
    let lm = SimLm::new();
    let program = Predict::parse("question -> answer").unwrap().with_lm(lm);
    let spy = TraceSpy::default();
    let run = Engine::new().evaluate_traced(&program, &dataset(4, 0), &spy).await.unwrap();
    assert!(run.outcomes.iter().all(|o| !o.trace.is_empty()), "each run keeps its trace");
    assert_eq!(spy.counts(), (0, 4));
}
