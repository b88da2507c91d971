//! `Evaluate`: run a program over a devset, score every prediction, report (DSPy's
//! `dspy.Evaluate`).

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::path::{Path, PathBuf};
use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::engine::{Engine, Traces};
use super::metric::{Dynamic, IntoMetric, Metric, MetricKind, Score, Scores};
use crate::error::{InputError, Result, StateError};
use crate::example::{Example, TypedExample};
use crate::module::{DEFAULT_MAX_ERRORS, Module, write_atomic};
use crate::prediction::Prediction;

/// Evaluates programs on a devset with a metric: runs them concurrently (`num_threads`), shows
/// a progress bar with the running average on stderr (`display_progress`, terminals only),
/// stops after `max_errors` failures, prints the first rows of a result table
/// (`display_table`), and returns (and optionally saves, as JSON or CSV) every row.
///
/// The overall score is DSPy's: `100 * sum(scores) / len(devset)`, rounded to 2 decimals;
/// a program or metric error scores `failure_score` (0 by default).
///
/// ```
/// use dspy_core::evaluate::{Evaluate, answer_exact_match};
/// use dspy_core::{DummyLM, Example, Module, Predict};
/// let lm = DummyLM::by_substring(vec![
///     ("2 + 2".into(), serde_json::json!({"answer": "4"})),
///     ("3 + 3".into(), serde_json::json!({"answer": "7"})),
/// ]);
/// let program = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let devset = vec![
///     Example::new().with("question", "2 + 2?").with("answer", "4").with_inputs(["question"]),
///     Example::new().with("question", "3 + 3?").with("answer", "6").with_inputs(["question"]),
/// ];
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let result = Evaluate::new(devset, answer_exact_match).num_threads(2).run(&program).await.unwrap();
/// assert_eq!(result.score, 50.0);
/// assert_eq!(result.results[1].score.value, 0.0);
/// assert!(result.table(5).contains("answer_exact_match"));
/// # });
/// ```
///
/// Typed data and metrics work the same way: a devset of the `NameExample` rows that
/// `#[derive(Signature)]` generates (or any [`TypedExample`]), and a metric over the typed gold
/// row and the program's typed output, `|gold: &NameExample, pred: &NameOutput| ...`. The
/// program must then be a [`TypedModule`](crate::TypedModule) with that output, checked at compile time.
pub struct Evaluate<K: MetricKind = Dynamic> {
    devset: Vec<Example>,
    metric: Arc<dyn Metric>,
    num_threads: usize,
    display_progress: bool,
    display_table: Option<usize>,
    max_errors: Option<usize>,
    failure_score: f64,
    save_as_json: Option<PathBuf>,
    save_as_csv: Option<PathBuf>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: MetricKind> Clone for Evaluate<K> {
    fn clone(&self) -> Self {
        Evaluate {
            devset: self.devset.clone(),
            metric: self.metric.clone(),
            num_threads: self.num_threads,
            display_progress: self.display_progress,
            display_table: self.display_table,
            max_errors: self.max_errors,
            failure_score: self.failure_score,
            save_as_json: self.save_as_json.clone(),
            save_as_csv: self.save_as_csv.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K: MetricKind> std::fmt::Debug for Evaluate<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluate")
            .field("devset", &self.devset.len())
            .field("metric", &self.metric.name())
            .field("num_threads", &self.num_threads)
            .finish_non_exhaustive()
    }
}

/// One evaluated example.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationRow {
    /// The example.
    pub example: Example,
    /// The program's prediction (empty when it failed).
    pub prediction: Prediction,
    /// The metric's score (`failure_score` when the program or metric failed).
    pub score: Score,
    /// The failure, if any.
    pub error: Option<String>,
}

/// What [`Evaluate::run`] returns: the overall score (a percentage) and every row.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationResult {
    /// `100 * sum(scores) / len(devset)`, rounded to 2 decimals.
    pub score: f64,
    /// One row per devset example, in devset order.
    pub results: Vec<EvaluationRow>,
    /// The metric's name (the score column).
    pub metric_name: String,
}

