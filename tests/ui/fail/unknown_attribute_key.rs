use dspy::prelude::*;

#[derive(Signature)]
struct QA {
    #[input(descr = "the question")]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
