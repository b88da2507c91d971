//! `BestOfN`: run a module up to N times at temperature 1.0 with distinct rollout ids and keep
//! the best prediction by a reward function (DSPy 3's `dspy.BestOfN`).

use std::fmt;
use std::sync::Arc;

use super::{ContainsPredictors, Module, Predictor};
use crate::error::{Error, Result};
use crate::example::Example;
use crate::lm::{LanguageModel, LmConfig, LmError, LmRequest, LmResponse, LmStream};
use crate::prediction::Prediction;
use crate::settings;
use crate::trace::{self, TraceEntry};

/// A reward: the program's inputs and its prediction in, a number out (higher is better).
pub type RewardFn = Arc<dyn Fn(&Example, &Prediction) -> f64 + Send + Sync>;

/// An LM that answers as `inner` but defaults to another rollout id and temperature, so each
/// attempt gets a fresh sample (and cache entry), as DSPy's `lm.copy(rollout_id=.., temperature=1.0)`.
pub(crate) struct RolloutLm {
    inner: Arc<dyn LanguageModel>,
    rollout_id: u64,
    temperature: f64,
}

impl fmt::Debug for RolloutLm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RolloutLm").field("model", &self.inner.model()).field("rollout_id", &self.rollout_id).finish()
    }
}

#[async_trait::async_trait]
impl LanguageModel for RolloutLm {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn capabilities(&self) -> crate::lm::Capabilities {
        self.inner.capabilities()
    }

    fn defaults(&self) -> LmConfig {
        let mut config = self.inner.defaults();
        config.rollout_id = Some(self.rollout_id);
        config.temperature = Some(self.temperature);
        config
    }

    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
        self.inner.complete(request).await
    }

    async fn stream(&self, request: LmRequest) -> Result<LmStream, LmError> {
        self.inner.stream(request).await
    }
}

/// The first rollout id: the LM's own default, else 0 (DSPy's `lm.kwargs.get("rollout_id", 0)`).
pub(crate) fn first_rollout<M: Module>(module: &M) -> Result<u64> {
    let lm = module.named_predictors().into_iter().find_map(|(_, p)| p.lm()).or_else(|| settings::current().lm());
    let lm = lm.ok_or(Error::NoLm)?;
    Ok(lm.defaults().rollout_id.unwrap_or(0))
}

/// A copy of `module` whose every predictor samples with rollout `rollout_id` at temperature 1.0.
pub(crate) fn attempt_copy<M: Module + Clone>(module: &M, rollout_id: u64) -> Result<M> {
    let mut copy = module.clone();
    let fallback = settings::current().lm();
    for (_, p) in copy.named_predictors_mut() {
        let inner = p.lm().or_else(|| fallback.clone()).ok_or(Error::NoLm)?;
        p.set_lm(Some(Arc::new(RolloutLm { inner, rollout_id, temperature: 1.0 })));
    }
    Ok(copy)
}

/// DSPy's failure budget: attempt `idx` fails for good when `idx > remaining`.
pub(crate) struct FailBudget(i64);

impl FailBudget {
    pub(crate) fn new(fail_count: usize) -> Self {
        FailBudget(fail_count as i64)
    }

    /// Records a failure of attempt `idx`; `false` when it must be raised.
    pub(crate) fn absorb(&mut self, idx: usize) -> bool {
        if idx as i64 > self.0 {
            return false;
        }
        self.0 -= 1;
        true
    }
}

/// The attempts of a `BestOfN`/`Refine` run: the best one so far (with its trace) and the last
/// error, which is what the run returns when no attempt succeeded.
#[derive(Default)]
pub(crate) struct Attempts {
    best: Option<(f64, Prediction, Vec<TraceEntry>)>,
    last_error: Option<Error>,
}

impl Attempts {
    /// Keeps the attempt `take` gives (its prediction and trace) if `reward` beats the best so
    /// far (the first of equals wins); `take` runs only then, so a caller that still needs the
    /// attempt copies it only when it is kept.
    pub(crate) fn offer(&mut self, reward: f64, take: impl FnOnce() -> (Prediction, Vec<TraceEntry>)) {
        if self.best.as_ref().is_none_or(|(b, _, _)| reward > *b) {
            let (prediction, calls) = take();
            self.best = Some((reward, prediction, calls));
        }
    }

