//! `SemanticF1`: an LM judges recall and precision of a response against the ground truth
//! (DSPy's `dspy.evaluate.SemanticF1`, with its signatures word for word).

use std::future::Future;

use serde_json::{Map, Value};

use super::metric::{Metric, Score};
use crate::error::{InputError, Result};
use crate::example::Example;
use crate::module::ChainOfThought;
use crate::prediction::Prediction;
use crate::settings::{self, Settings};
use crate::signature::{Field, FieldType, Signature};
use crate::trace::TraceEntry;

const SEMANTIC_RECALL_PRECISION: &str = "Compare a system's response to the ground truth to compute its recall and precision.
If asked to reason, enumerate key ideas in each response, and whether they are present in the other response.";

const DECOMPOSITIONAL: &str = "Compare a system's response to the ground truth to compute recall and precision of key ideas.
You will first enumerate key ideas in each response, discuss their overlap, and then report recall and precision.";

const RECALL: &str = "fraction (out of 1.0) of ground truth covered by the system response";
const PRECISION: &str = "fraction (out of 1.0) of system response covered by the ground truth";

/// DSPy's `SemanticRecallPrecision` (or, `decompositional`, `DecompositionalSemanticRecallPrecision`).
///
/// ```
/// let sig = dspy_core::evaluate::semantic_recall_precision(false);
/// assert_eq!(sig.to_short_string(), "question, ground_truth, system_response -> recall, precision");
/// ```
pub fn semantic_recall_precision(decompositional: bool) -> Signature {
    let mut fields = vec![
        Field::input("question", FieldType::Str),
        Field::input("ground_truth", FieldType::Str),
        Field::input("system_response", FieldType::Str),
    ];
    let (name, instructions) = if decompositional {
        fields.push(Field::output("ground_truth_key_ideas", FieldType::Str).desc("enumeration of key ideas in the ground truth"));
        fields.push(Field::output("system_response_key_ideas", FieldType::Str).desc("enumeration of key ideas in the system response"));
        fields.push(Field::output("discussion", FieldType::Str).desc("discussion of the overlap between ground truth and system response"));
        ("DecompositionalSemanticRecallPrecision", DECOMPOSITIONAL)
    } else {
        ("SemanticRecallPrecision", SEMANTIC_RECALL_PRECISION)
    };
    fields.push(Field::output("recall", FieldType::Float).desc(RECALL));
    fields.push(Field::output("precision", FieldType::Float).desc(PRECISION));
    // Fixed, valid fields: this cannot fail.
    Signature::from_fields(name, Some(instructions.to_string()), fields).unwrap_or_else(|_| Signature::new(name, instructions))
}

/// F1 of precision and recall, both clamped to [0, 1] (DSPy's `auto_evaluation.f1_score`).
///
/// ```
/// assert_eq!(dspy_core::evaluate::semantic_f1_score(1.0, 0.5), 2.0 / 3.0);
/// assert_eq!(dspy_core::evaluate::semantic_f1_score(0.0, 0.0), 0.0);
/// ```
pub fn semantic_f1_score(precision: f64, recall: f64) -> f64 {
    let (p, r) = (precision.clamp(0.0, 1.0), recall.clamp(0.0, 1.0));
    if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
}

/// An LM-judged metric: a ChainOfThought over DSPy's `SemanticRecallPrecision` compares the
/// example's `response` with the prediction's `response` for the example's `question`; the
/// score is the F1 of the judged precision and recall, or (with a trace, i.e. while
/// compiling) whether it reaches `threshold` (default 0.66).
///
/// The judge calls the LM, so use it through [`Metric::try_score`] (as `Evaluate` does);
/// the blocking [`Metric::score`] also works, off the async runtime's worker.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::evaluate::{Metric, SemanticF1};
/// use dspy_core::{DummyLM, Example, Prediction, Settings, settings};
/// let lm = Arc::new(DummyLM::new(vec![serde_json::json!({"reasoning": "r", "recall": 1.0, "precision": 0.5})]));
/// let ex = Example::new().with("question", "Why is the sky blue?").with("response", "Rayleigh scattering.");
/// let pred = Prediction::new(serde_json::json!({"response": "Scattering, and also the sea."}).as_object().unwrap().clone());
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let score = settings::context(Settings::new().lm(lm), SemanticF1::new().try_score(&ex, &pred, None)).await.unwrap();
/// assert!((score.value - 2.0 / 3.0).abs() < 1e-9);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct SemanticF1 {
    threshold: f64,
    module: ChainOfThought,
}

impl Default for SemanticF1 {
    fn default() -> Self {
        SemanticF1::new()
    }
}

impl SemanticF1 {
    /// The judge with DSPy's defaults (threshold 0.66, not decompositional).
    pub fn new() -> Self {
        SemanticF1 { threshold: 0.66, module: ChainOfThought::from_signature(semantic_recall_precision(false)) }
    }

    /// Uses `DecompositionalSemanticRecallPrecision` (key ideas, then the overlap).
    pub fn decompositional(mut self, on: bool) -> Self {
        self.module = ChainOfThought::from_signature(semantic_recall_precision(on));
        self
    }

    /// The pass mark used when a trace is given.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// The judge (to give it an LM or demos).
    pub fn module_mut(&mut self) -> &mut ChainOfThought {
        &mut self.module
    }

    async fn judge(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Result<Score> {
        let text = |value: Option<&Value>, what: &str| -> Result<Value> {
            value.cloned().ok_or_else(|| InputError::Missing { needed_by: "SemanticF1".into(), field: what.into() }.into())
        };
        let mut inputs = Map::new();
        inputs.insert("question".into(), text(example.get("question"), "the example's `question`")?);
        inputs.insert("ground_truth".into(), text(example.get("response"), "the example's `response`")?);
        inputs.insert("system_response".into(), text(prediction.get("response"), "the prediction's `response`")?);
        let scores = self.module.predict.forward_map(&inputs).await?;
        let number = |name: &str| scores.get(name).and_then(Value::as_f64).unwrap_or(0.0);
        let f1 = semantic_f1_score(number("precision"), number("recall"));
        Ok(match trace {
            None => Score::from(f1),
            Some(_) => Score::from(f1 >= self.threshold),
        })
    }
}

/// Runs `fut` to completion from sync code, whatever runtime (if any) is current, keeping the
/// settings in effect.
pub(crate) fn run_sync<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    let captured: Settings = settings::current().inner().clone();
    let fut = settings::context(captured, fut);
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(fut))
        }
        Ok(_) => std::thread::scope(|s| match s.spawn(|| crate::block_on(fut)).join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => crate::block_on(fut),
    }
}

#[async_trait::async_trait]
impl Metric for SemanticF1 {
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score {
        match run_sync(self.judge(example, prediction, trace)) {
            Ok(score) => score,
            Err(e) => Score::with_feedback(0.0, format!("SemanticF1 failed: {e}")),
        }
    }

    async fn try_score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Result<Score> {
        self.judge(example, prediction, trace).await
    }

    fn name(&self) -> String {
        "SemanticF1".into()
    }
}
