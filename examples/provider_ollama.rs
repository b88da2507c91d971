//! Ollama's native API (`/api/chat`): a typed predictor with structured output through
//! `format`, and an NDJSON stream.
//!
//!     ollama pull llama3.2 && cargo run --example provider_ollama
//!
//! `OLLAMA_MODEL` picks the model (default `llama3.2`), `OLLAMA_API_BASE` the server (default
//! `http://localhost:11434`). Without a server this prints what it needs and exits.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use dspy::lm::LM;
use dspy::prelude::*;
use dspy::{JSONAdapter, LmRequest, Message, StreamEvent};
use futures::StreamExt;

/// Answer questions with short factoid answers.
#[derive(Signature)]
struct BasicQA {
    #[input]
    question: String,
    #[output(desc = "often between 1 and 5 words")]
    answer: String,
}

/// Whether something listens at `base` (`http://host:port`).
fn reachable(base: &str) -> bool {
    let hostport = base.trim_start_matches("http://").trim_start_matches("https://").split('/').next().unwrap_or_default();
    hostport
        .to_socket_addrs()
        .map(|mut addrs| addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok()))
        .unwrap_or(false)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("OLLAMA_API_BASE").unwrap_or_else(|_| "http://localhost:11434".into());
    if !reachable(&base) {
        println!("provider_ollama needs a running Ollama server at {base}:");
        println!("  ollama serve & ollama pull llama3.2 && cargo run --example provider_ollama");
        println!("  (optional: OLLAMA_MODEL=qwen3, OLLAMA_API_BASE=http://host:11434)");
        return Ok(());
    }
    let model = format!("ollama_chat/{}", std::env::var("OLLAMA_MODEL").unwrap_or_else(|_| "llama3.2".into()));
    let lm = LM::builder(&model).api_base(&base).temperature(0.0).build()?;

    // JSONAdapter + Ollama: the output schema goes in `format`, so decoding follows it.
    let qa = Predict::<BasicQA>::new().with_lm(Arc::new(lm.clone())).with_adapter(Arc::new(JSONAdapter::new()));
    let (out, used) = dspy::usage::track(qa.call(BasicQAInput { question: "What is the capital of Japan?".into() })).await;
    println!("answer: {}", out?.answer);
    print!("usage: {used}");

    print!("stream: ");
    let mut stream = lm.stream(LmRequest { messages: vec![Message::user("Say hello in French.")], ..Default::default() }).await?;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta(text) => print!("{text}"),
            StreamEvent::Done(r) => println!("\n  [{} tokens]", r.usage.total_tokens),
        }
    }
    dspy::inspect_history(1);
    Ok(())
}
