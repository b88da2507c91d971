//! The one way programs are run over examples and scored: bounded concurrency in input order,
//! an error limit, a progress bar, a [`Budget`] of LM and metric calls, and traces when asked
//! for. [`Evaluate`](super::Evaluate) runs on it, and so does every optimizer, so budgets, error
//! counting, LM-call accounting and the score's unit are the same everywhere.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde::{Deserialize, Serialize};

use super::metric::{IntoMetric, Metric, Score};
use super::progress::Progress;
use crate::error::{Error, Result};
use crate::example::Example;
use crate::module::{DEFAULT_MAX_ERRORS, Module, run_bounded};
use crate::prediction::Prediction;
use crate::trace::{self, FailedCall, TraceEntry};
use crate::usage::{self, UsageByModel};

/// DSPy's `Evaluate` score of `n` per-example scores summing to `sum`: `100 * sum / n`, rounded
/// to 2 decimals (0 when `n` is 0). Every evaluation reports in this unit.
///
/// ```
/// assert_eq!(dspy_core::evaluate::percentage(2.0, 3), 66.67);
/// ```
pub fn percentage(sum: f64, n: usize) -> f64 {
    if n == 0 { 0.0 } else { (10000.0 * sum / n as f64).round() / 100.0 }
}

/// The progress line of an evaluation, as DSPy's `Evaluate` draws it.
fn average_message(label: &str, sum: f64, done: usize) -> String {
    let average = format!("Average Metric: {sum:.2} / {done} ({:.1}%)", if done > 0 { (1000.0 * sum / done as f64).round() / 10.0 } else { 0.0 });
    if label.is_empty() { average } else { format!("{label} · {average}") }
}

/// A budget of LM calls and metric calls, shared (through an `Arc`) by everything one
/// compilation runs. Work is launched only while the budget lasts:
///
/// * metric calls are *reserved* before a run starts, so `max_metric_calls` is never exceeded;
/// * LM calls are counted when a run ends (its calls are only known then), and no new run
///   starts once `max_lm_calls` is reached; runs already in flight finish, so the LM count can
///   pass the limit by at most the calls of the runs in flight.
#[derive(Debug, Default)]
pub struct Budget {
    max_lm_calls: Option<u64>,
    max_metric_calls: Option<u64>,
    lm_calls: AtomicU64,
    metric_calls: AtomicU64,
    errors: AtomicU64,
    refused: AtomicU64,
}

/// What a [`Budget`] allowed and used, for reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// The LM-call limit, if any.
    pub max_lm_calls: Option<u64>,
    /// The metric-call limit, if any.
    pub max_metric_calls: Option<u64>,
    /// LM calls made (program and LM-judged metric calls; cache hits included).
    pub lm_calls: u64,
    /// Metric calls made (one per scored run).
    pub metric_calls: u64,
    /// Runs that failed (program or metric error), counted and scored as failures.
    pub errors: u64,
    /// Runs that were not started because the budget was spent.
    pub refused: u64,
    /// Whether a limit was reached.
    pub exhausted: bool,
}

impl Budget {
    /// No limits (calls are still counted).
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// At most `max_lm_calls` LM calls and `max_metric_calls` metric calls (`None`: no limit).
    pub fn new(max_lm_calls: Option<u64>, max_metric_calls: Option<u64>) -> Self {
        Budget { max_lm_calls, max_metric_calls, ..Self::default() }
    }

    /// Limits the LM calls.
    pub fn with_max_lm_calls(mut self, n: u64) -> Self {
        self.max_lm_calls = Some(n);
        self
    }

    /// Limits the metric calls.
    pub fn with_max_metric_calls(mut self, n: u64) -> Self {
        self.max_metric_calls = Some(n);
        self
    }

    /// The LM-call limit.
    pub fn max_lm_calls(&self) -> Option<u64> {
        self.max_lm_calls
    }

    /// The metric-call limit.
    pub fn max_metric_calls(&self) -> Option<u64> {
        self.max_metric_calls
    }

    /// LM calls counted so far.
    pub fn lm_calls(&self) -> u64 {
        self.lm_calls.load(Ordering::SeqCst)
    }

    /// Metric calls reserved so far.
    pub fn metric_calls(&self) -> u64 {
        self.metric_calls.load(Ordering::SeqCst)
    }

