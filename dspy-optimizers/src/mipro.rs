//! MIPROv2 (DSPy's `dspy.MIPROv2`): joint search over each predictor's instruction and demos,
//! in DSPy's three stages.
//!
//! 1. **Bootstrap demo sets**: DSPy's candidate schedule (zero-shot, labeled-only, unshuffled
//!    bootstrap, shuffled bootstraps), DSPy's
//!    `create_n_fewshot_demo_sets`.
//! 2. **Propose instructions**: the [`GroundedProposer`] writes instructions from a dataset
//!    summary, a description of the program and of each module, the module's bootstrapped demos
//!    and a random prompting tip; the first candidate of each predictor is its current
//!    instruction.
//! 3. **Bayesian search**: a Tree-structured Parzen Estimator (Optuna's algorithm) picks, per trial,
//!    one instruction and one demo set per predictor; each trial is scored on a random
//!    minibatch of the valset, and every `minibatch_full_eval_steps` trials the combination with
//!    the best mean minibatch score (not yet fully evaluated) is scored on the whole valset. The
//!    best full-valset score wins; the default program is the first (full) trial.
//!
//! `auto = light | medium | heavy` sets the budget as DSPy does ([`AutoMode`]); with
//! `max_bootstrapped_demos = max_labeled_demos = 0` only instructions are searched (zero-shot
//! mode, where bootstrapped demos still ground the proposals).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use dspy_core::evaluate::Metric;
use dspy_core::{Error, Example, InputError, LanguageModel, Module, Result, Settings, settings, usage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bootstrap::{BootstrapFewShot, DemoSet, create_n_fewshot_demo_sets};
use crate::checkpoint::{self, Checkpoint, RngState, model_name};
use crate::engine::{Engine, EvalRun, RunConfig, SeededRng, derive_seed, seeded_rng};
use crate::proposer_grounded::{GroundedProposer, ProposedInstructions};
use crate::tpe::{ParamValue, Params, SearchSpace, TpeSampler};
use crate::{CompileReport, Compiled, Optimizer, Split, Trial};

/// DSPy's `BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT`: bootstrapped demos per set in zero-shot
/// mode (used only to ground the proposals).
pub(crate) const BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT: usize = 3;
/// DSPy's `MIN_MINIBATCH_SIZE`: with `auto`, minibatches are used when the valset is larger.
pub(crate) const MIN_MINIBATCH_SIZE: usize = 50;

/// DSPy's run presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoMode {
    /// `n = 6` candidates, valset capped at 100.
    Light,
    /// `n = 12` candidates, valset capped at 300.
    Medium,
    /// `n = 18` candidates, valset capped at 1000.
    Heavy,
}

impl AutoMode {
    /// DSPy's number of candidates `n` for this preset.
    pub fn num_candidates(self) -> usize {
        match self {
            AutoMode::Light => 6,
            AutoMode::Medium => 12,
            AutoMode::Heavy => 18,
        }
    }

    /// DSPy's valset cap for this preset.
    pub fn val_size(self) -> usize {
        match self {
            AutoMode::Light => 100,
            AutoMode::Medium => 300,
            AutoMode::Heavy => 1000,
        }
    }

    /// The preset's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoMode::Light => "light",
            AutoMode::Medium => "medium",
            AutoMode::Heavy => "heavy",
        }
    }
}

impl FromStr for AutoMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "light" => Ok(AutoMode::Light),
            "medium" => Ok(AutoMode::Medium),
            "heavy" => Ok(AutoMode::Heavy),
            other => Err(InputError::Invalid { needed_by: "MIPROv2".into(), message: format!("Invalid value for auto: {other}. Must be one of light, medium, heavy.") }.into()),
        }
    }
}

/// DSPy's trial count for `num_candidates` candidates: `max(2·m·log2(n), 1.5·n)` where `m` is
/// the number of predictors (doubled when demos are searched too).
pub(crate) fn num_trials_for(num_predictors: usize, zero_shot: bool, num_candidates: usize) -> usize {
    let vars = if zero_shot { num_predictors } else { num_predictors * 2 } as f64;
    let n = num_candidates.max(1) as f64;
    (2.0 * vars * n.log2()).max(1.5 * n) as usize
}

