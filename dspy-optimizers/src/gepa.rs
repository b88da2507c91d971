//! GEPA (DSPy's `dspy.GEPA`, the `gepa` package's algorithm): reflective prompt evolution.
//!
//! The metric returns a score *and textual feedback* ([`Score::feedback`]). GEPA keeps a pool of
//! candidates (one instruction per predictor), each scored on every validation instance, and
//! the per-instance Pareto frontier. Each iteration:
//!
//! 1. a parent is drawn from the frontier (weighted by the instances it is best on), or the
//!    best candidate with `candidate_selection_strategy = current_best`;
//! 2. it runs on the next training minibatch (`reflection_minibatch_size`, epoch-shuffled) with
//!    traces; if it is already perfect there, the iteration is skipped;
//! 3. the next predictor in round-robin order (or all of them) is chosen, and for each run
//!    its inputs, outputs and the metric's feedback go to the reflection LM with DSPy's
//!    `ProposeInstruction` prompt (JSON adapter), which writes a new instruction;
//! 4. the child runs on the same minibatch; if its total beats the parent's it is scored on the
//!    whole valset and joins the pool (and the frontier).
//!
//! With `use_merge`, after a new candidate is accepted GEPA may instead merge two frontier
//! candidates that improved different predictors of a common ancestor (scored on a 5-instance
//! subsample first; kept when it matches the better parent). It stops when the metric-call
//! budget — `auto`, `max_full_evals` or `max_metric_calls` — is spent (checked before each
//! iteration, as GEPA does). The best candidate by mean validation score is returned; all
//! candidates, their lineage and the frontier are in the report's `extra`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use dspy_core::evaluate::{Metric, PredictorCall, Score};
use dspy_core::trace::PredictorId;
use dspy_core::{Adapter, ChatAdapter, Error, Example, InputError, JSONAdapter, LanguageModel, LmConfig, Module, Result, Role, Signature, usage};
use rand::seq::{IndexedRandom, SliceRandom};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::checkpoint::{self, Checkpoint, RngState, model_name};
use crate::engine::{Engine, EvalRun, RunConfig, SeededRng, derive_seed, seeded_rng};
use crate::gepa_merge::{Candidate, MergeLog, attempt_merge, merge_subsample};
use crate::mipro::AutoMode;
use crate::pareto::{ParetoFrontier, find_dominators};
use crate::proposer::{predict_once, propose_instruction};
use crate::{CompileReport, Compiled, Optimizer, Split, Trial};

/// How GEPA's budget is set (exactly one, as DSPy requires).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GepaBudget {
    /// DSPy's presets: `light` (6 candidates), `medium` (12), `heavy` (18), turned into metric
    /// calls by [`auto_budget`].
    Auto(AutoMode),
    /// This many full evaluations of train + val.
    MaxFullEvals(usize),
    /// This many metric calls.
    MaxMetricCalls(usize),
}

/// How the parent of each mutation is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateSelection {
    /// Drawn from the Pareto frontier, weighted by the instances each candidate is best on.
    #[default]
    Pareto,
    /// The candidate with the best mean validation score.
    CurrentBest,
}

/// Which predictors each mutation rewrites.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentSelection {
    /// One, in turn (per candidate lineage).
    #[default]
    RoundRobin,
    /// All of them.
    All,
}

/// DSPy's `auto_budget`: the metric calls of a MIPROv2-like run with `num_candidates`
/// candidates over `num_preds` predictors and a `valset_size` valset (minibatches of 35, a
/// full evaluation every 5 trials).
///
/// ```
/// // 2 predictors, light (6 candidates), 100 validation examples.
/// assert_eq!(dspy_optimizers::gepa::auto_budget(2, 6, 100, 35, 5), 1330);
/// ```
pub fn auto_budget(num_preds: usize, num_candidates: usize, valset_size: usize, minibatch_size: usize, full_eval_steps: usize) -> usize {
    let n = num_candidates.max(1) as f64;
    let num_trials = (2.0 * (num_preds as f64 * 2.0) * n.log2()).max(1.5 * n) as usize;
    let (v, m, steps) = (valset_size, minibatch_size, full_eval_steps.max(1));
    let mut total = v + num_candidates * 5 + num_trials * m;
    if num_trials == 0 {
        return total;
    }
    let periodic_fulls = (num_trials + 1) / steps + 1;
    let extra_final = usize::from(num_trials < steps);
    total += (periodic_fulls + extra_final) * v;
    total
}

/// Writes new instructions from GEPA's reflective dataset, in place of the built-in reflection
/// prompt (DSPy's `ProposalFn`): for instance a proposer with domain rules, or one that
/// rewrites several predictors together.
///
/// ```
/// use std::collections::BTreeMap;
/// use dspy_optimizers::gepa::{Gepa, InstructionProposer};
///
/// struct Append(&'static str);
///
/// #[async_trait::async_trait]
/// impl InstructionProposer for Append {
///     async fn propose(
///         &self,
///         candidate: &BTreeMap<String, String>,
///         _reflective_dataset: &BTreeMap<String, Vec<serde_json::Value>>,
///         components: &[String],
///     ) -> dspy_core::Result<BTreeMap<String, String>> {
///         Ok(components.iter().map(|c| (c.clone(), format!("{} {}", candidate[c], self.0))).collect())
///     }
/// }
///
/// let gepa = Gepa::new().max_full_evals(2).instruction_proposer(Append("Show your work."));
/// # let _ = gepa;
/// ```
#[async_trait::async_trait]
pub trait InstructionProposer: Send + Sync {
    /// New instructions for `components` (predictor names), given the current instruction of
    /// every predictor (`candidate`) and each component's records (`Inputs`, `Generated
    /// Outputs`, `Feedback`). A component left out of the answer keeps its instruction.
    async fn propose(
        &self,
        candidate: &BTreeMap<String, String>,
        reflective_dataset: &BTreeMap<String, Vec<Value>>,
        components: &[String],
    ) -> Result<BTreeMap<String, String>>;
}

