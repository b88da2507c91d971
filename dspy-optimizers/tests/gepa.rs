//! GEPA raises the metric on a held-out split, reproducibly, within its metric-call budget.

use dspy_core::{Module, Predict, Predictor};
use dspy_optimizers::{AutoMode, Gepa, Optimizer};
use dspy_sim::{AnswerMatch, KEYWORD, SimLm, accuracy, dataset};

fn summary(c: &dspy_optimizers::Compiled<Predict>) -> (String, Option<f64>, Vec<f64>, serde_json::Value) {
    (
        c.program.signature().instructions().to_string(),
        c.report.best_score,
        c.report.trials.iter().map(|t| t.score).collect(),
        c.report.extra["pareto_frontier"].clone(),
    )
}

#[tokio::test]
async fn gepa_light_raises_held_out_accuracy_and_is_reproducible() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, valset, holdout) = (dataset(30, 0), dataset(20, 300), dataset(80, 900));
    let baseline = accuracy(&student, &holdout).await;
    let gepa = Gepa::new().auto(AutoMode::Light).reflection_lm(lm.clone()).progress(false);
    let first = gepa.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    println!("GEPA light: baseline {baseline:.3} -> {after:.3}; LM calls {}; metric calls {}", first.report.lm_calls, first.report.metric_calls);
    println!("{}", first.report);
    let extra = &first.report.extra;
    println!("budget {} used {} iterations {} accepted {} rejected {} skipped {} merges {}", extra["max_metric_calls"], extra["total_metric_calls"], extra["iterations"], extra["accepted"], extra["rejected"], extra["skipped"], extra["merges_accepted"]);
    assert!(first.program.signature().instructions().contains(KEYWORD));
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");
    // DSPy's auto budget for 1 predictor, light, 20 validation examples: 460 metric calls.
    assert_eq!(extra["max_metric_calls"], 460);
    // GEPA counts exactly the metric calls made; it stops at the first iteration past the budget.
    assert_eq!(extra["total_metric_calls"], first.report.metric_calls);
    assert!(first.report.metric_calls >= 460 && first.report.metric_calls < 460 + 2 * 3 + 20);
    assert!(!extra["pareto_frontier"]["programs"].as_array().unwrap().is_empty());

    let second = gepa.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    assert_eq!(summary(&second), summary(&first));
}

#[tokio::test]
async fn gepa_requires_a_budget_and_respects_a_hard_cap() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let (trainset, valset) = (dataset(12, 0), dataset(8, 300));
    let err = Gepa::new().reflection_lm(lm.clone()).compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap_err();
    assert!(err.to_string().contains("Exactly one of max_metric_calls, max_full_evals, auto must be set"));
    // `max_metric_calls` is both GEPA's budget and a hard cap: never passed.
    let capped = Gepa::new().reflection_lm(lm.clone()).max_metric_calls(50).progress(false);
    let c = capped.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    assert!(c.report.metric_calls <= 50, "{}", c.report.metric_calls);
    assert_eq!(c.report.budget.max_metric_calls, Some(50));
}

/// A world where two predictors each fix half of the task and break the other half alone: the
/// first step's rule helps [alpha]/[beta], the second step's helps [gamma]/[delta]. Siblings
/// that each found one rule sit on the Pareto frontier side by side; merging them solves all.
mod merge_world {
    use dspy_core::evaluate::{Metric, Score};
    use dspy_core::trace::TraceEntry;
    use dspy_core::{ChatAdapter, Example, FormatOutputs, JSONAdapter, LanguageModel, LmError, LmRequest, LmResponse, Module, Predict, Prediction, Predictor, Role};
    use serde_json::{Map, json};

    #[derive(Debug, Default)]
    pub struct Lm;