/// DSPy's estimate of a run's cost (`_estimate_lm_calls`), for comparison with what a run made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MiproEstimate {
    /// Prompt-model calls: 10 for the data summary + candidates × predictors (+ predictors + 1
    /// for the program-aware proposer).
    pub prompt_model_calls: usize,
    /// Program runs of the search: `minibatch_size × trials + |valset| × (trials / steps + 1)`
    /// (or `|valset| × trials` without minibatches). Bootstrapping is not included.
    pub program_runs: usize,
}

/// Computes [`MiproEstimate`] as DSPy does.
#[allow(clippy::too_many_arguments)]
pub fn estimate_lm_calls(
    num_predictors: usize,
    num_trials: usize,
    minibatch: bool,
    minibatch_size: usize,
    minibatch_full_eval_steps: usize,
    valset_size: usize,
    program_aware: bool,
    num_instruct_candidates: usize,
) -> MiproEstimate {
    let prompt_model_calls = 10 + num_instruct_candidates * num_predictors + if program_aware { num_predictors + 1 } else { 0 };
    let program_runs = if minibatch {
        minibatch_size * num_trials + valset_size * (num_trials / minibatch_full_eval_steps.max(1) + 1)
    } else {
        valset_size * num_trials
    };
    MiproEstimate { prompt_model_calls, program_runs }
}

/// MIPROv2: instructions and demo sets searched together with a TPE.
///
/// Defaults as DSPy: `auto = light`, `max_bootstrapped_demos = 4`, `max_labeled_demos = 4`,
/// `init_temperature = 1.0`, seed 9, `minibatch = true`, `minibatch_size = 35`,
/// `minibatch_full_eval_steps = 5`, every proposer switch on, `view_data_batch_size = 10`.
/// With `auto` set, `num_candidates` and `num_trials` must not be; without it both must be.
///
/// Cost (`light`, 2 predictors, 100-example valset): 6 demo sets bootstrapped (up to
/// `max_bootstrapped_demos` successes each), about 6 + 3 × 3 × 2 prompt-model calls, then
/// 20 minibatch trials of 35 runs and 5 full evaluations of 100 runs (see
/// [`estimate_lm_calls`] for DSPy's own estimate, which the report also carries).
///
/// Resumable (DSPy's MIPROv2 is not): with [`MiproV2::checkpoint_dir`] the state is saved after
/// the proposals and after each trial, and a killed run started again resumes there without
/// bootstrapping or proposing again ([`crate::checkpoint`]).
#[derive(Clone, Debug)]
pub struct MiproV2 {
    /// The model that proposes instructions (the configured LM when `None`).
    pub prompt_model: Option<Arc<dyn LanguageModel>>,
    /// The model the program runs with while compiling, for predictors without their own
    /// (the configured LM when `None`).
    pub task_model: Option<Arc<dyn LanguageModel>>,
    /// The teacher's LM when bootstrapping (DSPy's `teacher_settings={"lm": ...}`).
    pub teacher_lm: Option<Arc<dyn LanguageModel>>,
    /// Bootstrapped demos per predictor.
    pub max_bootstrapped_demos: usize,
    /// Labeled demos per predictor.
    pub max_labeled_demos: usize,
    /// The run preset (`None`: set `num_candidates` and `num_trials`).
    pub auto: Option<AutoMode>,
    /// Instruction and demo-set candidates per predictor (only without `auto`).
    pub num_candidates: Option<usize>,
    /// Search trials (only without `auto`).
    pub num_trials: Option<usize>,
    /// The proposer's temperature.
    pub init_temperature: f64,
    /// A bootstrapped run passes when its score is at least this.
    pub metric_threshold: Option<f64>,
    /// Score trials on minibatches (with `auto`: when the valset has more than 50 examples).
    pub minibatch: bool,
    /// Examples per minibatch.
    pub minibatch_size: usize,
    /// A full evaluation every this many minibatch trials.
    pub minibatch_full_eval_steps: usize,
    /// The instruction proposer's switches (program-, data-, tip- and few-shot-aware).
    pub proposer: GroundedProposer,
    /// Seed (9 by default, as DSPy), concurrency, error limit, budgets, progress.
    pub run: RunConfig,
}

impl Default for MiproV2 {
    fn default() -> Self {
        MiproV2 {
            prompt_model: None,
            task_model: None,
            teacher_lm: None,
            max_bootstrapped_demos: 4,
            max_labeled_demos: 4,
            auto: Some(AutoMode::Light),
            num_candidates: None,
            num_trials: None,
            init_temperature: 1.0,
            metric_threshold: None,
            minibatch: true,
            minibatch_size: 35,
            minibatch_full_eval_steps: 5,
            proposer: GroundedProposer::default(),
            run: RunConfig { seed: 9, ..RunConfig::default() },
        }
    }
}

