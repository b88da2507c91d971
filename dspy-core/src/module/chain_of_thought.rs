//! `ChainOfThought`: reason step by step before answering.

use std::ops::{Deref, DerefMut};

use serde::Deserialize;

use super::{Module, Predict, Predictor, Untyped};
use crate::error::Result;
use crate::example::Example;
use crate::prediction::{Predicted, Prediction};
use crate::signature::{Field, FieldType, Signature, TypedSignature};

/// Adds a `reasoning` output before the signature's outputs, exactly as DSPy does, so the LM
/// thinks before it answers. Its one predictor is named `predict` (`generate_answer.predict`
/// in a program), as in DSPy's saved programs.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{ChainOfThought, DummyLM, Example};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = Arc::new(DummyLM::new(vec![serde_json::json!({"reasoning": "2 + 2 = 4", "answer": "4"})]));
/// let cot = ChainOfThought::parse("question -> answer").unwrap().with_lm(lm);
/// let out = cot.forward(&Example::new().with("question", "2 + 2?")).await.unwrap();
/// assert_eq!(out.get_str("reasoning"), Some("2 + 2 = 4"));
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct ChainOfThought<S = Untyped> {
    /// The predictor over the extended signature.
    pub predict: Predict<S>,
}

/// The extended signature: `reasoning: str` prepended to the outputs.
pub fn with_reasoning(signature: Signature) -> Signature {
    let reasoning = Field::output("reasoning", FieldType::Str);
    match signature.clone().prepend(reasoning) {
        Ok(extended) => extended,
        Err(_) => signature, // already has a `reasoning` field
    }
}

impl ChainOfThought<Untyped> {
    /// Chain of thought over a run-time signature.
    pub fn from_signature(signature: Signature) -> Self {
        ChainOfThought { predict: Predict::from_signature(with_reasoning(signature)) }
    }

    /// Chain of thought over a string signature.
    pub fn parse(signature: &str) -> std::result::Result<Self, crate::SignatureError> {
        Signature::parse(signature).map(Self::from_signature)
    }
}

impl<S: TypedSignature> ChainOfThought<S> {
    /// Chain of thought over the typed signature `S`.
    pub fn new() -> Self {
        let mut predict = Predict::<S>::new();
        let extended = with_reasoning(predict.signature().clone());
        predict.set_signature(extended);
        ChainOfThought { predict }
    }

    /// Chain of thought over the typed signature of this value.
    pub fn typed(_signature: S) -> Self {
        Self::new()
    }

    /// Reasons, then answers with typed outputs (plus `reasoning`).
    pub async fn call(&self, input: impl Into<S::Input>) -> Result<Predicted<Reasoned<S::Output>>> {
        let prediction = self.predict.forward_map(&super::predict::input_map(input.into())?).await?;
        Predicted::new(prediction)
    }

    /// [`ChainOfThought::call`] for sync code.
    pub fn call_blocking(&self, input: impl Into<S::Input>) -> Result<Predicted<Reasoned<S::Output>>> {
        crate::block_on(self.call(input))
    }
}

impl<S: TypedSignature> Default for ChainOfThought<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> ChainOfThought<S> {
    /// Uses this LM.
    pub fn with_lm(mut self, lm: impl crate::LanguageModel + 'static) -> Self {
        self.predict = self.predict.with_lm(lm);
        self
    }

    /// Runs on an example's fields.
    pub async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.predict.forward(inputs).await
    }
}

/// Typed outputs with the reasoning that led to them; derefs to the outputs.
#[derive(Clone, Debug, Deserialize)]
pub struct Reasoned<O> {
    /// The LM's reasoning.
    pub reasoning: String,
    /// The signature's outputs.
    #[serde(flatten)]
    pub output: O,
}

impl<O> Deref for Reasoned<O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.output
    }
}

impl<O> DerefMut for Reasoned<O> {
    fn deref_mut(&mut self) -> &mut O {
        &mut self.output
    }
}

#[async_trait::async_trait]
impl<S> Module for ChainOfThought<S> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.predict.forward(inputs).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        vec![("predict".to_string(), &self.predict as &dyn Predictor)]
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        vec![("predict".to_string(), &mut self.predict as &mut dyn Predictor)]
    }
}
