//! MIPROv2's grounded instruction proposer (DSPy's `GroundedProposer`): instructions proposed
//! from a dataset summary, a description of the program and of the module, bootstrapped demos
//! of the module, and a random prompting tip, each at the proposer's temperature with a fresh
//! rollout id.
//!
//! The dataset summary ([`create_dataset_summary`]) is DSPy's: observations on the first
//! `view_data_batch_size` examples, more observations batch by batch (at most 10 calls; five
//! `COMPLETE` answers end it early), then a 2–3 sentence summary.

use std::sync::Arc;

use dspy_core::{Error, Example, LanguageModel, LmConfig, Module, Result};
use rand::RngExt;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bootstrap::DemoSet;
use crate::engine::{ConfiguredLm, Engine, SeededRng};
use crate::proposer::{
    ProposalInputs, TIPS, create_example_string, dataset_descriptor, dataset_descriptor_with_prior_observations, describe_module,
    describe_program, examples_repr, generate_single_module_instruction, inputs, module_code, observation_summarizer,
    predict_once, strip_prefix,
};

/// DSPy's dataset summary of `trainset` (see the module docs), made with `prompt_lm` (the
/// settings' LM when `None`) at temperature 1.0. The first call's failure is returned; later
/// failures keep the observations made so far, as DSPy does.
pub(crate) async fn create_dataset_summary(
    engine: &Engine,
    prompt_lm: Option<&Arc<dyn LanguageModel>>,
    trainset: &[Example],
    view_data_batch_size: usize,
) -> Result<String> {
    let view = view_data_batch_size.max(1);
    let config = LmConfig { n: Some(1), temperature: Some(1.0), ..LmConfig::default() };
    let upper = trainset.len().min(view);
    let first = predict_once(
        engine,
        prompt_lm,
        dataset_descriptor(),
        inputs([("examples", json!(examples_repr(&trainset[..upper])))]),
        config.clone(),
        None,
    )
    .await?;
    let mut observations = first.get_str("observations").unwrap_or_default().to_string();
    let mut skips = 0;
    let mut calls = 0;
    let mut b = view;
    while b < trainset.len() {
        calls += 1;
        if calls >= 10 {
            break;
        }
        let upper = trainset.len().min(b + view);
        let out = predict_once(
            engine,
            prompt_lm,
            dataset_descriptor_with_prior_observations(),
            inputs([("prior_observations", json!(observations)), ("examples", json!(examples_repr(&trainset[b..upper])))]),
            config.clone(),
            None,
        )
        .await;
        let Ok(out) = out else { break };
        let more = out.get_str("observations").unwrap_or_default();
        if more.chars().count() >= 8 && more.chars().take(8).collect::<String>().to_uppercase() == "COMPLETE" {
            skips += 1;
            if skips >= 5 {
                break;
            }
            b += view;
            continue;
        }
        observations.push_str(more);
        b += view;
    }
    let summary = predict_once(engine, prompt_lm, observation_summarizer(), inputs([("observations", json!(observations))]), config, None).await?;
    Ok(strip_prefix(summary.get_str("summary").unwrap_or_default()))
}

/// The proposer's switches; the defaults are what MIPROv2 uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundedProposer {
    /// Describe the program and the module to the proposer (`program_aware_proposer`).
    pub program_aware: bool,
    /// Summarise the trainset for the proposer (`data_aware_proposer`).
    pub use_dataset_summary: bool,
    /// Show bootstrapped demos of the module (`fewshot_aware_proposer`).
    pub use_task_demos: bool,
    /// How many demos to show (3).
    pub num_demos_in_context: usize,
    /// Add a random tip from DSPy's list of proposer tips (`tip_aware_proposer`).
    pub use_tip: bool,
    /// Examples per dataset-summary call (`view_data_batch_size`, 10).
    pub view_data_batch_size: usize,
    /// The proposer's temperature (MIPROv2's `init_temperature`, 1.0).
    pub init_temperature: f64,
    /// The program's code shown to the proposer; by default the program's
    /// [`source_code`](Module::source_code) (DSPy's `get_dspy_source_code`).
    pub program_code: Option<String>,
}

impl Default for GroundedProposer {
    fn default() -> Self {
        GroundedProposer {
            program_aware: true,
            use_dataset_summary: true,
            use_task_demos: true,
            num_demos_in_context: 3,
            use_tip: true,
            view_data_batch_size: 10,
            init_temperature: 1.0,
            program_code: None,
        }
    }
}

