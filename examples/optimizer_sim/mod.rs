//! What the optimizer examples share: the simulated task, program and LM of `dspy-sim` (the same
//! ones the optimizer tests use: no key, no network), and picking a real LM instead when
//! `DSPY_LM` names one.
//!
//! The task: `"[alpha] What is the transform of code 17?"`; each tag has its own rule (alpha
//! doubles the code, beta adds 7, gamma squares it modulo 97, delta gives 100 + 3 × code). A real
//! LM can learn the rules from demos or from the metric's feedback; the simulated one follows
//! them when its instructions mention the "category rule" or a demo with the same tag is in the
//! prompt, and is right by luck (25%) otherwise.
#![allow(dead_code)] // each example uses a part

use std::sync::Arc;

use dspy::prelude::*;

pub use dspy_sim::{AnswerMatch, SimLm, TwoStep, dataset};

/// The LM to use, and the simulated LM behind it when there is no real one.
pub type SelectedLm = (Arc<dyn LanguageModel>, Option<Arc<SimLm>>);

/// The LM named by `DSPY_LM` (real), else the simulated one (and says which).
pub fn select_lm() -> std::result::Result<SelectedLm, Box<dyn std::error::Error>> {
    if std::env::var_os("DSPY_LM").is_some() {
        let lm = LM::from_env()?;
        println!("Using {} at {} (from DSPY_LM) as task, prompt and reflection model.", lm.model(), lm.url());
        return Ok((Arc::new(lm), None));
    }
    println!("DSPY_LM is not set: using the simulated LM of dspy-sim (no API key, no network).");
    let sim = SimLm::new();
    Ok((sim.clone(), Some(sim)))
}

/// The end of both compile examples: evaluates `compiled` on `evaluate`'s devset, saves the
/// program and its report to a temporary directory, loads the program into a fresh `TwoStep`
/// and evaluates that again (same program, same score), then removes the directory.
pub async fn evaluate_save_reload(
    name: &str,
    compiled: &dspy::optimizers::Compiled<TwoStep>,
    evaluate: &Evaluate,
    before: f64,
) -> std::result::Result<TwoStep, Box<dyn std::error::Error>> {
    use dspy::module::ModuleExt;
    let after = evaluate.run(&compiled.program).await?;
    println!("== compiled: {:.1}% on the held-out examples (was {:.1}%)", after.score, before);

    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let program_path = dir.join("program.json");
    compiled.program.save(&program_path)?;
    compiled.report.save_json(dir.join("report.json"))?;
    let mut loaded = TwoStep::new();
    loaded.load(&program_path)?;
    let reloaded = evaluate.run(&loaded).await?;
    println!("== saved to {} and loaded back: {:.1}% (same program, same score)", program_path.display(), reloaded.score);
    std::fs::remove_dir_all(&dir).ok();
    Ok(loaded)
}
