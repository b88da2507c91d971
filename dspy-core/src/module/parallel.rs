//! `Parallel`: run many (module, example) pairs concurrently, in order, within an error budget
//! (DSPy's `dspy.Parallel`).

use std::future::Future;

use futures::{FutureExt, StreamExt};

use super::{Module, Predictor, TypedModule};
use crate::error::{Error, InputError, Result};
use crate::evaluate::Progress;
use crate::example::Example;
use crate::prediction::{Predicted, Prediction};

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
///
/// Over one module ([`Parallel::over`]) it is itself a program, typed when the module is: a
/// list of the module's inputs in, a list of its outputs out (`None` where that input failed).
///
/// ```
/// use dspy_core::module::Parallel;
/// use dspy_core::{DummyLM, Module, TypedModule, Predict, TypedSignature};
/// # use dspy_core::{Field, FieldType, Signature};
/// # #[derive(serde::Serialize)] struct QIn { question: String }
/// # impl From<&str> for QIn { fn from(q: &str) -> Self { QIn { question: q.into() } } }
/// # #[derive(serde::Deserialize)] struct QOut { answer: String }
/// # struct QA;
/// # impl TypedSignature for QA {
/// #     type Input = QIn; type Output = QOut;
/// #     fn signature() -> &'static Signature {
/// #         static S: std::sync::OnceLock<Signature> = std::sync::OnceLock::new();
/// #         S.get_or_init(|| Signature::from_fields("QA", None, [Field::input("question", FieldType::Str), Field::output("answer", FieldType::Str)]).unwrap())
/// #     }
/// # }
/// let lm = DummyLM::by_substring(vec![("Spain".into(), serde_json::json!({"answer": "Madrid"})), ("Peru".into(), serde_json::json!({"answer": "Lima"}))]);
/// let each = Parallel::new().num_threads(2).over(Predict::<QA>::new()).with_lm(lm);
/// let out = each.call_blocking(vec!["Capital of Spain?".into(), "Capital of Peru?".into()]).unwrap();
/// let answers: Vec<&str> = out.iter().map(|o| o.as_ref().map_or("-", |o| o.answer.as_str())).collect();
/// assert_eq!(answers, ["Madrid", "Lima"]);
/// ```
#[derive(Clone, Debug)]
pub struct Parallel<M = ()> {
    module: M,
    num_threads: usize,
    max_errors: Option<usize>,
    access_examples: bool,
    progress: bool,
}

impl Default for Parallel {
    fn default() -> Self {
        Parallel { module: (), num_threads: 8, max_errors: Some(DEFAULT_MAX_ERRORS), access_examples: true, progress: false }
    }
}

impl Parallel {
    /// 8 at a time, at most 10 errors, examples reduced to their inputs, no progress bar.
    pub fn new() -> Self {
        Self::default()
    }

    /// This runner over one module: a program that runs the module on a list of inputs.
    pub fn over<M: Module>(self, module: M) -> Parallel<M> {
        let Parallel { num_threads, max_errors, access_examples, progress, .. } = self;
        Parallel { module, num_threads, max_errors, access_examples, progress }
    }
}

impl<M> Parallel<M> {
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
    pub async fn run<'a, N>(&self, pairs: impl IntoIterator<Item = (&'a N, Example)>) -> Result<Vec<Result<Prediction>>>
    where
        N: Module + ?Sized + 'a,
    {
        let access = self.access_examples;
        let futures: Vec<_> = pairs
            .into_iter()
            .map(|(module, example)| async move {
                let inputs = if access { example.inputs() } else { example };
                module.forward(&inputs).await
            })
            .collect();
        self.bounded(futures).await
    }

    /// Polls `futures` within this runner's limits, with its progress bar.
    async fn bounded<Fut: Future<Output = Result<Prediction>>>(&self, futures: Vec<Fut>) -> Result<Vec<Result<Prediction>>> {
        let progress = Progress::new(futures.len(), self.progress);
        let out = run_bounded(futures, self.num_threads, self.max_errors, |done, errors, _| {
            progress.set(done, &format!("Processed {done} / {} examples, {errors} error(s)", progress.total()));
        })
        .await;
        progress.finish();
        out.map_err(|aborted| Error::TooManyErrors { errors: aborted.errors, max_errors: aborted.max_errors, last: Box::new(aborted.last) })
    }

    /// Runs one module over many examples.
    pub async fn map<N: Module + ?Sized>(&self, module: &N, examples: &[Example]) -> Result<Vec<Result<Prediction>>> {
        self.run(examples.iter().map(|e| (module, e.clone()))).await
    }
}

