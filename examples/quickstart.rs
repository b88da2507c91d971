//! Quickstart: a typed signature, one prediction, the exact prompt that was sent.
//!
//!     cargo run --example quickstart
//!
//! With no configuration this runs on the built-in `DummyLM` (no key, no network) and says so.
//! Set `DSPY_LM=provider/model` (and optionally `DSPY_API_BASE`) to use a real model.

use std::sync::Arc;

use dspy::prelude::*;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (lm, dummy) = examples_lm()?;
    dspy::configure(Settings::new().lm(lm.clone()));

    let qa = Predict::<BasicQA>::new();
    let out = qa.call_blocking(BasicQAInput { question: "Who wrote Hamlet?".into() })?;

    if let Some(dummy) = dummy {
        println!("== prompt sent to the LM");
        for message in &dummy.history()[0].messages {
            println!("--- {:?}\n{}", message.role, message.content.text());
        }
        println!("--- completion\n{}", dummy.history()[0].outputs[0]);
    } else {
        println!("== the last LM call");
        dspy::inspect_history(1);
    }
    println!("== typed result");
    println!("answer: {:?} (String)", out.answer);
    println!("confidence: {} (f64)", out.confidence);
    Ok(())
}

/// The LM to use, and the DummyLM again when that is what it is (to show its history).
type ExampleLm = (Arc<dyn LanguageModel>, Option<Arc<DummyLM>>);

/// The LM named by `DSPY_LM` (with `DSPY_API_BASE` / `DSPY_API_KEY` when set), else the
/// built-in DummyLM with a scripted answer.
fn examples_lm() -> Result<ExampleLm, Box<dyn std::error::Error>> {
    if std::env::var_os("DSPY_LM").is_some() {
        let lm = LM::from_env()?;
        println!("Using {} at {} (from DSPY_LM).", lm.model(), lm.url());
        return Ok((Arc::new(lm), None));
    }
    println!("DSPY_LM is not set: using the built-in DummyLM (no API key, no network).");
    let dummy = Arc::new(DummyLM::new(vec![serde_json::json!({"answer": "William Shakespeare", "confidence": 0.95})]));
    Ok((dummy.clone(), Some(dummy)))
}
