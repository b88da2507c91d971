//! Fine-tuning quality that comes from the optimizer's choices, not from the test double: the
//! "fine-tuned model" here is a learner that only knows what the training file teaches it. For
//! each tag it adopts the rule (one of the four tag rules, or echoing the code, which is what the
//! untrained model does when it guesses) that the most training records follow. Trained on the
//! runs the metric passed it learns the rules; trained on every run it learns the echo.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dspy_core::{ChatAdapter, FormatOutputs, LanguageModel, LmError, LmRequest, LmResponse, Module, Predict, Predictor};
use dspy_optimizers::bootstrap_finetune::{FinetuneJob, FinetuneRequest, Finetuner};
use dspy_optimizers::{BetterTogether, BootstrapFewShot, BootstrapFinetune, FinetuneError, Optimizer};
use serde_json::{Map, Value, json};
use dspy_sim::{AnswerMatch, CATEGORIES, SimLm, accuracy, dataset, gold, parse_question};

/// A rule the learner can adopt: one tag's rule, or echoing the code.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    Tag(&'static str),
    Echo,
}

impl Rule {
    fn apply(self, code: u64) -> String {
        match self {
            Rule::Tag(tag) => gold(tag, code),
            Rule::Echo => code.to_string(),
        }
    }
}

/// The text of `[[ ## name ## ]]` in a ChatAdapter message.
fn field(text: &str, name: &str) -> Option<String> {
    let marker = format!("[[ ## {name} ## ]]");
    let rest = &text[text.find(&marker)? + marker.len()..];
    let end = [rest.find("[[ ## "), rest.find("\n\nRespond with")].into_iter().flatten().min().unwrap_or(rest.len());
    Some(rest[..end].trim().to_string())
}

/// What one training file teaches: per tag, the rule most records follow (the echo when the
/// file says nothing about a tag).
fn learn(jsonl: &str) -> HashMap<String, Rule> {
    let candidates = CATEGORIES.map(Rule::Tag).into_iter().chain([Rule::Echo]).collect::<Vec<_>>();
    let mut votes: HashMap<String, Vec<usize>> = HashMap::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let record: Value = serde_json::from_str(line).expect("a JSONL record");
        let messages = record["messages"].as_array().expect("messages");
        // The record's own call is its last user message and the assistant's answer to it.
        let (Some(user), Some(assistant)) = (messages.iter().rev().find(|m| m["role"] == "user"), messages.last().filter(|m| m["role"] == "assistant")) else {
            continue;
        };
        let (Some(question), Some(answer)) = (field(user["content"].as_str().unwrap_or_default(), "question"), field(assistant["content"].as_str().unwrap_or_default(), "answer")) else {
            continue;
        };
        let Some((tag, code)) = parse_question(&question) else { continue };
        let counts = votes.entry(tag).or_insert_with(|| vec![0; candidates.len()]);
        for (i, rule) in candidates.iter().enumerate() {
            counts[i] += usize::from(rule.apply(code) == answer);
        }
    }
    votes
        .into_iter()
        .map(|(tag, counts)| {
            let best = (0..candidates.len()).rev().max_by_key(|&i| counts[i]).unwrap_or(candidates.len() - 1);
            (tag, candidates[best])
        })
        .collect()
}

/// The "fine-tuned model": answers each question with the rule it learned for the tag.
#[derive(Debug)]
struct Learned(HashMap<String, Rule>);

#[async_trait::async_trait]
impl LanguageModel for Learned {
    fn model(&self) -> &str {
        "learned"
    }

    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
        let last = request.messages.last().map(|m| m.content.text()).unwrap_or_default();
        let question = field(&last, "question").unwrap_or_default();
        let answer = parse_question(&question).map_or_else(|| "unknown".to_string(), |(tag, code)| self.0.get(&tag).copied().unwrap_or(Rule::Echo).apply(code));
        let mut out = Map::new();
        out.insert("answer".into(), json!(answer));
        Ok(LmResponse::from_texts("learned", [ChatAdapter::new().format_outputs(&out)]))
    }
}

/// Trains a [`Learned`] model on the file the optimizer wrote.
#[derive(Debug, Clone, Default)]
struct Learner {
    models: Arc<Mutex<HashMap<String, HashMap<String, Rule>>>>,
}

#[async_trait::async_trait]
impl Finetuner for Learner {
    async fn finetune(&self, request: FinetuneRequest<'_>) -> Result<FinetuneJob, FinetuneError> {
        let text = std::fs::read_to_string(request.data).expect("the training file");
        let mut models = self.models.lock().unwrap();
        let name = format!("learned-{}", models.len());
        models.insert(name.clone(), learn(&text));
        Ok(FinetuneJob { model: name, job_id: None, file_id: None })
    }

    fn lm_for(&self, model: &str) -> Result<Arc<dyn LanguageModel>, FinetuneError> {
        let rules = self.models.lock().unwrap().get(model).cloned().unwrap_or_default();
        Ok(Arc::new(Learned(rules)))
    }
}

#[tokio::test]
async fn bootstrap_finetune_learns_from_the_runs_the_metric_passed() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, holdout) = (dataset(80, 0), dataset(80, 900));
    let before = accuracy(&student, &holdout).await;
    let dir = tempfile::tempdir().unwrap();
    let finetune = |filter: bool| BootstrapFinetune::new().finetuner(Learner::default()).data_dir(dir.path()).filter_by_metric(filter).progress(false);

    let filtered = finetune(true).compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let unfiltered = finetune(false).compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let (after, careless) = (accuracy(&filtered.program, &holdout).await, accuracy(&unfiltered.program, &holdout).await);
    println!("BootstrapFinetune: untrained {before:.3}; trained on passing runs {after:.3}; on every run {careless:.3}");
    assert!(filtered.program.lm().unwrap().model().starts_with("learned"));
    // The untrained model guesses (about a quarter right); the passing runs teach every rule.
    assert!(after >= 0.95 && after >= before + 0.5, "before {before}, after {after}");
    // Every run, mostly wrong guesses, teaches the echo: the filter is what made the gain.
    assert!(careless <= before, "before {before}, unfiltered {careless}");
}

#[tokio::test]
async fn better_together_fine_tunes_on_what_the_prompt_step_taught() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, valset, holdout) = (dataset(24, 0), dataset(16, 400), dataset(80, 900));
    let dir = tempfile::tempdir().unwrap();
    let optimizer = BetterTogether::with_optimizers(
        BootstrapFewShot::new().max_bootstrapped_demos(4).max_labeled_demos(4).progress(false),
        BootstrapFinetune::new().finetuner(Learner::default()).data_dir(dir.path()).progress(false),
    )
    .strategy("p -> w")
    .progress(false);
    let compiled = optimizer.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    let report = &compiled.report;
    println!("{report}");
    let scores: Vec<f64> = report.trials.iter().map(|t| t.score).collect();
    // original < prompt step (demos make the simulated LM follow the rules) <= weight step.
    assert!(scores[0] < scores[1] && scores[1] <= scores[2], "{scores:?}");
    assert_eq!(report.best_trial, Some(2));
    // The weights learned the rules from the prompt step's runs: without its demos, the
    // fine-tuned model alone still solves the held-out questions.
    let mut weights_only = compiled.program.clone();
    weights_only.set_demos(Vec::new());
    let alone = accuracy(&weights_only, &holdout).await;
    let original = accuracy(&student, &holdout).await;
    println!("BetterTogether p -> w: original {original:.3}, fine-tuned model without demos {alone:.3}");
    assert!(alone >= 0.95 && alone >= original + 0.5, "original {original}, weights alone {alone}");
}
