use dspy::prelude::*;

#[module]
struct Program {
    qa: ChainOfThought,
    #[skip(always)]
    k: usize,
}

fn main() {}
