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
    let count = Predict::<CountWords>::new();
    let next = Predict::<Summarize>::new();
    let out = count.call(CountWordsInput { text }).await?;
    let summary = next.call(SummarizeInput { text: out.count }).await?;
    Ok(summary.summary.clone())
}

fn main() {
    let _ = run;
}
