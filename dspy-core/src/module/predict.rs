//! `Predict`: one LM call for a signature, with demos and settings.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Module, Predictor, TypedCall, TypedModule, TypedStream, input_map, serialized_example, typed_stream};
use crate::adapter::{self, Adapter};
use crate::error::{Error, Result, StateError};
use crate::example::Example;
use crate::lm::{LanguageModel, LmConfig};
use crate::prediction::{Predicted, Prediction};
use crate::settings;
use crate::error::SignatureError;
use crate::signature::{Signature, SignatureState, TypedSignature};
use crate::trace::{self, PredictorId};

/// The signature marker of a predictor built from a run-time signature (no Rust types).
#[derive(Clone, Copy, Debug, Default)]
pub struct Untyped;

/// Calls the LM for one signature: formats with the adapter, sends, parses into outputs.
///
/// A `Predict<S>` over a typed signature is a [`TypedModule`] from `S::Input` to `S::Output`
/// ([`TypedModule::call`]); every predictor also has the dynamic [`Predict::forward`].
///
/// ```
/// use dspy_core::{DummyLM, Module, Predict};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = DummyLM::new(vec![serde_json::json!({"answer": "true"})]);
/// let check = Predict::parse("claim -> answer: bool").unwrap().with_lm(lm);
/// let out = check.forward(&dspy_core::Example::new().with("claim", "Water is wet.")).await.unwrap();
/// assert_eq!(out.get("answer"), Some(&serde_json::json!(true)));
/// # });
/// ```
pub struct Predict<S = Untyped> {
    id: PredictorId,
    signature: Signature,
    demos: Vec<Example>,
    config: LmConfig,
    lm: Option<Arc<dyn LanguageModel>>,
    adapter: Option<Arc<dyn Adapter>>,
    _typed: PhantomData<fn() -> S>,
}

impl<S> Clone for Predict<S> {
    /// A copy with its own identity (so traces tell the two apart).
    fn clone(&self) -> Self {
        Predict {
            id: PredictorId::fresh(),
            signature: self.signature.clone(),
            demos: self.demos.clone(),
            config: self.config.clone(),
            lm: self.lm.clone(),
            adapter: self.adapter.clone(),
            _typed: PhantomData,
        }
    }
}

impl<S> fmt::Debug for Predict<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Predict")
            .field("signature", &self.signature.to_short_string())
            .field("demos", &self.demos.len())
            .field("lm", &self.lm.as_ref().map(|lm| lm.model().to_string()))
            .finish()
    }
}

impl Predict<Untyped> {
    /// A predictor for a run-time signature.
    pub fn from_signature(signature: Signature) -> Self {
        Self::with_signature(signature)
    }

    /// A predictor for a string signature (`"question -> answer"`).
    pub fn parse(signature: &str) -> std::result::Result<Self, SignatureError> {
        Signature::parse(signature).map(Self::with_signature)
    }
}

impl<S: TypedSignature> Predict<S> {
    /// A predictor for the typed signature `S`.
    pub fn new() -> Self {
        Self::with_signature(S::signature().clone())
    }

    /// A predictor for the typed signature of this value (what `signature!("...")` returns).
    pub fn typed(_signature: S) -> Self {
        Self::new()
    }

}

/// Typed inputs in, typed outputs out: `S::Input` and `S::Output`.
impl<S: TypedSignature> TypedModule for Predict<S> {
    type Input = S::Input;
    type Output = S::Output;

    fn to_example(input: S::Input) -> Result<Example> {
        serialized_example(input)
    }

    fn to_output(prediction: Prediction) -> Result<Predicted<S::Output>> {
        Predicted::new(prediction)
    }

    fn call(&self, input: impl Into<S::Input> + Send) -> TypedCall<'_, S::Output> {
        let inputs = input_map(input.into());
        Box::pin(async move { Predicted::new(self.forward_map(&inputs?).await?) })
    }

    fn stream(&self, input: impl Into<S::Input> + Send) -> TypedStream<'_, S::Output> {
        match input_map(input.into()) {
            Ok(map) => typed_stream(self.stream_map(map)),
            Err(e) => Box::pin(futures::stream::once(async move { Err(e) })),
        }
    }
}

impl<S: TypedSignature> Default for Predict<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Predict<S> {
    fn with_signature(signature: Signature) -> Self {
        Predict {
            id: PredictorId::fresh(),
            signature,
            demos: Vec::new(),
            config: LmConfig::default(),
            lm: None,
            adapter: None,
            _typed: PhantomData,
        }
    }

