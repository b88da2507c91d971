//! `Metric`: how good a prediction is for an example.

use crate::example::Example;
use crate::prediction::Prediction;
use crate::trace::TraceEntry;

/// A metric's verdict: a score (1.0 / 0.0 for pass / fail) and optional textual feedback
/// (which reflective optimizers such as GEPA read).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    /// The score; higher is better.
    pub value: f64,
    /// Why, in words, when the metric can say.
    pub feedback: Option<String>,
}

impl Score {
    /// A score with feedback.
    pub fn with_feedback(value: f64, feedback: impl Into<String>) -> Self {
        Score { value, feedback: Some(feedback.into()) }
    }

    /// Whether the score reaches `threshold` (DSPy treats a metric result as a pass when truthy).
    pub fn passes(&self, threshold: Option<f64>) -> bool {
        match threshold {
            Some(t) => self.value >= t,
            None => self.value > 0.0,
        }
    }
}

impl From<bool> for Score {
    fn from(b: bool) -> Self {
        Score { value: if b { 1.0 } else { 0.0 }, feedback: None }
    }
}

impl From<f64> for Score {
    fn from(value: f64) -> Self {
        Score { value, feedback: None }
    }
}

impl<S: Into<String>> From<(f64, S)> for Score {
    fn from((value, feedback): (f64, S)) -> Self {
        Score::with_feedback(value, feedback)
    }
}

/// Scores a prediction against the example it was made for. During compilation the trace of
/// the run is passed too (DSPy's `trace` argument), so a metric can be stricter when
/// bootstrapping demos.
///
/// Any `Fn(&Example, &Prediction, Option<&[TraceEntry]>) -> impl Into<Score>` is a metric:
///
/// ```
/// use dspy_core::evaluate::{Metric, Score};
/// use dspy_core::{Example, Prediction};
/// let exact = |ex: &Example, pred: &Prediction, _trace: Option<&[dspy_core::trace::TraceEntry]>| {
///     ex.get("answer") == pred.get("answer")
/// };
/// let ex = Example::new().with("answer", "4");
/// let pred = Prediction::new(serde_json::json!({"answer": "4"}).as_object().unwrap().clone());
/// assert_eq!(exact.score(&ex, &pred, None), Score::from(true));
/// ```
#[async_trait::async_trait]
pub trait Metric: Send + Sync {
    /// The score of `prediction` for `example`.
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score;

    /// The score, for callers that can await and report a failure: metrics that call an LM
    /// (such as `SemanticF1`) override this; by default it is [`Metric::score`]. `Evaluate`
    /// calls this one, and counts an `Err` as a failed example.
    async fn try_score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> crate::Result<Score> {
        Ok(self.score(example, prediction, trace))
    }

    /// The metric's name, for result tables and files (DSPy uses the function's `__name__`):
    /// a function's name, or `metric` for closures.
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let last = full.rsplit("::").next().unwrap_or(full);
        if full.contains("{{closure}}") || last.is_empty() { "metric".to_string() } else { last.to_string() }
    }
}

impl<F, R> Metric for F
where
    F: Fn(&Example, &Prediction, Option<&[TraceEntry]>) -> R + Send + Sync,
    R: Into<Score>,
{
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score {
        self(example, prediction, trace).into()
    }
}
