use dspy::prelude::*;
use serde::{Deserialize, Serialize};

/// Count the words of the text.
#[derive(Signature)]
struct CountWords {
    #[input]
    text: String,
    #[output]
    count: i64,
}

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
    words: i64,
}

#[module]
struct Pipeline {
    count: Predict<CountWords>,
    summarize: ChainOfThought<Summarize>,
}

#[module]
impl Pipeline {
    async fn forward(&self, text: String) -> Result<Report> {
        let words = self.count.call(CountWordsInput { text: text.clone() }).await?;
        let summary = self.summarize.call(SummarizeInput { text }).await?;
        Ok(Report { summary: words.count, words: summary.summary.split_whitespace().count() as i64 })
    }
}

fn main() {}
