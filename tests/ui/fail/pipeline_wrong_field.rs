use dspy::prelude::*;

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

async fn run(text: String) -> Result<String> {
    let summarize = Predict::<Summarize>::new();
    let count = Predict::<CountWords>::new();
    let out = count.call(CountWordsInput { text }).await?;
    let summary = summarize.call(SummarizeInput { text: out.summary.clone() }).await?;
    Ok(summary.summary.clone())
}

fn main() {
    let _ = run;
}
