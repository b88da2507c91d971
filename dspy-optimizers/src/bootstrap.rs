//! `BootstrapFewShot` (DSPy's `dspy.BootstrapFewShot`): a teacher runs training examples with
//! tracing on; the traces of runs whose prediction passes the metric become demos for every
//! predictor. The bootstrap step itself and DSPy's demo-set schedule
//! (`create_n_fewshot_demo_sets`) are shared, inside this crate, by the optimizers built on
//! them (random search, MIPROv2, SIMBA).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use dspy_core::evaluate::{IntoMetric, Metric};
use dspy_core::trace::PredictorId;
use dspy_core::{Error, Example, InputError, LanguageModel, Module, Result, Settings, settings, usage};
use rand::RngExt;
use rand::seq::{IndexedRandom, SliceRandom};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{Engine, RunConfig, SeededRng, Traces, cleared_copy, derive_seed, seeded_rng, with_rollout};
use crate::labeled_few_shot::assign_labeled;
use dspy_core::evaluate::Progress;
use crate::{CompileReport, Compiled, Optimizer, augmented_demo};

/// Composes each predictor's demos from bootstrapped traces and labeled examples.
///
/// Defaults as DSPy: `max_bootstrapped_demos = 4`, `max_labeled_demos = 16`, `max_rounds = 1`,
/// `metric_threshold = None` (a pass is a non-zero score; a threshold of 0 means the same, as in
/// DSPy), `max_errors = 10`, seed 0.
///
/// The teacher is the student (its demos replaced by `max_labeled_demos` labeled examples,
/// each example's own demo hidden while it runs) unless one is given to
/// [`BootstrapFewShot::compile_with_teacher`]. Round `r > 0` of an example runs with the LMs
/// at temperature 1.0 and rollout id `r`, for a fresh sample.
///
/// Cost: at most `max_rounds` program runs (and metric calls) per training example tried; it
/// stops after `max_bootstrapped_demos` successes. Examples run `num_threads` at a time in
/// waves no larger than the successes still needed, so a wave may run examples that are then
/// not needed; with `num_threads(1)` the calls are exactly DSPy's.
#[derive(Clone, Debug)]
pub struct BootstrapFewShot {
    /// A run passes when its score is at least this (`None`: when it is above 0).
    pub metric_threshold: Option<f64>,
    /// Bootstrapped demos per predictor.
    pub max_bootstrapped_demos: usize,
    /// Demos per predictor in all (bootstrapped, then labeled to fill up), and the teacher's
    /// labeled demos.
    pub max_labeled_demos: usize,
    /// Attempts per training example.
    pub max_rounds: usize,
    /// The LM the teacher runs with when its predictors have none (DSPy's
    /// `teacher_settings={"lm": ...}`).
    pub teacher_lm: Option<Arc<dyn LanguageModel>>,
    /// Seed, concurrency, error limit, budgets, progress.
    pub run: RunConfig,
}

impl Default for BootstrapFewShot {
    fn default() -> Self {
        BootstrapFewShot {
            metric_threshold: None,
            max_bootstrapped_demos: 4,
            max_labeled_demos: 16,
            max_rounds: 1,
            teacher_lm: None,
            run: RunConfig::default(),
        }
    }
}

impl_run_options!(BootstrapFewShot);

/// What [`bootstrap_traces`] collected.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct BootstrapResult {
    /// Demos from successful traces, per predictor name, in program order.
    pub traces: Vec<(String, Vec<Example>)>,
    /// Indices (in the trainset) of the examples whose run passed.
    pub bootstrapped: Vec<usize>,
    /// The other training examples, shuffled with the seed: the raw (labeled) demo pool.
    pub unbootstrapped: Vec<Example>,
    /// Program runs attempted.
    pub attempts: usize,
    /// Runs that failed with an error.
    pub errors: usize,
    /// Whether the budget stopped the bootstrap early.
    pub budget_exhausted: bool,
}

impl BootstrapResult {
    /// The bootstrapped demos of one predictor.
    pub(crate) fn traces_for(&self, name: &str) -> &[Example] {
        self.traces.iter().find(|(n, _)| n == name).map(|(_, d)| d.as_slice()).unwrap_or(&[])
    }
}

