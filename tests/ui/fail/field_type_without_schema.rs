use dspy::prelude::*;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Verdict {
    label: String,
}

#[derive(Signature)]
struct Check {
    #[input]
    claim: String,
    #[output]
    verdict: Verdict,
}

fn main() {}
