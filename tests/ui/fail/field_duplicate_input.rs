use dspy::prelude::*;

#[derive(Signature)]
struct QA {
    #[input]
    #[input(desc = "the question")]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