    /// Uses this adapter instead of the configured one.
    pub fn with_adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapter = Some(adapter);
        self
    }

    /// Sets the demos (few-shot examples).
    pub fn with_demos(mut self, demos: impl IntoIterator<Item = impl Into<Example>>) -> Self {
        self.demos = demos.into_iter().map(Into::into).collect();
        self
    }

    /// Sets LM settings for this predictor (temperature, `n`, max tokens...).
    pub fn with_config(mut self, config: LmConfig) -> Self {
        self.config = config;
        self
    }

    /// The LM settings of this predictor.
    pub fn config(&self) -> &LmConfig {
        &self.config
    }

    /// Mutable LM settings.
    pub fn config_mut(&mut self) -> &mut LmConfig {
        &mut self.config
    }

    /// Mutable signature (e.g. to change instructions).
    pub fn signature_mut(&mut self) -> &mut Signature {
        &mut self.signature
    }

    /// Calls the LM with a map of input values.
    pub async fn forward_map(&self, inputs: &Map<String, Value>) -> Result<Prediction> {
        let call = self.prepare(inputs)?;
        let run = adapter::run_keeping_completion(&*call.adapter, &*call.lm, &self.signature, &self.demos, inputs, call.config).await?;
        let (completions, usage) = run.map_err(|(error, completion)| {
            trace::record_failure(call.settings.inner(), self.id, inputs, completion);
            error
        })?;
        let prediction = Prediction::from_completions(completions).with_usage(usage);
        trace::record(call.settings.inner(), self.id, inputs, &prediction);
        Ok(prediction)
    }

    /// What one call uses: the LM and adapter in effect and the merged LM settings.
    pub(crate) fn prepare(&self, inputs: &Map<String, Value>) -> Result<PreparedCall> {
        let settings = settings::current();
        let lm = self.lm.clone().or_else(|| settings.lm()).ok_or(Error::NoLm)?;
        let adapter = self.adapter.clone().unwrap_or_else(|| settings.adapter());
        warn_on_input_mismatch(&self.signature, inputs);
        let mut config = lm.defaults().merged(&self.config);
        if config.n.unwrap_or(1) > 1 && config.temperature.is_none_or(|t| t <= 0.15) {
            // As DSPy: several samples at (near) zero temperature would all be the same.
            config.temperature = Some(0.7);
        }
        Ok(PreparedCall { lm, adapter, config, settings })
    }

    /// This predictor's identity.
    pub(crate) fn predictor_id(&self) -> PredictorId {
        self.id
    }

    /// This predictor's demos.
    pub(crate) fn demo_list(&self) -> &[Example] {
        &self.demos
    }

    /// Calls the LM with an example's fields as inputs.
    pub async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.forward_map(inputs.data()).await
    }
}

/// The LM, adapter, settings and LM configuration one call runs with.
pub(crate) struct PreparedCall {
    pub(crate) lm: Arc<dyn LanguageModel>,
    pub(crate) adapter: Arc<dyn Adapter>,
    pub(crate) config: LmConfig,
    pub(crate) settings: settings::CurrentSettings,
}

fn warn_on_input_mismatch(sig: &Signature, inputs: &Map<String, Value>) {
    let unknown: Vec<&String> = inputs.keys().filter(|k| sig.input_fields().all(|f| &f.name != *k)).collect();
    if !unknown.is_empty() {
        tracing::warn!(?unknown, signature = %sig.to_short_string(), "inputs not in the signature are ignored");
    }
    let missing: Vec<&str> =
        sig.input_fields().filter(|f| !inputs.contains_key(&f.name) && !f.ty.allows_none()).map(|f| f.name.as_str()).collect();
    if !missing.is_empty() {
        tracing::warn!(?missing, signature = %sig.to_short_string(), "not all input fields were provided");
    }
}

#[async_trait::async_trait]
impl<S> Module for Predict<S> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        Predict::forward(self, inputs).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        vec![("self".to_string(), self as &dyn Predictor)]
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        vec![("self".to_string(), self as &mut dyn Predictor)]
    }
}

impl<S> Predictor for Predict<S> {
    fn id(&self) -> PredictorId {
        self.id
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn set_signature(&mut self, signature: Signature) {
        self.signature = signature;
    }

    fn demos(&self) -> &[Example] {
        &self.demos
    }

    fn set_demos(&mut self, demos: Vec<Example>) {
        self.demos = demos;
    }

    fn lm(&self) -> Option<Arc<dyn LanguageModel>> {
        self.lm.clone()
    }

    fn set_lm(&mut self, lm: Option<Arc<dyn LanguageModel>>) {
        self.lm = lm;
    }

    fn dump_state(&self) -> Value {
        json!({
            "traces": [],
            "train": [],
            "demos": self.demos,
            "signature": self.signature.dump_state(),
            "lm": self.lm.as_ref().map(|lm| json!({"model": lm.model()})),
        })
    }

    fn load_state(&mut self, state: &Value) -> Result<()> {
        let signature: SignatureState = serde_json::from_value(state.get("signature").cloned().unwrap_or(Value::Null))
            .map_err(|source| StateError::InvalidEntry { key: "signature", source })?;
        let demos: Vec<Example> = match state.get("demos") {
            None | Some(Value::Null) => Vec::new(),
            Some(d) => serde_json::from_value(d.clone()).map_err(|source| StateError::InvalidEntry { key: "demos", source })?,
        };
        self.signature.load_state(&signature)?;
        self.demos = demos;
        Ok(())
    }
}
