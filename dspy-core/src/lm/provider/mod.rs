//! Providers as data: where each one lives, how it authenticates, which wire format it speaks
//! and its default [`Dialect`]. The wire formats themselves are one small module each.

pub(crate) mod anthropic;
pub(crate) mod ollama;
pub(crate) mod openai;

use serde_json::{Map, Value};

use super::dialect::Dialect;
use super::{LmError, LmOutput, LmRequest, LmResponse, ToolCall, Usage};

/// The wire format a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wire {
    /// OpenAI's Chat Completions (and legacy `/completions` for text models).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Ollama's native `/api/chat` and `/api/generate`.
    Ollama,
}

/// How the API key is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key as the value of this header (`x-api-key`, `api-key`).
    Header(&'static str),
}

/// Whether the chat or the text-completion endpoint is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    /// Chat messages in, an assistant message out (the default).
    #[default]
    Chat,
    /// A prompt string in, text out (`/v1/completions`, Ollama's `/api/generate`).
    Text,
}

/// One provider prefix (`openai/`, `anthropic/`, ...) and everything the client needs to know
/// about it. The whole table is [`providers`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ProviderSpec {
    /// The prefix before the first `/` of the model name.
    pub name: &'static str,
    /// The wire format.
    pub wire: Wire,
    /// The API base when none is given (`None`: one must be given).
    pub default_base: Option<&'static str>,
    /// Environment variables read (in order) for the API base.
    pub base_env: &'static [&'static str],
    /// Environment variables read (in order) for the API key.
    pub key_env: &'static [&'static str],
    /// How the key is sent.
    pub auth: Auth,
    /// Whether a request without a key is pointless (hosted APIs) or normal (local servers).
    pub key_required: bool,
    /// Fixed headers every request carries.
    pub headers: &'static [(&'static str, &'static str)],
    /// Azure-style URLs: `{base}/openai/deployments/{model}/...?api-version=`.
    pub azure_urls: bool,
    /// Runs on your own hardware: calls cost nothing.
    pub local: bool,
    /// Chat or text endpoint unless the builder says otherwise.
    pub model_type: ModelType,
    /// What the server accepts, before per-model rules and overrides.
    pub dialect: Dialect,
}

const fn openai_like(
    name: &'static str,
    default_base: Option<&'static str>,
    base_env: &'static [&'static str],
    key_env: &'static [&'static str],
    key_required: bool,
    local: bool,
    dialect: Dialect,
) -> ProviderSpec {
    ProviderSpec {
        name,
        wire: Wire::OpenAi,
        default_base,
        base_env,
        key_env,
        auth: Auth::Bearer,
        key_required,
        headers: &[],
        azure_urls: false,
        local,
        model_type: ModelType::Chat,
        dialect,
    }
}

