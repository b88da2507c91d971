//! Traces: which predictor saw which inputs and produced which outputs during one run.
//! Optimizers such as BootstrapFewShot turn the traces of successful runs into demos.

use std::future::Future;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use crate::module::id::PredictorId;
use crate::prediction::Prediction;
use crate::settings::{self, Settings, TraceSink};

/// One traced predictor call.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEntry {
    /// The predictor that ran.
    pub predictor: PredictorId,
    /// Its inputs.
    pub inputs: Map<String, Value>,
    /// Its outputs.
    pub outputs: Prediction,
}

/// Runs `fut` with tracing on and returns its output with every predictor call it made, in order.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Module, Predict, Settings, settings, trace};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = Arc::new(DummyLM::new(vec![serde_json::json!({"answer": "4"})]));
/// let qa = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let (out, entries) = trace::collect(async {
///     qa.forward(&serde_json::json!({"question": "2+2?"}).as_object().unwrap().clone().into()).await
/// }).await;
/// assert_eq!(out.unwrap().get_str("answer"), Some("4"));
/// assert_eq!(entries.len(), 1);
/// # });
/// ```
pub async fn collect<F: Future>(fut: F) -> (F::Output, Vec<TraceEntry>) {
    let (out, entries, _) = collect_with_failures(fut).await;
    (out, entries)
}

/// [`collect`], also returning the calls whose output did not parse (DSPy records them in the
/// trace as `FailedPrediction`s, which GEPA can show its reflection LM).
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Module, Predict, trace};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Neither the answer nor the JSON adapter's retry has the output fields.
/// let lm = Arc::new(DummyLM::raw(vec!["no fields here".to_string(), "still none".to_string()]));
/// let qa = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let (out, entries, failures) = trace::collect_with_failures(async {
///     qa.forward(&serde_json::json!({"question": "2+2?"}).as_object().unwrap().clone().into()).await
/// }).await;
/// assert!(out.is_err() && entries.is_empty());
/// assert_eq!(failures.len(), 1);
/// assert_eq!(failures[0].completion, "still none", "the last attempt's completion");
/// # });
/// ```
pub async fn collect_with_failures<F: Future>(fut: F) -> (F::Output, Vec<TraceEntry>, Vec<FailedCall>) {
    let sink = TraceSink::default();
    let buffer = Arc::clone(&sink.0);
    let out = settings::context(Settings::new().with_trace(sink), fut).await;
    let (entries, failures) = std::mem::take(&mut *buffer.lock().unwrap_or_else(|p| p.into_inner()));
    (out, entries, failures)
}

/// A predictor call whose output did not parse (DSPy's `FailedPrediction`).
#[derive(Clone, Debug, PartialEq)]
pub struct FailedCall {
    /// The predictor that ran.
    pub predictor: PredictorId,
    /// Its inputs.
    pub inputs: Map<String, Value>,
    /// The LM's raw completion.
    pub completion: String,
}

/// Records a call whose output did not parse, when tracing is on.
pub(crate) fn record_failure(settings: &Settings, predictor: PredictorId, inputs: &Map<String, Value>, completion: String) {
    if let Some(sink) = settings.trace_sink() {
        sink.0.lock().unwrap_or_else(|p| p.into_inner()).1.push(FailedCall { predictor, inputs: inputs.clone(), completion });
    }
}

/// Records a call when tracing is on.
pub(crate) fn record(settings: &Settings, predictor: PredictorId, inputs: &Map<String, Value>, outputs: &Prediction) {
    if let Some(sink) = settings.trace_sink() {
        sink.0.lock().unwrap_or_else(|p| p.into_inner()).0.push(TraceEntry {
            predictor,
            inputs: inputs.clone(),
            outputs: outputs.clone(),
        });
    }
}
