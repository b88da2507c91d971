use dspy::prelude::*;

#[derive(Signature)]
struct QA(#[input] String, #[output] String);

fn main() {}
