use dspy::prelude::*;

#[derive(Signature)]
struct Classify<T> {
    #[input]
    text: String,
    #[output]
    label: T,
}

#[derive(Signature)]
struct Borrowed<'a> {
    #[input]
    text: &'a str,
    #[output]
    answer: String,
}

fn main() {}
