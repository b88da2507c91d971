//! `LabeledFewShot`: k labeled training examples as demos of every predictor (DSPy's
//! `dspy.LabeledFewShot`). No LM calls.

use std::time::Instant;

use dspy_core::evaluate::Metric;
use dspy_core::usage::UsageByModel;
use dspy_core::{Example, Module, Result};
use rand::seq::IndexedRandom;

use crate::engine::{RunConfig, SeededRng, seeded_rng};
use crate::{CompileReport, Compiled, Optimizer};

/// Gives every predictor `k` demos drawn from the trainset: a seeded sample (`sample = true`,
/// the default) or the first `k`.
///
/// Defaults as DSPy: `k = 16`, sampled, seed 0. Costs no LM call; the valset and metric are
/// not used.
///
/// ```
/// use dspy_core::{Example, Module, Predict, Predictor};
/// use dspy_optimizers::{LabeledFewShot, Optimizer};
/// let trainset: Vec<Example> = (0..10).map(|i| Example::new().with("q", i).with("a", i).with_inputs(["q"])).collect();
/// let student = Predict::parse("q -> a").unwrap();
/// let metric = |_: &Example, _: &dspy_core::Prediction, _: Option<&[dspy_core::trace::TraceEntry]>| true;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let a = LabeledFewShot::new(3).seed(1).compile(&student, &trainset, metric).await.unwrap();
/// let b = LabeledFewShot::new(3).seed(1).compile(&student, &trainset, metric).await.unwrap();
/// assert_eq!(a.program.demos().len(), 3);
/// assert_eq!(a.program.demos(), b.program.demos());
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct LabeledFewShot {
    /// Demos per predictor.
    pub k: usize,
    /// Sample the demos (seeded) rather than take the first `k`.
    pub sample: bool,
    /// Seed and run options (only the seed is used).
    pub run: RunConfig,
}

impl Default for LabeledFewShot {
    fn default() -> Self {
        Self::new(16)
    }
}

impl_run_options!(LabeledFewShot);

impl LabeledFewShot {
    /// `k` demos per predictor, sampled.
    pub fn new(k: usize) -> Self {
        LabeledFewShot { k, sample: true, run: RunConfig::default() }
    }

    /// Whether to sample (`true`) or take the first `k` (`false`).
    pub fn sample(mut self, on: bool) -> Self {
        self.sample = on;
        self
    }

    /// Sets the demos of a copy of `student` (demos cleared, LM kept) (the synchronous core of `compile`).
    pub fn apply<P: Module + Clone>(&self, student: &P, trainset: &[Example]) -> P {
        let mut rng = seeded_rng(self.run.seed);
        let mut program = crate::engine::cleared_copy(student);
        assign_labeled(&mut program, trainset, self.k, self.sample, &mut rng);
        program
    }
}

/// Gives every predictor of `program` `k` demos from `trainset`, drawn with `rng` (one draw per
/// predictor, in program order, as DSPy) or the first `k` when `sample` is false.
pub(crate) fn assign_labeled<P: Module + ?Sized>(program: &mut P, trainset: &[Example], k: usize, sample: bool, rng: &mut SeededRng) {
    if trainset.is_empty() {
        return;
    }
    let n = k.min(trainset.len());
    for (_, predictor) in program.named_predictors_mut() {
        let demos: Vec<Example> = if sample { trainset.sample(rng, n).cloned().collect() } else { trainset[..n].to_vec() };
        predictor.set_demos(demos);
    }
}

#[async_trait::async_trait]
impl Optimizer for LabeledFewShot {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], _valset: Option<&[Example]>, _metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        let started = Instant::now();
        let program = self.apply(student, trainset);
        let mut report = CompileReport::new("LabeledFewShot");
        report.seed = Some(self.run.seed);
        report.finish(&program, &UsageByModel::default(), &crate::Budget::unlimited(), started);
        Ok(Compiled { program, report })
    }
}
