use dspy::prelude::*;

#[module]
struct Program {
    qa: ChainOfThought,
}

#[module]
impl Program {
    async fn forward(&mut self, question: &str, (a, b): (String, String), c: impl Into<String>) {
        let _ = (question, a, b, c.into());
    }
}

fn main() {}
