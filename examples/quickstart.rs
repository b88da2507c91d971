//! Quickstart: a typed signature, one prediction, the exact prompt that was sent.
//!
//!     cargo run --example quickstart
//!
//! With no configuration this runs on the built-in `DummyLM` (no key, no network) and says so.
//! Set `DSPY_LM=provider/model` (and optionally `DSPY_API_BASE`) to use a real model.

mod common;

use dspy::prelude::*;
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

fn main() {
    common::exit_on_error(run());
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (lm, recorded) = common::examples_lm(vec![("Hamlet", json!({"answer": "William Shakespeare", "confidence": 0.95}))])?;
    dspy::configure(Settings::new().lm(lm));

    let qa = Predict::<BasicQA>::new();
    let out = qa.call_blocking(BasicQAInput { question: "Who wrote Hamlet?".into() })?;

    if let Some(dummy) = recorded.dummy() {
        let history = dummy.history();
        let call = &history[0];
        println!("== prompt sent to the LM");
        for message in &call.messages {
            println!("--- {:?}\n{}", message.role, message.content.text());
        }
        println!("--- completion\n{}", call.outputs[0]);
    } else {
        println!("== the last LM call");
        dspy::inspect_history(1);
    }
    println!("== typed result");
    println!("answer: {:?} (String)", out.answer);
    println!("confidence: {} (f64)", out.confidence);
    Ok(())
}
