/// Borrowed, destructured and generic parameters cannot come from JSON arguments.
#[dspy::tool]
fn borrowed(city: &str) -> String {
    city.to_string()
}

#[dspy::tool]
fn destructured((a, b): (i64, i64)) -> i64 {
    a + b
}

#[dspy::tool]
fn generic<T: ToString>(x: T) -> String {
    x.to_string()
}

struct Db;

impl Db {
    #[dspy::tool]
    fn lookup(&self, key: String) -> String {
        key
    }
}

fn main() {
    let _ = borrowed("Paris");
}