struct OneResult {
    success: bool,
    demos: Vec<(String, Example)>,
    attempts: usize,
    errors: usize,
    last_error: Option<String>,
    refused: bool,
}

impl BootstrapFewShot {
    /// DSPy's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `metric_threshold`.
    pub fn metric_threshold(mut self, t: f64) -> Self {
        self.metric_threshold = Some(t);
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

    /// Sets `max_rounds` (at least 1).
    pub fn max_rounds(mut self, n: usize) -> Self {
        self.max_rounds = n.max(1);
        self
    }

    /// Sets the teacher's LM.
    pub fn teacher_lm(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.teacher_lm = Some(lm.into_shared());
        self
    }

    /// Compiles with an explicit teacher (a program of the same structure; if it has no demos
    /// it gets `max_labeled_demos` labeled ones first, as DSPy does for an uncompiled teacher).
    pub async fn compile_with_teacher<'m, P, K>(&self, student: &P, teacher: Option<&P>, trainset: &[Example], metric: impl IntoMetric<'m, Example, K>) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        let metric = metric.into_metric();
        let metric = &*metric;
        let started = Instant::now();
        let engine = self.run.engine();
        let (result, used) = usage::track(self.bootstrap_program(student, teacher, trainset, metric, &engine)).await;
        let (program, boot) = result?;
        let mut report = CompileReport::new("BootstrapFewShot");
        report.seed = Some(self.run.seed);
        report.extra = json!({
            "bootstrapped": boot.bootstrapped.len(),
            "attempts": boot.attempts,
            "errors": boot.errors,
            "budget_exhausted": boot.budget_exhausted,
        });
        report.finish(&program, &used, engine.budget_ref(), started);
        Ok(Compiled { program, report })
    }

    /// The whole compilation on a given engine (whose budget it shares): prepares the teacher,
    /// bootstraps, and assembles the student's demos. Returns the program and what was
    /// bootstrapped.
    pub(crate) async fn bootstrap_program<P>(
        &self,
        student: &P,
        teacher: Option<&P>,
        trainset: &[Example],
        metric: &dyn Metric,
        engine: &Engine,
    ) -> Result<(P, BootstrapResult)>
    where
        P: Module + Clone,
    {
        let mut program = cleared_copy(student);
        let teacher = self.prepare_teacher(student, teacher, trainset);
        check_same_structure(&program, &teacher)?;
        let boot = bootstrap_traces(self, &teacher, trainset, metric, engine, self.max_bootstrapped_demos).await?;
        assemble_demos(&mut program, &boot, self.max_bootstrapped_demos, self.max_labeled_demos, &mut seeded_rng(derive_seed(self.run.seed, 0x7_2A1)));
        Ok((program, boot))
    }

    /// DSPy's teacher: the given one if it already has demos ("compiled"), else a copy with
    /// `max_labeled_demos` labeled demos (or the plain copy when that is 0).
    pub(crate) fn prepare_teacher<P: Module + Clone>(&self, student: &P, teacher: Option<&P>, trainset: &[Example]) -> P {
        let base = teacher.unwrap_or(student);
        let compiled = teacher.is_some() && base.named_predictors().iter().any(|(_, p)| !p.demos().is_empty());
        if compiled || self.max_labeled_demos == 0 {
            return base.clone();
        }
        let mut t = cleared_copy(base);
        assign_labeled(&mut t, trainset, self.max_labeled_demos, true, &mut seeded_rng(self.run.seed));
        t
    }

    async fn bootstrap_one<P: Module + Clone>(
        &self,
        teacher: &P,
        example: &Example,
        index: usize,
        metric: &dyn Metric,
        engine: &Engine,
    ) -> OneResult {
        let mut out = OneResult { success: false, demos: Vec::new(), attempts: 0, errors: 0, last_error: None, refused: false };
        // DSPy hides the example's own demo from the teacher while it runs on it.
        let hides = teacher.named_predictors().iter().any(|(_, p)| p.demos().contains(example));
        let hidden: Option<P> = hides.then(|| {
            let mut t = teacher.clone();
            for (_, p) in t.named_predictors_mut() {
                let demos: Vec<Example> = p.demos().iter().filter(|d| *d != example).cloned().collect();
                p.set_demos(demos);
            }
            t
        });
        let base = hidden.as_ref().unwrap_or(teacher);
        let context_lm = self.teacher_lm.clone().or_else(|| settings::current().lm());
        for round in 0..self.max_rounds.max(1) {
            out.attempts += 1;
            let (rolled, lm) = if round == 0 { (None, context_lm.clone()) } else {
                let (p, lm) = with_rollout(base, round as u64, context_lm.clone());
                (Some(p), lm)
            };
            let program = rolled.as_ref().unwrap_or(base);
            let overrides = match lm {
                Some(lm) => Settings::new().lm(lm),
                None => Settings::new(),
            };
            let outcome = settings::context(overrides, engine.run_example(program, example, Some(metric), Traces::ForMetric)).await;
            if outcome.skipped {
                out.refused = true;
                break;
            }
            if let Some(e) = &outcome.error {
                out.errors += 1;
                out.last_error = Some(e.clone());
                tracing::warn!(example = index, error = %e, "bootstrapping an example failed");
                continue;
            }
            if outcome.passes(self.metric_threshold) {
                let names: HashMap<PredictorId, String> = program.named_predictors().into_iter().map(|(n, p)| (p.id(), n)).collect();
                let mut by_name: Vec<(String, Vec<Example>)> = Vec::new();
                for entry in &outcome.trace {
                    let Some(name) = names.get(&entry.predictor) else { continue };
                    let demo = augmented_demo(entry);
                    match by_name.iter_mut().find(|(n, _)| n == name) {
                        Some((_, d)) => d.push(demo),
                        None => by_name.push((name.clone(), vec![demo])),
                    }
                }
                // Several calls of one predictor in one run: DSPy keeps one, 50/50 the last
                // or one of the others.
                let mut rng = seeded_rng(derive_seed(self.run.seed, index as i64));
                for (name, demos) in by_name {
                    let demo = if demos.len() > 1 {
                        if rng.random::<f64>() < 0.5 {
                            demos[..demos.len() - 1].choose(&mut rng).cloned().unwrap_or_else(|| demos[demos.len() - 1].clone())
                        } else {
                            demos[demos.len() - 1].clone()
                        }
                    } else {
                        demos[0].clone()
                    };
                    out.demos.push((name, demo));
                }
                out.success = true;
                break;
            }
        }
        out
    }
}

