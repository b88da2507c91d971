//! COPRO (DSPy's `dspy.COPRO`): coordinate ascent over each predictor's instruction and output
//! prefix. A prompt model proposes `breadth − 1` instructions (plus the current one) per
//! predictor; each is scored on the trainset; then, `depth − 1` more times, the prompt model
//! sees the best attempts so far with their scores and proposes `breadth` new ones. Each
//! predictor keeps its best instruction; the best program overall is returned, and every
//! candidate is in the report.

use std::sync::Arc;
use std::time::Instant;

use dspy_core::evaluate::Metric;
use dspy_core::{Error, Example, InputError, LanguageModel, LmConfig, Module, Prediction, Result, Signature, usage};
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::{Engine, RunConfig};
use crate::proposer::{basic_generate_instruction, generate_instruction_given_attempts, predict_once};
use crate::{CompileReport, Compiled, Optimizer, Split, Trial};

/// COPRO: instruction (and output-prefix) search by breadth × depth coordinate ascent.
///
/// Defaults as DSPy: `breadth = 10`, `depth = 3`, `init_temperature = 1.4`, the prompt model
/// is the configured LM. `breadth` must be greater than 1.
///
/// Cost: per predictor, one prompt-model call (with `n = breadth − 1`) to start and one (with
/// `n = breadth`) after each of the first `depth − 1` rounds; about `depth × breadth`
/// evaluations on the whole trainset per predictor (more for programs with several
/// predictors, whose every candidate is re-evaluated each round, as DSPy does), each
/// `|trainset|` program runs and metric calls. The valset is not used (DSPy's COPRO evaluates
/// on the trainset).
///
/// ```no_run
/// # async fn demo(student: dspy_core::Predict, trainset: Vec<dspy_core::Example>, metric: &dyn dspy_core::evaluate::Metric) -> dspy_core::Result<()> {
/// use dspy_optimizers::{Copro, Optimizer};
/// let compiled = Copro::new().breadth(4).depth(2).seed(0).compile(&student, &trainset, metric).await?;
/// println!("{}", compiled.report);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Copro {
    /// The model that proposes instructions (the configured LM when `None`).
    pub prompt_model: Option<Arc<dyn LanguageModel>>,
    /// New instructions per round (> 1).
    pub breadth: usize,
    /// Rounds.
    pub depth: usize,
    /// The proposals' temperature.
    pub init_temperature: f64,
    /// Also report the min/max/mean/std of the best and latest scores per round.
    pub track_stats: bool,
    /// Seed, concurrency, error limit, budgets, progress.
    pub run: RunConfig,
}

impl Default for Copro {
    fn default() -> Self {
        Copro { prompt_model: None, breadth: 10, depth: 3, init_temperature: 1.4, track_stats: false, run: RunConfig::default() }
    }
}

impl_run_options!(Copro);

impl Copro {
    /// DSPy's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Proposes with this model.
    pub fn prompt_model(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.prompt_model = Some(lm.into_shared());
        self
    }

    /// Sets `breadth`.
    pub fn breadth(mut self, n: usize) -> Self {
        self.breadth = n;
        self
    }

    /// Sets `depth`.
    pub fn depth(mut self, n: usize) -> Self {
        self.depth = n;
        self
    }

    /// Sets the proposals' temperature.
    pub fn init_temperature(mut self, t: f64) -> Self {
        self.init_temperature = t;
        self
    }

    /// Reports per-round statistics.
    pub fn track_stats(mut self, on: bool) -> Self {
        self.track_stats = on;
        self
    }
}

/// One proposal: an instruction and an output prefix.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct Proposal {
    instruction: String,
    prefix: String,
}

/// One evaluated candidate of one predictor.
#[derive(Clone)]
struct Evaluated<P> {
    proposal: Proposal,
    score: f64,
    depth: usize,
    program: P,
}

/// Round statistics (DSPy's `results_best` / `results_latest`).
#[derive(Clone, Debug, Default, Serialize)]
struct Stats {
    depth: Vec<usize>,
    max: Vec<f64>,
    average: Vec<f64>,
    min: Vec<f64>,
    std: Vec<f64>,
}

