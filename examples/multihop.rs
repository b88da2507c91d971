//! Multi-hop question answering: generate a search query, retrieve, answer; the program's
//! state saves to and loads from DSPy's JSON format (also files saved by Python DSPy).
//!
//!     cargo run --example multihop
//!
//! Runs on DummyLM with no key; set `DSPY_LM` for a real model.

mod common;

use std::sync::Arc;

use dspy::prelude::*;
use serde_json::json;

signature! {
    /// Write one precise search query that would find the missing fact.
    pub GenerateQuery = "context: list[str], question -> search_query"
}
signature! { pub GenerateAnswer = "context: list[str], question -> answer" }

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
    async fn forward(&self, question: String, context: Option<Vec<String>>) -> Result<Prediction> {
        let mut context = context.unwrap_or_default();
        for _ in 0..self.hops {
            let query = self.generate_query.call((context.clone(), question.clone())).await?;
            for passage in self.retrieve.call(&query.search_query).await? {
                if !context.contains(&passage) {
                    context.push(passage);
                }
            }
        }
        Ok(self.generate_answer.call((context, question)).await?.prediction().clone())
    }
}

const CORPUS: &[&str] = &[
    "Titanic won the Academy Award for Best Picture in 1998.",
    "Titanic (1997) was written and directed by James Cameron.",
    "James Cameron was born in Kapuskasing, Ontario, Canada.",
    "The Godfather won Best Picture in 1973.",
];

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (lm, dummy) = common::examples_lm(vec![
        ("[[ ## search_query ## ]]`, and then", json!({"reasoning": "Find the film, then its director.", "search_query": "Best Picture 1998 film director"})),
        ("[[ ## answer ## ]]`, and then", json!({"reasoning": "Titanic won; Cameron directed it.", "answer": "James Cameron"})),
    ])?;
    let corpus: Vec<String> = CORPUS.iter().map(|s| s.to_string()).collect();
    let rm = Embeddings::new(corpus, common::examples_embedder(), 2).await?;
    dspy::configure(Settings::new().lm(lm).rm(Arc::new(rm)));

    let mut program = MultiHop { generate_query: ChainOfThought::new(), generate_answer: ChainOfThought::new(), retrieve: Retrieve::new(2), hops: 2 };
    println!("== predictors: {:?}", program.named_predictors().into_iter().map(|(n, _)| n).collect::<Vec<_>>());

    let question = "Who directed the film that won Best Picture in 1998?";
    let out = program.forward(question.into(), None).await?;
    println!("== answer: {}", out.get_str("answer").unwrap_or_default());

    // Optimizers change instructions and demos; the state round-trips through DSPy's format.
    if let Some(p) = program.predictor_mut("generate_answer.predict") {
        p.set_demos(vec![Example::new().with("question", "Largest planet?").with("answer", "Jupiter")]);
    }
    let path = std::env::temp_dir().join(format!("multihop-{}.json", std::process::id()));
    program.save(&path)?;
    let mut reloaded = MultiHop { generate_query: ChainOfThought::new(), generate_answer: ChainOfThought::new(), retrieve: Retrieve::new(2), hops: 2 };
    reloaded.load(&path)?;
    println!("== saved to {} and reloaded: {} demo(s) on generate_answer", path.display(), reloaded.generate_answer.predict.demos().len());
    std::fs::remove_file(&path).ok();

    // A program optimized by Python DSPy loads the same way.
    // (`tests/data/interop/multihop.json` was saved by DSPy 3.4.1's `program.save(...)`.)
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/interop/multihop.json");
    reloaded.load(&python)?;
    println!("== loaded Python DSPy's {}: instructions now {:?}", python.display(), reloaded.generate_query.predict.signature().instructions());
    common::print_calls(&dummy, "prompts");
    Ok(())
}