/// Runs the teacher on training examples in order (traced, scored) until `max_bootstraps`
/// have passed, collecting their traces as demos per predictor name. Errors are counted; the
/// run stops with [`Error::TooManyErrors`] at the engine's error limit.
pub(crate) async fn bootstrap_traces<P: Module + Clone>(
    config: &BootstrapFewShot,
    teacher: &P,
    trainset: &[Example],
    metric: &dyn Metric,
    engine: &Engine,
    max_bootstraps: usize,
) -> Result<BootstrapResult> {
    let mut result = BootstrapResult {
        traces: teacher.named_predictors().into_iter().map(|(n, _)| (n, Vec::new())).collect(),
        ..BootstrapResult::default()
    };
    let progress = Progress::new(trainset.len(), engine.shows_progress());
    let mut next = 0;
    while next < trainset.len() && result.bootstrapped.len() < max_bootstraps {
        let needed = max_bootstraps - result.bootstrapped.len();
        let end = (next + engine.concurrency().min(needed)).min(trainset.len());
        let outcomes = engine
            .map_bounded(next..end, |i| config.bootstrap_one(teacher, &trainset[i], i, metric, engine))
            .await;
        let mut refused = false;
        for (i, one) in (next..end).zip(outcomes) {
            progress.advance(&format!("Bootstrapped {} traces", result.bootstrapped.len()));
            result.attempts += one.attempts;
            result.errors += one.errors;
            refused |= one.refused;
            let max = config.run.effective_max_errors();
            if one.errors > 0 && result.errors >= max {
                progress.finish();
                let last = one.last_error.unwrap_or_default();
                return Err(Error::TooManyErrors { errors: result.errors, max_errors: max, last: Box::new(Error::msg(last)) });
            }
            if one.success && result.bootstrapped.len() < max_bootstraps {
                result.bootstrapped.push(i);
                for (name, demo) in one.demos {
                    if let Some((_, d)) = result.traces.iter_mut().find(|(n, _)| *n == name) {
                        d.push(demo);
                    }
                }
            }
        }
        next = end;
        if refused {
            result.budget_exhausted = true;
            break;
        }
    }
    progress.finish();
    tracing::info!(
        bootstrapped = result.bootstrapped.len(),
        examples = next,
        rounds = config.max_rounds,
        attempts = result.attempts,
        "bootstrapped full traces"
    );
    let mut unbootstrapped: Vec<Example> =
        trainset.iter().enumerate().filter(|(i, _)| !result.bootstrapped.contains(i)).map(|(_, e)| e.clone()).collect();
    unbootstrapped.shuffle(&mut seeded_rng(derive_seed(config.run.seed, 0xB007)));
    result.unbootstrapped = unbootstrapped;
    Ok(result)
}

