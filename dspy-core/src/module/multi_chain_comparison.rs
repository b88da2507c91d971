//! `MultiChainComparison`: compare several reasoning attempts and answer once more.

use std::marker::PhantomData;

use serde_json::{Map, Value};

use super::{Module, Predict, Predictor, Untyped};
use crate::error::{Error, InputError, Result, SignatureError};
use crate::example::Example;
use crate::lm::LmConfig;
use crate::prediction::{Predicted, Prediction};
use crate::pyfmt;
use crate::signature::{Field, FieldType, Signature, TypedSignature};

/// DSPy's MultiChainComparison: given `M` completions of the same signature (each with its
/// `reasoning` or `rationale` and its answer), shows them to the LM as student attempts
/// (`«I'm trying to {reasoning} I'm not sure but my prediction is {answer}»`) and asks for a
/// corrected `rationale` and the outputs. Its one predictor is named `predict` and samples at
/// temperature 0.7 unless configured otherwise, as in DSPy.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::module::MultiChainComparison;
/// use dspy_core::{DummyLM, Example, Module};
/// use serde_json::json;
///
/// let lm = Arc::new(DummyLM::new(vec![json!({"rationale": "Most say Paris.", "answer": "Paris"})]));
/// let mcc = MultiChainComparison::parse("question -> answer", 2).unwrap().with_lm(lm);
/// let attempts = [json!({"reasoning": "It is Paris.", "answer": "Paris"}), json!({"reasoning": "Lyon?", "answer": "Lyon"})];
/// let attempts: Vec<_> = attempts.iter().map(|a| a.as_object().unwrap().clone()).collect();
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = mcc.compare(&attempts, &Example::new().with("question", "Capital of France?")).await.unwrap();
/// assert_eq!(out.get_str("answer"), Some("Paris"));
/// # });
/// ```
pub struct MultiChainComparison<S = Untyped> {
    /// The predictor over the extended signature (DSPy's `predict`).
    pub predict: Predict,
    m: usize,
    last_key: String,
    _typed: PhantomData<fn() -> S>,
}

impl<S> Clone for MultiChainComparison<S> {
    fn clone(&self) -> Self {
        MultiChainComparison { predict: self.predict.clone(), m: self.m, last_key: self.last_key.clone(), _typed: PhantomData }
    }
}

impl<S> std::fmt::Debug for MultiChainComparison<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiChainComparison").field("predict", &self.predict).field("m", &self.m).finish()
    }
}

impl MultiChainComparison<Untyped> {
    /// Compares `m` attempts at a run-time signature.
    pub fn from_signature(signature: Signature, m: usize) -> std::result::Result<Self, SignatureError> {
        Self::build(signature, m)
    }

    /// Compares `m` attempts at a string signature.
    pub fn parse(signature: &str, m: usize) -> std::result::Result<Self, SignatureError> {
        Self::build(Signature::parse(signature)?, m)
    }
}

impl<S: TypedSignature> MultiChainComparison<S> {
    /// Compares `m` attempts at the typed signature `S`.
    pub fn new(m: usize) -> std::result::Result<Self, SignatureError> {
        Self::build(S::signature().clone(), m)
    }
}

/// The inputs of a typed [`MultiChainComparison`]: the attempts to compare (any serialisable
/// values: maps, typed completions such as a `ChainOfThought`'s) and the signature's inputs.
/// Converts from `(attempts, inputs)`.
#[derive(Clone, Debug)]
pub struct Attempts<I> {
    /// One JSON object per attempt (with the `reasoning`/`rationale` and the last output).
    pub completions: Vec<Value>,
    /// The signature's inputs.
    pub input: I,
}

impl<I, C: serde::Serialize, J: Into<I>> From<(Vec<C>, J)> for Attempts<I> {
    /// An attempt that cannot be serialised is kept as `null`, which the call refuses.
    fn from((completions, input): (Vec<C>, J)) -> Self {
        Attempts { completions: completions.iter().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)).collect(), input: input.into() }
    }
}

/// Compares typed attempts (e.g. the completions of a `ChainOfThought<S>` with `n = m`) and
/// answers with typed outputs plus the `rationale`.
impl<S: TypedSignature> super::TypedModule for MultiChainComparison<S> {
    type Input = Attempts<S::Input>;
    type Output = Rationalized<S::Output>;

    fn to_example(input: Attempts<S::Input>) -> Result<Example> {
        let mut inputs = super::input_map(input.input)?;
        inputs.insert("completions".into(), Value::Array(input.completions));
        Ok(Example::from_map(inputs))
    }

