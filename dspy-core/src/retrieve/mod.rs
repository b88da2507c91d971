//! Retrieval: a [`Retriever`] returns the passages most relevant to a query, with scores.
//! [`Embeddings`] searches an in-memory corpus by exact cosine similarity over any
//! [`Embedder`] (an OpenAI-compatible `/v1/embeddings` server or your own function);
//! [`ColBERTv2`] queries a ColBERTv2 server; the [`Retrieve`] module calls the retriever
//! configured with `dspy::configure(Settings::new().rm(..))`, as DSPy's `dspy.Retrieve(k)`.

mod colbert;
mod embedder;
mod embeddings;
pub(crate) mod error;
mod retrieve_module;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use colbert::ColBERTv2;
pub use embedder::{Embedder, FnEmbedder, OpenAIEmbedder};
pub use embeddings::Embeddings;
pub use error::RetrieveError;
pub use retrieve_module::Retrieve;

use crate::error::Result;

/// One retrieved passage: its text, its score (higher is more relevant) and whatever else the
/// retriever knows about it.
///
/// ```
/// let p = dspy_core::retrieve::Passage::new("Paris is in France.").with_score(0.9);
/// assert_eq!(p.score, Some(0.9));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// The passage text (DSPy's `long_text`).
    pub text: String,
    /// The relevance score, when the retriever gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The passage's position in the corpus, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Everything else the retriever returned (ColBERTv2's `pid`, `rank`, `prob`...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl Passage {
    /// A passage with only its text.
    pub fn new(text: impl Into<String>) -> Self {
        Passage { text: text.into(), ..Passage::default() }
    }

    /// Sets the score.
    pub fn with_score(mut self, score: f64) -> Self {
        self.score = Some(score);
        self
    }
}

/// Finds the `k` passages most relevant to a query, best first.
///
/// ```
/// use dspy_core::retrieve::{Passage, Retriever};
/// #[derive(Debug)]
/// struct Fixed;
/// #[async_trait::async_trait]
/// impl Retriever for Fixed {
///     async fn retrieve(&self, query: &str, k: usize) -> dspy_core::Result<Vec<Passage>> {
///         Ok(vec![Passage::new(format!("about {query}")); k])
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(Fixed.retrieve("cats", 2).await.unwrap().len(), 2);
/// # });
/// ```
#[async_trait::async_trait]
pub trait Retriever: Send + Sync + fmt::Debug {
    /// The top `k` passages for `query`, most relevant first.
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>>;

    /// The shared handle `Retrieve` and the settings keep. Any retriever is taken by value
    /// (`Settings::new().rm(rm)`, `Retrieve::new(k).with_rm(rm)`), as LMs are; an `Arc` given
    /// there is kept as it is, so one index shared by several modules is never copied.
    fn into_shared(self) -> Arc<dyn Retriever>
    where
        Self: Sized + 'static,
    {
        Arc::new(self)
    }
}

/// A shared retriever is itself a retriever, so callers pass `R` or `Arc<R>` alike.
#[async_trait::async_trait]
impl<R: Retriever + 'static> Retriever for Arc<R> {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        (**self).retrieve(query, k).await
    }

    fn into_shared(self) -> Arc<dyn Retriever> {
        self
    }
}

#[async_trait::async_trait]
impl Retriever for Arc<dyn Retriever> {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        (**self).retrieve(query, k).await
    }

    fn into_shared(self) -> Arc<dyn Retriever> {
        self
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[derive(Debug)]
    struct Fixed;

    #[async_trait::async_trait]
    impl Retriever for Fixed {
        async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
            Ok(vec![Passage::new(query); k])
        }
    }

    #[test]
    fn retrievers_are_taken_by_value_and_shared_ones_kept_as_they_are() {
        // By value: wrapped once.
        assert!(Settings::new().rm(Fixed).get_rm().is_some());
        // An `Arc<dyn Retriever>` or an `Arc<R>` is the handle kept, not wrapped again.
        let dynamic: Arc<dyn Retriever> = Arc::new(Fixed);
        let settings = Settings::new().rm(dynamic.clone());
        assert!(Arc::ptr_eq(settings.get_rm().unwrap(), &dynamic));
        let typed = Arc::new(Fixed);
        let settings = Settings::new().rm(typed.clone());
        assert!(std::ptr::addr_eq(Arc::as_ptr(settings.get_rm().unwrap()), Arc::as_ptr(&typed)));
        let out = crate::block_on(settings.get_rm().unwrap().retrieve("q", 2)).unwrap();
        assert_eq!(out.len(), 2);
    }
}
