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

/// The program's input: a document (its fields are the inputs).
#[derive(Serialize, Deserialize)]
struct Document {
    text: String,
}

#[module]
struct Pipeline {
    summarize: ChainOfThought<Summarize>,
}

#[module]
impl Pipeline {
    async fn forward(&self, #[flatten] doc: Document) -> Result<Report> {
        let out = self.summarize.call(SummarizeInput { text: doc.text }).await?;
        Ok(Report { summary: out.summary.clone() })
    }
}

async fn run(pipeline: &Pipeline) -> Result<String> {
    // The program takes a `Document`, not its first step's input.
    let report = pipeline.call(SummarizeInput { text: "a long text".into() }).await?;
    Ok(report.summary.clone())
}

fn main() {
    let _ = run;
}
