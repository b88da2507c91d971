//! A documented public program with nested modules, containers, a skipped field and a typed
//! `forward`: it compiles without warnings under `#![deny(missing_docs)]`.
#![deny(missing_docs)]

use dspy::prelude::*;

signature! {
    /// Write a search query.
    pub GenerateQuery = "context: list[str], question -> search_query"
}
signature! {
    /// Answer the question.
    pub GenerateAnswer = "context: list[str], question -> answer"
}

/// Multi-hop question answering.
#[module]
pub struct MultiHop {
    /// One query writer per hop.
    pub hops: Vec<ChainOfThought<GenerateQuery>>,
    /// The answerer.
    pub generate_answer: ChainOfThought<GenerateAnswer>,
    /// An optional checker.
    pub check: Option<Predict>,
    /// The retriever.
    pub retrieve: Retrieve,
    /// Not a module.
    #[skip]
    pub max_passages: usize,
}

#[module]
impl MultiHop {
    /// Runs the hops, then answers.
    pub async fn forward(&self, question: String) -> Result<Predicted<dspy::Reasoned<GenerateAnswerOutput>>> {
        let mut context = Vec::new();
        for hop in &self.hops {
            let query = hop.call((context.clone(), question.clone())).await?;
            context.extend(self.retrieve.call(&query.search_query).await?);
            context.truncate(self.max_passages);
        }
        self.generate_answer.call((context, question)).await
    }
}

fn main() {
    let program = MultiHop {
        hops: vec![ChainOfThought::new(), ChainOfThought::new()],
        generate_answer: ChainOfThought::new(),
        check: None,
        retrieve: Retrieve::new(3),
        max_passages: 5,
    };
    let copy: MultiHop = program.clone();
    assert_eq!(copy.named_predictors().len(), 3);
}
