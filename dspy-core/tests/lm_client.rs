//! The HTTP LM client against real HTTP servers on 127.0.0.1 speaking each provider's wire
//! format: what the client sends (path, headers, body) and what it makes of the answers,
//! including streams, retries, timeouts, broken bodies and typed errors. No internet, no key.

mod lm_support;

use std::time::{Duration, Instant};

use dspy_core::lm::{LM, LmBuilder, MaxTokensParam, ModelType, Price, RetryPolicy, StructuredDialect};
use dspy_core::{LanguageModel, LmConfig, LmError, LmRequest, Message, ResponseFormat, StreamEvent, StructuredOutput, ToolSpec};
use futures::StreamExt;
use lm_support::{MockServer, Reply, chat_completion, raw_server, sse, sse_typed};
use serde_json::{Value, json};

fn fast_retries(b: LmBuilder) -> LmBuilder {
    b.retry_policy(RetryPolicy {
        num_retries: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    })
    .cache(false)
}

fn ask(text: &str) -> LmRequest {
    LmRequest { messages: vec![Message::system("You are terse."), Message::user(text)], ..LmRequest::default() }
}

fn schema_request() -> LmRequest {
    LmRequest {
        response_format: Some(ResponseFormat::JsonSchema {
            name: "DSPyProgramOutputs".into(),
            schema: json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": false}),
            strict: true,
        }),
        ..ask("q")
    }
}

#[tokio::test]
async fn openai_chat_request_and_response() {
    let server = MockServer::start(|_, _| {
        Reply::Json(200, json!({
            "id": "x", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "thinking aloud",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{\"query\": \"rust\"}"}}]}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
        }))
    })
    .await;
    let lm = fast_retries(LM::builder("openai/gpt-4o-mini"))
        .api_base(server.v1())
        .api_key("sk-test-123")
        .temperature(0.0)
        .max_tokens(256)
        .param("seed", json!(7))
        .build()
        .unwrap();
    assert_eq!(lm.capabilities().structured_output, StructuredOutput::JsonSchema);
    assert!(lm.capabilities().function_calling);
    let request = LmRequest {
        tools: vec![ToolSpec { name: "search".into(), description: "Web search.".into(), parameters: json!({"type": "object", "properties": {"query": {"type": "string"}}}) }],
        ..schema_request()
    };
    let response = lm.complete(request).await.unwrap();

    let sent = &server.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let b = &sent.body;
    assert_eq!(b["model"], "gpt-4o-mini");
    assert_eq!(b["messages"], json!([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "q"}]));
    assert_eq!(b["temperature"], 0.0);
    assert_eq!(b["max_tokens"], 256);
    assert!(b.get("max_completion_tokens").is_none());
    assert_eq!(b["seed"], 7);
    assert_eq!(b["response_format"]["type"], "json_schema");
    assert_eq!(b["response_format"]["json_schema"]["name"], "DSPyProgramOutputs");
    assert_eq!(b["response_format"]["json_schema"]["strict"], true);
    assert_eq!(b["response_format"]["json_schema"]["schema"]["required"], json!(["answer"]));
    assert_eq!(b["tools"][0], json!({"type": "function", "function": {"name": "search", "description": "Web search.", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}));
    assert!(b.get("stream").is_none() && b.get("rollout_id").is_none());

    let out = &response.outputs[0];
    assert_eq!(out.text, "thinking aloud");
    assert_eq!(out.tool_calls[0].id.as_deref(), Some("call_1"));
    assert_eq!(out.tool_calls[0].name, "search");
    assert_eq!(out.tool_calls[0].args, json!({"query": "rust"}));
    assert_eq!(out.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(response.model, "gpt-4o-mini-2024-07-18");
    assert_eq!((response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens), (1000, 500, 1500));
    // Built-in price of gpt-4o-mini: $0.15 / $0.60 per 1M tokens.
    assert!((response.usage.cost.unwrap() - (0.15 * 1000.0 + 0.60 * 500.0) / 1e6).abs() < 1e-12);
    assert!(!response.cache_hit);
}

#[tokio::test]
async fn reasoning_models_get_max_completion_tokens_and_no_temperature() {
    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("ok"))).await;
    let lm = fast_retries(LM::builder("openai/o3-mini")).api_base(server.v1()).api_key("k").build().unwrap();
    let request = LmRequest { config: LmConfig { temperature: Some(0.7), max_tokens: Some(16000), ..LmConfig::default() }, ..ask("q") };
    lm.complete(request.clone()).await.unwrap();
    let b = &server.requests()[0].body;
    assert_eq!(b["max_completion_tokens"], 16000);
    assert!(b.get("max_tokens").is_none() && b.get("temperature").is_none());

    // The same request to a self-hosted server (data, not a special case) sends max_tokens.
    let lm = fast_retries(LM::builder("hosted_vllm/Qwen/Qwen3-8B")).api_base(server.v1()).build().unwrap();
    lm.complete(request.clone()).await.unwrap();
    let b = &server.requests()[1].body;
    assert_eq!((b["model"].as_str(), b["max_tokens"].as_u64(), b["temperature"].as_f64()), (Some("Qwen/Qwen3-8B"), Some(16000), Some(0.7)));
    assert!(server.requests()[1].header("authorization").is_none(), "no key, no auth header");

    // And a builder override wins over the table.
    let lm = fast_retries(LM::builder("hosted_vllm/m")).api_base(server.v1()).max_tokens_param(MaxTokensParam::MaxCompletionTokens).build().unwrap();
    lm.complete(request).await.unwrap();
    assert_eq!(server.requests()[2].body["max_completion_tokens"], 16000);
}

