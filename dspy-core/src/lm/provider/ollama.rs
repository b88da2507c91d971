//! Ollama's native API: `/api/chat` (messages, `images`, `tools`) and `/api/generate`
//! (prompt), sampling under `options`, structured output as `format`, NDJSON streams.

use serde_json::{Map, Value, json};

use super::{Decoded, ModelType, OutputBuilder, StreamDecoder, ToolCallBuilder, count, response, split_data_uri, text_of};
use crate::lm::dialect::{Dialect, StructuredDialect};
use crate::lm::{Content, ContentPart, LmError, LmRequest, LmResponse, Message, ResponseFormat, Role, Usage};

/// Base64 payloads of a message's images (Ollama takes no URLs).
fn images(content: &Content) -> Result<Vec<String>, LmError> {
    let Content::Parts(parts) = content else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for part in parts {
        match part {
            ContentPart::Text { .. } => {}
            ContentPart::ImageUrl { image_url } => match split_data_uri(&image_url.url) {
                Some((_, data)) => out.push(data.to_string()),
                None => {
                    return Err(LmError::Config(format!(
                        "Ollama takes images as base64 data, not URLs ({}); load the image from bytes or a file",
                        crate::lm::snippet(&image_url.url)
                    )));
                }
            },
            ContentPart::InputAudio { .. } => return Err(LmError::Config("Ollama's API does not accept audio input".into())),
        }
    }
    Ok(out)
}

fn role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn message(m: &Message) -> Result<Value, LmError> {
    let mut v = json!({"role": role(m.role), "content": text_of(&m.content)});
    let imgs = images(&m.content)?;
    if !imgs.is_empty() {
        v["images"] = json!(imgs);
    }
    Ok(v)
}

/// The request body.
pub(crate) fn body(model_id: &str, model_type: ModelType, request: &LmRequest, dialect: &Dialect, stream: bool) -> Result<Value, LmError> {
    let mut b = Map::new();
    b.insert("model".into(), json!(model_id));
    match model_type {
        ModelType::Chat => {
            let messages = request.messages.iter().map(message).collect::<Result<Vec<_>, _>>()?;
            b.insert("messages".into(), Value::Array(messages));
        }
        ModelType::Text => {
            let (system, rest): (Vec<&Message>, Vec<&Message>) = request.messages.iter().partition(|m| m.role == Role::System);
            if !system.is_empty() {
                b.insert("system".into(), json!(system.iter().map(|m| text_of(&m.content)).collect::<Vec<_>>().join("\n\n")));
            }
            b.insert("prompt".into(), json!(rest.iter().map(|m| text_of(&m.content)).collect::<Vec<_>>().join("\n\n")));
            let mut imgs = Vec::new();
            for m in &request.messages {
                imgs.extend(images(&m.content)?);
            }
            if !imgs.is_empty() {
                b.insert("images".into(), json!(imgs));
            }
        }
    }
    b.insert("stream".into(), json!(stream));
    let c = &request.config;
    let mut options = Map::new();
    if let Some(t) = c.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if let Some(p) = c.top_p {
        options.insert("top_p".into(), json!(p));
    }
    if let Some(max) = c.max_tokens.or(dialect.default_max_tokens) {
        options.insert("num_predict".into(), json!(max));
    }
    if let Some(stop) = &c.stop {
        options.insert("stop".into(), json!(stop));
    }
    if !options.is_empty() {
        b.insert("options".into(), Value::Object(options));
    }
    if let Some(rf) = &request.response_format {
        match (rf, dialect.structured_output) {
            (_, StructuredDialect::None) => {}
            (ResponseFormat::JsonSchema { schema, .. }, StructuredDialect::OllamaFormat) => {
                b.insert("format".into(), schema.clone());
            }
            _ => {
                b.insert("format".into(), json!("json"));
            }
        }
    }
    if !request.tools.is_empty() {
        if model_type == ModelType::Text || !dialect.tools {
            return Err(LmError::Config(format!("{model_id}: native tool calling needs Ollama's chat API (`ollama_chat/`)")));
        }
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        b.insert("tools".into(), Value::Array(tools));
    }
    Ok(Value::Object(b))
}

fn usage_of(v: &Value) -> Usage {
    let (prompt, completion) = (count(v, "prompt_eval_count"), count(v, "eval_count"));
    Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cost: None }
}