    fn input(last: &str, name: &str) -> String {
        let marker = format!("[[ ## {name} ## ]]");
        let Some(start) = last.find(&marker) else { return String::new() };
        let rest = &last[start + marker.len()..];
        let end = [rest.find("[[ ## "), rest.find("\n\nRespond with")].into_iter().flatten().min().unwrap_or(rest.len());
        rest[..end].trim().to_string()
    }

    #[async_trait::async_trait]
    impl LanguageModel for Lm {
        fn model(&self) -> &str {
            "merge-world"
        }

        async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
            let system = request.messages.iter().find(|m| m.role == Role::System).map(|m| m.content.text()).unwrap_or_default();
            let last = request.messages.last().map(|m| m.content.text()).unwrap_or_default();
            let mut out = Map::new();
            let text = if system.contains("`new_instruction`") {
                let examples = input(&last, "examples_with_feedback");
                let key = if examples.contains("\"answer\"") { "Use KEY_B." } else { "Use KEY_A." };
                out.insert("new_instruction".into(), json!(key));
                JSONAdapter::new().format_outputs(&out)
            } else if system.contains("Your output fields are:\n1. `note`") {
                out.insert("note".into(), json!(if system.contains("KEY_A") { "A" } else { "none" }));
                ChatAdapter::new().format_outputs(&out)
            } else {
                let question = input(&last, "question");
                let note_a = input(&last, "note") == "A";
                let key_b = system.contains("KEY_B");
                let first_half = question.contains("[alpha]") || question.contains("[beta]");
                let answer = match (first_half, note_a, key_b) {
                    (true, true, _) | (false, _, true) => "right",
                    (true, false, true) | (false, true, false) => "wrong",
                    _ => "partial",
                };
                out.insert("answer".into(), json!(answer));
                ChatAdapter::new().format_outputs(&out)
            };
            Ok(LmResponse::from_texts("merge-world", [text]))
        }
    }

    pub struct Graded;

    impl Metric for Graded {
        fn score(&self, _example: &Example, prediction: &Prediction, _trace: Option<&[TraceEntry]>) -> Score {
            let hint = "For [alpha] and [beta] the first step needs KEY_A; for [gamma] and [delta] the second step needs KEY_B.";
            match prediction.get_str("answer") {
                Some("right") => Score::with_feedback(1.0, "Correct."),
                Some("partial") => Score::with_feedback(0.25, format!("Partially correct. {hint}")),
                _ => Score::with_feedback(0.0, format!("Wrong. {hint}")),
            }
        }
    }

    #[derive(Clone)]
    pub struct Pipe {
        pub first: Predict,
        pub second: Predict,
    }

    impl Pipe {
        pub fn new(lm: std::sync::Arc<Lm>) -> Self {
            Pipe {
                first: Predict::parse("question -> note").unwrap().with_lm(lm.clone()),
                second: Predict::parse("question, note -> answer").unwrap().with_lm(lm),
            }
        }
    }

    #[async_trait::async_trait]
    impl Module for Pipe {
        async fn forward(&self, inputs: &Example) -> dspy_core::Result<Prediction> {
            let note = self.first.forward(inputs).await?;
            let next = inputs.clone().with("note", note.get_str("note").unwrap_or_default());
            self.second.forward(&next).await
        }

        fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
            vec![("first".into(), &self.first as &dyn Predictor), ("second".into(), &self.second as &dyn Predictor)]
        }

        fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
            vec![("first".into(), &mut self.first as &mut dyn Predictor), ("second".into(), &mut self.second as &mut dyn Predictor)]
        }
    }

    pub fn data(n: usize, offset: usize) -> Vec<Example> {
        let tags = ["alpha", "beta", "gamma", "delta"];
        (0..n).map(|i| Example::new().with("question", format!("[{}] item {}", tags[(i + offset) % 4], i + offset)).with_inputs(["question"])).collect()
    }
}

