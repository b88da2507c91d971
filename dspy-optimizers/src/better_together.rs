//! `BetterTogether` (DSPy's `dspy.BetterTogether`, from "Fine-Tuning and Prompt Optimization:
//! Two Great Steps that Work Better Together"): runs a prompt optimizer and a weight optimizer
//! in the order a strategy string gives (`"p -> w -> p"`), each step starting from the
//! previous step's program, evaluates every intermediate program on a validation set and
//! returns the best (the latest, without a validation set).

use std::fmt;
use std::time::Instant;

use dspy_core::evaluate::Metric;
use dspy_core::{Example, Module, usage};
use rand::seq::SliceRandom;
use serde_json::json;

use crate::engine::{RunConfig, Traces, seeded_rng};
use crate::{BootstrapFewShotWithRandomSearch, BootstrapFinetune, CompileReport, Compiled, Optimizer, Split, Trial};

/// Why a BetterTogether compilation could not start.
///
/// ```
/// use dspy_optimizers::better_together::{BetterTogetherError, Strategy};
/// assert_eq!(Strategy::parse("", "p", "w"), Err(BetterTogetherError::EmptyStrategy));
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BetterTogetherError {
    /// The strategy string is empty.
    #[error("strategy cannot be empty")]
    EmptyStrategy,
    /// A step of the strategy names no optimizer (`"p -> x"`, or an empty step in `"p -> -> w"`).
    #[error("strategy {strategy:?} contains the invalid optimizer key {step:?}; valid keys are {valid:?}")]
    InvalidStep {
        /// The whole strategy.
        strategy: String,
        /// The offending step.
        step: String,
        /// The keys that name an optimizer.
        valid: Vec<String>,
    },
    /// The prompt and weight optimizers were given the same key.
    #[error("the prompt and weight optimizers need different keys (both are {0:?})")]
    DuplicateKey(String),
    /// The trainset is empty.
    #[error("trainset cannot be empty")]
    EmptyTrainset,
    /// `valset_ratio` is outside `[0, 1)`.
    #[error("valset_ratio must be in range [0, 1), got {0}")]
    InvalidValsetRatio(f64),
    /// A predictor has no LM of its own (weight optimization needs one per predictor).
    #[error("the student program must have a language model set on every predictor, but `{0}` has none")]
    MissingLm(String),
}

impl From<BetterTogetherError> for dspy_core::Error {
    fn from(e: BetterTogetherError) -> Self {
        dspy_core::InputError::Invalid { needed_by: "BetterTogether".into(), message: e.to_string() }.into()
    }
}

/// One step of a strategy.
///
/// ```
/// use dspy_optimizers::better_together::{Step, Strategy};
/// assert_eq!(Strategy::parse("w -> p", "p", "w").unwrap().steps()[0], Step::Weight);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Run the prompt optimizer.
    Prompt,
    /// Run the weight optimizer.
    Weight,
}

/// A parsed strategy: the steps in order.
///
/// ```
/// use dspy_optimizers::better_together::{Step, Strategy};
/// let s = Strategy::parse("p -> w -> p", "p", "w").unwrap();
/// assert_eq!(s.steps(), [Step::Prompt, Step::Weight, Step::Prompt]);
/// assert!(Strategy::parse("p -> x", "p", "w").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    steps: Vec<Step>,
    keys: Vec<String>,
}

impl Strategy {
    /// Parses `"p -> w -> p"`: keys separated by `->` (spaces around them optional), each the
    /// prompt optimizer's key or the weight optimizer's.
    pub fn parse(strategy: &str, prompt_key: &str, weight_key: &str) -> Result<Strategy, BetterTogetherError> {
        if strategy.trim().is_empty() {
            return Err(BetterTogetherError::EmptyStrategy);
        }
        if prompt_key == weight_key {
            return Err(BetterTogetherError::DuplicateKey(prompt_key.to_string()));
        }
        let mut steps = Vec::new();
        let mut keys = Vec::new();
        for raw in strategy.split("->") {
            let step = raw.trim();
            let kind = if step == prompt_key {
                Step::Prompt
            } else if step == weight_key {
                Step::Weight
            } else {
                return Err(BetterTogetherError::InvalidStep {
                    strategy: strategy.to_string(),
                    step: step.to_string(),
                    valid: vec![prompt_key.to_string(), weight_key.to_string()],
                });
            };
            steps.push(kind);
            keys.push(step.to_string());
        }
        Ok(Strategy { steps, keys })
    }

