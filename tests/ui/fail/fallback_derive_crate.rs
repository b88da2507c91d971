// A bad `crate` path is one error; the stand-ins fall back to `::dspy`.
use dspy::prelude::*;

/// Answer the question.
#[derive(Signature)]
#[signature(crate = "not a path!")]
pub struct Ask {
    #[input]
    pub question: String,
    #[output(desc = "short")]
    pub answer: String,
}

fn main() {
    let out: Option<AskOutput> = None;
    let _ = out.map(|o| o.answer);
    let _ = Predict::<Ask>::new().call_blocking(AskInput { question: "2+2?".into() });
}
