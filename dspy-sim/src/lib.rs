//! The simulated task and LM that the optimizer tests and examples share: a deterministic LM
//! whose accuracy truly depends on the prompt, and which also plays the prompt model /
//! reflection LM of the instruction-proposing optimizers. It needs no key and no network, and it
//! times itself, so benchmarks can subtract LM time. Not published: a dev-dependency only.
//!
//! The task: questions `"[alpha] What is the transform of code 17?"` in four categories, each
//! with its own rule (alpha doubles the code, beta adds 7, gamma squares it modulo 97, delta
//! gives 100 + 3 × code). The LM answers correctly when
//! * the instructions contain the task keyword ([`KEYWORD`]), or
//! * a demo of the same category is in the prompt;
//!
//! otherwise it is right only by luck (`base_accuracy`, drawn per question, rollout id and
//! temperature, so resampling at another rollout or temperature can change the outcome).
//!
//! Asked to propose instructions (COPRO, MIPROv2, GEPA) or advice (SIMBA), it sometimes
//! includes the keyword: more often when what it is shown points at it (GEPA's feedback,
//! SIMBA's contrast of a better and a worse run, MIPROv2's task demos, COPRO's best attempts).
//! Every draw is a hash of the request, so runs are reproducible.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dspy_core::evaluate::{Metric, Score};
use dspy_core::trace::TraceEntry;
use dspy_core::{ChatAdapter, Example, FormatOutputs, JSONAdapter, LanguageModel, LmError, LmRequest, LmResponse, Prediction, Role, Usage};
use serde_json::{Map, Value, json};

/// The phrase that makes the task LM follow the rules.
pub const KEYWORD: &str = "category rule";
/// The four categories.
pub const CATEGORIES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

/// Each category's rule, in words (what the metric's feedback says).
pub fn rule(category: &str) -> &'static str {
    match category {
        "alpha" => "double the code",
        "beta" => "add 7 to the code",
        "gamma" => "square the code, then take the remainder modulo 97",
        _ => "multiply the code by 3, then add 100",
    }
}

/// The correct answer for a category and a code.
pub fn gold(category: &str, n: u64) -> String {
    match category {
        "alpha" => (n * 2).to_string(),
        "beta" => (n + 7).to_string(),
        "gamma" => ((n * n) % 97).to_string(),
        _ => (100 + n * 3).to_string(),
    }
}

/// `n` examples (`question -> answer`), categories in turn, codes from `offset`.
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

pub fn parse_question(q: &str) -> Option<(String, u64)> {
    let start = q.find('[')? + 1;
    let end = q[start..].find(']')? + start;
    let cat = q[start..end].to_string();
    let code: String = q[end..].chars().filter(|c| c.is_ascii_digit()).collect();
    Some((cat, code.parse().ok()?))
}

/// Exact match on `answer`, with feedback that states the category's rule (what GEPA's
/// reflection reads).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnswerMatch;

impl Metric for AnswerMatch {
    fn score(&self, example: &Example, prediction: &Prediction, _trace: Option<&[TraceEntry]>) -> Score {
        let expected = example.get_str("answer").unwrap_or_default();
        let got = prediction.get_str("answer").unwrap_or_default().trim().to_string();
        if got == expected {
            Score::with_feedback(1.0, "Correct.")
        } else {
            let cat = example.get_str("question").and_then(parse_question).map(|(c, _)| c).unwrap_or_default();
            Score::with_feedback(0.0, format!("Incorrect: expected {expected}, got {got}. The {KEYWORD} for [{cat}]: {}.", rule(&cat)))
        }
    }

    fn name(&self) -> String {
        "answer_match".into()
    }
}

/// FNV-1a over the parts, as a number in [0, 1).
fn unit(parts: &[&[u8]]) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Final avalanche so nearby inputs spread.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The simulated LM. Records its calls (and the time spent in it, for framework-time
/// benchmarks) and reports usage like a real client.
#[derive(Debug)]
pub struct SimLm {
    /// Chance of a right answer without the keyword or a same-category demo.
    pub base_accuracy: f64,
    /// Chance that a proposal includes the keyword with no hint pointing at it.
    pub proposal_rate: f64,
    calls: AtomicU64,
    nanos: AtomicU64,
}

impl Default for SimLm {
    fn default() -> Self {
        SimLm { base_accuracy: 0.25, proposal_rate: 0.3, calls: AtomicU64::new(0), nanos: AtomicU64::new(0) }
    }
}

/// The sections `[[ ## name ## ]]` of a message, in order.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[[ ## ") {
        let after = &rest[start + 6..];
        let Some(end) = after.find(" ## ]]") else { break };
        let name = after[..end].to_string();
        let body_start = &after[end + 6..];
        let next = body_start.find("[[ ## ").unwrap_or(body_start.len());
        let mut body = &body_start[..next];
        if let Some(cut) = body.find("\n\nRespond with") {
            body = &body[..cut];
        }
        out.push((name, body.trim().to_string()));
        rest = &body_start[next..];
    }
    out
}

