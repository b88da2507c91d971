use dspy::prelude::*;

/// Looks a word up.
///
/// Returns its definition.
#[dspy::tool]
pub async fn define(word: String, #[arg(desc = "ISO code")] lang: Option<String>) -> Result<String, std::io::Error> {
    Ok(format!("{word} ({})", lang.unwrap_or_default()))
}

#[dspy::tool(name = "now", desc = "The time.")]
fn clock() -> &'static str {
    "noon"
}

#[derive(serde::Serialize)]
struct Hit {
    title: String,
}

#[dspy::tool]
fn search(r#query: String, limit: u8) -> dspy::module::Json<Vec<Hit>> {
    dspy::module::Json((0..limit).map(|i| Hit { title: format!("{query} {i}") }).collect())
}

mod inner {
    /// Private tools stay private.
    #[dspy::tool]
    fn secret() {}

    pub fn make() -> dspy::module::Tool {
        secret_tool()
    }
}

fn main() {
    let tools: Vec<Tool> = vec![define_tool(), clock_tool(), search_tool(), inner::make()];
    assert_eq!(tools[0].desc(), "Looks a word up.\n\nReturns its definition.");
    assert_eq!(tools[1].name(), "now");
    assert_eq!(tools[1].desc(), "The time.");
    assert_eq!(tools[2].required_args(), ["query", "limit"]);
    assert_eq!(tools[3].name(), "secret");
    let out = dspy::block_on(tools[2].call(serde_json::json!({"query": "rust", "limit": 2}))).unwrap();
    assert_eq!(out, serde_json::json!([{"title": "rust 0"}, {"title": "rust 1"}]));
}