/// A custom [`InstructionProposer`], shared by clones of the optimizer.
#[derive(Clone)]
pub struct CustomProposer(Arc<dyn InstructionProposer>);

impl std::fmt::Debug for CustomProposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstructionProposer")
    }
}

/// GEPA: instructions evolved by a reflection LM from traces and textual feedback.
///
/// Defaults as DSPy: `reflection_minibatch_size = 3`, Pareto candidate selection, round-robin
/// components, `skip_perfect_score = true`, `use_merge = true` with
/// `max_merge_invocations = 5`, `failure_score = 0`, `perfect_score = 1`, seed 0. One budget
/// must be set ([`Gepa::auto`], [`Gepa::max_full_evals`], [`Gepa::budget_metric_calls`] or
/// [`Gepa::max_metric_calls`]). The
/// reflection LM should be a strong model; without one, the configured LM is used. Without a
/// valset the trainset is used for both (GEPA then optimizes for those very examples).
///
/// Feedback: for each predictor it rewrites, GEPA asks the metric again about that predictor
/// ([`Metric::try_score_predictor`]; a typed metric reads it from `trace.predictor()`, DSPy's
/// `pred_name` and `pred_trace`), so each stage of a multi-stage program gets its own
/// feedback; a metric that does not look gives its whole-run feedback. Without feedback,
/// GEPA's default text is used: `This trajectory got a score of {score}.` A custom
/// [`InstructionProposer`] can replace the built-in reflection prompt.
///
/// Cost: the budget counts metric calls (= program runs): |valset| for the seed, then per
/// iteration 2 × `reflection_minibatch_size` on the minibatch plus |valset| when a child is
/// accepted; one reflection-LM call per rewritten predictor per iteration.
///
/// Resumable, as DSPy's `log_dir`: with [`Gepa::log_dir`] (or `checkpoint_dir`) the state is
/// saved at each iteration, and a killed run started again with the same directory resumes
/// there ([`crate::checkpoint`]).
#[derive(Clone, Debug)]
pub struct Gepa {
    /// The budget (required).
    pub budget: Option<GepaBudget>,
    /// Training examples per reflection.
    pub reflection_minibatch_size: usize,
    /// How parents are chosen.
    pub candidate_selection_strategy: CandidateSelection,
    /// Which predictors each mutation rewrites.
    pub component_selector: ComponentSelection,
    /// The LM that writes new instructions (the configured LM when `None`).
    pub reflection_lm: Option<Arc<dyn LanguageModel>>,
    /// Skip reflecting on minibatches the parent already solves perfectly.
    pub skip_perfect_score: bool,
    /// Try merging frontier candidates.
    pub use_merge: bool,
    /// At most this many accepted merges.
    pub max_merge_invocations: usize,
    /// Validation instances two candidates must share to be merged (GEPA's 5).
    pub merge_val_overlap_floor: usize,
    /// The score of a failed run.
    pub failure_score: f64,
    /// The best possible score.
    pub perfect_score: f64,
    /// Keep each validation instance's best outputs in the report.
    pub track_best_outputs: bool,
    /// Writes new instructions instead of the built-in reflection prompt (DSPy's
    /// `instruction_proposer`).
    pub instruction_proposer: Option<CustomProposer>,
    /// Shows the reflection LM a predictor's outputs that failed to parse, with the format it
    /// should have followed (DSPy's `add_format_failure_as_feedback`; off by default).
    pub add_format_failure_as_feedback: bool,
    /// Seed, concurrency, error limit (unused: like DSPy's GEPA, failures never stop an
    /// evaluation), hard budgets, progress.
    pub run: RunConfig,
}

impl Default for Gepa {
    fn default() -> Self {
        Gepa {
            budget: None,
            reflection_minibatch_size: 3,
            candidate_selection_strategy: CandidateSelection::Pareto,
            component_selector: ComponentSelection::RoundRobin,
            reflection_lm: None,
            skip_perfect_score: true,
            use_merge: true,
            max_merge_invocations: 5,
            merge_val_overlap_floor: 5,
            failure_score: 0.0,
            perfect_score: 1.0,
            track_best_outputs: false,
            instruction_proposer: None,
            add_format_failure_as_feedback: false,
            run: RunConfig::default(),
        }
    }
}

impl_run_options!(Gepa, checkpoint);

impl Gepa {
    /// DSPy's defaults, with no budget yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Budget by DSPy's preset.
    pub fn auto(mut self, mode: AutoMode) -> Self {
        self.budget = Some(GepaBudget::Auto(mode));
        self
    }

    /// Budget of `n` full evaluations of train + val.
    pub fn max_full_evals(mut self, n: usize) -> Self {
        self.budget = Some(GepaBudget::MaxFullEvals(n));
        self
    }

