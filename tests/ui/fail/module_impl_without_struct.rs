use dspy::prelude::*;

struct Program {
    qa: ChainOfThought,
}

#[module]
impl Program {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.qa.forward(inputs).await
    }
}

fn main() {}
