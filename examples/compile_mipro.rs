//! Compile a two-step program with MIPROv2, evaluate it, save it, load it back.
//!
//!     cargo run --example compile_mipro
//!
//! With no configuration this runs on the simulated LM of `dspy-sim` (no key, no
//! network) and says so. Set `DSPY_LM=provider/model` (and `DSPY_API_BASE` / `DSPY_API_KEY`)
//! to compile with a real model: it then also proposes the instructions, and the run is
//! smaller (MIPROv2 `light` makes a few hundred LM calls on these sizes).

mod optimizer_sim;

use dspy::optimizers::{AutoMode, MiproV2, Optimizer};
use dspy::prelude::*;
use optimizer_sim::{AnswerMatch, TwoStep, dataset, evaluate_save_reload, select_lm};

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (lm, sim) = select_lm()?;
    dspy::configure(Settings::new().lm(lm.clone()));
    // The simulated LM is free: a valset over 50 examples makes MIPROv2 use minibatches.
    let (train, val, test) = if sim.is_some() { (40, 60, 60) } else { (16, 16, 20) };
    let (trainset, valset, testset) = (dataset(train, 0), dataset(val, 300), dataset(test, 900));

    let program = TwoStep::new();
    let evaluate = Evaluate::new(testset, AnswerMatch).num_threads(8);
    let before = evaluate.run(&program).await?;
    println!("== uncompiled: {:.1}% on {test} held-out examples", before.score);

    let mipro = MiproV2::new().auto(AutoMode::Light).prompt_model(lm.clone()).seed(9).num_threads(8);
    let compiled = mipro.compile(&program, &trainset, &AnswerMatch).valset(&valset).await?;
    println!("{}", compiled.report);
    println!("instruction candidates: {}", serde_json::to_string_pretty(&compiled.report.extra["instruction_candidates"])?);

    let loaded = evaluate_save_reload("compile-mipro", &compiled, &evaluate, before.score).await?;
    for (name, p) in loaded.named_predictors() {
        println!("  {name}: {} demo(s); instructions: {}", p.demos().len(), p.signature().instructions());
    }
    if let Some(sim) = sim {
        println!("(simulated LM: {} calls in all)", sim.calls());
    }
    Ok(())
}