/// The known providers.
static PROVIDERS: &[ProviderSpec] = &[
    openai_like(
        "openai",
        Some("https://api.openai.com/v1"),
        &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
        &["OPENAI_API_KEY"],
        true,
        false,
        Dialect::OPENAI,
    ),
    // litellm's name for OpenAI text models; same as `openai/` with model type text.
    ProviderSpec {
        model_type: ModelType::Text,
        ..openai_like(
            "text-completion-openai",
            Some("https://api.openai.com/v1"),
            &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
            &["OPENAI_API_KEY"],
            true,
            false,
            Dialect::TEXT,
        )
    },
    ProviderSpec {
        name: "azure",
        wire: Wire::OpenAi,
        default_base: None,
        base_env: &["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"],
        key_env: &["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"],
        auth: Auth::Header("api-key"),
        key_required: true,
        headers: &[],
        azure_urls: true,
        local: false,
        model_type: ModelType::Chat,
        dialect: Dialect::OPENAI,
    },
    ProviderSpec {
        name: "anthropic",
        wire: Wire::Anthropic,
        default_base: Some("https://api.anthropic.com/v1"),
        base_env: &["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"],
        key_env: &["ANTHROPIC_API_KEY"],
        auth: Auth::Header("x-api-key"),
        key_required: true,
        headers: &[("anthropic-version", "2023-06-01")],
        azure_urls: false,
        local: false,
        model_type: ModelType::Chat,
        dialect: Dialect::ANTHROPIC,
    },
    ProviderSpec {
        name: "ollama_chat",
        wire: Wire::Ollama,
        default_base: Some("http://localhost:11434"),
        base_env: &["OLLAMA_API_BASE", "OLLAMA_HOST"],
        key_env: &["OLLAMA_API_KEY"],
        auth: Auth::Bearer,
        key_required: false,
        headers: &[],
        azure_urls: false,
        local: true,
        model_type: ModelType::Chat,
        dialect: Dialect::OLLAMA,
    },
    ProviderSpec {
        name: "ollama",
        wire: Wire::Ollama,
        default_base: Some("http://localhost:11434"),
        base_env: &["OLLAMA_API_BASE", "OLLAMA_HOST"],
        key_env: &["OLLAMA_API_KEY"],
        auth: Auth::Bearer,
        key_required: false,
        headers: &[],
        azure_urls: false,
        local: true,
        model_type: ModelType::Text,
        dialect: Dialect::OLLAMA,
    },
    openai_like("hosted_vllm", None, &["HOSTED_VLLM_API_BASE"], &["HOSTED_VLLM_API_KEY"], false, true, Dialect::SELF_HOSTED),
    openai_like("vllm", Some("http://localhost:8000/v1"), &["VLLM_API_BASE"], &["VLLM_API_KEY"], false, true, Dialect::SELF_HOSTED),
    openai_like("sglang", Some("http://localhost:30000/v1"), &["SGLANG_API_BASE"], &["SGLANG_API_KEY"], false, true, Dialect::SELF_HOSTED),
    openai_like(
        "lm_studio",
        Some("http://localhost:1234/v1"),
        &["LM_STUDIO_API_BASE"],
        &["LM_STUDIO_API_KEY"],
        false,
        true,
        Dialect::SELF_HOSTED,
    ),
    openai_like("llama_cpp", Some("http://localhost:8080/v1"), &["LLAMA_CPP_API_BASE"], &["LLAMA_CPP_API_KEY"], false, true, Dialect::LLAMA_CPP),
    openai_like(
        "gemini",
        Some("https://generativelanguage.googleapis.com/v1beta/openai"),
        &["GEMINI_API_BASE"],
        &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        true,
        false,
        Dialect { audio: true, ..Dialect::OPENAI },
    ),
    openai_like(
        "groq",
        Some("https://api.groq.com/openai/v1"),
        &["GROQ_API_BASE"],
        &["GROQ_API_KEY"],
        true,
        false,
        Dialect { structured_output: super::StructuredDialect::JsonObject, multiple_completions: false, ..Dialect::OPENAI },
    ),
    openai_like(
        "together_ai",
        Some("https://api.together.xyz/v1"),
        &["TOGETHER_AI_API_BASE"],
        &["TOGETHERAI_API_KEY", "TOGETHER_API_KEY"],
        true,
        false,
        Dialect { structured_output: super::StructuredDialect::JsonObjectWithSchema, ..Dialect::OPENAI },
    ),
    openai_like(
        "deepseek",
        Some("https://api.deepseek.com/v1"),
        &["DEEPSEEK_API_BASE"],
        &["DEEPSEEK_API_KEY"],
        true,
        false,
        Dialect { structured_output: super::StructuredDialect::JsonObject, vision: false, ..Dialect::OPENAI },
    ),
    openai_like(
        "openrouter",
        Some("https://openrouter.ai/api/v1"),
        &["OPENROUTER_API_BASE"],
        &["OPENROUTER_API_KEY"],
        true,
        false,
        Dialect::OPENAI,
    ),
    openai_like("mistral", Some("https://api.mistral.ai/v1"), &["MISTRAL_API_BASE"], &["MISTRAL_API_KEY"], true, false, Dialect::OPENAI),
    openai_like(
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
        &["FIREWORKS_AI_API_BASE"],
        &["FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"],
        true,
        false,
        Dialect::OPENAI,
    ),
    openai_like("xai", Some("https://api.x.ai/v1"), &["XAI_API_BASE"], &["XAI_API_KEY"], true, false, Dialect::OPENAI),
];

/// Every provider prefix the client knows.
///
/// ```
/// assert!(dspy_core::lm::providers().iter().any(|p| p.name == "anthropic"));
/// ```
pub fn providers() -> &'static [ProviderSpec] {
    PROVIDERS
}

