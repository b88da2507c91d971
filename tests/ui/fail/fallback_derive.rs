// One bad attribute gives one error: the generated `QAInput`, `QAOutput` and the
// `TypedSignature` impl still exist (as stand-ins), so the uses below add no errors.
use dspy::prelude::*;

#[derive(Signature)]
struct QA {
    #[input(descr = "the question")]
    question: String,
    #[output]
    answer: String,
}

fn main() {
    let input = QAInput { question: "Why?".into() };
    let predict = Predict::<QA>::new();
    let _ = predict.call_blocking(input).map(|out: Predicted<QAOutput>| out.answer.clone());
    let _ = QA::signature().instructions();
    let _: Example = QA { question: "Why?".into(), answer: "Because.".into() }.into();
}
