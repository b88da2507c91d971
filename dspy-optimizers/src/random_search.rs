//! `BootstrapFewShotWithRandomSearch` (DSPy's `dspy.BootstrapFewShotWithRandomSearch`):
//! builds many candidate programs on DSPy's schedule (zero-shot, labeled-only, unshuffled
//! bootstrap, then shuffled bootstraps with random demo counts), evaluates each on the valset,
//! and keeps the best.

use std::sync::Arc;
use std::time::Instant;

use dspy_core::evaluate::{IntoMetric, Metric};
use dspy_core::{Error, Example, InputError, LanguageModel, Module, Result, usage};
use serde_json::json;

use crate::bootstrap::{BootstrapFewShot, CandidateSpec, NonBootstrapped, ScheduleRng, build_candidate, candidate_schedule};
use crate::engine::{Engine, RunConfig, Traces};
use dspy_core::evaluate::Progress;
use crate::{CompileReport, Compiled, Optimizer, Split, Trial};

/// Random search over bootstrapped demo sets.
///
/// Defaults as DSPy: `max_bootstrapped_demos = 4`, `max_labeled_demos = 16`,
/// `max_rounds = 1`, `num_candidate_programs = 16` (so 19 candidates with the three special
/// ones), `stop_at_score = None`, `metric_threshold = None`, `labeled_sample = true`. Without a
/// valset the trainset is the valset (as DSPy).
///
/// Cost: for each of the `num_candidate_programs + 2` bootstrapping candidates up to
/// `max_rounds × |trainset|` program runs (far fewer in practice: bootstrapping stops after
/// `max_bootstrapped_demos` successes), plus `|valset|` program runs and metric calls per
/// candidate evaluated.
///
/// Every candidate's score is in the report's trials; the best (earliest on ties) is returned.
#[derive(Clone, Debug)]
pub struct BootstrapFewShotWithRandomSearch {
    /// Bootstrapped demos per predictor (the upper end of the random demo counts).
    pub max_bootstrapped_demos: usize,
    /// Labeled demos per predictor.
    pub max_labeled_demos: usize,
    /// Attempts per training example when bootstrapping.
    pub max_rounds: usize,
    /// Shuffled candidates (besides zero-shot, labeled-only and unshuffled).
    pub num_candidate_programs: usize,
    /// The lower end of the random demo counts (1 in DSPy).
    pub min_num_samples: usize,
    /// Stop once a candidate scores at least this, in DSPy's unit: the `Evaluate` percentage
    /// (a ported `stop_at_score=90` means 90 %).
    pub stop_at_score: Option<f64>,
    /// A bootstrapped run passes when its score is at least this.
    pub metric_threshold: Option<f64>,
    /// Sample the labeled demos (rather than take the first ones).
    pub labeled_sample: bool,
    /// Evaluate only the candidates with these DSPy seeds (-3, -2, -1, 0...), when set.
    pub restrict: Option<Vec<i64>>,
    /// The teacher's LM.
    pub teacher_lm: Option<Arc<dyn LanguageModel>>,
    /// Seed, concurrency, error limit, budgets, progress.
    pub run: RunConfig,
}

impl Default for BootstrapFewShotWithRandomSearch {
    fn default() -> Self {
        BootstrapFewShotWithRandomSearch {
            max_bootstrapped_demos: 4,
            max_labeled_demos: 16,
            max_rounds: 1,
            num_candidate_programs: 16,
            min_num_samples: 1,
            stop_at_score: None,
            metric_threshold: None,
            labeled_sample: true,
            restrict: None,
            teacher_lm: None,
            run: RunConfig::default(),
        }
    }
}

impl_run_options!(BootstrapFewShotWithRandomSearch);

/// One evaluated candidate of a random search.
#[derive(Clone, Debug)]
pub(crate) struct ScoredCandidate<P> {
    /// The schedule entry it came from.
    pub spec: CandidateSpec,
    /// Its program.
    pub program: P,
    /// Its valset score (the `Evaluate` percentage).
    pub score: f64,
}

impl BootstrapFewShotWithRandomSearch {
    /// DSPy's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `num_candidate_programs`.
    pub fn num_candidate_programs(mut self, n: usize) -> Self {
        self.num_candidate_programs = n;
        self
    }

    /// Sets `max_bootstrapped_demos`.
    pub fn max_bootstrapped_demos(mut self, n: usize) -> Self {
        self.max_bootstrapped_demos = n;
        self
    }

    /// Sets `max_labeled_demos`.
    pub fn max_labeled_demos(mut self, n: usize) -> Self {
        self.max_labeled_demos = n;
        self
    }

    /// Sets `max_rounds`.
    pub fn max_rounds(mut self, n: usize) -> Self {
        self.max_rounds = n.max(1);
        self
    }

    /// Sets `stop_at_score`.
    pub fn stop_at_score(mut self, s: f64) -> Self {
        self.stop_at_score = Some(s);
        self
    }

    /// Sets `metric_threshold`.
    pub fn metric_threshold(mut self, t: f64) -> Self {
        self.metric_threshold = Some(t);
        self
    }

    /// Evaluates only the candidates with these seeds.
    pub fn restrict(mut self, seeds: impl IntoIterator<Item = i64>) -> Self {
        self.restrict = Some(seeds.into_iter().collect());
        self
    }