    /// The steps in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The strategy of the first `n` steps, as DSPy names candidates (`"p -> w"`; `""` for none).
    pub fn prefix(&self, n: usize) -> String {
        self.keys[..n.min(self.keys.len())].join(" -> ")
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix(self.keys.len()))
    }
}

/// Alternates prompt and weight optimization.
///
/// Defaults as DSPy: prompt optimizer `p` = [`BootstrapFewShotWithRandomSearch`], weight
/// optimizer `w` = [`BootstrapFinetune`], strategy `"p -> w -> p"`, `valset_ratio = 0.1` (the
/// first 10% of the trainset is held out when no valset is given), the trainset shuffled
/// (seeded) before each step.
///
/// As DSPy, the original program and each step's result are evaluated on the valset and the
/// best is returned (the earliest on ties; without a valset, the latest); a step that fails
/// stops the sequence and the best program so far is returned, with the error in the
/// report's `extra.error` and `extra.flag_compilation_error_occurred`. Every candidate is a
/// trial of the report, described by its strategy prefix. If a step clears the predictors'
/// LMs they are restored. Demos are kept across weight steps (DSPy 3.4.1 resets none; set
/// [`BootstrapFinetune::exclude_demos`] to clear them).
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Example, Module, Predict, Prediction, Predictor};
/// use dspy_optimizers::{BetterTogether, BootstrapFinetune, LabeledFewShot, Optimizer};
/// use dspy_optimizers::bootstrap_finetune::{FinetuneError, FinetuneJob, FinetuneRequest, Finetuner};
/// #[derive(Debug)]
/// struct Pretend;
/// #[async_trait::async_trait]
/// impl Finetuner for Pretend {
///     async fn finetune(&self, req: FinetuneRequest<'_>) -> Result<FinetuneJob, FinetuneError> {
///         Ok(FinetuneJob { model: "tuned".into(), ..Default::default() })
///     }
///     fn lm_for(&self, _model: &str) -> Result<Arc<dyn dspy_core::LanguageModel>, FinetuneError> {
///         Ok(Arc::new(DummyLM::follow_examples()))
///     }
/// }
/// let dir = tempfile::tempdir().unwrap();
/// let lm = Arc::new(DummyLM::follow_examples());
/// let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let trainset = vec![Example::new().with("question", "1+1?").with("answer", "2").with_inputs(["question"])];
/// let metric = |ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>| ex.get("answer") == p.get("answer");
/// let optimizer = BetterTogether::with_optimizers(LabeledFewShot::new(4), BootstrapFinetune::new().finetuner(Pretend).data_dir(dir.path()))
///     .strategy("p -> w")
///     .valset_ratio(0.0);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let compiled = optimizer.compile(&student, &trainset, metric).await.unwrap();
/// assert_eq!(compiled.report.trials.len(), 3); // original, "p", "p -> w"
/// assert_eq!(compiled.program.demos().len(), 1);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct BetterTogether<Po = BootstrapFewShotWithRandomSearch, Wo = BootstrapFinetune> {
    /// The prompt optimizer.
    pub prompt_optimizer: Po,
    /// The weight optimizer.
    pub weight_optimizer: Wo,
    /// The key of the prompt optimizer in strategies (`p`).
    pub prompt_key: String,
    /// The key of the weight optimizer in strategies (`w`).
    pub weight_key: String,
    /// The steps, as `"p -> w -> p"`.
    pub strategy: String,
    /// The share of the trainset held out as valset when none is given (0: no validation).
    pub valset_ratio: f64,
    /// Shuffle the trainset before each step.
    pub shuffle_trainset_between_steps: bool,
    /// Seed (shuffles), concurrency and error limit of the evaluations, progress.
    pub run: RunConfig,
}

