use dspy::prelude::*;

#[module]
struct Program {
    qa: ChainOfThought,
}

#[module]
impl Program {
    async fn run(&self, question: String) -> Result<Prediction> {
        self.qa.forward(&Example::new().with("question", question)).await
    }
}

fn main() {}
