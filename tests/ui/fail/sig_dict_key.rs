use dspy::prelude::*;

fn main() {
    let _ = signature!("text -> counts: dict[int, str]");
}
