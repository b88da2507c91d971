//! Test servers on 127.0.0.1 speaking the providers' wire formats, recording what they got.
#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the server answers.
pub enum Reply {
    /// A JSON body with this status.
    Json(u16, Value),
    /// Any body with extra headers.
    Raw { status: u16, headers: Vec<(&'static str, String)>, body: String },
    /// A streamed body: each piece sent after `gap`.
    Chunks { content_type: &'static str, pieces: Vec<String>, gap: Duration },
    /// Waits this long, then answers this.
    After(Duration, Box<Reply>),
}

type Handler = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

struct ServerState {
    handler: Box<Handler>,
    requests: Mutex<Vec<Recorded>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running test server.
pub struct MockServer {
    pub addr: String,
    state: Arc<ServerState>,
}

impl MockServer {
    /// Starts a server whose answer to request number `i` (from 0) is `handler(i, &request)`.
    pub async fn start(handler: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static) -> MockServer {
        let state = Arc::new(ServerState {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockServer { addr, state }
    }

    /// `http://127.0.0.1:port/v1`.
    pub fn v1(&self) -> String {
        format!("{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn handle(State(state): State<Arc<ServerState>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let index = {
        let mut r = state.requests.lock().unwrap();
        r.push(recorded.clone());
        r.len() - 1
    };
    let reply = (state.handler)(index, &recorded);
    let response = respond(reply).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

fn respond(reply: Reply) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    Box::pin(async move {
        match reply {
            Reply::Json(status, v) => Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            Reply::Raw { status, headers, body } => {
                let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap());
                for (k, v) in headers {
                    b = b.header(k, v);
                }
                b.body(Body::from(body)).unwrap()
            }
            Reply::Chunks { content_type, pieces, gap } => {
                let stream = futures::stream::unfold(pieces.into_iter(), move |mut it| async move {
                    let piece = it.next()?;
                    tokio::time::sleep(gap).await;
                    Some((Ok::<_, std::io::Error>(Bytes::from(piece)), it))
                });
                Response::builder().status(200).header("content-type", content_type).body(Body::from_stream(stream)).unwrap()
            }
            Reply::After(delay, then) => {
                tokio::time::sleep(delay).await;
                respond(*then).await
            }
        }
    })
}

/// SSE `data:` events, one piece per event (each piece split in two to cross chunk boundaries).
pub fn sse(events: &[Value], done: bool) -> Vec<String> {
    let mut pieces = Vec::new();
    for e in events {
        let text = format!("data: {e}\n\n");
        let mid = text.len() / 2;
        let mid = (mid..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        pieces.push(text[..mid].to_string());
        pieces.push(text[mid..].to_string());
    }
    if done {
        pieces.push("data: [DONE]\n\n".into());
    }
    pieces
}

/// Anthropic-style SSE: `event: <type>` + `data:`.
pub fn sse_typed(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap())).collect()
}

/// An OpenAI chat completion answering `text`.
pub fn chat_completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    })
}

/// A raw TCP server answering every connection with exactly these bytes, then closing.
pub async fn raw_server(response: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Read the head and the body (by content-length).
                loop {
                    let Ok(n) = sock.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text[..head_end]
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                            .unwrap_or(0);
                        if got.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = sock.write_all(response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (addr, count)
}

/// A `tracing` writer into a shared buffer, to grep what was logged.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// A subscriber logging everything (spans closing with their fields) into `captured`.
pub fn capture_subscriber(captured: &Captured, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(level)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish()
}
