//! `Refine`: `BestOfN` that learns from its failures (DSPy 3's `dspy.Refine`). After an attempt
//! below the threshold, an LM call with DSPy's `OfferFeedback` signature blames modules and
//! writes advice; the next attempt gives each predictor its advice as a `hint_` input.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::best_of_n::{Attempts, FailBudget, RewardFn, attempt_copy, first_rollout};
use super::rewrite::{Rewrite, RewriteAdapter};
use super::{ContainsPredictors, Module, Predict, Predictor};
use crate::adapter::format::field_description_list;
use crate::error::{Error, Result};
use crate::example::Example;
use crate::prediction::Prediction;
use crate::pyfmt;
use crate::settings::{self, Settings};
use crate::signature::{Field, FieldType, Signature};
use crate::trace::{self, TraceEntry};

const OFFER_FEEDBACK_INSTRUCTIONS: &str = "In the discussion, assign blame to each module that contributed to the final reward being below the threshold, if
any. Then, prescribe concrete advice of how the module should act on its future input when we retry the process, if
it were to receive the same or similar inputs. If a module is not to blame, the advice should be N/A.
The module will not see its own history, so it needs to rely on entirely concrete and actionable advice from you
to avoid the same mistake on the same or similar inputs.";

/// DSPy's `OfferFeedback` signature, field for field.
///
/// ```
/// let sig = dspy_core::module::offer_feedback_signature();
/// assert_eq!(sig.to_short_string(), "program_code, modules_defn, program_inputs, program_trajectory, program_outputs, reward_code, target_threshold, reward_value, module_names -> discussion, advice");
/// ```
pub fn offer_feedback_signature() -> Signature {
    let str_in = |name: &str, desc: &str| Field::input(name, FieldType::Str).desc(desc);
    let fields = [
        str_in("program_code", "The code of the program that we are analyzing"),
        str_in("modules_defn", "The definition of each module in the program, including its I/O"),
        str_in("program_inputs", "The inputs to the program that we are analyzing"),
        str_in("program_trajectory", "The trajectory of the program's execution, showing each module's I/O"),
        str_in("program_outputs", "The outputs of the program that we are analyzing"),
        str_in("reward_code", "The code of the reward function that we are analyzing"),
        Field::input("target_threshold", FieldType::Float).desc("The target threshold for the reward function"),
        Field::input("reward_value", FieldType::Float).desc("The reward value assigned to the program's outputs"),
        Field::input("module_names", FieldType::list(FieldType::Str))
            .desc("The names of the modules in the program, for which we seek advice"),
        Field::output("discussion", FieldType::Str).desc("Discussing blame of where each module went wrong, if it did"),
        Field::output("advice", FieldType::dict(FieldType::Str)).desc(
            "For each module, describe very concretely, in this order: the specific scenarios in which it has made \
             mistakes in the past and what each mistake was, followed by what it should do differently in that kind of\
             scenario in the future. If the module is not to blame, write N/A.",
        ),
    ];
    // The fields are fixed and valid; `from_fields` cannot fail on them.
    Signature::from_fields("OfferFeedback", Some(OFFER_FEEDBACK_INSTRUCTIONS.to_string()), fields)
        .unwrap_or_else(|_| Signature::new("OfferFeedback", OFFER_FEEDBACK_INSTRUCTIONS))
}

/// DSPy's `inspect_modules`: each predictor's fields and instructions, between separators.
///
/// ```
/// use dspy_core::module::inspect_modules;
/// use dspy_core::ChainOfThought;
/// let text = inspect_modules(&ChainOfThought::parse("question -> answer").unwrap());
/// assert!(text.starts_with(&"-".repeat(80)));
/// assert!(text.contains("Module predict\n\tInput Fields:\n\t\t1. `question` (str):"));
/// ```
pub fn inspect_modules(program: &dyn Module) -> String {
    let separator = "-".repeat(80);
    let indent = |text: &str| {
        let mut out = String::new();
        for line in pyfmt::splitlines(text) {
            out.push_str("\n\t\t");
            out.push_str(line);
        }
        out
    };
    let mut output = vec![separator.clone()];
    for (name, predictor) in program.named_predictors() {
        let sig = predictor.signature();
        output.push(format!("Module {name}"));
        output.push("\n\tInput Fields:".into());
        output.push(indent(&field_description_list(sig.input_fields())));
        output.push("\tOutput Fields:".into());
        output.push(indent(&field_description_list(sig.output_fields())));
        output.push(format!("\tOriginal Instructions: {}", indent(&pyfmt::dedent(sig.instructions()))));
        output.push(separator.clone());
    }
    output.iter().map(|o| o.trim_matches('\n')).collect::<Vec<_>>().join("\n")
}

