//! `ReAct`: an agent that reasons, calls tools, and answers from what it observed.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ToolError;
use super::tool::Tool;
use super::{ChainOfThought, Module, Predict, Predictor, Untyped};
use crate::adapter::Adapter;
use crate::error::{Error, InputError, Result, SignatureError};
use crate::example::Example;
use crate::lm::{LanguageModel, LmError, LmRequest, Usage};
use crate::prediction::Prediction;
use crate::settings;
use crate::signature::{Field, FieldType, Signature, TypedSignature};
use crate::trace;

/// How [`ReAct`] asks the LM for its next tool call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ToolCalling {
    /// Native function calling when the LM's [`Capabilities`](crate::Capabilities) say it
    /// supports it, text otherwise.
    #[default]
    Auto,
    /// DSPy's text protocol: the LM writes `next_tool_name` and `next_tool_args` fields.
    Text,
    /// The same messages, plus every tool offered natively; a native tool call the LM makes
    /// decides the tool and its arguments (its text, if any, is the thought). Without a
    /// native call the text fields are read as in [`ToolCalling::Text`] (retrying with the
    /// adapter's fallback when they cannot be parsed).
    Native,
}

/// DSPy's ReAct: in each step the LM writes a thought and picks a tool and its arguments; the
/// tool's result (or its error) is appended to the trajectory, until the LM picks `finish` or
/// `max_iters` steps have run. A [`ChainOfThought`] then extracts the signature's outputs from
/// the trajectory.
///
/// The prompts are DSPy 3.4.1's, byte for byte: the same instructions listing the tools with
/// their argument schemas, the trajectory formatted by the adapter, the same `finish` tool.
/// Tool failures and invalid arguments do not abort the run: they become the observation
/// `Execution error in {tool}: {error}`. When the LM reports that the context window is
/// exceeded, the oldest tool call is dropped from the trajectory and the call retried (up to
/// three times), as DSPy does. Its predictors are named `react` and `extract.predict`.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::module::{ReAct, Tool};
/// use dspy_core::{DummyLM, Example, Module};
/// use serde_json::json;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct City { city: String }
/// let weather = Tool::sync("get_weather", "Get the current weather for a city.", |c: City| format!("Sunny in {}, 21 C", c.city));
///
/// let lm = Arc::new(DummyLM::new(vec![
///     json!({"next_thought": "Check the weather.", "next_tool_name": "get_weather", "next_tool_args": {"city": "Paris"}}),
///     json!({"next_thought": "Done.", "next_tool_name": "finish", "next_tool_args": {}}),
///     json!({"reasoning": "The tool said so.", "answer": "Sunny"}),
/// ]));
/// let agent = ReAct::parse("question -> answer", [weather]).unwrap().with_lm(lm);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = agent.forward(&Example::new().with("question", "Weather in Paris?")).await.unwrap();
/// assert_eq!(out.get_str("answer"), Some("Sunny"));
/// assert_eq!(out.get("trajectory").unwrap()["observation_0"], "Sunny in Paris, 21 C");
/// # });
/// ```
pub struct ReAct<S = Untyped> {
    /// Picks the next thought, tool and arguments (DSPy's `react`).
    pub react: Predict,
    /// Extracts the outputs from the trajectory (DSPy's `extract`).
    pub extract: ChainOfThought,
    signature: Signature,
    tools: Vec<Tool>,
    max_iters: usize,
    tool_calling: ToolCalling,
    adapter: Option<Arc<dyn Adapter>>,
    _typed: PhantomData<fn() -> S>,
}

