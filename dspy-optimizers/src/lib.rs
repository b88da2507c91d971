//! Optimizers ("teleprompters"): given a program, examples and a metric, search for better
//! instructions, demos and weights. Each optimizer lives in its own module; all of them
//! evaluate through the shared [`engine`] (bounded concurrency, input order, error counting,
//! LM/metric-call [`Budget`]s, seeded randomness) and return a [`CompileReport`].
//!
//! | optimizer | what it tunes |
//! | --- | --- |
//! | [`LabeledFewShot`] | k labeled demos per predictor |
//! | [`BootstrapFewShot`] | demos bootstrapped from successful teacher traces |
//! | [`BootstrapFewShotWithRandomSearch`] | the best of many bootstrapped demo sets |
//! | [`KNNFewShot`] | demos chosen per input by nearest neighbours, then bootstrapped |
//! | [`Copro`] | instructions and output prefixes, by breadth × depth coordinate ascent |
//! | [`MiproV2`] | instructions × demo sets per predictor, by a TPE (Optuna's Tree-structured Parzen Estimator) over minibatches |
//! | [`Simba`] | demos and self-written rules, by stochastic mini-batch ascent |
//! | [`Gepa`] | instructions, evolved by reflection on feedback over a Pareto frontier of per-example scores |
//! | [`Ensemble`] | several programs combined by a reduce function |
//! | [`BootstrapFinetune`] | the model weights, fine-tuned on successful traces |
//! | [`BetterTogether`] | alternating prompt and weight optimization |
//!
//! ```
//! use std::sync::Arc;
//! use dspy_core::{DummyLM, Example, Module, Predict, Prediction};
//! use dspy_optimizers::{LabeledFewShot, Optimizer};
//! let lm = Arc::new(DummyLM::follow_examples());
//! let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
//! let trainset = vec![Example::new().with("question", "1+1?").with("answer", "2").with_inputs(["question"])];
//! let metric = |ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>| ex.get("answer") == p.get("answer");
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let compiled = LabeledFewShot::new(4).compile(&student, &trainset, metric).await.unwrap();
//! use dspy_core::Predictor;
//! assert_eq!(compiled.program.demos().len(), 1);
//! println!("{}", compiled.report);
//! # });
//! ```

#![warn(missing_docs)]
#![warn(unreachable_pub)]

/// Adds the run options every optimizer shares (seed, concurrency, error limit, budgets,
/// progress bar) as builder methods over a `run: RunConfig` field; `(Type, checkpoint)` also
/// adds `checkpoint_dir`, for the optimizers that can resume.
macro_rules! impl_run_options {
    ($ty:ty) => {
        impl $ty {
            /// The seed of every random choice (same seed, same result).
            pub fn seed(mut self, seed: u64) -> Self {
                self.run.seed = seed;
                self
            }

            /// How many program runs are in flight at once.
            pub fn num_threads(mut self, n: usize) -> Self {
                self.run.num_threads = n.max(1);
                self
            }

            /// How many failed runs stop an evaluation and the compilation (unset: a failure scores
            /// 0 and the run goes on; see [`RunConfig::max_errors`](crate::engine::RunConfig::max_errors)).
            pub fn max_errors(mut self, n: usize) -> Self {
                self.run.max_errors = Some(n.max(1));
                self
            }

            /// Stops launching work once this many LM calls were made.
            pub fn max_lm_calls(mut self, n: u64) -> Self {
                self.run.max_lm_calls = Some(n);
                self
            }

            /// Stops launching work once this many metric calls were made.
            pub fn max_metric_calls(mut self, n: u64) -> Self {
                self.run.max_metric_calls = Some(n);
                self
            }

            /// Shows progress bars on stderr (when it is a terminal).
            pub fn progress(mut self, on: bool) -> Self {
                self.run.progress = on;
                self
            }

            /// Replaces all run options at once.
            pub fn run_config(mut self, run: $crate::engine::RunConfig) -> Self {
                self.run = run;
                self
            }
        }
    };
    ($ty:ty, checkpoint) => {
        impl_run_options!($ty);

        impl $ty {
            /// Keeps a checkpoint in `dir` after every step, so that a compilation killed
            /// midway, started again with the same directory, resumes where it was without
            /// re-spending its LM calls (see [`crate::checkpoint`]).
            pub fn checkpoint_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
                self.run.checkpoint_dir = Some(dir.into());
                self
            }
        }
    };
}

pub mod better_together;
pub mod bootstrap;
pub mod bootstrap_finetune;
pub mod checkpoint;
pub mod copro;
pub mod engine;
pub mod gepa;
mod gepa_merge;
pub mod ensemble;
pub mod knn_few_shot;
pub mod labeled_few_shot;
pub mod mipro;
mod pareto;
mod proposer;
mod proposer_grounded;
pub mod random_search;
pub mod report;
pub mod simba;
mod tpe;

use dspy_core::evaluate::{IntoMetric, Metric, Scores};
use dspy_core::{Example, Module, Result, TypedExample};

