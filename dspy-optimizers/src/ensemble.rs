//! `Ensemble` (DSPy's `dspy.Ensemble`): several programs answer each call (all of them, or a
//! seeded random `size` of them) and a reduce function, such as [`majority_vote`], combines
//! their predictions.
//!
//! Its result is a wrapper program, [`EnsembledProgram`], so it has its own
//! [`Ensemble::compile`] rather than the [`Optimizer`](crate::Optimizer) trait.
//!
//! DSPy's `deterministic=True` (choosing the sample by hashing the inputs) is not implemented
//! in DSPy (it fails an assertion), so it is not offered here.

use std::fmt;
use std::sync::{Arc, Mutex};

use dspy_core::{Example, InputError, Module, Prediction, Predictor, Result, majority};
use serde_json::{Map, Value};

use crate::engine::{SeededRng, seeded_rng};

/// How an ensemble combines its programs' predictions (in the order the programs ran).
///
/// ```
/// use dspy_core::Prediction;
/// use dspy_optimizers::ensemble::ReduceFn;
/// // Keeps the longest answer.
/// let longest: ReduceFn = std::sync::Arc::new(|preds: &[Prediction]| {
///     preds.iter().max_by_key(|p| p.get_str("answer").map_or(0, str::len)).cloned()
///         .ok_or_else(|| dspy_core::Error::msg("no prediction"))
/// });
/// let p = |a: &str| Prediction::new(serde_json::json!({"answer": a}).as_object().unwrap().clone());
/// assert_eq!(longest(&[p("ab"), p("abc")]).unwrap().get_str("answer"), Some("abc"));
/// ```
pub type ReduceFn = Arc<dyn Fn(&[Prediction]) -> Result<Prediction> + Send + Sync>;

/// DSPy's `dspy.majority` applied to a list of predictions: votes on the last output field
/// of the first one (normalised as DSPy does) and returns the first prediction holding the
/// winning value (earlier programs win ties).
///
/// ```
/// use dspy_core::Prediction;
/// use serde_json::json;
/// let p = |a: &str| Prediction::new(json!({"answer": a}).as_object().unwrap().clone());
/// let winner = dspy_optimizers::ensemble::majority_vote(&[p("Lyon"), p("Paris"), p("paris.")]).unwrap();
/// assert_eq!(winner.get_str("answer"), Some("Paris"));
/// ```
pub fn majority_vote(predictions: &[Prediction]) -> Result<Prediction> {
    let fields: Vec<Map<String, Value>> = predictions.iter().map(|p| p.outputs().clone()).collect();
    majority(&fields)
}

/// Combines programs into one: each call runs every program (or a random `size` of them,
/// drawn with the seed) on the same inputs, concurrently, and reduces their predictions.
///
/// Without a reduce function the result holds every program's outputs as its completions (the
/// first program's as its fields): DSPy returns the list itself.
///
/// The random sample is drawn per call from one seeded stream, as DSPy draws from Python's
/// global `random`: the same seed and the same order of calls give the same samples, so runs
/// are reproducible when calls are made one at a time. DSPy's `deterministic` option is not
/// offered (DSPy does not implement it either).
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Example, Module, Predict};
/// use dspy_optimizers::Ensemble;
/// use dspy_optimizers::ensemble::majority_vote;
/// use serde_json::json;
/// let program = |answer: &str| {
///     let lm = Arc::new(DummyLM::new(vec![json!({"answer": answer})]));
///     Predict::parse("question -> answer").unwrap().with_lm(lm)
/// };
/// let programs = vec![program("Paris"), program("Lyon"), program("Paris")];
/// let ensemble = Ensemble::new().reduce_fn(majority_vote).compile(programs).unwrap();
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = ensemble.forward(&Example::new().with("question", "Capital of France?")).await.unwrap();
/// assert_eq!(out.get_str("answer"), Some("Paris"));
/// # });
/// ```
#[derive(Clone, Default)]
pub struct Ensemble {
    /// Combines the predictions (`None`: keep them all as completions).
    pub reduce_fn: Option<ReduceFn>,
    /// How many programs answer each call (`None` or 0: all, as DSPy).
    pub size: Option<usize>,
    /// The seed of the per-call samples.
    pub seed: u64,
}

impl fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ensemble").field("reduce_fn", &self.reduce_fn.is_some()).field("size", &self.size).field("seed", &self.seed).finish()
    }
}

impl Ensemble {
    /// All programs, no reduce function, seed 0 (DSPy's defaults).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the reduce function (e.g. [`majority_vote`]).
    pub fn reduce_fn(mut self, f: impl Fn(&[Prediction]) -> Result<Prediction> + Send + Sync + 'static) -> Self {
        self.reduce_fn = Some(Arc::new(f));
        self
    }

