//! `Retrieve`: the module form of retrieval (DSPy's `dspy.Retrieve(k)`).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Passage, RetrieveError, Retriever};
use crate::error::Result;
use crate::example::Example;
use crate::module::{Module, Predictor};
use crate::prediction::Prediction;
use crate::settings;

/// Retrieves `k` passages for a query with its own retriever, or else the one configured with
/// `dspy::configure(Settings::new().rm(..))`. As a module it reads the `query` input (and an
/// optional `k`) and returns `passages`, a list of texts. It has no predictors, so it can be a
/// field of a `#[module]` program as it is.
///
/// ```
/// use dspy_core::retrieve::{Embeddings, FnEmbedder, Retrieve};
/// use dspy_core::{Example, Module};
/// let embedder = FnEmbedder::new(|texts: &[String]| Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect()));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let rm = Embeddings::new(["short", "a much longer passage"], embedder, 1).await.unwrap();
/// let retrieve = Retrieve::new(1).with_rm(rm);
/// let out = retrieve.forward(&Example::new().with("query", "tiny")).await.unwrap();
/// assert_eq!(out.get("passages"), Some(&serde_json::json!(["short"])));
/// assert_eq!(retrieve.call("tiny").await.unwrap(), ["short"]);
/// # });
/// ```
#[derive(Clone)]
pub struct Retrieve {
    k: usize,
    rm: Option<Arc<dyn Retriever>>,
}

impl fmt::Debug for Retrieve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retrieve").field("k", &self.k).field("rm", &self.rm).finish()
    }
}

impl Default for Retrieve {
    /// `k = 3`, DSPy's default.
    fn default() -> Self {
        Retrieve::new(3)
    }
}

impl Retrieve {
    /// Retrieves `k` passages per query.
    pub fn new(k: usize) -> Self {
        Retrieve { k, rm: None }
    }

    /// Uses this retriever instead of the configured one (by value, or an `Arc` to share one).
    pub fn with_rm(mut self, rm: impl Retriever + 'static) -> Self {
        self.rm = Some(rm.into_shared());
        self
    }

    /// The number of passages.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Sets the number of passages.
    pub fn set_k(&mut self, k: usize) {
        self.k = k;
    }

    fn retriever(&self) -> Result<Arc<dyn Retriever>> {
        self.rm.clone().or_else(|| settings::current().rm()).ok_or_else(|| RetrieveError::NoRetriever.into())
    }

    /// The top `k` passages with their scores.
    pub async fn search(&self, query: &str) -> Result<Vec<Passage>> {
        self.retriever()?.retrieve(query, self.k).await
    }

    /// The texts of the top `k` passages.
    pub async fn call(&self, query: &str) -> Result<Vec<String>> {
        Ok(self.search(query).await?.into_iter().map(|p| p.text).collect())
    }
}

#[async_trait::async_trait]
impl Module for Retrieve {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let query = inputs
            .get_str("query")
            .ok_or_else(|| RetrieveError::Query("`Retrieve` needs a text input `query`".into()))?;
        let k = inputs.get("k").and_then(Value::as_u64).map_or(self.k, |k| k as usize);
        let passages = self.retriever()?.retrieve(query, k).await?;
        let mut out = Map::new();
        out.insert("passages".into(), Value::Array(passages.into_iter().map(|p| Value::String(p.text)).collect()));
        Ok(Prediction::new(out))
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        Vec::new()
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        Vec::new()
    }
}
