use dspy::prelude::*;

#[derive(Signature)]
struct QA {
    #[input]
    #[output]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
