//! Usage and cost per program call and per run, and the call history.

mod lm_support;

use std::sync::Arc;

use dspy_core::lm::{LM, Price, history};
use dspy_core::{LanguageModel, LmRequest, Message, Module, Predict, settings, usage};
use lm_support::{MockServer, Reply, chat_completion};
use serde_json::json;

fn ask(text: &str) -> LmRequest {
    LmRequest { messages: vec![Message::user(text)], ..LmRequest::default() }
}

#[tokio::test]
async fn track_aggregates_per_model_and_counts_cache_hits_as_free() {
    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("[[ ## answer ## ]]\nParis"))).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(dspy_core::lm::Cache::new(dspy_core::CacheConfig::default().dir(dir.path())));
    let a = LM::builder("openai/usage-a").api_base(server.v1()).cache_store(cache).price(Price::per_million(1.0, 10.0)).build().unwrap();
    let b = LM::builder("openai/usage-b").api_base(server.v1()).cache(false).build().unwrap();

    let ((), used) = usage::track(async {
        a.complete(ask("1")).await.unwrap();
        a.complete(ask("1")).await.unwrap(); // cache hit
        b.complete(ask("2")).await.unwrap();
        // Calls in tasks spawned with the settings helper are counted too.
        let b2 = b.clone();
        settings::spawn(async move { b2.complete(ask("3")).await.unwrap() }).await.unwrap();
        // A nested scope sees its own calls and rolls them up.
        let ((), inner) = usage::track(async {
            a.complete(ask("4")).await.unwrap();
        })
        .await;
        assert_eq!(inner.get("openai/usage-a").unwrap().calls, 1);
    })
    .await;
    let ua = used.get("openai/usage-a").unwrap();
    assert_eq!((ua.calls, ua.cache_hits, ua.prompt_tokens, ua.completion_tokens, ua.total_tokens), (3, 1, 24, 6, 30));
    assert!((ua.cost - 2.0 * (12.0 + 30.0) / 1e6).abs() < 1e-12, "{}", ua.cost);
    let ub = used.get("openai/usage-b").unwrap();
    assert_eq!((ub.calls, ub.unpriced_calls, ub.total_tokens), (2, 2, 30));
    assert_eq!(used.total().calls, 5);

    // Outside any scope nothing is collected, and nothing fails.
    b.complete(ask("5")).await.unwrap();

    // Per program call: a predictor's prediction carries its usage.
    let qa = Predict::parse("question -> answer").unwrap().with_lm(Arc::new(b.clone()));
    let (prediction, used) = usage::track(qa.forward_map(json!({"question": "Capital of France?"}).as_object().unwrap())).await;
    let prediction = prediction.unwrap();
    assert_eq!(prediction.get_str("answer"), Some("Paris"));
    assert_eq!(prediction.usage().total_tokens, 15);
    assert_eq!(used.get("openai/usage-b").unwrap().calls, 1);
}

#[tokio::test]
async fn history_records_calls_and_prints_them_readably() {
    let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("The answer is 4."))).await;
    let lm = LM::builder("openai/history-model").api_base(server.v1()).cache(false).price(Price::per_million(2.0, 4.0)).build().unwrap();
    lm.complete(LmRequest { messages: vec![Message::system("Be exact."), Message::user("2+2?")], ..LmRequest::default() })
        .await
        .unwrap();
    let entry = history(10_000).into_iter().rev().find(|e| e.model == "openai/history-model").unwrap();
    assert_eq!(entry.messages.len(), 2);
    assert_eq!(entry.outputs[0].text, "The answer is 4.");
    assert_eq!(entry.usage.total_tokens, 15);
    assert!(!entry.cache_hit);

    // The formatted view (other tests may add calls concurrently: look for ours).
    let text = dspy_core::lm::format_history(10_000);
    let ours = text.split("\n\n\n\n").find(|block| block.contains("openai/history-model")).unwrap();
    assert!(ours.contains("openai/history-model · "), "{ours}");
    assert!(ours.contains(" ms · 12 prompt + 3 completion tokens · $0.000036"), "{ours}");
    let start = text.find("openai/history-model").unwrap();
    let rest = &text[start..];
    assert!(rest.contains("System message:\n\nBe exact.\n\n\nUser message:\n\n2+2?\n\n\nResponse:\n\nThe answer is 4.\n"), "{rest}");
}
