use dspy::prelude::*;

#[derive(Signature)]
struct Nothing;

fn main() {}
