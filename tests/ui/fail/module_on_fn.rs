use dspy::prelude::*;

#[module]
fn forward() {}

fn main() {}
