//! `Embedder`: texts in, vectors out. [`OpenAIEmbedder`] calls any OpenAI-compatible
//! `/v1/embeddings` endpoint (OpenAI, vLLM, Ollama, LiteLLM proxies, text-embeddings-inference);
//! [`FnEmbedder`] wraps your own function (a local model, a hashing trick for tests).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::RetrieveError;
use crate::error::Result;
use crate::lm::ApiKey;

/// Turns texts into embedding vectors, one per text, in order.
///
/// ```
/// use dspy_core::retrieve::{Embedder, FnEmbedder};
/// let e = FnEmbedder::new(|texts: &[String]| Ok(texts.iter().map(|t| vec![t.len() as f32]).collect()));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(e.embed(&["abc".to_string()]).await.unwrap(), vec![vec![3.0]]);
/// # });
/// ```
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + fmt::Debug {
    /// One vector per text, in the texts' order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;

    /// The shared handle an index keeps. Any embedder is taken by value
    /// (`Embeddings::new(corpus, embedder, k)`); an `Arc` given there is kept as it is.
    fn into_shared(self) -> Arc<dyn Embedder>
    where
        Self: Sized + 'static,
    {
        Arc::new(self)
    }
}

/// A shared embedder is itself an embedder, so callers pass `E` or `Arc<E>` alike.
#[async_trait::async_trait]
impl<E: Embedder + 'static> Embedder for Arc<E> {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        (**self).embed(texts).await
    }

    fn into_shared(self) -> Arc<dyn Embedder> {
        self
    }
}

#[async_trait::async_trait]
impl Embedder for Arc<dyn Embedder> {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        (**self).embed(texts).await
    }

    fn into_shared(self) -> Arc<dyn Embedder> {
        self
    }
}

type EmbedFn = dyn Fn(&[String]) -> Result<Vec<Vec<f32>>> + Send + Sync;

/// An embedder from a function (DSPy's `dspy.Embedder(callable)`), called in batches of
/// `batch_size` texts (default 200, as DSPy).
///
/// ```
/// use dspy_core::retrieve::{Embedder, FnEmbedder};
/// let e = FnEmbedder::new(|texts: &[String]| Ok(vec![vec![1.0, 0.0]; texts.len()])).batch_size(1);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(e.embed(&["a".into(), "b".into()]).await.unwrap().len(), 2);
/// # });
/// ```
#[derive(Clone)]
pub struct FnEmbedder {
    f: Arc<EmbedFn>,
    batch_size: usize,
}

impl fmt::Debug for FnEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnEmbedder").field("batch_size", &self.batch_size).finish_non_exhaustive()
    }
}

impl FnEmbedder {
    /// Wraps `f`, which must return one vector per text.
    pub fn new(f: impl Fn(&[String]) -> Result<Vec<Vec<f32>>> + Send + Sync + 'static) -> Self {
        FnEmbedder { f: Arc::new(f), batch_size: 200 }
    }

    /// How many texts go to one call of the function.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }
}

#[async_trait::async_trait]
impl Embedder for FnEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            let vectors = (self.f)(batch)?;
            check_count(batch.len(), vectors.len())?;
            out.extend(vectors);
        }
        Ok(out)
    }
}

fn check_count(expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(RetrieveError::Embedding(format!("the embedder returned {got} vector(s) for {expected} text(s)")).into())
    }
}

