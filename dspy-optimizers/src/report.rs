//! What a compilation reports: every trial with its scores per split, the chosen instructions
//! and demos per predictor, LM calls, tokens, cost and wall time. Printable as a table
//! ([`std::fmt::Display`]) and savable as JSON ([`CompileReport::save_json`], atomic).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use dspy_core::usage::UsageByModel;
use dspy_core::{Error, Example, Module, Result, StateError, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{Budget, BudgetReport};

/// What an optimizer tried and what it cost.
///
/// ```
/// use dspy_optimizers::{CompileReport, Split, Trial};
/// let mut report = CompileReport::new("LabeledFewShot");
/// report.trials.push(Trial::new("k=2", 75.0).split(Split::Val));
/// report.best_score = Some(75.0);
/// assert!(report.to_string().contains("LabeledFewShot"));
/// let json = serde_json::to_value(&report).unwrap();
/// assert_eq!(json["trials"][0]["score"], 75.0);
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CompileReport {
    /// The optimizer's name.
    pub optimizer: String,
    /// The seed the run used, if it draws random numbers.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Every candidate evaluated, in order.
    pub trials: Vec<Trial>,
    /// The score of the returned program, when it was evaluated: DSPy's `Evaluate` percentage
    /// (100.0 = every example), the unit of every score in a report.
    pub best_score: Option<f64>,
    /// The index in `trials` of the returned program, when it is one of them.
    #[serde(default)]
    pub best_trial: Option<usize>,
    /// The returned program's instructions and demos, per predictor.
    #[serde(default)]
    pub predictors: Vec<PredictorReport>,
    /// LM calls made while compiling (program runs, LM-judged metrics, proposals).
    pub lm_calls: u64,
    /// Metric calls made while compiling.
    #[serde(default)]
    pub metric_calls: u64,
    /// Tokens (and cost, when known) used while compiling.
    pub usage: Usage,
    /// The same, per model.
    #[serde(default)]
    pub usage_by_model: UsageByModel,
    /// Dollars spent, over the calls whose price is known.
    #[serde(default)]
    pub cost: f64,
    /// The budget's limits and counts.
    #[serde(default)]
    pub budget: BudgetReport,
    /// Wall-clock time of the compilation.
    #[serde(with = "duration_secs")]
    pub wall_time: Duration,
    /// Anything else the optimizer reports (e.g. a Pareto frontier, a fine-tuned model id).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub extra: Value,
}

/// One evaluated candidate.
///
/// ```
/// use dspy_optimizers::{Split, Trial};
/// let t = Trial::new("seed 3: 2 demos", 50.0).split(Split::Val).with_split_score(Split::Train, 75.0).evaluated_on(20);
/// assert_eq!(t.scores[&Split::Train], 75.0);
/// assert_eq!(t.scores[&Split::Val], 50.0);
/// // Saved and printed as DSPy-style names.
/// assert_eq!(serde_json::to_value(&t).unwrap()["scores"], serde_json::json!({"train": 75.0, "val": 50.0}));
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Trial {
    /// A short description of the candidate.
    pub description: String,
    /// Its score on `split` (the `Evaluate` percentage).
    pub score: f64,
    /// The split `score` is measured on.
    #[serde(default)]
    pub split: Split,
    /// Scores per split, `split` included.
    #[serde(default)]
    pub scores: BTreeMap<Split, f64>,
    /// How many examples `score` is over.
    #[serde(default)]
    pub num_examples: usize,
    /// LM calls this trial made.
    #[serde(default)]
    pub lm_calls: u64,
    /// Whether the evaluation was cut short by the budget.
    #[serde(default)]
    pub partial: bool,
    /// Optimizer-specific details (seed, demo counts, instruction index...).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl Trial {
    /// A trial with a description and a score.
    pub fn new(description: impl Into<String>, score: f64) -> Self {
        Trial { description: description.into(), score, ..Trial::default() }
    }

    /// The split `score` is on (also recorded in `scores`).
    pub fn split(mut self, split: Split) -> Self {
        self.split = split;
        self.scores.insert(split, self.score);
        self
    }

    /// Adds the score on another split.
    pub fn with_split_score(mut self, split: Split, score: f64) -> Self {
        self.scores.insert(split, score);
        self
    }

    /// Sets the number of examples.
    pub fn evaluated_on(mut self, n: usize) -> Self {
        self.num_examples = n;
        self
    }

    /// Sets the LM calls.
    pub fn lm_calls(mut self, n: u64) -> Self {
        self.lm_calls = n;
        self
    }

    /// Marks the evaluation as cut short by the budget.
    pub fn partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    /// Sets optimizer-specific details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// A trial from an evaluation on `split`: its score, size, LM calls and completeness.
    pub fn from_run(description: impl Into<String>, split: Split, run: &crate::engine::EvalRun) -> Self {
        Trial::new(description, run.score)
            .split(split)
            .evaluated_on(run.evaluated())
            .lm_calls(run.lm_calls)
            .partial(!run.is_complete())
    }
}

/// The data a [`Trial`]'s score was measured on. Saved and printed by its DSPy-style name
/// (`val`, `train`, `minibatch`...), so reports keep the format they had as strings.
///
/// ```
/// use dspy_optimizers::Split;
/// assert_eq!(Split::MergeSubsample.to_string(), "merge_subsample");
/// assert_eq!(serde_json::from_str::<Split>("\"minibatch_mean\"").unwrap(), Split::MinibatchMean);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Split {
    /// Not recorded (a trial built without [`Trial::split`]); written as `""`.
    #[default]
    #[serde(rename = "")]
    Unspecified,
    /// The trainset.
    #[serde(rename = "train")]
    Train,
    /// The validation set (the whole of it).
    #[serde(rename = "val")]
    Val,
    /// A random minibatch of the validation set (MIPROv2, GEPA, SIMBA).
    #[serde(rename = "minibatch")]
    Minibatch,
    /// The mean of a candidate's minibatch scores (MIPROv2).
    #[serde(rename = "minibatch_mean")]
    MinibatchMean,
    /// The examples GEPA's merge step compares two parents on.
    #[serde(rename = "merge_subsample")]
    MergeSubsample,
    /// Not evaluated (BetterTogether without a valset).
    #[serde(rename = "none")]
    NotEvaluated,
}

