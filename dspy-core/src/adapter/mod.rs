//! Adapters: how a signature, demos and inputs become chat messages, and how a completion
//! becomes output values. Each reproduces the reference DSPy 3.4.1 adapter of the same name
//! byte for byte.

mod chat;
pub(crate) mod format;
mod stream;
mod json;
mod xml;

use std::fmt;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

pub use chat::ChatAdapter;
pub(crate) use stream::{FieldMarkers, FieldStreamer};
pub use json::JSONAdapter;
pub use xml::XMLAdapter;

use crate::error::ParseError;
use crate::example::Example;
use crate::lm::{Capabilities, LmRequest, Message, Role};
use crate::signature::Signature;
use crate::types::expand_media;

const INCOMPLETE_DEMO_PREFIX: &str = "This is an example of the task, though some input or output fields are not supplied.";
const MISSING_IN_INCOMPLETE_DEMO: &str = "Not supplied for this particular example. ";
const MISSING_IN_COMPLETE_DEMO: &str = "Not supplied for this conversation history message. ";

/// Writes output values the way an adapter asks the LM to write them: what a scripted LM
/// ([`DummyLM`](crate::DummyLM), test simulators) answers with. Not part of [`Adapter`]:
/// prompting and parsing never need it, and the LM layer must not depend on adapters.
pub trait FormatOutputs: Send + Sync + fmt::Debug {
    /// The completion text that carries these outputs.
    fn format_outputs(&self, outputs: &Map<String, Value>) -> String;
}

/// Turns a signature, demos and inputs into messages, and a completion into output values.
///
/// The provided `format` assembles the reference's message structure (system message, one
/// user/assistant pair per demo, the final user message) from the per-message methods, so a
/// custom adapter only writes those.
pub trait Adapter: Send + Sync + fmt::Debug {
    /// The adapter's name, used in errors and traces.
    fn name(&self) -> &'static str;

    /// The system message: field descriptions, structure and task.
    fn format_system_message(&self, sig: &Signature) -> String;

    /// A user message with the given inputs; `main_request` adds the closing output request.
    fn format_user_message_content(&self, sig: &Signature, inputs: &Map<String, Value>, prefix: &str, main_request: bool) -> String;

    /// An assistant message with the given outputs; absent outputs show `missing` (or `None`).
    fn format_assistant_message_content(&self, sig: &Signature, outputs: &Map<String, Value>, missing: Option<&str>) -> String;

    /// Parses a completion into the signature's output values (typed per field).
    fn parse(&self, sig: &Signature, completion: &str) -> Result<Map<String, Value>, ParseError>;

    /// Adjusts the request before it is sent (e.g. asks for structured output).
    fn prepare_request(&self, _sig: &Signature, _request: &mut LmRequest, _capabilities: &Capabilities) {}

    /// The adapter to retry with when parsing fails (ChatAdapter → JSONAdapter).
    fn fallback(&self) -> Option<&dyn Adapter> {
        None
    }

    /// How output fields are delimited in a completion, so a stream can be split into
    /// per-field chunks as it arrives (`None`: stream only the final prediction).
    fn field_markers(&self) -> Option<FieldMarkers> {
        None
    }

    /// The demos as user/assistant message pairs: incomplete demos first, then complete ones.
    fn format_demos(&self, sig: &Signature, demos: &[Example]) -> Vec<Message> {
        let mut incomplete = Vec::new();
        let mut complete = Vec::new();
        for demo in demos {
            let data = demo.data();
            let is_complete = sig.fields().iter().all(|f| data.get(&f.name).is_some_and(|v| !v.is_null()));
            let has_input = sig.input_fields().any(|f| data.contains_key(&f.name));
            let has_output = sig.output_fields().any(|f| data.contains_key(&f.name));
            if is_complete {
                complete.push(data);
            } else if has_input && has_output {
                incomplete.push(data);
            }
        }
        let mut messages = Vec::with_capacity(2 * (incomplete.len() + complete.len()));
        for data in incomplete {
            messages.push(user_message(self.format_user_message_content(sig, data, INCOMPLETE_DEMO_PREFIX, false)));
            messages.push(Message::assistant(self.format_assistant_message_content(sig, data, Some(MISSING_IN_INCOMPLETE_DEMO))));
        }
        for data in complete {
            messages.push(user_message(self.format_user_message_content(sig, data, "", false)));
            messages.push(Message::assistant(self.format_assistant_message_content(sig, data, Some(MISSING_IN_COMPLETE_DEMO))));
        }
        messages
    }

    /// The full message list for one call.
    fn format(&self, sig: &Signature, demos: &[Example], inputs: &Map<String, Value>) -> Vec<Message> {
        let mut messages = Vec::with_capacity(2 + 2 * demos.len());
        messages.push(Message::system(self.format_system_message(sig)));
        messages.extend(self.format_demos(sig, demos));
        let content = self.format_user_message_content(sig, inputs, "", true);
        if !content.is_empty() {
            messages.push(user_message(content));
        }
        messages
    }
}

/// A user message, split into content parts when it carries images or audio.
pub(crate) fn user_message(content: String) -> Message {
    Message { role: Role::User, content: expand_media(content) }
}