#[tokio::test]
async fn gepa_merges_siblings_that_fixed_different_predictors() {
    use merge_world::{Graded, Lm, Pipe, data};
    let lm = std::sync::Arc::new(Lm);
    let student = Pipe::new(lm.clone());
    let (trainset, valset) = (data(12, 0), data(8, 100));
    let mut merged_runs = 0;
    for seed in 0..8 {
        let gepa = Gepa::new().budget_metric_calls(150).reflection_lm(lm.clone()).seed(seed).progress(false);
        let c = gepa.compile(&student, &trainset, &Graded).valset(&valset).await.unwrap();
        let merges = c.report.extra["merges_accepted"].as_u64().unwrap();
        println!("seed {seed}: best {:?}, merges {merges}, candidates {}", c.report.best_score, c.report.extra["candidates"].as_array().unwrap().len());
        assert_eq!(c.report.best_score, Some(100.0), "seed {seed}");
        assert!(c.program.first.signature().instructions().contains("KEY_A"));
        assert!(c.program.second.signature().instructions().contains("KEY_B"));
        if merges > 0 {
            merged_runs += 1;
            let candidates = c.report.extra["candidates"].as_array().unwrap();
            let best = c.report.extra["best_candidate"].as_u64().unwrap() as usize;
            // The best is a merge: two parents, one per rule.
            let merged = candidates.iter().any(|cand| cand["parents"].as_array().unwrap().len() == 2 && cand["val_score"] == 1.0);
            assert!(merged, "seed {seed}: {candidates:?}");
            assert!(best < candidates.len());
        }
    }
    assert!(merged_runs >= 2, "only {merged_runs} seed(s) led to a merge");
    let no_merge = Gepa::new().budget_metric_calls(150).reflection_lm(lm.clone()).use_merge(false).progress(false);
    let c = no_merge.compile(&student, &trainset, &Graded).valset(&valset).await.unwrap();
    assert_eq!(c.report.extra["merges_accepted"], 0);
}


/// Whole-run feedback that says nothing useful; asked about one predictor (DSPy's `pred_name`),
/// the feedback names what that stage must do: only `answer` needs the rule.
#[derive(Default)]
struct PerStage {
    asked: std::sync::Mutex<Vec<String>>,
    per_stage: bool,
}

#[async_trait::async_trait]
impl dspy_core::evaluate::Metric for PerStage {
    fn score(&self, example: &dspy_core::Example, prediction: &dspy_core::Prediction, trace: Option<&[dspy_core::trace::TraceEntry]>) -> dspy_core::evaluate::Score {
        let s = AnswerMatch.score(example, prediction, trace);
        dspy_core::evaluate::Score::with_feedback(s.value, if s.value == 1.0 { "Correct." } else { "Incorrect." })
    }

    async fn try_score_predictor(
        &self,
        example: &dspy_core::Example,
        prediction: &dspy_core::Prediction,
        trace: &[dspy_core::trace::TraceEntry],
        predictor: dspy_core::evaluate::PredictorCall<'_>,
    ) -> dspy_core::Result<dspy_core::evaluate::Score> {
        self.asked.lock().unwrap().push(predictor.name.to_string());
        assert!(trace.iter().any(|e| e == predictor.call), "the predictor's call is one of the run's");
        let whole = self.score(example, prediction, Some(trace));
        if !self.per_stage {
            return Ok(whole);
        }
        let feedback = match predictor.name {
            "classify" => "The category is right.".to_string(),
            _ if whole.value == 1.0 => "Correct.".to_string(),
            _ => format!("Incorrect: the answer must apply the {KEYWORD} of the category."),
        };
        Ok(dspy_core::evaluate::Score::with_feedback(whole.value, feedback))
    }
}

