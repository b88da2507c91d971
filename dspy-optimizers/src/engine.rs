//! The shared evaluation engine: runs a program over examples with a metric, concurrently and
//! in input order, within an error limit and a [`Budget`] of LM and metric calls, optionally
//! tracing every run. Every optimizer of this crate evaluates through it, so budgets, error
//! counting and LM-call accounting behave the same everywhere.
//!
//! Scores here are metric *means* (0.0–1.0 for pass/fail metrics), not DSPy's percentages;
//! reports print them as percentages.
//!
//! Randomness: every optimizer draws from a [`SeededRng`] made by [`seeded_rng`] (ChaCha8, a
//! portable stream: the same seed gives the same draws on every platform and run).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dspy_core::evaluate::{IntoMetric, Metric, Score};
use dspy_core::module::DEFAULT_MAX_ERRORS;
use dspy_core::trace::{self, TraceEntry};
use dspy_core::usage::{self, UsageByModel};
use dspy_core::{Error, Example, Module, Prediction, Result};
use futures::StreamExt;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::progress::Progress;

/// The random generator every optimizer uses: ChaCha8, seeded, portable.
pub type SeededRng = rand::rngs::ChaCha8Rng;

/// A generator seeded with `seed`: the same seed always gives the same stream.
///
/// ```
/// use dspy_optimizers::engine::seeded_rng;
/// use rand::RngExt;
/// let a: u32 = seeded_rng(7).random();
/// let b: u32 = seeded_rng(7).random();
/// assert_eq!(a, b);
/// ```
pub fn seeded_rng(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

/// A seed derived from a base seed and a stream index (e.g. a candidate number), so that each
/// stream is independent yet reproducible (SplitMix64 mixing).
pub(crate) fn derive_seed(base: u64, stream: i64) -> u64 {
    let mut z = base ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
    pub(crate) fn try_start(&self) -> bool {
        self.try_reserve_metric_calls(1)
    }

    /// Reserves `n` metric calls at once (all or nothing), if the LM calls are not spent.
    pub(crate) fn try_reserve_metric_calls(&self, n: u64) -> bool {
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
    pub(crate) fn try_start_unscored(&self) -> bool {
        if self.lm_exhausted() {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Counts LM calls made (the engine does this for its runs; optimizers do it for their own
    /// calls, e.g. instruction proposals, or run them under [`Engine::track`]).
    pub(crate) fn record_lm_calls(&self, n: u64) {
        self.lm_calls.fetch_add(n, Ordering::SeqCst);
    }

    /// Counts a failed run.
    pub(crate) fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::SeqCst);
    }

    /// Adds the counts of an earlier part of the same compilation (a resumed checkpoint), so
    /// what it spent counts against the limits.
    pub(crate) fn restore(&self, spent: &BudgetReport) {
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
    /// The mean of `scores` (over every example, as DSPy's `Evaluate`).
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
/// use dspy_optimizers::engine::{Budget, Engine};
/// let lm = Arc::new(DummyLM::by_substring(vec![("2 + 2".into(), serde_json::json!({"answer": "4"}))]));
/// let program = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let devset = vec![Example::new().with("question", "2 + 2?").with("answer", "4").with_inputs(["question"])];
/// let metric = |ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>| ex.get("answer") == p.get("answer");
/// let engine = Engine::new().num_threads(4).budget(Arc::new(Budget::unlimited().with_max_metric_calls(10)));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let run = engine.evaluate(&program, &devset, &metric).await.unwrap();
/// assert_eq!(run.score, 1.0);
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

    /// Evaluates with the traces asked for, labelling the progress bar with `label`.
    pub async fn evaluate_with<M: Module + ?Sized>(
        &self,
        program: &M,
        examples: &[Example],
        metric: &dyn Metric,
        traces: Traces,
        label: &str,
    ) -> Result<EvalRun> {
        let started = Instant::now();
        let progress = Progress::new(examples.len(), label, self.progress);
        let sum = Mutex::new((0.0f64, 0usize));
        let results = self
            .map_bounded(examples.iter(), |example| {
                let sum = &sum;
                let progress = &progress;
                async move {
                    let (outcome, err) = self.run_inner(program, example, Some(metric), traces).await;
                    let mut s = sum.lock().unwrap_or_else(|p| p.into_inner());
                    s.0 += outcome.value_or(self.failure_score);
                    s.1 += 1;
                    progress.advance(&format!("{label}: average {:.3} over {}", s.0 / s.1 as f64, s.1));
                    (outcome, err)
                }
            })
            .await;
        progress.finish();
        self.collect(results, started, true)
    }

    /// Runs `program` on every example without a metric (e.g. to collect traces), with the
    /// same concurrency, order, budget (no metric calls are reserved) and error limit.
    pub async fn run_all<M: Module + ?Sized>(&self, program: &M, examples: &[Example], traces: Traces) -> Result<EvalRun> {
        let started = Instant::now();
        let results = self.map_bounded(examples.iter(), |example| self.run_inner(program, example, None, traces)).await;
        self.collect(results, started, false)
    }

    fn collect(&self, results: Vec<(ExampleOutcome, Option<Error>)>, started: Instant, scored: bool) -> Result<EvalRun> {
        let mut run = EvalRun::default();
        let mut last_error = None;
        for (outcome, err) in results {
            if outcome.is_error() {
                run.errors += 1;
            }
            if err.is_some() {
                last_error = err;
            }
            if outcome.skipped {
                run.skipped += 1;
            }
            if scored && !outcome.skipped {
                run.metric_calls += 1;
            }
            run.lm_calls += outcome.lm_calls;
            run.usage.merge(&outcome.usage);
            run.scores.push(outcome.value_or(self.failure_score));
            run.outcomes.push(outcome);
        }
        run.score = if run.scores.is_empty() { 0.0 } else { run.scores.iter().sum::<f64>() / run.scores.len() as f64 };
        run.wall_time = started.elapsed();
        if let (Some(max), Some(last)) = (self.max_errors, last_error)
            && run.errors >= max
        {
            return Err(Error::TooManyErrors { errors: run.errors, max_errors: max, last: Box::new(last) });
        }
        Ok(run)
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
        let ((result, trace), used) = usage::track(async {
            let (prediction, trace) = trace::collect(program.forward(&example.inputs())).await;
            let result = match (prediction, metric) {
                (Err(e), _) => Err((None, e)),
                (Ok(p), None) => Ok((p, None)),
                (Ok(p), Some(metric)) => match metric.try_score(example, &p, (traces == Traces::ForMetric).then_some(trace.as_slice())).await {
                    Ok(score) => Ok((p, Some(score))),
                    Err(e) => Err((Some(p), e)),
                },
            };
            (result, trace)
        })
        .await;
        let lm_calls = used.total().calls.max(trace.len() as u64);
        self.budget.record_lm_calls(lm_calls);
        let trace = if traces == Traces::Off { Vec::new() } else { trace };
        match result {
            Ok((prediction, score)) => {
                (ExampleOutcome { prediction: Some(prediction), score, trace, lm_calls, usage: used, ..ExampleOutcome::default() }, None)
            }
            Err((prediction, e)) => {
                self.budget.record_error();
                tracing::debug!(error = %e, "a run failed; counted as a failure");
                let outcome = ExampleOutcome { prediction, error: Some(e.to_string()), trace, lm_calls, usage: used, ..ExampleOutcome::default() };
                (outcome, Some(e))
            }
        }
    }

    /// Maps `f` over `items` with at most `num_threads` futures in flight, cooperatively on the
    /// calling task; the results are in the items' order. (The building block of the
    /// evaluations, for optimizers' own concurrent work.)
    ///
    /// ```
    /// use dspy_optimizers::engine::Engine;
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
        let futures = items.into_iter().enumerate().map(|(i, item)| {
            let fut = f(item);
            async move { (i, fut.await) }
        });
        let mut stream = futures::stream::iter(futures).buffer_unordered(self.num_threads.max(1));
        let mut slots: Vec<Option<T>> = Vec::new();
        while let Some((i, out)) = stream.next().await {
            if slots.len() <= i {
                slots.resize_with(i + 1, || None);
            }
            slots[i] = Some(out);
        }
        slots.into_iter().flatten().collect()
    }

    /// Runs `fut` under usage tracking and charges its LM calls to the budget (for LM calls an
    /// optimizer makes itself, such as instruction proposals).
    pub async fn track<F: Future>(&self, fut: F) -> (F::Output, UsageByModel) {
        let (out, used) = usage::track(fut).await;
        self.budget.record_lm_calls(used.total().calls);
        (out, used)
    }
}

/// The run options every optimizer has: seed, concurrency, error limit, budgets, progress.
///
/// ```
/// use dspy_optimizers::engine::RunConfig;
/// let run = RunConfig { seed: 7, max_metric_calls: Some(100), ..RunConfig::default() };
/// let engine = run.engine();
/// assert_eq!(engine.budget_ref().max_metric_calls(), Some(100));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The seed of every random choice (0 by default, as DSPy's `random.Random(0)`).
    pub seed: u64,
    /// How many program runs are in flight at once (8).
    pub num_threads: usize,
    /// How many failed runs stop the compilation (`None`: DSPy's default of 10).
    pub max_errors: Option<usize>,
    /// Stop launching work after this many LM calls (`None`: no limit).
    pub max_lm_calls: Option<u64>,
    /// Stop launching work after this many metric calls (`None`: no limit).
    pub max_metric_calls: Option<u64>,
    /// Show progress bars on stderr (drawn only on a terminal).
    pub progress: bool,
    /// Where MIPROv2, GEPA and SIMBA keep a checkpoint, to resume a killed compilation without
    /// re-spending its LM calls (`None`: none). The other optimizers ignore it. See
    /// [`crate::checkpoint`].
    #[serde(default)]
    pub checkpoint_dir: Option<std::path::PathBuf>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig { seed: 0, num_threads: 8, max_errors: None, max_lm_calls: None, max_metric_calls: None, progress: true, checkpoint_dir: None }
    }
}

impl RunConfig {
    /// A fresh engine (with a fresh budget) for one compilation.
    pub fn engine(&self) -> Engine {
        Engine::new()
            .num_threads(self.num_threads)
            .with_max_errors(Some(self.max_errors.unwrap_or(DEFAULT_MAX_ERRORS)))
            .budget(Arc::new(Budget::new(self.max_lm_calls, self.max_metric_calls)))
            .progress(self.progress)
    }

    /// The error limit in effect (DSPy's default of 10 when unset).
    pub fn effective_max_errors(&self) -> usize {
        self.max_errors.unwrap_or(DEFAULT_MAX_ERRORS)
    }
}

/// An LM whose requests get some settings forced on top of theirs: DSPy's
/// `lm.copy(rollout_id=r, temperature=1.0)`, used to draw fresh samples past the cache.
#[derive(Debug, Clone)]
pub(crate) struct ConfiguredLm {
    inner: Arc<dyn dspy_core::LanguageModel>,
    overrides: dspy_core::LmConfig,
}

impl ConfiguredLm {
    /// `inner` with `overrides` winning over each request's settings.
    pub(crate) fn new(inner: Arc<dyn dspy_core::LanguageModel>, overrides: dspy_core::LmConfig) -> Self {
        ConfiguredLm { inner, overrides }
    }

    /// `inner` at temperature 1.0 with rollout id `rollout_id` (a fresh sample per rollout).
    pub(crate) fn rollout(inner: Arc<dyn dspy_core::LanguageModel>, rollout_id: u64) -> Self {
        Self::new(inner, dspy_core::LmConfig { temperature: Some(1.0), rollout_id: Some(rollout_id), ..Default::default() })
    }
}

#[async_trait::async_trait]
impl dspy_core::LanguageModel for ConfiguredLm {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn capabilities(&self) -> dspy_core::Capabilities {
        self.inner.capabilities()
    }

    fn defaults(&self) -> dspy_core::LmConfig {
        self.inner.defaults().merged(&self.overrides)
    }

    async fn complete(&self, mut request: dspy_core::LmRequest) -> std::result::Result<dspy_core::LmResponse, dspy_core::LmError> {
        request.config = request.config.merged(&self.overrides);
        self.inner.complete(request).await
    }

    async fn stream(&self, mut request: dspy_core::LmRequest) -> std::result::Result<dspy_core::LmStream, dspy_core::LmError> {
        request.config = request.config.merged(&self.overrides);
        self.inner.stream(request).await
    }
}

/// A copy of `program` whose LMs (each predictor's own, when set) are wrapped in
/// [`ConfiguredLm::rollout`]; also returns the rollout LM to put in the settings for
/// predictors without their own (`None` when no LM is configured).
pub(crate) fn with_rollout<P: Module + Clone>(program: &P, rollout_id: u64, context_lm: Option<Arc<dyn dspy_core::LanguageModel>>) -> (P, Option<Arc<dyn dspy_core::LanguageModel>>) {
    let mut copy = program.clone();
    for (_, p) in copy.named_predictors_mut() {
        if let Some(lm) = p.lm() {
            p.set_lm(Some(Arc::new(ConfiguredLm::rollout(lm, rollout_id))));
        }
    }
    let ctx = context_lm.map(|lm| Arc::new(ConfiguredLm::rollout(lm, rollout_id)) as Arc<dyn dspy_core::LanguageModel>);
    (copy, ctx)
}

/// A copy of `program` with every predictor's demos cleared (its LM is kept, unlike DSPy's
/// `reset_copy`, since Rust programs often carry their LM).
pub(crate) fn cleared_copy<P: Module + Clone>(program: &P) -> P {
    let mut copy = program.clone();
    for (_, p) in copy.named_predictors_mut() {
        p.set_demos(Vec::new());
    }
    copy
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn derive_seed() {
        use crate::engine::derive_seed;
        assert_eq!(derive_seed(0, 3), derive_seed(0, 3));
        assert_ne!(derive_seed(0, 3), derive_seed(0, 4));
    }

    #[test]
    fn budget() {
        use crate::engine::Budget;
        let budget = Budget::unlimited().with_max_metric_calls(2);
        assert!(budget.try_start());
        assert!(budget.try_start());
        assert!(!budget.try_start());
        assert_eq!(budget.metric_calls(), 2);
        assert!(budget.is_exhausted());
    }

    #[test]
    fn configured_lm() {
        use std::sync::Arc;
        use dspy_core::{DummyLM, LanguageModel};
        use crate::engine::ConfiguredLm;
        let lm = ConfiguredLm::rollout(Arc::new(DummyLM::new(vec![])), 3);
        assert_eq!(lm.model(), "dummy");
        assert_eq!(lm.defaults().rollout_id, Some(3));
        assert_eq!(lm.defaults().temperature, Some(1.0));
    }
}
