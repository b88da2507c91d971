//! The language-model boundary: one small trait, the request it takes, the response it gives,
//! and [`LM`], the HTTP client for real providers (OpenAI and compatible servers, Anthropic,
//! Ollama) with caching, retries, limits, usage, cost, history and tracing.

mod builder;
mod cache;
mod client;
mod cost;
mod dialect;
pub(crate) mod error;
mod history;
mod http;
mod limiter;
mod message;
mod provider;
mod retry;
mod secret;
mod sse;

use std::fmt;
use std::sync::Arc;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use message::{Content, ContentPart, ImageUrl, InputAudio, Message, Role};

pub use builder::LmBuilder;
pub use cache::{Cache, CacheConfig, cache_key, configure_cache, default_cache_dir, global_cache};
pub use client::LM;
pub use cost::{Price, price_of, set_price};
pub use dialect::{Dialect, MaxTokensParam, StructuredDialect};
pub use error::LmError;
pub use history::{HistoryEntry, clear_history, format_history, history, inspect_history, set_history_capacity};
pub use provider::{Auth, ModelType, ProviderSpec, Wire, providers};
pub use retry::RetryPolicy;
pub use secret::ApiKey;

/// A language model: messages and settings in, completions and token usage out.
///
/// Implement it to plug any model in; [`DummyLM`](crate::DummyLM) is the in-process one for tests.
///
/// ```
/// use dspy_core::{LanguageModel, LmRequest, LmResponse, LmError, LmOutput};
/// #[derive(Debug)]
/// struct Echo;
/// #[async_trait::async_trait]
/// impl LanguageModel for Echo {
///     fn model(&self) -> &str { "echo" }
///     async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
///         let last = request.messages.last().map(|m| m.content.text()).unwrap_or_default();
///         Ok(LmResponse::from_texts("echo", [last]))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait LanguageModel: Send + Sync + fmt::Debug {
    /// The model name (`openai/gpt-4o-mini`, `dummy`).
    fn model(&self) -> &str;

    /// What the model supports, so adapters ask only for what works.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// The LM's own default settings, merged under each request's settings.
    fn defaults(&self) -> LmConfig {
        LmConfig::default()
    }

    /// Sends one request.
    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError>;

    /// Sends one request and yields the completion as it is generated: text deltas of the
    /// first completion, then the whole response. Models without streaming yield it in one piece.
    async fn stream(&self, request: LmRequest) -> Result<LmStream, LmError> {
        let response = self.complete(request).await?;
        let text = response.outputs.first().map(|o| o.text.clone()).unwrap_or_default();
        let events = vec![Ok(StreamEvent::Delta(text)), Ok(StreamEvent::Done(response))];
        Ok(Box::pin(futures::stream::iter(events)))
    }

    /// The shared handle predictors and settings keep. Any model is taken by value
    /// (`with_lm(lm)`, `Settings::new().lm(lm)`); an `Arc` given there is kept as it is, so
    /// sharing one model between several predictors costs no second allocation.
    fn into_shared(self) -> Arc<dyn LanguageModel>
    where
        Self: Sized + 'static,
    {
        Arc::new(self)
    }
}

/// A shared model is itself a model (as rig does for its `CompletionModel`), so users pass
/// `Arc<M>` or `M` alike and never wrap by hand.
macro_rules! forward_language_model {
    ($($impl_head:tt)*) => {
        #[async_trait::async_trait]
        $($impl_head)* {
            fn model(&self) -> &str {
                (**self).model()
            }

            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }

            fn defaults(&self) -> LmConfig {
                (**self).defaults()
            }

            async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
                (**self).complete(request).await
            }

            async fn stream(&self, request: LmRequest) -> Result<LmStream, LmError> {
                (**self).stream(request).await
            }

            fn into_shared(self) -> Arc<dyn LanguageModel> {
                self
            }
        }
    };
}

forward_language_model!(impl<L: LanguageModel + 'static> LanguageModel for Arc<L>);
forward_language_model!(impl LanguageModel for Arc<dyn LanguageModel>);

/// A streamed completion: [`StreamEvent::Delta`]s, then one [`StreamEvent::Done`].
pub type LmStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<StreamEvent, LmError>> + Send>>;

/// One event of a streamed completion.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// More text of the first completion.
    Delta(String),
    /// The complete response (all completions, usage), always last.
    Done(LmResponse),
}