impl Stats {
    fn push(&mut self, depth: usize, scores: &[f64]) {
        if scores.is_empty() {
            return;
        }
        let n = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / n;
        self.depth.push(depth);
        self.max.push(scores.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        self.min.push(scores.iter().copied().fold(f64::INFINITY, f64::min));
        self.average.push(mean);
        self.std.push((scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt());
    }
}

fn clean(text: &str) -> String {
    text.trim_matches('"').trim().to_string()
}

fn proposals_of(prediction: &Prediction) -> Vec<Proposal> {
    prediction
        .completions()
        .iter()
        .map(|c| Proposal {
            instruction: c.get("proposed_instruction").map(dspy_core::python::py_str).unwrap_or_default(),
            prefix: c.get("proposed_prefix_for_output_field").map(dspy_core::python::py_str).unwrap_or_default(),
        })
        .collect()
}

/// The signature with new instructions and a new prefix on its last field.
pub(crate) fn with_instruction_and_prefix(signature: &Signature, instruction: &str, prefix: Option<&str>) -> Signature {
    let updated = signature.clone().with_instructions(instruction);
    match (prefix, signature.fields().last()) {
        (Some(prefix), Some(last)) => {
            let name = last.name.clone();
            updated.clone().with_updated_field(&name, |f| f.prefix = prefix.to_string()).unwrap_or(updated)
        }
        _ => updated,
    }
}

fn last_prefix(signature: &Signature) -> String {
    signature.fields().last().map(|f| f.prefix.clone()).unwrap_or_default()
}

/// DSPy's score display: the `Evaluate` percentage as Python prints the float.
fn percent(score: f64) -> String {
    dspy_core::python::float_repr(score)
}

#[async_trait::async_trait]
impl Optimizer for Copro {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], _valset: Option<&[Example]>, metric: &dyn Metric) -> Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        if self.breadth <= 1 {
            return Err(InputError::Invalid { needed_by: "COPRO".into(), message: "Breadth must be greater than 1".into() }.into());
        }
        if trainset.is_empty() {
            return Err(InputError::Dataset { needed_by: "COPRO".into(), message: "needs a non-empty trainset".into() }.into());
        }
        let started = Instant::now();
        let engine = self.run.engine();
        let (result, used) = usage::track(self.search(student, trainset, metric, &engine)).await;
        let (program, mut report) = result?;
        report.finish(&program, &used, engine.budget_ref(), started);
        Ok(Compiled { program, report })
    }
}

impl Copro {
    async fn propose(&self, engine: &Engine, signature: Signature, inputs: serde_json::Map<String, Value>, n: usize) -> Result<Vec<Proposal>> {
        let config = LmConfig { n: Some(n as u32), temperature: Some(self.init_temperature), ..LmConfig::default() };
        let prediction = predict_once(engine, self.prompt_model.as_ref(), signature, inputs, config, None).await?;
        Ok(proposals_of(&prediction))
    }

