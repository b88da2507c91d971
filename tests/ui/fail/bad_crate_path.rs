use dspy::prelude::*;

#[derive(Signature)]
#[signature(crate = "not a path!")]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
