//! `ChainOfThought`: reason step by step before answering.

use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

use super::{Module, Predict, Predictor, TypedCall, TypedModule, TypedStream, Untyped, input_map, serialized_example, typed_stream};
use crate::error::Result;
use crate::example::Example;
use crate::prediction::{Predicted, Prediction};
use crate::signature::{Field, FieldType, Signature, TypedSignature};

/// Adds a `reasoning` output before the signature's outputs, exactly as DSPy does, so the LM
/// thinks before it answers. Its one predictor is named `predict` (`generate_answer.predict`
/// in a program), as in DSPy's saved programs.
///
/// ```
/// use dspy_core::{ChainOfThought, DummyLM, Example, Module};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = DummyLM::new(vec![serde_json::json!({"reasoning": "2 + 2 = 4", "answer": "4"})]);
/// let cot = ChainOfThought::parse("question -> answer").unwrap().with_lm(lm);
/// let out = cot.forward(&Example::new().with("question", "2 + 2?")).await.unwrap();
/// assert_eq!(out.get_str("reasoning"), Some("2 + 2 = 4"));
/// # });
/// ```
pub struct ChainOfThought<S = Untyped> {
    /// The predictor over the extended signature.
    pub predict: Predict<S>,
}

// By hand, not derived: a derive would require `S: Clone` / `S: Debug`, and a
// `#[derive(Signature)]` struct is neither, so a `#[module]` holding `ChainOfThought<ItsSignature>`
// could not be cloned.
impl<S> Clone for ChainOfThought<S> {
    fn clone(&self) -> Self {
        ChainOfThought { predict: self.predict.clone() }
    }
}

impl<S> std::fmt::Debug for ChainOfThought<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainOfThought").field("predict", &self.predict).finish()
    }
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

}

/// Reasons, then answers: `S::Input` in, `S::Output` plus the `reasoning` out.
impl<S: TypedSignature> TypedModule for ChainOfThought<S> {
    type Input = S::Input;
    type Output = Reasoned<S::Output>;

    fn to_example(input: S::Input) -> Result<Example> {
        serialized_example(input)
    }

    fn to_output(prediction: Prediction) -> Result<Predicted<Reasoned<S::Output>>> {
        Predicted::new(prediction)
    }

    fn call(&self, input: impl Into<S::Input> + Send) -> TypedCall<'_, Self::Output> {
        let inputs = input_map(input.into());
        Box::pin(async move { Predicted::new(self.predict.forward_map(&inputs?).await?) })
    }

    fn stream(&self, input: impl Into<S::Input> + Send) -> TypedStream<'_, Self::Output> {
        match input_map(input.into()) {
            Ok(map) => typed_stream(self.predict.stream_map(map)),
            Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
        }
    }
}

impl<S: TypedSignature> Default for ChainOfThought<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> ChainOfThought<S> {
    /// Runs on an example's fields.
    pub async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.predict.forward(inputs).await
    }
}

/// Typed outputs with the reasoning that led to them; derefs to the outputs.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
