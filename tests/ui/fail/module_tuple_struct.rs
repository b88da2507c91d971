use dspy::prelude::*;

#[module]
struct Program(ChainOfThought);

fn main() {}