    /// Budget of `n` metric calls, checked before each iteration as GEPA does (so the last
    /// iteration may pass it). [`Gepa::max_metric_calls`] sets the same budget *and* a hard cap
    /// that no run passes.
    pub fn budget_metric_calls(mut self, n: usize) -> Self {
        self.budget = Some(GepaBudget::MaxMetricCalls(n));
        self
    }

    /// The reflection LM.
    pub fn reflection_lm(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.reflection_lm = Some(lm.into_shared());
        self
    }

    /// Sets `reflection_minibatch_size`.
    pub fn reflection_minibatch_size(mut self, n: usize) -> Self {
        self.reflection_minibatch_size = n.max(1);
        self
    }

    /// Sets the parent selection.
    pub fn candidate_selection_strategy(mut self, s: CandidateSelection) -> Self {
        self.candidate_selection_strategy = s;
        self
    }

    /// Sets the component selection.
    pub fn component_selector(mut self, s: ComponentSelection) -> Self {
        self.component_selector = s;
        self
    }

    /// Turns merging on or off.
    pub fn use_merge(mut self, on: bool) -> Self {
        self.use_merge = on;
        self
    }

    /// Sets `max_merge_invocations`.
    pub fn max_merge_invocations(mut self, n: usize) -> Self {
        self.max_merge_invocations = n;
        self
    }

    /// Sets `skip_perfect_score`.
    pub fn skip_perfect_score(mut self, on: bool) -> Self {
        self.skip_perfect_score = on;
        self
    }

    /// Sets `perfect_score`.
    pub fn perfect_score(mut self, s: f64) -> Self {
        self.perfect_score = s;
        self
    }

    /// Sets `failure_score`.
    pub fn failure_score(mut self, s: f64) -> Self {
        self.failure_score = s;
        self
    }

    /// DSPy's name for [`Gepa::checkpoint_dir`]: GEPA saves its state in `dir` at each
    /// iteration, and a run started again with the same `dir` resumes from it.
    pub fn log_dir(self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.checkpoint_dir(dir)
    }

    /// Keeps each validation instance's best outputs in the report.
    pub fn track_best_outputs(mut self, on: bool) -> Self {
        self.track_best_outputs = on;
        self
    }

    /// Shows the reflection LM the outputs that failed to parse (DSPy's
    /// `add_format_failure_as_feedback`).
    pub fn add_format_failure_as_feedback(mut self, on: bool) -> Self {
        self.add_format_failure_as_feedback = on;
        self
    }

    /// Writes new instructions with `proposer` instead of the built-in reflection prompt
    /// (DSPy's `instruction_proposer`); it runs with the reflection LM configured, when one is
    /// set, and then no reflection LM is required.
    pub fn instruction_proposer(mut self, proposer: impl InstructionProposer + 'static) -> Self {
        self.instruction_proposer = Some(CustomProposer(Arc::new(proposer)));
        self
    }

    /// The metric-call budget for a program with `num_preds` predictors.
    pub fn metric_call_budget(&self, num_preds: usize, trainset_len: usize, valset_len: Option<usize>) -> Result<usize> {
        match self.budget {
            Some(GepaBudget::Auto(mode)) => Ok(auto_budget(num_preds.max(1), mode.num_candidates(), valset_len.unwrap_or(trainset_len), 35, 5)),
            Some(GepaBudget::MaxFullEvals(n)) => Ok(n * (trainset_len + valset_len.unwrap_or(0))),
            Some(GepaBudget::MaxMetricCalls(n)) => Ok(n),
            // `max_metric_calls` of the run options doubles as GEPA's budget (and stays a hard cap).
            None => self
                .run
                .max_metric_calls
                .map(|n| n as usize)
                .ok_or_else(|| InputError::Invalid { needed_by: "GEPA".into(), message: "Exactly one of max_metric_calls, max_full_evals, auto must be set.".into() }.into()),
        }
    }
}

/// GEPA's `EpochShuffledBatchSampler`: the trainset ids shuffled each epoch, padded to a
/// multiple of the minibatch size with the least used ids; iteration `i` takes chunk `i`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct BatchSampler {
    size: usize,
    shuffled: Vec<usize>,
    epoch: Option<usize>,
}

impl BatchSampler {
    fn next(&mut self, trainset_len: usize, iteration: usize, rng: &mut SeededRng) -> Vec<usize> {
        let base = iteration * self.size;
        let epoch = match self.epoch {
            None => 0,
            Some(_) => base / self.shuffled.len().max(1),
        };
        if self.shuffled.is_empty() || self.epoch.is_none_or(|e| epoch > e) {
            self.epoch = Some(epoch);
            self.shuffled = (0..trainset_len).collect();
            self.shuffled.shuffle(rng);
            let mut counts = vec![1usize; trainset_len];
            let pad = (self.size - trainset_len % self.size) % self.size;
            for _ in 0..pad {
                // The least used id, the last one seen among ties (Counter.most_common()[::-1][0]).
                let min = counts.iter().copied().min().unwrap_or(0);
                let Some(&id) = self.shuffled.iter().rev().find(|&&id| counts[id] == min) else { break };
                self.shuffled.push(id);
                counts[id] += 1;
            }
        }
        let len = self.shuffled.len().max(1);
        let start = base % len;
        self.shuffled[start..(start + self.size).min(self.shuffled.len())].to_vec()
    }
}

