//! Compile a two-step program with GEPA, evaluate it, save it, load it back.
//!
//!     cargo run --example compile_gepa
//!
//! The metric returns a score *and feedback* naming the rule the answer should have followed;
//! GEPA's reflection LM reads the feedback and rewrites the instructions. With no
//! configuration this runs on the simulated LM of `dspy-sim` (no key, no network)
//! and says so; set `DSPY_LM=provider/model` (and `DSPY_API_BASE` / `DSPY_API_KEY`) to use a
//! real model as task and reflection LM (a budget of 200 metric calls then).

mod optimizer_sim;

use dspy::optimizers::{AutoMode, Gepa, Optimizer};
use dspy::prelude::*;
use optimizer_sim::{AnswerMatch, TwoStep, dataset, evaluate_save_reload, select_lm};

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (lm, sim) = select_lm()?;
    dspy::configure(Settings::new().lm(lm.clone()));
    let (train, val, test) = if sim.is_some() { (40, 20, 60) } else { (16, 12, 20) };
    let (trainset, valset, testset) = (dataset(train, 0), dataset(val, 300), dataset(test, 900));

    let program = TwoStep::new();
    let evaluate = Evaluate::new(testset, AnswerMatch).num_threads(8);
    let before = evaluate.run(&program).await?;
    println!("== uncompiled: {:.1}% on {test} held-out examples", before.score);

    let gepa = Gepa::new().reflection_lm(lm.clone()).seed(0).num_threads(8);
    let gepa = if sim.is_some() { gepa.auto(AutoMode::Light) } else { gepa.budget_metric_calls(200) };
    let compiled = gepa.compile(&program, &trainset, &AnswerMatch).valset(&valset).await?;
    println!("{}", compiled.report);
    let extra = &compiled.report.extra;
    println!(
        "budget {} metric calls, used {}; {} candidates; Pareto frontier (best per validation example): {}",
        extra["max_metric_calls"],
        extra["total_metric_calls"],
        extra["candidates"].as_array().map_or(0, Vec::len),
        extra["pareto_frontier"]["best_scores"]
    );

    let loaded = evaluate_save_reload("compile-gepa", &compiled, &evaluate, before.score).await?;
    for (name, p) in loaded.named_predictors() {
        println!("  {name}: {}", p.signature().instructions());
    }
    if let Some(sim) = sim {
        println!("(simulated LM: {} calls in all)", sim.calls());
    }
    Ok(())
}
