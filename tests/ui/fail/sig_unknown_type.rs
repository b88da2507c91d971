use dspy::prelude::*;

fn main() {
    let _ = signature!("claim -> verdict: Verdikt");
}
