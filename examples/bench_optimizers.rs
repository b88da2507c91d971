//! Framework time and LM calls of MIPROv2 `light` and GEPA `light`, on the simulated LM, for a
//! two-predictor program with 50 training and 100 validation examples.
//!
//!     cargo run --release --example bench_optimizers
//!
//! Framework time is the wall time minus the time spent inside the (simulated) LM: what the
//! optimizer, the engine, the adapters and the parsing cost. Everything runs on one thread, so
//! the two never overlap. The LM calls are compared with DSPy's own estimates: MIPROv2's
//! `_estimate_lm_calls` and GEPA's `auto_budget` (in metric calls, i.e. program runs; each run
//! of this program is two LM calls).

mod optimizer_sim;

use std::time::Instant;

use dspy::optimizers::gepa::auto_budget;
use dspy::optimizers::mipro::estimate_lm_calls;
use dspy::optimizers::{AutoMode, Gepa, MiproV2, Optimizer};
use dspy::prelude::*;
use optimizer_sim::{AnswerMatch, SimLm, TwoStep, dataset};

struct Row {
    name: &'static str,
    wall: f64,
    in_lm: f64,
    lm_calls: u64,
    metric_calls: u64,
    score: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    println!("Simulated LM (dspy-sim): no API key, no network.");
    let (trainset, valset) = (dataset(50, 0), dataset(100, 300));
    let student = TwoStep::new();
    let mut rows = Vec::new();

    // MIPROv2 light.
    let sim = SimLm::new();
    dspy::configure(Settings::new().lm(sim.clone()));
    let mipro = MiproV2::new().auto(AutoMode::Light).prompt_model(sim.clone()).progress(false);
    let started = Instant::now();
    let compiled = mipro.compile(&student, &trainset, &AnswerMatch).valset(&valset).await?;
    let wall = started.elapsed().as_secs_f64();
    let extra = &compiled.report.extra;
    println!("\n== MIPROv2 light");
    println!("{}", compiled.report);
    println!("LM calls by stage: {}", extra["lm_calls_by_stage"]);
    let trials = extra["num_trials"].as_u64().unwrap_or(0) as usize;
    let n_instr = extra["num_instruct_candidates"].as_u64().unwrap_or(0) as usize;
    let est = estimate_lm_calls(2, trials, true, 35, 5, 100, true, n_instr);
    println!(
        "DSPy's estimate: {} prompt-model calls + {} program runs (= {} LM calls for 2 predictors), bootstrapping not included",
        est.prompt_model_calls,
        est.program_runs,
        est.program_runs * 2
    );
    rows.push(Row { name: "MIPROv2 light", wall, in_lm: sim.time_in_lm().as_secs_f64(), lm_calls: sim.calls(), metric_calls: compiled.report.metric_calls, score: compiled.report.best_score.unwrap_or(0.0) });

    // GEPA light.
    let sim = SimLm::new();
    dspy::configure(Settings::new().lm(sim.clone()));
    let gepa = Gepa::new().auto(AutoMode::Light).reflection_lm(sim.clone()).progress(false);
    let started = Instant::now();
    let compiled = gepa.compile(&student, &trainset, &AnswerMatch).valset(&valset).await?;
    let wall = started.elapsed().as_secs_f64();
    let extra = &compiled.report.extra;
    println!("\n== GEPA light");
    println!("{}", compiled.report);
    println!(
        "budget {} metric calls (DSPy's auto_budget(2 predictors, 6, 100) = {}); used {}; {} iterations, {} accepted, {} reflection calls, {} merges",
        extra["max_metric_calls"],
        auto_budget(2, 6, 100, 35, 5),
        extra["total_metric_calls"],
        extra["iterations"],
        extra["accepted"],
        extra["reflection_calls"],
        extra["merges_accepted"]
    );
    rows.push(Row { name: "GEPA light", wall, in_lm: sim.time_in_lm().as_secs_f64(), lm_calls: sim.calls(), metric_calls: compiled.report.metric_calls, score: compiled.report.best_score.unwrap_or(0.0) });

    println!("\n== summary (2 predictors, 50 train / 100 val, simulated LM)");
    println!("{:<15} {:>9} {:>9} {:>12} {:>9} {:>13} {:>7}", "optimizer", "wall s", "in LM s", "framework s", "LM calls", "metric calls", "best");
    for r in &rows {
        println!(
            "{:<15} {:>9.3} {:>9.3} {:>12.3} {:>9} {:>13} {:>6.1}%",
            r.name,
            r.wall,
            r.in_lm,
            r.wall - r.in_lm,
            r.lm_calls,
            r.metric_calls,
            r.score
        );
    }
    let worst = rows.iter().map(|r| r.wall - r.in_lm).fold(0.0, f64::max);
    println!("goal: framework time < 1 s per optimizer -> {}", if worst < 1.0 { "met" } else { "NOT met" });
    Ok(())
}
