struct NoSchema;

#[dspy::tool]
fn takes(x: NoSchema) -> i64 {
    let _ = x;
    1
}

fn main() {}
