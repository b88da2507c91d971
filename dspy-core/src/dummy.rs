//! `DummyLM`: an in-process language model with scripted answers, for tests and examples.
//!
//! It answers in an adapter's completion format, so it sits above both the LM layer (whose
//! trait it implements) and the adapters (whose [`FormatOutputs`] it uses); neither depends on it.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::adapter::{ChatAdapter, FormatOutputs};
use crate::lm::{LanguageModel, LmError, LmOutput, LmRequest, LmResponse, Message, Usage};

/// A scripted language model with DSPy's three modes:
///
/// - [`DummyLM::new`]: answers in order (then `"No more responses"`);
/// - [`DummyLM::by_substring`]: the first answer whose key occurs in the last message;
/// - [`DummyLM::follow_examples`]: copies the output of the demo whose input matches.
///
/// Answers are field maps, rendered in the adapter's format (ChatAdapter unless set), and every
/// call is recorded in [`DummyLM::history`].
///
/// ```
/// use dspy_core::{DummyLM, LanguageModel, LmRequest, Message};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = DummyLM::new(vec![serde_json::json!({"answer": "Paris"})]);
/// let out = lm.complete(LmRequest { messages: vec![Message::user("?")], ..Default::default() }).await.unwrap();
/// assert_eq!(out.outputs[0].text, "[[ ## answer ## ]]\nParis");
/// # });
/// ```
pub struct DummyLM {
    mode: Mode,
    adapter: Arc<dyn FormatOutputs>,
    next: AtomicUsize,
    history: Mutex<Vec<LmHistoryEntry>>,
    record_history: bool,
}

enum Mode {
    /// The answers, and their text in the adapter's format: rendered once, up front, so a call
    /// costs what an instant LM costs and benchmarks measure the framework around it.
    Sequence { answers: Vec<Map<String, Value>>, rendered: Vec<String> },
    BySubstring(Vec<(String, Map<String, Value>)>),
    FollowExamples,
    Raw(Vec<String>),
}

/// One recorded call.
#[derive(Clone, Debug, PartialEq)]
pub struct LmHistoryEntry {
    /// The messages sent.
    pub messages: Vec<Message>,
    /// The completions returned.
    pub outputs: Vec<String>,
    /// Tokens used.
    pub usage: Usage,
}

impl fmt::Debug for DummyLM {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DummyLM").field("adapter", &self.adapter).finish_non_exhaustive()
    }
}

fn to_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("answer".into(), other);
            m
        }
    }
}

impl DummyLM {
    fn with_mode(mode: Mode) -> Self {
        DummyLM {
            mode,
            adapter: Arc::new(ChatAdapter::new()),
            next: AtomicUsize::new(0),
            history: Mutex::new(Vec::new()),
            record_history: true,
        }
    }

    /// Answers in order, one field map per call.
    pub fn new(answers: Vec<Value>) -> Self {
        let answers = answers.into_iter().map(to_map).collect();
        Self::with_mode(Mode::Sequence { answers, rendered: Vec::new() }).rendered()
    }

    /// Renders the sequence's answers in the current adapter's format.
    fn rendered(mut self) -> Self {
        if let Mode::Sequence { answers, rendered } = &mut self.mode {
            *rendered = answers.iter().map(|a| self.adapter.format_outputs(a)).collect();
        }
        self
    }

    /// Answers with the first entry whose key occurs in the last message.
    pub fn by_substring(answers: Vec<(String, Value)>) -> Self {
        Self::with_mode(Mode::BySubstring(answers.into_iter().map(|(k, v)| (k, to_map(v))).collect()))
    }

    /// Answers with the output of the demo whose input matches the final input.
    pub fn follow_examples() -> Self {
        Self::with_mode(Mode::FollowExamples)
    }

    /// Answers with these completion texts verbatim, in order (then `"No more responses"`):
    /// for replaying completions recorded from a real LM (e.g. interop vectors).
    ///
    /// ```
    /// use dspy_core::{DummyLM, LanguageModel, LmRequest};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = DummyLM::raw(vec!["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]".to_string()]);
    /// let out = lm.complete(LmRequest::default()).await.unwrap();
    /// assert!(out.outputs[0].text.contains("Paris"));
    /// # });
    /// ```
    pub fn raw(texts: Vec<String>) -> Self {
        Self::with_mode(Mode::Raw(texts))
    }

