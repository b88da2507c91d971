use dspy::prelude::*;

#[derive(Signature)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
