// The expression form with a bad type is one error: the value still has a `TypedSignature`
// type whose input converts from the tuple of (complete) inputs.
use dspy::prelude::*;

fn main() {
    let typed = Predict::typed(signature!("question -> answer: int | str, note: str"));
    let _ = typed.call_blocking(("Why?",)).map(|out| out.note.clone());
    let _ = typed.call_blocking("Why?");
}
