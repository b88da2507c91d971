#![deny(warnings)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use dspy::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
enum Mood {
    Happy,
    Sad,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct Span {
    start: usize,
    end: usize,
}

mod json {
    pub use serde_json::Value;
}

#[derive(Signature)]
pub(crate) struct Everything {
    #[input]
    a: String,
    #[input]
    b: i8,
    #[input]
    c: u64,
    #[input]
    d: isize,
    #[input]
    e: f32,
    #[input]
    f: bool,
    #[input]
    g: Vec<String>,
    #[input]
    h: VecDeque<i16>,
    #[input]
    i: HashSet<String>,
    #[input]
    j: BTreeSet<u32>,
    #[output]
    k: Option<f64>,
    #[output]
    l: HashMap<String, i64>,
    #[output]
    m: BTreeMap<std::string::String, Vec<bool>>,
    #[output]
    n: serde_json::Value,
    #[output]
    o: json::Value,
    #[output]
    p: Box<Mood>,
    #[output]
    q: Box<Span>,
    #[output]
    r: Option<Option<String>>,
}

fn main() {
    let sig = Everything::signature();
    assert_eq!(sig.fields().len(), 18);
    let _ = Predict::<Everything>::new();
}
