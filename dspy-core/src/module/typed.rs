//! [`TypedModule`]: the typed shell over [`Module`]. One trait gives every typed program (the
//! built-in modules and `#[module]` structs) the same `call`, `call_blocking`, `batch`,
//! `stream` and `with_lm`, written once here.

use std::future::Future;

use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Module, PredictionStream, StreamItem};
use crate::error::{InputError, Result};
use crate::example::Example;
use crate::prediction::{Predicted, Prediction};

/// A program with a typed input and a typed output.
///
/// The dynamic [`Module::forward`] (example in, prediction out) stays the one path that
/// optimizers, `Evaluate` and saved programs use; `TypedModule` says how typed inputs become that
/// example ([`TypedModule::to_example`]) and how its prediction reads as the typed output
/// ([`TypedModule::to_output`]). Wiring a step's output into a step that wants another type, or
/// reading a field the output does not have, is then a compile error.
///
/// ```
/// use dspy_core::{ChainOfThought, DummyLM, Module, TypedModule, TypedSignature};
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
/// let lm = DummyLM::new(vec![serde_json::json!({"reasoning": "Capital.", "answer": "Paris"})]);
/// let qa = ChainOfThought::<QA>::new().with_lm(lm);
/// let out = qa.call_blocking("Capital of France?").unwrap();
/// assert_eq!(out.answer, "Paris");
/// assert_eq!(out.reasoning, "Capital.");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a typed program",
    label = "this has no typed input and output",
    note = "typed programs are `Predict<S>`, `ChainOfThought<S>` and the other modules over a typed signature, and `#[module]`s whose `forward` takes typed arguments and returns `Result<YourType>` or `Result<Predicted<T>>`",
    note = "a `forward` over `&Example`, or returning `Result<Prediction>`, makes a dynamic module: score it with a metric over `&Example, &Prediction`"
)]
pub trait TypedModule: Module {
    /// The typed inputs (`call` takes anything `Into` them).
    type Input: Send + 'static;
    /// The typed outputs (`call` returns them inside a [`Predicted`], which keeps the dynamic
    /// prediction and its usage).
    type Output: Send + 'static;

    /// The typed inputs as the example [`Module::forward`] reads.
    fn to_example(input: Self::Input) -> Result<Example>;

    /// The typed view of a prediction of this program.
    fn to_output(prediction: Prediction) -> Result<Predicted<Self::Output>>;

    /// Runs the program on typed inputs.
    ///
    /// The future is a [`TypedCall`] (boxed), not an `impl Future`: an opaque future would
    /// repeat the `Into<Self::Input>` bound, so a call with the wrong input type would be
    /// reported three times (at the method, the call and the `.await`); here, once.
    fn call(&self, input: impl Into<Self::Input> + Send) -> TypedCall<'_, Self::Output>
    where
        Self: Sized,
    {
        let example = Self::to_example(input.into());
        Box::pin(async move { Self::to_output(self.forward(&example?).await?) })
    }

    /// [`TypedModule::call`] for scripts and sync code: runs on a private runtime.
    fn call_blocking(&self, input: impl Into<Self::Input> + Send) -> Result<Predicted<Self::Output>>
    where
        Self: Sized,
    {
        crate::block_on(self.call(input))
    }

    /// Runs the program on every input with at most `concurrency` calls in flight. The
    /// results keep the input order, one per input: a failure is that input's `Err` and never
    /// loses the others.
    fn batch<I>(&self, inputs: impl IntoIterator<Item = I>, concurrency: usize) -> impl Future<Output = Vec<Result<Predicted<Self::Output>>>> + Send
    where
        Self: Sized,
        I: Into<Self::Input>,
    {
        let inputs: Vec<Self::Input> = inputs.into_iter().map(Into::into).collect();
        async move {
            let calls = inputs.into_iter().map(|input| self.call(input));
            futures::stream::iter(calls).buffered(concurrency.max(1)).collect().await
        }
    }

    /// Streams one run: for the LM-calling modules ([`Predict`](crate::Predict),
    /// [`ChainOfThought`](crate::ChainOfThought)), [`StreamItem::Chunk`]s of the output fields as
    /// the LM writes them; for every program, [`StreamItem::Done`] with the typed result last.
    fn stream(&self, input: impl Into<Self::Input> + Send) -> TypedStream<'_, Self::Output>
    where
        Self: Sized,
    {
        let input: Self::Input = input.into();
        let call = self.call(input);
        Box::pin(futures::stream::once(async move { call.await.map(StreamItem::Done) }))
    }
}

/// A typed run: the future [`TypedModule::call`] returns.
pub type TypedCall<'a, O> = std::pin::Pin<Box<dyn Future<Output = Result<Predicted<O>>> + Send + 'a>>;

/// A typed run, streamed: chunks of output text, then the typed result.
pub type TypedStream<'a, O> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<StreamItem<Predicted<O>>>> + Send + 'a>>;

/// A dynamic prediction stream whose final prediction is read as `O`.
pub(crate) fn typed_stream<O: DeserializeOwned + Send + 'static>(stream: PredictionStream<'_>) -> TypedStream<'_, O> {
    Box::pin(stream.map(|item| match item? {
        StreamItem::Chunk { field, text } => Ok(StreamItem::Chunk { field, text }),
        StreamItem::Done(prediction) => Predicted::new(prediction).map(StreamItem::Done),
    }))
}

/// Typed inputs as the example the runtime works on (their serde fields).
pub(crate) fn serialized_example<I: Serialize>(input: I) -> Result<Example> {
    input_map(input).map(Example::from_map)
}

/// Typed inputs as the field map the runtime works on.
pub(crate) fn input_map<I: Serialize>(input: I) -> Result<Map<String, Value>> {
    match serde_json::to_value(input) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(InputError::NotAnObject { what: "inputs".into(), reason: format!("got {other}") }.into()),
        Err(e) => Err(InputError::NotAnObject { what: "inputs".into(), reason: e.to_string() }.into()),
    }
}

/// `TypedModule` for a module over a typed signature `S`: `S::Input` in (serialised), the
/// signature's outputs read as `$wrap<S::Output>` (the module's extra fields beside them).
macro_rules! typed_over_signature {
    ($module:ident, $wrap:ident) => {
        impl<S: crate::signature::TypedSignature> crate::module::TypedModule for $module<S> {
            type Input = S::Input;
            type Output = $wrap<S::Output>;

            fn to_example(input: S::Input) -> crate::error::Result<crate::example::Example> {
                crate::module::serialized_example(input)
            }

            fn to_output(prediction: crate::prediction::Prediction) -> crate::error::Result<crate::prediction::Predicted<Self::Output>> {
                crate::prediction::Predicted::new(prediction)
            }
        }
    };
}

/// `TypedModule` for a wrapper that runs its module `M` (several times, with feedback...):
/// the same typed inputs and outputs as `M`.
macro_rules! typed_as_inner {
    ($wrapper:ident) => {
        impl<M: crate::module::TypedModule + Clone> crate::module::TypedModule for $wrapper<M> {
            type Input = M::Input;
            type Output = M::Output;

            fn to_example(input: M::Input) -> crate::error::Result<crate::example::Example> {
                M::to_example(input)
            }

            fn to_output(prediction: crate::prediction::Prediction) -> crate::error::Result<crate::prediction::Predicted<M::Output>> {
                M::to_output(prediction)
            }
        }
    };
}

pub(crate) use {typed_as_inner, typed_over_signature};
