//! Compile a small extraction program against a real model: uncompiled, LabeledFewShot,
//! BootstrapFewShot, MIPROv2 `light`, COPRO, SIMBA and GEPA, each evaluated on a held-out dev
//! set; then a two-stage program (find the order mention, then write it as an ID) uncompiled,
//! with BootstrapFewShot and with GEPA, whose reflection rewrites each stage.
//!
//!     DSPY_LM=openai/smollm2 DSPY_API_BASE=http://127.0.0.1:8765/v1 \
//!         cargo run --release --example compile_real
//!
//! The task: pull the order ID (`AB-1234`) out of a customer's message. The 36 examples live in
//! `examples/data/order_ids.jsonl` (the first 20 train, the last 16 dev; fixed order, no
//! shuffling), the same file `bench/real_vs_dspy/dspy_side.py` reads; `dspy::data` loads them
//! as the `ExtractOrderIdExample` rows the signature's derive generates. The metric, typed over
//! those rows and the program's `ExtractOrderIdOutput`, compares the first non-empty line of the
//! predicted `order_id` with the gold one, case-insensitively (while compiling, the whole output:
//! a demo must not teach the model to ramble on).
//!
//! Without `DSPY_LM` it runs on a small simulated LM defined below (no key, no network) and
//! says so. Options (environment):
//! - `REAL_MIPRO=0`: skip MIPROv2 `light`, which makes a few hundred LM calls (~12 minutes on
//!   a 135M model served on 2 CPU cores; a second on the simulated LM).
//! - `REAL_ROWS=copro,simba,gepa`: run only these rows (names as in the table, lower case, the
//!   part before any parenthesis: `uncompiled`, `labeledfewshot`, `bootstrapfewshot`, `miprov2`,
//!   `copro`, `simba`, `gepa`; `two-stage` for the three two-stage rows). COPRO (breadth 3,
//!   depth 2), SIMBA (batches of 8, 3 candidates, 3 steps) and GEPA (150 metric calls) are
//!   budgeted to a few minutes each on that model.
//! - `COMPILE_REAL_JSON=path`: also write the results as JSON (used by `bench/real_vs_dspy`).
//! - `COMPILE_REAL_SAVE=path`: where to save the best compiled program (default: the system
//!   temporary directory).
//! - `COMPILE_REAL_DATA=path`: another JSONL file with `message` and `order_id`.
//!
//! Caching is off for the real LM, so every figure is a fresh call to the server.
//!
//! Recorded against SmolLM2-135M-Instruct (llama.cpp, 2 shared CPU cores; times vary with load):
//!
//! ```text
//! program              dev score  LM calls    tokens  compile s   eval s
//! uncompiled               18.8%        32      6728        0.0     41.8
//! LabeledFewShot(k=4)      87.5%        16      7373        0.0     21.8
//! BootstrapFewShot         56.2%        33     14903       25.3     16.6
//! MIPROv2(light)           56.2%       261    107322      358.0     16.7
//! ```
//!
//! Recorded 2026-12-07 (same model; see `bench/real_vs_dspy/README.md` for DSPy's figures):
//!
//! ```text
//! COPRO(3x2)                     18.8%       156     33512      117.5     33.7
//! SIMBA(8x3x3)                   18.8%       528    122255      556.2     28.7
//! GEPA(150)                      18.8%       358     85170      351.6     34.9
//! two-stage uncompiled            6.2%        64     13614        0.0     74.7
//! two-stage BootstrapFewShot      6.2%       128     29821       91.8     56.2
//! two-stage GEPA(150)            12.5%       679    148546      707.9     55.8
//! ```
//!
//! On this model MIPROv2 `light` ends at BootstrapFewShot's score (its search found no
//! instruction and demo set better on the validation split); LabeledFewShot's demos stay best.
//! Python DSPy 3.4.1's MIPROv2 aborts here instead (see `bench/real_vs_dspy/README.md`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dspy::evaluate::Reads;
use dspy::optimizers::{AutoMode, BootstrapFewShot, Copro, Gepa, LabeledFewShot, MiproV2, Optimizer, Simba};
use dspy::prelude::*;
use dspy::{LmError, LmRequest, LmResponse, Role, Usage};
use serde_json::{Value, json};