/// The provider of this prefix.
pub(crate) fn find(name: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// Splits `provider/model`, failing with the list of known providers.
pub(crate) fn parse_model(model: &str) -> Result<(&'static ProviderSpec, String), LmError> {
    let known = || PROVIDERS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    let Some((prefix, id)) = model.split_once('/') else {
        return Err(LmError::Config(format!(
            "model {model:?} has no provider prefix: write \"provider/model\" (e.g. \"openai/gpt-4o-mini\"); known providers: {}",
            known()
        )));
    };
    if id.is_empty() {
        return Err(LmError::Config(format!("model {model:?} has a provider prefix but no model id after it")));
    }
    match find(prefix) {
        Some(spec) => Ok((spec, id.to_string())),
        None => Err(LmError::Config(format!("unknown provider {prefix:?} in {model:?}; known providers: {}", known()))),
    }
}

/// The URL one request goes to.
pub(crate) fn endpoint(spec: &ProviderSpec, base: &str, model_id: &str, model_type: ModelType, api_version: &str) -> String {
    let base = base.trim_end_matches('/');
    match spec.wire {
        Wire::OpenAi if spec.azure_urls => {
            let path = if model_type == ModelType::Text { "completions" } else { "chat/completions" };
            let root = if base.contains("/openai/deployments/") {
                base.to_string()
            } else {
                format!("{}/openai/deployments/{model_id}", base.trim_end_matches("/openai"))
            };
            format!("{root}/{path}?api-version={api_version}")
        }
        Wire::OpenAi => match model_type {
            ModelType::Chat => format!("{base}/chat/completions"),
            ModelType::Text => format!("{base}/completions"),
        },
        Wire::Anthropic => {
            if base.ends_with("/messages") {
                base.to_string()
            } else if base.ends_with("/v1") {
                format!("{base}/messages")
            } else {
                format!("{base}/v1/messages")
            }
        }
        Wire::Ollama => {
            let base = base.trim_end_matches("/v1").trim_end_matches("/api");
            match model_type {
                ModelType::Chat => format!("{base}/api/chat"),
                ModelType::Text => format!("{base}/api/generate"),
            }
        }
    }
}

/// How a stream is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Server-sent events (`data: ...` lines, blank-line separated).
    Sse,
    /// One JSON document per line.
    Ndjson,
}

/// What one streamed event contributed.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// New text of the first completion.
    pub delta: Option<String>,
    /// The provider said the stream is complete.
    pub done: bool,
}

/// Turns one provider's streamed events into deltas and, at the end, the whole response.
pub(crate) trait StreamDecoder: Send {
    /// One SSE event (`event` is its `event:` name) or one NDJSON line (`event` is `None`).
    fn event(&mut self, event: Option<&str>, data: &str) -> Result<Decoded, LmError>;
    /// The response assembled from everything seen.
    fn finish(&mut self) -> Result<LmResponse, LmError>;
}

/// The wire-format operations for one LM.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WireFormat {
    pub wire: Wire,
    pub model_type: ModelType,
}

impl WireFormat {
    /// The JSON body of a request.
    pub(crate) fn body(&self, model_id: &str, request: &LmRequest, dialect: &Dialect, stream: bool) -> Result<Value, LmError> {
        let mut body = match self.wire {
            Wire::OpenAi => openai::body(model_id, self.model_type, request, dialect, stream)?,
            Wire::Anthropic => anthropic::body(model_id, request, dialect, stream)?,
            Wire::Ollama => ollama::body(model_id, self.model_type, request, dialect, stream)?,
        };
        merge_extra(&mut body, &request.config.extra, self.wire);
        Ok(body)
    }

    /// A complete (non-streamed) response body.
    pub(crate) fn parse(&self, body: &[u8]) -> Result<LmResponse, LmError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| LmError::MalformedResponse {
            message: format!("response body is not valid JSON ({e}): {}", crate::lm::snippet(&String::from_utf8_lossy(body))),
        })?;
        if let Some(message) = error_in_body(&value) {
            return Err(LmError::MalformedResponse { message: format!("the server returned an error object: {message}") });
        }
        match self.wire {
            Wire::OpenAi => openai::parse(self.model_type, &value),
            Wire::Anthropic => anthropic::parse(&value),
            Wire::Ollama => ollama::parse(self.model_type, &value),
        }
    }

    /// A decoder for a streamed response.
    pub(crate) fn decoder(&self) -> Box<dyn StreamDecoder> {
        match self.wire {
            Wire::OpenAi => Box::new(openai::Decoder::new(self.model_type)),
            Wire::Anthropic => Box::new(anthropic::Decoder::default()),
            Wire::Ollama => Box::new(ollama::Decoder::new(self.model_type)),
        }
    }

    /// How streams are framed.
    pub(crate) fn framing(&self) -> Framing {
        match self.wire {
            Wire::OpenAi | Wire::Anthropic => Framing::Sse,
            Wire::Ollama => Framing::Ndjson,
        }
    }
}

