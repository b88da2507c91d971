use std::collections::HashMap;

use dspy::prelude::*;

#[derive(Signature)]
struct Unsupported {
    #[input]
    borrowed: &'static str,
    #[input]
    pair: (String, i64),
    #[input]
    fixed: [u8; 4],
    #[input]
    callback: fn(i64) -> i64,
    #[input]
    object: Box<dyn std::fmt::Debug>,
    #[input]
    letter: char,
    #[output]
    huge: i128,
    #[output]
    by_id: HashMap<u64, String>,
}

fn main() {}