impl<S> Clone for ReAct<S> {
    fn clone(&self) -> Self {
        ReAct {
            react: self.react.clone(),
            extract: self.extract.clone(),
            signature: self.signature.clone(),
            tools: self.tools.clone(),
            max_iters: self.max_iters,
            tool_calling: self.tool_calling,
            adapter: self.adapter.clone(),
            _typed: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for ReAct<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReAct")
            .field("signature", &self.signature.to_short_string())
            .field("tools", &self.tools.iter().map(Tool::name).collect::<Vec<_>>())
            .field("max_iters", &self.max_iters)
            .field("tool_calling", &self.tool_calling)
            .finish()
    }
}

/// DSPy's default `max_iters`.
const DEFAULT_MAX_ITERS: usize = 20;

impl ReAct<Untyped> {
    /// An agent over a run-time signature and these tools.
    pub fn from_signature(signature: Signature, tools: impl IntoIterator<Item = Tool>) -> std::result::Result<Self, SignatureError> {
        Self::build(signature, tools.into_iter().collect())
    }

    /// An agent over a string signature (`"question -> answer"`) and these tools.
    pub fn parse(signature: &str, tools: impl IntoIterator<Item = Tool>) -> std::result::Result<Self, SignatureError> {
        Self::build(Signature::parse(signature)?, tools.into_iter().collect())
    }
}

impl<S: TypedSignature> ReAct<S> {
    /// An agent over the typed signature `S` and these tools.
    pub fn new(tools: impl IntoIterator<Item = Tool>) -> std::result::Result<Self, SignatureError> {
        Self::build(S::signature().clone(), tools.into_iter().collect())
    }
}

// Typed inputs in; the outputs come with the reasoning and the trajectory.
super::typed::typed_over_signature!(ReAct, Acted);

impl<S> ReAct<S> {
    fn build(signature: Signature, user_tools: Vec<Tool>) -> std::result::Result<Self, SignatureError> {
        let names = |fields: &mut dyn Iterator<Item = &Field>| fields.map(|f| format!("`{}`", f.name)).collect::<Vec<_>>().join(", ");
        let inputs = names(&mut signature.input_fields());
        let outputs = names(&mut signature.output_fields());
        let mut instr: Vec<String> = Vec::new();
        if !signature.instructions().is_empty() {
            instr.push(format!("{}\n", signature.instructions()));
        }
        instr.extend([
            format!("You are an Agent. In each episode, you will be given the fields {inputs} as input. And you can see your past trajectory so far."),
            format!("Your goal is to use one or more of the supplied tools to collect any necessary information for producing {outputs}.\n"),
            "To do this, you will interleave next_thought, next_tool_name, and next_tool_args in each turn, and also when finishing the task.".into(),
            "After each tool call, you receive a resulting observation, which gets appended to your trajectory.\n".into(),
            "When writing next_thought, you may reason about the current situation and plan for future steps.".into(),
            "When selecting the next_tool_name and its next_tool_args, the tool must be one of:\n".into(),
        ]);

        // A dict keyed by name, as DSPy's: a later tool replaces an earlier one in place.
        let mut tools: Vec<Tool> = Vec::with_capacity(user_tools.len() + 1);
        let finish = Tool::from_parts(
            "finish",
            format!("Marks the task as complete. That is, signals that all information for producing the outputs, i.e. {outputs}, are now available to be extracted."),
            Map::new(),
            |_| async { Ok::<Value, ToolError>(json!("Completed.")) },
        );
        for tool in user_tools.into_iter().chain([finish]) {
            match tools.iter_mut().find(|t| t.name() == tool.name()) {
                Some(slot) => *slot = tool,
                None => tools.push(tool),
            }
        }
        for (idx, tool) in tools.iter().enumerate() {
            instr.push(format!("({}) {}", idx + 1, tool));
        }
        instr.push("When providing `next_tool_args`, the value inside the field must be in JSON format".into());

        let mut react_sig = Signature::new("StringSignature", instr.join("\n"));
        for f in signature.input_fields() {
            react_sig = react_sig.append(f.clone())?;
        }
        let tool_names = tools.iter().map(|t| Value::String(t.name().to_string())).collect();
        let react_sig = react_sig
            .append(Field::input("trajectory", FieldType::Str))?
            .append(Field::output("next_thought", FieldType::Str))?
            .append(Field::output("next_tool_name", FieldType::Literal(tool_names)))?
            .append(
                Field::output("next_tool_args", FieldType::dict(FieldType::Any))
                    .schema(json!({"additionalProperties": true, "type": "object"})),
            )?;

        let mut extract_sig = Signature::new("StringSignature", signature.instructions());
        for f in signature.input_fields().chain(signature.output_fields()) {
            extract_sig = extract_sig.append(f.clone())?;
        }
        let extract_sig = extract_sig.append(Field::input("trajectory", FieldType::Str))?;

        Ok(ReAct {
            react: Predict::from_signature(react_sig),
            extract: ChainOfThought::from_signature(extract_sig),
            signature,
            tools,
            max_iters: DEFAULT_MAX_ITERS,
            tool_calling: ToolCalling::Auto,
            adapter: None,
            _typed: PhantomData,
        })
    }