/// What a model supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Which structured-output mode the server accepts.
    pub structured_output: StructuredOutput,
    /// Native tool / function calling.
    pub function_calling: bool,
    /// More than one completion per request (`n > 1`).
    pub multiple_completions: bool,
    /// Streaming responses.
    pub streaming: bool,
    /// Image inputs.
    pub vision: bool,
    /// Audio inputs.
    pub audio: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            structured_output: StructuredOutput::None,
            function_calling: false,
            multiple_completions: true,
            streaming: false,
            vision: false,
            audio: false,
        }
    }
}

/// Structured-output support of a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// None: the prompt alone asks for the format.
    None,
    /// JSON mode without a schema.
    JsonObject,
    /// JSON constrained by a schema (whatever the server's dialect for it).
    JsonSchema,
}

/// The structured output an adapter asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// A JSON object matching `schema` (already lowered for strict mode).
    JsonSchema {
        /// A name for the schema.
        name: String,
        /// The schema.
        schema: Value,
        /// Whether the server must follow it exactly.
        strict: bool,
    },
}

/// A tool the LM may call natively.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON schema of its arguments.
    pub parameters: Value,
}

/// A tool call the LM made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id.
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments.
    pub args: Value,
}

/// Sampling and request settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LmConfig {
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Maximum tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Number of completions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Distinguishes otherwise identical requests so each gets a fresh sample (and cache entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_id: Option<u64>,
    /// Provider-specific parameters passed through as they are.
    #[serde(skip_serializing_if = "Map::is_empty", default)]
    pub extra: Map<String, Value>,
}

impl LmConfig {
    /// `self` with every setting `over` has replacing this one's.
    pub fn merged(&self, over: &LmConfig) -> LmConfig {
        let extra = match (self.extra.is_empty(), over.extra.is_empty()) {
            (_, true) => self.extra.clone(),
            (true, false) => over.extra.clone(),
            (false, false) => {
                let mut extra = self.extra.clone();
                extra.extend(over.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                extra
            }
        };
        LmConfig {
            temperature: over.temperature.or(self.temperature),
            top_p: over.top_p.or(self.top_p),
            max_tokens: over.max_tokens.or(self.max_tokens),
            n: over.n.or(self.n),
            stop: over.stop.clone().or_else(|| self.stop.clone()),
            rollout_id: over.rollout_id.or(self.rollout_id),
            extra,
        }
    }
}

/// One request to a language model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LmRequest {
    /// The conversation.
    pub messages: Vec<Message>,
    /// Sampling settings.
    pub config: LmConfig,
    /// Structured output to ask for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Tools offered for native calling.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tools: Vec<ToolSpec>,
}

/// One completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LmOutput {
    /// The generated text.
    pub text: String,
    /// Native tool calls, if any.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tool_calls: Vec<ToolCall>,
    /// Reasoning text the provider returned separately, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Why generation stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

/// What a language model returned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LmResponse {
    /// One entry per completion (`n`).
    pub outputs: Vec<LmOutput>,
    /// Tokens used.
    pub usage: Usage,
    /// The model that answered.
    pub model: String,
    /// Whether this came from the cache (and so cost nothing).
    #[serde(default)]
    pub cache_hit: bool,
}

impl LmResponse {
    /// A response made of plain texts.
    pub fn from_texts(model: &str, texts: impl IntoIterator<Item = String>) -> Self {
        LmResponse {
            outputs: texts.into_iter().map(|text| LmOutput { text, ..LmOutput::default() }).collect(),
            usage: Usage::default(),
            model: model.to_string(),
            cache_hit: false,
        }
    }
}

/// Token usage and cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Cost in US dollars, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

impl Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens + o.prompt_tokens,
            completion_tokens: self.completion_tokens + o.completion_tokens,
            total_tokens: self.total_tokens + o.total_tokens,
            cost: match (self.cost, o.cost) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            },
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        *self = *self + o;
    }
}

/// The first 200 characters of a completion, for error messages.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
