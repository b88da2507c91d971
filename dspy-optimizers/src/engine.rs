//! What the optimizers share: the evaluation [`Engine`] (core's, the one `Evaluate` runs on, so
//! budgets, error counting, LM-call accounting and the score's unit, DSPy's `Evaluate`
//! percentage, are the same everywhere), the run options of every optimizer ([`RunConfig`]),
//! and seeded randomness.
//!
//! Randomness: every optimizer draws from a [`SeededRng`] made by [`seeded_rng`] (ChaCha8, a
//! portable stream: the same seed gives the same draws on every platform and run).

use std::sync::Arc;

use dspy_core::Module;
use dspy_core::module::DEFAULT_MAX_ERRORS;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

pub use dspy_core::evaluate::{Budget, BudgetReport, Engine, EvalRun, ExampleOutcome, Traces};

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
    /// How many failed runs stop an evaluation, and with it the compilation (`None`: none do).
    ///
    /// Unset, a failed run scores 0 and the evaluation goes on, as SIMBA and GEPA treat failures
    /// in DSPy; DSPy's `Evaluate`-based optimizers stop at `settings.max_errors` (10) instead,
    /// which throws away a good candidate over ten flaky runs (COPRO then aborts, MIPROv2 scores
    /// the candidate 0). Set it to get that behaviour back. Bootstrapping demos (DSPy's
    /// `BootstrapFewShot`) stops after 10 failed traces when unset, as DSPy does.
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
            .with_max_errors(self.max_errors)
            .budget(Arc::new(Budget::new(self.max_lm_calls, self.max_metric_calls)))
            .progress(self.progress)
    }

    /// The error limit of bootstrapping (DSPy's default of 10 when unset).
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
