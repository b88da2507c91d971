//! SIMBA (DSPy's `dspy.SIMBA`, Stochastic Introspective Mini-Batch Ascent).
//!
//! Each step takes the next minibatch of the (shuffled) trainset and runs it
//! `num_candidates` times, each time with another LM sample (rollout ids `r₀…`, temperature 1.0;
//! the teacher's LM first when there is one) and, per example, a program drawn from the pool's
//! best by a softmax over their mean scores. Examples are ranked by how much their outcomes
//! vary (max − min score, then max, then max − mean): where some runs succeed and others fail
//! there is something to learn. For each of the most variable examples a pool program is drawn
//! again, a few of its demos dropped (a Poisson number, at least one once it holds
//! `max_demos`), and one strategy applied:
//!
//! * **append a demo**: the best run's trace becomes a demo of each predictor (unless its score
//!   is at or below the batch's 10th percentile);
//! * **append a rule**: the prompt model contrasts the best and the worst run with DSPy's
//!   `OfferFeedback` signature and writes advice per module, appended to its instructions
//!   (unless the best is at or below the 10th percentile or the worst at or above the 90th).
//!
//! The new programs are scored on the same minibatch, the best of the step is kept as that
//! step's winner, and all join the pool. At the end up to `num_candidates + 1` winners, evenly
//! spaced over the steps (the baseline first), are scored on the whole trainset; the best is
//! returned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use dspy_core::evaluate::{Metric, percentage};
use dspy_core::module::{ModuleExt, inspect_modules};
use dspy_core::trace::{PredictorId, TraceEntry};
use dspy_core::{Error, Example, InputError, LanguageModel, LmConfig, Module, Prediction, Result, Settings, settings, usage};
use rand::RngExt;
use rand::seq::{IndexedRandom, SliceRandom};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::checkpoint::{self, Checkpoint, RngState, model_name};
use crate::engine::{ConfiguredLm, Engine, RunConfig, SeededRng, Traces, derive_seed, seeded_rng, with_rollout};
use crate::proposer::{offer_feedback, predict_once};
use crate::tpe::weighted_index;
use crate::{CompileReport, Compiled, Optimizer, Split, Trial, augmented_demo};

/// SIMBA: stochastic mini-batch ascent with self-reflective rules and demos.
///
/// Defaults as DSPy: `bsize = 32`, `num_candidates = 6`, `max_steps = 8`, `max_demos = 4`,
/// `demo_input_field_maxlen = 100_000`, `temperature_for_sampling = 0.2`,
/// `temperature_for_candidates = 0.2`, seed 0; the prompt model is the configured LM.
/// With `max_demos = 0` only rules are appended. The trainset needs at least `bsize` examples;
/// the valset is not used (DSPy's SIMBA selects on the trainset).
///
/// Cost per step: `num_candidates × bsize` program runs (the trajectories), up to
/// `num_candidates + 1` prompt-model calls (one per rule), and up to
/// `(num_candidates + 1) × bsize` runs to score the new programs; at the end up to
/// `(num_candidates + 1) × |trainset|` runs. Every run is also a metric call.
///
/// Resumable (DSPy's SIMBA is not): with [`Simba::checkpoint_dir`] the pool, the winners and
/// the generators are saved after each step, and a killed run started again resumes at the
/// next step ([`crate::checkpoint`]).
#[derive(Clone, Debug)]
pub struct Simba {
    /// Examples per minibatch.
    pub bsize: usize,
    /// Samples per example and new programs per step.
    pub num_candidates: usize,
    /// Steps.
    pub max_steps: usize,
    /// Demos a predictor holds before some are dropped (0: rules only).
    pub max_demos: usize,
    /// The model that writes the rules (the configured LM when `None`).
    pub prompt_model: Option<Arc<dyn LanguageModel>>,
    /// A teacher LM used for the first of the samples (DSPy's `teacher_settings`).
    pub teacher_lm: Option<Arc<dyn LanguageModel>>,
    /// Characters kept of each input field of a new demo.
    pub demo_input_field_maxlen: usize,
    /// Softmax temperature when drawing programs for the samples.
    pub temperature_for_sampling: f64,
    /// Softmax temperature when drawing programs to improve.
    pub temperature_for_candidates: f64,
    /// The program's code shown to the prompt model; by default the program's
    /// [`definition`](Module::definition) (DSPy's `inspect.getsource` of its class), or for
    /// modules without one its [`source_code`](Module::source_code).
    pub program_code: Option<String>,
    /// Seed, concurrency, error limit, budgets, progress.
    pub run: RunConfig,
}

