//! `Parallel`: run many (module, example) pairs concurrently, in order, within an error budget
//! (DSPy's `dspy.Parallel`).

use std::future::Future;

use futures::StreamExt;

use super::Module;
use crate::error::{Error, Result};
use crate::evaluate::progress::Progress;
use crate::example::Example;
use crate::prediction::Prediction;

/// DSPy's default `max_errors`.
pub const DEFAULT_MAX_ERRORS: usize = 10;

/// Runs (module, example) pairs with at most `num_threads` in flight, keeping the input order
/// and one result per pair. When `max_errors` pairs have failed, the rest are cancelled and
/// the run returns [`Error::TooManyErrors`] (as DSPy cancels its executor).
///
/// Concurrency is cooperative on the calling task (every pair is a future polled together), so
/// settings scoped with `dspy::settings::context` apply to all pairs and no `'static` bound is
/// needed; LM calls, which are I/O, overlap fully.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::module::Parallel;
/// use dspy_core::{DummyLM, Example, Module, Predict};
/// let lm = Arc::new(DummyLM::by_substring(vec![
///     ("Spain".into(), serde_json::json!({"answer": "Madrid"})),
///     ("3 * 4".into(), serde_json::json!({"answer": "12"})),
/// ]));
/// let qa = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let pairs = vec![
///     (&qa as &dyn Module, Example::new().with("question", "Capital of Spain?")),
///     (&qa as &dyn Module, Example::new().with("question", "What is 3 * 4?")),
/// ];
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let results = Parallel::new().num_threads(2).run(pairs).await.unwrap();
/// assert_eq!(results[0].as_ref().unwrap().get_str("answer"), Some("Madrid"));
/// assert_eq!(results[1].as_ref().unwrap().get_str("answer"), Some("12"));
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Parallel {
    num_threads: usize,
    max_errors: Option<usize>,
    access_examples: bool,
    progress: bool,
}

impl Default for Parallel {
    fn default() -> Self {
        Parallel { num_threads: 8, max_errors: Some(DEFAULT_MAX_ERRORS), access_examples: true, progress: false }
    }
}

impl Parallel {
    /// 8 at a time, at most 10 errors, examples reduced to their inputs, no progress bar.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many pairs run at once (at least 1).
    pub fn num_threads(mut self, n: usize) -> Self {
        self.num_threads = n.max(1);
        self
    }

    /// How many failures stop the run (DSPy's `max_errors`).
    pub fn max_errors(mut self, n: usize) -> Self {
        self.max_errors = Some(n);
        self
    }

    /// Never stop on failures: every pair runs and reports its own result.
    pub fn no_error_limit(mut self) -> Self {
        self.max_errors = None;
        self
    }

    /// Whether examples are reduced to their inputs (`example.inputs()`) before the call
    /// (DSPy's `access_examples`, on by default).
    pub fn access_examples(mut self, on: bool) -> Self {
        self.access_examples = on;
        self
    }

    /// Shows a progress bar on stderr (only when it is a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Runs every pair; the results are in the order of the pairs.
    pub async fn run<'a, M>(&self, pairs: impl IntoIterator<Item = (&'a M, Example)>) -> Result<Vec<Result<Prediction>>>
    where
        M: Module + ?Sized + 'a,
    {
        let pairs: Vec<(&M, Example)> = pairs.into_iter().collect();
        let progress = Progress::new(pairs.len(), self.progress);
        let access = self.access_examples;
        let futures = pairs.into_iter().map(|(module, example)| async move {
            let inputs = if access { example.inputs() } else { example };
            module.forward(&inputs).await
        });
        let out = run_bounded(futures, self.num_threads, self.max_errors, |done, errors, _| {
            progress.set(done, &format!("Processed {done} / {} examples, {errors} error(s)", progress.total()));
        })
        .await;
        progress.finish();
        out
    }

    /// Runs one module over many examples.
    pub async fn map<M: Module + ?Sized>(&self, module: &M, examples: &[Example]) -> Result<Vec<Result<Prediction>>> {
        self.run(examples.iter().map(|e| (module, e.clone()))).await
    }
}

/// Polls `futures` with at most `limit` in flight; `on_done(done, errors, &result)` after each.
/// Returns every result in order, or [`Error::TooManyErrors`] once `max_errors` have failed.
pub(crate) async fn run_bounded<T, Fut>(
    futures: impl IntoIterator<Item = Fut>,
    limit: usize,
    max_errors: Option<usize>,
    mut on_done: impl FnMut(usize, usize, &Result<T>),
) -> Result<Vec<Result<T>>>
where
    Fut: Future<Output = Result<T>>,
{
    let mut slots: Vec<Option<Result<T>>> = Vec::new();
    let indexed = futures.into_iter().enumerate().map(|(i, f)| async move { (i, f.await) });
    let mut stream = futures::stream::iter(indexed).buffer_unordered(limit.max(1));
    let (mut done, mut errors) = (0, 0);
    while let Some((i, result)) = stream.next().await {
        if slots.len() <= i {
            slots.resize_with(i + 1, || None);
        }
        done += 1;
        if result.is_err() {
            errors += 1;
        }
        on_done(done, errors, &result);
        match (result, max_errors) {
            (Err(e), Some(max)) if errors >= max => {
                return Err(Error::TooManyErrors { errors, max_errors: max, last: Box::new(e) });
            }
            (result, _) => slots[i] = Some(result),
        }
    }
    Ok(slots.into_iter().map(|s| s.unwrap_or_else(|| Err(Error::NoResult { what: "Parallel".into(), reason: "the item did not run".into() }))).collect())
}