pub use better_together::BetterTogether;
pub use bootstrap::BootstrapFewShot;
pub use bootstrap_finetune::{BootstrapFinetune, FinetuneError, Finetuner, LocalCommand, OpenAIFinetuner};
pub use copro::Copro;
pub use gepa::{Gepa, InstructionProposer};
pub use engine::{Budget, Engine, RunConfig, SeededRng, Traces, seeded_rng};
pub use ensemble::{EnsembledProgram, Ensemble};
pub use knn_few_shot::{KNNFewShot, KNNFewShotProgram};
pub use labeled_few_shot::LabeledFewShot;
pub use mipro::{AutoMode, MiproV2};
pub use proposer_grounded::GroundedProposer;
pub use random_search::BootstrapFewShotWithRandomSearch;
pub use simba::Simba;
pub use report::{CompileReport, PredictorReport, Split, Trial};

/// Compiles a program: returns an optimized copy of `student` and a report of what was tried.
///
/// [`Optimizer::compile`] is what users call: typed or dynamic data, typed or dynamic metrics,
/// the valset as an option (`.valset(&devset)`), awaited directly. Each optimizer implements
/// [`Optimizer::optimize`], the dynamic core it runs on.
///
/// Optimizers whose result is another kind of program ([`KNNFewShot`] and [`Ensemble`] return
/// wrappers that choose demos or combine programs per call) have their own `compile` instead.
#[async_trait::async_trait]
pub trait Optimizer: Send + Sync {
    /// Optimizes a copy of `student` on `trainset` (and `valset` when the optimizer uses one),
    /// over dynamic examples and a dynamic metric.
    async fn optimize<P>(&self, student: &P, trainset: &[Example], valset: Option<&[Example]>, metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static;

    /// Optimizes a copy of `student` on `trainset`, scored by `metric`: awaited as is, or after
    /// [`Compile::valset`]. The trainset is `Example`s or typed rows (a derive's `NameExample`);
    /// the metric a [`Metric`] or a typed closure `|gold: &NameExample, pred: &Output| ...` over
    /// the program's typed output, checked at compile time.
    fn compile<'a, P, E, M, F>(&'a self, student: &'a P, trainset: &[E], metric: M) -> Compile<'a, Self, P>
    where
        Self: Sized,
        P: Module + Clone + 'static,
        E: TypedExample,
        M: IntoMetric<'a, E, F>,
        M::Kind: Scores<P>,
    {
        Compile {
            optimizer: self,
            student,
            trainset: trainset.iter().map(TypedExample::to_example).collect(),
            valset: None,
            metric: metric.into_metric(),
        }
    }
}

/// A compilation to await (what [`Optimizer::compile`] returns), with its options.
#[must_use = "a compilation does nothing until it is awaited"]
pub struct Compile<'a, O: ?Sized, P> {
    optimizer: &'a O,
    student: &'a P,
    trainset: Vec<Example>,
    valset: Option<Vec<Example>>,
    metric: std::sync::Arc<dyn Metric + 'a>,
}

impl<'a, O: ?Sized, P> Compile<'a, O, P> {
    /// Scores candidates on this set instead of one carved out of the trainset (for the
    /// optimizers that use a valset: MIPROv2, GEPA, random search, BetterTogether).
    pub fn valset<E: TypedExample>(mut self, valset: &[E]) -> Self {
        self.valset = Some(valset.iter().map(TypedExample::to_example).collect());
        self
    }
}

impl<'a, O, P> std::future::IntoFuture for Compile<'a, O, P>
where
    O: Optimizer + ?Sized + 'a,
    P: Module + Clone + 'static,
{
    type Output = Result<Compiled<P>>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Compiled<P>>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let Compile { optimizer, student, trainset, valset, metric } = self;
            optimizer.optimize(student, &trainset, valset.as_deref(), &*metric).await
        })
    }
}

/// An optimized program with the report of its compilation.
#[derive(Clone, Debug)]
pub struct Compiled<P> {
    /// The optimized program.
    pub program: P,
    /// What the optimizer did.
    pub report: CompileReport,
}

/// The demo DSPy makes of one traced predictor call: its inputs and outputs, marked
/// `"augmented": true` (bootstrapped, not labeled).
///
/// ```
/// use dspy_core::trace::{PredictorId, TraceEntry};
/// use dspy_core::Prediction;
/// let entry = TraceEntry {
///     predictor: PredictorId(1),
///     inputs: serde_json::json!({"question": "1+1?"}).as_object().unwrap().clone(),
///     outputs: Prediction::new(serde_json::json!({"answer": "2"}).as_object().unwrap().clone()),
/// };
/// let demo = dspy_optimizers::augmented_demo(&entry);
/// assert_eq!(demo.get("augmented"), Some(&serde_json::json!(true)));
/// assert_eq!(demo.get_str("answer"), Some("2"));
/// ```
pub fn augmented_demo(entry: &dspy_core::trace::TraceEntry) -> Example {
    let mut demo = Example::new().with("augmented", true);
    for (k, v) in &entry.inputs {
        demo.insert(k.clone(), v.clone());
    }
    for (k, v) in entry.outputs.outputs() {
        demo.insert(k.clone(), v.clone());
    }
    demo.with_inputs(entry.inputs.keys().cloned())
}
