use dspy::prelude::*;

fn main() {
    let _ = signature!("context: list[str, question -> answer");
}
