//! A ReAct agent with two real Rust tools: a calculator and a small in-memory lookup.
//!
//!     cargo run --example react_agent
//!
//! With no configuration this runs on the built-in `DummyLM` (no key, no network) with scripted
//! answers that exercise the loop: a lookup, a calculation, a tool error fed back to the agent,
//! then `finish` and the extraction. Set `DSPY_LM=provider/model` (and optionally
//! `DSPY_API_BASE` / `DSPY_API_KEY`) to let a real model drive the same tools.

use std::sync::Arc;

use dspy::prelude::*;
use serde_json::json;

/// Evaluate an arithmetic expression with + - * / and parentheses, e.g. "(2 + 3) * 4".
#[dspy::tool]
fn calculator(expression: String) -> Result<f64, String> {
    Calc { chars: expression.chars().filter(|c| !c.is_whitespace()).collect(), at: 0 }.parse()
}

/// Look up facts about a country: its capital, population (millions) and area (km²).
#[dspy::tool]
async fn country_facts(#[arg(desc = "the country's English name")] country: String) -> Result<serde_json::Value, String> {
    let facts = match country.to_lowercase().as_str() {
        "france" => json!({"capital": "Paris", "population_millions": 68.4, "area_km2": 551_695}),
        "japan" => json!({"capital": "Tokyo", "population_millions": 124.5, "area_km2": 377_975}),
        "kenya" => json!({"capital": "Nairobi", "population_millions": 55.1, "area_km2": 580_367}),
        _ => return Err(format!("no facts about {country:?}; known countries: France, Japan, Kenya")),
    };
    Ok(facts)
}

/// Answer questions about countries, computing what is needed.
#[derive(Signature)]
struct CountryQA {
    #[input]
    question: String,
    #[output(desc = "a short answer with the number")]
    answer: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (lm, dummy) = examples_lm()?;
    dspy::configure(Settings::new().lm(lm));

    let agent = ReAct::<CountryQA>::new([calculator_tool(), country_facts_tool()])?.with_max_iters(6);
    println!("== tools");
    for tool in agent.tools() {
        println!("- {tool}");
    }

    let out = agent.call_blocking(CountryQAInput { question: "What is the population density of France, in people per km²?".into() })?;

    println!("\n== trajectory");
    for (key, value) in &out.trajectory {
        println!("{key}: {value}");
    }
    println!("\n== answer\n{}\n(reasoning: {})", out.answer, out.reasoning);
    if let Some(dummy) = dummy {
        println!("\n({} scripted LM calls)", dummy.history().len());
    }
    Ok(())
}

/// The LM to use, and the DummyLM again when that is what it is.
type ExampleLm = (Arc<dyn LanguageModel>, Option<Arc<DummyLM>>);

/// The LM named by `DSPY_LM`, else a DummyLM scripted to walk through the loop.
fn examples_lm() -> Result<ExampleLm, Box<dyn std::error::Error>> {
    if std::env::var_os("DSPY_LM").is_some() {
        let lm = LM::from_env()?;
        println!("Using {} at {} (from DSPY_LM).", lm.model(), lm.url());
        return Ok((Arc::new(lm), None));
    }
    println!("DSPY_LM is not set: using the built-in DummyLM with scripted answers (no API key, no network).\n");
    let dummy = Arc::new(DummyLM::new(vec![
        json!({"next_thought": "I need France's population and area.", "next_tool_name": "country_facts", "next_tool_args": {"country": "Frnace"}}),
        json!({"next_thought": "I misspelt it; try again.", "next_tool_name": "country_facts", "next_tool_args": {"country": "France"}}),
        json!({"next_thought": "Density is population / area.", "next_tool_name": "calculator", "next_tool_args": {"expression": "68.4 * 1000000 / 551695"}}),
        json!({"next_thought": "I have the density.", "next_tool_name": "finish", "next_tool_args": {}}),
        json!({"reasoning": "68.4 million people over 551,695 km² is about 124 people per km².", "answer": "About 124 people per km²"}),
    ]));
    Ok((dummy.clone(), Some(dummy)))
}

/// A recursive-descent evaluator for the calculator tool.
struct Calc {
    chars: Vec<char>,
    at: usize,
}

impl Calc {
    fn parse(mut self) -> Result<f64, String> {
        let v = self.sum()?;
        match self.chars.get(self.at) {
            None => Ok(v),
            Some(c) => Err(format!("unexpected {c:?} at position {}", self.at)),
        }
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        while let Some(&op) = self.chars.get(self.at).filter(|c| **c == '+' || **c == '-') {
            self.at += 1;
            let rhs = self.product()?;
            v = if op == '+' { v + rhs } else { v - rhs };
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.atom()?;
        while let Some(&op) = self.chars.get(self.at).filter(|c| **c == '*' || **c == '/') {
            self.at += 1;
            let rhs = self.atom()?;
            if op == '/' && rhs == 0.0 {
                return Err("division by zero".into());
            }
            v = if op == '*' { v * rhs } else { v / rhs };
        }
        Ok(v)
    }

    fn atom(&mut self) -> Result<f64, String> {
        match self.chars.get(self.at) {
            Some('(') => {
                self.at += 1;
                let v = self.sum()?;
                if self.chars.get(self.at) != Some(&')') {
                    return Err("missing ')'".into());
                }
                self.at += 1;
                Ok(v)
            }
            Some('-') => {
                self.at += 1;
                Ok(-self.atom()?)
            }
            _ => {
                let start = self.at;
                while self.chars.get(self.at).is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                text.parse().map_err(|_| format!("expected a number at position {start}"))
            }
        }
    }
}