/// Runs a module up to N times like [`BestOfN`](super::BestOfN); after each attempt below the
/// threshold it asks the LM (DSPy's `OfferFeedback` prompt) for advice per predictor, and the
/// next attempt gives every predictor its advice as an extra `hint_` input ("A hint to the
/// module from an earlier run"; `N/A` for predictors without advice).
///
/// DSPy shows the LM the program's and the reward function's source code. The program's is its
/// [`Module::definition`] (a `#[module]` program's struct and `impl` block as written), or for
/// modules without one its [`Module::source_code`]; [`Refine::program_code`] overrides it. A
/// closure has no source at run time, so describe the reward with [`Refine::reward_code`]
/// (default `N/A`).
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::module::Refine;
/// use dspy_core::{DummyLM, Example, Module, Predict, Settings, settings};
/// let lm = Arc::new(DummyLM::new(vec![
///     serde_json::json!({"answer": "It is Brussels"}),
///     serde_json::json!({"discussion": "Too long.", "advice": {"self": "Answer with one word."}}),
///     serde_json::json!({"answer": "Brussels"}),
/// ]));
/// let qa = Predict::parse("question -> answer").unwrap();
/// let one_word = |_: &Example, p: &dspy_core::Prediction| if p.get_str("answer").is_some_and(|a| !a.contains(' ')) { 1.0 } else { 0.0 };
/// let refine = Refine::new(qa, 3, one_word, 1.0);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = settings::context(Settings::new().lm(lm.clone()), refine.forward(&Example::new().with("question", "Capital of Belgium?"))).await.unwrap();
/// assert_eq!(out.get_str("answer"), Some("Brussels"));
/// assert!(lm.history()[2].messages.last().unwrap().content.text().contains("[[ ## hint_ ## ]]\nAnswer with one word."));
/// # });
/// ```
#[derive(Clone)]
pub struct Refine<M> {
    module: M,
    n: usize,
    reward: RewardFn,
    threshold: f64,
    fail_count: Option<usize>,
    program_code: Option<String>,
    reward_code: String,
}

impl<M> fmt::Debug for Refine<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refine").field("n", &self.n).field("threshold", &self.threshold).finish_non_exhaustive()
    }
}

impl<M: Module + Clone> Refine<M> {
    /// Up to `n` attempts of `module`, scored by `reward`, stopping at `threshold`.
    pub fn new(module: M, n: usize, reward: impl Fn(&Example, &Prediction) -> f64 + Send + Sync + 'static, threshold: f64) -> Self {
        Refine { module, n, reward: Arc::new(reward), threshold, fail_count: None, program_code: None, reward_code: "N/A".into() }
    }

    /// How many failed attempts are tolerated (default: `n`).
    pub fn fail_count(mut self, fail_count: usize) -> Self {
        self.fail_count = Some(fail_count);
        self
    }

    /// The program's source, shown to the feedback LM (DSPy's `inspect.getsource(module)`).
    pub fn program_code(mut self, code: impl Into<String>) -> Self {
        self.program_code = Some(code.into());
        self
    }

    /// The reward function's source or description, shown to the feedback LM.
    pub fn reward_code(mut self, code: impl Into<String>) -> Self {
        self.reward_code = code.into();
        self
    }

