use dspy::prelude::*;
use serde::{Deserialize, Serialize};

/// Summarize the text.
#[derive(Signature)]
struct Summarize {
    #[input]
    text: String,
    #[output]
    summary: String,
}

#[derive(Serialize, Deserialize)]
struct Report {
    summary: String,
}

#[module]
struct Pipeline {
    summarize: ChainOfThought<Summarize>,
}

#[module]
impl Pipeline {
    async fn forward(&self, text: String) -> Result<Report> {
        self.summarize.call(SummarizeInput { text }).await
    }
}

fn main() {}
