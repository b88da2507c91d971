use dspy::prelude::*;

#[derive(Signature)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
    #[output(rename = "answer")]
    short_answer: String,
}

fn main() {}
