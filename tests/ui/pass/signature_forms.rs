#![deny(warnings)]

use dspy::prelude::*;

signature! {
    /// Rank the candidates.
    pub Rank = "query, candidates: list[str] -> order: list[int]";
    Extract = "text -> entities: dict[str, list[str]], note: str | None";
}

mod nested {
    dspy::signature! {
        #[signature(crate = "::dspy")]
        pub Summarize = "document -> summary"
    }
}

fn takes_typed<S: TypedSignature>(_: S) -> String {
    S::signature().to_short_string()
}

fn main() {
    assert_eq!(takes_typed(Rank), "query, candidates -> order");
    assert_eq!(takes_typed(Extract), "text -> entities, note");
    assert_eq!(takes_typed(nested::Summarize), "document -> summary");
    let input: nested::SummarizeInput = "long text".into();
    let _ = input.document;
    let sig = signature!("a: int, b: int -> sum: int");
    assert_eq!(takes_typed(sig), "a, b -> sum");
    let predict = Predict::typed(signature!("-> greeting"));
    let _ = predict.call(());
}
