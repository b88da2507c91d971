use dspy::prelude::*;

#[module]
struct Program {
    qa: ChainOfThought,
}

#[module]
impl Clone2 for Program {}

trait Clone2 {}

fn main() {}
