//! What the optimizer examples share: a toy task whose rules a real LM can learn from demos or
//! feedback, a two-step program, and a simulated LM that needs no key.
//!
//! The task: `"[alpha] What is the transform of code 17?"`; each tag has its own rule (alpha
//! doubles the code, beta adds 7, gamma squares it modulo 97, delta gives 100 + 3 × code).
//!
//! The simulated LM answers right when its instructions mention the "category rule" or a demo
//! with the same tag is in the prompt, and by luck (25%) otherwise. Asked to propose an
//! instruction (MIPROv2's proposer, GEPA's reflection) it sometimes names the rule — more often
//! when what it is shown (task demos, feedback) points at it. All draws are hashes of the
//! request, so runs are reproducible. It times itself, so benchmarks can subtract LM time.
#![allow(dead_code)] // each example uses a part

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dspy::evaluate::{Metric, Score};
use dspy::prelude::*;
use dspy::trace::TraceEntry;
use dspy::{FormatOutputs, LmError, LmRequest, LmResponse, Role, Usage};
use serde_json::{Map, Value, json};

/// The phrase that makes the simulated LM follow the rules.
pub const KEYWORD: &str = "category rule";
const CATEGORIES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

/// Each tag's rule, in words (what the metric's feedback says).
pub fn rule(category: &str) -> &'static str {
    match category {
        "alpha" => "double the code",
        "beta" => "add 7 to the code",
        "gamma" => "square the code, then take the remainder modulo 97",
        _ => "multiply the code by 3, then add 100",
    }
}

/// The correct answer.
pub fn gold(category: &str, n: u64) -> String {
    match category {
        "alpha" => (n * 2).to_string(),
        "beta" => (n + 7).to_string(),
        "gamma" => ((n * n) % 97).to_string(),
        _ => (100 + n * 3).to_string(),
    }
}

/// `n` examples, tags in turn, codes from `offset`.
pub fn dataset(n: usize, offset: u64) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let cat = CATEGORIES[i % CATEGORIES.len()];
            let code = 11 + (offset + i as u64 * 37) % 83;
            Example::new()
                .with("question", format!("[{cat}] What is the transform of code {code}?"))
                .with("answer", gold(cat, code))
                .with_inputs(["question"])
        })
        .collect()
}

fn parse_question(q: &str) -> Option<(String, u64)> {
    let start = q.find('[')? + 1;
    let end = q[start..].find(']')? + start;
    let code: String = q[end..].chars().filter(|c| c.is_ascii_digit()).collect();
    Some((q[start..end].to_string(), code.parse().ok()?))
}

/// Exact match on `answer`, with feedback that states the tag's rule (what GEPA reflects on).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnswerMatch;

impl Metric for AnswerMatch {
    fn score(&self, example: &Example, prediction: &Prediction, _trace: Option<&[TraceEntry]>) -> Score {
        let expected = example.get_str("answer").unwrap_or_default();
        let got = prediction.get_str("answer").unwrap_or_default().trim().to_string();
        if got == expected {
            return Score::with_feedback(1.0, "Correct.");
        }
        let cat = example.get_str("question").and_then(parse_question).map(|(c, _)| c).unwrap_or_default();
        Score::with_feedback(0.0, format!("Incorrect: expected {expected}, got {got}. The {KEYWORD} for [{cat}]: {}.", rule(&cat)))
    }

    fn name(&self) -> String {
        "answer_match".into()
    }
}

signature! {
    /// Name the tag of the question.
    pub Classify = "question -> category"
}
signature! {
    /// Answer the question.
    pub Solve = "question, category -> answer"
}

/// A two-step program: find the tag, then answer.
#[module]
pub struct TwoStep {
    /// Names the tag.
    pub classify: Predict<Classify>,
    /// Answers.
    pub answer: Predict<Solve>,
}

