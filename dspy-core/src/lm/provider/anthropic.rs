//! Anthropic's Messages API: the system prompt split out of the messages, `max_tokens`
//! required, content blocks (text, image, tool_use, thinking), and its typed SSE events.

use serde_json::{Map, Value, json};

use super::{Decoded, OutputBuilder, StreamDecoder, ToolCallBuilder, count, response, split_data_uri, text_of};
use crate::lm::dialect::Dialect;
use crate::lm::{Content, ContentPart, LmError, LmRequest, LmResponse, Role, Usage};

fn content_blocks(content: &Content) -> Result<Value, LmError> {
    let parts = match content {
        Content::Text(t) => return Ok(json!(t)),
        Content::Parts(parts) => parts,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        blocks.push(match part {
            ContentPart::Text { text } => json!({"type": "text", "text": text}),
            ContentPart::ImageUrl { image_url } => match split_data_uri(&image_url.url) {
                Some((mime, data)) => json!({"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}),
                None => json!({"type": "image", "source": {"type": "url", "url": image_url.url}}),
            },
            ContentPart::InputAudio { .. } => {
                return Err(LmError::Config("Anthropic's Messages API does not accept audio input".into()));
            }
        });
    }
    Ok(Value::Array(blocks))
}

/// The request body.
pub(crate) fn body(model_id: &str, request: &LmRequest, dialect: &Dialect, stream: bool) -> Result<Value, LmError> {
    let mut b = Map::new();
    b.insert("model".into(), json!(model_id));
    let system: Vec<String> =
        request.messages.iter().filter(|m| m.role == Role::System).map(|m| text_of(&m.content)).collect();
    if !system.is_empty() {
        b.insert("system".into(), json!(system.join("\n\n")));
    }
    let mut messages = Vec::new();
    for m in request.messages.iter().filter(|m| m.role != Role::System) {
        let role = if m.role == Role::Assistant { "assistant" } else { "user" };
        messages.push(json!({"role": role, "content": content_blocks(&m.content)?}));
    }
    b.insert("messages".into(), Value::Array(messages));
    let c = &request.config;
    b.insert("max_tokens".into(), json!(c.max_tokens.or(dialect.default_max_tokens).unwrap_or(4096)));
    if let Some(t) = c.temperature {
        b.insert("temperature".into(), json!(t));
    }
    if let Some(p) = c.top_p {
        b.insert("top_p".into(), json!(p));
    }
    if let Some(stop) = &c.stop {
        b.insert("stop_sequences".into(), json!(stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        b.insert("tools".into(), Value::Array(tools));
    }
    if stream {
        b.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(b))
}

fn input_tokens(u: &Value) -> u64 {
    count(u, "input_tokens") + count(u, "cache_creation_input_tokens") + count(u, "cache_read_input_tokens")
}

/// A complete response body.
pub(crate) fn parse(v: &Value) -> Result<LmResponse, LmError> {
    let Some(blocks) = v.get("content").and_then(Value::as_array) else {
        return Err(LmError::MalformedResponse {
            message: format!("no `content` array in the response: {}", crate::lm::snippet(&v.to_string())),
        });
    };
    let mut out = OutputBuilder {
        finish_reason: v.get("stop_reason").and_then(Value::as_str).map(str::to_string),
        ..OutputBuilder::default()
    };
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => out.text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("thinking") => out.reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => out.tool_calls.push(ToolCallBuilder {
                id: block.get("id").and_then(Value::as_str).map(str::to_string),
                name: block.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                arguments: String::new(),
                parsed: Some(block.get("input").cloned().unwrap_or(json!({}))),
            }),
            _ => {}
        }
    }
    let u = v.get("usage").cloned().unwrap_or(Value::Null);
    let (prompt, completion) = (input_tokens(&u), count(&u, "output_tokens"));
    let usage = Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cost: None };
    let model = v.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(response(vec![out], usage, model))
}

#[derive(Clone, Copy, Debug)]
enum Block {
    Text,
    Thinking,
    Tool(usize),
    Other,
}

/// Assembles Anthropic's SSE events (`message_start`, `content_block_*`, `message_delta`, ...).
#[derive(Default)]
pub(crate) struct Decoder {
    out: OutputBuilder,
    blocks: Vec<Block>,
    prompt_tokens: u64,
    completion_tokens: u64,
    model: String,
    started: bool,
}

impl StreamDecoder for Decoder {
    fn event(&mut self, _event: Option<&str>, data: &str) -> Result<Decoded, LmError> {
        let v: Value = serde_json::from_str(data).map_err(|e| LmError::MalformedResponse {
            message: format!("stream event is not valid JSON ({e}): {}", crate::lm::snippet(data)),
        })?;
        let mut decoded = Decoded::default();
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_start" => {
                self.started = true;
                let m = v.get("message").cloned().unwrap_or(Value::Null);
                self.model = m.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
                if let Some(u) = m.get("usage") {
                    self.prompt_tokens = input_tokens(u);
                    self.completion_tokens = count(u, "output_tokens");
                }
            }
            "content_block_start" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(self.blocks.len() as u64) as usize;
                let block = v.get("content_block").cloned().unwrap_or(Value::Null);
                let kind = match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let t = block.get("text").and_then(Value::as_str).unwrap_or_default();
                        if !t.is_empty() {
                            self.out.text.push_str(t);
                            decoded.delta = Some(t.to_string());
                        }
                        Block::Text
                    }
                    Some("thinking") => Block::Thinking,
                    Some("tool_use") => {
                        self.out.tool_calls.push(ToolCallBuilder {
                            id: block.get("id").and_then(Value::as_str).map(str::to_string),
                            name: block.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                            ..ToolCallBuilder::default()
                        });
                        Block::Tool(self.out.tool_calls.len() - 1)
                    }
                    _ => Block::Other,
                };
                if self.blocks.len() <= index {
                    self.blocks.resize(index + 1, Block::Other);
                }
                self.blocks[index] = kind;
            }
            "content_block_delta" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let delta = v.get("delta").cloned().unwrap_or(Value::Null);
                let s = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                match (self.blocks.get(index).copied().unwrap_or(Block::Text), delta.get("type").and_then(Value::as_str)) {
                    (_, Some("text_delta")) => {
                        let t = s("text");
                        self.out.text.push_str(&t);
                        decoded.delta = (!t.is_empty()).then_some(t);
                    }
                    (_, Some("thinking_delta")) => self.out.reasoning.push_str(&s("thinking")),
                    (Block::Tool(i), Some("input_json_delta")) => self.out.tool_calls[i].arguments.push_str(&s("partial_json")),
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.out.finish_reason = Some(r.to_string());
                }
                if let Some(u) = v.get("usage") {
                    self.completion_tokens = count(u, "output_tokens").max(self.completion_tokens);
                }
            }
            "message_stop" => decoded.done = true,
            "error" => {
                let message = v.pointer("/error/message").and_then(Value::as_str).unwrap_or(data);
                return Err(LmError::Other(format!("the server reported an error mid-stream: {message}")));
            }
            _ => {}
        }
        Ok(decoded)
    }

    fn finish(&mut self) -> Result<LmResponse, LmError> {
        if !self.started {
            return Err(LmError::MalformedResponse { message: "the stream ended before `message_start`".into() });
        }
        let usage = Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.prompt_tokens + self.completion_tokens,
            cost: None,
        };
        Ok(response(vec![std::mem::take(&mut self.out)], usage, std::mem::take(&mut self.model)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::{ImageUrl, LmConfig, Message};

    #[test]
    fn system_split_out_and_max_tokens_required() {
        let req = LmRequest {
            messages: vec![
                Message::system("be brief"),
                Message { role: Role::User, content: Content::Parts(vec![
                    ContentPart::Text { text: "what is this?".into() },
                    ContentPart::ImageUrl { image_url: ImageUrl { url: "data:image/png;base64,AAAA".into() } },
                ]) },
            ],
            config: LmConfig { stop: Some(vec!["END".into()]), ..LmConfig::default() },
            ..LmRequest::default()
        };
        let b = body("claude-sonnet-4-5", &req, &Dialect::ANTHROPIC, false).unwrap();
        assert_eq!(b["system"], "be brief");
        assert_eq!(b["messages"].as_array().unwrap().len(), 1);
        assert_eq!(b["messages"][0]["content"][1]["source"], json!({"type": "base64", "media_type": "image/png", "data": "AAAA"}));
        assert_eq!(b["max_tokens"], 4096);
        assert_eq!(b["stop_sequences"], json!(["END"]));
    }
}
