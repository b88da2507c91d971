use dspy::prelude::*;

fn main() {
    let _ = signature!("question answer");
}