/// Formats, calls the LM, and parses every completion; on a parse failure retries once with the
/// adapter's fallback (ChatAdapter → JSONAdapter). Returns the outputs and the tokens used.
pub(crate) async fn run(
    adapter: &dyn Adapter,
    lm: &dyn crate::lm::LanguageModel,
    sig: &Signature,
    demos: &[Example],
    inputs: &Map<String, Value>,
    config: crate::lm::LmConfig,
) -> crate::Result<(Vec<Map<String, Value>>, crate::lm::Usage)> {
    Ok(run_keeping_completion(adapter, lm, sig, demos, inputs, config).await?.map_err(|(error, _)| error)?)
}

/// [`run`], but a completion that did not parse comes back with its text (DSPy's
/// `FailedPrediction`), for the trace.
pub(crate) async fn run_keeping_completion(
    adapter: &dyn Adapter,
    lm: &dyn crate::lm::LanguageModel,
    sig: &Signature,
    demos: &[Example],
    inputs: &Map<String, Value>,
    config: crate::lm::LmConfig,
) -> crate::Result<Result<(Vec<Map<String, Value>>, crate::lm::Usage), (ParseError, String)>> {
    let (first, usage, text) = run_once(adapter, lm, sig, demos, inputs, config.clone()).await?;
    Ok(match (first, adapter.fallback()) {
        (Ok(outputs), _) => Ok((outputs, usage)),
        (Err(error), Some(fallback)) => {
            tracing::debug!(adapter = adapter.name(), fallback = fallback.name(), %error, "parse failed, retrying with fallback adapter");
            let (second, more, text) = run_once(fallback, lm, sig, demos, inputs, config).await?;
            second.map(|outputs| (outputs, usage + more)).map_err(|error| (error, text))
        }
        (Err(error), None) => Err((error, text)),
    })
}

/// A parse attempt, its tokens, and the first completion's text.
type Attempt = (Result<Vec<Map<String, Value>>, ParseError>, crate::lm::Usage, String);

async fn run_once(
    adapter: &dyn Adapter,
    lm: &dyn crate::lm::LanguageModel,
    sig: &Signature,
    demos: &[Example],
    inputs: &Map<String, Value>,
    config: crate::lm::LmConfig,
) -> crate::Result<Attempt> {
    let request = build_request(adapter, lm, sig, demos, inputs, config);
    let response = lm.complete(request).await?;
    let parsed = parse_response(adapter, sig, &response);
    let text = if parsed.is_err() { response.outputs.first().map(|o| o.text.clone()).unwrap_or_default() } else { String::new() };
    Ok((parsed, response.usage, text))
}

/// The request for one call: the adapter's messages, the settings, and whatever the adapter
/// asks for given the LM's capabilities (e.g. structured output).
pub(crate) fn build_request(
    adapter: &dyn Adapter,
    lm: &dyn crate::lm::LanguageModel,
    sig: &Signature,
    demos: &[Example],
    inputs: &Map<String, Value>,
    config: crate::lm::LmConfig,
) -> LmRequest {
    let mut request = LmRequest { messages: adapter.format(sig, demos, inputs), config, ..LmRequest::default() };
    adapter.prepare_request(sig, &mut request, &lm.capabilities());
    request
}

/// Parses every completion of a response; an empty completion is a parse error.
pub(crate) fn parse_response(
    adapter: &dyn Adapter,
    sig: &Signature,
    response: &crate::lm::LmResponse,
) -> Result<Vec<Map<String, Value>>, ParseError> {
    response
        .outputs
        .iter()
        .map(|o| {
            if o.text.trim().is_empty() {
                Err(ParseError::Empty { adapter: adapter.name() })
            } else {
                adapter.parse(sig, &o.text)
            }
        })
        .collect()
}

/// Formatted system messages by signature version: the system message changes only when the
/// signature does (an optimizer rewrote it), so adapters format it once and reuse it.
#[derive(Default)]
pub(crate) struct SystemMessageCache {
    entries: RwLock<Vec<(u64, u8, Arc<str>)>>,
}

impl SystemMessageCache {
    const CAPACITY: usize = 64;

    /// The cached system message for this signature, or `make()`'s, remembered for next time.
    pub(crate) fn get_or_insert_with(&self, sig: &Signature, make: impl FnOnce() -> String) -> String {
        self.get_or_insert_slot(sig, 0, make).to_string()
    }

    /// Like [`SystemMessageCache::get_or_insert_with`] for another text that depends only on
    /// the signature (`slot` tells the texts apart, e.g. the closing output request). Shared,
    /// not copied: a text that is only read costs no allocation.
    pub(crate) fn get_or_insert_slot(&self, sig: &Signature, slot: u8, make: impl FnOnce() -> String) -> Arc<str> {
        let version = sig.version();
        let read = self.entries.read().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, text)) = read.iter().find(|(v, s, _)| *v == version && *s == slot) {
            return Arc::clone(text);
        }
        drop(read);
        let text: Arc<str> = Arc::from(make());
        let mut write = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if write.len() >= Self::CAPACITY {
            write.remove(0);
        }
        write.push((version, slot, Arc::clone(&text)));
        text
    }
}

impl Clone for SystemMessageCache {
    /// A clone starts empty (cheap, and never stale).
    fn clone(&self) -> Self {
        SystemMessageCache::default()
    }
}

impl fmt::Debug for SystemMessageCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemMessageCache")
    }
}