/// What [`GroundedProposer::propose`] made.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ProposedInstructions {
    /// Per predictor (program order), the proposed instructions.
    pub instructions: Vec<Vec<String>>,
    /// Per predictor, the tip key used for each proposal.
    pub tips: Vec<Vec<String>>,
    /// The dataset summary, when one was made.
    pub data_summary: Option<String>,
    /// Proposals that failed (and were left out), with why.
    pub failures: Vec<String>,
}

/// One planned proposal: which predictor, which demo set, which tip, which rollout.
struct Plan {
    predictor: usize,
    demo_set: usize,
    tip: &'static str,
    tip_key: &'static str,
    rollout_id: u64,
}

impl GroundedProposer {
    /// Proposes `n` instructions per predictor of `program` (fewer when there are fewer demo
    /// sets), with `prompt_lm` (the settings' LM when `None`). Random choices (tips, rollout
    /// ids) are drawn from `rng` in DSPy's order before the calls run, `engine`'s
    /// concurrency at a time, so the result does not depend on timing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn propose<P: Module + ?Sized>(
        &self,
        engine: &Engine,
        prompt_lm: Option<&Arc<dyn LanguageModel>>,
        program: &P,
        trainset: &[Example],
        demo_candidates: Option<&[DemoSet]>,
        n: usize,
        rng: &mut SeededRng,
    ) -> Result<ProposedInstructions> {
        let mut out = ProposedInstructions::default();
        let program_code = self.program_code.clone().unwrap_or_else(|| program.source_code());
        if self.use_dataset_summary {
            match create_dataset_summary(engine, prompt_lm, trainset, self.view_data_batch_size).await {
                Ok(summary) => out.data_summary = Some(summary),
                Err(e) => {
                    tracing::warn!("Error getting data summary: {e}. Running without data aware proposer.");
                    out.failures.push(format!("dataset summary: {e}"));
                }
            }
        }
        let demo_candidates = demo_candidates.filter(|d| !d.is_empty());
        let use_task_demos = self.use_task_demos && demo_candidates.is_some();
        let num_demo_sets = demo_candidates.map_or(n, |d| d.len().max(1));
        let predictors = program.named_predictors();
        let mut plans = Vec::new();
        for p in 0..predictors.len() {
            for demo_set in 0..num_demo_sets.min(n) {
                let (tip_key, tip) = if self.use_tip { *TIPS.choose(rng).unwrap_or(&TIPS[0]) } else { ("none", "") };
                let rollout_id = rng.random_range(0..=1_000_000_000u64);
                plans.push(Plan { predictor: p, demo_set, tip, tip_key, rollout_id });
            }
        }
        let which = |tip: &str| ProposalInputs {
            dataset_summary: out.data_summary.is_some(),
            program_aware: self.program_aware,
            instruct_history: false,
            tip: !tip.is_empty(),
        };
        let data_summary = out.data_summary.clone();
        let results = engine
            .map_bounded(plans.iter(), |plan| {
                let (_, predictor) = &predictors[plan.predictor];
                let signature = predictor.signature().clone();
                let demos = demo_candidates.filter(|_| use_task_demos);
                let program_code = program_code.clone();
                let data_summary = data_summary.clone();
                let which = which(plan.tip);
                async move {
                    let base = prompt_lm.cloned().or_else(|| dspy_core::settings::current().lm()).ok_or(Error::NoLm)?;
                    let lm: Arc<dyn LanguageModel> = Arc::new(ConfiguredLm::new(
                        base,
                        LmConfig { rollout_id: Some(plan.rollout_id), temperature: Some(self.init_temperature), ..LmConfig::default() },
                    ));
                    let task_demos = task_demos_string(demos, plan.predictor, plan.demo_set, &signature, self.num_demos_in_context);
                    self.propose_one(engine, &lm, &signature, &program_code, data_summary.as_deref(), &task_demos, plan.tip, which).await
                }
            })
            .await;
        out.instructions = vec![Vec::new(); predictors.len()];
        out.tips = vec![Vec::new(); predictors.len()];
        for (plan, result) in plans.iter().zip(results) {
            match result {
                Ok(instruction) => {
                    out.instructions[plan.predictor].push(instruction);
                    out.tips[plan.predictor].push(plan.tip_key.to_string());
                }
                Err(e) => {
                    tracing::warn!(predictor = plan.predictor, "an instruction proposal failed: {e}");
                    out.failures.push(format!("predictor {} proposal {}: {e}", plan.predictor, plan.demo_set));
                }
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    async fn propose_one(
        &self,
        engine: &Engine,
        lm: &Arc<dyn LanguageModel>,
        signature: &dspy_core::Signature,
        program_code: &str,
        data_summary: Option<&str>,
        task_demos: &str,
        tip: &str,
        which: ProposalInputs,
    ) -> Result<String> {
        let mut program_description = "Not available".to_string();
        let mut module = "Not provided".to_string();
        let mut module_description = "Not provided".to_string();
        if which.program_aware {
            let described = async {
                let p = predict_once(
                    engine,
                    Some(lm),
                    describe_program(),
                    inputs([("program_code", json!(program_code)), ("program_example", json!(task_demos))]),
                    LmConfig::default(),
                    None,
                )
                .await?;
                let description = strip_prefix(p.get_str("program_description").unwrap_or_default());
                let code = module_code(signature);
                let m = predict_once(
                    engine,
                    Some(lm),
                    describe_module(),
                    inputs([
                        ("program_code", json!(program_code)),
                        ("program_example", json!(task_demos)),
                        ("program_description", json!(description)),
                        ("module", json!(code)),
                    ]),
                    LmConfig::default(),
                    None,
                )
                .await?;
                Ok::<_, Error>((description, code, m.get_str("module_description").unwrap_or_default().to_string()))
            }
            .await;
            match described {
                Ok((d, c, m)) => {
                    program_description = d;
                    module = c;
                    module_description = m;
                }
                Err(e) => tracing::debug!("Error getting program description. Running without program aware proposer. Error: {e}"),
            }
        }
        let mut fields = serde_json::Map::new();
        if which.dataset_summary {
            fields.insert("dataset_description".into(), json!(data_summary.unwrap_or_default()));
        }
        if which.program_aware {
            fields.insert("program_code".into(), json!(program_code));
            fields.insert("program_description".into(), json!(program_description));
            fields.insert("module".into(), json!(module));
            fields.insert("module_description".into(), json!(module_description));
        }
        fields.insert("task_demos".into(), json!(task_demos));
        fields.insert("basic_instruction".into(), json!(signature.instructions()));
        if which.tip {
            fields.insert("tip".into(), json!(tip));
        }
        let out = predict_once(engine, Some(lm), generate_single_module_instruction(which), fields, LmConfig::default(), None).await?;
        let text = out.get_str("proposed_instruction").unwrap_or_default();
        Ok(strip_prefix(&strip_prefix(text)))
    }
}

/// DSPy's task demos for a proposal: up to `max` bootstrapped (`augmented`) demos of the
/// predictor, from demo set `set` then the following ones (wrapping around); `"No task demos
/// provided."` when there are none or `set` is 0.
pub(crate) fn task_demos_string(demo_candidates: Option<&[DemoSet]>, predictor: usize, set: usize, signature: &dspy_core::Signature, max: usize) -> String {
    let mut text = String::new();
    if let Some(sets) = demo_candidates {
        let order = (set..sets.len()).chain(0..set.min(sets.len()));
        let mut strings = Vec::new();
        'outer: for s in order {
            for demo in sets[s].for_predictor(predictor) {
                if demo.contains("augmented") {
                    strings.push(create_example_string(signature, demo));
                    if strings.len() >= max {
                        break 'outer;
                    }
                }
            }
        }
        text = strings.join("\n\n") + "\n\n";
    }
    if text.trim().is_empty() || set == 0 { "No task demos provided.".to_string() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_demos_follow_dspy() {
        let sig = dspy_core::Signature::parse("question -> answer").unwrap();
        let boot = |q: &str| Example::new().with("augmented", true).with("question", q).with("answer", "a");
        let labeled = Example::new().with("question", "labeled").with("answer", "b");
        let set = |demos: Vec<Example>| DemoSet { spec: None, demos: vec![("self".into(), demos)] };
        let sets = vec![set(vec![]), set(vec![labeled.clone(), boot("q1")]), set(vec![boot("q2"), boot("q3")])];
        assert_eq!(task_demos_string(Some(&sets), 0, 0, &sig, 3), "No task demos provided.");
        let text = task_demos_string(Some(&sets), 0, 2, &sig, 3);
        assert_eq!(text, "Question: q2\nAnswer: a\n\nQuestion: q3\nAnswer: a\n\nQuestion: q1\nAnswer: a\n\n");
        assert_eq!(task_demos_string(None, 0, 1, &sig, 3), "No task demos provided.");
    }
}