impl Evaluate {
    /// Evaluates on `devset` with `metric`: one at a time, no progress bar, no table, at most
    /// 10 errors (DSPy's default `max_errors`). The devset is `Example`s or typed rows; the
    /// metric a [`Metric`] or a typed closure (see [`IntoMetric`]).
    pub fn new<E, F, M>(devset: impl IntoIterator<Item = E>, metric: M) -> Evaluate<M::Kind>
    where
        E: TypedExample,
        M: IntoMetric<'static, E, F>,
    {
        Evaluate {
            devset: devset.into_iter().map(|e| e.to_example()).collect(),
            metric: metric.into_metric(),
            num_threads: 1,
            display_progress: false,
            display_table: None,
            max_errors: Some(DEFAULT_MAX_ERRORS),
            failure_score: 0.0,
            save_as_json: None,
            save_as_csv: None,
            _kind: PhantomData,
        }
    }
}

impl<K: MetricKind> Evaluate<K> {
    /// How many examples run at once.
    pub fn num_threads(mut self, n: usize) -> Self {
        self.num_threads = n.max(1);
        self
    }

    /// Shows a progress bar with the running average on stderr (when it is a terminal).
    pub fn display_progress(mut self, on: bool) -> Self {
        self.display_progress = on;
        self
    }

    /// Prints the first `rows` rows of the result table to stdout after the run.
    pub fn display_table(mut self, rows: usize) -> Self {
        self.display_table = Some(rows);
        self
    }

    /// Stops (with [`Error::TooManyErrors`](crate::Error::TooManyErrors)) once this many examples failed.
    pub fn max_errors(mut self, n: usize) -> Self {
        self.max_errors = Some(n);
        self
    }

    /// Never stops on failures.
    pub fn no_error_limit(mut self) -> Self {
        self.max_errors = None;
        self
    }

    /// The score of an example whose program or metric failed.
    pub fn failure_score(mut self, score: f64) -> Self {
        self.failure_score = score;
        self
    }

    /// Saves the rows as JSON to this path after each run.
    pub fn save_as_json(mut self, path: impl Into<PathBuf>) -> Self {
        self.save_as_json = Some(path.into());
        self
    }

    /// Saves the rows as CSV to this path after each run.
    pub fn save_as_csv(mut self, path: impl Into<PathBuf>) -> Self {
        self.save_as_csv = Some(path.into());
        self
    }

    /// Runs `program` on every example's inputs and scores the predictions.
    ///
    /// A plain function returning a boxed future, not an `async fn`: an `async fn`'s future
    /// repeats its `K: Scores<M>` bound, so a metric over another program's output would be
    /// reported three times (at the argument, the call and the `.await`); here, once.
    pub fn run<'a, M: Module + ?Sized>(&'a self, program: &'a M) -> Pin<Box<dyn Future<Output = Result<EvaluationResult>> + Send + 'a>>
    where
        K: Scores<M>,
    {
        Box::pin(self.run_module(program))
    }

    async fn run_module<M: Module + ?Sized>(&self, program: &M) -> Result<EvaluationResult> {
        if self.devset.is_empty() {
            return Err(InputError::Dataset { needed_by: "Evaluate".into(), message: "devset must contain at least one example, got an empty devset".into() }.into());
        }
        let total = self.devset.len();
        let engine = Engine::new()
            .num_threads(self.num_threads)
            .with_max_errors(self.max_errors)
            .failure_score(self.failure_score)
            .progress(self.display_progress);
        let run = engine.evaluate_with(program, &self.devset, &*self.metric, Traces::Off, "").await?;
        let results: Vec<EvaluationRow> = self
            .devset
            .iter()
            .zip(run.outcomes)
            .map(|(example, outcome)| EvaluationRow {
                example: example.clone(),
                score: outcome.score.unwrap_or_else(|| Score::from(self.failure_score)),
                prediction: outcome.prediction.unwrap_or_default(),
                error: outcome.error,
            })
            .collect();
        let sum: f64 = results.iter().map(|r| r.score.value).sum();
        tracing::info!("Average Metric: {sum} / {total} ({:.1}%)", (1000.0 * sum / total as f64).round() / 10.0);
        let result = EvaluationResult { score: run.score, results, metric_name: self.metric.name() };
        if let Some(rows) = self.display_table {
            println!("{}", result.table(rows));
        }
        if let Some(path) = &self.save_as_json {
            result.save_json(path)?;
        }
        if let Some(path) = &self.save_as_csv {
            result.save_csv(path)?;
        }
        Ok(result)
    }
}