#[tokio::test]
async fn text_models_use_completions() {
    let server = MockServer::start(|_, _| {
        Reply::Json(200, json!({"model": "m", "choices": [{"index": 0, "text": " Paris", "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}))
    })
    .await;
    let lm = fast_retries(LM::builder("openai/davinci-002")).api_base(server.v1()).model_type(ModelType::Text).build().unwrap();
    assert_eq!(lm.capabilities().structured_output, StructuredOutput::None);
    let r = lm.complete(ask("Capital of France?")).await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/completions");
    assert_eq!(sent.body["prompt"], "You are terse.\n\nCapital of France?\n\nBEGIN RESPONSE:");
    assert_eq!(r.outputs[0].text, " Paris");
    assert_eq!(r.usage.total_tokens, 6);
}

#[tokio::test]
async fn azure_deployment_url_and_api_key_header() {
    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("hi"))).await;
    let lm = fast_retries(LM::builder("azure/my-gpt4o"))
        .api_base(&server.addr)
        .api_version("2024-10-21")
        .api_key("azure-key")
        .build()
        .unwrap();
    lm.complete(ask("hi")).await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21");
    assert_eq!(sent.header("api-key"), Some("azure-key"));
    assert!(sent.header("authorization").is_none());
}

#[tokio::test]
async fn anthropic_messages_wire() {
    let server = MockServer::start(|_, _| {
        Reply::Json(200, json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Let me look."}, {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"query": "dspy"}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 20, "output_tokens": 10, "cache_read_input_tokens": 5}
        }))
    })
    .await;
    let lm = fast_retries(LM::builder("anthropic/claude-sonnet-4-5")).api_base(server.v1()).api_key("sk-ant-1").build().unwrap();
    assert_eq!(lm.capabilities().structured_output, StructuredOutput::None);
    let request = LmRequest {
        config: LmConfig { temperature: Some(0.2), ..LmConfig::default() },
        tools: vec![ToolSpec { name: "search".into(), description: "d".into(), parameters: json!({"type": "object"}) }],
        messages: vec![Message::system("A."), Message::system("B."), Message::user("u1"), Message::assistant("a1"), Message::user("u2")],
        ..LmRequest::default()
    };
    let r = lm.complete(request).await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-1"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert!(sent.header("authorization").is_none());
    let b = &sent.body;
    assert_eq!(b["system"], "A.\n\nB.");
    assert_eq!(b["messages"], json!([{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]));
    assert_eq!(b["max_tokens"], 4096, "Anthropic requires max_tokens");
    assert_eq!(b["temperature"], 0.2);
    assert_eq!(b["tools"], json!([{"name": "search", "description": "d", "input_schema": {"type": "object"}}]));
    assert_eq!(r.outputs[0].text, "Let me look.");
    assert_eq!(r.outputs[0].tool_calls[0].args, json!({"query": "dspy"}));
    assert_eq!(r.outputs[0].tool_calls[0].id.as_deref(), Some("toolu_1"));
    assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens), (25, 10));
    assert_eq!(r.usage.cost, Some((25.0 * 3.0 + 10.0 * 15.0) / 1e6));
}

