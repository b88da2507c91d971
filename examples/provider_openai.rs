//! OpenAI's API: a typed predictor, structured output (strict JSON schema), native tool
//! calling, streaming, usage and cost.
//!
//!     OPENAI_API_KEY=sk-... cargo run --example provider_openai
//!
//! `OPENAI_MODEL` picks the model (default `gpt-4o-mini`). Without a key this prints what it
//! needs and exits.

use std::sync::Arc;

use dspy::lm::LM;
use dspy::prelude::*;
use dspy::{JSONAdapter, LmRequest, Message, StreamEvent, ToolSpec};
use futures::StreamExt;
use serde_json::json;

/// Answer questions with short factoid answers.
#[derive(Signature)]
struct BasicQA {
    #[input]
    question: String,
    #[output(desc = "often between 1 and 5 words")]
    answer: String,
    #[output(desc = "how sure you are, from 0 to 1")]
    confidence: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("OPENAI_API_KEY").is_none() {
        println!("provider_openai needs an OpenAI API key:");
        println!("  OPENAI_API_KEY=sk-... cargo run --example provider_openai");
        println!("  (optional: OPENAI_MODEL=gpt-4o, OPENAI_API_BASE=https://your-gateway/v1)");
        return Ok(());
    }
    let model = format!("openai/{}", std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into()));
    let lm = LM::builder(&model).max_tokens(16_000).build()?;
    println!("{model}: {:?}", lm.capabilities());

    // A typed predictor with the JSON adapter: the request carries a strict json_schema.
    let qa = Predict::<BasicQA>::new().with_lm(Arc::new(lm.clone())).with_adapter(Arc::new(JSONAdapter::new()));
    let (out, used) = dspy::usage::track(qa.call(BasicQAInput { question: "Who wrote Hamlet?".into() })).await;
    let out = out?;
    println!("answer: {} (confidence {})", out.answer, out.confidence);
    print!("usage: {used}");

    // Native tool calling.
    let weather = ToolSpec {
        name: "get_weather".into(),
        description: "Current weather in a city.".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    };
    let r = lm
        .complete(LmRequest { messages: vec![Message::user("What's the weather in Paris?")], tools: vec![weather], ..Default::default() })
        .await?;
    for call in &r.outputs[0].tool_calls {
        println!("tool call: {}({})", call.name, call.args);
    }

    // Streaming.
    print!("stream: ");
    let mut stream = lm.stream(LmRequest { messages: vec![Message::user("Count to five.")], ..Default::default() }).await?;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta(text) => print!("{text}"),
            StreamEvent::Done(r) => println!("\n  [{} tokens, ${:.6}]", r.usage.total_tokens, r.usage.cost.unwrap_or(0.0)),
        }
    }
    dspy::inspect_history(1);
    Ok(())
}