    /// Failed runs counted so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::SeqCst)
    }

    /// Runs refused for lack of budget so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// LM calls left (`None`: unlimited).
    pub fn remaining_lm_calls(&self) -> Option<u64> {
        self.max_lm_calls.map(|m| m.saturating_sub(self.lm_calls()))
    }

    /// Metric calls left (`None`: unlimited).
    pub fn remaining_metric_calls(&self) -> Option<u64> {
        self.max_metric_calls.map(|m| m.saturating_sub(self.metric_calls()))
    }

    /// Whether no LM calls are left.
    pub fn lm_exhausted(&self) -> bool {
        self.remaining_lm_calls() == Some(0)
    }

    /// Whether a limit has been reached (no new run would start).
    pub fn is_exhausted(&self) -> bool {
        self.lm_exhausted() || self.remaining_metric_calls() == Some(0)
    }

    /// Asks to start one scored run: reserves one metric call if the budget allows it and the
    /// LM calls are not spent. Returns `false` (and counts a refusal) otherwise.
    pub fn try_start(&self) -> bool {
        self.try_reserve_metric_calls(1)
    }

    /// Reserves `n` metric calls at once (all or nothing), if the LM calls are not spent.
    pub fn try_reserve_metric_calls(&self, n: u64) -> bool {
        if self.lm_exhausted() {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        let ok = self
            .metric_calls
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| match self.max_metric_calls {
                Some(max) if used + n > max => None,
                _ => Some(used + n),
            })
            .is_ok();
        if !ok {
            self.refused.fetch_add(1, Ordering::SeqCst);
        }
        ok
    }

    /// Asks to start an unscored run (no metric call): allowed while LM calls are left.
    pub fn try_start_unscored(&self) -> bool {
        if self.lm_exhausted() {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Counts LM calls made (the engine does this for its runs; optimizers do it for their own
    /// calls, e.g. instruction proposals, or run them under [`Engine::track`]).
    pub fn record_lm_calls(&self, n: u64) {
        self.lm_calls.fetch_add(n, Ordering::SeqCst);
    }

    /// Counts a failed run.
    pub fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::SeqCst);
    }

    /// Adds the counts of an earlier part of the same compilation (a resumed checkpoint), so
    /// what it spent counts against the limits.
    pub fn restore(&self, spent: &BudgetReport) {
        self.lm_calls.fetch_add(spent.lm_calls, Ordering::SeqCst);
        self.metric_calls.fetch_add(spent.metric_calls, Ordering::SeqCst);
        self.errors.fetch_add(spent.errors, Ordering::SeqCst);
        self.refused.fetch_add(spent.refused, Ordering::SeqCst);
    }

    /// The counts and limits, for a report.
    pub fn report(&self) -> BudgetReport {
        BudgetReport {
            max_lm_calls: self.max_lm_calls,
            max_metric_calls: self.max_metric_calls,
            lm_calls: self.lm_calls(),
            metric_calls: self.metric_calls(),
            errors: self.errors(),
            refused: self.refused(),
            exhausted: self.is_exhausted(),
        }
    }
}

/// The result of one program run on one example.
#[derive(Clone, Debug, Default)]
pub struct ExampleOutcome {
    /// The program's prediction (`None` when it failed or did not run).
    pub prediction: Option<Prediction>,
    /// The metric's verdict (`None` when unscored, failed or not run).
    pub score: Option<Score>,
    /// The failure (program or metric), if any.
    pub error: Option<String>,
    /// Whether the run was refused for lack of budget.
    pub skipped: bool,
    /// The predictor calls of the run, when traces were asked for.
    pub trace: Vec<TraceEntry>,
    /// The predictor calls whose output did not parse, when traces were asked for.
    pub failed_calls: Vec<FailedCall>,
    /// LM calls of the run (program and metric).
    pub lm_calls: u64,
    /// Tokens and cost of the run, per model.
    pub usage: UsageByModel,
}

impl ExampleOutcome {
    /// The score, or `failure` when the run failed, was skipped or was not scored.
    pub fn value_or(&self, failure: f64) -> f64 {
        self.score.as_ref().map_or(failure, |s| s.value)
    }

    /// Whether the run was scored and passes `threshold` (DSPy's truthiness when `None`).
    pub fn passes(&self, threshold: Option<f64>) -> bool {
        self.score.as_ref().is_some_and(|s| s.passes(threshold))
    }

    /// Whether the program or the metric failed.
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }
}

