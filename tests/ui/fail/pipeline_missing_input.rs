use dspy::prelude::*;

/// Answer the question from the context.
#[derive(Signature)]
struct GenerateAnswer {
    #[input]
    context: Vec<String>,
    #[input]
    question: String,
    #[output]
    answer: String,
}

async fn run(question: String) -> Result<String> {
    let generate = ChainOfThought::<GenerateAnswer>::new();
    let out = generate.call(GenerateAnswerInput { question }).await?;
    Ok(out.answer.clone())
}

fn main() {
    let _ = run;
}
