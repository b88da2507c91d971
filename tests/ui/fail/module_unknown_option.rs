use dspy::prelude::*;

#[module(clone = false)]
struct Program {
    qa: ChainOfThought,
}

fn main() {}