#[tokio::test]
async fn gepa_asks_the_metric_for_each_predictors_own_feedback() {
    let lm = SimLm::new();
    let student = dspy_sim::TwoStep::new().with_lm(lm.clone());
    let (trainset, valset) = (dataset(12, 0), dataset(8, 300));
    let (mut with, mut without) = (0, 0);
    for seed in 0..10 {
        let gepa = Gepa::new().max_full_evals(2).reflection_lm(lm.clone()).use_merge(false).seed(seed).progress(false);
        let metric = PerStage { per_stage: true, ..PerStage::default() };
        let c = gepa.compile(&student, &trainset, &metric).valset(&valset).await.unwrap();
        let asked = metric.asked.lock().unwrap().clone();
        assert!(asked.iter().any(|n| n == "classify") && asked.iter().any(|n| n == "answer"), "{asked:?}");
        with += usize::from(c.program.answer.signature().instructions().contains(KEYWORD));
        let plain = PerStage::default();
        let c = gepa.compile(&student, &trainset, &plain).valset(&valset).await.unwrap();
        without += usize::from(c.program.answer.signature().instructions().contains(KEYWORD));
    }
    println!("the answer stage found the rule in {with}/10 runs with per-stage feedback, {without}/10 without");
    assert!(with >= 9 && with > without, "with {with}, without {without}");
}

#[tokio::test]
async fn each_predictor_is_shown_its_own_feedback() {
    let lm = SimLm::new();
    let student = dspy_sim::TwoStep::new().with_lm(lm.clone());
    let proposer = std::sync::Arc::new(AppendRule::default());
    let gepa = Gepa::new()
        .max_full_evals(2)
        .component_selector(dspy_optimizers::gepa::ComponentSelection::All)
        .instruction_proposer(SharedProposer(proposer.clone()))
        .use_merge(false)
        .progress(false);
    let metric = PerStage { per_stage: true, ..PerStage::default() };
    gepa.compile(&student, &dataset(12, 0), &metric).valset(&dataset(8, 300)).await.unwrap();
    let datasets = proposer.datasets.lock().unwrap();
    assert!(!datasets.is_empty());
    let feedback = |name: &str| -> Vec<String> {
        datasets.iter().flat_map(|d| d.get(name).into_iter().flatten()).map(|r| r["Feedback"].as_str().unwrap().to_string()).collect()
    };
    let (classify, answer) = (feedback("classify"), feedback("answer"));
    assert!(!classify.is_empty() && classify.iter().all(|f| f == "The category is right."), "{classify:?}");
    assert!(answer.iter().any(|f| f.contains(KEYWORD)), "{answer:?}");
    assert!(answer.iter().all(|f| f == "Correct." || f.contains(KEYWORD)), "{answer:?}");
}

/// Appends the rule to every component it is asked about, and records what it was shown.
#[derive(Default)]
struct AppendRule {
    shown: std::sync::Mutex<Vec<(Vec<String>, usize)>>,
    datasets: std::sync::Mutex<Vec<std::collections::BTreeMap<String, Vec<serde_json::Value>>>>,
}

/// A shared [`AppendRule`], so the test can read what it recorded.
struct SharedProposer(std::sync::Arc<AppendRule>);

#[async_trait::async_trait]
impl dspy_optimizers::InstructionProposer for SharedProposer {
    async fn propose(
        &self,
        candidate: &std::collections::BTreeMap<String, String>,
        reflective_dataset: &std::collections::BTreeMap<String, Vec<serde_json::Value>>,
        components: &[String],
    ) -> dspy_core::Result<std::collections::BTreeMap<String, String>> {
        self.0.propose(candidate, reflective_dataset, components).await
    }
}

#[async_trait::async_trait]
impl dspy_optimizers::InstructionProposer for AppendRule {
    async fn propose(
        &self,
        candidate: &std::collections::BTreeMap<String, String>,
        reflective_dataset: &std::collections::BTreeMap<String, Vec<serde_json::Value>>,
        components: &[String],
    ) -> dspy_core::Result<std::collections::BTreeMap<String, String>> {
        assert!(reflective_dataset.values().flatten().all(|r| r.get("Feedback").is_some() && r.get("Inputs").is_some()));
        self.shown.lock().unwrap().push((components.to_vec(), reflective_dataset.values().map(Vec::len).sum()));
        self.datasets.lock().unwrap().push(reflective_dataset.clone());
        Ok(components.iter().map(|c| (c.clone(), format!("{} Use the {KEYWORD}.", candidate[c]))).collect())
    }
}