/// Extract the order ID from the customer's message.
#[derive(Signature)]
struct ExtractOrderId {
    #[input]
    message: String,
    #[output]
    order_id: String,
}

/// Find the part of the customer's message that names the order.
#[derive(Signature)]
struct FindOrderMention {
    #[input]
    message: String,
    #[output]
    mention: String,
}

/// Write the order ID in its standard form: two capital letters, a hyphen, four digits (AB-1234).
#[derive(Signature)]
struct WriteOrderId {
    #[input]
    mention: String,
    #[output]
    order_id: String,
}

/// The two-stage program: find the mention, then write it as an ID.
#[module]
#[derive(Clone)]
struct TwoStage {
    find: Predict<FindOrderMention>,
    write: Predict<WriteOrderId>,
}

#[module]
impl TwoStage {
    async fn forward(&self, message: String) -> Result<ExtractOrderIdOutput> {
        let found = self.find.call(FindOrderMentionInput { message }).await?;
        let written = self.write.call(WriteOrderIdInput { mention: found.mention.clone() }).await?;
        Ok(ExtractOrderIdOutput { order_id: written.order_id.clone() })
    }
}

/// Settings shared with `bench/real_vs_dspy/dspy_side.py`: keep them in step.
const TRAIN: usize = 20;
const MAX_TOKENS: u32 = 64;
const K: usize = 4;
const SEED: u64 = 0;

/// The program every optimizer compiles.
type Student = Predict<ExtractOrderId>;

/// Whether the row `name` is to run (`REAL_ROWS`, a comma-separated list; every row when unset).
/// A listed name selects the rows whose name starts with it (`two-stage` all three).
fn wanted(name: &str) -> bool {
    let key: String = name.split('(').next().unwrap_or(name).to_lowercase();
    match std::env::var("REAL_ROWS") {
        Ok(rows) if !rows.trim().is_empty() => rows.split(',').map(|r| r.trim().to_lowercase()).any(|r| !r.is_empty() && key.starts_with(&r)),
        _ => true,
    }
}

/// The first non-empty line of `s`, trimmed of whitespace and quotes, lower-cased.
fn first_line(s: &str) -> String {
    s.lines()
        .map(|l| l.trim().trim_matches(|c| matches!(c, '"' | '\'' | '`')).trim())
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_lowercase()
}

/// Saves one row's compiled program to a path.
type SaveProgram = Box<dyn Fn(&std::path::Path) -> dspy::Result<()>>;

struct Row {
    name: &'static str,
    /// Why the compilation failed (the row then has no score).
    error: Option<String>,
    /// Saves the compiled program (DSPy's JSON format).
    save: SaveProgram,
    score: f64,
    calls: u64,
    tokens: u64,
    compile_s: f64,
    eval_s: f64,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let data_path = std::env::var("COMPILE_REAL_DATA").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/order_ids.jsonl").into());
    // Typed rows: a line without `message` or `order_id` is an error naming the file and line.
    let data: Vec<ExtractOrderIdExample> = dspy::data::load(&data_path)?;
    if data.len() <= TRAIN {
        return Err(format!("{data_path} has {} examples; at least {} needed", data.len(), TRAIN + 1).into());
    }
    let (trainset, devset) = data.split_at(TRAIN);
    let (model, simulated) = if std::env::var_os("DSPY_LM").is_some() {
        // As `LM::from_env`, with the cache off: every call below reaches the server.
        let model = std::env::var("DSPY_LM").unwrap_or_default();
        let mut b = LM::builder(model.trim()).temperature(0.0).max_tokens(MAX_TOKENS).cache(false);
        if let Some(base) = std::env::var("DSPY_API_BASE").ok().filter(|s| !s.trim().is_empty()) {
            b = b.api_base(base.trim());
        }
        if let Some(key) = std::env::var("DSPY_API_KEY").ok().filter(|s| !s.trim().is_empty()) {
            b = b.api_key(key.trim());
        }
        let lm = b.build()?;
        println!("Using {} at {} (from DSPY_LM); cache off, temperature 0, max_tokens {MAX_TOKENS}.", lm.model(), lm.url());
        let model = lm.model().to_string();
        dspy::configure(Settings::new().lm(lm));
        (model, false)
    } else {
        println!("DSPY_LM is not set: using the simulated LM defined in examples/compile_real.rs (no key, no network).");
        println!("Set DSPY_LM=openai/smollm2 DSPY_API_BASE=http://127.0.0.1:8765/v1 to run against a real model.");
        dspy::configure(Settings::new().lm(SimLm));
        (SimLm.model().to_string(), true)
    };
    println!("Task: {} train / {} dev examples from {data_path}\n", trainset.len(), devset.len());