    async fn search<P: Module + Clone>(&self, student: &P, trainset: &[Example], metric: &dyn Metric, engine: &Engine) -> Result<(P, CompileReport)> {
        let mut report = CompileReport::new("COPRO");
        report.seed = Some(self.run.seed);
        let module = student.clone();
        let base: Vec<(String, Signature)> = module.named_predictors().into_iter().map(|(n, p)| (n, p.signature().clone())).collect();
        let k = base.len();
        if k == 0 {
            return Err(InputError::Program { needed_by: "COPRO".into(), message: "needs a program with at least one predictor".into() }.into());
        }

        // Seed the search: breadth − 1 proposals plus the current instruction, per predictor.
        let mut all_candidates: Vec<Vec<Proposal>> = Vec::with_capacity(k);
        for (_, sig) in &base {
            let mut proposals = self
                .propose(engine, basic_generate_instruction(), crate::proposer::inputs([("basic_instruction", json!(sig.instructions()))]), self.breadth - 1)
                .await?;
            proposals.push(Proposal { instruction: sig.instructions().to_string(), prefix: last_prefix(sig) });
            all_candidates.push(proposals);
        }
        let mut latest_candidates = all_candidates.clone();
        let mut evaluated: Vec<Vec<Evaluated<P>>> = vec![Vec::new(); k];
        let mut results_best: Vec<Stats> = vec![Stats::default(); k];
        let mut results_latest: Vec<Stats> = vec![Stats::default(); k];
        let mut module_clone = module.clone();
        let mut total_calls = 0usize;
        let mut evaluations_ok = 0usize;
        let mut last_error: Option<Error> = None;
        let mut stopped_by_budget = false;
        let mut last_depth = 0;

        'depth: for d in 0..self.depth {
            last_depth = d;
            let mut latest_scores = Vec::new();
            for p_i in 0..k {
                let candidates = if k > 1 { all_candidates[p_i].clone() } else { latest_candidates[p_i].clone() };
                for (c_i, c) in candidates.iter().enumerate() {
                    if engine.budget_ref().is_exhausted() {
                        stopped_by_budget = true;
                        break 'depth;
                    }
                    let proposal = Proposal { instruction: clean(&c.instruction), prefix: clean(&c.prefix) };
                    set_signature(&mut module_clone, p_i, &proposal);
                    let (score, run) = match engine.evaluate(&module_clone, trainset, metric).await {
                        Ok(run) => {
                            if run.succeeded() > 0 {
                                evaluations_ok += 1;
                            } else if let Some(first) = run.first_error() {
                                last_error = Some(Error::msg(first.to_string()));
                            }
                            (run.score, Some(run))
                        }
                        Err(e) => {
                            tracing::warn!("COPRO: evaluating a candidate failed: {e}");
                            last_error = Some(e);
                            (0.0, None)
                        }
                    };
                    total_calls += 1;
                    let name = &base[p_i].0;
                    let mut trial = match &run {
                        Some(run) => Trial::from_run(format!("depth {}, {name}, candidate {}", d + 1, c_i + 1), Split::Train, run),
                        None => Trial::new(format!("depth {}, {name}, candidate {} (failed)", d + 1, c_i + 1), 0.0).split(Split::Train),
                    };
                    trial = trial.details(json!({"predictor": name, "depth": d, "instruction": proposal.instruction, "prefix": proposal.prefix}));
                    report.trials.push(trial);
                    let entries = &mut evaluated[p_i];
                    match entries.iter_mut().find(|e| e.proposal == proposal) {
                        Some(existing) if existing.score >= score => {}
                        Some(existing) => *existing = Evaluated { proposal: proposal.clone(), score, depth: d, program: module_clone.clone() },
                        None => entries.push(Evaluated { proposal: proposal.clone(), score, depth: d, program: module_clone.clone() }),
                    }
                    if candidates.len() as isize - self.breadth as isize <= c_i as isize {
                        latest_scores.push(score);
                    }
                }
                if self.track_stats {
                    results_latest[p_i].push(d, &latest_scores);
                }
                // Keep this predictor's best so the next predictors are scored with it.
                if let Some(best) = best_of(&evaluated[p_i]) {
                    let proposal = best.proposal.clone();
                    set_signature(&mut module_clone, p_i, &proposal);
                }
            }
            if d + 1 == self.depth {
                break;
            }
            let mut new_candidates = Vec::with_capacity(k);
            for p_i in 0..k {
                let mut sorted: Vec<&Evaluated<P>> = evaluated[p_i].iter().collect();
                sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
                if self.track_stats {
                    let scores: Vec<f64> = sorted.iter().take(10).map(|e| e.score).collect();
                    results_best[p_i].push(d, &scores);
                }
                let shortest = sorted.len().min(self.breadth);
                let mut attempts = Vec::new();
                for i in (0..shortest).rev() {
                    let n = shortest - i;
                    attempts.push(json!(format!("Instruction #{n}: {}", sorted[i].proposal.instruction)));
                    attempts.push(json!(format!("Prefix #{n}: {}", sorted[i].proposal.prefix)));
                    attempts.push(json!(format!("Resulting Score #{n}: {}", percent(sorted[i].score))));
                }
                let proposals = match self
                    .propose(engine, generate_instruction_given_attempts(), crate::proposer::inputs([("attempted_instructions", Value::Array(attempts))]), self.breadth)
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!("COPRO: proposing new instructions failed: {e}");
                        Vec::new()
                    }
                };
                all_candidates[p_i].extend(proposals.iter().cloned());
                new_candidates.push(proposals);
            }
            latest_candidates = new_candidates;
        }

        if evaluations_ok == 0 {
            return Err(last_error.unwrap_or_else(|| Error::NoResult { what: "COPRO".into(), reason: "evaluated no candidate (is the budget too small?)".into() }));
        }
        if self.track_stats {
            for p_i in 0..k {
                let mut scores: Vec<f64> = evaluated[p_i].iter().map(|e| e.score).collect();
                scores.sort_by(|a, b| b.total_cmp(a));
                scores.truncate(10);
                results_best[p_i].push(last_depth, &scores);
            }
        }

        // Every candidate of every predictor, best first, duplicates dropped.
        let mut all: Vec<(usize, &Evaluated<P>)> = evaluated.iter().enumerate().flat_map(|(i, es)| es.iter().map(move |e| (i, e))).collect();
        all.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        let all = drop_duplicates(all);
        let (_, best) = all.first().ok_or_else(|| Error::NoResult { what: "COPRO".into(), reason: "evaluated no candidate".into() })?;
        let program = best.program.clone();
        report.best_score = Some(best.score);
        report.best_trial = report.trials.iter().position(|t| t.score == best.score && t.details["instruction"] == json!(best.proposal.instruction));
        let candidates: Vec<Value> = all
            .iter()
            .map(|(i, e)| json!({"predictor": base[*i].0, "instruction": e.proposal.instruction, "prefix": e.proposal.prefix, "score": e.score, "depth": e.depth}))
            .collect();
        let mut extra = json!({"candidates": candidates, "total_calls": total_calls, "stopped_by_budget": stopped_by_budget});
        if self.track_stats {
            let named = |stats: &[Stats]| base.iter().zip(stats).map(|((n, _), s)| (n.clone(), json!(s))).collect::<serde_json::Map<_, _>>();
            extra["results_best"] = Value::Object(named(&results_best));
            extra["results_latest"] = Value::Object(named(&results_latest));
        }
        report.extra = extra;
        Ok((program, report))
    }
}

