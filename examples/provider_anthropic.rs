//! Anthropic's Messages API: a typed predictor (system prompt split out, `max_tokens` sent),
//! streaming, usage and cost.
//!
//!     ANTHROPIC_API_KEY=sk-ant-... cargo run --example provider_anthropic
//!
//! `ANTHROPIC_MODEL` picks the model (default `claude-haiku-4-5`). Without a key this prints
//! what it needs and exits.

use std::sync::Arc;

use dspy::lm::LM;
use dspy::prelude::*;
use dspy::{LmRequest, Message, StreamEvent};
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
    if std::env::var_os("ANTHROPIC_API_KEY").is_none() {
        println!("provider_anthropic needs an Anthropic API key:");
        println!("  ANTHROPIC_API_KEY=sk-ant-... cargo run --example provider_anthropic");
        println!("  (optional: ANTHROPIC_MODEL=claude-sonnet-4-5)");
        return Ok(());
    }
    let model = format!("anthropic/{}", std::env::var("ANTHROPIC_MODEL").unwrap_or_else(|_| "claude-haiku-4-5".into()));
    let lm = LM::builder(&model).max_tokens(1024).build()?;

    let qa = Predict::<BasicQA>::new().with_lm(Arc::new(lm.clone()));
    let (out, used) = dspy::usage::track(qa.call(BasicQAInput { question: "What is the largest moon of Saturn?".into() })).await;
    println!("answer: {}", out?.answer);
    print!("usage: {used}");

    print!("stream: ");
    let mut stream = lm.stream(LmRequest { messages: vec![Message::user("Name three rivers, comma-separated.")], ..Default::default() }).await?;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta(text) => print!("{text}"),
            StreamEvent::Done(r) => println!("\n  [{} tokens, ${:.6}]", r.usage.total_tokens, r.usage.cost.unwrap_or(0.0)),
        }
    }
    dspy::inspect_history(1);
    Ok(())
}
