//! ProgramOfThought on a math question: the LM writes Python, the sandbox runs it, errors go
//! back to the LM, and the answer comes from the code's output.
//!
//!     cargo run --example program_of_thought
//!
//! Needs `python3` (CPython 3.8+) on `PATH` (or `DSPY_PYTHON`); the code runs in a locked-down
//! subprocess (see `dspy::module::PythonSandbox`). With no configuration the LM is the built-in
//! `DummyLM` with scripted answers: its first program imports a module the sandbox forbids, the
//! error goes back to the LM, the second program computes the answer. Set
//! `DSPY_LM=provider/model` (and optionally `DSPY_API_BASE` / `DSPY_API_KEY`) for a real model.

use std::sync::Arc;
use std::time::Duration;

use dspy::module::PythonSandbox;
use dspy::prelude::*;
use serde_json::json;

/// Solve the math problem exactly.
#[derive(Signature)]
struct MathProblem {
    #[input]
    question: String,
    #[output]
    answer: i64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (lm, dummy) = examples_lm()?;
    dspy::configure(Settings::new().lm(lm));

    let pot = ProgramOfThought::<MathProblem>::new()?
        .with_max_iters(3)
        .with_sandbox(PythonSandbox::new().with_timeout(Duration::from_secs(10)));
    let out = pot.call_blocking(MathProblemInput { question: "What is the sum of the squares of the first 20 prime numbers?".into() })?;
    println!("answer: {} (i64)\nreasoning: {}", out.answer, out.reasoning);

    if let Some(dummy) = dummy {
        println!("\n== what the LM was shown after each program");
        for call in dummy.history().iter().skip(1) {
            let user = call.messages.last().map(|m| m.content.text()).unwrap_or_default();
            for section in ["[[ ## error ## ]]", "[[ ## code_output ## ]]"] {
                if let Some(start) = user.find(section) {
                    let rest = &user[start..];
                    let end = rest[section.len()..].find("\n\n").map_or(rest.len(), |e| e + section.len());
                    println!("{}", &rest[..end]);
                }
            }
        }
    }
    Ok(())
}

/// The LM to use, and the DummyLM again when that is what it is.
type ExampleLm = (Arc<dyn LanguageModel>, Option<Arc<DummyLM>>);

/// The LM named by `DSPY_LM`, else a DummyLM scripted to go through one retry.
fn examples_lm() -> Result<ExampleLm, Box<dyn std::error::Error>> {
    if std::env::var_os("DSPY_LM").is_some() {
        let lm = LM::from_env()?;
        println!("Using {} at {} (from DSPY_LM).", lm.model(), lm.url());
        return Ok((Arc::new(lm), None));
    }
    println!("DSPY_LM is not set: using the built-in DummyLM with scripted answers (no API key, no network).\n");
    let first = "```python\nfrom sympy import prime\nSUBMIT({'answer': sum(prime(i) ** 2 for i in range(1, 21))})\n```";
    let second = "```python\nprimes = []\nn = 2\nwhile len(primes) < 20:\n    if all(n % p for p in primes):\n        primes.append(n)\n    n += 1\nSUBMIT({'answer': sum(p * p for p in primes)})\n```";
    let dummy = Arc::new(DummyLM::new(vec![
        json!({"reasoning": "Use sympy's prime().", "generated_code": first}),
        json!({"reasoning": "sympy is not available; generate the primes by trial division.", "generated_code": second}),
        json!({"reasoning": "The program submitted 30007.", "answer": 30007}),
    ]));
    Ok((dummy.clone(), Some(dummy)))
}