    /// The wrapped module.
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The `OfferFeedback` inputs for one failed attempt.
    fn feedback_inputs(&self, copy: &M, inputs: &Example, calls: &[TraceEntry], outputs: &Prediction, reward: f64) -> Map<String, Value> {
        let names: HashMap<_, _> = copy.named_predictors().into_iter().map(|(n, p)| (p.id(), n)).collect();
        let trajectory: Vec<Value> = calls
            .iter()
            .map(|c| {
                json!({
                    "module_name": names.get(&c.predictor).cloned().unwrap_or_default(),
                    "inputs": c.inputs,
                    "outputs": c.outputs.outputs(),
                })
            })
            .collect();
        let module_names: Vec<String> = copy.named_predictors().into_iter().map(|(n, _)| n).collect();
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
        let program_code = self.program_code.clone().or_else(|| self.module.definition()).unwrap_or_else(|| self.module.source_code());
        let mut map = Map::new();
        map.insert("program_code".into(), Value::String(program_code));
        map.insert("modules_defn".into(), Value::String(inspect_modules(copy)));
        map.insert("program_inputs".into(), Value::String(pretty(&Value::Object(inputs.data().clone()))));
        map.insert("program_trajectory".into(), Value::String(pretty(&Value::Array(trajectory))));
        map.insert("program_outputs".into(), Value::String(pretty(&Value::Object(outputs.outputs().clone()))));
        map.insert("reward_code".into(), Value::String(self.reward_code.clone()));
        map.insert("target_threshold".into(), Value::String(pretty(&json!(self.threshold))));
        map.insert("reward_value".into(), Value::String(pretty(&json!(reward))));
        map.insert("module_names".into(), Value::String(pretty(&json!(module_names))));
        map
    }
}

/// The `hint_` extension: every call gets its predictor's advice (or `N/A`).
fn hint_rewrite(names_by_version: HashMap<u64, String>, advice: Map<String, Value>) -> Rewrite {
    Arc::new(move |sig: &Signature, inputs: &Map<String, Value>| {
        let hint = names_by_version
            .get(&sig.version())
            .and_then(|name| advice.get(name))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "N/A".to_string());
        let field = Field::input("hint_", FieldType::Str).desc("A hint to the module from an earlier run");
        let extended = sig.clone().append(field).ok()?;
        let mut inputs = inputs.clone();
        inputs.insert("hint_".into(), Value::String(hint));
        Some((extended, inputs))
    })
}

#[async_trait::async_trait]
impl<M: Module + Clone> Module for Refine<M> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let start = first_rollout(&self.module)?;
        let outer = settings::current();
        let mut budget = FailBudget::new(self.fail_count.unwrap_or(self.n));
        let mut attempts = Attempts::default();
        let mut advice: Option<Map<String, Value>> = None;
        for idx in 0..self.n {
            let rid = start + idx as u64;
            let copy = attempt_copy(&self.module, rid)?;
            let overrides = match &advice {
                Some(advice) => {
                    let names = copy.named_predictors().into_iter().map(|(n, p)| (p.signature().version(), n)).collect();
                    Settings::new().adapter(Arc::new(RewriteAdapter::new(outer.adapter(), hint_rewrite(names, advice.clone()))))
                }
                None => Settings::new(),
            };
            let attempt = async {
                let (result, calls) = trace::collect(settings::context(overrides, copy.forward(inputs))).await;
                let outputs = result?;
                let reward = (self.reward)(inputs, &outputs);
                Ok::<_, Error>((outputs, calls, reward))
            };
            let step = match attempt.await {
                Ok((outputs, calls, reward)) => {
                    attempts.offer(reward, || (outputs.clone(), calls.clone()));
                    if reward >= self.threshold || idx + 1 == self.n {
                        break;
                    }
                    let request = self.feedback_inputs(&copy, inputs, &calls, &outputs, reward);
                    Predict::from_signature(offer_feedback_signature()).forward_map(&request).await.map(|p| {
                        advice = p.get("advice").and_then(Value::as_object).cloned();
                    })
                }
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                tracing::warn!("Refine: Attempt failed with rollout id {rid}: {e}");
                if !budget.absorb(idx) {
                    return Err(e);
                }
                attempts.failed(e);
            }
        }
        attempts.finish("Refine")
    }

    /// Under `module.`, as DSPy names the wrapped module's predictors.
    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        let mut out = Vec::new();
        self.module.collect_predictors("module", &mut out);
        out
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        let mut out = Vec::new();
        self.module.collect_predictors_mut("module", &mut out);
        out
    }

    /// The wrapped module's code, as DSPy's `get_dspy_source_code` shows a sub-module.
    fn source_code(&self) -> String {
        super::SourceCode::new().module(&self.module).finish(None)
    }
}

// A typed module refined is still typed: the same inputs and outputs as the module's.
super::typed::typed_as_inner!(Refine);