fn tool_calls(message: &Value) -> Vec<ToolCallBuilder> {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|call| {
            let f = call.get("function").cloned().unwrap_or(Value::Null);
            let (arguments, parsed) = match f.get("arguments") {
                Some(Value::String(s)) => (s.clone(), None),
                Some(v) => (String::new(), Some(v.clone())),
                None => (String::new(), None),
            };
            ToolCallBuilder {
                id: call.get("id").and_then(Value::as_str).map(str::to_string),
                name: f.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                arguments,
                parsed,
            }
        })
        .collect()
}

/// Text, thinking and tool calls of one response object (whole or one stream line).
fn pieces(model_type: ModelType, v: &Value) -> (String, String, Vec<ToolCallBuilder>) {
    let s = |x: Option<&Value>| x.and_then(Value::as_str).unwrap_or_default().to_string();
    match model_type {
        ModelType::Chat => {
            let m = v.get("message").cloned().unwrap_or(Value::Null);
            (s(m.get("content")), s(m.get("thinking")), tool_calls(&m))
        }
        ModelType::Text => (s(v.get("response")), s(v.get("thinking")), Vec::new()),
    }
}

/// A complete response body.
pub(crate) fn parse(model_type: ModelType, v: &Value) -> Result<LmResponse, LmError> {
    let key = if model_type == ModelType::Chat { "message" } else { "response" };
    if v.get(key).is_none() {
        return Err(LmError::MalformedResponse {
            message: format!("no `{key}` in the response: {}", crate::lm::snippet(&v.to_string())),
        });
    }
    let (text, reasoning, tool_calls) = pieces(model_type, v);
    let out = OutputBuilder {
        text,
        reasoning,
        tool_calls,
        finish_reason: v.get("done_reason").and_then(Value::as_str).map(str::to_string),
    };
    let model = v.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(response(vec![out], usage_of(v), model))
}

/// Assembles Ollama's NDJSON stream: one object per line, the last with `"done": true`.
pub(crate) struct Decoder {
    model_type: ModelType,
    out: OutputBuilder,
    usage: Usage,
    model: String,
    seen: bool,
}

impl Decoder {
    pub(crate) fn new(model_type: ModelType) -> Self {
        Decoder { model_type, out: OutputBuilder::default(), usage: Usage::default(), model: String::new(), seen: false }
    }
}

impl StreamDecoder for Decoder {
    fn event(&mut self, _event: Option<&str>, data: &str) -> Result<Decoded, LmError> {
        let v: Value = serde_json::from_str(data).map_err(|e| LmError::MalformedResponse {
            message: format!("stream line is not valid JSON ({e}): {}", crate::lm::snippet(data)),
        })?;
        if let Some(message) = super::error_in_body(&v) {
            return Err(LmError::Other(format!("the server reported an error mid-stream: {message}")));
        }
        self.seen = true;
        if let Some(m) = v.get("model").and_then(Value::as_str) {
            self.model = m.to_string();
        }
        let (text, reasoning, calls) = pieces(self.model_type, &v);
        self.out.text.push_str(&text);
        self.out.reasoning.push_str(&reasoning);
        self.out.tool_calls.extend(calls);
        let done = v.get("done").and_then(Value::as_bool).unwrap_or(false);
        if done {
            self.usage = usage_of(&v);
            self.out.finish_reason = v.get("done_reason").and_then(Value::as_str).map(str::to_string);
        }
        Ok(Decoded { delta: (!text.is_empty()).then_some(text), done })
    }

    fn finish(&mut self) -> Result<LmResponse, LmError> {
        if !self.seen {
            return Err(LmError::MalformedResponse { message: "the stream ended before any line".into() });
        }
        Ok(response(vec![std::mem::take(&mut self.out)], self.usage, std::mem::take(&mut self.model)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::{ImageUrl, LmConfig};

    #[test]
    fn format_options_and_images() {
        let req = LmRequest {
            messages: vec![Message { role: Role::User, content: Content::Parts(vec![
                ContentPart::Text { text: "look".into() },
                ContentPart::ImageUrl { image_url: ImageUrl { url: "data:image/jpeg;base64,QUJD".into() } },
            ]) }],
            config: LmConfig { temperature: Some(0.5), max_tokens: Some(64), ..LmConfig::default() },
            response_format: Some(ResponseFormat::JsonSchema { name: "x".into(), schema: json!({"type": "object"}), strict: true }),
            tools: vec![],
        };
        let b = body("llama3.2", ModelType::Chat, &req, &Dialect::OLLAMA, false).unwrap();
        assert_eq!(b["messages"][0], json!({"role": "user", "content": "look", "images": ["QUJD"]}));
        assert_eq!(b["options"], json!({"temperature": 0.5, "num_predict": 64}));
        assert_eq!(b["format"], json!({"type": "object"}));
        assert_eq!(b["stream"], false);
    }
}