impl Split {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Unspecified => "",
            Split::Train => "train",
            Split::Val => "val",
            Split::Minibatch => "minibatch",
            Split::MinibatchMean => "minibatch_mean",
            Split::MergeSubsample => "merge_subsample",
            Split::NotEvaluated => "none",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// By name, so `scores` keeps the key order it had as a map of strings.
impl Ord for Split {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Split {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The instructions and demos of one predictor of the returned program.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PredictorReport {
    /// The predictor's dotted name.
    pub name: String,
    /// Its instructions.
    pub instructions: String,
    /// Its demos.
    pub demos: Vec<Example>,
    /// The model set on it, if any.
    #[serde(default)]
    pub model: Option<String>,
}

impl PredictorReport {
    /// Every predictor of `program`.
    pub fn of<M: Module + ?Sized>(program: &M) -> Vec<PredictorReport> {
        program
            .named_predictors()
            .into_iter()
            .map(|(name, p)| PredictorReport {
                name,
                instructions: p.signature().instructions().to_string(),
                demos: p.demos().to_vec(),
                model: p.lm().map(|lm| lm.model().to_string()),
            })
            .collect()
    }

    /// How many demos are bootstrapped (`augmented: true`).
    pub fn augmented_demos(&self) -> usize {
        self.demos.iter().filter(|d| d.get("augmented") == Some(&Value::Bool(true))).count()
    }
}

impl CompileReport {
    /// An empty report for `optimizer`.
    pub fn new(optimizer: impl Into<String>) -> Self {
        CompileReport { optimizer: optimizer.into(), ..CompileReport::default() }
    }