/// DSPy's `_train`: each predictor gets up to `max_bootstrapped` of its bootstrapped demos,
/// then labeled examples sampled (with `rng`) from the unbootstrapped ones up to
/// `max_labeled` demos in all.
pub(crate) fn assemble_demos<P: Module + ?Sized>(
    program: &mut P,
    boot: &BootstrapResult,
    max_bootstrapped: usize,
    max_labeled: usize,
    rng: &mut SeededRng,
) {
    let raw = &boot.unbootstrapped;
    for (name, predictor) in program.named_predictors_mut() {
        let traces = boot.traces_for(&name);
        let mut demos: Vec<Example> = traces[..traces.len().min(max_bootstrapped)].to_vec();
        let sample_size = max_labeled.saturating_sub(demos.len()).min(raw.len());
        demos.extend(raw.sample(rng, sample_size).cloned());
        predictor.set_demos(demos);
    }
}

/// Errors unless both programs have the same predictor names and signatures.
pub(crate) fn check_same_structure<A: Module + ?Sized, B: Module + ?Sized>(student: &A, teacher: &B) -> Result<()> {
    let s = student.named_predictors();
    let t = teacher.named_predictors();
    if s.len() != t.len() {
        return Err(InputError::Program { needed_by: "BootstrapFewShot".into(), message: format!(
            "student and teacher must have the same number of predictors ({} vs {})",
            s.len(),
            t.len()
        ) }.into());
    }
    for ((n1, p1), (n2, p2)) in s.iter().zip(&t) {
        if n1 != n2 {
            return Err(InputError::Program { needed_by: "BootstrapFewShot".into(), message: format!("student and teacher must have the same program structure (`{n1}` vs `{n2}`)") }.into());
        }
        let f1: Vec<&str> = p1.signature().fields().iter().map(|f| f.name.as_str()).collect();
        let f2: Vec<&str> = p2.signature().fields().iter().map(|f| f.name.as_str()).collect();
        if f1 != f2 {
            return Err(InputError::Program { needed_by: "BootstrapFewShot".into(), message: format!("student and teacher must have the same signatures (`{n1}`: {f1:?} vs {f2:?})") }.into());
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Optimizer for BootstrapFewShot {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], _valset: Option<&[Example]>, metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        self.compile_with_teacher(student, None, trainset, metric).await
    }
}

/// One candidate of DSPy's demo-set schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CandidateKind {
    /// No demos (seed -3).
    ZeroShot,
    /// Labeled demos only (seed -2).
    LabeledOnly,
    /// Bootstrapped on the trainset in order, `max_bootstrapped_demos` (seed -1).
    Unshuffled,
    /// Bootstrapped on a shuffled trainset with a random number of demos (seeds ≥ 0).
    Shuffled {
        /// The drawn number of bootstrapped demos.
        num_bootstrapped: usize,
    },
}

/// A candidate: its DSPy seed, its kind, and (for shuffled ones) the trainset order to use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateSpec {
    /// DSPy's seed: -3, -2, -1, then 0, 1, 2...
    pub seed: i64,
    /// What the candidate is.
    pub kind: CandidateKind,
    /// For shuffled candidates, the permutation of the trainset indices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<usize>>,
}

impl CandidateSpec {
    /// A short description (`seed -1: unshuffled bootstrap`).
    pub fn describe(&self) -> String {
        match &self.kind {
            CandidateKind::ZeroShot => format!("seed {}: zero-shot", self.seed),
            CandidateKind::LabeledOnly => format!("seed {}: labeled only", self.seed),
            CandidateKind::Unshuffled => format!("seed {}: unshuffled bootstrap", self.seed),
            CandidateKind::Shuffled { num_bootstrapped } => format!("seed {}: shuffled bootstrap, {num_bootstrapped} demo(s)", self.seed),
        }
    }
}