impl Default for Simba {
    fn default() -> Self {
        Simba {
            bsize: 32,
            num_candidates: 6,
            max_steps: 8,
            max_demos: 4,
            prompt_model: None,
            teacher_lm: None,
            demo_input_field_maxlen: 100_000,
            temperature_for_sampling: 0.2,
            temperature_for_candidates: 0.2,
            program_code: None,
            run: RunConfig::default(),
        }
    }
}

impl_run_options!(Simba, checkpoint);

impl Simba {
    /// DSPy's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `bsize`.
    pub fn bsize(mut self, n: usize) -> Self {
        self.bsize = n.max(1);
        self
    }

    /// Sets `num_candidates`.
    pub fn num_candidates(mut self, n: usize) -> Self {
        self.num_candidates = n.max(1);
        self
    }

    /// Sets `max_steps`.
    pub fn max_steps(mut self, n: usize) -> Self {
        self.max_steps = n;
        self
    }

    /// Sets `max_demos`.
    pub fn max_demos(mut self, n: usize) -> Self {
        self.max_demos = n;
        self
    }

    /// Writes rules with this model.
    pub fn prompt_model(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.prompt_model = Some(lm.into_shared());
        self
    }

    /// Uses this LM for the first sample of each example.
    pub fn teacher_lm(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.teacher_lm = Some(lm.into_shared());
        self
    }

    /// Shows this code to the prompt model instead of the program's own.
    pub fn program_code(mut self, code: impl Into<String>) -> Self {
        self.program_code = Some(code.into());
        self
    }
}

/// SIMBA's checkpoint after a step: the pool (as program states), its scores, the winners,
/// the trainset order and position, the generators and the report so far.
#[derive(Serialize, Deserialize)]
struct Saved {
    steps_done: usize,
    rng: RngState,
    rng_np: RngState,
    programs: Vec<Value>,
    scores: Vec<Vec<f64>>,
    winners: Vec<Value>,
    data: Vec<usize>,
    instance: usize,
    steps_log: Vec<Value>,
    runs_ok: usize,
    trials: Vec<Trial>,
}

/// A program to run with the LM to put in the settings (if any) on one example (index).
type Pair<P> = (P, Option<Arc<dyn LanguageModel>>, usize);

/// One sampled run: what DSPy's `wrap_program` returns.
#[derive(Clone, Debug)]
struct Outcome {
    example: usize,
    prediction: Option<Prediction>,
    /// `(predictor name, entry)` for the predictor calls of known predictors.
    trace: Vec<(String, TraceEntry)>,
    score: f64,
    feedback: Option<String>,
}

/// A sample's LM: a rollout of the program's own LM(s), or the teacher.
#[derive(Clone, Copy, Debug)]
enum Model {
    Teacher(u64),
    Rollout(u64),
}

/// DSPy's strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    AppendDemo,
    AppendRule,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::AppendDemo => "append_a_demo",
            Strategy::AppendRule => "append_a_rule",
        }
    }
}

/// numpy's `percentile` (linear interpolation).
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// A Poisson draw (Knuth's method; the means here are small).
fn poisson(lambda: f64, rng: &mut SeededRng) -> usize {
    if lambda <= 0.0 {
        return 0;
    }
    let limit = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit || k > 1000 {
            return k;
        }
        k += 1;
    }
}

/// Python's `round` (half to even) for non-negative values.
fn round_half_even(x: f64) -> usize {
    let r = x.round();
    let r = if (x - x.trunc() - 0.5).abs() < 1e-12 && r % 2.0 != 0.0 { r - 1.0 } else { r };
    r.max(0.0) as usize
}

fn mask_json(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
}

