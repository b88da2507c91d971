use dspy::prelude::*;

#[derive(Signature)]
struct QA {
    #[input]
    question: String,
    context: Vec<String>,
    #[output]
    answer: String,
}

fn main() {}
