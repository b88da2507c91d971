//! Retrieval-augmented generation: embed a corpus, retrieve with `Retrieve` (the retriever
//! configured with `dspy::configure`), answer with ChainOfThought, evaluate on a devset.
//!
//!     cargo run --example rag
//!
//! Runs on DummyLM and a hashing embedder with no key; set `DSPY_LM` for a real model and
//! `DSPY_EMBEDDER` (e.g. `text-embedding-3-small`) for real embeddings.

mod common;

use dspy::evaluate::em_score;
use dspy::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

signature! {
    /// Answer questions with short factoid answers.
    pub GenerateAnswer = "context: list[str], question -> answer";
    /// The whole program's task: its devset rows are `QaExample { question, answer }`.
    pub Qa = "question -> answer"
}

/// What the program returns: the passages it read, its reasoning and its answer.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    context: Vec<String>,
    reasoning: String,
    answer: String,
}

#[module]
struct Rag {
    retrieve: Retrieve,
    generate_answer: ChainOfThought<GenerateAnswer>,
}

#[module]
impl Rag {
    async fn forward(&self, question: String) -> Result<Answer> {
        let context = self.retrieve.call(&question).await?;
        let out = self.generate_answer.call((context.clone(), question)).await?.into_inner();
        Ok(Answer { context, reasoning: out.reasoning, answer: out.output.answer })
    }
}

const CORPUS: [&str; 6] = [
    "The Eiffel Tower is a wrought-iron tower in Paris, completed in 1889.",
    "Mount Everest is Earth's highest mountain above sea level, in the Himalayas.",
    "The Great Barrier Reef is the world's largest coral reef system, off Queensland, Australia.",
    "Ada Lovelace wrote the first published algorithm for Charles Babbage's Analytical Engine.",
    "The Rust programming language guarantees memory safety without a garbage collector.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
];

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (lm, recorded) = common::examples_lm(vec![
        ("## ]]\nWhen was the Eiffel Tower completed?", json!({"reasoning": "The passage says 1889.", "answer": "1889"})),
        ("## ]]\nWho wrote the first published algorithm?", json!({"reasoning": "The passage names Ada Lovelace.", "answer": "Ada Lovelace"})),
        ("## ]]\nWhat is the highest mountain", json!({"reasoning": "The passage says Everest.", "answer": "Mount Everest"})),
    ])?;
    let rm = Embeddings::new(CORPUS, common::examples_embedder(), 2).await?;
    dspy::configure(Settings::new().lm(lm).rm(rm));

    let rag = Rag { retrieve: Retrieve::new(2), generate_answer: ChainOfThought::new() };
    let out = rag.call("When was the Eiffel Tower completed?").await?;
    println!("== one question\ncontext: {:?}\nreasoning: {}\nanswer: {}", out.context, out.reasoning, out.answer);

    let devset = [
        ("When was the Eiffel Tower completed?", "1889"),
        ("Who wrote the first published algorithm?", "Ada Lovelace"),
        ("What is the highest mountain above sea level?", "Mount Everest"),
    ]
    .map(|(question, answer)| QaExample { question: question.into(), answer: answer.into() });
    // A typed metric: the gold row and the program's own output (DSPy's answer_exact_match).
    let exact_answer = |gold: &QaExample, pred: &Answer| em_score(&pred.answer, &gold.answer);
    let result = Evaluate::new(devset, exact_answer).num_threads(3).display_progress(true).display_table(3).run(&rag).await?;
    println!("== score: {}%", result.score);
    recorded.print_calls("prompts");
    Ok(())
}
