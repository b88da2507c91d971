//! `batch`: one module over many inputs, concurrently, in order.

use super::{Module, Parallel};
use crate::error::Result;
use crate::example::Example;
use crate::prediction::Prediction;

/// Runs `module` on every input with at most `concurrency` calls in flight. The results keep
/// the input order, one per input: a failure is that input's `Err` and never loses the others.
/// A progress bar is shown on a terminal.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Example, Module, Predict, module::batch};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = Arc::new(DummyLM::by_substring(vec![
///     ("one".into(), serde_json::json!({"n": "1"})),
///     ("two".into(), serde_json::json!({"n": "2"})),
/// ]));
/// let p = Predict::parse("word -> n: int").unwrap().with_lm(lm);
/// let inputs = vec![Example::new().with("word", "two"), Example::new().with("word", "one")];
/// let out = batch(&p, &inputs, 4).await;
/// assert_eq!(out[0].as_ref().unwrap().get("n"), Some(&serde_json::json!(2)));
/// assert_eq!(out[1].as_ref().unwrap().get("n"), Some(&serde_json::json!(1)));
/// # });
/// ```
pub async fn batch<M: Module + ?Sized>(module: &M, inputs: &[Example], concurrency: usize) -> Vec<Result<Prediction>> {
    let runner = Parallel::new().num_threads(concurrency.max(1)).no_error_limit().access_examples(false).progress(true);
    match runner.map(module, inputs).await {
        Ok(results) => results,
        // Without an error limit the run itself cannot fail; keep one result per input anyway.
        Err(e) => inputs.iter().map(|_| Err(crate::Error::NoResult { what: "batch".into(), reason: e.to_string() })).collect(),
    }
}
