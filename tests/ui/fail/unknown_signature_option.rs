use dspy::prelude::*;

#[derive(Signature)]
#[signature(krate = "::dspy")]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[derive(Signature)]
struct Renamed {
    #[input]
    question: String,
    #[output(rename = " ")]
    answer: String,
}

fn main() {}
