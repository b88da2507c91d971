//! Multi-hop question answering: generate a search query, retrieve, answer; the program's
//! state saves to and loads from DSPy's JSON format (also files saved by Python DSPy).
//!
//!     cargo run --example multihop
//!
//! Runs on DummyLM with no key; set `DSPY_LM` for a real model.

mod common;

use dspy::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

signature! {
    /// Write one precise search query that would find the missing fact.
    pub GenerateQuery = "context: list[str], question -> search_query"
}
signature! { pub GenerateAnswer = "context: list[str], question -> answer" }

/// What the program returns: the passages it gathered over its hops, and its answer.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    context: Vec<String>,
    answer: String,
}

#[module]
struct MultiHop {
    generate_query: ChainOfThought<GenerateQuery>,
    generate_answer: ChainOfThought<GenerateAnswer>,
    retrieve: Retrieve,
    #[skip]
    hops: usize,
}

#[module]
impl MultiHop {
    fn new(hops: usize) -> Self {
        MultiHop { generate_query: ChainOfThought::new(), generate_answer: ChainOfThought::new(), retrieve: Retrieve::new(2), hops }
    }

    async fn forward(&self, question: String) -> Result<Answer> {
        let mut context = Vec::new();
        for _ in 0..self.hops {
            let query = self.generate_query.call((context.clone(), question.clone())).await?;
            for passage in self.retrieve.call(&query.search_query).await? {
                if !context.contains(&passage) {
                    context.push(passage);
                }
            }
        }
        let out = self.generate_answer.call((context.clone(), question)).await?;
        Ok(Answer { context, answer: out.answer.clone() })
    }
}

const CORPUS: [&str; 4] = [
    "Titanic won the Academy Award for Best Picture in 1998.",
    "Titanic (1997) was written and directed by James Cameron.",
    "James Cameron was born in Kapuskasing, Ontario, Canada.",
    "The Godfather won Best Picture in 1973.",
];

#[tokio::main]
async fn main() {
    common::exit_on_error(run().await);
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (lm, recorded) = common::examples_lm(vec![
        ("[[ ## search_query ## ]]`, and then", json!({"reasoning": "Find the film, then its director.", "search_query": "Best Picture 1998 film director"})),
        ("[[ ## answer ## ]]`, and then", json!({"reasoning": "Titanic won; Cameron directed it.", "answer": "James Cameron"})),
    ])?;
    let rm = Embeddings::new(CORPUS, common::examples_embedder(), 2).await?;
    dspy::configure(Settings::new().lm(lm).rm(rm));

    let mut program = MultiHop::new(2);
    println!("== predictors: {:?}", program.named_predictors().into_iter().map(|(n, _)| n).collect::<Vec<_>>());

    let out = program.call("Who directed the film that won Best Picture in 1998?").await?;
    println!("== answer: {} (from {} passages)", out.answer, out.context.len());

    // Optimizers change instructions and demos; the state round-trips through DSPy's format.
    let demo = GenerateAnswerExample { context: vec![], question: "Largest planet?".into(), answer: "Jupiter".into() };
    program.generate_answer.predict.set_demos(vec![demo.to_example()]);
    let path = std::env::temp_dir().join(format!("multihop-{}.json", std::process::id()));
    program.save(&path)?;
    let mut reloaded = MultiHop::new(2);
    reloaded.load(&path)?;
    println!("== saved to {} and reloaded: {} demo(s) on generate_answer", path.display(), reloaded.generate_answer.predict.demos().len());
    std::fs::remove_file(&path).ok();

    // A program optimized by Python DSPy loads the same way.
    // (`tests/data/interop/multihop.json` was saved by DSPy 3.4.1's `program.save(...)`.)
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/interop/multihop.json");
    reloaded.load(&python)?;
    println!("== loaded Python DSPy's {}: instructions now {:?}", python.display(), reloaded.generate_query.predict.signature().instructions());
    recorded.print_calls("prompts");
    Ok(())
}
