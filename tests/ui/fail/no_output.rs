use dspy::prelude::*;

#[derive(Signature)]
struct OnlyInputs {
    #[input]
    question: String,
}

#[derive(Signature)]
struct Empty {}

fn main() {}