#[tokio::test]
async fn anthropic_sse_stream() {
    let events = vec![
        json!({"type": "message_start", "message": {"id": "m", "model": "claude-haiku-4-5", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "calc", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"x\": "}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "2}"}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}),
        json!({"type": "message_stop"}),
    ];
    let pieces = sse_typed(&events);
    let server = MockServer::start(move |_, _| Reply::Chunks { content_type: "text/event-stream", pieces: pieces.clone(), gap: Duration::from_millis(2) }).await;
    let lm = fast_retries(LM::builder("anthropic/claude-haiku-4-5")).api_base(&server.addr).api_key("k").build().unwrap();
    let mut stream = lm.stream(ask("hi")).await.unwrap();
    let (mut deltas, mut done) = (Vec::new(), None);
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            StreamEvent::Delta(d) => deltas.push(d),
            StreamEvent::Done(r) => done = Some(r),
        }
    }
    assert_eq!(server.requests()[0].body["stream"], true);
    assert_eq!(deltas, ["Hel", "lo"]);
    let r = done.unwrap();
    assert_eq!(r.outputs[0].text, "Hello");
    assert_eq!(r.outputs[0].tool_calls[0].args, json!({"x": 2}));
    assert_eq!(r.outputs[0].finish_reason.as_deref(), Some("end_turn"));
    assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens), (9, 7));
}

#[tokio::test]
async fn openai_sse_stream_incremental() {
    let chunk = |delta: Value, finish: Value| json!({"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    let events = vec![
        chunk(json!({"role": "assistant"}), Value::Null),
        chunk(json!({"content": "[[ ## answer"}), Value::Null),
        chunk(json!({"content": " ## ]]\nPa"}), Value::Null),
        chunk(json!({"content": "ris ✓"}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{\"a\""}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}), Value::Null),
        chunk(json!({}), json!("stop")),
        json!({"model": "m", "choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 34}}),
    ];
    let pieces = sse(&events, true);
    let server = MockServer::start(move |_, _| Reply::Chunks { content_type: "text/event-stream", pieces: pieces.clone(), gap: Duration::from_millis(5) }).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    let started = Instant::now();
    let mut stream = lm.stream(ask("q")).await.unwrap();
    let mut first_delta_at = None;
    let (mut deltas, mut done) = (Vec::new(), None);
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            StreamEvent::Delta(d) => {
                first_delta_at.get_or_insert(started.elapsed());
                deltas.push(d)
            }
            StreamEvent::Done(r) => done = Some((r, started.elapsed())),
        }
    }
    let b = &server.requests()[0].body;
    assert_eq!((b["stream"].clone(), b["stream_options"].clone()), (json!(true), json!({"include_usage": true})));
    assert_eq!(deltas, ["[[ ## answer", " ## ]]\nPa", "ris ✓"]);
    let (r, done_at) = done.unwrap();
    assert!(first_delta_at.unwrap() < done_at, "deltas arrive before the stream ends");
    assert_eq!(r.outputs[0].text, "[[ ## answer ## ]]\nParis ✓");
    assert_eq!(r.outputs[0].tool_calls[0].args, json!({"a": 1}));
    assert_eq!(r.usage.total_tokens, 34);
}

