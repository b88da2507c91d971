//! Concurrency and cache benchmarks of the HTTP LM client, against a local OpenAI-compatible
//! server this example starts (answers after 20 ms; no network, no key):
//!
//!     cargo run --release --example bench_concurrency
//!
//! 1. 256 calls at concurrency 16 (cache off): through `dspy::batch` over a `Predict`, and
//!    straight through the LM (an ordered sliding window), beside a bare reqwest client; wall
//!    clock vs the ideal 256 / 16 × 20 ms = 320 ms.
//! 2. Cache-hit latency per call, from memory and from disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::serve::ListenerExt;
use axum::routing::post;
use dspy::lm::{Cache, CacheConfig, LM};
use dspy::{Example, LanguageModel, LmRequest, Message, Module, Predict};
use futures::StreamExt;
use serde_json::{Value, json};

const CALLS: usize = 256;
const CONCURRENCY: usize = 16;
const LATENCY: Duration = Duration::from_millis(20);

async fn chat(body: String) -> axum::Json<Value> {
    // A precise 20 ms: tokio's timer has 1 ms ticks and fires late (~21.6 ms here), which
    // would put the floor of this benchmark at ~346 ms whatever the client does.
    let _ = tokio::task::spawn_blocking(|| std::thread::sleep(LATENCY)).await;
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    // Echo the number of "question number N" so the caller can check the order of results.
    let last = request["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or("");
    let question: String = last.split("question number ").nth(1).unwrap_or("").chars().take_while(char::is_ascii_digit).collect();
    axum::Json(json!({
        "id": "bench", "object": "chat.completion", "model": "bench",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": format!("[[ ## answer ## ]]\n{question}\n\n[[ ## completed ## ]]")}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55}
    }))
}

/// Runs `calls` with at most `concurrency` in flight, keeping input order.
async fn ordered_batch<T, F: std::future::Future<Output = T>>(calls: impl IntoIterator<Item = F>, concurrency: usize) -> Vec<T> {
    futures::stream::iter(calls).buffered(concurrency).collect().await
}

fn request(i: usize) -> LmRequest {
    LmRequest { messages: vec![Message::user(format!("question number {i}"))], ..LmRequest::default() }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, Router::new().route("/v1/chat/completions", post(chat))).await });
    dspy::lm::set_history_capacity(1_000);

    let lm = LM::builder("openai/bench").api_base(&base).cache(false).max_concurrency(CONCURRENCY).build()?;
    let ideal = LATENCY * (CALLS / CONCURRENCY) as u32;
    println!("== {CALLS} calls, concurrency {CONCURRENCY}, server latency {LATENCY:?} (ideal {} ms)", ideal.as_millis());

    // Warm the connection pool (as any long-running program would be).
    ordered_batch((0..CONCURRENCY).map(|i| lm.complete(request(i))), CONCURRENCY).await;

    // Baseline: the same requests with a bare HTTP client (no dspy at all).
    let http = reqwest::Client::new();
    let url = format!("{base}/chat/completions");
    let raw = |i: usize| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let body = json!({"model": "bench", "messages": [{"role": "user", "content": format!("question number {i}")}]});
            http.post(url).header("content-type", "application/json").body(body.to_string()).send().await?.bytes().await
        }
    };

    // What one call costs end to end, alone (the server's sleep, loopback HTTP, both ends'
    // work): 16 calls in a row per slot make the real floor of the batch on this machine.
    let started = Instant::now();
    for i in 0..CONCURRENCY {
        raw(i).await?;
    }
    let bare = started.elapsed() / CONCURRENCY as u32;
    let started = Instant::now();
    for i in 0..CONCURRENCY {
        lm.complete(request(i)).await?;
    }
    let one = started.elapsed() / CONCURRENCY as u32;
    let waves = (CALLS / CONCURRENCY) as u32;
    println!(
        "one call alone: bare reqwest {:.2} ms, LM.complete {:.2} ms → floor for this batch {:.1} ms",
        bare.as_secs_f64() * 1e3,
        one.as_secs_f64() * 1e3,
        (bare * waves).as_secs_f64() * 1e3
    );

    ordered_batch((0..CONCURRENCY).map(raw), CONCURRENCY).await;
    let started = Instant::now();
    ordered_batch((0..CALLS).map(raw), CONCURRENCY).await;
    println!("bare reqwest       : {:>6.1} ms wall clock (baseline)", started.elapsed().as_secs_f64() * 1e3);

    for round in 1..=3 {
        let started = Instant::now();
        let results = ordered_batch((0..CALLS).map(|i| lm.complete(request(i))), CONCURRENCY).await;
        let wall = started.elapsed();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        println!("LM.complete  {round}  : {:>6.1} ms wall clock vs {} ms ideal ({ok}/{CALLS} ok)", wall.as_secs_f64() * 1e3, ideal.as_millis());
    }

    let qa = Predict::parse("question -> answer")?.with_lm(Arc::new(lm.clone()));
    let inputs: Vec<Example> = (0..CALLS).map(|i| Example::new().with("question", format!("question number {i}"))).collect();
    for round in 1..=3 {
        let started = Instant::now();
        let results = dspy::module::batch(&qa, &inputs, CONCURRENCY).await;
        let wall = started.elapsed();
        let in_order = results.iter().enumerate().all(|(i, r)| {
            r.as_ref().ok().and_then(|p| p.get_str("answer").map(str::to_string)) == Some(i.to_string())
        });
        println!(
            "batch(Predict) {round}: {:>6.1} ms wall clock vs {} ms ideal (ordered: {in_order})",
            wall.as_secs_f64() * 1e3,
            ideal.as_millis()
        );
    }

    // Cache hits: fill a memory + disk cache, then read back from memory, then from disk only.
    let dir = std::env::temp_dir().join(format!("dspy-bench-cache-{}", std::process::id()));
    let filled = LM::builder("openai/bench").api_base(&base).cache_store(Arc::new(Cache::new(CacheConfig::default().dir(&dir)))).build()?;
    ordered_batch((0..CALLS).map(|i| filled.complete(request(i))), CONCURRENCY).await;
    let per_call = |elapsed: Duration| elapsed.as_secs_f64() * 1e6 / CALLS as f64;

    let started = Instant::now();
    for i in 0..CALLS {
        assert!(filled.complete(request(i)).await?.cache_hit);
    }
    println!("== cache hit, memory: {:>7.1} us/call", per_call(started.elapsed()));

    let disk_only = CacheConfig { memory: false, ..CacheConfig::default().dir(&dir) };
    let from_disk = LM::builder("openai/bench").api_base(&base).cache_store(Arc::new(Cache::new(disk_only))).build()?;
    let started = Instant::now();
    for i in 0..CALLS {
        assert!(from_disk.complete(request(i)).await?.cache_hit);
    }
    println!("== cache hit, disk:   {:>7.1} us/call", per_call(started.elapsed()));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
