//! OpenAI's wire format: Chat Completions and legacy text Completions, requests, responses and
//! SSE stream chunks. Every OpenAI-compatible server (vLLM, SGLang, llama.cpp, Azure, the
//! hosted clouds) speaks it; their differences are in the [`Dialect`].

use serde_json::{Map, Value, json};

use super::{Decoded, ModelType, OutputBuilder, StreamDecoder, ToolCallBuilder, count, response, text_of};
use crate::lm::dialect::{Dialect, MaxTokensParam, StructuredDialect};
use crate::lm::{LmError, LmRequest, LmResponse, Message, ResponseFormat, Usage};

/// DSPy's prompt for text models: the messages' contents, then `BEGIN RESPONSE:`.
pub(crate) fn text_prompt(messages: &[Message]) -> String {
    let mut parts: Vec<String> = messages.iter().map(|m| text_of(&m.content)).collect();
    parts.push("BEGIN RESPONSE:".into());
    parts.join("\n\n")
}

/// The `response_format` value this dialect wants for `rf`, if any.
pub(crate) fn response_format(rf: &ResponseFormat, dialect: &Dialect) -> Option<Value> {
    match (rf, dialect.structured_output) {
        (_, StructuredDialect::None | StructuredDialect::OllamaFormat) => None,
        (ResponseFormat::JsonObject, _) | (ResponseFormat::JsonSchema { .. }, StructuredDialect::JsonObject) => {
            Some(json!({"type": "json_object"}))
        }
        (ResponseFormat::JsonSchema { name, schema, strict }, StructuredDialect::OpenAiJsonSchema) => {
            Some(json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}))
        }
        (ResponseFormat::JsonSchema { schema, .. }, StructuredDialect::JsonObjectWithSchema) => {
            Some(json!({"type": "json_object", "schema": schema}))
        }
    }
}

/// The request body.
pub(crate) fn body(model_id: &str, model_type: ModelType, request: &LmRequest, dialect: &Dialect, stream: bool) -> Result<Value, LmError> {
    let mut b = Map::new();
    b.insert("model".into(), json!(model_id));
    match model_type {
        ModelType::Chat => {
            let messages = serde_json::to_value(&request.messages).map_err(|e| LmError::Other(format!("messages: {e}")))?;
            b.insert("messages".into(), messages);
        }
        ModelType::Text => {
            b.insert("prompt".into(), json!(text_prompt(&request.messages)));
        }
    }
    let c = &request.config;
    if dialect.sampling_params {
        if let Some(t) = c.temperature {
            b.insert("temperature".into(), json!(t));
        }
        if let Some(p) = c.top_p {
            b.insert("top_p".into(), json!(p));
        }
    } else if c.temperature.is_some_and(|t| t != 1.0) || c.top_p.is_some() {
        tracing::debug!(model = model_id, "this model takes no temperature/top_p; not sent");
    }
    if let Some(max) = c.max_tokens.or(dialect.default_max_tokens) {
        let key = match dialect.max_tokens_param {
            MaxTokensParam::MaxTokens => "max_tokens",
            MaxTokensParam::MaxCompletionTokens => "max_completion_tokens",
        };
        b.insert(key.into(), json!(max));
    }
    if let Some(n) = c.n {
        b.insert("n".into(), json!(n));
    }
    if let Some(stop) = &c.stop {
        b.insert("stop".into(), json!(stop));
    }
    if let Some(rf) = request.response_format.as_ref().filter(|_| model_type == ModelType::Chat)
        && let Some(v) = response_format(rf, dialect)
    {
        b.insert("response_format".into(), v);
    }
    if !request.tools.is_empty() {
        if !dialect.tools || model_type == ModelType::Text {
            return Err(LmError::Config(format!("{model_id}: this model/server does not support native tool calling")));
        }
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        b.insert("tools".into(), Value::Array(tools));
    }
    if stream {
        b.insert("stream".into(), json!(true));
        if dialect.stream_usage {
            b.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    Ok(Value::Object(b))
}

fn usage_of(v: &Value) -> Usage {
    let prompt = count(v, "prompt_tokens");
    let completion = count(v, "completion_tokens");
    let total = v.get("total_tokens").and_then(Value::as_u64).unwrap_or(prompt + completion);
    Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total, cost: None }
}

/// Message content as text: a string, or the text parts of a content array.
fn content_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    }
}