#[tokio::test]
async fn stream_cut_before_the_end_is_an_error() {
    let events = vec![json!({"model": "m", "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]})];
    let pieces = sse(&events, false);
    let server = MockServer::start(move |_, _| Reply::Chunks { content_type: "text/event-stream", pieces: pieces.clone(), gap: Duration::ZERO }).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    let events: Vec<_> = lm.stream(ask("q")).await.unwrap().collect().await;
    assert!(matches!(events[0], Ok(StreamEvent::Delta(ref d)) if d == "Hel"));
    assert!(matches!(events.last().unwrap(), Err(LmError::MalformedResponse { .. })), "{events:?}");
}

#[tokio::test]
async fn ollama_chat_wire_and_ndjson_stream() {
    let server = MockServer::start(|_, req| {
        if req.body["stream"] == true {
            let lines = [
                json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Bon"}, "done": false}),
                json!({"model": "llama3.2", "message": {"role": "assistant", "content": "jour"}, "done": false}),
                json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 2}),
            ];
            // Lines split across chunks, as a network would.
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let pieces = text.as_bytes().chunks(17).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
            Reply::Chunks { content_type: "application/x-ndjson", pieces, gap: Duration::from_millis(1) }
        } else {
            Reply::Json(200, json!({
                "model": "llama3.2", "message": {"role": "assistant", "content": "{\"answer\": \"4\"}",
                    "tool_calls": [{"function": {"name": "add", "arguments": {"a": 2, "b": 2}}}]},
                "done": true, "done_reason": "stop", "prompt_eval_count": 26, "eval_count": 8
            }))
        }
    })
    .await;
    let lm = fast_retries(LM::builder("ollama_chat/llama3.2")).api_base(&server.addr).temperature(0.0).max_tokens(50).build().unwrap();
    let mut request = schema_request();
    request.messages.push(Message {
        role: dspy_core::Role::User,
        content: dspy_core::Content::Parts(vec![
            dspy_core::ContentPart::Text { text: "and this?".into() },
            dspy_core::ContentPart::ImageUrl { image_url: dspy_core::lm::ImageUrl { url: "data:image/png;base64,iVBORw0KGgo=".into() } },
        ]),
    });
    let r = lm.complete(request).await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/api/chat");
    assert!(sent.header("authorization").is_none());
    let b = &sent.body;
    assert_eq!(b["stream"], false);
    assert_eq!(b["options"], json!({"temperature": 0.0, "num_predict": 50}));
    assert_eq!(b["format"]["required"], json!(["answer"]), "the schema goes in `format`");
    assert_eq!(b["messages"][2], json!({"role": "user", "content": "and this?", "images": ["iVBORw0KGgo="]}));
    assert_eq!(r.outputs[0].text, "{\"answer\": \"4\"}");
    assert_eq!(r.outputs[0].tool_calls[0].args, json!({"a": 2, "b": 2}));
    assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.cost), (26, 8, Some(0.0)));

    let events: Vec<_> = lm.stream(ask("hi")).await.unwrap().map(Result::unwrap).collect().await;
    assert_eq!(events[..2], [StreamEvent::Delta("Bon".into()), StreamEvent::Delta("jour".into())]);
    let StreamEvent::Done(r) = &events[2] else { panic!("{events:?}") };
    assert_eq!((r.outputs[0].text.as_str(), r.usage.total_tokens), ("Bonjour", 13));
}

#[tokio::test]
async fn ollama_generate_and_fan_out_of_n() {
    let server = MockServer::start(|i, _| {
        Reply::Json(200, json!({"model": "qwen3", "response": format!("sample {i}"), "done": true, "prompt_eval_count": 3, "eval_count": 2}))
    })
    .await;
    let lm = fast_retries(LM::builder("ollama/qwen3")).api_base(&server.addr).build().unwrap();
    let request = LmRequest { config: LmConfig { n: Some(3), temperature: Some(0.7), ..LmConfig::default() }, ..ask("hi") };
    let r = lm.complete(request).await.unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 3, "Ollama has no `n`: three requests");
    assert_eq!(sent[0].path, "/api/generate");
    assert_eq!(sent[0].body["system"], "You are terse.");
    assert_eq!(sent[0].body["prompt"], "hi");
    assert!(sent[0].body.get("n").is_none());
    let mut texts: Vec<_> = r.outputs.iter().map(|o| o.text.clone()).collect();
    texts.sort();
    assert_eq!(texts, ["sample 0", "sample 1", "sample 2"]);
    assert_eq!(r.usage.total_tokens, 15);
}

