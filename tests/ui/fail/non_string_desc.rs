use dspy::prelude::*;

#[derive(Signature)]
struct QA {
    #[input(desc = 42)]
    question: String,
    #[output(prefix = Answer)]
    answer: String,
    #[output = "confidence"]
    confidence: f64,
}

fn main() {}