impl_run_options!(MiproV2, checkpoint);

impl MiproV2 {
    /// DSPy's defaults (`auto = light`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the preset (light, medium, heavy), which chooses the number of candidates, trials
    /// and the validation size.
    pub fn auto(mut self, auto: AutoMode) -> Self {
        self.auto = Some(auto);
        self
    }

    /// No preset: `num_candidates` and `num_trials` must then be set (DSPy's `auto=None`).
    pub fn manual(mut self) -> Self {
        self.auto = None;
        self
    }

    /// Proposes with this model.
    pub fn prompt_model(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.prompt_model = Some(lm.into_shared());
        self
    }

    /// Runs the program with this model while compiling.
    pub fn task_model(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.task_model = Some(lm.into_shared());
        self
    }

    /// Bootstraps with this teacher LM.
    pub fn teacher_lm(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.teacher_lm = Some(lm.into_shared());
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

    /// Zero-shot mode: no demos in the result (`max_bootstrapped_demos = max_labeled_demos = 0`).
    pub fn zero_shot(self) -> Self {
        self.max_bootstrapped_demos(0).max_labeled_demos(0)
    }

    /// Sets `num_candidates` (only without `auto`).
    pub fn num_candidates(mut self, n: usize) -> Self {
        self.num_candidates = Some(n);
        self
    }

    /// Sets `num_trials` (only without `auto`).
    pub fn num_trials(mut self, n: usize) -> Self {
        self.num_trials = Some(n);
        self
    }

    /// Sets the proposer's temperature.
    pub fn init_temperature(mut self, t: f64) -> Self {
        self.init_temperature = t;
        self
    }

    /// Sets `metric_threshold`.
    pub fn metric_threshold(mut self, t: f64) -> Self {
        self.metric_threshold = Some(t);
        self
    }

    /// Turns minibatch evaluation on or off.
    pub fn minibatch(mut self, on: bool) -> Self {
        self.minibatch = on;
        self
    }

    /// Sets `minibatch_size`.
    pub fn minibatch_size(mut self, n: usize) -> Self {
        self.minibatch_size = n.max(1);
        self
    }

    /// Sets `minibatch_full_eval_steps`.
    pub fn minibatch_full_eval_steps(mut self, n: usize) -> Self {
        self.minibatch_full_eval_steps = n.max(1);
        self
    }

    /// Replaces the proposer's switches.
    pub fn proposer(mut self, proposer: GroundedProposer) -> Self {
        self.proposer = proposer;
        self
    }

    /// The program's code shown to the proposer instead of its [`source_code`](dspy_core::Module::source_code).
    pub fn program_code(mut self, code: impl Into<String>) -> Self {
        self.proposer.program_code = Some(code.into());
        self
    }

    fn is_zero_shot(&self) -> bool {
        self.max_bootstrapped_demos == 0 && self.max_labeled_demos == 0
    }
}

/// `k` examples drawn without replacement, in draw order (DSPy's `create_minibatch`).
pub(crate) fn create_minibatch(examples: &[Example], k: usize, rng: &mut SeededRng) -> Vec<Example> {
    let k = k.min(examples.len());
    rand::seq::index::sample(rng, examples.len(), k).into_iter().map(|i| examples[i].clone()).collect()
}

/// The settings of one run after the preset is applied.
#[derive(Clone, Debug, Serialize)]
struct Plan {
    num_trials: usize,
    minibatch: bool,
    num_instruct_candidates: usize,
    num_fewshot_candidates: usize,
}

/// One combination tried: an instruction index and a demo-set index per predictor.
type Combo = Vec<(usize, Option<usize>)>;

/// What stages 1 and 2 produced (saved once, so a resumed run does not bootstrap or propose
/// again).
#[derive(Clone, Serialize, Deserialize)]
struct Setup {
    demo_sets: Vec<DemoSet>,
    proposed: ProposedInstructions,
    /// Per predictor, the instruction candidates (the first is the original).
    instructions: Vec<Vec<String>>,
    lm_calls_bootstrap: u64,
    lm_calls_proposal: u64,
}

/// The search so far (stage 3): the sampler's history, the minibatch scores per combination,
/// the best full-valset score and the report's trials.
#[derive(Clone, Serialize, Deserialize)]
struct SearchState {
    tpe_rng: RngState,
    tpe_trials: Vec<(Params, f64)>,
    /// Loop iterations done (minibatch trials, each with its full evaluation if one was due).
    trials_done: usize,
    /// Optuna's trial count (the default program and the full evaluations included).
    study_trials: usize,
    by_combo: Vec<(Combo, Vec<f64>)>,
    fully_evaluated: Vec<Combo>,
    best_score: f64,
    /// The best combination, or `None` while the best is the default program (the student as
    /// it is, its own demos included, which no combination rebuilds).
    best_combo: Option<Combo>,
    evaluated_any: bool,
    trials: Vec<Trial>,
    best_trial: Option<usize>,
}

/// MIPROv2's checkpoint: the main generator, the setup, and the search once it started.
#[derive(Serialize, Deserialize)]
struct Saved {
    rng: RngState,
    setup: Setup,
    search: Option<SearchState>,
}

fn describe(combo: &Combo) -> String {
    combo
        .iter()
        .enumerate()
        .map(|(i, (instr, demos))| match demos {
            Some(d) => format!("Predictor {i}: Instruction {instr}, Few-Shot Set {d}"),
            None => format!("Predictor {i}: Instruction {instr}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait::async_trait]
impl Optimizer for MiproV2 {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], valset: Option<&[Example]>, metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        let started = Instant::now();
        let engine = self.run.engine();
        let fingerprint = checkpoint::fingerprint(self.settings(), &self.run, student, trainset, valset, metric);
        let mut ckpt = Checkpoint::open(&self.run, "MIPROv2", fingerprint, &engine)?;
        if let Some(done) = ckpt.finished(student)? {
            return Ok(done);
        }
        let (result, used) = usage::track(self.run_stages(student, trainset, valset, metric, &engine, &mut ckpt)).await;
        let (program, report) = result?;
        ckpt.complete(program, report, used, &engine, started)
    }
}

impl MiproV2 {
    /// The settings a checkpoint must have been written with (models by name).
    fn settings(&self) -> Value {
        json!({
            "prompt_model": model_name(self.prompt_model.as_ref()),
            "task_model": model_name(self.task_model.as_ref()),
            "teacher_lm": model_name(self.teacher_lm.as_ref()),
            "max_bootstrapped_demos": self.max_bootstrapped_demos,
            "max_labeled_demos": self.max_labeled_demos,
            "auto": self.auto,
            "num_candidates": self.num_candidates,
            "num_trials": self.num_trials,
            "init_temperature": self.init_temperature,
            "metric_threshold": self.metric_threshold,
            "minibatch": self.minibatch,
            "minibatch_size": self.minibatch_size,
            "minibatch_full_eval_steps": self.minibatch_full_eval_steps,
            "proposer": self.proposer,
        })
    }

    fn validate(&self) -> Result<()> {
        match (self.auto, self.num_candidates, self.num_trials) {
            (Some(_), None, None) => Ok(()),
            (Some(_), _, _) => Err(InputError::Invalid { needed_by: "MIPROv2".into(), message: "If auto is not None, num_candidates and num_trials cannot be set, since they would be overridden by the auto settings. Please either set auto to None, or do not specify num_candidates and num_trials.".into(), }.into()),
            (None, Some(_), Some(_)) => Ok(()),
            (None, Some(n), None) => Err(InputError::Invalid { needed_by: "MIPROv2".into(), message: format!(
                "If auto is None, num_trials must also be provided. Given num_candidates={n}, we'd recommend setting num_trials to ~{}.",
                num_trials_for(1, self.is_zero_shot(), n)
            ) }.into()),
            (None, None, _) => Err(InputError::Invalid { needed_by: "MIPROv2".into(), message: "If auto is None, num_candidates must also be provided.".into() }.into()),
        }
    }

    async fn run_stages<P: Module + Clone>(
        &self,
        student: &P,
        trainset: &[Example],
        valset: Option<&[Example]>,
        metric: &dyn Metric,
        engine: &Engine,
        ckpt: &mut Checkpoint,
    ) -> Result<(P, CompileReport)> {
        self.validate()?;
        if trainset.is_empty() {
            return Err(InputError::Dataset { needed_by: "MIPROv2".into(), message: "Trainset cannot be empty.".into() }.into());
        }
        let mut rng = seeded_rng(self.run.seed);
        let (trainset, valset): (Vec<Example>, Vec<Example>) = match valset {
            Some([]) => return Err(InputError::Dataset { needed_by: "MIPROv2".into(), message: "Validation set must have at least 1 example.".into() }.into()),
            Some(v) => (trainset.to_vec(), v.to_vec()),
            None => {
                if trainset.len() < 2 {
                    return Err(InputError::Dataset { needed_by: "MIPROv2".into(), message: "Trainset must have at least 2 examples if no valset specified.".into() }.into());
                }
                let size = 1000.min(1.max(trainset.len() * 8 / 10));
                let cutoff = trainset.len() - size;
                (trainset[..cutoff].to_vec(), trainset[cutoff..].to_vec())
            }
        };
        let zero_shot = self.is_zero_shot();
        let num_predictors = student.named_predictors().len();
        if num_predictors == 0 {
            return Err(InputError::Program { needed_by: "MIPROv2".into(), message: "needs a program with at least one predictor".into() }.into());
        }
        let (plan, valset) = match self.auto {
            Some(auto) => {
                let valset = create_minibatch(&valset, auto.val_size(), &mut rng);
                let n = auto.num_candidates();
                let plan = Plan {
                    num_trials: num_trials_for(num_predictors, zero_shot, n),
                    minibatch: valset.len() > MIN_MINIBATCH_SIZE,
                    num_instruct_candidates: if zero_shot { n } else { n / 2 },
                    num_fewshot_candidates: n,
                };
                (plan, valset)
            }
            None => {
                let n = self.num_candidates.unwrap_or(1);
                let plan = Plan { num_trials: self.num_trials.unwrap_or(0), minibatch: self.minibatch, num_instruct_candidates: n, num_fewshot_candidates: n };
                (plan, valset)
            }
        };
        if plan.minibatch && self.minibatch_size > valset.len() {
            return Err(InputError::Invalid { needed_by: "MIPROv2".into(), message: format!("Minibatch size cannot exceed the size of the valset. Valset size: {}.", valset.len()) }.into());
        }
        let mut report = CompileReport::new("MIPROv2");
        report.seed = Some(self.run.seed);
        let program = student.clone();

        let (setup, search_state) = match ckpt.resume::<Saved>()? {
            Some(saved) => {
                rng = saved.rng.rng();
                (saved.setup, saved.search)
            }
            None => {
                let setup = self.setup(&program, &trainset, &plan, zero_shot, metric, engine, &mut rng).await?;
                ckpt.save(0, &Saved { rng: RngState::of(&rng), setup: setup.clone(), search: None }, engine)?;
                (setup, None)
            }
        };
        let demo_candidates: Option<&[DemoSet]> = if zero_shot { None } else { Some(&setup.demo_sets) };

        // Stage 3: Bayesian search.
        let search = self.with_task_model(self.search(&program, &setup, demo_candidates, &valset, &plan, metric, engine, &mut report, &mut rng, search_state, ckpt));
        let (best_program, best_score) = search.await?;
        let (instructions, proposed, demo_sets) = (&setup.instructions, &setup.proposed, &setup.demo_sets);
        let (after_bootstrap, prompt_model_calls) = (setup.lm_calls_bootstrap, setup.lm_calls_proposal);
        let proposer = GroundedProposer { init_temperature: self.init_temperature, ..self.proposer.clone() };
        let estimate = estimate_lm_calls(
            num_predictors,
            plan.num_trials,
            plan.minibatch,
            self.minibatch_size,
            self.minibatch_full_eval_steps,
            valset.len(),
            proposer.program_aware,
            plan.num_instruct_candidates,
        );
        report.best_score = Some(best_score);
        report.extra = json!({
            "auto": self.auto.map(AutoMode::as_str),
            "zero_shot": zero_shot,
            "num_trials": plan.num_trials,
            "minibatch": plan.minibatch,
            "minibatch_size": self.minibatch_size,
            "valset_size": valset.len(),
            "trainset_size": trainset.len(),
            "num_instruct_candidates": plan.num_instruct_candidates,
            "num_fewshot_candidates": plan.num_fewshot_candidates,
            "instruction_candidates": instructions,
            "tips": proposed.tips,
            "data_summary": proposed.data_summary,
            "demo_sets": demo_sets.iter().map(|s| json!({
                "candidate": s.spec.as_ref().map(|c| c.describe()),
                "demos_per_predictor": s.demos.iter().map(|(_, d)| d.len()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "proposal_failures": proposed.failures,
            "lm_calls_by_stage": {"bootstrap": after_bootstrap, "proposal": prompt_model_calls, "search": engine.budget_ref().lm_calls() - after_bootstrap - prompt_model_calls},
            "dspy_estimate": estimate,
            "stopped_by_budget": engine.budget_ref().is_exhausted(),
        });
        Ok((best_program, report))
    }

    /// Stages 1 and 2: the demo sets (bootstrapped with the task model) and the instruction
    /// candidates (the first of each predictor is its current instruction).
    #[allow(clippy::too_many_arguments)]
    async fn setup<P: Module + Clone>(
        &self,
        program: &P,
        trainset: &[Example],
        plan: &Plan,
        zero_shot: bool,
        metric: &dyn Metric,
        engine: &Engine,
        rng: &mut SeededRng,
    ) -> Result<Setup> {
        let before = engine.budget_ref().lm_calls();
        let boot = BootstrapFewShot {
            metric_threshold: self.metric_threshold,
            max_bootstrapped_demos: if zero_shot { BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT } else { self.max_bootstrapped_demos },
            max_labeled_demos: if zero_shot { 0 } else { self.max_labeled_demos },
            max_rounds: 1,
            teacher_lm: self.teacher_lm.clone(),
            run: self.run.clone(),
        };
        let demo_sets = self
            .with_task_model(create_n_fewshot_demo_sets(&boot, program, None, plan.num_fewshot_candidates, trainset, metric, engine, 1, true, true, rng))
            .await?;
        let after_bootstrap = engine.budget_ref().lm_calls();

        let proposer = GroundedProposer { init_temperature: self.init_temperature, ..self.proposer.clone() };
        let proposed = proposer.propose(engine, self.prompt_model.as_ref(), program, trainset, Some(&demo_sets), plan.num_instruct_candidates, rng).await?;
        let lm_calls_proposal = engine.budget_ref().lm_calls() - after_bootstrap;
        let mut instructions: Vec<Vec<String>> = proposed.instructions.clone();
        for (i, (_, p)) in program.named_predictors().into_iter().enumerate() {
            let list = &mut instructions[i];
            let original = p.signature().instructions().to_string();
            if list.is_empty() { list.push(original) } else { list[0] = original }
        }
        Ok(Setup { demo_sets, proposed, instructions, lm_calls_bootstrap: after_bootstrap - before, lm_calls_proposal })
    }

    async fn with_task_model<F: std::future::Future>(&self, fut: F) -> F::Output {
        match &self.task_model {
            Some(lm) => settings::context(Settings::new().lm(lm.clone()), fut).await,
            None => fut.await,
        }
    }

    fn build<P: Module + Clone>(&self, program: &P, combo: &Combo, instructions: &[Vec<String>], demos: Option<&[DemoSet]>) -> P {
        let mut candidate = program.clone();
        for (i, (_, p)) in candidate.named_predictors_mut().into_iter().enumerate() {
            let Some((instr, demo_set)) = combo.get(i) else { continue };
            if let Some(text) = instructions.get(i).and_then(|c| c.get(*instr)) {
                let updated = p.signature().clone().with_instructions(text.clone());
                p.set_signature(updated);
            }
            if let (Some(sets), Some(d)) = (demos, demo_set) {
                p.set_demos(sets.get(*d).map(|s| s.for_predictor(i).to_vec()).unwrap_or_default());
            }
        }
        candidate
    }

    async fn evaluate<P: Module>(&self, engine: &Engine, program: &P, examples: &[Example], metric: &dyn Metric) -> (f64, Option<EvalRun>) {
        match engine.evaluate(program, examples, metric).await {
            Ok(run) => (run.score, Some(run)),
            Err(e) => {
                tracing::error!("MIPROv2: an exception occurred during evaluation: {e}");
                (0.0, None)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn search<P: Module + Clone>(
        &self,
        program: &P,
        setup: &Setup,
        demos: Option<&[DemoSet]>,
        valset: &[Example],
        plan: &Plan,
        metric: &dyn Metric,
        engine: &Engine,
        report: &mut CompileReport,
        rng: &mut SeededRng,
        resumed: Option<SearchState>,
        ckpt: &mut Checkpoint,
    ) -> Result<(P, f64)> {
        let instructions = &setup.instructions;
        let k = instructions.len();
        let mut space = SearchSpace::new();
        for (i, list) in instructions.iter().enumerate() {
            space = space.categorical(format!("{i}_predictor_instruction"), list.len());
            if let Some(sets) = demos {
                space = space.categorical(format!("{i}_predictor_demos"), sets.len().max(1));
            }
        }
        let mut tpe = TpeSampler::new(space, derive_seed(self.run.seed, 0x7E));
        let params_of = |combo: &Combo| {
            let mut p = Params::new();
            for (i, (instr, d)) in combo.iter().enumerate() {
                p = p.with(format!("{i}_predictor_instruction"), ParamValue::Index(*instr));
                if let Some(d) = d {
                    p = p.with(format!("{i}_predictor_demos"), ParamValue::Index(*d));
                }
            }
            p
        };
        let combo_of = |p: &Params| -> Combo {
            (0..k).map(|i| (p.index(&format!("{i}_predictor_instruction")).unwrap_or(0), demos.map(|_| p.index(&format!("{i}_predictor_demos")).unwrap_or(0)))).collect()
        };

        let steps = self.minibatch_full_eval_steps.max(1);
        let adjusted = if plan.minibatch {
            plan.num_trials + plan.num_trials / steps + 1 + usize::from(!plan.num_trials.is_multiple_of(steps))
        } else {
            plan.num_trials
        };

        let mut s = match resumed {
            Some(s) => {
                tpe.restore(s.tpe_rng.rng(), s.tpe_trials.clone());
                report.trials = s.trials.clone();
                report.best_trial = s.best_trial;
                s
            }
            None => {
                // The default program, fully evaluated, is the first trial (as DSPy adds it to the
                // study as instruction 0 and demo set 0): the student as it is, its own demos
                // included.
                let default_combo: Combo = (0..k).map(|_| (0, demos.map(|_| 0))).collect();
                let default_program = program.clone();
                let (default_score, run) = self.evaluate(engine, &default_program, valset, metric).await;
                report.trials.push(self.trial("default program", Split::Val, default_score, run.as_ref(), &default_combo));
                let _ = tpe.tell(params_of(&default_combo), default_score);
                report.best_trial = Some(0);
                let mut s = SearchState {
                    tpe_rng: RngState::of(tpe.rng()),
                    tpe_trials: Vec::new(),
                    trials_done: 0,
                    study_trials: 1,
                    by_combo: Vec::new(),
                    fully_evaluated: Vec::new(),
                    best_score: default_score,
                    best_combo: None,
                    evaluated_any: run.as_ref().is_some_and(|r| r.succeeded() > 0),
                    trials: Vec::new(),
                    best_trial: None,
                };
                self.save_search(ckpt, engine, rng, setup, &mut s, &tpe, report)?;
                s
            }
        };

        // Per combination (`by_combo`): the minibatch scores; `fully_evaluated`: those scored on
        // the whole valset. Programs are rebuilt from their combination when needed.
        while s.trials_done < plan.num_trials {
            if engine.budget_ref().is_exhausted() {
                break;
            }
            s.trials_done += 1;
            s.study_trials += 1;
            let trial_num = s.study_trials;
            let params = tpe.ask();
            let combo = combo_of(&params);
            let candidate = self.build(program, &combo, instructions, demos);
            let batch_size = if plan.minibatch { self.minibatch_size } else { valset.len() };
            let (score, run) = if batch_size >= valset.len() {
                self.evaluate(engine, &candidate, valset, metric).await
            } else {
                let batch = create_minibatch(valset, batch_size, rng);
                self.evaluate(engine, &candidate, &batch, metric).await
            };
            s.evaluated_any |= run.as_ref().is_some_and(|r| r.succeeded() > 0);
            let full = batch_size >= valset.len();
            report.trials.push(self.trial(&format!("trial {trial_num}"), if full { Split::Val } else { Split::Minibatch }, score, run.as_ref(), &combo));
            if full && score > s.best_score {
                s.best_score = score;
                s.best_combo = Some(combo.clone());
                report.best_trial = Some(report.trials.len() - 1);
            }
            match s.by_combo.iter_mut().find(|(c, _)| *c == combo) {
                Some((_, scores)) => scores.push(score),
                None => s.by_combo.push((combo.clone(), vec![score])),
            }
            let _ = tpe.tell(params, score);

            if plan.minibatch && (trial_num.is_multiple_of(steps + 1) || trial_num == adjusted.saturating_sub(1)) {
                // Fully evaluate the best-averaging combination not yet fully evaluated.
                let next = s
                    .by_combo
                    .iter()
                    .filter(|(c, _)| !s.fully_evaluated.contains(c))
                    .map(|(c, sc)| (c, sc.iter().sum::<f64>() / sc.len() as f64))
                    .fold(None, |best: Option<(&Combo, f64)>, x| match best {
                        Some(b) if b.1 >= x.1 => Some(b),
                        _ => Some(x),
                    })
                    .map(|(c, mean)| (c.clone(), mean));
                if let Some((combo, mean)) = next {
                    let candidate = self.build(program, &combo, instructions, demos);
                    s.study_trials += 1;
                    let (full_score, run) = self.evaluate(engine, &candidate, valset, metric).await;
                    s.evaluated_any |= run.as_ref().is_some_and(|r| r.succeeded() > 0);
                    let mut trial = self.trial(&format!("full evaluation after trial {trial_num}"), Split::Val, full_score, run.as_ref(), &combo);
                    trial = trial.with_split_score(Split::MinibatchMean, mean);
                    report.trials.push(trial);
                    let _ = tpe.tell(params_of(&combo), full_score);
                    s.fully_evaluated.push(combo.clone());
                    if full_score > s.best_score {
                        s.best_score = full_score;
                        s.best_combo = Some(combo);
                        report.best_trial = Some(report.trials.len() - 1);
                    }
                }
            }
            self.save_search(ckpt, engine, rng, setup, &mut s, &tpe, report)?;
        }
        if !s.evaluated_any {
            return Err(Error::NoResult { what: "MIPROv2".into(), reason: "every evaluation failed (is an LM configured, or the budget too small?)".into() });
        }
        let best = match &s.best_combo {
            Some(combo) => self.build(program, combo, instructions, demos),
            None => program.clone(),
        };
        Ok((best, s.best_score))
    }

    /// Saves the search after a trial (with the sampler's and the report's state).
    #[allow(clippy::too_many_arguments)]
    fn save_search(&self, ckpt: &mut Checkpoint, engine: &Engine, rng: &SeededRng, setup: &Setup, s: &mut SearchState, tpe: &TpeSampler, report: &CompileReport) -> Result<()> {
        s.tpe_rng = RngState::of(tpe.rng());
        s.tpe_trials = tpe.trials().to_vec();
        s.trials = report.trials.clone();
        s.best_trial = report.best_trial;
        ckpt.save(s.trials_done, &Saved { rng: RngState::of(rng), setup: setup.clone(), search: Some(s.clone()) }, engine)
    }

    fn trial(&self, description: &str, split: Split, score: f64, run: Option<&EvalRun>, combo: &Combo) -> Trial {
        let trial = match run {
            Some(run) => Trial::from_run(format!("{description}: {}", describe(combo)), split, run),
            None => Trial::new(format!("{description}: {} (evaluation failed)", describe(combo)), score).split(split),
        };
        let params: Vec<Value> = combo.iter().map(|(i, d)| json!({"instruction": i, "demos": d})).collect();
        trial.details(json!({"params": params}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_estimates_follow_dspy() {
        assert_eq!("medium".parse::<AutoMode>().unwrap().num_candidates(), 12);
        assert!("huge".parse::<AutoMode>().is_err());
        assert_eq!(AutoMode::Heavy.val_size(), 1000);
        // DSPy: light, 1 predictor, with demos: int(max(2*2*log2(6), 9)) = 10.
        assert_eq!(num_trials_for(1, false, 6), 10);
        assert_eq!(num_trials_for(2, true, 12), 18);
        let e = estimate_lm_calls(2, 20, true, 35, 5, 100, true, 3);
        assert_eq!(e.prompt_model_calls, 10 + 6 + 3);
        assert_eq!(e.program_runs, 35 * 20 + 100 * 5);
    }

    #[test]
    fn auto_and_manual_settings_are_exclusive() {
        assert!(MiproV2::new().validate().is_ok());
        assert!(MiproV2::new().num_trials(3).validate().is_err());
        assert!(MiproV2::new().manual().validate().is_err());
        assert!(MiproV2::new().manual().num_candidates(4).validate().unwrap_err().to_string().contains("num_trials must also be provided"));
        assert!(MiproV2::new().manual().num_candidates(4).num_trials(8).validate().is_ok());
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn num_trials_for() {
        // 2 predictors with demos, light (n = 6): 20 trials, as DSPy.
        assert_eq!(crate::mipro::num_trials_for(2, false, 6), 20);
        assert_eq!(crate::mipro::num_trials_for(1, true, 6), 9);
    }
}