    /// Sets the teacher's LM.
    pub fn teacher_lm(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.teacher_lm = Some(lm.into_shared());
        self
    }

    /// The candidates this search builds, in order (for a trainset of `trainset_len`).
    pub fn schedule(&self, trainset_len: usize) -> Vec<CandidateSpec> {
        let all = candidate_schedule(
            self.num_candidate_programs,
            trainset_len,
            self.max_bootstrapped_demos,
            self.min_num_samples,
            self.max_labeled_demos,
            NonBootstrapped::Always,
            ScheduleRng::PerCandidate(self.run.seed),
        );
        match &self.restrict {
            Some(r) => all.into_iter().filter(|s| r.contains(&s.seed)).collect(),
            None => all,
        }
    }

    fn bootstrapper(&self) -> BootstrapFewShot {
        BootstrapFewShot {
            metric_threshold: self.metric_threshold,
            max_bootstrapped_demos: self.max_bootstrapped_demos,
            max_labeled_demos: self.max_labeled_demos,
            max_rounds: self.max_rounds,
            teacher_lm: self.teacher_lm.clone(),
            run: RunConfig { progress: false, ..self.run.clone() },
        }
    }

    /// Compiles with an explicit teacher.
    pub async fn compile_with_teacher<'m, P, K>(
        &self,
        student: &P,
        teacher: Option<&P>,
        trainset: &[Example],
        valset: Option<&[Example]>,
        metric: impl IntoMetric<'m, Example, K>,
    ) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        let metric = metric.into_metric();
        let metric = &*metric;
        let started = Instant::now();
        let engine = self.run.engine();
        let (result, used) = usage::track(self.search(student, teacher, trainset, valset, metric, &engine)).await;
        let (candidates, trials) = result?;
        let best = best_index(&candidates).ok_or_else(|| Error::NoResult { what: "BootstrapFewShotWithRandomSearch".into(), reason: "no candidate program could be evaluated (budget spent?)".into() })?;
        let chosen = &candidates[best];
        let mut report = CompileReport::new("BootstrapFewShotWithRandomSearch");
        report.seed = Some(self.run.seed);
        report.trials = trials;
        report.best_score = Some(chosen.score);
        report.best_trial = Some(best);
        report.extra = json!({ "best_seed": chosen.spec.seed });
        let program = chosen.program.clone();
        report.finish(&program, &used, engine.budget_ref(), started);
        Ok(Compiled { program, report })
    }

    /// Builds and evaluates every scheduled candidate on `engine` (sharing its budget);
    /// returns them (in schedule order) with one trial each. Stops early at `stop_at_score`
    /// or when the budget is spent (a candidate whose evaluation the budget cut short is
    /// reported as partial and not returned).
    pub(crate) async fn search<P>(
        &self,
        student: &P,
        teacher: Option<&P>,
        trainset: &[Example],
        valset: Option<&[Example]>,
        metric: &dyn Metric,
        engine: &Engine,
    ) -> Result<(Vec<ScoredCandidate<P>>, Vec<Trial>)>
    where
        P: Module + Clone,
    {
        let valset = valset.unwrap_or(trainset);
        let schedule = self.schedule(trainset.len());
        if schedule.is_empty() {
            return Err(InputError::Invalid { needed_by: "BootstrapFewShotWithRandomSearch".into(), message: format!(
                "`restrict` {:?} matches no candidate seed in -3..{}",
                self.restrict,
                self.num_candidate_programs
            ) }.into());
        }
        let boot = self.bootstrapper();
        let progress = Progress::new(schedule.len(), engine.shows_progress());
        let mut candidates = Vec::new();
        let mut trials = Vec::new();
        for spec in schedule {
            if engine.budget_ref().is_exhausted() {
                break;
            }
            let lm_before = engine.budget_ref().lm_calls();
            let program = build_candidate(&boot, &spec, student, teacher, trainset, metric, engine, self.labeled_sample).await?;
            let run = engine.evaluate_with(&program, valset, metric, Traces::Off, &spec.describe()).await?;
            let demos: Vec<usize> = program.named_predictors().iter().map(|(_, p)| p.demos().len()).collect();
            let trial = Trial::from_run(spec.describe(), Split::Val, &run)
                .lm_calls(engine.budget_ref().lm_calls() - lm_before)
                .details(json!({ "seed": spec.seed, "kind": spec.kind, "demos_per_predictor": demos }));
            progress.advance(&format!("Random search: best {:.2}%", candidates.iter().map(|c: &ScoredCandidate<P>| c.score).fold(run.score, f64::max)));
            trials.push(trial);
            if !run.is_complete() {
                break;
            }
            let score = run.score;
            tracing::info!(seed = spec.seed, score, "candidate evaluated");
            candidates.push(ScoredCandidate { spec, program, score });
            if self.stop_at_score.is_some_and(|s| score >= s) {
                break;
            }
        }
        progress.finish();
        Ok((candidates, trials))
    }
}

/// The index of the best-scoring candidate (the earliest among equals), if any.
pub(crate) fn best_index<P>(candidates: &[ScoredCandidate<P>]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        if best.is_none_or(|b| c.score > candidates[b].score) {
            best = Some(i);
        }
    }
    best
}

#[async_trait::async_trait]
impl Optimizer for BootstrapFewShotWithRandomSearch {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], valset: Option<&[Example]>, metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        self.compile_with_teacher(student, None, trainset, valset, metric).await
    }
}