    /// At most this many tool calls (DSPy's `max_iters`, 20 by default). An input named
    /// `max_iters` overrides it for one call, as in DSPy.
    pub fn with_max_iters(mut self, max_iters: usize) -> Self {
        self.max_iters = max_iters;
        self
    }

    /// Uses this adapter for both predictors and for formatting the trajectory (instead of the
    /// configured one).
    pub fn with_adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.react = self.react.with_adapter(adapter.clone());
        self.extract.predict = self.extract.predict.with_adapter(adapter.clone());
        self.adapter = Some(adapter);
        self
    }

    /// Chooses text or native tool calling (default: [`ToolCalling::Auto`]).
    pub fn with_tool_calling(mut self, mode: ToolCalling) -> Self {
        self.tool_calling = mode;
        self
    }

    /// The tools, `finish` last.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The signature the agent answers.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The maximum number of tool calls.
    pub fn max_iters(&self) -> usize {
        self.max_iters
    }

    /// Runs the agent on an example's fields. The prediction holds `trajectory` (thoughts, tool
    /// names, arguments and observations, in order), `reasoning` and the signature's outputs.
    pub async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.run(inputs.data().clone()).await
    }

    async fn run(&self, mut inputs: Map<String, Value>) -> Result<Prediction> {
        let mut max_iters = self.max_iters;
        if self.signature.field("max_iters").is_none()
            && let Some(v) = inputs.shift_remove("max_iters")
        {
            max_iters = v.as_u64().ok_or_else(|| InputError::WrongType {
                needed_by: "ReAct".into(),
                field: "max_iters".into(),
                expected: "a non-negative integer".into(),
                reason: format!("got {v}"),
            })? as usize;
        }
        let native = self.uses_native_calls();
        let mut trajectory = Map::new();
        let mut usage = Usage::default();
        for idx in 0..max_iters {
            let step = self.with_truncation(&mut trajectory, |traj| self.next_step(&inputs, traj, native)).await;
            let step = match step {
                Ok(step) => step,
                Err(e) if is_context_window(&e) => {
                    tracing::warn!(error = %e, "Ending the trajectory");
                    break;
                }
                Err(e) => return Err(e),
            };
            usage += step.usage;
            trajectory.insert(format!("thought_{idx}"), Value::String(step.thought));
            trajectory.insert(format!("tool_name_{idx}"), Value::String(step.tool_name.clone()));
            trajectory.insert(format!("tool_args_{idx}"), step.tool_args.clone());
            let observation = match self.tools.iter().find(|t| t.name() == step.tool_name) {
                Some(tool) => tool.call(step.tool_args).await,
                None => Err(ToolError::UnknownTool { tool: step.tool_name.clone() }),
            };
            let observation = observation.unwrap_or_else(|e| Value::String(format!("Execution error in {}: {e}", step.tool_name)));
            trajectory.insert(format!("observation_{idx}"), observation);
            if step.tool_name == "finish" {
                break;
            }
        }
        let extract = self
            .with_truncation(&mut trajectory, |traj| {
                let mut with_traj = inputs.clone();
                with_traj.insert("trajectory".into(), Value::String(traj));
                async move { self.extract.predict.forward_map(&with_traj).await }
            })
            .await?;
        usage += extract.usage();
        let mut out = Map::new();
        out.insert("trajectory".into(), Value::Object(trajectory));
        out.extend(extract.outputs().clone());
        Ok(Prediction::new(out).with_usage(usage))
    }

    fn uses_native_calls(&self) -> bool {
        match self.tool_calling {
            ToolCalling::Text => false,
            ToolCalling::Native => true,
            ToolCalling::Auto => {
                self.react.lm().or_else(|| settings::current().lm()).is_some_and(|lm| lm.capabilities().function_calling)
            }
        }
    }

    fn adapter(&self) -> Arc<dyn Adapter> {
        self.adapter.clone().unwrap_or_else(|| settings::current().adapter())
    }

    /// DSPy's `_format_trajectory`: the trajectory as the adapter formats a user message of a
    /// signature whose inputs are the trajectory's keys.
    pub fn format_trajectory(&self, trajectory: &Map<String, Value>) -> Result<String> {
        let fields = trajectory.keys().map(|k| Field::input(k.as_str(), FieldType::Str)).chain([Field::output("x", FieldType::Str)]);
        let sig = Signature::from_fields("StringSignature", None, fields)?;
        Ok(self.adapter().format_user_message_content(&sig, trajectory, "", false))
    }

    /// DSPy's `_call_with_potential_trajectory_truncation`: up to three attempts, dropping the
    /// oldest tool call after each context-window error.
    async fn with_truncation<T, F, Fut>(&self, trajectory: &mut Map<String, Value>, mut call: F) -> Result<T>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        for _ in 0..3 {
            match call(self.format_trajectory(trajectory)?).await {
                Err(e) if is_context_window(&e) => {
                    tracing::warn!("Trajectory exceeded the context window, truncating the oldest tool call information.");
                    truncate_trajectory(trajectory)?;
                }
                other => return other,
            }
        }
        Err(LmError::ContextWindowExceeded {
            message: "The context window was exceeded even after 3 attempts to truncate the trajectory.".into(),
        }
        .into())
    }

    async fn next_step(&self, inputs: &Map<String, Value>, trajectory: String, native: bool) -> Result<Step> {
        let mut with_traj = inputs.clone();
        with_traj.insert("trajectory".into(), Value::String(trajectory));
        if native {
            return self.next_step_native(&with_traj).await;
        }
        let pred = self.react.forward_map(&with_traj).await?;
        Ok(Step::from_outputs(pred.outputs(), pred.usage()))
    }

    /// One step with the tools offered natively (same messages as the text protocol).
    async fn next_step_native(&self, inputs: &Map<String, Value>) -> Result<Step> {
        let current = settings::current();
        let lm = self.react.lm().or_else(|| current.lm()).ok_or(Error::NoLm)?;
        let adapter = self.adapter();
        let sig = self.react.signature();
        let config = lm.defaults().merged(self.react.config());
        let mut request = LmRequest {
            messages: adapter.format(sig, self.react.demos(), inputs),
            config: config.clone(),
            tools: self.tools.iter().map(Tool::to_spec).collect(),
            ..LmRequest::default()
        };
        adapter.prepare_request(sig, &mut request, &lm.capabilities());
        let response = lm.complete(request).await?;
        let output = response.outputs.into_iter().next().unwrap_or_default();
        let step = match output.tool_calls.first() {
            Some(call) => {
                let thought_only = sig.clone().remove("next_tool_name").remove("next_tool_args");
                let thought = adapter
                    .parse(&thought_only, &output.text)
                    .ok()
                    .and_then(|o| o.get("next_thought").and_then(Value::as_str).map(String::from))
                    .unwrap_or_else(|| crate::pyfmt::strip(&output.text).to_string());
                let tool_args = match &call.args {
                    Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
                    other => other.clone(),
                };
                Step { thought, tool_name: call.name.clone(), tool_args, usage: response.usage }
            }
            // No native call: the text fields, as in the text protocol (with its fallback adapter).
            None => match (adapter.parse(sig, &output.text), adapter.fallback()) {
                (Ok(outputs), _) => Step::from_outputs(&outputs, response.usage),
                (Err(error), Some(fallback)) => {
                    tracing::debug!(%error, fallback = fallback.name(), "no tool call and unparsable text, retrying with the fallback adapter");
                    let (completions, more) = crate::adapter::run(fallback, &*lm, sig, self.react.demos(), inputs, config).await?;
                    let outputs = completions.into_iter().next().ok_or(crate::error::ParseError::Empty { adapter: fallback.name() })?;
                    Step::from_outputs(&outputs, response.usage + more)
                }
                (Err(error), None) => return Err(error.into()),
            },
        };
        let mut outputs = Map::new();
        outputs.insert("next_thought".into(), Value::String(step.thought.clone()));
        outputs.insert("next_tool_name".into(), Value::String(step.tool_name.clone()));
        outputs.insert("next_tool_args".into(), step.tool_args.clone());
        trace::record(current.inner(), self.react.id(), inputs, &Prediction::new(outputs).with_usage(step.usage));
        Ok(step)
    }
}