#[tokio::test]
async fn retry_after_429_is_honoured() {
    let server = MockServer::start(|i, _| match i {
        0 => Reply::Raw { status: 429, headers: vec![("retry-after", "1".into())], body: r#"{"error": {"message": "Rate limit reached"}}"#.into() },
        _ => Reply::Json(200, chat_completion("ok")),
    })
    .await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    let started = Instant::now();
    let r = lm.complete(ask("q")).await.unwrap();
    assert_eq!(r.outputs[0].text, "ok");
    assert_eq!(server.count(), 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited for Retry-After: {:?}", started.elapsed());
}

#[tokio::test]
async fn rate_limited_after_the_retries() {
    let server = MockServer::start(|_, _| Reply::Raw { status: 429, headers: vec![("retry-after", "0".into())], body: "slow down".into() }).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    let err = lm.complete(ask("q")).await.unwrap_err();
    assert!(matches!(&err, LmError::RateLimited { attempts: 3, retry_after: Some(d), .. } if d.is_zero()), "{err:?}");
    assert_eq!(server.count(), 3);

    // A Retry-After beyond what we are willing to wait ends the retries at once.
    let server = MockServer::start(|_, _| Reply::Raw { status: 429, headers: vec![("retry-after", "3600".into())], body: "later".into() }).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    let err = lm.complete(ask("q")).await.unwrap_err();
    assert!(matches!(err, LmError::RateLimited { attempts: 1, .. }));
}

#[tokio::test]
async fn server_error_then_success_and_exhausted() {
    let server = MockServer::start(|i, _| match i {
        0 => Reply::Json(500, json!({"error": {"message": "boom"}})),
        1 => Reply::Raw { status: 502, headers: vec![], body: "<html>bad gateway</html>".into() },
        _ => Reply::Json(200, chat_completion("fine")),
    })
    .await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    assert_eq!(lm.complete(ask("q")).await.unwrap().outputs[0].text, "fine");
    assert_eq!(server.count(), 3);

    let server = MockServer::start(|_, _| Reply::Json(503, json!({"error": {"message": "overloaded"}}))).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    let err = lm.complete(ask("q")).await.unwrap_err();
    assert_eq!(err, LmError::Server { status: 503, attempts: 3, message: "overloaded".into() });
}

#[tokio::test]
async fn hanging_server_times_out_per_attempt() {
    let server = MockServer::start(|_, _| Reply::After(Duration::from_secs(30), Box::new(Reply::Json(200, chat_completion("late"))))).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).timeout(Duration::from_millis(200)).num_retries(1).build().unwrap();
    let started = Instant::now();
    let err = lm.complete(ask("q")).await.unwrap_err();
    assert_eq!(err, LmError::Timeout { after: Duration::from_millis(200), attempts: 2 });
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(server.count(), 2);

    // A stream that stalls mid-way times out between chunks too.
    let pieces = vec!["data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"a\"}}]}\n\n".to_string(), "data: [DONE]\n\n".into()];
    let server = MockServer::start(move |_, _| Reply::Chunks { content_type: "text/event-stream", pieces: pieces.clone(), gap: Duration::from_secs(30) }).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).timeout(Duration::from_millis(200)).build().unwrap();
    let started = Instant::now();
    let result = lm.stream(ask("q")).await;
    let events: Vec<_> = match result {
        Ok(stream) => stream.collect().await,
        Err(e) => vec![Err(e)],
    };
    assert!(matches!(events.last().unwrap(), Err(LmError::Timeout { .. })), "{events:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn malformed_and_truncated_bodies() {
    // Complete but invalid JSON: not retried, typed.
    let server = MockServer::start(|_, _| Reply::Raw { status: 200, headers: vec![("content-type", "application/json".into())], body: r#"{"choices": [{"mess"#.into() }).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    let err = lm.complete(ask("q")).await.unwrap_err();
    assert!(matches!(&err, LmError::MalformedResponse { message } if message.contains("not valid JSON")), "{err:?}");
    assert_eq!(server.count(), 1);

    // Valid JSON of the wrong shape.
    let server = MockServer::start(|_, _| Reply::Json(200, json!({"result": "hi"}))).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).build().unwrap();
    assert!(matches!(lm.complete(ask("q")).await, Err(LmError::MalformedResponse { .. })));

    // A body cut off before its Content-Length: the connection broke, so it is retried.
    let (addr, count) = raw_server(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\nconnection: close\r\n\r\n{\"choices\": [").await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(format!("{addr}/v1")).build().unwrap();
    let err = lm.complete(ask("q")).await.unwrap_err();
    assert!(matches!(&err, LmError::Connection { message, .. } if message.contains("cut off")), "{err:?}");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn client_errors_are_typed_and_not_retried() {
    let server = MockServer::start(|_, req| match req.body["messages"][1]["content"].as_str().unwrap() {
        "401" => Reply::Json(401, json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})),
        "403" => Reply::Json(403, json!({"error": {"message": "forbidden"}})),
        "404" => Reply::Json(404, json!({"error": {"message": "The model `nope` does not exist"}})),
        "400" => Reply::Json(400, json!({"error": {"message": "Invalid value for 'temperature'"}})),
        "ctx" => Reply::Json(400, json!({"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", "code": "context_length_exceeded"}})),
        "ctx-llamacpp" => Reply::Json(400, json!({"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error"}})),
        _ => Reply::Json(422, json!({"detail": [{"msg": "field required"}]})),
    })
    .await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).api_key("sk-x").build().unwrap();
    let e = lm.complete(ask("401")).await.unwrap_err();
    assert_eq!(e, LmError::Authentication { provider: "openai".into(), message: "Incorrect API key provided".into() });
    assert!(matches!(lm.complete(ask("403")).await.unwrap_err(), LmError::Authentication { .. }));
    assert_eq!(lm.complete(ask("404")).await.unwrap_err(), LmError::BadRequest { status: 404, message: "The model `nope` does not exist".into() });
    assert!(matches!(lm.complete(ask("400")).await.unwrap_err(), LmError::BadRequest { status: 400, .. }));
    assert!(matches!(lm.complete(ask("ctx")).await.unwrap_err(), LmError::ContextWindowExceeded { .. }));
    assert!(matches!(lm.complete(ask("ctx-llamacpp")).await.unwrap_err(), LmError::ContextWindowExceeded { .. }));
    assert!(matches!(lm.complete(ask("other")).await.unwrap_err(), LmError::BadRequest { status: 422, .. }));
    assert_eq!(server.count(), 7, "one request each: none retried");
}

