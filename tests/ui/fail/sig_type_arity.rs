use dspy::prelude::*;

fn main() {
    let _ = signature!("text -> tags: list[str, int]");
    let _ = signature!("text -> score: float[int]");
    let _ = signature!("text -> score: 'high'");
}