impl BetterTogether {
    /// DSPy's defaults: random search for prompts, fine-tuning through the OpenAI API.
    pub fn new() -> Self {
        Self::with_optimizers(BootstrapFewShotWithRandomSearch::new(), BootstrapFinetune::new())
    }
}

impl Default for BetterTogether {
    fn default() -> Self {
        Self::new()
    }
}

impl<Po, Wo> BetterTogether<Po, Wo> {
    /// These optimizers, keyed `p` and `w`, with DSPy's other defaults.
    pub fn with_optimizers(prompt_optimizer: Po, weight_optimizer: Wo) -> Self {
        BetterTogether {
            prompt_optimizer,
            weight_optimizer,
            prompt_key: "p".into(),
            weight_key: "w".into(),
            strategy: "p -> w -> p".into(),
            valset_ratio: 0.1,
            shuffle_trainset_between_steps: true,
            run: RunConfig::default(),
        }
    }

    /// Sets the strategy (checked when compiling; [`Strategy::parse`] checks it now).
    pub fn strategy(mut self, strategy: impl Into<String>) -> Self {
        self.strategy = strategy.into();
        self
    }

    /// Names the two optimizers in strategies (`"mipro"`, `"ft"`...).
    pub fn keys(mut self, prompt_key: impl Into<String>, weight_key: impl Into<String>) -> Self {
        self.prompt_key = prompt_key.into();
        self.weight_key = weight_key.into();
        self
    }

    /// Sets `valset_ratio`.
    pub fn valset_ratio(mut self, ratio: f64) -> Self {
        self.valset_ratio = ratio;
        self
    }

    /// Sets `shuffle_trainset_between_steps`.
    pub fn shuffle_trainset_between_steps(mut self, on: bool) -> Self {
        self.shuffle_trainset_between_steps = on;
        self
    }

    /// The parsed strategy.
    pub fn parsed_strategy(&self) -> Result<Strategy, BetterTogetherError> {
        Strategy::parse(&self.strategy, &self.prompt_key, &self.weight_key)
    }
}

impl<Po, Wo> BetterTogether<Po, Wo> {
    /// Seed of the shuffles.
    pub fn seed(mut self, seed: u64) -> Self {
        self.run.seed = seed;
        self
    }

    /// How many evaluation runs are in flight at once.
    pub fn num_threads(mut self, n: usize) -> Self {
        self.run.num_threads = n.max(1);
        self
    }

    /// How many failed runs stop an evaluation (its score is then 0, as DSPy).
    pub fn max_errors(mut self, n: usize) -> Self {
        self.run.max_errors = Some(n.max(1));
        self
    }

    /// Shows progress bars on stderr (when it is a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.run.progress = on;
        self
    }
}

/// One evaluated program of the sequence.
struct Candidate<P> {
    program: P,
    score: Option<f64>,
    strategy: String,
}