/// The state of a run: candidates, their lineage and scores, the frontier.
#[derive(Clone, Serialize, Deserialize)]
struct State {
    candidates: Vec<Candidate>,
    parents: Vec<Vec<Option<usize>>>,
    val_scores: Vec<Vec<f64>>,
    next_component: Vec<usize>,
    discovered_at: Vec<u64>,
    frontier: ParetoFrontier,
    total_evals: u64,
    num_full_evals: usize,
    best_outputs: Vec<Vec<(usize, Value)>>,
}

impl State {
    fn aggregate(&self) -> Vec<f64> {
        self.val_scores.iter().map(|s| if s.is_empty() { f64::NEG_INFINITY } else { s.iter().sum::<f64>() / s.len() as f64 }).collect()
    }

    fn best(&self) -> usize {
        let agg = self.aggregate();
        (0..agg.len()).fold(0, |b, i| if agg[i] > agg[b] { i } else { b })
    }

    fn add(&mut self, candidate: Candidate, parents: Vec<usize>, run: &EvalRun, discovered_at: u64, track_outputs: bool) -> usize {
        let idx = self.candidates.len();
        let next = parents.iter().map(|&p| self.next_component[p]).max().unwrap_or(0);
        self.candidates.push(candidate);
        self.parents.push(parents.into_iter().map(Some).collect());
        self.next_component.push(next);
        self.discovered_at.push(discovered_at);
        for (i, &s) in run.scores.iter().enumerate() {
            let before = self.frontier.best_scores().get(i).copied().unwrap_or(f64::NEG_INFINITY);
            self.frontier.add_one(i, idx, s);
            if track_outputs {
                let out = run.outcomes[i].prediction.as_ref().map(|p| Value::Object(p.outputs().clone())).unwrap_or(Value::Null);
                if s > before {
                    self.best_outputs[i] = vec![(idx, out)];
                } else if s == before {
                    self.best_outputs[i].push((idx, out));
                }
            }
        }
        self.val_scores.push(run.scores.clone());
        self.num_full_evals += 1;
        idx
    }
}

/// GEPA's checkpoint, saved at the start of each iteration (as GEPA saves `gepa_state.bin` in
/// its `run_dir`): the state, the generators, the batch sampler, the merge bookkeeping, the
/// counters and the report's trials.
#[derive(Serialize, Deserialize)]
struct Saved {
    rng: RngState,
    adapter_rng: RngState,
    sampler: BatchSampler,
    state: State,
    trial_of_candidate: Vec<usize>,
    merges_due: usize,
    merges_tested: usize,
    last_iter_found_new: bool,
    merge_log: MergeLog,
    iteration: usize,
    accepted: usize,
    rejected: usize,
    skipped: usize,
    reflection_calls: usize,
    proposal_failures: Vec<String>,
    trials: Vec<Trial>,
}

/// One reflective record: DSPy's `{"Inputs", "Generated Outputs", "Feedback"}`.
fn reflective_record(inputs: &Map<String, Value>, outputs: &Map<String, Value>, feedback: String) -> Value {
    let mut record = Map::new();
    record.insert("Inputs".into(), Value::Object(inputs.clone()));
    record.insert("Generated Outputs".into(), Value::Object(outputs.clone()));
    record.insert("Feedback".into(), Value::String(feedback));
    Value::Object(record)
}

/// The predictor a reflective dataset is for.
#[derive(Clone, Copy)]
struct Target<'a> {
    name: &'a str,
    signature: &'a Signature,
}

/// DSPy's record of a call whose output did not parse: the raw response, and the format to follow
/// (the chat messages of the signature with no inputs, as `role: content` lines).
fn format_failure_record(inputs: &Map<String, Value>, completion: &str, signature: &Signature) -> Value {
    let outputs = format!("Couldn't parse the output as per the expected output format. The model's raw response was:\n```\n{completion}\n```\n\n");
    let mut structure = String::new();
    for message in ChatAdapter::new().format(signature, &[], &Map::new()) {
        let role = match message.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        structure.push_str(&format!("{role}: {}\n", message.content.text()));
    }
    let mut record = Map::new();
    record.insert("Inputs".into(), Value::Object(inputs.clone()));
    record.insert("Generated Outputs".into(), Value::String(outputs));
    record.insert("Feedback".into(), Value::String(format!("Your output failed to parse. Follow this structure:\n{structure}")));
    Value::Object(record)
}

fn feedback_text(score: Option<&Score>, failure: f64) -> String {
    match score {
        Some(Score { feedback: Some(f), .. }) => f.clone(),
        Some(s) => format!("This trajectory got a score of {}.", dspy_core::python::float_repr(s.value)),
        None => format!("This trajectory got a score of {}.", dspy_core::python::float_repr(failure)),
    }
}

#[async_trait::async_trait]
impl Optimizer for Gepa {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], valset: Option<&[Example]>, metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        if trainset.is_empty() {
            return Err(InputError::Dataset { needed_by: "GEPA".into(), message: "Trainset must be provided and non-empty".into() }.into());
        }
        let started = Instant::now();
        // Like DSPy's GEPA evaluations (`max_errors = len(batch) * 100`), failures never stop one.
        let engine = self.run.engine().no_error_limit().failure_score(self.failure_score);
        let fingerprint = checkpoint::fingerprint(self.settings(), &self.run, student, trainset, valset, metric);
        let mut ckpt = Checkpoint::open(&self.run, "GEPA", fingerprint, &engine)?;
        if let Some(done) = ckpt.finished(student)? {
            return Ok(done);
        }
        let (result, used) = usage::track(self.evolve(student, trainset, valset, metric, &engine, &mut ckpt)).await;
        let (program, report) = result?;
        ckpt.complete(program, report, used, &engine, started)
    }
}