/// The output field names from the system message (`Your output fields are:` list).
fn output_fields(system: &str) -> Vec<String> {
    let Some(start) = system.find("Your output fields are:") else { return Vec::new() };
    let section = &system[start..];
    let end = section.find("All interactions will be structured").unwrap_or(section.len());
    section[..end]
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let dot = l.find(". `")?;
            if !l[..dot].chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let rest = &l[dot + 3..];
            Some(rest[..rest.find('`')?].to_string())
        })
        .collect()
}

const GENERIC: [&str; 5] = [
    "Answer the question.",
    "Read the question carefully and give the answer.",
    "Think step by step, then answer with a number.",
    "You are a precise assistant. Provide the final answer only.",
    "Solve the task as well as you can.",
];

impl SimLm {
    /// A simulated LM with the default rates.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A simulated LM with these rates.
    pub fn with_rates(base_accuracy: f64, proposal_rate: f64) -> Arc<Self> {
        Arc::new(SimLm { base_accuracy, proposal_rate, ..Self::default() })
    }

    /// Calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Time spent inside the LM so far.
    pub fn time_in_lm(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    fn proposal(&self, key: &[u8], salt: &[u8], rate: f64) -> String {
        let u = unit(&[key, salt, b"proposal"]);
        if u < rate {
            format!("Apply the {KEYWORD} that matches each item's tag, then give only the final number.")
        } else {
            GENERIC[((u * 1000.0) as usize) % GENERIC.len()].to_string()
        }
    }

    fn respond(&self, request: &LmRequest, index: u32) -> (Map<String, Value>, bool) {
        let messages = &request.messages;
        let system = messages.iter().find(|m| m.role == Role::System).map(|m| m.content.text()).unwrap_or_default();
        let users: Vec<String> = messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.text()).collect();
        let last = users.last().cloned().unwrap_or_default();
        let json_mode = last.contains("Respond with a JSON object");
        let fields = output_fields(&system);
        let inputs: Map<String, Value> = sections(&last).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let get = |k: &str| inputs.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let salt = format!(
            "{:?}|{:?}|{index}",
            request.config.rollout_id,
            request.config.temperature.map(f64::to_bits)
        );
        let key = last.as_bytes();
        let has = |f: &str| fields.iter().any(|x| x == f);
        let mut out = Map::new();
        if has("proposed_prefix_for_output_field") {
            // COPRO: attempts that already scored well with the keyword make it likelier.
            let attempts = get("attempted_instructions");
            let rate = if attempts.contains(KEYWORD) { 0.6 } else { self.proposal_rate };
            out.insert("proposed_instruction".into(), json!(self.proposal(key, salt.as_bytes(), rate)));
            out.insert("proposed_prefix_for_output_field".into(), json!("Answer:"));
        } else if has("proposed_instruction") {
            // MIPROv2: grounded in task demos, it finds the rule more often.
            let demos = get("task_demos");
            let rate = if !demos.is_empty() && demos != "No task demos provided." { 0.5 } else { self.proposal_rate };
            let mut text = self.proposal(key, salt.as_bytes(), rate);
            if get("tip").contains("persona") {
                text = format!("You are a careful analyst. {text}");
            }
            out.insert("proposed_instruction".into(), json!(format!("Proposed Instruction: {text}")));
        } else if has("program_description") {
            out.insert("program_description".into(), json!("It answers questions about tagged codes."));
        } else if has("module_description") {
            out.insert("module_description".into(), json!("This module produces the final answer."));
        } else if has("summary") {
            out.insert("summary".into(), json!("Summary: The questions ask for transforms of codes tagged with a category."));
        } else if has("observations") {
            let complete = inputs.contains_key("prior_observations") && unit(&[key, b"complete"]) < 0.5;
            out.insert("observations".into(), json!(if complete { "COMPLETE" } else { "Each question has a category tag and a code. " }));
        } else if has("new_instruction") {
            // GEPA: feedback that names the rule is carried into the new instruction.
            let shown = get("examples_with_feedback");
            let rate = if shown.contains(KEYWORD) { 0.85 } else { self.proposal_rate };
            out.insert("new_instruction".into(), json!(self.proposal(key, salt.as_bytes(), rate)));
        } else if has("module_advice") {
            // SIMBA: contrasting a better and a worse run often reveals the rule.
            let names: Vec<String> = serde_json::from_str(&get("module_names")).unwrap_or_default();
            let better: f64 = get("better_reward_value").parse().unwrap_or(0.0);
            let worse: f64 = get("worse_reward_value").parse().unwrap_or(0.0);
            let rate = if better > worse { 0.7 } else { self.proposal_rate };
            let advice = if unit(&[key, salt.as_bytes(), b"advice"]) < rate {
                format!("If the module receives a tagged code, then it should apply the {KEYWORD} for that tag.")
            } else {
                "If the module receives a question, then it should answer concisely.".to_string()
            };
            let map: Map<String, Value> = names.into_iter().map(|n| (n, json!(advice.clone()))).collect();
            out.insert("discussion".into(), json!("The worse run ignored the tag."));
            out.insert("module_advice".into(), Value::Object(map));
        } else {
            // The task.
            let question = get("question");
            let Some((cat, code)) = parse_question(&question) else {
                for f in &fields {
                    out.insert(f.clone(), json!("unknown"));
                }
                return (out, json_mode);
            };
            let tag = format!("[{cat}]");
            let demo_of_category = users[..users.len().saturating_sub(1)].iter().any(|u| u.contains(&tag));
            let knows = system.contains(KEYWORD) || demo_of_category;
            let lucky = unit(&[question.as_bytes(), salt.as_bytes(), b"luck"]) < self.base_accuracy;
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

    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
        let started = Instant::now();
        self.calls.fetch_add(1, Ordering::SeqCst);
        let n = request.config.n.unwrap_or(1).max(1);
        let mut texts = Vec::with_capacity(n as usize);
        for i in 0..n {
            let (fields, json_mode) = self.respond(&request, i);
            let text = if json_mode { JSONAdapter::new().format_outputs(&fields) } else { ChatAdapter::new().format_outputs(&fields) };
            texts.push(text);
        }
        let prompt_tokens: u64 = request.messages.iter().map(|m| m.content.text().len() as u64 / 4).sum();
        let completion_tokens: u64 = texts.iter().map(|t| t.len() as u64 / 4).sum();
        let usage = Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens, cost: None };
        dspy_core::usage::record(self.model(), &usage, false);
        let mut response = LmResponse::from_texts(self.model(), texts);
        response.usage = usage;
        self.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::SeqCst);
        Ok(response)
    }
}