#[async_trait::async_trait]
impl<Po, Wo> Optimizer for BetterTogether<Po, Wo>
where
    Po: Optimizer,
    Wo: Optimizer,
{
    async fn optimize<P>(&self, student: &P, trainset: &[Example], valset: Option<&[Example]>, metric: &dyn Metric) -> dspy_core::Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        let started = Instant::now();
        let strategy = self.parsed_strategy()?;
        if let Some((name, _)) = student.named_predictors().into_iter().find(|(_, p)| p.lm().is_none()) {
            return Err(BetterTogetherError::MissingLm(name).into());
        }
        if trainset.is_empty() {
            return Err(BetterTogetherError::EmptyTrainset.into());
        }
        if !(0.0..1.0).contains(&self.valset_ratio) {
            return Err(BetterTogetherError::InvalidValsetRatio(self.valset_ratio).into());
        }
        let mut trainset = trainset.to_vec();
        let valset: Option<Vec<Example>> = match valset {
            Some(v) if !v.is_empty() => Some(v.to_vec()),
            _ if self.valset_ratio == 0.0 => None,
            _ => {
                // DSPy holds out the first `int(ratio * n)` examples.
                let n = (self.valset_ratio * trainset.len() as f64) as usize;
                Some(trainset.drain(..n).collect())
            }
        };
        let valset = valset.filter(|v| !v.is_empty());
        let engine = self.run.engine();
        let mut rng = seeded_rng(self.run.seed);

        let (outcome, used) = usage::track(async {
            let evaluate = |program: P| {
                let engine = &engine;
                let valset = valset.as_deref();
                async move {
                    match valset {
                        None => (program, None),
                        // DSPy's `eval_candidate_program` scores a failed evaluation 0.
                        Some(v) => {
                            let score = match engine.evaluate_with(&program, v, metric, Traces::Off, "Evaluating").await {
                                Ok(run) => run.score,
                                Err(e) => {
                                    tracing::error!(error = %e, "evaluating a candidate failed; scored 0");
                                    0.0
                                }
                            };
                            (program, Some(score))
                        }
                    }
                }
            };
            let mut candidates: Vec<Candidate<P>> = Vec::new();
            let (program, score) = evaluate(student.clone()).await;
            tracing::info!(?score, "BetterTogether baseline");
            candidates.push(Candidate { program: program.clone(), score, strategy: String::new() });
            let mut current = program;
            let mut steps = Vec::new();
            let mut error = None;
            for (i, step) in strategy.steps().iter().enumerate() {
                let name = strategy.prefix(i + 1);
                if self.shuffle_trainset_between_steps {
                    trainset.shuffle(&mut rng);
                }
                let lms_before: Vec<_> = current.named_predictors().into_iter().map(|(_, p)| p.lm()).collect();
                let compiled = match step {
                    Step::Prompt => self.prompt_optimizer.optimize(&current, &trainset, valset.as_deref(), metric).await,
                    Step::Weight => self.weight_optimizer.optimize(&current, &trainset, valset.as_deref(), metric).await,
                };
                let compiled = match compiled {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(step = %name, error = %e, "BetterTogether step failed; returning the best program so far");
                        error = Some(format!("step {} ({name}) failed: {e}", i + 1));
                        break;
                    }
                };
                let mut program = compiled.program;
                // Some optimizers reset predictor LMs; weight steps need them (as DSPy restores).
                for ((_, p), before) in program.named_predictors_mut().into_iter().zip(lms_before) {
                    if p.lm().is_none() {
                        p.set_lm(before);
                    }
                }
                steps.push(json!({
                    "strategy": name,
                    "optimizer": compiled.report.optimizer,
                    "best_score": compiled.report.best_score,
                    "lm_calls": compiled.report.lm_calls,
                    "extra": compiled.report.extra,
                }));
                let (program, score) = evaluate(program).await;
                tracing::info!(strategy = %name, ?score, "BetterTogether step done");
                candidates.push(Candidate { program: program.clone(), score, strategy: name });
                current = program;
            }
            (candidates, steps, error)
        })
        .await;
        let (mut candidates, steps, error) = outcome;

        let best = if valset.is_none() {
            candidates.len() - 1
        } else {
            // Highest score; the earliest wins ties.
            let mut best = 0;
            for (i, c) in candidates.iter().enumerate() {
                if c.score.unwrap_or(f64::NEG_INFINITY) > candidates[best].score.unwrap_or(f64::NEG_INFINITY) {
                    best = i;
                }
            }
            best
        };
        let mut report = CompileReport::new("BetterTogether");
        report.seed = Some(self.run.seed);
        let split = if valset.is_some() { Split::Val } else { Split::NotEvaluated };
        let n = valset.as_ref().map_or(0, Vec::len);
        report.trials = candidates
            .iter()
            .map(|c| {
                let description = if c.strategy.is_empty() { "original (no optimization)".to_string() } else { c.strategy.clone() };
                Trial::new(description, c.score.unwrap_or(0.0))
                    .split(split)
                    .evaluated_on(n)
                    .details(json!({"strategy": c.strategy, "score": c.score}))
            })
            .collect();
        report.best_trial = Some(best);
        report.best_score = candidates[best].score;
        report.extra = json!({
            "strategy": strategy.to_string(),
            "best_strategy": candidates[best].strategy,
            "flag_compilation_error_occurred": error.is_some(),
            "error": error,
            "steps": steps,
        });
        let program = candidates.swap_remove(best).program;
        report.finish(&program, &used, engine.budget_ref(), started);
        Ok(Compiled { program, report })
    }
}
