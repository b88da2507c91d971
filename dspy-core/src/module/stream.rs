//! Streaming a prediction: per-field chunks as the LM writes them, then the parsed prediction.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use serde_json::{Map, Value};

use super::Predict;
use crate::adapter::{self, FieldStreamer};
use crate::error::{Error, Result};
use crate::example::Example;
use crate::lm::{LmError, StreamEvent};
use crate::prediction::Prediction;
use crate::trace;

/// One item of a streamed prediction.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem<T = Prediction> {
    /// More text of one output field, in the order the LM writes them.
    Chunk {
        /// The output field.
        field: String,
        /// The new text.
        text: String,
    },
    /// The parsed prediction (typed, from [`TypedModule::stream`](super::TypedModule::stream)), always last.
    Done(T),
}

/// A streamed prediction (see [`Predict::forward_stream`]).
pub type PredictionStream<'a> = Pin<Box<dyn Stream<Item = Result<StreamItem>> + Send + 'a>>;

impl<S> Predict<S> {
    /// Streams one call: [`StreamItem::Chunk`]s of the output fields as the adapter's markers
    /// arrive (DSPy's `StreamListener`; ChatAdapter, JSONAdapter and XMLAdapter), then
    /// [`StreamItem::Done`] with the parsed prediction. As in DSPy, no JSON fallback is tried once
    /// a chunk was shown; before that, a parse failure falls back like [`Predict::forward`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use futures::StreamExt;
    /// use dspy_core::{DummyLM, Example, Module, Predict, module::StreamItem};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = Arc::new(DummyLM::new(vec![serde_json::json!({"answer": "Paris"})]));
    /// let qa = Predict::parse("question -> answer").unwrap().with_lm(lm);
    /// let input = Example::new().with("question", "Capital of France?");
    /// let items: Vec<_> = qa.forward_stream(&input).collect().await;
    /// assert!(matches!(&items[0], Ok(StreamItem::Chunk { field, text }) if field == "answer" && text == "Paris"));
    /// assert!(matches!(items.last(), Some(Ok(StreamItem::Done(p))) if p.get_str("answer") == Some("Paris")));
    /// # });
    /// ```
    pub fn forward_stream<'a>(&'a self, inputs: &'a Example) -> PredictionStream<'a> {
        self.stream_map(inputs.data().clone())
    }

    pub(crate) fn stream_map(&self, inputs: Map<String, Value>) -> PredictionStream<'_> {
        Box::pin(async_stream::try_stream! {
            let call = self.prepare(&inputs)?;
            let sig = crate::module::Predictor::signature(self);
            let request = adapter::build_request(&*call.adapter, &*call.lm, sig, self.demo_list(), &inputs, call.config.clone());
            let mut events = call.lm.stream(request).await?;
            let fields: Vec<&str> = sig.output_fields().map(|f| f.name.as_str()).collect();
            let mut streamer = call.adapter.field_markers().map(|m| FieldStreamer::new(m, &fields));
            let mut emitted = false;
            let mut response = None;
            while let Some(event) = events.next().await {
                match event? {
                    StreamEvent::Delta(text) => {
                        if let Some(s) = streamer.as_mut() {
                            for (field, text) in s.push(&text) {
                                emitted = true;
                                yield StreamItem::Chunk { field, text };
                            }
                        }
                    }
                    StreamEvent::Done(r) => response = Some(r),
                }
            }
            if let Some(s) = streamer.as_mut() {
                for (field, text) in s.finish() {
                    emitted = true;
                    yield StreamItem::Chunk { field, text };
                }
            }
            let response = response.ok_or_else(|| LmError::MalformedResponse { message: "the stream ended without a final response".into() })?;
            let (completions, usage) = match adapter::parse_response(&*call.adapter, sig, &response) {
                Ok(outputs) => (outputs, response.usage),
                Err(error) => match call.adapter.fallback() {
                    Some(fallback) if !emitted => {
                        let (outputs, more) = adapter::run(fallback, &*call.lm, sig, self.demo_list(), &inputs, call.config).await?;
                        (outputs, response.usage + more)
                    }
                    _ => Err(Error::from(error))?,
                },
            };
            let prediction = Prediction::from_completions(completions).with_usage(usage);
            trace::record(call.settings.inner(), self.predictor_id(), &inputs, &prediction);
            yield StreamItem::Done(prediction);
        })
    }
}
