use dspy::prelude::*;

const QA: &str = "question -> answer";

fn main() {
    let _ = signature!(QA);
    let _ = signature!(42);
    let _ = signature!(concat!("question", " -> answer"));
}