fn reasoning_of(v: &Value) -> Option<&str> {
    v.get("reasoning_content").or_else(|| v.get("reasoning")).and_then(Value::as_str)
}

fn arguments_of(function: &Value) -> (String, Option<Value>) {
    match function.get("arguments") {
        Some(Value::String(s)) => (s.clone(), None),
        Some(Value::Null) | None => (String::new(), None),
        Some(other) => (String::new(), Some(other.clone())),
    }
}

/// A complete response body.
pub(crate) fn parse(model_type: ModelType, v: &Value) -> Result<LmResponse, LmError> {
    let Some(choices) = v.get("choices").and_then(Value::as_array) else {
        return Err(LmError::MalformedResponse {
            message: format!("no `choices` array in the response: {}", crate::lm::snippet(&v.to_string())),
        });
    };
    let mut outputs = Vec::with_capacity(choices.len());
    for choice in choices {
        let mut out = OutputBuilder {
            finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_string),
            ..OutputBuilder::default()
        };
        match model_type {
            ModelType::Chat => {
                let message = choice.get("message").ok_or_else(|| LmError::MalformedResponse {
                    message: "a choice has no `message`".into(),
                })?;
                out.text = content_text(message.get("content"));
                out.reasoning = reasoning_of(message).unwrap_or_default().to_string();
                for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    let function = call.get("function").cloned().unwrap_or(Value::Null);
                    let (arguments, parsed) = arguments_of(&function);
                    out.tool_calls.push(ToolCallBuilder {
                        id: call.get("id").and_then(Value::as_str).map(str::to_string),
                        name: function.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                        arguments,
                        parsed,
                    });
                }
            }
            ModelType::Text => out.text = content_text(choice.get("text")),
        }
        outputs.push((choice.get("index").and_then(Value::as_u64).unwrap_or(outputs.len() as u64), out));
    }
    outputs.sort_by_key(|(i, _)| *i);
    let usage = v.get("usage").map(usage_of).unwrap_or_default();
    let model = v.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(response(outputs.into_iter().map(|(_, o)| o).collect(), usage, model))
}

/// Assembles an SSE stream of `chat.completion.chunk`s (or text completion chunks).
pub(crate) struct Decoder {
    model_type: ModelType,
    outputs: Vec<OutputBuilder>,
    usage: Option<Usage>,
    model: String,
    seen: bool,
}

impl Decoder {
    pub(crate) fn new(model_type: ModelType) -> Self {
        Decoder { model_type, outputs: Vec::new(), usage: None, model: String::new(), seen: false }
    }

    fn output(&mut self, index: usize) -> &mut OutputBuilder {
        if self.outputs.len() <= index {
            self.outputs.resize_with(index + 1, OutputBuilder::default);
        }
        &mut self.outputs[index]
    }
}

