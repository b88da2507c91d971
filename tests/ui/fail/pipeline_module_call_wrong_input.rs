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
        let out = self.summarize.call(SummarizeInput { text }).await?;
        Ok(Report { summary: out.summary.clone() })
    }
}

async fn run(pipeline: &Pipeline) -> Result<String> {
    let report = pipeline.call(SummarizeInput { text: "a long text".into() }).await?;
    Ok(report.summary.clone())
}

fn main() {
    let _ = run;
}