    /// Each call runs a random sample of `n` programs (0: all of them).
    pub fn size(mut self, n: usize) -> Self {
        self.size = Some(n);
        self
    }

    /// The seed of the samples.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The ensembled program. Errors when there is no program, or `size` exceeds their
    /// number (DSPy's `random.sample` would fail on the first call).
    pub fn compile<P: Module>(&self, programs: Vec<P>) -> Result<EnsembledProgram<P>> {
        if programs.is_empty() {
            return Err(InputError::Program { needed_by: "Ensemble".into(), message: "needs at least one program".into() }.into());
        }
        let size = self.size.filter(|&n| n > 0);
        if let Some(n) = size
            && n > programs.len()
        {
            return Err(InputError::Invalid { needed_by: "Ensemble".into(), message: format!("size {n} exceeds the number of programs ({})", programs.len()) }.into());
        }
        Ok(EnsembledProgram { programs, size, reduce_fn: self.reduce_fn.clone(), seed: self.seed, rng: Mutex::new(seeded_rng(self.seed)) })
    }
}

/// The program [`Ensemble`] returns. Its predictors are all its programs' predictors, named
/// `programs[i]` (a bare `Predict`) or `programs[i].name`, as DSPy names them. A clone
/// draws its samples afresh from the seed.
///
/// ```
/// use dspy_core::{Module, Predict};
/// use dspy_optimizers::Ensemble;
/// let p = Predict::parse("question -> answer").unwrap();
/// let e = Ensemble::new().size(2).seed(5).compile(vec![p.clone(), p.clone(), p]).unwrap();
/// let names: Vec<String> = e.named_predictors().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["programs[0]", "programs[1]", "programs[2]"]);
/// let first = e.next_selection();
/// assert_eq!(first.len(), 2);
/// // A clone restarts the seeded stream.
/// assert_eq!(e.clone().next_selection(), first);
/// ```
pub struct EnsembledProgram<P> {
    programs: Vec<P>,
    size: Option<usize>,
    reduce_fn: Option<ReduceFn>,
    seed: u64,
    rng: Mutex<SeededRng>,
}

impl<P: Clone> Clone for EnsembledProgram<P> {
    fn clone(&self) -> Self {
        EnsembledProgram {
            programs: self.programs.clone(),
            size: self.size,
            reduce_fn: self.reduce_fn.clone(),
            seed: self.seed,
            rng: Mutex::new(seeded_rng(self.seed)),
        }
    }
}

impl<P> fmt::Debug for EnsembledProgram<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnsembledProgram")
            .field("programs", &self.programs.len())
            .field("size", &self.size)
            .field("reduce_fn", &self.reduce_fn.is_some())
            .finish_non_exhaustive()
    }
}

impl<P> EnsembledProgram<P> {
    /// The combined programs.
    pub fn programs(&self) -> &[P] {
        &self.programs
    }

    /// The indices of the programs the next call runs, in the order they run (draws the
    /// sample when `size` is set).
    pub fn next_selection(&self) -> Vec<usize> {
        match self.size {
            Some(n) => {
                let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                rand::seq::index::sample(&mut *rng, self.programs.len(), n).into_vec()
            }
            None => (0..self.programs.len()).collect(),
        }
    }
}

fn prefixed(i: usize, name: String) -> String {
    if name == "self" { format!("programs[{i}]") } else { format!("programs[{i}].{name}") }
}

#[async_trait::async_trait]
impl<P: Module> Module for EnsembledProgram<P> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let chosen = self.next_selection();
        let results = futures::future::join_all(chosen.iter().map(|&i| self.programs[i].forward(inputs))).await;
        // The first failure in program order, as DSPy's sequential loop would raise.
        let outputs = results.into_iter().collect::<Result<Vec<Prediction>>>()?;
        match &self.reduce_fn {
            Some(reduce) => reduce(&outputs),
            None => Ok(Prediction::from_completions(outputs.iter().map(|p| p.outputs().clone()).collect())),
        }
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        self.programs.iter().enumerate().flat_map(|(i, p)| p.named_predictors().into_iter().map(move |(n, pr)| (prefixed(i, n), pr))).collect()
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        self.programs
            .iter_mut()
            .enumerate()
            .flat_map(|(i, p)| p.named_predictors_mut().into_iter().map(move |(n, pr)| (prefixed(i, n), pr)))
            .collect()
    }

    /// The programs' code (each distinct text once), as DSPy's `get_dspy_source_code` shows sub-modules.
    fn source_code(&self) -> String {
        let mut code = dspy_core::module::SourceCode::new();
        self.programs.iter().for_each(|p| {
            code.module(p);
        });
        code.finish(None)
    }
}
