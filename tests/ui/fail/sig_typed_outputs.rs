use dspy::prelude::*;

fn main() {
    let qa = Predict::typed(signature!("question -> answer: bool"));
    let out = qa.call_blocking(("Is water wet?",)).unwrap();
    let _: String = out.answer;
    let _ = out.reasoning;
}
