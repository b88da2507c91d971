#[dspy::tool(nme = "x")]
fn misspelt(a: i64) -> i64 {
    a
}

#[dspy::tool]
fn bad_arg(#[arg(description = "the value")] a: i64) -> i64 {
    a
}

#[dspy::tool]
struct NotAFunction;

fn main() {}