/// Where a schedule draws its randomness.
#[derive(Debug)]
pub(crate) enum ScheduleRng<'a> {
    /// A generator per candidate, seeded from the base seed and the candidate's seed (as
    /// `BootstrapFewShotWithRandomSearch` does with `random.Random(seed)`).
    PerCandidate(u64),
    /// One generator shared by all candidates (as `create_n_fewshot_demo_sets` does).
    Shared(&'a mut SeededRng),
}

/// Which of the non-bootstrapped candidates (seed -3 zero-shot, seed -2 labeled-only) a
/// schedule has; DSPy's two schedules differ here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonBootstrapped {
    /// Both, always: `BootstrapFewShotWithRandomSearch` (with `max_labeled_demos = 0`, seed -2
    /// is `LabeledFewShot(k=0)`, a copy without demos).
    Always,
    /// Zero-shot, and labeled-only when `max_labeled_demos > 0`: `create_n_fewshot_demo_sets`
    /// with `include_non_bootstrapped` (MIPROv2).
    IfLabeled,
    /// Neither (`include_non_bootstrapped = False`).
    Never,
}

/// DSPy's candidate schedule over seeds `-3..num_shuffled`: zero-shot, labeled-only,
/// unshuffled bootstrap, then shuffled bootstraps each with a trainset permutation and a
/// number of demos drawn in `min_num_samples..=max_bootstrapped_demos`.
///
/// Seeds -3 and -2 follow [`NonBootstrapped`]: a seed that gets no zero-shot or labeled-only
/// candidate falls through to a shuffled one.
pub(crate) fn candidate_schedule(
    num_shuffled: usize,
    trainset_len: usize,
    max_bootstrapped_demos: usize,
    min_num_samples: usize,
    max_labeled_demos: usize,
    non_bootstrapped: NonBootstrapped,
    mut rng: ScheduleRng<'_>,
) -> Vec<CandidateSpec> {
    let mut out = Vec::with_capacity(num_shuffled + 3);
    let (zero_shot, labeled) = match non_bootstrapped {
        NonBootstrapped::Always => (true, true),
        NonBootstrapped::IfLabeled => (true, max_labeled_demos > 0),
        NonBootstrapped::Never => (false, false),
    };
    for seed in -3..num_shuffled as i64 {
        let kind = if seed == -3 && zero_shot {
            Some(CandidateKind::ZeroShot)
        } else if seed == -2 && labeled {
            Some(CandidateKind::LabeledOnly)
        } else if seed == -1 {
            Some(CandidateKind::Unshuffled)
        } else {
            None
        };
        let spec = match kind {
            Some(kind) => CandidateSpec { seed, kind, order: None },
            None => {
                let mut order: Vec<usize> = (0..trainset_len).collect();
                let lo = min_num_samples.min(max_bootstrapped_demos);
                let (num, order) = match &mut rng {
                    ScheduleRng::PerCandidate(base) => {
                        order.shuffle(&mut seeded_rng(derive_seed(*base, seed)));
                        let num = seeded_rng(derive_seed(*base, seed)).random_range(lo..=max_bootstrapped_demos);
                        (num, order)
                    }
                    ScheduleRng::Shared(r) => {
                        order.shuffle(*r);
                        let num = r.random_range(lo..=max_bootstrapped_demos);
                        (num, order)
                    }
                };
                CandidateSpec { seed, kind: CandidateKind::Shuffled { num_bootstrapped: num }, order: Some(order) }
            }
        };
        out.push(spec);
    }
    out
}

/// One demo set: the demos of every predictor (in program order) for one candidate.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct DemoSet {
    /// The candidate it came from.
    pub spec: Option<CandidateSpec>,
    /// `(predictor name, demos)` in program order.
    pub demos: Vec<(String, Vec<Example>)>,
}

impl DemoSet {
    /// The demos of the predictor at `index` (program order).
    pub(crate) fn for_predictor(&self, index: usize) -> &[Example] {
        self.demos.get(index).map(|(_, d)| d.as_slice()).unwrap_or(&[])
    }