#[module]
impl TwoStep {
    async fn forward(&self, question: String) -> Result<Prediction> {
        let tag = self.classify.call(ClassifyInput { question: question.clone() }).await?;
        let out = self.answer.call(SolveInput { question, category: tag.category.clone() }).await?;
        Ok(out.prediction().clone())
    }
}

impl TwoStep {
    /// A fresh program.
    pub fn new() -> Self {
        TwoStep { classify: Predict::new(), answer: Predict::new() }
    }
}

/// FNV-1a over the parts, avalanched, as a number in [0, 1).
fn unit(parts: &[&[u8]]) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn sections(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[[ ## ") {
        let after = &rest[start + 6..];
        let Some(end) = after.find(" ## ]]") else { break };
        let body_start = &after[end + 6..];
        let next = body_start.find("[[ ## ").unwrap_or(body_start.len());
        let mut body = &body_start[..next];
        if let Some(cut) = body.find("\n\nRespond with") {
            body = &body[..cut];
        }
        out.push((after[..end].to_string(), body.trim().to_string()));
        rest = &body_start[next..];
    }
    out
}

fn output_fields(system: &str) -> Vec<String> {
    let Some(start) = system.find("Your output fields are:") else { return Vec::new() };
    let section = &system[start..];
    let end = section.find("All interactions will be structured").unwrap_or(section.len());
    section[..end]
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let dot = l.find(". `")?;
            l[..dot].chars().all(|c| c.is_ascii_digit()).then_some(())?;
            let rest = &l[dot + 3..];
            Some(rest[..rest.find('`')?].to_string())
        })
        .collect()
}

const GENERIC: [&str; 4] = [
    "Answer the question.",
    "Read the question carefully and give the answer.",
    "Think step by step, then answer with a number.",
    "You are a precise assistant. Provide the final answer only.",
];

/// The simulated LM.
#[derive(Debug, Default)]
pub struct SimLm {
    calls: AtomicU64,
    nanos: AtomicU64,
}

