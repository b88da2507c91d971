//! Retrieval against local HTTP servers (127.0.0.1 only): an OpenAI-compatible embeddings
//! endpoint, a ColBERTv2 server, and the `Retrieve` module over the configured retriever.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use dspy::prelude::*;
use dspy::retrieve::{ColBERTv2, Embedder, OpenAIEmbedder, RetrieveError};
use serde_json::{Value, json};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Embeds a text as (count of `a`, count of `b`, 1), answering in reverse order with indices.
fn toy_vector(text: &str) -> Vec<f64> {
    vec![text.matches('a').count() as f64, text.matches('b').count() as f64, 0.1]
}

/// A request the server saw: its `Authorization` header and JSON body.
type Request = (Option<String>, Value);

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Request>>>);

async fn embeddings_server(seen: Seen) -> String {
    let app = Router::new().route(
        "/v1/embeddings",
        post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let body: Value = serde_json::from_str(&body).unwrap();
                let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
                seen.0.lock().unwrap().push((auth, body.clone()));
                let inputs = body["input"].as_array().unwrap();
                if inputs.iter().any(|t| t == "explode") {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "boom".to_string());
                }
                let mut data: Vec<Value> = inputs
                    .iter()
                    .enumerate()
                    .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": toy_vector(t.as_str().unwrap())}))
                    .collect();
                data.reverse();
                (StatusCode::OK, json!({"object": "list", "data": data, "model": body["model"]}).to_string())
            }
        }),
    );
    serve(app).await
}

#[tokio::test]
async fn openai_embedder_batches_authenticates_and_orders() {
    let seen = Seen::default();
    let base = embeddings_server(seen.clone()).await;
    let embedder = OpenAIEmbedder::new("openai/text-embedding-3-small").api_base(format!("{base}/v1")).api_key("sk-local").batch_size(2);
    let texts: Vec<String> = ["aa", "b", "ab"].iter().map(|s| s.to_string()).collect();
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(vectors, vec![vec![2.0, 0.0, 0.1], vec![0.0, 1.0, 0.1], vec![1.0, 1.0, 0.1]]);
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "batches of 2");
    assert_eq!(seen[0].0.as_deref(), Some("Bearer sk-local"));
    assert_eq!(seen[0].1, json!({"model": "text-embedding-3-small", "input": ["aa", "b"]}));

    let err = embedder.embed(&["explode".to_string()]).await.unwrap_err();
    assert!(matches!(err, dspy::Error::Retrieve(RetrieveError::Status { status: 500, .. })), "{err}");
}

#[tokio::test]
async fn embeddings_search_and_the_retrieve_module() {
    let base = embeddings_server(Seen::default()).await;
    let embedder = Arc::new(OpenAIEmbedder::new("m").api_base(format!("{base}/v1")));
    let corpus: Vec<String> = ["aaaa", "bbbb", "aabb", "ab"].iter().map(|s| s.to_string()).collect();
    let index = Arc::new(Embeddings::new(corpus, embedder, 2).await.unwrap());
    let hits = index.search("aaa").await.unwrap();
    assert_eq!(hits.iter().map(|h| h.text.as_str()).collect::<Vec<_>>(), ["aaaa", "aabb"]);
    assert_eq!(hits[0].index, Some(0));
    assert!(hits[0].score.unwrap() > 0.99);

    // `Retrieve` uses the retriever configured in the settings.
    let retrieve = Retrieve::new(3);
    let out = dspy::settings::context(Settings::new().rm(index.clone()), Module::forward(&retrieve, &Example::new().with("query", "bbb")))
        .await
        .unwrap();
    assert_eq!(out.get("passages").unwrap()[0], "bbbb");
    assert_eq!(out.get("passages").unwrap().as_array().unwrap().len(), 3);
    let err = Module::forward(&retrieve, &Example::new().with("query", "x")).await.unwrap_err();
    assert!(matches!(err, dspy::Error::Retrieve(RetrieveError::NoRetriever)), "{err}");
}

fn topk(query: &str, k: usize) -> Value {
    let items: Vec<Value> = (0..k)
        .map(|i| json!({"text": format!("{query} passage {i}"), "pid": i, "rank": i + 1, "score": 20.0 - i as f64, "prob": 0.5}))
        .collect();
    json!({"query": query, "topk": items, "latency": 1.0})
}

#[tokio::test]
async fn colbertv2_get_and_post() {
    let app = Router::new()
        .route(
            "/api/search",
            get(|uri: Uri| async move {
                let q = uri.query().unwrap_or_default().to_string();
                let params: Vec<(String, String)> = q
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.replace('+', " ").replace("%3F", "?")))
                    .collect();
                let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                topk(&get("query"), get("k").parse().unwrap()).to_string()
            })
            .post(|body: String| async move {
                let body: Value = serde_json::from_str(&body).unwrap();
                topk(body["query"].as_str().unwrap(), body["k"].as_u64().unwrap() as usize + 1).to_string()
            }),
        )
        .route("/error", get(|| async { json!({"error": true, "message": "index not loaded"}).to_string() }));
    let base = serve(app).await;

    let rm = ColBERTv2::new(format!("{base}/api/search"));
    let hits = rm.retrieve("who?", 2).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].text, "who? passage 0");
    assert_eq!(hits[0].score, Some(20.0));
    assert_eq!(hits[1].metadata["rank"], 2);

    let post = ColBERTv2::new(format!("{base}/api/search")).post_requests(true);
    let hits = post.retrieve("q", 2).await.unwrap();
    assert_eq!(hits.len(), 2, "the server's extra passage is cut to k");

    let err = ColBERTv2::new(format!("{base}/error")).retrieve("q", 1).await.unwrap_err();
    assert!(err.to_string().contains("index not loaded"), "{err}");
    let err = rm.retrieve("q", 101).await.unwrap_err();
    assert!(matches!(err, dspy::Error::Retrieve(RetrieveError::Query(_))), "{err}");
}