/// The result of evaluating a program on a list of examples.
#[derive(Clone, Debug, Default)]
pub struct EvalRun {
    /// One outcome per example, in the examples' order.
    pub outcomes: Vec<ExampleOutcome>,
    /// One score per example (`failure_score` for failed or skipped ones).
    pub scores: Vec<f64>,
    /// DSPy's `Evaluate` score: `100 * sum(scores) / len(examples)`, rounded to 2 decimals (a
    /// percentage for pass/fail metrics), the one unit every evaluation reports.
    pub score: f64,
    /// Failed runs.
    pub errors: usize,
    /// Runs refused for lack of budget.
    pub skipped: usize,
    /// LM calls of this evaluation.
    pub lm_calls: u64,
    /// Metric calls of this evaluation.
    pub metric_calls: u64,
    /// Tokens and cost, per model.
    pub usage: UsageByModel,
    /// Wall-clock time.
    pub wall_time: Duration,
}

impl EvalRun {
    /// Whether every example was run (no budget refusal).
    pub fn is_complete(&self) -> bool {
        self.skipped == 0
    }

    /// How many runs succeeded (not failed, not skipped).
    pub fn succeeded(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.skipped && !o.is_error()).count()
    }

    /// The first failure's message, if any run failed.
    pub fn first_error(&self) -> Option<&str> {
        self.outcomes.iter().find_map(|o| o.error.as_deref())
    }

    /// How many examples were run (scored or failed).
    pub fn evaluated(&self) -> usize {
        self.outcomes.len() - self.skipped
    }

    /// The mean score over the examples that ran (`None` when none ran).
    pub fn mean_of_evaluated(&self) -> Option<f64> {
        let ran: Vec<f64> = self.outcomes.iter().zip(&self.scores).filter(|(o, _)| !o.skipped).map(|(_, s)| *s).collect();
        (!ran.is_empty()).then(|| ran.iter().sum::<f64>() / ran.len() as f64)
    }
}

/// Which traces a run keeps, and whether its metric sees them. DSPy decides this per
/// optimizer, and a trace-aware metric (`score if trace is None else score >= t`) scores
/// differently with one, so each optimizer asks for exactly what DSPy's does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traces {
    /// No trace is kept; the metric gets none (DSPy's `Evaluate`).
    Off,
    /// The run's trace is kept for the optimizer (reflection, rules, fine-tuning data), and the
    /// metric gets none: DSPy's `bootstrap_trace_data` (GEPA, BootstrapFinetune) and SIMBA.
    Keep,
    /// The trace is kept and handed to the metric, as only DSPy's BootstrapFewShot does
    /// (`metric(example, prediction, trace)`).
    ForMetric,
}

/// Runs programs over examples: bounded concurrency (cooperative, on the calling task, so the
/// caller's settings apply), results in input order, per-example scores through the metric's
/// `try_score` (so LM-judged metrics work), errors counted up to `max_errors`, optional
/// traces, and a shared [`Budget`].
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Example, Module, Predict, Prediction};
/// use dspy_core::evaluate::{Budget, Engine};
/// let lm = Arc::new(DummyLM::by_substring(vec![("2 + 2".into(), serde_json::json!({"answer": "4"}))]));
/// let program = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let devset = vec![Example::new().with("question", "2 + 2?").with("answer", "4").with_inputs(["question"])];
/// let metric = |ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>| ex.get("answer") == p.get("answer");
/// let engine = Engine::new().num_threads(4).budget(Arc::new(Budget::unlimited().with_max_metric_calls(10)));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let run = engine.evaluate(&program, &devset, &metric).await.unwrap();
/// assert_eq!(run.score, 100.0);
/// assert_eq!(engine.budget_ref().metric_calls(), 1);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    num_threads: usize,
    max_errors: Option<usize>,
    failure_score: f64,
    budget: Arc<Budget>,
    progress: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            num_threads: 8,
            max_errors: Some(DEFAULT_MAX_ERRORS),
            failure_score: 0.0,
            budget: Arc::new(Budget::unlimited()),
            progress: false,
        }
    }
}

impl Engine {
    /// 8 runs at a time, at most 10 errors per evaluation (DSPy's defaults), no limits, no
    /// progress bar.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many runs are in flight at once (at least 1).
    pub fn num_threads(mut self, n: usize) -> Self {
        self.num_threads = n.max(1);
        self
    }

    /// How many failed runs stop an evaluation with [`Error::TooManyErrors`].
    pub fn max_errors(mut self, n: usize) -> Self {
        self.max_errors = Some(n.max(1));
        self
    }

