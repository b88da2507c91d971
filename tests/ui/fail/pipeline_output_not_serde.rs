use dspy::prelude::*;

/// Summarize the text.
#[derive(Signature)]
struct Summarize {
    #[input]
    text: String,
    #[output]
    summary: String,
}

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

fn main() {}