/// The dynamic form of `Parallel` over a module: the example's `inputs` field is a list of
/// input objects; the prediction has one completion per input, in order (empty where that
/// input failed), and the tokens of all of them.
#[async_trait::async_trait]
impl<M: Module> Module for Parallel<M> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let items = match inputs.get("inputs") {
            Some(serde_json::Value::Array(items)) => items,
            _ => {
                return Err(InputError::Invalid { needed_by: "Parallel".into(), message: "needs an `inputs` list of input objects".into() }.into());
            }
        };
        let examples = items
            .iter()
            .map(|item| match item {
                serde_json::Value::Object(map) => Ok(Example::from_map(map.clone())),
                other => Err(InputError::NotAnObject { what: "each of Parallel's inputs".into(), reason: format!("got {other}") }.into()),
            })
            .collect::<Result<Vec<Example>>>()?;
        let module = &self.module;
        let results = self.bounded(examples.iter().map(|e| module.forward(e)).collect()).await?;
        let usage = results.iter().flatten().map(Prediction::usage).fold(crate::lm::Usage::default(), |a, b| a + b);
        let outputs = results.into_iter().map(|r| r.map(|p| p.outputs().clone()).unwrap_or_default()).collect();
        Ok(Prediction::from_completions(outputs).with_usage(usage))
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        self.module.named_predictors()
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        self.module.named_predictors_mut()
    }

    fn definition(&self) -> Option<String> {
        self.module.definition()
    }

    fn source_code(&self) -> String {
        self.module.source_code()
    }
}

/// A list of the module's typed inputs in; its typed outputs out, in order, `None` where that
/// input failed (as DSPy's `Parallel` returns `None`).
impl<M: TypedModule> TypedModule for Parallel<M> {
    type Input = Vec<M::Input>;
    type Output = Vec<Option<M::Output>>;

    fn to_example(input: Vec<M::Input>) -> Result<Example> {
        let items = input.into_iter().map(|i| M::to_example(i).map(|e| serde_json::Value::Object(e.into_map()))).collect::<Result<Vec<_>>>()?;
        Ok(Example::new().with("inputs", items))
    }

    fn to_output(prediction: Prediction) -> Result<Predicted<Self::Output>> {
        let outputs = prediction
            .completions()
            .iter()
            .map(|map| if map.is_empty() { Ok(None) } else { M::to_output(Prediction::new(map.clone())).map(|p| Some(p.into_inner())) })
            .collect::<Result<Vec<_>>>()?;
        Ok(Predicted::from_parts(outputs, prediction))
    }
}

/// Why [`run_bounded`] stopped early: `errors` items failed, reaching `max_errors`; `last` is
/// the failure that reached it.
pub(crate) struct Aborted<E> {
    pub(crate) errors: usize,
    pub(crate) max_errors: usize,
    pub(crate) last: E,
}

/// The one bounded runner (of `Parallel`, `Evaluate` and the optimizers): polls `futures` with
/// at most `limit` in flight on the calling task, calls `on_done(done, errors, &result)` after
/// each, and returns every result in the futures' order, or [`Aborted`] once `max_errors`
/// have failed (the rest are dropped, as DSPy cancels its executor).
pub(crate) async fn run_bounded<T, E, Fut>(
    futures: impl IntoIterator<Item = Fut>,
    limit: usize,
    max_errors: Option<usize>,
    mut on_done: impl FnMut(usize, usize, &std::result::Result<T, E>),
) -> std::result::Result<Vec<std::result::Result<T, E>>, Aborted<E>>
where
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let mut slots: Vec<Option<std::result::Result<T, E>>> = Vec::new();
    // Tagged eagerly, so no closure over borrowed futures lives across an await (which keeps
    // the future provably `Send` inside `async_trait` methods).
    let indexed: Vec<_> = futures.into_iter().enumerate().map(|(i, f)| f.map(move |r| (i, r))).collect();
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
            (Err(last), Some(max)) if errors >= max => return Err(Aborted { errors, max_errors: max, last }),
            (result, _) => slots[i] = Some(result),
        }
    }
    // Every future ran to completion, so every slot is filled.
    Ok(slots.into_iter().flatten().collect())
}