    /// Fills in what every optimizer reports at the end: the returned program's predictors,
    /// LM and metric calls (the larger of the budget's and the usage's counts), tokens, cost,
    /// budget and wall time since `started`.
    pub fn finish<M: Module + ?Sized>(&mut self, program: &M, usage: &UsageByModel, budget: &Budget, started: Instant) {
        self.predictors = PredictorReport::of(program);
        let total = usage.total();
        self.usage_by_model = usage.clone();
        self.usage = Usage {
            prompt_tokens: total.prompt_tokens,
            completion_tokens: total.completion_tokens,
            total_tokens: total.total_tokens,
            cost: (total.cost > 0.0 || total.unpriced_calls == 0 && total.calls > total.cache_hits).then_some(total.cost),
        };
        self.cost = total.cost;
        self.budget = budget.report();
        self.lm_calls = total.calls.max(self.budget.lm_calls);
        self.metric_calls = self.budget.metric_calls;
        self.wall_time = started.elapsed();
    }

    /// The best trial, if recorded.
    pub fn best(&self) -> Option<&Trial> {
        self.best_trial.and_then(|i| self.trials.get(i))
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| StateError::Serialize { what: "the report", source }.into())
    }

    /// Saves the report as JSON, atomically (a temporary file in the same directory, synced,
    /// then renamed over `path`).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("report.json");
    /// dspy_optimizers::CompileReport::new("Ensemble").save_json(&path).unwrap();
    /// let back = dspy_optimizers::CompileReport::load_json(&path).unwrap();
    /// assert_eq!(back.optimizer, "Ensemble");
    /// ```
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut text = self.to_json()?;
        text.push('\n');
        dspy_core::module::write_atomic(path.as_ref(), text.as_bytes())
    }

    /// Reads a report saved by [`CompileReport::save_json`].
    pub fn load_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        serde_json::from_slice(&bytes).map_err(|source| StateError::Unreadable { path: path.to_path_buf(), expected: "a compile report", source }.into())
    }
}

fn pct(x: f64) -> String {
    format!("{x:.1}%")
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        let mut out: String = one_line.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

impl fmt::Display for CompileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} report", self.optimizer)?;
        if let Some(seed) = self.seed {
            writeln!(f, "  seed: {seed}")?;
        }
        match self.best_score {
            Some(s) => writeln!(f, "  best score: {}", pct(s))?,
            None => writeln!(f, "  best score: not evaluated")?,
        }
        write!(f, "  LM calls: {}", self.lm_calls)?;
        if let Some(max) = self.budget.max_lm_calls {
            write!(f, " (limit {max})")?;
        }
        write!(f, "; metric calls: {}", self.metric_calls)?;
        if let Some(max) = self.budget.max_metric_calls {
            write!(f, " (limit {max})")?;
        }
        writeln!(f, "; errors: {}", self.budget.errors)?;
        writeln!(
            f,
            "  tokens: {} prompt + {} completion; cost: ${:.6}; wall time: {:.2}s",
            self.usage.prompt_tokens,
            self.usage.completion_tokens,
            self.cost,
            self.wall_time.as_secs_f64()
        )?;
        if !self.trials.is_empty() {
            let width = self.trials.iter().map(|t| t.description.chars().count().min(48)).max().unwrap_or(9).max(9);
            writeln!(f)?;
            writeln!(f, "  {:>3}  {:<width$}  {:<9}  {:>7}  {:>5}  {:>8}", "#", "candidate", "split", "score", "n", "LM calls")?;
            for (i, t) in self.trials.iter().enumerate() {
                let mark = if Some(i) == self.best_trial { "*" } else { " " };
                let partial = if t.partial { " (partial)" } else { "" };
                writeln!(
                    f,
                    "{mark} {:>3}  {:<width$}  {:<9}  {:>7}  {:>5}  {:>8}{partial}",
                    i,
                    clip(&t.description, 48),
                    clip(t.split.as_str(), 9),
                    pct(t.score),
                    t.num_examples,
                    t.lm_calls
                )?;
            }
        }
        if !self.predictors.is_empty() {
            writeln!(f)?;
            for p in &self.predictors {
                writeln!(
                    f,
                    "  {}: {} demo(s) ({} bootstrapped){}",
                    p.name,
                    p.demos.len(),
                    p.augmented_demos(),
                    p.model.as_ref().map(|m| format!(", model {m}")).unwrap_or_default()
                )?;
                writeln!(f, "    instructions: {}", clip(&p.instructions, 100))?;
            }
        }
        Ok(())
    }
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Ok(Duration::try_from_secs_f64(secs).unwrap_or_default())
    }
}
