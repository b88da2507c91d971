//! `ColBERTv2`: the HTTP client of a ColBERTv2 search server (DSPy's `dspy.ColBERTv2`).

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Passage, RetrieveError, Retriever};
use crate::error::Result;

/// Queries a ColBERTv2 server: `GET {url}?query=..&k=..` (or `POST` with a JSON body), which
/// answers `{"topk": [{"text", "pid", "rank", "score", "prob", ...}]}`. The passage text is
/// `long_text` when present, else `text`; the other keys go to [`Passage::metadata`].
///
/// ```
/// use dspy_core::retrieve::ColBERTv2;
/// let rm = ColBERTv2::new("http://127.0.0.1:8893/api/search");
/// assert_eq!(rm.url(), "http://127.0.0.1:8893/api/search");
/// let rm = ColBERTv2::with_port("http://127.0.0.1", 8893).post_requests(true);
/// assert_eq!(rm.url(), "http://127.0.0.1:8893");
/// ```
#[derive(Clone, Debug)]
pub struct ColBERTv2 {
    url: String,
    post_requests: bool,
    http: Option<reqwest::Client>,
}

impl ColBERTv2 {
    /// A client for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().ok();
        ColBERTv2 { url: url.into(), post_requests: false, http }
    }

    /// `url:port`, as DSPy's `ColBERTv2(url, port)`.
    pub fn with_port(url: impl Into<String>, port: u16) -> Self {
        Self::new(format!("{}:{port}", url.into()))
    }

    /// Sends `POST` requests with a JSON body instead of `GET` (DSPy's `post_requests`).
    pub fn post_requests(mut self, on: bool) -> Self {
        self.post_requests = on;
        self
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn passage(item: &Value) -> Option<Passage> {
    let map: &Map<String, Value> = item.as_object()?;
    let text = map.get("long_text").or_else(|| map.get("text"))?.as_str()?.to_string();
    Some(Passage { text, score: map.get("score").and_then(Value::as_f64), index: None, metadata: map.clone() })
}

#[async_trait::async_trait]
impl Retriever for ColBERTv2 {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        let url = self.url.clone();
        let connection = |message: String| RetrieveError::Connection { url: url.clone(), message };
        let http = self.http.as_ref().ok_or_else(|| connection("the HTTP client could not be initialised".into()))?;
        let request = if self.post_requests {
            let body = json!({"query": query, "k": k});
            http.post(&url).header("content-type", "application/json; charset=utf-8").body(body.to_string())
        } else {
            if k > 100 {
                return Err(RetrieveError::Query("only k <= 100 is supported for the hosted ColBERTv2 server".into()).into());
            }
            let mut parsed = reqwest::Url::parse(&url).map_err(|e| connection(format!("invalid URL: {e}")))?;
            parsed.query_pairs_mut().append_pair("query", query).append_pair("k", &k.to_string());
            http.get(parsed)
        };
        let response = request.send().await.map_err(|e| connection(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| connection(e.to_string()))?;
        if !(200..300).contains(&status) {
            let message = String::from_utf8_lossy(&bytes).chars().take(500).collect();
            return Err(RetrieveError::Status { url, status, message }.into());
        }
        let malformed = |message: String| RetrieveError::Malformed { url: url.clone(), message };
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        if json.get("error").is_some_and(|e| !e.is_null() && e != &Value::Bool(false)) {
            let message = json.get("message").and_then(Value::as_str).unwrap_or("Unknown error");
            return Err(malformed(format!("ColBERTv2 server returned an error: {message}")).into());
        }
        let topk = json.get("topk").and_then(Value::as_array).ok_or_else(|| malformed(format!("no `topk` in {json}")))?;
        topk.iter()
            .take(k)
            .map(|item| passage(item).ok_or_else(|| malformed(format!("a `topk` item has no text: {item}")).into()))
            .collect()
    }
}
