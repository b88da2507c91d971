//! Assertions and refinement: `Suggest`/`Assert` with backtracking (the failing predictor is
//! re-run with its past output and the feedback), then DSPy 3's `Refine` (advice as hints).
//!
//!     cargo run --example assertions
//!
//! Runs on DummyLM with no key (scripted to fail once, then comply); set `DSPY_LM` for a real model.

mod common;

use dspy::prelude::*;
use serde_json::json;

signature! {
    /// Answer questions with short factoid answers.
    pub Qa = "question -> answer"
}

#[module]
struct ShortQa {
    generate: ChainOfThought<Qa>,
}

#[module]
impl ShortQa {
    async fn forward(&self, question: String) -> Result<Prediction> {
        let out = self.generate.call(question).await?;
        let words = out.answer.split_whitespace().count();
        // Soft: retried with feedback, then accepted anyway.
        Suggest::new(words <= 3, "The answer must be at most 3 words.").check()?;
        // Hard: retried with feedback, then an error.
        Assert::new(!out.answer.trim().is_empty(), "The answer must not be empty.").check()?;
        Ok(out.prediction().clone())
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (lm, recorded) = common::examples_lm(vec![
        // The retry carries the feedback: answer shortly then.
        ("The answer must be at most 3 words.", json!({"reasoning": "Keep it short.", "answer": "Brussels"})),
        ("Capital of Belgium", json!({"reasoning": "Belgium's capital.", "answer": "The capital of Belgium is the city of Brussels"})),
    ])?;
    dspy::configure(Settings::new().lm(lm));

    let program = Backtracking::new(ShortQa { generate: ChainOfThought::new() }).max_backtracks(2);
    let out = Module::forward(&program, &Example::new().with("question", "Capital of Belgium?")).await?;
    println!("== backtracking answer: {}", out.get_str("answer").unwrap_or_default());
    recorded.print_calls("backtracking");

    // Refine: up to 3 attempts; below the threshold the LM gives advice, passed as `hint_`.
    let (lm, recorded) = common::examples_lm(vec![
        ("[[ ## hint_ ## ]]", json!({"answer": "Brussels"})),
        ("[[ ## module_names ## ]]", json!({"discussion": "The answer was a sentence.", "advice": {"self": "Reply with the city name only."}})),
        ("Capital of Belgium", json!({"answer": "It is Brussels, of course"})),
    ])?;
    dspy::configure(Settings::new().lm(lm));
    let one_word = |_: &Example, p: &Prediction| if p.get_str("answer").is_some_and(|a| a.split_whitespace().count() == 1) { 1.0 } else { 0.0 };
    let refine = Refine::new(Predict::<Qa>::new(), 3, one_word, 1.0)
        .program_code("Predict(\"question -> answer\")")
        .reward_code("1.0 if the answer is one word else 0.0");
    let out = Module::forward(&refine, &Example::new().with("question", "Capital of Belgium?")).await?;
    println!("== refined answer: {}", out.get_str("answer").unwrap_or_default());
    recorded.print_calls("refine");
    Ok(())
}