use std::future::Future;

/// One decision of the agent.
struct Step {
    thought: String,
    tool_name: String,
    tool_args: Value,
    usage: Usage,
}

impl Step {
    fn from_outputs(outputs: &Map<String, Value>, usage: Usage) -> Self {
        let text = |k: &str| match outputs.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => crate::pyfmt::py_str(other),
            None => String::new(),
        };
        Step {
            thought: text("next_thought"),
            tool_name: text("next_tool_name"),
            tool_args: outputs.get("next_tool_args").cloned().unwrap_or_else(|| Value::Object(Map::new())),
            usage,
        }
    }
}

fn is_context_window(e: &Error) -> bool {
    matches!(e, Error::Lm(LmError::ContextWindowExceeded { .. }))
}

/// DSPy's `truncate_trajectory`: drops the oldest tool call (its four entries).
fn truncate_trajectory(trajectory: &mut Map<String, Value>) -> Result<()> {
    if trajectory.len() <= 4 {
        return Err(LmError::ContextWindowExceeded {
            message: "The trajectory is too long so your prompt exceeded the context window, but the trajectory cannot be truncated because it only has one tool call.".into(),
        }
        .into());
    }
    let oldest: Vec<String> = trajectory.keys().take(4).cloned().collect();
    for key in oldest {
        trajectory.shift_remove(&key);
    }
    Ok(())
}

/// Typed outputs of an agent with its reasoning and trajectory; derefs to the outputs.
#[derive(Clone, Debug, serde::Serialize, Deserialize)]
pub struct Acted<O> {
    /// Thoughts, tool names, arguments and observations (`thought_0`, `tool_name_0`, ...).
    pub trajectory: Map<String, Value>,
    /// The extraction's reasoning.
    pub reasoning: String,
    /// The signature's outputs.
    #[serde(flatten)]
    pub output: O,
}

impl<O> Deref for Acted<O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.output
    }
}

impl<O> DerefMut for Acted<O> {
    fn deref_mut(&mut self) -> &mut O {
        &mut self.output
    }
}

#[async_trait::async_trait]
impl<S> Module for ReAct<S> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        ReAct::forward(self, inputs).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        vec![("react".into(), &self.react as &dyn Predictor), ("extract.predict".into(), &self.extract.predict as &dyn Predictor)]
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        vec![
            ("react".into(), &mut self.react as &mut dyn Predictor),
            ("extract.predict".into(), &mut self.extract.predict as &mut dyn Predictor),
        ]
    }
}