impl Gepa {
    /// The settings a checkpoint must have been written with (models by name).
    fn settings(&self) -> Value {
        json!({
            "budget": self.budget,
            "reflection_minibatch_size": self.reflection_minibatch_size,
            "candidate_selection_strategy": self.candidate_selection_strategy,
            "component_selector": self.component_selector,
            "reflection_lm": model_name(self.reflection_lm.as_ref()),
            "skip_perfect_score": self.skip_perfect_score,
            "use_merge": self.use_merge,
            "max_merge_invocations": self.max_merge_invocations,
            "merge_val_overlap_floor": self.merge_val_overlap_floor,
            "failure_score": self.failure_score,
            "perfect_score": self.perfect_score,
            "track_best_outputs": self.track_best_outputs,
        })
    }

    fn build<P: Module + Clone>(&self, student: &P, candidate: &Candidate) -> P {
        let mut program = student.clone();
        for ((_, p), text) in program.named_predictors_mut().into_iter().zip(candidate) {
            if p.signature().instructions() != text {
                let updated = p.signature().clone().with_instructions(text.clone());
                p.set_signature(updated);
            }
        }
        program
    }

    async fn evolve<P: Module + Clone>(
        &self,
        student: &P,
        trainset: &[Example],
        valset: Option<&[Example]>,
        metric: &dyn Metric,
        engine: &Engine,
        ckpt: &mut Checkpoint,
    ) -> Result<(P, CompileReport)> {
        let names: Vec<String> = student.named_predictors().into_iter().map(|(n, _)| n).collect();
        if names.is_empty() {
            return Err(InputError::Program { needed_by: "GEPA".into(), message: "needs a program with at least one predictor".into() }.into());
        }
        let max_metric_calls = self.metric_call_budget(names.len(), trainset.len(), valset.map(<[Example]>::len))? as u64;
        if self.reflection_lm.is_none() && self.instruction_proposer.is_none() && dspy_core::settings::current().lm().is_none() {
            return Err(InputError::Invalid { needed_by: "GEPA".into(), message: "requires a reflection language model: set `reflection_lm` (a strong model works best) or configure an LM".into(), }.into());
        }
        let valset: &[Example] = valset.filter(|v| !v.is_empty()).unwrap_or(trainset);
        let mut report = CompileReport::new("GEPA");
        report.seed = Some(self.run.seed);
        let mut rng = seeded_rng(self.run.seed);
        let mut adapter_rng = seeded_rng(derive_seed(self.run.seed, 2));
        let mut sampler = BatchSampler { size: self.reflection_minibatch_size.max(1), ..BatchSampler::default() };

        let (mut state, mut trial_of_candidate, mut merges_due, mut merges_tested, mut last_iter_found_new, mut merge_log);
        let (mut iteration, mut accepted, mut rejected, mut skipped, mut reflection_calls, mut proposal_failures);
        if let Some(saved) = ckpt.resume::<Saved>()? {
            rng = saved.rng.rng();
            adapter_rng = saved.adapter_rng.rng();
            sampler = saved.sampler;
            state = saved.state;
            report.trials = saved.trials;
            (trial_of_candidate, merges_due, merges_tested, last_iter_found_new, merge_log) =
                (saved.trial_of_candidate, saved.merges_due, saved.merges_tested, saved.last_iter_found_new, saved.merge_log);
            (iteration, accepted, rejected, skipped, reflection_calls, proposal_failures) =
                (saved.iteration, saved.accepted, saved.rejected, saved.skipped, saved.reflection_calls, saved.proposal_failures);
        } else {
            // The seed candidate on the whole valset.
            let seed: Candidate = student.named_predictors().into_iter().map(|(_, p)| p.signature().instructions().to_string()).collect();
            let seed_run = engine.evaluate(&self.build(student, &seed), valset, metric).await?;
            if seed_run.errors == valset.len() {
                let first = seed_run.outcomes.iter().find_map(|o| o.error.clone()).unwrap_or_default();
                return Err(Error::NoResult { what: "GEPA".into(), reason: format!("the program failed on every validation example (first error: {first})") });
            }
            state = State {
                candidates: Vec::new(),
                parents: Vec::new(),
                val_scores: Vec::new(),
                next_component: Vec::new(),
                discovered_at: Vec::new(),
                frontier: ParetoFrontier::new(valset.len()),
                total_evals: 0,
                num_full_evals: 0,
                best_outputs: vec![Vec::new(); valset.len()],
            };
            state.add(seed, Vec::new(), &seed_run, 0, self.track_best_outputs);
            state.parents[0] = vec![None];
            state.total_evals = valset.len() as u64;
            report.trials.push(Trial::from_run("candidate 0 (seed)", Split::Val, &seed_run).details(json!({"candidate": 0, "parents": []})));
            (trial_of_candidate, merges_due, merges_tested, last_iter_found_new, merge_log) = (vec![0usize], 0usize, 0usize, false, MergeLog::default());
            (iteration, accepted, rejected, skipped, reflection_calls, proposal_failures) = (0usize, 0usize, 0usize, 0usize, 0usize, Vec::<String>::new());
        }

        loop {
            ckpt.save(
                iteration,
                &Saved {
                    rng: RngState::of(&rng),
                    adapter_rng: RngState::of(&adapter_rng),
                    sampler: sampler.clone(),
                    state: state.clone(),
                    trial_of_candidate: trial_of_candidate.clone(),
                    merges_due,
                    merges_tested,
                    last_iter_found_new,
                    merge_log: merge_log.clone(),
                    iteration,
                    accepted,
                    rejected,
                    skipped,
                    reflection_calls,
                    proposal_failures: proposal_failures.clone(),
                    trials: report.trials.clone(),
                },
                engine,
            )?;
            if state.total_evals >= max_metric_calls || engine.budget_ref().is_exhausted() {
                break;
            }
            let i = iteration;
            iteration += 1;

            // 1. A merge, when one is due after a new candidate.
            if self.use_merge {
                if merges_due > 0 && last_iter_found_new {
                    last_iter_found_new = false;
                    let agg = state.aggregate();
                    let merge_candidates = find_dominators(state.frontier.fronts(), &agg);
                    let floor = self.merge_val_overlap_floor;
                    let overlap_ok = |_: usize, _: usize| valset.len() >= floor;
                    let merged = attempt_merge(&mut rng, &agg, &merge_candidates, &mut merge_log, &state.candidates, &state.parents, &overlap_ok, 10);
                    if let Some((candidate, id1, id2, ancestor)) = merged {
                        merge_log.triplets.push((id1, id2, ancestor));
                        let subsample = merge_subsample(&state.val_scores[id1], &state.val_scores[id2], 5, &mut rng);
                        let before1: f64 = subsample.iter().map(|&k| state.val_scores[id1][k]).sum();
                        let before2: f64 = subsample.iter().map(|&k| state.val_scores[id2][k]).sum();
                        let examples: Vec<Example> = subsample.iter().map(|&k| valset[k].clone()).collect();
                        let run = engine.evaluate(&self.build(student, &candidate), &examples, metric).await?;
                        state.total_evals += run.metric_calls;
                        let new_sum: f64 = run.scores.iter().sum();
                        if new_sum >= before1.max(before2) {
                            let discovered = state.total_evals;
                            let full = engine.evaluate(&self.build(student, &candidate), valset, metric).await?;
                            state.total_evals += full.metric_calls;
                            let idx = state.add(candidate, vec![id1, id2], &full, discovered, self.track_best_outputs);
                            report.trials.push(
                                Trial::from_run(format!("candidate {idx} (merge of {id1} and {id2} via {ancestor})"), Split::Val, &full)
                                    .with_split_score(Split::MergeSubsample, run.score)
                                    .details(json!({"candidate": idx, "parents": [id1, id2], "ancestor": ancestor, "merge": true})),
                            );
                            trial_of_candidate.push(report.trials.len() - 1);
                            merges_due -= 1;
                            merges_tested += 1;
                        } else {
                            report.trials.push(
                                Trial::new(format!("merge of {id1} and {id2} via {ancestor} (rejected)"), run.score)
                                    .split(Split::MergeSubsample)
                                    .evaluated_on(examples.len())
                                    .details(json!({"parents": [id1, id2], "ancestor": ancestor, "merge": true, "accepted": false})),
                            );
                        }
                        continue;
                    }
                }
                last_iter_found_new = false;
            }

            // 2. Reflective mutation of a parent.
            let agg = state.aggregate();
            let parent = match self.candidate_selection_strategy {
                CandidateSelection::Pareto => state.frontier.select(&agg, &mut rng).unwrap_or_else(|| state.best()),
                CandidateSelection::CurrentBest => state.best(),
            };
            let ids = sampler.next(trainset.len(), i, &mut rng);
            let minibatch: Vec<Example> = ids.iter().map(|&k| trainset[k].clone()).collect();
            let parent_program = self.build(student, &state.candidates[parent]);
            let parent_run = engine.evaluate_traced(&parent_program, &minibatch, metric).await?;
            state.total_evals += parent_run.metric_calls;
            if self.skip_perfect_score && parent_run.scores.iter().all(|&s| s >= self.perfect_score) {
                skipped += 1;
                continue;
            }
            let components: Vec<usize> = match self.component_selector {
                ComponentSelection::RoundRobin => {
                    let c = state.next_component[parent];
                    state.next_component[parent] = (c + 1) % names.len();
                    vec![c]
                }
                ComponentSelection::All => (0..names.len()).collect(),
            };
            let ids_to_names: HashMap<PredictorId, String> = parent_program.named_predictors().into_iter().map(|(n, p)| (p.id(), n)).collect();
            let mut child = state.candidates[parent].clone();
            let mut changed = false;
            let mut dataset: Vec<(usize, Vec<Value>)> = Vec::new();
            for &c in &components {
                let signature = parent_program.named_predictors().into_iter().find(|(n, _)| *n == names[c]).map(|(_, p)| p.signature().clone());
                let Some(signature) = signature else { continue };
                let target = Target { name: &names[c], signature: &signature };
                let records = self.reflective_dataset(engine, &parent_run, &minibatch, &ids_to_names, target, metric, &mut adapter_rng).await;
                if !records.is_empty() {
                    dataset.push((c, records));
                }
            }
            match &self.instruction_proposer {
                Some(custom) if !dataset.is_empty() => {
                    reflection_calls += 1;
                    let current: BTreeMap<String, String> = names.iter().cloned().zip(state.candidates[parent].iter().cloned()).collect();
                    let reflective: BTreeMap<String, Vec<Value>> = dataset.iter().map(|(c, r)| (names[*c].clone(), r.clone())).collect();
                    let wanted: Vec<String> = dataset.iter().map(|(c, _)| names[*c].clone()).collect();
                    let proposal = custom.0.propose(&current, &reflective, &wanted);
                    let proposal = match &self.reflection_lm {
                        Some(lm) => engine.track(dspy_core::settings::context(dspy_core::Settings::new().lm(lm.clone()), proposal)).await.0,
                        None => engine.track(proposal).await.0,
                    };
                    match proposal {
                        Ok(new) => {
                            for (c, _) in &dataset {
                                if let Some(text) = new.get(&names[*c]).map(|t| t.trim()).filter(|t| !t.is_empty()) {
                                    changed |= child[*c] != text;
                                    child[*c] = text.to_string();
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!("GEPA: the instruction proposer failed: {e}");
                            proposal_failures.push(format!("iteration {}: {e}", i + 1));
                        }
                    }
                }
                Some(_) => {}
                None => {
                    for (c, records) in dataset {
                        reflection_calls += 1;
                        match self.propose(engine, &state.candidates[parent][c], records).await {
                            Ok(text) => {
                                child[c] = text;
                                changed = true;
                            }
                            Err(e) => {
                                tracing::warn!("GEPA: reflection for `{}` failed: {e}", names[c]);
                                proposal_failures.push(format!("iteration {}: {}: {e}", i + 1, names[c]));
                            }
                        }
                    }
                }
            }
            if !changed {
                skipped += 1;
                continue;
            }
            let child_run = engine.evaluate(&self.build(student, &child), &minibatch, metric).await?;
            state.total_evals += child_run.metric_calls;
            let (old_sum, new_sum): (f64, f64) = (parent_run.scores.iter().sum(), child_run.scores.iter().sum());
            if new_sum > old_sum {
                let discovered = state.total_evals;
                let full = engine.evaluate(&self.build(student, &child), valset, metric).await?;
                state.total_evals += full.metric_calls;
                let idx = state.add(child, vec![parent], &full, discovered, self.track_best_outputs);
                report.trials.push(
                    Trial::from_run(format!("candidate {idx} (from {parent}, rewrote {})", components.iter().map(|&c| names[c].as_str()).collect::<Vec<_>>().join(", ")), Split::Val, &full)
                        .with_split_score(Split::Minibatch, child_run.score)
                        .details(json!({"candidate": idx, "parents": [parent], "minibatch_before": old_sum, "minibatch_after": new_sum})),
                );
                trial_of_candidate.push(report.trials.len() - 1);
                accepted += 1;
                if self.use_merge {
                    last_iter_found_new = true;
                    if merges_tested < self.max_merge_invocations {
                        merges_due += 1;
                    }
                }
            } else {
                rejected += 1;
                report.trials.push(
                    Trial::new(
                        format!("proposal from {parent} for {} (rejected: {new_sum} ≤ {old_sum} on the minibatch)", components.iter().map(|&c| names[c].as_str()).collect::<Vec<_>>().join(", ")),
                        child_run.score,
                    )
                    .split(Split::Minibatch)
                    .evaluated_on(minibatch.len())
                    .lm_calls(child_run.lm_calls)
                    .details(json!({
                        "parents": [parent],
                        "accepted": false,
                        "minibatch_before": old_sum,
                        "minibatch_after": new_sum,
                        "proposed": components.iter().map(|&c| (names[c].clone(), json!(child[c]))).collect::<Map<String, Value>>(),
                    })),
                );
            }
        }

        let best = state.best();
        let agg = state.aggregate();
        report.best_trial = trial_of_candidate.get(best).copied();
        report.best_score = report.best_trial.map(|t| report.trials[t].score);
        let candidates: Vec<Value> = state
            .candidates
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let instructions: Map<String, Value> = names.iter().cloned().zip(c.iter().map(|t| json!(t))).collect();
                json!({
                    "instructions": instructions,
                    "parents": state.parents[k],
                    "val_score": agg[k],
                    "discovered_at_metric_calls": state.discovered_at[k],
                })
            })
            .collect();
        let mut extra = json!({
            "candidates": candidates,
            "best_candidate": best,
            "val_subscores": state.val_scores,
            "pareto_frontier": {
                "best_scores": state.frontier.best_scores(),
                "programs": state.frontier.fronts(),
                "aggregate": state.frontier.aggregate(),
                "non_dominated": find_dominators(state.frontier.fronts(), &agg),
            },
            "max_metric_calls": max_metric_calls,
            "total_metric_calls": state.total_evals,
            "num_full_val_evals": state.num_full_evals,
            "iterations": iteration,
            "accepted": accepted,
            "rejected": rejected,
            "skipped": skipped,
            "merges_accepted": merges_tested,
            "reflection_calls": reflection_calls,
            "proposal_failures": proposal_failures,
            "seed": self.run.seed,
        });
        if self.track_best_outputs {
            extra["best_outputs_valset"] = json!(state.best_outputs);
        }
        report.extra = extra;
        Ok((self.build(student, &state.candidates[best]), report))
    }

