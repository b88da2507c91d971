// A bad type in a string signature is one error: the item's stand-ins keep the fields that
// resolved and the conversions of its (complete) inputs.
use dspy::prelude::*;

signature! {
    /// Check the claim.
    pub Check = "claim -> verdict: bool, score: int | str"
}

fn main() {
    let input: CheckInput = "The sky is green.".into();
    let predict = Predict::<Check>::new();
    let _ = predict.call_blocking(input).map(|out| out.verdict);
    let _ = |o: CheckOutput| -> bool { o.verdict };
    let _ = Check::signature().name();
}