    /// Records a failed attempt.
    pub(crate) fn failed(&mut self, error: Error) {
        self.last_error = Some(error);
    }

    /// The best prediction, its trace re-recorded in the caller's trace as DSPy extends
    /// `settings.trace`; else the last error (`module` names the wrapper in the N = 0 error).
    pub(crate) fn finish(self, module: &str) -> Result<Prediction> {
        match self.best {
            Some((_, prediction, calls)) => {
                let current = settings::current();
                for call in &calls {
                    trace::record(current.inner(), call.predictor, &call.inputs, &call.outputs);
                }
                Ok(prediction)
            }
            None => Err(self.last_error.unwrap_or_else(|| Error::NoResult { what: module.to_string().into(), reason: "no attempt was made (N = 0)".into() })),
        }
    }
}

/// Runs `module` up to `n` times (rollout ids `start..start+n`, temperature 1.0) and returns the
/// prediction with the highest reward, stopping early at the first one reaching `threshold`.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::module::BestOfN;
/// use dspy_core::{DummyLM, Example, Module, Predict};
/// let lm = Arc::new(DummyLM::new(vec![
///     serde_json::json!({"answer": "The capital is Brussels"}),
///     serde_json::json!({"answer": "Brussels"}),
/// ]));
/// let qa = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let one_word = |_: &Example, p: &dspy_core::Prediction| {
///     if p.get_str("answer").is_some_and(|a| !a.contains(' ')) { 1.0 } else { 0.0 }
/// };
/// let best = BestOfN::new(qa, 3, one_word, 1.0);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = best.forward(&Example::new().with("question", "Capital of Belgium?")).await.unwrap();
/// assert_eq!(out.get_str("answer"), Some("Brussels"));
/// # });
/// ```
#[derive(Clone)]
pub struct BestOfN<M> {
    module: M,
    n: usize,
    reward: RewardFn,
    threshold: f64,
    fail_count: Option<usize>,
}

impl<M> fmt::Debug for BestOfN<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BestOfN").field("n", &self.n).field("threshold", &self.threshold).finish_non_exhaustive()
    }
}

impl<M: Module + Clone> BestOfN<M> {
    /// Up to `n` attempts of `module`, scored by `reward`, stopping at `threshold`.
    pub fn new(module: M, n: usize, reward: impl Fn(&Example, &Prediction) -> f64 + Send + Sync + 'static, threshold: f64) -> Self {
        BestOfN { module, n, reward: Arc::new(reward), threshold, fail_count: None }
    }

    /// How many failed attempts are tolerated (default: `n`), as DSPy's `fail_count`.
    pub fn fail_count(mut self, fail_count: usize) -> Self {
        self.fail_count = Some(fail_count);
        self
    }

    /// The wrapped module.
    pub fn module(&self) -> &M {
        &self.module
    }
}

#[async_trait::async_trait]
impl<M: Module + Clone> Module for BestOfN<M> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let start = first_rollout(&self.module)?;
        let mut budget = FailBudget::new(self.fail_count.unwrap_or(self.n));
        let mut attempts = Attempts::default();
        for idx in 0..self.n {
            let rid = start + idx as u64;
            let copy = attempt_copy(&self.module, rid)?;
            let (result, calls) = trace::collect(copy.forward(inputs)).await;
            match result {
                Ok(prediction) => {
                    let reward = (self.reward)(inputs, &prediction);
                    attempts.offer(reward, || (prediction, calls));
                    if reward >= self.threshold {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("BestOfN: Attempt {} failed with rollout id {rid}: {e}", idx + 1);
                    if !budget.absorb(idx) {
                        return Err(e);
                    }
                    attempts.failed(e);
                }
            }
        }
        attempts.finish("BestOfN")
    }

    /// Under `module.`, as DSPy names the wrapped module's predictors.
    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        let mut out = Vec::new();
        self.module.collect_predictors("module", &mut out);
        out
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        let mut out = Vec::new();
        self.module.collect_predictors_mut("module", &mut out);
        out
    }

    /// The wrapped module's code, as DSPy's `get_dspy_source_code` shows a sub-module.
    fn source_code(&self) -> String {
        super::SourceCode::new().module(&self.module).finish(None)
    }
}

// The best of several runs of a typed module is typed like the module.
super::typed::typed_as_inner!(BestOfN);
