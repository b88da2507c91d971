//! What the module examples share: the LM selection of `quickstart` and a toy embedder.
#![allow(dead_code)] // each example uses a part

use std::sync::Arc;

use dspy::prelude::*;
use dspy::retrieve::{Embedder, FnEmbedder, OpenAIEmbedder};

/// The LM named by `DSPY_LM` (with `DSPY_API_BASE` / `DSPY_API_KEY` when set), else a
/// DummyLM answering with `script` (first entry whose key occurs in the last message).
///
/// Returns the model, to pass by value (`Settings::new().lm(lm)`, `.with_lm(lm)`), and a
/// handle on the DummyLM when that is what runs, to show what it was sent.
pub fn examples_lm(script: Vec<(&str, serde_json::Value)>) -> Result<(impl LanguageModel + Clone + 'static, Recorded), dspy::LmError> {
    if std::env::var_os("DSPY_LM").is_some() {
        let lm = LM::from_env()?;
        println!("Using {} at {} (from DSPY_LM).", lm.model(), lm.url());
        return Ok((Arc::new(lm) as Arc<dyn LanguageModel>, Recorded(None)));
    }
    println!("DSPY_LM is not set: using the built-in DummyLM with scripted answers (no API key, no network).");
    // Shared (one `Arc`, here only): the examples hand the model over by value and still read
    // the DummyLM's history afterwards.
    let dummy = Arc::new(DummyLM::by_substring(script.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    Ok((dummy.clone() as Arc<dyn LanguageModel>, Recorded(Some(dummy))))
}

/// The DummyLM the examples run on without `DSPY_LM` (nothing with a real model).
pub struct Recorded(Option<Arc<DummyLM>>);

impl Recorded {
    /// The DummyLM, when no real model is used.
    pub fn dummy(&self) -> Option<&DummyLM> {
        self.0.as_deref()
    }

    /// Prints the last user message each recorded call sent (DummyLM only).
    pub fn print_calls(&self, title: &str) {
        if let Some(dummy) = self.dummy() {
            println!("== {title}: {} LM call(s)", dummy.history().len());
            for (i, call) in dummy.history().iter().enumerate() {
                let last = call.messages.last().map(|m| m.content.text()).unwrap_or_default();
                println!("--- call {i}, last message:\n{last}");
            }
        }
    }
}

/// `DSPY_EMBEDDER=model` (an OpenAI-compatible `/v1/embeddings`, with `OPENAI_API_BASE` /
/// `OPENAI_API_KEY`), else a bag-of-words hashing embedder that needs nothing.
pub fn examples_embedder() -> impl Embedder + 'static {
    if let Ok(model) = std::env::var("DSPY_EMBEDDER") {
        println!("Embedding with {model} (from DSPY_EMBEDDER).");
        return Arc::new(OpenAIEmbedder::new(model)) as Arc<dyn Embedder>;
    }
    Arc::new(FnEmbedder::new(|texts: &[String]| Ok(texts.iter().map(|t| hashed_words(t)).collect())))
}

/// Each lower-cased word (longer than 2 letters) adds 1 to one of 64 buckets.
fn hashed_words(text: &str) -> Vec<f32> {
    let mut v = vec![0.0; 64];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2) {
        let h = word.to_lowercase().bytes().fold(5381u64, |h, b| h.wrapping_mul(33) ^ u64::from(b));
        v[(h % 64) as usize] += 1.0;
    }
    v
}

/// Ends an example: on an error, prints its message (`Display`, not a `Debug` dump) and exits
/// with status 1.
pub fn exit_on_error(result: Result<(), Box<dyn std::error::Error>>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