/// An OpenAI-compatible embeddings endpoint: `POST {api_base}/embeddings` with
/// `{"model", "input": [texts]}`, batched by `batch_size` (default 200).
///
/// The base defaults to `$OPENAI_API_BASE` or `https://api.openai.com/v1`, the key to
/// `$OPENAI_API_KEY`; a `provider/` prefix on the model (`openai/text-embedding-3-small`) is
/// dropped, as litellm does.
///
/// ```
/// use dspy_core::retrieve::OpenAIEmbedder;
/// let e = OpenAIEmbedder::new("openai/text-embedding-3-small").api_base("http://127.0.0.1:8080/v1").api_key("sk-test");
/// assert_eq!(e.model(), "text-embedding-3-small");
/// assert_eq!(e.url(), "http://127.0.0.1:8080/v1/embeddings");
/// assert!(!format!("{e:?}").contains("sk-test"));
/// ```
#[derive(Clone)]
pub struct OpenAIEmbedder {
    http: Option<reqwest::Client>,
    api_base: String,
    model: String,
    api_key: Option<ApiKey>,
    batch_size: usize,
    dimensions: Option<u32>,
}

impl fmt::Debug for OpenAIEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAIEmbedder")
            .field("url", &self.url())
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl OpenAIEmbedder {
    /// An embedder for `model`, configured from the environment.
    pub fn new(model: impl Into<String>) -> Self {
        let model = model.into();
        let model = match model.split_once('/') {
            Some((provider, rest)) if !provider.is_empty() && !rest.is_empty() && !provider.contains(':') => rest.to_string(),
            _ => model,
        };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().ok();
        OpenAIEmbedder {
            http,
            api_base: std::env::var("OPENAI_API_BASE").unwrap_or_else(|_| "https://api.openai.com/v1".into()),
            model,
            api_key: std::env::var("OPENAI_API_KEY").ok().filter(|k| !k.is_empty()).map(ApiKey::new),
            batch_size: 200,
            dimensions: None,
        }
    }

    /// The server's base URL (up to `/v1`).
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into();
        self
    }

    /// The API key (sent as a bearer token).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// How many texts go in one request.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Asks for vectors of this size (models that support `dimensions`).
    pub fn dimensions(mut self, n: u32) -> Self {
        self.dimensions = Some(n);
        self
    }

    /// The model name sent.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The endpoint called.
    pub fn url(&self) -> String {
        format!("{}/embeddings", self.api_base.trim_end_matches('/'))
    }

    async fn embed_batch(&self, http: &reqwest::Client, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let url = self.url();
        let scrub = |s: String| match &self.api_key {
            Some(k) => k.scrub(&s),
            None => s,
        };
        let mut body = json!({"model": self.model, "input": texts});
        if let Some(d) = self.dimensions {
            body["dimensions"] = json!(d);
        }
        let mut request = http.post(&url).header("content-type", "application/json").body(body.to_string());
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|e| RetrieveError::Connection { url: url.clone(), message: scrub(e.to_string()) })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RetrieveError::Connection { url: url.clone(), message: scrub(e.to_string()) })?;
        if !(200..300).contains(&status) {
            let message: String = scrub(String::from_utf8_lossy(&bytes).chars().take(500).collect());
            return Err(RetrieveError::Status { url, status, message }.into());
        }
        let malformed = |message: String| RetrieveError::Malformed { url: url.clone(), message };
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let data = json.get("data").and_then(Value::as_array).ok_or_else(|| malformed("no `data` list".into()))?;
        let mut rows: Vec<(usize, Vec<f32>)> = Vec::with_capacity(data.len());
        for (i, item) in data.iter().enumerate() {
            let index = item.get("index").and_then(Value::as_u64).map_or(i, |x| x as usize);
            let vector = item
                .get("embedding")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed(format!("item {i} has no `embedding` list")))?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| malformed(format!("item {i} has a non-numeric embedding")))?;
            rows.push((index, vector));
        }
        rows.sort_by_key(|(i, _)| *i);
        check_count(texts.len(), rows.len())?;
        Ok(rows.into_iter().map(|(_, v)| v).collect())
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAIEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let http = self.http.as_ref().ok_or_else(|| RetrieveError::Connection {
            url: self.url(),
            message: "the HTTP client could not be initialised".into(),
        })?;
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            out.extend(self.embed_batch(http, batch).await?);
        }
        Ok(out)
    }
}