#[tokio::test]
async fn gepa_uses_a_custom_instruction_proposer() {
    let lm = SimLm::new();
    // No reflection LM and none configured: the custom proposer is enough.
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let proposer = std::sync::Arc::new(AppendRule::default());
    let gepa = Gepa::new().max_full_evals(3).instruction_proposer(SharedProposer(proposer.clone())).use_merge(false).progress(false);
    let c = gepa.compile(&student, &dataset(12, 0), &AnswerMatch).valset(&dataset(8, 300)).await.unwrap();
    assert!(c.program.signature().instructions().ends_with(&format!("Use the {KEYWORD}.")), "{}", c.program.signature().instructions());
    let shown = proposer.shown.lock().unwrap();
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|(components, records)| components == &["self".to_string()] && *records > 0), "{shown:?}");
}

/// Answers `[[ ## answer ## ]]` for even items and rambles (unparsable in either adapter's
/// format) for odd ones.
#[derive(Debug, Default)]
struct Rambles;

#[async_trait::async_trait]
impl dspy_core::LanguageModel for Rambles {
    fn model(&self) -> &str {
        "rambles"
    }

    async fn complete(&self, request: dspy_core::LmRequest) -> Result<dspy_core::LmResponse, dspy_core::LmError> {
        let last = request.messages.last().map(|m| m.content.text()).unwrap_or_default();
        let text = if last.contains("odd") { "Well, it depends on many things.".to_string() } else { "[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]".to_string() };
        Ok(dspy_core::LmResponse::from_texts("rambles", [text]))
    }
}

#[tokio::test]
async fn gepa_shows_format_failures_only_when_asked() {
    let student = Predict::parse("question -> answer").unwrap().with_lm(std::sync::Arc::new(Rambles));
    let data: Vec<dspy_core::Example> = (0..6)
        .map(|i| dspy_core::Example::new().with("question", format!("item {i}, {}?", if i % 2 == 0 { "even" } else { "odd" })).with("answer", "4").with_inputs(["question"]))
        .collect();
    let records = |on: bool| {
        let (student, data) = (student.clone(), data.clone());
        async move {
            let proposer = std::sync::Arc::new(AppendRule::default());
            let gepa = Gepa::new().max_full_evals(3).add_format_failure_as_feedback(on).instruction_proposer(SharedProposer(proposer.clone())).use_merge(false).progress(false);
            gepa.compile(&student, &data, &AnswerMatch).await.unwrap();
            let datasets = proposer.datasets.lock().unwrap().clone();
            datasets.into_iter().flat_map(|d| d.into_values().flatten()).collect::<Vec<serde_json::Value>>()
        }
    };
    let shown = records(true).await;
    let failures: Vec<_> = shown.iter().filter(|r| r["Feedback"].as_str().unwrap().starts_with("Your output failed to parse. Follow this structure:\nsystem: ")).collect();
    assert!(!failures.is_empty(), "{shown:?}");
    for f in &failures {
        let outputs = f["Generated Outputs"].as_str().unwrap();
        assert!(outputs.starts_with("Couldn't parse the output as per the expected output format. The model's raw response was:\n```\nWell, it depends"), "{outputs}");
        assert!(f["Inputs"]["question"].as_str().unwrap().contains("odd"));
        assert!(f["Feedback"].as_str().unwrap().contains("[[ ## answer ## ]]"));
    }
    let hidden = records(false).await;
    assert!(!hidden.is_empty());
    assert!(hidden.iter().all(|r| r["Inputs"]["question"].as_str().unwrap().contains("even")), "{hidden:?}");
}
