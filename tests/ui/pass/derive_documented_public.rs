//! A library crate with `missing_docs` denied: the generated items are documented, and a
//! signature used only as a type parameter raises no warning.
#![deny(missing_docs, warnings)]

use dspy::prelude::*;

/// Answer questions with short factoid answers.
#[derive(Signature)]
pub struct BasicQA {
    /// The question.
    #[input]
    pub question: String,
    /// The answer (documented for rustdoc; `desc` is what prompts show).
    #[output(desc = "often between 1 and 5 words")]
    pub answer: String,
}

/// A predictor for [`BasicQA`].
pub fn qa() -> Predict<BasicQA> {
    Predict::new()
}

signature! {
    /// Say whether the claim holds.
    pub Check = "claim -> holds: bool"
}

signature! {
    pub Undocumented = "a -> b"
}

fn main() {
    let _ = qa();
    let _ = Predict::<Check>::new();
    let _ = Predict::typed(Undocumented);
}