    /// DSPy's `make_reflective_dataset` for one predictor: per run of the minibatch, one call of
    /// that predictor (drawn at random when it ran several times) with its inputs, outputs and
    /// the metric's feedback on that predictor (DSPy's `metric(..., pred_name, pred_trace)`;
    /// LM calls of an LM-judged metric count against the budget). Runs that failed are left out,
    /// unless `add_format_failure_as_feedback` is on and this predictor's output failed to parse:
    /// then that call is shown, with the format it should have followed.
    #[allow(clippy::too_many_arguments)]
    async fn reflective_dataset(
        &self,
        engine: &Engine,
        run: &EvalRun,
        examples: &[Example],
        ids_to_names: &HashMap<PredictorId, String>,
        target: Target<'_>,
        metric: &dyn Metric,
        rng: &mut SeededRng,
    ) -> Vec<Value> {
        let name = target.name;
        let mut records = Vec::new();
        for (example, outcome) in examples.iter().zip(&run.outcomes) {
            let is_target = |id: &PredictorId| ids_to_names.get(id).is_some_and(|n| n == name);
            if self.add_format_failure_as_feedback
                && let Some(failed) = outcome.failed_calls.iter().find(|f| is_target(&f.predictor))
            {
                records.push(format_failure_record(&failed.inputs, &failed.completion, target.signature));
                continue;
            }
            let Some(prediction) = &outcome.prediction else { continue };
            let calls: Vec<_> = outcome.trace.iter().filter(|e| ids_to_names.get(&e.predictor).is_some_and(|n| n == name)).collect();
            let Some(entry) = calls.choose(rng) else { continue };
            let asked = engine.track(metric.try_score_predictor(example, prediction, &outcome.trace, PredictorCall { name, call: entry })).await.0;
            let feedback = match asked {
                Ok(score) => feedback_text(Some(&score), self.failure_score),
                Err(e) => {
                    tracing::warn!("GEPA: the metric's feedback on `{name}` failed: {e}; using the run's own");
                    feedback_text(outcome.score.as_ref(), self.failure_score)
                }
            };
            records.push(reflective_record(&entry.inputs, entry.outputs.outputs(), feedback));
        }
        records
    }