    // Evaluating (no trace): the first line must be the order ID. Compiling (a trace): the whole
    // output must be, so demos carry no trailing ramble.
    let metric = |gold: &ExtractOrderIdExample, pred: &ExtractOrderIdOutput, trace: Trace<'_>| {
        let want = gold.order_id.trim().to_lowercase();
        let got = if trace.is_compiling() { pred.order_id.trim().to_lowercase() } else { first_line(&pred.order_id) };
        !want.is_empty() && got == want
    };
    let evaluate = Evaluate::new(devset.to_vec(), metric).num_threads(1).no_error_limit();
    let student = Student::new();
    let mut rows = Vec::new();

    // Each entry: compile (timed, usage tracked), then evaluate on dev (timed, usage tracked).
    if wanted("uncompiled") {
        let started = Instant::now();
        let (compiled, used) = dspy::usage::track(async { Ok::<_, dspy::Error>(student.clone()) }).await;
        rows.push(evaluate_row("uncompiled", compiled?, used.total(), started.elapsed().as_secs_f64(), &evaluate).await?);
    }

    if wanted("LabeledFewShot") {
        let started = Instant::now();
        let (compiled, used) = dspy::usage::track(LabeledFewShot::new(K).sample(false).seed(SEED).compile(&student, trainset, metric)).await;
        rows.push(evaluate_row("LabeledFewShot(k=4)", compiled?.program, used.total(), started.elapsed().as_secs_f64(), &evaluate).await?);
    }

    if wanted("BootstrapFewShot") {
        let started = Instant::now();
        let bootstrap = BootstrapFewShot::new().max_bootstrapped_demos(K).max_labeled_demos(K).seed(SEED).num_threads(1);
        let (compiled, used) = dspy::usage::track(bootstrap.compile(&student, trainset, metric)).await;
        rows.push(evaluate_row("BootstrapFewShot", compiled?.program, used.total(), started.elapsed().as_secs_f64(), &evaluate).await?);
    }

    if std::env::var("REAL_MIPRO").is_ok_and(|v| v == "0") {
        println!("(MIPROv2 light skipped: REAL_MIPRO=0.)\n");
    } else if wanted("MIPROv2") {
        // No valset, as the Python side: MIPROv2 holds out part of the trainset. The configured
        // LM also proposes the instructions (DSPy's default `prompt_model`).
        let started = Instant::now();
        let mipro = MiproV2::new().auto(AutoMode::Light).max_bootstrapped_demos(K).max_labeled_demos(K).seed(SEED).num_threads(1).progress(false);
        let (compiled, used) = dspy::usage::track(mipro.compile(&student, trainset, metric)).await;
        rows.push(evaluate_row("MIPROv2(light)", compiled?.program, used.total(), started.elapsed().as_secs_f64(), &evaluate).await?);
    }

    // The instruction optimizers: the configured LM proposes (DSPy's default prompt model and,
    // for GEPA, the reflection LM given as the task LM). An optimizer that fails is a row too.
    if wanted("COPRO") {
        let started = Instant::now();
        let copro = Copro::new().breadth(3).depth(2).init_temperature(1.4).seed(SEED).num_threads(1).progress(false);
        let (compiled, used) = dspy::usage::track(copro.compile(&student, trainset, metric)).await;
        rows.push(row_or_failure("COPRO(3x2)", compiled.map(|c| c.program), used.total(), started, &evaluate).await?);
    }
    if wanted("SIMBA") {
        let started = Instant::now();
        let simba = Simba::new().bsize(8).num_candidates(3).max_steps(3).max_demos(K).seed(SEED).num_threads(1).progress(false);
        let (compiled, used) = dspy::usage::track(simba.compile(&student, trainset, metric)).await;
        rows.push(row_or_failure("SIMBA(8x3x3)", compiled.map(|c| c.program), used.total(), started, &evaluate).await?);
    }
    if wanted("GEPA") {
        let started = Instant::now();
        let gepa = Gepa::new().budget_metric_calls(150).reflection_minibatch_size(3).seed(SEED).num_threads(1).progress(false);
        let (compiled, used) = dspy::usage::track(gepa.compile(&student, trainset, metric)).await;
        rows.push(row_or_failure("GEPA(150)", compiled.map(|c| c.program), used.total(), started, &evaluate).await?);
    }

    // The two-stage program: BootstrapFewShot keeps demos of both stages from passing runs;
    // GEPA rewrites one stage's instruction per iteration from that stage's calls.
    let two_stage = TwoStage { find: Predict::new(), write: Predict::new() };
    if wanted("two-stage uncompiled") {
        let started = Instant::now();
        let (compiled, used) = dspy::usage::track(async { Ok::<_, dspy::Error>(two_stage.clone()) }).await;
        rows.push(row_or_failure("two-stage uncompiled", compiled, used.total(), started, &evaluate).await?);
    }
    if wanted("two-stage BootstrapFewShot") {
        let started = Instant::now();
        let bootstrap = BootstrapFewShot::new().max_bootstrapped_demos(K).max_labeled_demos(K).seed(SEED).num_threads(1);
        let (compiled, used) = dspy::usage::track(bootstrap.compile(&two_stage, trainset, metric)).await;
        rows.push(row_or_failure("two-stage BootstrapFewShot", compiled.map(|c| c.program), used.total(), started, &evaluate).await?);
    }
    if wanted("two-stage GEPA") {
        let started = Instant::now();
        let gepa = Gepa::new().budget_metric_calls(150).reflection_minibatch_size(3).seed(SEED).num_threads(1).progress(false);
        let (compiled, used) = dspy::usage::track(gepa.compile(&two_stage, trainset, metric)).await;
        rows.push(row_or_failure("two-stage GEPA(150)", compiled.map(|c| c.program), used.total(), started, &evaluate).await?);
    }
    if rows.is_empty() {
        return Err("REAL_ROWS selects no row".into());
    }

    println!("{:<26} {:>9} {:>9} {:>9} {:>10} {:>8}", "program", "dev score", "LM calls", "tokens", "compile s", "eval s");
    for r in &rows {
        match &r.error {
            Some(e) => println!("{:<26} {:>9} {:>9} {:>9} {:>10.1} {:>8.1}  {e}", r.name, "failed", r.calls, r.tokens, r.compile_s, r.eval_s),
            None => println!("{:<26} {:>8.1}% {:>9} {:>9} {:>10.1} {:>8.1}", r.name, r.score, r.calls, r.tokens, r.compile_s, r.eval_s),
        }
    }
    if let Some(best) = rows.iter().filter(|r| r.error.is_none()).max_by(|a, b| a.score.total_cmp(&b.score)) {
        let save = std::env::var("COMPILE_REAL_SAVE").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir().join("compile_real_best.json"));
        (best.save)(&save)?;
        println!("\nbest: {} at {:.1}%, saved to {}", best.name, best.score, save.display());
    }
    if simulated {
        println!("(simulated LM: {} calls in all)", SIM_CALLS.load(Ordering::SeqCst));
    }

    if let Ok(path) = std::env::var("COMPILE_REAL_JSON") {
        let results: Vec<Value> = rows
            .iter()
            .map(|r| match &r.error {
                Some(e) => json!({"program": r.name, "error": e, "lm_calls": r.calls, "tokens": r.tokens, "compile_s": r.compile_s, "eval_s": r.eval_s}),
                None => json!({"program": r.name, "dev_score": r.score, "lm_calls": r.calls, "tokens": r.tokens, "compile_s": r.compile_s, "eval_s": r.eval_s}),
            })
            .collect();
        let out = json!({
            "side": "dspy-rs",
            "model": model,
            "simulated": simulated,
            "train": trainset.len(),
            "dev": devset.len(),
            "results": results,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&out)?)?;
        println!("results written to {path}");
    }
    Ok(())
}

