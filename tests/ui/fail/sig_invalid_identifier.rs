use dspy::prelude::*;

fn main() {
    let _ = signature!("self -> answer");
    let _ = signature!("question -> 2answer");
    let _ = signature!("class -> answer");
}
