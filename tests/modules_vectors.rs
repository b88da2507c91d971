//! The reference's module runs, call by call: every vector in `tests/data/modules` (vendored)
//! and in `../shared/modules` (or in `$DSPY_MODULES_DIR`) is replayed with the same signature, config, inputs and LM outputs; the
//! messages of every LM call must be byte-identical and the outputs equal.

mod common;

use std::sync::Arc;

use dspy::module::{MultiChainComparison, ReAct, Tool};
use dspy::{ChatAdapter, DummyLM, Example, LmConfig, Module, Prediction, Signature};
use serde_json::{Map, Value};

/// Get the current weather for a city.
#[dspy::tool]
fn get_weather(city: String) -> String {
    format!("Sunny in {city}, 21 C")
}

/// Add two integers.
#[dspy::tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The README's tools, by name.
fn tool(name: &str) -> Result<Tool, String> {
    match name {
        "get_weather" => Ok(get_weather_tool()),
        "add" => Ok(add_tool()),
        other => Err(format!("the vector names an unknown tool `{other}`")),
    }
}

fn object(v: &Value, what: &str) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::Null => Ok(Map::new()),
        other => Err(format!("`{what}` is not an object: {other}")),
    }
}

async fn run(vector: &Value, lm: Arc<DummyLM>, sig: &Signature) -> Result<Prediction, String> {
    let config = object(&vector["config"], "config")?;
    let inputs = Example::from_map(object(&vector["inputs"], "inputs")?);
    let chat = Arc::new(ChatAdapter::new());
    match vector["module"].as_str().unwrap_or_default() {
        "react" => {
            let names = vector["tools"].as_array().ok_or("`tools` is not a list")?;
            let tools = names.iter().map(|n| tool(n.as_str().unwrap_or_default())).collect::<Result<Vec<_>, _>>()?;
            let mut agent = ReAct::from_signature(sig.clone(), tools).map_err(|e| e.to_string())?.with_lm(lm).with_adapter(chat);
            if let Some(n) = config.get("max_iters") {
                agent = agent.with_max_iters(n.as_u64().ok_or("`max_iters` is not an integer")? as usize);
            }
            agent.forward(&inputs).await.map_err(|e| format!("ReAct failed: {e}"))
        }
        "multi_chain_comparison" => {
            let m = config.get("M").and_then(Value::as_u64).unwrap_or(3) as usize;
            let mut mcc = MultiChainComparison::from_signature(sig.clone(), m).map_err(|e| e.to_string())?.with_lm(lm);
            mcc.predict = mcc.predict.with_adapter(chat);
            if let Some(t) = config.get("temperature").and_then(Value::as_f64) {
                mcc = mcc.with_config(LmConfig { temperature: Some(t), ..LmConfig::default() });
            }
            let completions = vector["completions"]
                .as_array()
                .ok_or("`completions` is not a list")?
                .iter()
                .map(|c| object(c, "completion"))
                .collect::<Result<Vec<_>, _>>()?;
            mcc.compare(&completions, &inputs).await.map_err(|e| format!("MultiChainComparison failed: {e}"))
        }
        other => Err(format!("unknown module {other:?}")),
    }
}

async fn check(vector: &Value) -> Result<(), String> {
    let sig = Signature::parse(vector["signature"].as_str().ok_or("`signature` is not a string")?).map_err(|e| e.to_string())?;
    let outputs: Vec<String> = vector["lm_outputs"]
        .as_array()
        .ok_or("`lm_outputs` is not a list")?
        .iter()
        .map(|o| o.as_str().map(String::from).ok_or("an LM output is not a string"))
        .collect::<Result<_, _>>()?;
    let lm = Arc::new(DummyLM::raw(outputs));
    let prediction = run(vector, lm.clone(), &sig).await?;

    let expected = vector["messages"].as_array().ok_or("`messages` is not a list")?;
    let history = lm.history();
    if history.len() != expected.len() {
        return Err(format!("expected {} LM calls, got {}", expected.len(), history.len()));
    }
    for (i, (call, want)) in history.iter().zip(expected).enumerate() {
        let got = serde_json::to_value(&call.messages).map_err(|e| e.to_string())?;
        if &got != want {
            return Err(format!("call {i}: {}", common::first_difference(want, &got)));
        }
    }
    for field in sig.output_fields() {
        let want = &vector["outputs"][&field.name];
        match prediction.get(&field.name) {
            Some(got) if common::json_eq(got, want) => {}
            got => return Err(format!("output `{}`: expected {want}, got {got:?}", field.name)),
        }
    }
    Ok(())
}

#[tokio::test]
async fn module_vectors() {
    for dir in common::vector_dirs("DSPY_MODULES_DIR", "modules") {
        let mut tally = common::Tally::default();
        for path in common::json_files(&dir) {
            let outcome = match common::read_json(&path) {
                Ok(vector) => check(&vector).await,
                Err(e) => Err(e),
            };
            tally.record(&path.display().to_string(), outcome);
        }
        tally.finish("module vectors", &dir);
    }
}
