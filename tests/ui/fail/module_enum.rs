use dspy::prelude::*;

#[module]
enum Program {
    A,
}

fn main() {}
