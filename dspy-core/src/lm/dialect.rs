//! Dialects: what a server accepts, as data. Servers that speak "the same" API differ in how
//! they take structured output, which max-tokens key they read and what they support; each
//! provider has a default [`Dialect`], a small table of per-model rules refines it, builder
//! overrides replace it, and a rejection the client recognises switches it (detection).

use serde::{Deserialize, Serialize};

use super::{Capabilities, StructuredOutput};

/// How a server wants structured (JSON) output asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StructuredDialect {
    /// Not supported: the prompt alone asks for the format.
    None,
    /// JSON mode without a schema: `{"type": "json_object"}`.
    JsonObject,
    /// OpenAI's `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`.
    OpenAiJsonSchema,
    /// llama.cpp's (and Together's) `{"type": "json_object", "schema": {...}}`.
    JsonObjectWithSchema,
    /// Ollama's native `"format": <schema>` (or `"json"`).
    OllamaFormat,
}

/// Which request key carries the output-token limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensParam {
    /// `max_tokens`: what self-hosted OpenAI-compatible servers (vLLM, SGLang, llama.cpp) read.
    MaxTokens,
    /// `max_completion_tokens`: what OpenAI's reasoning models (o1, o3, gpt-5) require.
    MaxCompletionTokens,
}

/// What one server (or one model on it) accepts on the wire.
///
/// ```
/// use dspy_core::lm::{Dialect, StructuredDialect};
/// let llama_cpp = Dialect { structured_output: StructuredDialect::JsonObjectWithSchema, ..Dialect::SELF_HOSTED };
/// assert_eq!(llama_cpp.capabilities().structured_output, dspy_core::StructuredOutput::JsonSchema);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialect {
    /// How to ask for JSON output.
    pub structured_output: StructuredDialect,
    /// Which max-tokens key to send.
    pub max_tokens_param: MaxTokensParam,
    /// Native tool / function calling.
    pub tools: bool,
    /// `n > 1` in one request (otherwise the client sends `n` requests).
    pub multiple_completions: bool,
    /// Streaming responses.
    pub streaming: bool,
    /// Image content parts.
    pub vision: bool,
    /// Audio content parts.
    pub audio: bool,
    /// `temperature` / `top_p` accepted (OpenAI's reasoning models reject them).
    pub sampling_params: bool,
    /// `stream_options: {"include_usage": true}` accepted, so streams report tokens.
    pub stream_usage: bool,
    /// Max tokens sent when the request sets none (Anthropic requires the key).
    pub default_max_tokens: Option<u32>,
}

impl Dialect {
    /// OpenAI's hosted API and the hosted OpenAI-compatible clouds.
    pub const OPENAI: Dialect = Dialect {
        structured_output: StructuredDialect::OpenAiJsonSchema,
        max_tokens_param: MaxTokensParam::MaxTokens,
        tools: true,
        multiple_completions: true,
        streaming: true,
        vision: true,
        audio: false,
        sampling_params: true,
        stream_usage: true,
        default_max_tokens: None,
    };

    /// A self-hosted OpenAI-compatible server (vLLM, SGLang, LM Studio): reads `max_tokens`.
    pub const SELF_HOSTED: Dialect = Dialect { ..Dialect::OPENAI };

    /// llama.cpp's server (and llama-cpp-python's): JSON schema as `json_object` + `schema`.
    pub const LLAMA_CPP: Dialect = Dialect {
        structured_output: StructuredDialect::JsonObjectWithSchema,
        multiple_completions: false,
        ..Dialect::SELF_HOSTED
    };

    /// Anthropic's Messages API.
    pub const ANTHROPIC: Dialect = Dialect {
        structured_output: StructuredDialect::None,
        multiple_completions: false,
        stream_usage: false,
        default_max_tokens: Some(4096),
        ..Dialect::OPENAI
    };

    /// Ollama's native API.
    pub const OLLAMA: Dialect = Dialect {
        structured_output: StructuredDialect::OllamaFormat,
        multiple_completions: false,
        stream_usage: false,
        ..Dialect::OPENAI
    };

    /// Legacy text completions (`/v1/completions`): text in, text out.
    pub const TEXT: Dialect = Dialect {
        structured_output: StructuredDialect::None,
        tools: false,
        vision: false,
        audio: false,
        ..Dialect::SELF_HOSTED
    };

    /// What this dialect lets adapters ask for.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            structured_output: match self.structured_output {
                StructuredDialect::None => StructuredOutput::None,
                StructuredDialect::JsonObject => StructuredOutput::JsonObject,
                StructuredDialect::OpenAiJsonSchema
                | StructuredDialect::JsonObjectWithSchema
                | StructuredDialect::OllamaFormat => StructuredOutput::JsonSchema,
            },
            function_calling: self.tools,
            // The client fans `n > 1` out into several requests where the server cannot.
            multiple_completions: true,
            streaming: self.streaming,
            vision: self.vision,
            audio: self.audio,
        }
    }
}

/// One row of the per-model table: on these providers, models matching `models` get `set`.
struct ModelRule {
    providers: &'static [&'static str],
    models: Models,
    set: Overrides,
}

