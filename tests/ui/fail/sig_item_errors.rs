use dspy::prelude::*;

signature! {
    #[derive(PartialOrd)]
    pub Ranked = "query -> rank: int"
}

signature! {
    pub Broken = "query -> rank: int" extra
}

fn main() {}