#[tokio::test]
async fn unreachable_server_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let lm = fast_retries(LM::builder("openai/m")).api_base(format!("http://127.0.0.1:{port}/v1")).build().unwrap();
    let err = lm.complete(ask("q")).await.unwrap_err();
    assert!(matches!(&err, LmError::Connection { url, .. } if url.contains(&port.to_string())), "{err:?}");
}

/// llama.cpp's server rejects `json_schema` (llama-cpp-python answers 500 with a validation
/// error, others 400/422): the client resends with `{"type": "json_object", "schema": ...}`
/// once and remembers it for the LM.
#[tokio::test]
async fn json_schema_rejection_switches_dialect_once_and_remembers() {
    for status in [422u16, 500] {
        let server = MockServer::start(move |_, req| {
            if req.body["response_format"]["type"] == "json_schema" {
                Reply::Json(status, json!({"error": {"message": "1 validation error: {'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"}}))
            } else {
                Reply::Json(200, chat_completion("{\"answer\": \"x\"}"))
            }
        })
        .await;
        let lm = fast_retries(LM::builder("openai/smollm2")).api_base(server.v1()).build().unwrap();
        assert_eq!(lm.dialect().structured_output, StructuredDialect::OpenAiJsonSchema);
        let r = lm.complete(schema_request()).await.unwrap();
        assert_eq!(r.outputs[0].text, "{\"answer\": \"x\"}");
        let sent = server.requests();
        assert_eq!(sent.len(), 2, "status {status}: one rejection, one resend, no backoff retries");
        assert_eq!(sent[1].body["response_format"]["type"], "json_object");
        assert_eq!(sent[1].body["response_format"]["schema"]["required"], json!(["answer"]));
        assert_eq!(lm.dialect().structured_output, StructuredDialect::JsonObjectWithSchema);
        assert_eq!(lm.capabilities().structured_output, StructuredOutput::JsonSchema);

        // Remembered: the next call (and clones) go straight to the working dialect.
        lm.clone().complete(schema_request()).await.unwrap();
        assert_eq!(server.count(), 3);
        assert_eq!(server.requests()[2].body["response_format"]["type"], "json_object");
    }

    // Detection off: the rejection is the caller's.
    let server = MockServer::start(|_, _| Reply::Json(422, json!({"detail": "response_format json_schema not supported"}))).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).detect_dialect(false).build().unwrap();
    assert!(matches!(lm.complete(schema_request()).await, Err(LmError::BadRequest { status: 422, .. })));
}

#[tokio::test]
async fn max_tokens_rejection_switches_key() {
    let server = MockServer::start(|_, req| {
        if req.body.get("max_tokens").is_some() {
            Reply::Json(400, json!({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "code": "unsupported_parameter"}}))
        } else {
            Reply::Json(200, chat_completion("ok"))
        }
    })
    .await;
    // A gateway-named reasoning model the table cannot know about.
    let lm = fast_retries(LM::builder("openai/my-reasoner")).api_base(server.v1()).max_tokens(2000).build().unwrap();
    lm.complete(ask("q")).await.unwrap();
    assert_eq!(server.requests()[1].body["max_completion_tokens"], 2000);
    assert_eq!(lm.dialect().max_tokens_param, MaxTokensParam::MaxCompletionTokens);
}

