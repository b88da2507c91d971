//! Retrieval-augmented generation: embed a corpus, retrieve with `Retrieve` (the retriever
//! configured with `dspy::configure`), answer with ChainOfThought, evaluate on a devset.
//!
//!     cargo run --example rag
//!
//! Runs on DummyLM and a hashing embedder with no key; set `DSPY_LM` for a real model and
//! `DSPY_EMBEDDER` (e.g. `text-embedding-3-small`) for real embeddings.

mod common;

use std::sync::Arc;

use dspy::evaluate::answer_exact_match;
use dspy::prelude::*;
use serde_json::json;

signature! {
    /// Answer questions with short factoid answers.
    pub GenerateAnswer = "context: list[str], question -> answer"
}

#[module]
struct Rag {
    retrieve: Retrieve,
    generate_answer: ChainOfThought<GenerateAnswer>,
}

#[module]
impl Rag {
    async fn forward(&self, question: String) -> Result<Prediction> {
        let context = self.retrieve.call(&question).await?;
        let mut out = self.generate_answer.call((context.clone(), question)).await?.prediction().clone();
        out.insert("context", json!(context));
        Ok(out)
    }
}

const CORPUS: &[&str] = &[
    "The Eiffel Tower is a wrought-iron tower in Paris, completed in 1889.",
    "Mount Everest is Earth's highest mountain above sea level, in the Himalayas.",
    "The Great Barrier Reef is the world's largest coral reef system, off Queensland, Australia.",
    "Ada Lovelace wrote the first published algorithm for Charles Babbage's Analytical Engine.",
    "The Rust programming language guarantees memory safety without a garbage collector.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
];

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (lm, dummy) = common::examples_lm(vec![
        ("## ]]\nWhen was the Eiffel Tower completed?", json!({"reasoning": "The passage says 1889.", "answer": "1889"})),
        ("## ]]\nWho wrote the first published algorithm?", json!({"reasoning": "The passage names Ada Lovelace.", "answer": "Ada Lovelace"})),
        ("## ]]\nWhat is the highest mountain", json!({"reasoning": "The passage says Everest.", "answer": "Mount Everest"})),
    ])?;
    let corpus: Vec<String> = CORPUS.iter().map(|s| s.to_string()).collect();
    let rm = Embeddings::new(corpus, common::examples_embedder(), 2).await?;
    dspy::configure(Settings::new().lm(lm).rm(Arc::new(rm)));

    let rag = Rag { retrieve: Retrieve::new(2), generate_answer: ChainOfThought::new() };
    let out = rag.forward("When was the Eiffel Tower completed?".into()).await?;
    println!("== one question\ncontext: {}\nanswer: {}", out.get("context").unwrap_or(&json!(null)), out.get("answer").unwrap_or(&json!(null)));

    let devset: Vec<Example> = [
        ("When was the Eiffel Tower completed?", "1889"),
        ("Who wrote the first published algorithm?", "Ada Lovelace"),
        ("What is the highest mountain above sea level?", "Mount Everest"),
    ]
    .iter()
    .map(|(q, a)| Example::new().with("question", *q).with("answer", *a).with_inputs(["question"]))
    .collect();
    let result = Evaluate::new(devset, answer_exact_match).num_threads(3).display_progress(true).display_table(3).run(&rag).await?;
    println!("== score: {}%", result.score);
    common::print_calls(&dummy, "prompts");
    Ok(())
}