    /// DSPy's built-in proposer: `ProposeInstruction` through the JSON adapter.
    async fn propose(&self, engine: &Engine, current: &str, records: Vec<Value>) -> Result<String> {
        let inputs: Map<String, Value> =
            [("current_instruction".to_string(), json!(current)), ("examples_with_feedback".to_string(), Value::Array(records))].into_iter().collect();
        let out = predict_once(engine, self.reflection_lm.as_ref(), propose_instruction(), inputs, LmConfig::default(), Some(Arc::new(JSONAdapter::new()))).await?;
        let text = out.get("new_instruction").map(dspy_core::python::py_str).unwrap_or_default();
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Output { type_name: "new_instruction", reason: "the reflection LM returned an empty instruction".into() });
        }
        Ok(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_budget_matches_dspy() {
        // DSPy: light, 1 predictor, 30 examples: trials int(max(2*2*log2(6), 9)) = 10,
        // total = 30 + 30 + 10*35 + ((10+1)//5 + 1)*30 = 500.
        assert_eq!(auto_budget(1, 6, 30, 35, 5), 500);
        // Values computed with DSPy 3.4.1's `GEPA.auto_budget` (4 trials < 5 steps: one extra
        // final evaluation in the first).
        assert_eq!(auto_budget(1, 2, 10, 35, 5), 190);
        assert_eq!(auto_budget(1, 12, 60, 35, 5), 990);
        assert_eq!(auto_budget(3, 18, 300, 35, 5), 5440);
        assert!(Gepa::new().metric_call_budget(1, 10, None).is_err());
        assert_eq!(Gepa::new().max_full_evals(2).metric_call_budget(1, 10, Some(5)).unwrap(), 30);
        assert_eq!(Gepa::new().budget_metric_calls(77).metric_call_budget(1, 10, None).unwrap(), 77);
    }

    #[test]
    fn batch_sampler_pads_and_cycles() {
        let mut s = BatchSampler { size: 3, ..BatchSampler::default() };
        let mut rng = seeded_rng(0);
        let mut seen = [0usize; 7];
        for i in 0..3 {
            for id in s.next(7, i, &mut rng) {
                seen[id] += 1;
            }
        }
        // 7 ids padded to 9: every id once, two ids twice.
        assert_eq!(seen.iter().sum::<usize>(), 9);
        assert!(seen.iter().all(|&c| (1..=2).contains(&c)));
        // Next epoch reshuffles.
        assert_eq!(s.next(7, 3, &mut rng).len(), 3);
        assert_eq!(s.epoch, Some(1));
    }

    #[test]
    fn default_feedback_text() {
        assert_eq!(feedback_text(Some(&Score::from(1.0)), 0.0), "This trajectory got a score of 1.0.");
        assert_eq!(feedback_text(Some(&Score::with_feedback(0.0, "Wrong.")), 0.0), "Wrong.");
        assert_eq!(feedback_text(None, 0.0), "This trajectory got a score of 0.0.");
    }
}