fn set_signature<P: Module>(program: &mut P, index: usize, proposal: &Proposal) {
    if let Some((_, p)) = program.named_predictors_mut().into_iter().nth(index) {
        let updated = with_instruction_and_prefix(p.signature(), &proposal.instruction, Some(&proposal.prefix));
        p.set_signature(updated);
    }
}

/// The first candidate with the highest score (Python's `max` keeps the first).
fn best_of<P>(entries: &[Evaluated<P>]) -> Option<&Evaluated<P>> {
    entries.iter().fold(None, |best: Option<&Evaluated<P>>, e| match best {
        Some(b) if b.score >= e.score => Some(b),
        _ => Some(e),
    })
}

/// Whether two candidate programs have the same instructions and last fields everywhere.
fn same_program<P: Module>(a: &P, b: &P) -> bool {
    a.named_predictors().iter().zip(b.named_predictors().iter()).all(|((_, x), (_, y))| {
        x.signature().instructions() == y.signature().instructions() && x.signature().fields().last() == y.signature().fields().last()
    })
}

/// DSPy's `_drop_duplicates` over candidates sorted by score: among consecutive candidates
/// with the same score, programs equal to an earlier one are dropped.
fn drop_duplicates<P: Module>(sorted: Vec<(usize, &Evaluated<P>)>) -> Vec<(usize, &Evaluated<P>)> {
    let mut out = Vec::new();
    let mut batch: Vec<&Evaluated<P>> = Vec::new();
    let mut batch_score = -1.0;
    for (i, c) in sorted {
        let mut repeat = false;
        if c.score == batch_score {
            repeat = batch.iter().any(|b| same_program(&b.program, &c.program));
            if !repeat {
                batch.push(c);
            }
        } else {
            batch = vec![c];
            batch_score = c.score;
        }
        if !repeat {
            out.push((i, c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_and_prefix_update_the_last_field() {
        let sig = Signature::parse("question -> reasoning, answer").unwrap();
        let s = with_instruction_and_prefix(&sig, "Be brief.", Some("Final Answer:"));
        assert_eq!(s.instructions(), "Be brief.");
        assert_eq!(s.field("answer").unwrap().prefix, "Final Answer:");
        assert_eq!(s.field("reasoning").unwrap().prefix, "Reasoning:");
        assert_eq!(percent(66.67), "66.67");
        assert_eq!(percent(100.0), "100.0");
        assert_eq!(clean("\" Solve it. \""), "Solve it.");
    }
}
