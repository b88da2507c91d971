use dspy::prelude::*;

#[derive(Signature)]
enum Verdict {
    Supported,
    Refuted,
}

fn main() {}