/// DSPy's `merge_dicts`: example and prediction fields side by side; a name in both becomes
/// `example_{name}` and `pred_{name}`.
fn merged_row(row: &EvaluationRow, metric_name: &str) -> Map<String, Value> {
    let (ex, pred) = (row.example.data(), row.prediction.outputs());
    let mut out = Map::new();
    for (k, v) in ex {
        let key = if pred.contains_key(k) { format!("example_{k}") } else { k.clone() };
        out.insert(key, v.clone());
    }
    for (k, v) in pred {
        let key = if ex.contains_key(k) { format!("pred_{k}") } else { k.clone() };
        out.insert(key, v.clone());
    }
    out.insert(metric_name.to_string(), serde_json::json!(row.score.value));
    if let Some(feedback) = &row.score.feedback {
        out.insert(format!("{metric_name}_feedback"), Value::String(feedback.clone()));
    }
    if let Some(error) = &row.error {
        out.insert("error".into(), Value::String(error.clone()));
    }
    out
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// DSPy's `truncate_cell` (25 words), then at most `width` characters for the terminal.
fn truncate_cell(text: &str, width: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let text = if words.len() > 25 { format!("{}...", words[..25].join(" ")) } else { words.join(" ") };
    if text.chars().count() > width { format!("{}…", text.chars().take(width - 1).collect::<String>()) } else { text }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

impl EvaluationResult {
    /// Every row as DSPy saves it: example and prediction fields merged (clashing names become
    /// `example_{name}` / `pred_{name}`), then the score under the metric's name (and
    /// `{metric}_feedback` / `error` when present).
    pub fn rows(&self) -> Vec<Map<String, Value>> {
        self.results.iter().map(|r| merged_row(r, &self.metric_name)).collect()
    }

    /// The rows' column names, in first-seen order.
    fn columns(rows: &[Map<String, Value>]) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for row in rows {
            for k in row.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        columns
    }

    /// The first `max_rows` rows as a text table (cells cut at 25 words), with a note on how
    /// many rows were left out.
    pub fn table(&self, max_rows: usize) -> String {
        const WIDTH: usize = 40;
        let rows = self.rows();
        let columns = Self::columns(&rows);
        let shown: Vec<Vec<String>> = rows
            .iter()
            .take(max_rows)
            .map(|row| {
                columns
                    .iter()
                    .map(|c| match row.get(c) {
                        Some(Value::Number(n)) if *c == self.metric_name => {
                            format!("✔️ [{:.3}]", n.as_f64().unwrap_or_default())
                        }
                        Some(v) => truncate_cell(&cell_text(v), WIDTH),
                        None => String::new(),
                    })
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| shown.iter().map(|r| r[i].chars().count()).chain([c.chars().count()]).max().unwrap_or(0))
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> =
                cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count())))).collect();
            format!("| {} |", padded.join(" | "))
        };
        let mut out = String::new();
        let _ = writeln!(out, "{}", line(&columns));
        let _ = writeln!(out, "|{}|", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|"));
        for row in &shown {
            let _ = writeln!(out, "{}", line(row));
        }
        if rows.len() > max_rows {
            let _ = writeln!(out, "... {} more rows not displayed ...", rows.len() - max_rows);
        }
        let _ = write!(out, "Average Metric: {} ({}%)", self.results.iter().map(|r| r.score.value).sum::<f64>(), self.score);
        out
    }

    /// Saves [`EvaluationResult::rows`] as a JSON list, atomically.
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string(&self.rows()).map_err(|source| StateError::Serialize { what: "the evaluation results", source })?;
        write_atomic(path.as_ref(), text.as_bytes())
    }

    /// Saves [`EvaluationResult::rows`] as CSV (header, then one line per row; text as is,
    /// other values as JSON; RFC 4180 quoting, `\r\n` line ends as Python's `csv`), atomically.
    pub fn save_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let rows = self.rows();
        let columns = Self::columns(&rows);
        let mut text = columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",");
        text.push_str("\r\n");
        for row in &rows {
            let cells: Vec<String> = columns.iter().map(|c| csv_field(&row.get(c).map(cell_text).unwrap_or_default())).collect();
            text.push_str(&cells.join(","));
            text.push_str("\r\n");
        }
        write_atomic(path.as_ref(), text.as_bytes())
    }
}