#[tokio::test]
async fn llama_cpp_prefix_uses_its_dialect_from_the_table() {
    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("{}"))).await;
    let lm = fast_retries(LM::builder("llama_cpp/any")).api_base(server.v1()).build().unwrap();
    lm.complete(schema_request()).await.unwrap();
    assert_eq!(server.requests()[0].body["response_format"]["type"], "json_object");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn concurrency_limit_and_requests_per_minute() {
    let server = MockServer::start(|_, _| Reply::After(Duration::from_millis(40), Box::new(Reply::Json(200, chat_completion("ok"))))).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).max_concurrency(2).build().unwrap();
    let calls = (0..8).map(|i| {
        let lm = lm.clone();
        async move { lm.complete(ask(&format!("q{i}"))).await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(server.count(), 8);
    assert_eq!(server.max_in_flight(), 2);

    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("ok"))).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).requests_per_minute(600).build().unwrap();
    let started = Instant::now();
    let calls = (0..4).map(|i| {
        let lm = lm.clone();
        async move { lm.complete(ask(&format!("r{i}"))).await }
    });
    futures::future::join_all(calls).await;
    assert!(started.elapsed() >= Duration::from_millis(300), "600/min = one every 100 ms: {:?}", started.elapsed());
}

#[tokio::test]
async fn configuration_errors() {
    let e = LM::new("nope/model").unwrap_err();
    assert!(matches!(&e, LmError::Config(m) if m.contains("known providers") && m.contains("anthropic") && m.contains("ollama_chat")), "{e}");
    assert!(matches!(LM::new("gpt-4o"), Err(LmError::Config(_))));
    assert!(matches!(LM::builder("openai/m").api_base("localhost:8000").build(), Err(LmError::Config(_))));
    if std::env::var_os("HOSTED_VLLM_API_BASE").is_none() {
        assert!(matches!(LM::new("hosted_vllm/m"), Err(LmError::Config(m)) if m.contains("api_base")));
    }
    // A hosted provider without a key fails on first use, before any request.
    if std::env::var_os("GROQ_API_KEY").is_none() {
        let lm = fast_retries(LM::builder("groq/llama-3.1-8b-instant")).build().unwrap();
        let e = lm.complete(ask("q")).await.unwrap_err();
        assert!(matches!(&e, LmError::Authentication { message, .. } if message.contains("GROQ_API_KEY")), "{e}");
    }
}

#[tokio::test]
async fn price_override_and_local_servers_are_free() {
    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("ok"))).await;
    let lm = fast_retries(LM::builder("openai/my-model")).api_base(server.v1()).price(Price::per_million(1.0, 2.0)).build().unwrap();
    let r = lm.complete(ask("q")).await.unwrap();
    assert_eq!(r.usage.cost, Some((12.0 + 3.0 * 2.0) / 1e6));
    let lm = fast_retries(LM::builder("openai/unknown-model")).api_base(server.v1()).build().unwrap();
    assert_eq!(lm.complete(ask("q")).await.unwrap().usage.cost, None, "unknown price is not zero");
    let lm = fast_retries(LM::builder("sglang/m")).api_base(server.v1()).build().unwrap();
    assert_eq!(lm.complete(ask("q")).await.unwrap().usage.cost, Some(0.0));
}

#[tokio::test]
async fn defaults_merge_under_request_settings() {
    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("ok"))).await;
    let lm = fast_retries(LM::builder("openai/m")).api_base(server.v1()).temperature(0.3).max_tokens(10).stop(["END"]).rollout_id(5).build().unwrap();
    assert_eq!(lm.defaults().temperature, Some(0.3));
    let request = LmRequest { config: LmConfig { max_tokens: Some(99), ..LmConfig::default() }, ..ask("q") };
    lm.complete(request).await.unwrap();
    let b = &server.requests()[0].body;
    assert_eq!((b["temperature"].as_f64(), b["max_tokens"].as_u64(), b["stop"].clone()), (Some(0.3), Some(99), json!(["END"])));
    assert!(b.get("rollout_id").is_none(), "rollout_id only extends the cache key");
}