enum Models {
    /// OpenAI's reasoning families: o1, o3, o4, o5 (and -mini/-nano/-pro, dated), every gpt-5
    /// except the `-chat` variants — the same test as DSPy's `_is_openai_reasoning_model`.
    OpenAiReasoning,
    /// Model ids equal to one of `exact` or starting with one of `prefix`.
    Names { exact: &'static [&'static str], prefix: &'static [&'static str] },
}

#[derive(Default)]
struct Overrides {
    structured_output: Option<StructuredDialect>,
    max_tokens_param: Option<MaxTokensParam>,
    sampling_params: Option<bool>,
    audio: Option<bool>,
}

const OPENAI_HOSTS: &[&str] = &["openai", "azure"];

/// The per-model rules, applied in order over the provider's default dialect.
static MODEL_RULES: &[ModelRule] = &[
    ModelRule {
        providers: OPENAI_HOSTS,
        models: Models::OpenAiReasoning,
        set: Overrides {
            max_tokens_param: Some(MaxTokensParam::MaxCompletionTokens),
            sampling_params: Some(false),
            structured_output: None,
            audio: None,
        },
    },
    ModelRule {
        // Models older than structured outputs: JSON mode only.
        providers: OPENAI_HOSTS,
        models: Models::Names { exact: &["gpt-4"], prefix: &["gpt-3.5", "gpt-4-"] },
        set: Overrides { structured_output: Some(StructuredDialect::JsonObject), ..NONE },
    },
    ModelRule {
        providers: OPENAI_HOSTS,
        models: Models::Names { exact: &[], prefix: &["gpt-4o-audio", "gpt-audio", "gpt-4o-mini-audio"] },
        set: Overrides { audio: Some(true), ..NONE },
    },
];

const NONE: Overrides = Overrides { structured_output: None, max_tokens_param: None, sampling_params: None, audio: None };

/// Whether `model_id` (without the provider prefix) is one of OpenAI's reasoning models.
pub(crate) fn is_openai_reasoning_model(model_id: &str) -> bool {
    let family = model_id.rsplit('/').next().unwrap_or(model_id).to_ascii_lowercase();
    if let Some(rest) = family.strip_prefix("gpt-5") {
        // gpt-5, gpt-5.1, gpt-5-mini, gpt-5.2-pro ... but not the -chat variants.
        let mut rest = rest;
        while let Some(r) = rest.strip_prefix('.') {
            let digits = r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return false;
            }
            rest = &r[digits..];
        }
        return (rest.is_empty() || rest.starts_with('-')) && !rest.starts_with("-chat");
    }
    let b = family.as_bytes();
    if b.len() < 2 || b[0] != b'o' || !matches!(b[1], b'1' | b'3' | b'4' | b'5') {
        return false;
    }
    let mut rest = &family[2..];
    for suffix in ["-mini", "-nano", "-pro"] {
        if let Some(r) = rest.strip_prefix(suffix) {
            rest = r;
            break;
        }
    }
    rest.is_empty() || is_date_suffix(rest)
}

fn is_date_suffix(s: &str) -> bool {
    // -YYYY-MM-DD
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'-'
        && b[5] == b'-'
        && b[8] == b'-'
        && [1, 2, 3, 4, 6, 7, 9, 10].iter().all(|&i| b[i].is_ascii_digit())
}

impl Models {
    fn matches(&self, model_id: &str) -> bool {
        match self {
            Models::OpenAiReasoning => is_openai_reasoning_model(model_id),
            Models::Names { exact, prefix } => {
                exact.contains(&model_id) || prefix.iter().any(|p| model_id.starts_with(p))
            }
        }
    }
}

/// The provider's default dialect refined by the per-model rules.
pub(crate) fn for_model(provider: &str, model_id: &str, base: Dialect) -> Dialect {
    let mut d = base;
    for rule in MODEL_RULES.iter().filter(|r| r.providers.contains(&provider) && r.models.matches(model_id)) {
        let Overrides { structured_output, max_tokens_param, sampling_params, audio } = &rule.set;
        d.structured_output = structured_output.unwrap_or(d.structured_output);
        d.max_tokens_param = max_tokens_param.unwrap_or(d.max_tokens_param);
        d.sampling_params = sampling_params.unwrap_or(d.sampling_params);
        d.audio = audio.unwrap_or(d.audio);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_models_as_dspy() {
        for m in ["o1", "o1-mini", "o3", "o3-mini-2025-01-31", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5.1", "gpt-5.2-pro", "openai/gpt-5-nano"] {
            assert!(is_openai_reasoning_model(m), "{m}");
        }
        for m in ["gpt-4o", "gpt-4o-mini", "gpt-5-chat", "gpt-5-chat-latest", "o1x", "gpt-oss-20b", "omni", "gpt-50"] {
            assert!(!is_openai_reasoning_model(m), "{m}");
        }
    }

    #[test]
    fn rules_refine_the_provider_default() {
        let d = for_model("openai", "o3-mini", Dialect::OPENAI);
        assert_eq!(d.max_tokens_param, MaxTokensParam::MaxCompletionTokens);
        assert!(!d.sampling_params);
        assert_eq!(for_model("openai", "gpt-3.5-turbo", Dialect::OPENAI).structured_output, StructuredDialect::JsonObject);
        assert_eq!(for_model("openai", "gpt-4o", Dialect::OPENAI), Dialect::OPENAI);
        assert_eq!(for_model("hosted_vllm", "o3", Dialect::SELF_HOSTED), Dialect::SELF_HOSTED);
    }
}