/// Evaluates `program` on dev and makes its table row (`compile` usage plus the evaluation's).
async fn evaluate_row<P: TypedModule<Output = ExtractOrderIdOutput> + 'static>(
    name: &'static str,
    program: P,
    compile: dspy::usage::ModelUsage,
    compile_s: f64,
    evaluate: &Evaluate<Reads<ExtractOrderIdOutput>>,
) -> Result<Row, Box<dyn std::error::Error>> {
    use dspy::module::ModuleExt;
    let started = Instant::now();
    let (result, used) = dspy::usage::track(evaluate.run(&program)).await;
    let result = result?;
    let eval_s = started.elapsed().as_secs_f64();
    let used = used.total();
    println!(
        "== {name}: {:.1}% on dev ({} demos; compile {compile_s:.1} s, {} LM calls; eval {eval_s:.1} s, {} LM calls)",
        result.score,
        program.named_predictors().iter().map(|(_, p)| p.demos().len()).sum::<usize>(),
        compile.calls,
        used.calls
    );
    Ok(Row {
        name,
        error: None,
        score: result.score,
        calls: compile.calls + used.calls,
        tokens: compile.total_tokens + used.total_tokens,
        compile_s,
        eval_s,
        save: Box::new(move |path| program.save(path)),
    })
}