impl SimLm {
    /// A new simulated LM.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Time spent answering so far.
    pub fn time_in_lm(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    fn proposal(key: &[u8], salt: &[u8], rate: f64) -> String {
        let u = unit(&[key, salt, b"proposal"]);
        if u < rate {
            format!("Apply the {KEYWORD} that matches each item's tag, then give only the final number.")
        } else {
            GENERIC[((u * 1000.0) as usize) % GENERIC.len()].to_string()
        }
    }

    fn respond(&self, request: &LmRequest, index: u32) -> (Map<String, Value>, bool) {
        let system = request.messages.iter().find(|m| m.role == Role::System).map(|m| m.content.text()).unwrap_or_default();
        let users: Vec<String> = request.messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.text()).collect();
        let last = users.last().cloned().unwrap_or_default();
        let json_mode = last.contains("Respond with a JSON object");
        let fields = output_fields(&system);
        let inputs: Map<String, Value> = sections(&last).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let get = |k: &str| inputs.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let salt = format!("{:?}|{:?}|{index}", request.config.rollout_id, request.config.temperature.map(f64::to_bits));
        let has = |f: &str| fields.iter().any(|x| x == f);
        let key = last.as_bytes();
        let mut out = Map::new();
        if has("proposed_prefix_for_output_field") {
            let rate = if get("attempted_instructions").contains(KEYWORD) { 0.6 } else { 0.3 };
            out.insert("proposed_instruction".into(), json!(Self::proposal(key, salt.as_bytes(), rate)));
            out.insert("proposed_prefix_for_output_field".into(), json!("Answer:"));
        } else if has("proposed_instruction") {
            let demos = get("task_demos");
            let rate = if !demos.is_empty() && demos != "No task demos provided." { 0.5 } else { 0.3 };
            out.insert("proposed_instruction".into(), json!(Self::proposal(key, salt.as_bytes(), rate)));
        } else if has("program_description") {
            out.insert("program_description".into(), json!("It answers questions about tagged codes in two steps."));
        } else if has("module_description") {
            out.insert("module_description".into(), json!("This module handles one step of the pipeline."));
        } else if has("summary") {
            out.insert("summary".into(), json!("The questions ask for transforms of codes tagged with a category."));
        } else if has("observations") {
            let complete = inputs.contains_key("prior_observations") && unit(&[key, b"complete"]) < 0.5;
            out.insert("observations".into(), json!(if complete { "COMPLETE" } else { "Each question has a category tag and a code. " }));
        } else if has("new_instruction") {
            let rate = if get("examples_with_feedback").contains(KEYWORD) { 0.85 } else { 0.3 };
            out.insert("new_instruction".into(), json!(Self::proposal(key, salt.as_bytes(), rate)));
        } else if has("module_advice") {
            let names: Vec<String> = serde_json::from_str(&get("module_names")).unwrap_or_default();
            let advice = format!("If the module receives a tagged code, then it should apply the {KEYWORD} for that tag.");
            out.insert("discussion".into(), json!("The worse run ignored the tag."));
            out.insert("module_advice".into(), Value::Object(names.into_iter().map(|n| (n, json!(advice.clone()))).collect()));
        } else {
            let question = get("question");
            let Some((cat, code)) = parse_question(&question) else {
                fields.iter().for_each(|f| {
                    out.insert(f.clone(), json!("unknown"));
                });
                return (out, json_mode);
            };
            let tag = format!("[{cat}]");
            let knows = system.contains(KEYWORD) || users[..users.len().saturating_sub(1)].iter().any(|u| u.contains(&tag));
            let lucky = unit(&[question.as_bytes(), salt.as_bytes(), b"luck"]) < 0.25;
            for f in &fields {
                let v = match f.as_str() {
                    "answer" => json!(if knows || lucky { gold(&cat, code) } else { code.to_string() }),
                    "category" => json!(cat),
                    "reasoning" => json!(format!("The code is {code} and the tag is {tag}.")),
                    _ => json!("unknown"),
                };
                out.insert(f.clone(), v);
            }
        }
        (out, json_mode)
    }
}

#[async_trait::async_trait]
impl LanguageModel for SimLm {
    fn model(&self) -> &str {
        "sim/prompt-sensitive"
    }

    async fn complete(&self, request: LmRequest) -> std::result::Result<LmResponse, LmError> {
        let started = Instant::now();
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut texts = Vec::new();
        for i in 0..request.config.n.unwrap_or(1).max(1) {
            let (fields, json_mode) = self.respond(&request, i);
            texts.push(if json_mode { JSONAdapter::new().format_outputs(&fields) } else { ChatAdapter::new().format_outputs(&fields) });
        }
        let prompt_tokens: u64 = request.messages.iter().map(|m| m.content.text().len() as u64 / 4).sum();
        let completion_tokens: u64 = texts.iter().map(|t| t.len() as u64 / 4).sum();
        let usage = Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens, cost: None };
        dspy::usage::record(self.model(), &usage, false);
        let mut response = LmResponse::from_texts(self.model(), texts);
        response.usage = usage;
        self.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::SeqCst);
        Ok(response)
    }
}

/// The LM to use, and the simulated LM behind it when there is no real one.
pub type SelectedLm = (Arc<dyn LanguageModel>, Option<Arc<SimLm>>);

/// The LM named by `DSPY_LM` (real), else the simulated one (and says which).
pub fn select_lm() -> std::result::Result<SelectedLm, Box<dyn std::error::Error>> {
    if std::env::var_os("DSPY_LM").is_some() {
        let lm = LM::from_env()?;
        println!("Using {} at {} (from DSPY_LM) as task, prompt and reflection model.", lm.model(), lm.url());
        return Ok((Arc::new(lm), None));
    }
    println!("DSPY_LM is not set: using the simulated LM defined in examples/optimizer_sim (no API key, no network).");
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
