//! A self-hosted OpenAI-compatible server (llama.cpp, vLLM, SGLang, LM Studio) through `api_base`.
//!
//!     DSPY_API_BASE=http://127.0.0.1:8765/v1 DSPY_LM=openai/smollm2 cargo run --example provider_local
//!
//! `DSPY_LM` defaults to `openai/local-model` (llama.cpp ignores the name; vLLM and SGLang need
//! the served one). The client sends `max_tokens` (what these servers read), asks for JSON with
//! OpenAI's `json_schema` and, if the server rejects it (llama.cpp does), switches once to
//! `{"type": "json_object", "schema": ...}` and remembers it. Without `DSPY_API_BASE` this
//! prints what it needs and exits.

use std::sync::Arc;

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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(base) = std::env::var("DSPY_API_BASE") else {
        println!("provider_local needs a running OpenAI-compatible server:");
        println!("  DSPY_API_BASE=http://127.0.0.1:8000/v1 DSPY_LM=openai/<served-model> cargo run --example provider_local");
        println!("  (vLLM: `vllm serve <model>` on :8000; SGLang on :30000; llama.cpp `llama-server` on :8080;");
        println!("   this repo's offline model: scripts/serve-local-lm.sh 8765)");
        return Ok(());
    };
    let model = std::env::var("DSPY_LM").unwrap_or_else(|_| "openai/local-model".into());
    let lm = LM::builder(&model).api_base(&base).temperature(0.0).max_tokens(64).cache(false).build()?;
    println!("model {model} at {} (dialect: {:?})", lm.url(), lm.dialect().structured_output);

    // 1. Streaming straight from the LM.
    print!("stream: ");
    let mut stream = lm
        .stream(LmRequest { messages: vec![Message::user("Name three colors.")], ..Default::default() })
        .await?;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta(text) => print!("{text}"),
            StreamEvent::Done(r) => println!("\n  [{} completion tokens, finish: {:?}]", r.usage.completion_tokens, r.outputs[0].finish_reason),
        }
    }

    // 2. A typed predictor with JSON output (structured output, dialect detected on the way).
    let shared: Arc<dyn LanguageModel> = Arc::new(lm.clone());
    let qa = Predict::<BasicQA>::new().with_lm(shared).with_adapter(Arc::new(JSONAdapter::new()));
    let (out, used) = dspy::usage::track(qa.call(BasicQAInput { question: "What is the capital of France?".into() })).await;
    match out {
        Ok(out) => println!("answer: {:?}", out.answer),
        Err(e) => println!("the model's answer did not parse (small models often do this): {e}"),
    }
    println!("structured-output dialect after the call: {:?}", lm.dialect().structured_output);
    print!("usage: {used}");
    dspy::inspect_history(1);
    Ok(())
}