/// [`evaluate_row`] for a compilation that may have failed: a failure is a row with its error.
async fn row_or_failure<P: TypedModule<Output = ExtractOrderIdOutput> + 'static>(
    name: &'static str,
    compiled: dspy::Result<P>,
    compile: dspy::usage::ModelUsage,
    started: Instant,
    evaluate: &Evaluate<Reads<ExtractOrderIdOutput>>,
) -> Result<Row, Box<dyn std::error::Error>> {
    let compile_s = started.elapsed().as_secs_f64();
    match compiled {
        Ok(program) => evaluate_row(name, program, compile, compile_s, evaluate).await,
        Err(e) => {
            println!("== {name}: compile failed after {compile_s:.1} s, {} LM calls: {e}", compile.calls);
            Ok(Row { name, error: Some(e.to_string()), save: Box::new(|_| Ok(())), score: 0.0, calls: compile.calls, tokens: compile.total_tokens, compile_s, eval_s: 0.0 })
        }
    }
}

/// Calls made to the simulated LM (it is handed to the settings by value, so it counts here).
static SIM_CALLS: AtomicU64 = AtomicU64::new(0);

/// A stand-in for a small model: with demos in the prompt it copies the order ID (the
/// `AB-1234` token) in the ChatAdapter format; without, it rambles in the wrong format — the
/// behaviour of SmolLM2-135M on this task.
#[derive(Debug)]
struct SimLm;

#[async_trait::async_trait]
impl LanguageModel for SimLm {
    fn model(&self) -> &str {
        "sim/order-ids"
    }

    async fn complete(&self, request: LmRequest) -> std::result::Result<LmResponse, LmError> {
        SIM_CALLS.fetch_add(1, Ordering::SeqCst);
        let users: Vec<String> = request.messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.text()).collect();
        let last = users.last().cloned().unwrap_or_default();
        let id = last
            .split(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | '?' | '!'))
            .find(|w| {
                let b = w.as_bytes();
                b.len() == 7 && b[..2].iter().all(u8::is_ascii_uppercase) && b[2] == b'-' && b[3..].iter().all(u8::is_ascii_digit)
            })
            .unwrap_or("none");
        let text = if users.len() > 1 {
            format!("[[ ## order_id ## ]]\n{id}\n\n[[ ## completed ## ]]")
        } else {
            format!("Sure! Here is some information about your order {id} and what to do next.")
        };
        let usage = Usage { prompt_tokens: last.len() as u64 / 4, completion_tokens: text.len() as u64 / 4, total_tokens: (last.len() + text.len()) as u64 / 4, cost: None };
        dspy::usage::record(self.model(), &usage, false);
        let mut response = LmResponse::from_texts(self.model(), [text]);
        response.usage = usage;
        Ok(response)
    }
}