/// The share of `examples` a program answers right.
pub async fn accuracy<M: dspy_core::Module + ?Sized>(program: &M, examples: &[Example]) -> f64 {
    let mut right = 0;
    for ex in examples {
        if let Ok(p) = program.forward(&ex.inputs()).await
            && AnswerMatch.score(ex, &p, None).value == 1.0
        {
            right += 1;
        }
    }
    right as f64 / examples.len().max(1) as f64
}

/// A two-predictor program: `classify` (question -> category), then `answer`
/// (question, category -> answer); only `answer` needs the rule.
#[derive(Clone)]
pub struct TwoStep {
    /// Names the tag.
    pub classify: dspy_core::Predict,
    /// Answers.
    pub answer: dspy_core::Predict,
}

impl TwoStep {
    /// Both predictors with the configured LM (`.with_lm(lm)` to give them one).
    pub fn new() -> Self {
        TwoStep {
            classify: dspy_core::Predict::parse("question -> category").expect("a valid signature"),
            answer: dspy_core::Predict::parse("question, category -> answer").expect("a valid signature"),
        }
    }
}

impl Default for TwoStep {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl dspy_core::Module for TwoStep {
    async fn forward(&self, inputs: &Example) -> dspy_core::Result<Prediction> {
        let tag = self.classify.forward(inputs).await?;
        let next = inputs.clone().with("category", tag.get_str("category").unwrap_or_default());
        self.answer.forward(&next).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn dspy_core::Predictor)> {
        vec![("classify".into(), &self.classify as &dyn dspy_core::Predictor), ("answer".into(), &self.answer as &dyn dspy_core::Predictor)]
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn dspy_core::Predictor)> {
        vec![
            ("classify".into(), &mut self.classify as &mut dyn dspy_core::Predictor),
            ("answer".into(), &mut self.answer as &mut dyn dspy_core::Predictor),
        ]
    }
}