    /// Never stop an evaluation on failures.
    pub fn no_error_limit(mut self) -> Self {
        self.max_errors = None;
        self
    }

    /// Sets the error limit (`None`: none).
    pub fn with_max_errors(mut self, n: Option<usize>) -> Self {
        self.max_errors = n.map(|n| n.max(1));
        self
    }

    /// The score of a failed (or skipped) run; 0 by default.
    pub fn failure_score(mut self, score: f64) -> Self {
        self.failure_score = score;
        self
    }

    /// Shares this budget.
    pub fn budget(mut self, budget: Arc<Budget>) -> Self {
        self.budget = budget;
        self
    }

    /// Shows progress bars on stderr (only drawn when it is a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Runs in flight at once.
    pub fn concurrency(&self) -> usize {
        self.num_threads
    }

    /// The error limit per evaluation.
    pub fn error_limit(&self) -> Option<usize> {
        self.max_errors
    }

    /// The score of a failed run.
    pub fn failure_value(&self) -> f64 {
        self.failure_score
    }

    /// Whether progress bars are on.
    pub fn shows_progress(&self) -> bool {
        self.progress
    }

    /// The shared budget.
    pub fn budget_ref(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Evaluates `program` on `examples` (no traces), with any metric ([`IntoMetric`]).
    pub async fn evaluate<'m, M: Module + ?Sized, K>(&self, program: &M, examples: &[Example], metric: impl IntoMetric<'m, Example, K>) -> Result<EvalRun> {
        self.evaluate_with(program, examples, &*metric.into_metric(), Traces::Off, "Evaluating").await
    }