#[async_trait::async_trait]
impl Optimizer for Simba {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], _valset: Option<&[Example]>, metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        if trainset.len() < self.bsize {
            return Err(InputError::Dataset { needed_by: "SIMBA".into(), message: format!("Trainset too small: {} < {}", trainset.len(), self.bsize) }.into());
        }
        let started = Instant::now();
        let engine = self.run.engine();
        let fingerprint = checkpoint::fingerprint(self.settings(), &self.run, student, trainset, None, metric);
        let mut ckpt = Checkpoint::open(&self.run, "SIMBA", fingerprint, &engine)?;
        if let Some(done) = ckpt.finished(student)? {
            return Ok(done);
        }
        let (result, used) = usage::track(self.ascend(student, trainset, metric, &engine, &mut ckpt)).await;
        let (program, report) = result?;
        ckpt.complete(program, report, used, &engine, started)
    }
}

impl Simba {
    /// The settings a checkpoint must have been written with (models by name).
    fn settings(&self) -> Value {
        json!({
            "bsize": self.bsize,
            "num_candidates": self.num_candidates,
            "max_steps": self.max_steps,
            "max_demos": self.max_demos,
            "prompt_model": model_name(self.prompt_model.as_ref()),
            "teacher_lm": model_name(self.teacher_lm.as_ref()),
            "demo_input_field_maxlen": self.demo_input_field_maxlen,
            "temperature_for_sampling": self.temperature_for_sampling,
            "temperature_for_candidates": self.temperature_for_candidates,
            "program_code": self.program_code,
        })
    }

    /// `student` with a saved program state.
    fn restored<P: Module + Clone>(student: &P, state: &Value) -> Result<P> {
        let mut program = student.clone();
        program.apply_state(state)?;
        Ok(program)
    }

    fn average(scores: &[Vec<f64>], idx: usize) -> f64 {
        match scores.get(idx) {
            Some(s) if !s.is_empty() => s.iter().sum::<f64>() / s.len() as f64,
            _ => 0.0,
        }
    }

