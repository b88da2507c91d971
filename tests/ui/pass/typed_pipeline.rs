//! A correct two-step typed pipeline: a `#[module]` with a typed `forward` wires one step's
//! typed output into the next step's typed input, a typed metric scores the module's typed
//! output, and the same metric drives `Evaluate` and an optimizer's `compile`. Runs on a
//! `DummyLM` (no network).

use dspy::optimizers::{LabeledFewShot, Optimizer};
use dspy::prelude::*;
use serde::{Deserialize, Serialize};

/// Write a search query for the question.
#[derive(Signature)]
struct WriteQuery {
    #[input]
    question: String,
    #[output]
    query: String,
}

/// Answer the question using the search query.
#[derive(Signature)]
struct AnswerQuestion {
    #[input]
    question: String,
    #[input]
    query: String,
    #[output]
    answer: String,
}

/// The pipeline's typed output.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    query: String,
    answer: String,
}

#[module]
struct TwoStep {
    write_query: Predict<WriteQuery>,
    answer: ChainOfThought<AnswerQuestion>,
}

#[module]
impl TwoStep {
    async fn forward(&self, question: String) -> Result<Answer> {
        let query = self.write_query.call(WriteQueryInput { question: question.clone() }).await?;
        let out = self.answer.call(AnswerQuestionInput { question, query: query.query.clone() }).await?;
        Ok(Answer { query: query.query.clone(), answer: out.answer.clone() })
    }
}

/// The dataset rows: the question and its gold answer.
#[derive(Clone, Serialize, Deserialize)]
struct QaExample {
    question: String,
    answer: String,
}

impl TypedExample for QaExample {
    fn to_example(&self) -> Example {
        dspy::typed_example(self, &["question"])
    }
}

fn main() {
    let lm = DummyLM::new(vec![
        serde_json::json!({"query": "capital of France"}),
        serde_json::json!({"reasoning": "Paris is the capital.", "answer": "Paris"}),
    ]);
    let program = TwoStep { write_query: Predict::new(), answer: ChainOfThought::new() }.with_lm(lm);
    let devset = vec![QaExample { question: "What is the capital of France?".into(), answer: "Paris".into() }];
    let trainset = devset.clone();
    let metric = |gold: &QaExample, pred: &Answer| gold.answer == pred.answer;

    dspy::block_on(async {
        let result = Evaluate::new(devset, metric).run(&program).await.unwrap();
        assert_eq!(result.score, 100.0);

        let compiled = LabeledFewShot::new(1).compile(&program, &trainset, metric).await.unwrap();
        let compiled: TwoStep = compiled.program;
        assert_eq!(compiled.named_predictors().len(), 2);
    });
}