    /// Evaluates `program` on `examples`, keeping each run's trace (the metric gets none, as in
    /// DSPy's `bootstrap_trace_data`).
    pub async fn evaluate_traced<'m, M: Module + ?Sized, K>(&self, program: &M, examples: &[Example], metric: impl IntoMetric<'m, Example, K>) -> Result<EvalRun> {
        self.evaluate_with(program, examples, &*metric.into_metric(), Traces::Keep, "Evaluating").await
    }

    /// Evaluates with the traces asked for, labelling the progress bar with `label`. Stops with
    /// [`Error::TooManyErrors`] once the error limit is reached (DSPy cancels its executor).
    pub async fn evaluate_with<M: Module + ?Sized>(
        &self,
        program: &M,
        examples: &[Example],
        metric: &dyn Metric,
        traces: Traces,
        label: &str,
    ) -> Result<EvalRun> {
        self.run_examples(program, examples, Some(metric), traces, label).await
    }

    /// Runs `program` on every example without a metric (e.g. to collect traces), with the
    /// same concurrency, order, budget (no metric calls are reserved) and error limit.
    pub async fn run_all<M: Module + ?Sized>(&self, program: &M, examples: &[Example], traces: Traces) -> Result<EvalRun> {
        self.run_examples(program, examples, None, traces, "Running").await
    }

    async fn run_examples<M: Module + ?Sized>(
        &self,
        program: &M,
        examples: &[Example],
        metric: Option<&dyn Metric>,
        traces: Traces,
        label: &str,
    ) -> Result<EvalRun> {
        let started = Instant::now();
        let progress = Progress::new(examples.len(), self.progress);
        let mut sum = 0.0;
        let futures = examples.iter().map(|example| async move {
            match self.run_inner(program, example, metric, traces).await {
                (outcome, None) => Ok(outcome),
                (outcome, Some(e)) => Err((outcome, e)),
            }
        });
        let results = run_bounded(futures, self.num_threads, self.max_errors, |done, _errors, result| {
            sum += match result {
                Ok(outcome) => outcome.value_or(self.failure_score),
                Err(_) => self.failure_score,
            };
            progress.set(done, &average_message(label, sum, done));
        })
        .await;
        progress.finish();
        let results = results.map_err(|aborted| Error::TooManyErrors { errors: aborted.errors, max_errors: aborted.max_errors, last: Box::new(aborted.last.1) })?;
        Ok(self.collect(results.into_iter().map(|r| r.unwrap_or_else(|(outcome, _)| outcome)), started, metric.is_some()))
    }

    fn collect(&self, outcomes: impl Iterator<Item = ExampleOutcome>, started: Instant, scored: bool) -> EvalRun {
        let mut run = EvalRun::default();
        for outcome in outcomes {
            run.errors += usize::from(outcome.is_error());
            run.skipped += usize::from(outcome.skipped);
            run.metric_calls += u64::from(scored && !outcome.skipped);
            run.lm_calls += outcome.lm_calls;
            run.usage.merge(&outcome.usage);
            run.scores.push(outcome.value_or(self.failure_score));
            run.outcomes.push(outcome);
        }
        run.score = percentage(run.scores.iter().sum(), run.scores.len());
        run.wall_time = started.elapsed();
        run
    }

    /// Runs `program` on one example (its inputs), scores it with `metric` if given, keeping the
    /// trace (and handing it to the metric) as `traces` says. Checks and charges the budget;
    /// never fails: errors are in the outcome.
    pub async fn run_example<M: Module + ?Sized>(
        &self,
        program: &M,
        example: &Example,
        metric: Option<&dyn Metric>,
        traces: Traces,
    ) -> ExampleOutcome {
        self.run_inner(program, example, metric, traces).await.0
    }

    async fn run_inner<M: Module + ?Sized>(
        &self,
        program: &M,
        example: &Example,
        metric: Option<&dyn Metric>,
        traces: Traces,
    ) -> (ExampleOutcome, Option<Error>) {
        let allowed = if metric.is_some() { self.budget.try_start() } else { self.budget.try_start_unscored() };
        if !allowed {
            return (ExampleOutcome { skipped: true, ..ExampleOutcome::default() }, None);
        }
        let ((result, trace, failed), used) = usage::track(async {
            let (prediction, trace, failed) = trace::collect_with_failures(program.forward(&example.inputs())).await;
            let result = match (prediction, metric) {
                (Err(e), _) => Err((None, e)),
                (Ok(p), None) => Ok((p, None)),
                (Ok(p), Some(metric)) => match metric.try_score(example, &p, (traces == Traces::ForMetric).then_some(trace.as_slice())).await {
                    Ok(score) => Ok((p, Some(score))),
                    Err(e) => Err((Some(p), e)),
                },
            };
            (result, trace, failed)
        })
        .await;
        let lm_calls = used.total().calls.max((trace.len() + failed.len()) as u64);
        self.budget.record_lm_calls(lm_calls);
        let (trace, failed_calls) = if traces == Traces::Off { (Vec::new(), Vec::new()) } else { (trace, failed) };
        match result {
            Ok((prediction, score)) => {
                (ExampleOutcome { prediction: Some(prediction), score, trace, failed_calls, lm_calls, usage: used, ..ExampleOutcome::default() }, None)
            }
            Err((prediction, e)) => {
                self.budget.record_error();
                tracing::debug!(error = %e, "a run failed; counted as a failure");
                let outcome = ExampleOutcome { prediction, error: Some(e.to_string()), trace, failed_calls, lm_calls, usage: used, ..ExampleOutcome::default() };
                (outcome, Some(e))
            }
        }
    }

    /// Maps `f` over `items` with at most `num_threads` futures in flight, cooperatively on the
    /// calling task; the results are in the items' order. (The bounded runner of the
    /// evaluations, for an optimizer's own concurrent work.)
    ///
    /// ```
    /// use dspy_core::evaluate::Engine;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let out = Engine::new().num_threads(2).map_bounded(1..=4, |x| async move { x * 10 }).await;
    /// assert_eq!(out, [10, 20, 30, 40]);
    /// # });
    /// ```
    pub async fn map_bounded<I, T, F, Fut>(&self, items: I, f: F) -> Vec<T>
    where
        I: IntoIterator,
        F: Fn(I::Item) -> Fut,
        Fut: Future<Output = T>,
    {
        let futures = items.into_iter().map(|item| f(item).map(Ok::<T, Infallible>));
        match run_bounded(futures, self.num_threads, None, |_, _, _| {}).await {
            Ok(results) => results.into_iter().map(|r| match r {
                Ok(out) => out,
                Err(never) => match never {},
            }).collect(),
            Err(aborted) => match aborted.last {},
        }
    }

    /// Runs `fut` under usage tracking and charges its LM calls to the budget (for LM calls an
    /// optimizer makes itself, such as instruction proposals).
    pub async fn track<F: Future>(&self, fut: F) -> (F::Output, UsageByModel) {
        let (out, used) = usage::track(fut).await;
        self.budget.record_lm_calls(used.total().calls);
        (out, used)
    }
}