    fn to_output(prediction: Prediction) -> Result<Predicted<Rationalized<S::Output>>> {
        Predicted::new(prediction)
    }
}

/// Typed outputs with the corrected reasoning; derefs to the outputs.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Rationalized<O> {
    /// The LM's corrected reasoning.
    pub rationale: String,
    /// The signature's outputs.
    #[serde(flatten)]
    pub output: O,
}

impl<O> std::ops::Deref for Rationalized<O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.output
    }
}

impl<S> MultiChainComparison<S> {
    fn build(signature: Signature, m: usize) -> std::result::Result<Self, SignatureError> {
        let last_key = signature.output_fields().last().map(|f| f.name.clone()).ok_or(SignatureError::NoOutputs)?;
        let mut sig = signature;
        for idx in 1..=m {
            sig = sig.append(
                Field::input(format!("reasoning_attempt_{idx}"), FieldType::Str)
                    .prefix(format!("Student Attempt #{idx}:"))
                    .desc("${reasoning attempt}"),
            )?;
        }
        let sig = sig.prepend(
            Field::output("rationale", FieldType::Str)
                .prefix("Accurate Reasoning: Thank you everyone. Let's now holistically")
                .desc("${corrected reasoning}"),
        )?;
        let predict = Predict::from_signature(sig).with_config(LmConfig { temperature: Some(0.7), ..LmConfig::default() });
        Ok(MultiChainComparison { predict, m, last_key, _typed: PhantomData })
    }

    /// Replaces the LM settings (DSPy's `temperature` and `**config`).
    pub fn with_config(mut self, config: LmConfig) -> Self {
        self.predict = self.predict.with_config(config);
        self
    }

    /// How many attempts each call compares.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Compares the attempts for these inputs.
    pub async fn compare(&self, completions: &[Map<String, Value>], inputs: &Example) -> Result<Prediction> {
        self.compare_map(completions, inputs.data().clone()).await
    }

    async fn compare_map(&self, completions: &[Map<String, Value>], inputs: Map<String, Value>) -> Result<Prediction> {
        let mut kwargs = Map::new();
        for (idx, attempt) in self.attempts(completions)?.into_iter().enumerate() {
            kwargs.insert(format!("reasoning_attempt_{}", idx + 1), Value::String(attempt));
        }
        kwargs.extend(inputs);
        self.predict.forward_map(&kwargs).await
    }

    /// The attempts as DSPy words them: the first line of each reasoning and of each answer.
    fn attempts(&self, completions: &[Map<String, Value>]) -> Result<Vec<String>> {
        let first_line = |s: &str| pyfmt::strip(pyfmt::strip(s).split('\n').next().unwrap_or("")).to_string();
        let mut attempts = Vec::with_capacity(completions.len());
        for (i, c) in completions.iter().enumerate() {
            let rationale = match c.get("rationale").or_else(|| c.get("reasoning")) {
                Some(Value::String(s)) => first_line(s),
                Some(other) => first_line(&pyfmt::py_str(other)),
                None => return Err(invalid(format!("completion {i} has neither `rationale` nor `reasoning`"))),
            };
            let answer = match c.get(&self.last_key) {
                Some(v) => first_line(&pyfmt::py_str(v)),
                None => return Err(invalid(format!("completion {i} has no `{}`", self.last_key))),
            };
            attempts.push(format!("«I'm trying to {rationale} I'm not sure but my prediction is {answer}»"));
        }
        if attempts.len() != self.m {
            return Err(invalid(format!(
                "The number of attempts ({}) doesn't match the expected number M ({}). Please set the correct value for M when initializing MultiChainComparison.",
                attempts.len(),
                self.m
            )));
        }
        Ok(attempts)
    }
}

#[async_trait::async_trait]
impl<S> Module for MultiChainComparison<S> {
    /// Reads the attempts from the example's `completions` field (a list of objects); the
    /// other fields are the inputs.
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let mut data = inputs.data().clone();
        let completions = match data.shift_remove("completions") {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(m),
                    other => Err(InputError::NotAnObject { what: "each completion".into(), reason: format!("got {other}") }.into()),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(invalid("needs a `completions` list among its inputs".into())),
        };
        self.compare_map(&completions, data).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        vec![("predict".into(), &self.predict as &dyn Predictor)]
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        vec![("predict".into(), &mut self.predict as &mut dyn Predictor)]
    }
}

/// A refusal of MultiChainComparison's inputs, in its own words.
fn invalid(message: String) -> Error {
    InputError::Invalid { needed_by: "MultiChainComparison".into(), message }.into()
}