    /// The `k` best programs by mean score, with the baseline (0) always in.
    fn top_k_plus_baseline(scores: &[Vec<f64>], k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| Self::average(scores, b).total_cmp(&Self::average(scores, a)));
        let mut top: Vec<usize> = order.into_iter().take(k).collect();
        if !top.contains(&0)
            && let Some(last) = top.last_mut()
        {
            *last = 0;
        }
        let mut seen = Vec::new();
        top.retain(|i| {
            let new = !seen.contains(i);
            seen.push(*i);
            new
        });
        top
    }

    fn softmax_sample(scores: &[Vec<f64>], idxs: &[usize], temperature: f64, rng: &mut SeededRng) -> usize {
        let exps: Vec<f64> = idxs.iter().map(|&i| (Self::average(scores, i) / temperature).exp()).collect();
        let sum: f64 = exps.iter().sum();
        if !(sum > 0.0 && sum.is_finite()) {
            return *idxs.choose(rng).unwrap_or(&0);
        }
        idxs[weighted_index(&exps, rng)]
    }

    /// The program with a sample's LM, and the LM to put in the settings (if any).
    fn with_model<P: Module + Clone>(&self, program: &P, model: Model) -> (P, Option<Arc<dyn LanguageModel>>) {
        match model {
            Model::Rollout(r) => with_rollout(program, r, settings::current().lm()),
            Model::Teacher(r) => {
                let mut copy = program.clone();
                let teacher: Option<Arc<dyn LanguageModel>> = self
                    .teacher_lm
                    .clone()
                    .map(|t| Arc::new(ConfiguredLm::new(t, LmConfig { rollout_id: Some(r), ..LmConfig::default() })) as Arc<dyn LanguageModel>);
                for (_, p) in copy.named_predictors_mut() {
                    p.set_lm(teacher.clone());
                }
                (copy, None)
            }
        }
    }

    /// Runs each (program, LM, example) and scores it, `engine`'s concurrency at a time.
    async fn run_pairs<P: Module>(
        &self,
        engine: &Engine,
        pairs: &[Pair<P>],
        examples: &[Example],
        metric: &dyn Metric,
    ) -> Vec<Outcome> {
        engine
            .map_bounded(pairs.iter(), |(program, ctx, ex)| async move {
                let names: HashMap<PredictorId, String> = program.named_predictors().into_iter().map(|(n, p)| (p.id(), n)).collect();
                let run = engine.run_example(program, &examples[*ex], Some(metric), Traces::Keep);
                let outcome = match ctx {
                    Some(lm) => settings::context(Settings::new().lm(lm.clone()), run).await,
                    None => run.await,
                };
                let trace = outcome.trace.iter().filter_map(|e| names.get(&e.predictor).map(|n| (n.clone(), e.clone()))).collect();
                Outcome {
                    example: *ex,
                    score: outcome.value_or(engine.failure_value()),
                    feedback: outcome.score.as_ref().and_then(|s| s.feedback.clone()),
                    prediction: outcome.prediction,
                    trace,
                }
            })
            .await
    }

    async fn ascend<P: Module + Clone>(&self, student: &P, trainset: &[Example], metric: &dyn Metric, engine: &Engine, ckpt: &mut Checkpoint) -> Result<(P, CompileReport)> {
        let mut report = CompileReport::new("SIMBA");
        report.seed = Some(self.run.seed);
        let mut rng = seeded_rng(self.run.seed);
        let mut rng_np = seeded_rng(derive_seed(self.run.seed, 1));
        let strategies: Vec<Strategy> = if self.max_demos > 0 { vec![Strategy::AppendDemo, Strategy::AppendRule] } else { vec![Strategy::AppendRule] };

        let mut programs: Vec<P> = vec![student.clone()];
        let mut scores: Vec<Vec<f64>> = vec![Vec::new()];
        let mut winners: Vec<P> = vec![student.clone()];
        let mut data: Vec<usize> = (0..trainset.len()).collect();
        data.shuffle(&mut rng);
        let mut instance = 0usize;
        let first_lm = student.named_predictors().into_iter().find_map(|(_, p)| p.lm()).or_else(|| settings::current().lm());
        let start_rollout = first_lm.as_ref().and_then(|lm| lm.defaults().rollout_id).unwrap_or(0);
        let mut steps_log = Vec::new();
        let mut runs_ok = 0usize;
        let mut first_step = 0;
        if let Some(saved) = ckpt.resume::<Saved>()? {
            first_step = saved.steps_done;
            rng = saved.rng.rng();
            rng_np = saved.rng_np.rng();
            programs = saved.programs.iter().map(|s| Self::restored(student, s)).collect::<Result<_>>()?;
            winners = saved.winners.iter().map(|s| Self::restored(student, s)).collect::<Result<_>>()?;
            (scores, data, instance, steps_log, runs_ok, report.trials) = (saved.scores, saved.data, saved.instance, saved.steps_log, saved.runs_ok, saved.trials);
        }

        for step in first_step..self.max_steps {
            if engine.budget_ref().is_exhausted() {
                break;
            }
            // 1. The next minibatch.
            if instance + self.bsize > trainset.len() {
                data.shuffle(&mut rng);
                instance = 0;
            }
            let batch: Vec<usize> = data[instance..instance + self.bsize].to_vec();
            instance += self.bsize;

            // 2. Sample trajectories: per model, per example, a program drawn from the pool's best.
            let mut models = Vec::with_capacity(self.num_candidates);
            for i in 0..self.num_candidates {
                let r = start_rollout + i as u64;
                models.push(if i == 0 && self.teacher_lm.is_some() { Model::Teacher(r) } else { Model::Rollout(r) });
            }
            let top = Self::top_k_plus_baseline(&scores, self.num_candidates);
            let mut pairs = Vec::with_capacity(self.num_candidates * self.bsize);
            for &model in &models {
                for &ex in &batch {
                    let chosen = Self::softmax_sample(&scores, &top, self.temperature_for_sampling, &mut rng);
                    let (program, ctx) = self.with_model(&programs[chosen], model);
                    pairs.push((program, ctx, ex));
                }
            }
            let outputs = self.run_pairs(engine, &pairs, trainset, metric).await;
            drop(pairs);
            runs_ok += outputs.iter().filter(|o| o.prediction.is_some()).count();

            // 3. Buckets per example, most variable first.
            let all: Vec<f64> = outputs.iter().map(|o| o.score).collect();
            let p10 = percentile(&all, 10.0);
            let p90 = percentile(&all, 90.0);
            let mut buckets: Vec<(Vec<Outcome>, (f64, f64, f64))> = (0..batch.len())
                .map(|i| {
                    let mut bucket: Vec<Outcome> = outputs.iter().skip(i).step_by(self.bsize).cloned().collect();
                    bucket.sort_by(|a, b| b.score.total_cmp(&a.score));
                    let max = bucket.first().map_or(0.0, |o| o.score);
                    let min = bucket.last().map_or(0.0, |o| o.score);
                    let avg = bucket.iter().map(|o| o.score).sum::<f64>() / bucket.len().max(1) as f64;
                    (bucket, (max - min, max, max - avg))
                })
                .collect();
            buckets.sort_by(|a, b| {
                let (x, y) = (a.1, b.1);
                y.0.total_cmp(&x.0).then(y.1.total_cmp(&x.1)).then(y.2.total_cmp(&x.2))
            });
            let baseline = all.iter().sum::<f64>() / all.len().max(1) as f64;

            // 4. New candidates from the top buckets.
            let mut candidates: Vec<(P, String)> = Vec::new();
            for (bucket, _) in &buckets {
                let top = Self::top_k_plus_baseline(&scores, self.num_candidates);
                let source = Self::softmax_sample(&scores, &top, self.temperature_for_candidates, &mut rng);
                let mut candidate = programs[source].clone();
                let max_demos = if self.max_demos > 0 { self.max_demos } else { 3 };
                let num_demos = candidate.named_predictors().iter().map(|(_, p)| p.demos().len()).max().unwrap_or(0);
                let to_drop = poisson(num_demos as f64 / max_demos as f64, &mut rng_np).max(usize::from(num_demos >= max_demos)).min(num_demos);
                let dropped: Vec<usize> = (0..to_drop).map(|_| rng.random_range(0..num_demos)).collect();
                for (_, p) in candidate.named_predictors_mut() {
                    let kept: Vec<Example> = p.demos().iter().enumerate().filter(|(i, _)| !dropped.contains(i)).map(|(_, d)| d.clone()).collect();
                    p.set_demos(kept);
                }
                let strategy = *strategies.choose(&mut rng).unwrap_or(&Strategy::AppendRule);
                let applied = match strategy {
                    Strategy::AppendDemo => Ok(self.append_demo(bucket, &mut candidate, p10)),
                    Strategy::AppendRule => self.append_rule(engine, bucket, &mut candidate, trainset, p10, p90).await,
                };
                match applied {
                    Ok(applied) => {
                        let what = format!("{} from program {source}{}{}", strategy.name(), if applied { "" } else { " (skipped)" }, if to_drop > 0 { format!(", {to_drop} demo(s) dropped") } else { String::new() });
                        candidates.push((candidate, what));
                    }
                    Err(e) => {
                        tracing::warn!("SIMBA: strategy failed with error: {e}");
                        continue;
                    }
                }
                if candidates.len() > self.num_candidates {
                    break;
                }
            }

            // 5–6. Score the new programs on the same minibatch.
            let pairs: Vec<Pair<P>> =
                candidates.iter().flat_map(|(c, _)| batch.iter().map(move |&ex| (c.clone(), None, ex))).collect();
            let outputs = self.run_pairs(engine, &pairs, trainset, metric).await;
            drop(pairs);
            runs_ok += outputs.iter().filter(|o| o.prediction.is_some()).count();
            let mut candidate_scores = Vec::with_capacity(candidates.len());
            for (c, chunk) in outputs.chunks(self.bsize.max(1)).enumerate() {
                let s: Vec<f64> = chunk.iter().map(|o| o.score).collect();
                let avg = s.iter().sum::<f64>() / s.len().max(1) as f64;
                let trial = Trial::new(format!("step {}, candidate {}: {}", step + 1, c + 1, candidates[c].1), percentage(avg * s.len() as f64, s.len()))
                    .split(Split::Minibatch)
                    .evaluated_on(chunk.len())
                    .details(json!({"step": step, "program": programs.len() + c}));
                report.trials.push(trial);
                candidate_scores.push((avg, s));
            }

            // 7. The step's winner.
            if let Some(best) = candidate_scores.iter().enumerate().fold(None, |best: Option<(usize, f64)>, (i, (s, _))| match best {
                Some((_, b)) if b >= *s => best,
                _ => Some((i, *s)),
            }) {
                winners.push(candidates[best.0].0.clone());
            }
            steps_log.push(json!({
                "step": step,
                "baseline_minibatch_score": baseline,
                "p10": p10,
                "p90": p90,
                "candidate_scores": candidate_scores.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            }));
            // 8. Everything joins the pool.
            for ((candidate, _), (_, s)) in candidates.into_iter().zip(candidate_scores) {
                programs.push(candidate);
                scores.push(s);
            }
            let saved = Saved {
                steps_done: step + 1,
                rng: RngState::of(&rng),
                rng_np: RngState::of(&rng_np),
                programs: programs.iter().map(|p| Value::Object(p.to_state())).collect(),
                scores: scores.clone(),
                winners: winners.iter().map(|p| Value::Object(p.to_state())).collect(),
                data: data.clone(),
                instance,
                steps_log: steps_log.clone(),
                runs_ok,
                trials: report.trials.clone(),
            };
            ckpt.save(step + 1, &saved, engine)?;
        }

        // Validation: evenly spaced winners on the whole trainset.
        let m = winners.len() - 1;
        let n = self.num_candidates + 1;
        let mut idxs: Vec<usize> = if m < 1 { vec![0; n] } else { (0..n).map(|i| round_half_even(i as f64 * m as f64 / (n - 1) as f64)).collect() };
        let mut seen = Vec::new();
        idxs.retain(|i| {
            let new = !seen.contains(i);
            seen.push(*i);
            new
        });
        let mut best: Option<(f64, usize)> = None;
        let mut final_scores = Vec::new();
        for &i in &idxs {
            match engine.evaluate(&winners[i], trainset, metric).await {
                Ok(run) => {
                    runs_ok += run.outcomes.iter().filter(|o| o.prediction.is_some()).count();
                    final_scores.push(run.score);
                    report.trials.push(Trial::from_run(format!("winner of step {i} (0 = baseline)"), Split::Train, &run).details(json!({"winner": i})));
                    if best.is_none_or(|(b, _)| run.score > b) {
                        best = Some((run.score, i));
                        report.best_trial = Some(report.trials.len() - 1);
                    }
                }
                Err(e) => {
                    tracing::warn!("SIMBA: evaluating winner {i} failed: {e}");
                    final_scores.push(0.0);
                    report.trials.push(Trial::new(format!("winner of step {i} (evaluation failed)"), 0.0).split(Split::Train));
                }
            }
        }
        if runs_ok == 0 {
            return Err(Error::NoResult { what: "SIMBA".into(), reason: "no program run succeeded (is an LM configured, or the budget too small?)".into() });
        }
        let (best_score, best_idx) = best.unwrap_or((0.0, 0));
        report.best_score = Some(best_score);
        report.extra = json!({
            "steps": steps_log,
            "pool_size": programs.len(),
            "winners_validated": idxs,
            "final_scores": final_scores,
            "stopped_by_budget": engine.budget_ref().is_exhausted(),
        });
        Ok((winners[best_idx].clone(), report))
    }

    /// DSPy's `append_a_demo`: the best run's last call of each predictor becomes its demo.
    fn append_demo<P: Module>(&self, bucket: &[Outcome], system: &mut P, p10: f64) -> bool {
        let Some(good) = bucket.first() else { return false };
        if good.score <= p10 {
            return false;
        }
        let mut by_name: Vec<(String, Example)> = Vec::new();
        for (name, entry) in &good.trace {
            let mut entry = entry.clone();
            for v in entry.inputs.values_mut() {
                let text = dspy_core::python::py_str(v);
                if self.demo_input_field_maxlen > 0 && text.chars().count() > self.demo_input_field_maxlen {
                    let cut: String = text.chars().take(self.demo_input_field_maxlen).collect();
                    *v = Value::String(format!("{cut}\n\t\t... <TRUNCATED FOR BREVITY>"));
                }
            }
            let demo = augmented_demo(&entry);
            match by_name.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = demo,
                None => by_name.push((name.clone(), demo)),
            }
        }
        for (name, p) in system.named_predictors_mut() {
            if let Some((_, demo)) = by_name.iter().find(|(n, _)| *n == name) {
                let mut demos = p.demos().to_vec();
                demos.push(demo.clone());
                p.set_demos(demos);
            }
        }
        true
    }

    /// DSPy's `append_a_rule`: advice per module from contrasting the best and worst runs.
    async fn append_rule<P: Module>(&self, engine: &Engine, bucket: &[Outcome], system: &mut P, trainset: &[Example], p10: f64, p90: f64) -> Result<bool> {
        let (Some(good), Some(bad)) = (bucket.first(), bucket.last()) else { return Ok(false) };
        if good.score <= p10 || bad.score >= p90 {
            return Ok(false);
        }
        let na_prediction = json!({"N/A": "Prediction not available"});
        let trajectory = |o: &Outcome| -> Value {
            Value::Array(
                o.trace
                    .iter()
                    .map(|(name, e)| json!({"module_name": name, "inputs": e.inputs, "outputs": e.outputs.outputs()}))
                    .collect(),
            )
        };
        let outputs = |o: &Outcome| -> Value { o.prediction.as_ref().map(|p| Value::Object(p.outputs().clone())).unwrap_or(json!({})) };
        let info = |o: &Outcome| -> Value {
            o.feedback.as_ref().map(|f| json!({"feedback": f})).unwrap_or(json!({}))
        };
        let (mut good_traj, mut good_out, mut good_score) = (trajectory(good), outputs(good), json!(good.score));
        let (mut bad_traj, mut bad_out, mut bad_score) = (trajectory(bad), outputs(bad), json!(bad.score));
        if good.score <= bad.score {
            if good.score > p90 {
                (bad_traj, bad_out, bad_score) = (json!([]), na_prediction.clone(), json!("N/A"));
            } else {
                (good_traj, good_out, good_score) = (json!([]), na_prediction.clone(), json!("N/A"));
            }
        }
        let example = &trainset[good.example];
        let module_names: Vec<String> = system.named_predictors().into_iter().map(|(n, _)| n).collect();
        let as_text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => mask_json(other),
        };
        let inputs: Map<String, Value> = [
            ("program_code", json!(self.program_code.clone().or_else(|| system.definition()).unwrap_or_else(|| system.source_code()))),
            ("modules_defn", json!(inspect_modules(system))),
            ("program_inputs", json!(mask_json(&Value::Object(example.inputs().into_map())))),
            ("oracle_metadata", json!(mask_json(&Value::Object(example.labels().into_map())))),
            ("better_program_trajectory", json!(mask_json(&good_traj))),
            ("better_program_outputs", json!(mask_json(&good_out))),
            ("worse_program_trajectory", json!(mask_json(&bad_traj))),
            ("worse_program_outputs", json!(mask_json(&bad_out))),
            ("worse_reward_value", json!(as_text(&bad_score))),
            ("better_reward_value", json!(as_text(&good_score))),
            ("worse_reward_info", json!(mask_json(&info(bad)))),
            ("better_reward_info", json!(mask_json(&info(good)))),
            ("module_names", json!(mask_json(&json!(module_names)))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let advice = predict_once(engine, self.prompt_model.as_ref(), offer_feedback(), inputs, LmConfig::default(), None).await?;
        let advice = match advice.get("module_advice") {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        for (name, p) in system.named_predictors_mut() {
            if let Some(text) = advice.get(&name) {
                let updated = p.signature().clone().append_instructions(&dspy_core::python::py_str(text));
                p.set_signature(updated);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_follow_python() {
        assert!((percentile(&[0.0, 1.0, 1.0, 1.0], 10.0) - 0.3).abs() < 1e-12);
        assert!((percentile(&[1.0, 0.0], 90.0) - 0.9).abs() < 1e-12);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(1.4), 1);
        // 8 winners after the baseline, 7 picks: DSPy's [0, 1, 3, 4, 5, 7, 8].
        let m = 8.0;
        let idx: Vec<usize> = (0..7).map(|i| round_half_even(i as f64 * m / 6.0)).collect();
        assert_eq!(idx, vec![0, 1, 3, 4, 5, 7, 8]);
        let scores = vec![vec![], vec![0.5], vec![0.9], vec![0.1]];
        assert_eq!(Simba::top_k_plus_baseline(&scores, 2), vec![2, 0]);
        assert_eq!(Simba::top_k_plus_baseline(&scores, 10), vec![2, 1, 3, 0]);
        let mut rng = seeded_rng(0);
        let draws: Vec<usize> = (0..200).map(|_| poisson(1.0, &mut rng)).collect();
        let mean = draws.iter().sum::<usize>() as f64 / 200.0;
        assert!((mean - 1.0).abs() < 0.25, "{mean}");
    }
}