impl StreamDecoder for Decoder {
    fn event(&mut self, _event: Option<&str>, data: &str) -> Result<Decoded, LmError> {
        if data.trim() == "[DONE]" {
            return Ok(Decoded { delta: None, done: true });
        }
        let v: Value = serde_json::from_str(data).map_err(|e| LmError::MalformedResponse {
            message: format!("stream chunk is not valid JSON ({e}): {}", crate::lm::snippet(data)),
        })?;
        if let Some(message) = super::error_in_body(&v) {
            return Err(LmError::Other(format!("the server reported an error mid-stream: {message}")));
        }
        self.seen = true;
        if let Some(m) = v.get("model").and_then(Value::as_str) {
            self.model = m.to_string();
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage_of(u));
        }
        let mut delta_text = String::new();
        for (pos, choice) in v.get("choices").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let index = choice.get("index").and_then(Value::as_u64).map(|i| i as usize).unwrap_or(pos);
            let model_type = self.model_type;
            let out = self.output(index);
            if let Some(fr) = choice.get("finish_reason").and_then(Value::as_str) {
                out.finish_reason = Some(fr.to_string());
            }
            let piece = match model_type {
                ModelType::Text => content_text(choice.get("text")),
                ModelType::Chat => {
                    let Some(delta) = choice.get("delta") else { continue };
                    if let Some(r) = reasoning_of(delta) {
                        out.reasoning.push_str(r);
                    }
                    for (tpos, call) in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
                        let ti = call.get("index").and_then(Value::as_u64).map(|i| i as usize).unwrap_or(tpos);
                        if out.tool_calls.len() <= ti {
                            out.tool_calls.resize_with(ti + 1, ToolCallBuilder::default);
                        }
                        let tc = &mut out.tool_calls[ti];
                        if let Some(id) = call.get("id").and_then(Value::as_str) {
                            tc.id = Some(id.to_string());
                        }
                        let function = call.get("function").cloned().unwrap_or(Value::Null);
                        if let Some(name) = function.get("name").and_then(Value::as_str) {
                            tc.name.push_str(name);
                        }
                        let (arguments, parsed) = arguments_of(&function);
                        tc.arguments.push_str(&arguments);
                        if parsed.is_some() {
                            tc.parsed = parsed;
                        }
                    }
                    content_text(delta.get("content"))
                }
            };
            out.text.push_str(&piece);
            if index == 0 {
                delta_text.push_str(&piece);
            }
        }
        Ok(Decoded { delta: (!delta_text.is_empty()).then_some(delta_text), done: false })
    }

    fn finish(&mut self) -> Result<LmResponse, LmError> {
        if !self.seen {
            return Err(LmError::MalformedResponse { message: "the stream ended before any completion chunk".into() });
        }
        Ok(response(std::mem::take(&mut self.outputs), self.usage.unwrap_or_default(), std::mem::take(&mut self.model)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::{LmConfig, ToolSpec};

    fn req() -> LmRequest {
        LmRequest {
            messages: vec![Message::system("sys"), Message::user("hi")],
            config: LmConfig { temperature: Some(0.0), max_tokens: Some(100), ..LmConfig::default() },
            response_format: Some(ResponseFormat::JsonSchema { name: "Out".into(), schema: json!({"type": "object"}), strict: true }),
            tools: vec![ToolSpec { name: "search".into(), description: "d".into(), parameters: json!({"type": "object"}) }],
        }
    }

    #[test]
    fn dialects_change_only_what_they_own() {
        let b = body("gpt-4o", ModelType::Chat, &req(), &Dialect::OPENAI, false).unwrap();
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(b["response_format"]["json_schema"]["strict"], true);
        assert_eq!(b["max_tokens"], 100);
        assert_eq!(b["tools"][0]["function"]["name"], "search");
        let reasoning = Dialect { max_tokens_param: MaxTokensParam::MaxCompletionTokens, sampling_params: false, ..Dialect::OPENAI };
        let b = body("o3", ModelType::Chat, &req(), &reasoning, true).unwrap();
        assert_eq!(b["max_completion_tokens"], 100);
        assert!(b.get("max_tokens").is_none() && b.get("temperature").is_none());
        assert_eq!(b["stream_options"]["include_usage"], true);
        let b = body("smollm2", ModelType::Chat, &req(), &Dialect::LLAMA_CPP, false).unwrap();
        assert_eq!(b["response_format"], json!({"type": "json_object", "schema": {"type": "object"}}));
    }

    #[test]
    fn text_prompt_as_dspy() {
        let b = body("m", ModelType::Text, &LmRequest { tools: vec![], ..req() }, &Dialect::TEXT, false).unwrap();
        assert_eq!(b["prompt"], "sys\n\nhi\n\nBEGIN RESPONSE:");
        assert!(b.get("response_format").is_none());
    }

    #[test]
    fn parses_tool_calls_and_usage() {
        let v = json!({"model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{\"q\":\"x\"}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
        let r = parse(ModelType::Chat, &v).unwrap();
        assert_eq!(r.outputs[0].tool_calls[0].args, json!({"q": "x"}));
        assert_eq!(r.usage.total_tokens, 15);
    }
}