/// Provider parameters passed through as they are; for Ollama, `options` merges into the
/// sampling options rather than replacing them.
fn merge_extra(body: &mut Value, extra: &Map<String, Value>, wire: Wire) {
    let Value::Object(obj) = body else { return };
    // Credentials and endpoints are the builder's business, never body parameters.
    for (k, v) in extra.iter().filter(|(k, _)| !matches!(k.as_str(), "api_key" | "api_base" | "base_url")) {
        match (wire, k.as_str(), v, obj.get_mut(k)) {
            (Wire::Ollama, "options", Value::Object(more), Some(Value::Object(options))) => {
                options.extend(more.clone());
            }
            _ => {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The error message of an error object (`{"error": ...}`) in a body, if it is one.
pub(crate) fn error_in_body(value: &Value) -> Option<String> {
    let err = value.get("error")?;
    if err.is_null() {
        return None;
    }
    Some(match err {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| err.to_string()),
        other => other.to_string(),
    })
}

/// One completion being assembled from a response or a stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct OutputBuilder {
    pub text: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCallBuilder>,
    pub finish_reason: Option<String>,
}

/// One tool call being assembled; streamed arguments arrive as JSON text in pieces.
#[derive(Clone, Debug, Default)]
pub(crate) struct ToolCallBuilder {
    pub id: Option<String>,
    pub name: String,
    pub arguments: String,
    pub parsed: Option<Value>,
}

impl OutputBuilder {
    pub(crate) fn build(self) -> LmOutput {
        LmOutput {
            text: self.text,
            tool_calls: self.tool_calls.into_iter().map(ToolCallBuilder::build).collect(),
            reasoning: (!self.reasoning.is_empty()).then_some(self.reasoning),
            finish_reason: self.finish_reason,
        }
    }
}

impl ToolCallBuilder {
    pub(crate) fn build(self) -> ToolCall {
        let args = match self.parsed {
            Some(v) => v,
            None if self.arguments.trim().is_empty() => Value::Object(Map::new()),
            // Arguments that are not JSON are kept verbatim for the caller to judge.
            None => serde_json::from_str(&self.arguments).unwrap_or(Value::String(self.arguments)),
        };
        ToolCall { id: self.id, name: self.name, args }
    }
}

/// `outputs` as a response.
pub(crate) fn response(outputs: Vec<OutputBuilder>, usage: Usage, model: String) -> LmResponse {
    LmResponse { outputs: outputs.into_iter().map(OutputBuilder::build).collect(), usage, model, cache_hit: false }
}

/// A u64 field of a JSON object (0 when absent).
pub(crate) fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The text of a message's content (its text parts; media parts skipped).
pub(crate) fn text_of(content: &super::Content) -> String {
    content.text()
}

/// Splits a `data:` URI into its mime type and base64 payload.
pub(crate) fn split_data_uri(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_provider_lists_the_known_ones() {
        let err = parse_model("nope/x").unwrap_err().to_string();
        assert!(err.contains("unknown provider \"nope\"") && err.contains("openai") && err.contains("ollama_chat"), "{err}");
        assert!(parse_model("gpt-4o").is_err());
        assert!(parse_model("openai/").is_err());
        let (spec, id) = parse_model("openai/meta-llama/Llama-3-8B").unwrap();
        assert_eq!((spec.name, id.as_str()), ("openai", "meta-llama/Llama-3-8B"));
    }

    #[test]
    fn endpoints() {
        let ep = |p: &str, base: &str, t| endpoint(find(p).unwrap(), base, "m", t, "2024-10-21");
        assert_eq!(ep("openai", "http://h/v1/", ModelType::Chat), "http://h/v1/chat/completions");
        assert_eq!(ep("openai", "http://h/v1", ModelType::Text), "http://h/v1/completions");
        assert_eq!(ep("azure", "https://x.openai.azure.com", ModelType::Chat), "https://x.openai.azure.com/openai/deployments/m/chat/completions?api-version=2024-10-21");
        assert_eq!(ep("anthropic", "https://api.anthropic.com", ModelType::Chat), "https://api.anthropic.com/v1/messages");
        assert_eq!(ep("anthropic", "https://api.anthropic.com/v1", ModelType::Chat), "https://api.anthropic.com/v1/messages");
        assert_eq!(ep("ollama_chat", "http://localhost:11434", ModelType::Chat), "http://localhost:11434/api/chat");
        assert_eq!(ep("ollama", "http://localhost:11434/", ModelType::Text), "http://localhost:11434/api/generate");
    }
}