    /// The demos of `program`.
    pub(crate) fn of<P: Module + ?Sized>(program: &P, spec: Option<CandidateSpec>) -> Self {
        DemoSet { spec, demos: program.named_predictors().into_iter().map(|(n, p)| (n, p.demos().to_vec())).collect() }
    }
}

/// Builds the program of one scheduled candidate: a cleared copy (zero-shot), labeled demos,
/// or a bootstrap on the (possibly permuted) trainset, sharing `engine`'s budget.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn build_candidate<P: Module + Clone>(
    config: &BootstrapFewShot,
    spec: &CandidateSpec,
    student: &P,
    teacher: Option<&P>,
    trainset: &[Example],
    metric: &dyn Metric,
    engine: &Engine,
    labeled_sample: bool,
) -> Result<P> {
    match &spec.kind {
        CandidateKind::ZeroShot => Ok(cleared_copy(student)),
        CandidateKind::LabeledOnly => {
            let mut p = cleared_copy(student);
            assign_labeled(&mut p, trainset, config.max_labeled_demos, labeled_sample, &mut seeded_rng(config.run.seed));
            Ok(p)
        }
        CandidateKind::Unshuffled => Ok(config.bootstrap_program(student, teacher, trainset, metric, engine).await?.0),
        CandidateKind::Shuffled { num_bootstrapped } => {
            let permuted: Vec<Example> = match &spec.order {
                Some(order) => order.iter().filter_map(|&i| trainset.get(i).cloned()).collect(),
                None => trainset.to_vec(),
            };
            let sized = BootstrapFewShot { max_bootstrapped_demos: *num_bootstrapped, ..config.clone() };
            Ok(sized.bootstrap_program(student, teacher, &permuted, metric, engine).await?.0)
        }
    }
}

/// DSPy's `create_n_fewshot_demo_sets`: `num_candidate_sets` demo sets (the three special
/// candidates included), drawn from one shared `rng`; what MIPROv2 searches over.
///
/// `config` gives `max_bootstrapped_demos`, `max_labeled_demos`, `max_rounds`,
/// `metric_threshold` and the teacher LM; `min_num_samples` is 1 in DSPy.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn create_n_fewshot_demo_sets<P: Module + Clone>(
    config: &BootstrapFewShot,
    student: &P,
    teacher: Option<&P>,
    num_candidate_sets: usize,
    trainset: &[Example],
    metric: &dyn Metric,
    engine: &Engine,
    min_num_samples: usize,
    include_non_bootstrapped: bool,
    labeled_sample: bool,
    rng: &mut SeededRng,
) -> Result<Vec<DemoSet>> {
    let num_shuffled = num_candidate_sets.saturating_sub(3);
    let schedule = candidate_schedule(
        num_shuffled,
        trainset.len(),
        config.max_bootstrapped_demos,
        min_num_samples,
        config.max_labeled_demos,
        if include_non_bootstrapped { NonBootstrapped::IfLabeled } else { NonBootstrapped::Never },
        ScheduleRng::Shared(rng),
    );
    let mut sets = Vec::with_capacity(schedule.len());
    for spec in schedule {
        let program = build_candidate(config, &spec, student, teacher, trainset, metric, engine, labeled_sample).await?;
        sets.push(DemoSet::of(&program, Some(spec)));
    }
    Ok(sets)
}

#[cfg(test)]
mod examples {
    //! DSPy's candidate schedule (crate-internal), checked against DSPy's seeds.

    use super::{CandidateKind, NonBootstrapped, ScheduleRng, candidate_schedule};
    use crate::seeded_rng;

