//! A planted API key must never show up in Debug/Display output, errors (even when the server
//! echoes it), logs and spans (at TRACE level, HTTP internals included), the history, the
//! cache directory or saved program state.

mod lm_support;

use std::sync::Arc;

use dspy_core::lm::{Cache, CacheConfig, LM, format_history, history};
use dspy_core::{LanguageModel, LmRequest, Message, Module, Predict};
use futures::StreamExt;
use lm_support::{Captured, MockServer, Reply, capture_subscriber, chat_completion, sse};
use serde_json::json;

const KEY: &str = "sk-PLANTED-7f3a9c2e5b1d4086";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(KEY), "the API key leaked into {what}:\n{text}");
    assert!(!text.contains("7f3a9c2e5b1d4086"), "part of the API key leaked into {what}:\n{text}");
}

fn grep_dir(dir: &std::path::Path) -> usize {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files += grep_dir(&path);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "the API key is in cache file {}", path.display());
            files += 1;
        }
    }
    files
}

#[test]
fn planted_key_never_leaks() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(capture_subscriber(&captured, tracing::Level::TRACE));
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let server = MockServer::start(|_, req| {
            let auth = req.header("authorization").unwrap_or_default().to_string();
            match req.body["messages"][0]["content"].as_str().unwrap_or_default() {
                // A server that quotes the rejected key back, as some do.
                "reject" => Reply::Json(401, json!({"error": {"message": format!("Incorrect API key provided: {}", auth.trim_start_matches("Bearer "))}})),
                "garbage" => Reply::Raw { status: 200, headers: vec![], body: format!("not json, but echoing {auth}") },
                "stream" => Reply::Chunks {
                    content_type: "text/event-stream",
                    pieces: sse(&[json!({"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]})], true),
                    gap: std::time::Duration::ZERO,
                },
                _ => Reply::Json(200, chat_completion("[[ ## answer ## ]]\nfine")),
            }
        })
        .await;
        let cache = Arc::new(Cache::new(CacheConfig::default().dir(dir.path())));
        let builder = LM::builder("openai/gpt-4o-mini").api_base(server.v1()).api_key(KEY).num_retries(0).cache_store(cache).header("x-extra-secret", KEY);
        assert_clean("the builder's Debug", &format!("{builder:?}"));
        let lm = builder.build().unwrap();
        assert_clean("the LM's Debug", &format!("{lm:?} {lm:#?}"));

        // The key does reach the server, in the headers.
        let ok = lm.complete(LmRequest { messages: vec![Message::user("hello")], ..Default::default() }).await.unwrap();
        assert_eq!(server.requests()[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
        assert_clean("a response", &format!("{ok:?}"));

        let err = lm.complete(LmRequest { messages: vec![Message::user("reject")], ..Default::default() }).await.unwrap_err();
        assert!(err.to_string().contains("Incorrect API key provided: [REDACTED]"), "{err}");
        assert_clean("an authentication error", &format!("{err} {err:?}"));
        let err = lm.complete(LmRequest { messages: vec![Message::user("garbage")], ..Default::default() }).await.unwrap_err();
        assert_clean("a malformed-response error", &format!("{err} {err:?}"));
        let events: Vec<_> = lm.stream(LmRequest { messages: vec![Message::user("stream")], ..Default::default() }).await.unwrap().collect().await;
        assert_clean("a stream", &format!("{events:?}"));

        // Through a predictor, and its saved state.
        let qa = Predict::parse("question -> answer").unwrap().with_lm(Arc::new(lm.clone()));
        let out = qa.forward_map(json!({"question": "q"}).as_object().unwrap()).await.unwrap();
        assert_clean("a prediction", &format!("{out:?}"));
        assert_clean("saved program state", &qa.save_state_json());

        assert_clean("the history", &format!("{:?}\n{}", history(10_000), format_history(10_000)));
    });
    assert!(grep_dir(dir.path()) > 0, "the cache wrote files");
    let logs = captured.text();
    assert!(logs.contains("lm_call"), "spans were captured: {logs}");
    assert_clean("the logs and spans (TRACE)", &logs);
}

trait SaveState {
    fn save_state_json(&self) -> String;
}

impl<T: Module> SaveState for T {
    fn save_state_json(&self) -> String {
        let state: Vec<_> = self.named_predictors().into_iter().map(|(name, p)| (name, p.dump_state())).collect();
        format!("{state:?}")
    }
}
