//! `Embeddings`: exact cosine search over an in-memory corpus (DSPy's `dspy.retrievers.Embeddings`
//! below its FAISS threshold, which is the exact search it re-ranks with).

use std::fmt;
use std::sync::Arc;

use super::{Embedder, Passage, RetrieveError, Retriever};
use crate::error::Result;

/// A corpus embedded once, searched by cosine similarity (vectors are L2-normalised, as
/// DSPy's default `normalize=True`, so the score is the dot product). Ties keep corpus order.
///
/// ```
/// use dspy_core::retrieve::{Embeddings, FnEmbedder, Retriever};
/// // A toy embedder: counts of the letters a, b, c.
/// let embedder = FnEmbedder::new(|texts: &[String]| {
///     Ok(texts.iter().map(|t| ['a', 'b', 'c'].iter().map(|ch| t.matches(*ch).count() as f32).collect()).collect())
/// });
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let corpus = vec!["aaa".to_string(), "bbb".to_string(), "abc".to_string()];
/// let index = Embeddings::new(corpus, embedder, 2).await.unwrap();
/// let hits = index.search("aab").await.unwrap();
/// assert_eq!(hits[0].text, "aaa");
/// assert_eq!(hits.len(), 2);
/// assert!(hits[0].score.unwrap() > hits[1].score.unwrap());
/// # });
/// ```
pub struct Embeddings {
    corpus: Vec<String>,
    vectors: Vec<Vec<f32>>,
    embedder: Arc<dyn Embedder>,
    k: usize,
}

impl fmt::Debug for Embeddings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embeddings").field("passages", &self.corpus.len()).field("k", &self.k).field("embedder", &self.embedder).finish()
    }
}

fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-10);
    v.iter_mut().for_each(|x| *x /= norm);
}

impl Embeddings {
    /// Embeds `corpus` (any texts: `Vec<String>`, `["a", "b"]`...) with `embedder` (by value,
    /// or an `Arc` to share one); searches return `k` passages by default.
    pub async fn new(corpus: impl IntoIterator<Item = impl Into<String>>, embedder: impl Embedder + 'static, k: usize) -> Result<Self> {
        let corpus: Vec<String> = corpus.into_iter().map(Into::into).collect();
        let embedder = embedder.into_shared();
        let mut vectors = embedder.embed(&corpus).await?;
        if vectors.len() != corpus.len() {
            return Err(RetrieveError::Embedding(format!("{} vector(s) for {} passage(s)", vectors.len(), corpus.len())).into());
        }
        if let Some(first) = vectors.first().map(Vec::len)
            && let Some(other) = vectors.iter().map(Vec::len).find(|l| *l != first)
        {
            return Err(RetrieveError::Embedding(format!("vectors of different sizes ({first} and {other})")).into());
        }
        vectors.iter_mut().for_each(|v| normalize(v));
        Ok(Embeddings { corpus, vectors, embedder, k })
    }

    /// The corpus.
    pub fn corpus(&self) -> &[String] {
        &self.corpus
    }

    /// The default number of passages.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The default `k` most similar passages, with scores and corpus indices.
    pub async fn search(&self, query: &str) -> Result<Vec<Passage>> {
        self.top(query, self.k).await
    }

    async fn top(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        let mut q = self.embedder.embed(&[query.to_string()]).await?.into_iter().next().ok_or_else(|| {
            RetrieveError::Embedding("no vector for the query".into())
        })?;
        if let Some(dim) = self.vectors.first().map(Vec::len)
            && dim != q.len()
        {
            return Err(RetrieveError::Embedding(format!("query vector has {} dimensions, corpus vectors {dim}", q.len())).into());
        }
        normalize(&mut q);
        let mut scored: Vec<(usize, f32)> =
            self.vectors.iter().enumerate().map(|(i, v)| (i, v.iter().zip(&q).map(|(a, b)| a * b).sum())).collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(scored
            .into_iter()
            .take(k)
            .map(|(i, score)| Passage { index: Some(i), ..Passage::new(self.corpus[i].clone()).with_score(f64::from(score)) })
            .collect())
    }
}

#[async_trait::async_trait]
impl Retriever for Embeddings {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        self.top(query, k).await
    }
}