    #[test]
    fn candidate_schedule_follows_dspy_seeds() {
        let s = candidate_schedule(5, 10, 4, 1, 16, NonBootstrapped::Always, ScheduleRng::PerCandidate(0));
        let seeds: Vec<i64> = s.iter().map(|c| c.seed).collect();
        assert_eq!(seeds, [-3, -2, -1, 0, 1, 2, 3, 4]);
        assert_eq!(s[0].kind, CandidateKind::ZeroShot);
        assert_eq!(s[1].kind, CandidateKind::LabeledOnly);
        assert_eq!(s[2].kind, CandidateKind::Unshuffled);
        assert!(s[..3].iter().all(|c| c.order.is_none()));
        for c in &s[3..] {
            let CandidateKind::Shuffled { num_bootstrapped } = c.kind else { panic!("{c:?}") };
            assert!((1..=4).contains(&num_bootstrapped), "{c:?}");
            let mut order = c.order.clone().unwrap();
            order.sort();
            assert_eq!(order, (0..10).collect::<Vec<_>>(), "a permutation of the trainset");
        }
        // The shuffles differ between candidates and not all draw the same count.
        assert!(s[3..].windows(2).any(|w| w[0].order != w[1].order));
        // Per-candidate generators (DSPy's `random.Random(seed)`): candidate `seed` is the same
        // however many candidates are scheduled, and the same base seed gives the same schedule.
        let longer = candidate_schedule(9, 10, 4, 1, 16, NonBootstrapped::Always, ScheduleRng::PerCandidate(0));
        assert_eq!(&longer[..s.len()], &s[..]);
        assert_eq!(candidate_schedule(5, 10, 4, 1, 16, NonBootstrapped::Always, ScheduleRng::PerCandidate(0)), s);
        let other = candidate_schedule(5, 10, 4, 1, 16, NonBootstrapped::Always, ScheduleRng::PerCandidate(1));
        assert_ne!(other[3..], s[3..]);
    }

    #[test]
    fn candidate_schedule_fall_throughs_and_shared_rng() {
        // Without the non-bootstrapped candidates, seeds -3 and -2 become shuffled ones.
        let s = candidate_schedule(2, 6, 3, 1, 16, NonBootstrapped::Never, ScheduleRng::PerCandidate(0));
        let kinds: Vec<bool> = s.iter().map(|c| matches!(c.kind, CandidateKind::Shuffled { .. })).collect();
        assert_eq!(kinds, [true, true, false, true, true]);
        assert_eq!(s[2].kind, CandidateKind::Unshuffled);
        // No labeled demos: in MIPROv2's demo sets seed -2 falls through, -3 stays zero-shot;
        // random search keeps its LabeledFewShot(k=0) candidate.
        let s = candidate_schedule(0, 6, 3, 1, 0, NonBootstrapped::IfLabeled, ScheduleRng::PerCandidate(0));
        assert_eq!(s[0].kind, CandidateKind::ZeroShot);
        assert!(matches!(s[1].kind, CandidateKind::Shuffled { .. }));
        assert_eq!(s[2].kind, CandidateKind::Unshuffled);
        let s = candidate_schedule(0, 6, 3, 1, 0, NonBootstrapped::Always, ScheduleRng::PerCandidate(0));
        assert_eq!(s[1].kind, CandidateKind::LabeledOnly);
        // min_num_samples above the maximum is clamped to it.
        let s = candidate_schedule(3, 6, 2, 5, 4, NonBootstrapped::Always, ScheduleRng::PerCandidate(0));
        assert!(s[3..].iter().all(|c| c.kind == CandidateKind::Shuffled { num_bootstrapped: 2 }));
        // A shared generator (create_n_fewshot_demo_sets) is one stream: reproducible from its
        // seed, and it advances, so a second schedule from the same generator differs.
        let mut rng = seeded_rng(4);
        let a = candidate_schedule(4, 12, 4, 1, 16, NonBootstrapped::IfLabeled, ScheduleRng::Shared(&mut rng));
        let b = candidate_schedule(4, 12, 4, 1, 16, NonBootstrapped::IfLabeled, ScheduleRng::Shared(&mut rng));
        let a_again = candidate_schedule(4, 12, 4, 1, 16, NonBootstrapped::IfLabeled, ScheduleRng::Shared(&mut seeded_rng(4)));
        assert_eq!(a, a_again);
        assert_ne!(a[3..], b[3..]);
    }

    #[test]
    fn candidate_schedule_example() {
        use crate::bootstrap::{CandidateKind, NonBootstrapped, ScheduleRng, candidate_schedule};
        let s = candidate_schedule(3, 10, 4, 1, 16, NonBootstrapped::Always, ScheduleRng::PerCandidate(0));
        assert_eq!(s.len(), 6);
        assert_eq!(s[0].kind, CandidateKind::ZeroShot);
        assert_eq!(s[1].kind, CandidateKind::LabeledOnly);
        assert_eq!(s[2].kind, CandidateKind::Unshuffled);
        assert!(matches!(s[3].kind, CandidateKind::Shuffled { num_bootstrapped: 1..=4 }));
    }
}
