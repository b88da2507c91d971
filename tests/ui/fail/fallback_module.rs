// A bad `#[module]` option is one error: the struct, its predictor walk and `Clone` remain, so
// the `impl` block's `Module` impl and the uses below compile.
use dspy::prelude::*;

signature! { pub Answer = "question -> answer" }

#[module(clone = false)]
struct Qa {
    qa: ChainOfThought<Answer>,
}

#[module]
impl Qa {
    async fn forward(&self, question: String) -> Result<Prediction> {
        Ok(self.qa.call(question).await?.prediction().clone())
    }
}

fn main() {
    let program = Qa { qa: ChainOfThought::new() };
    let copy = program.clone();
    let _ = copy.named_predictors();
}