    /// Renders answers in this adapter's format (e.g. `JSONAdapter`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use dspy_core::{DummyLM, JSONAdapter, LanguageModel, LmRequest};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = DummyLM::new(vec![serde_json::json!({"answer": "Paris"})]).with_adapter(Arc::new(JSONAdapter::new()));
    /// let out = lm.complete(LmRequest::default()).await.unwrap();
    /// assert_eq!(out.outputs[0].text, "{\n  \"answer\": \"Paris\"\n}");
    /// # });
    /// ```
    pub fn with_adapter(mut self, adapter: Arc<dyn FormatOutputs>) -> Self {
        self.adapter = adapter;
        self.rendered()
    }

    /// Turns the call history off (it grows with every call).
    pub fn without_history(mut self) -> Self {
        self.record_history = false;
        self
    }

    /// Every call so far.
    pub fn history(&self) -> Vec<LmHistoryEntry> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn answer(&self, messages: &[Message]) -> String {
        match &self.mode {
            Mode::Sequence { rendered, .. } => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                match rendered.get(i) {
                    Some(text) => text.clone(),
                    None => self.adapter.format_outputs(&to_map(json!({"answer": "No more responses"}))),
                }
            }
            Mode::BySubstring(answers) => {
                let last = messages.last().map(|m| m.content.text()).unwrap_or_default();
                answers
                    .iter()
                    .find(|(key, _)| last.contains(key.as_str()))
                    .map(|(_, a)| self.adapter.format_outputs(a))
                    .unwrap_or_else(|| "No more responses".into())
            }
            Mode::FollowExamples => follow_examples(messages).unwrap_or_default(),
            Mode::Raw(texts) => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                texts.get(i).cloned().unwrap_or_else(|| "No more responses".into())
            }
        }
    }
}

/// DSPy's `_use_example`: finds the output fields (markers that appear less often than the
/// inputs), then the last demo whose user turn contains the final input.
fn follow_examples(messages: &[Message]) -> Option<String> {
    let texts: Vec<String> = messages.iter().map(|m| m.content.text()).collect();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for text in &texts {
        if let Some(marker) = leading_marker(text) {
            match counts.iter_mut().find(|(m, _)| *m == marker) {
                Some((_, c)) => *c += 1,
                None => counts.push((marker, 1)),
            }
        }
    }
    let max = counts.iter().map(|(_, c)| *c).max()?;
    let output_markers: Vec<&str> = counts.iter().filter(|(_, c)| *c != max).map(|(m, _)| m.as_str()).collect();
    let final_input = texts.last()?.split("\n\n").next().unwrap_or("");
    let n = texts.len();
    for i in (1..n).rev() {
        let (input, output) = (&texts[i - 1], &texts[i]);
        if output_markers.iter().any(|m| output.contains(m)) && input.contains(final_input) {
            return Some(output.clone());
        }
    }
    None
}

fn leading_marker(text: &str) -> Option<String> {
    let rest = text.strip_prefix("[[ ## ")?;
    let end = rest.find(" ## ]]")?;
    let name = &rest[..end];
    (!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')).then(|| format!("[[ ## {name} ## ]]"))
}

#[async_trait::async_trait]
impl LanguageModel for DummyLM {
    fn model(&self) -> &str {
        "dummy"
    }

    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
        let n = request.config.n.unwrap_or(1).max(1) as usize;
        let outputs: Vec<LmOutput> = (0..n)
            .map(|_| LmOutput { text: self.answer(&request.messages), finish_reason: Some("stop".into()), ..LmOutput::default() })
            .collect();
        if self.record_history {
            self.history.lock().unwrap_or_else(|p| p.into_inner()).push(LmHistoryEntry {
                messages: request.messages,
                outputs: outputs.iter().map(|o| o.text.clone()).collect(),
                usage: Usage::default(),
            });
        }
        Ok(LmResponse {
            outputs,
            usage: Usage::default(),
            model: "dummy".into(),
            cache_hit: false,
        })
    }
}
