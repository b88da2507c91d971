//! `LM`: the HTTP language-model client. One call: merge defaults, look in the cache, wait for
//! a slot, send with retries (switching dialect once if the server rejects it), parse, price,
//! cache, then account for it (usage scope, history, span).

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use tracing::Instrument;

use super::cache::{Cache, CacheChoice, cache_key, global_cache};
use super::cost::Price;
use super::dialect::{Dialect, MaxTokensParam, StructuredDialect};
use super::history::{self, HistoryEntry};
use super::http::{Failure, status_failure};
use super::limiter::{Limiter, Permit};
use super::provider::{ModelType, ProviderSpec, StreamDecoder, WireFormat};
use super::retry::RetryPolicy;
use super::secret::{ApiKey, scrub};
use super::sse::Framer;
use super::{Capabilities, LanguageModel, LmConfig, LmError, LmRequest, LmResponse, LmStream, ResponseFormat, StreamEvent, Usage};
use crate::telemetry;
use crate::usage::UsageSink;

/// A language model behind an HTTP API, named `provider/model` as in DSPy:
/// `openai/gpt-4o-mini`, `anthropic/claude-sonnet-4-5`, `ollama_chat/llama3.2`,
/// `openai/<model>` with an `api_base` for vLLM, SGLang or llama.cpp, `azure/<deployment>`,
/// `gemini/`, `groq/`, `together_ai/`, `deepseek/`, `openrouter/`, ... ([`providers`](super::providers)).
///
/// Calls are cached (memory + disk), retried with backoff on transient failures, limited
/// per LM, priced, recorded in the history and in [`usage::track`](crate::usage::track)
/// scopes, and traced. Clones share everything (cache, limits, detected dialect).
///
/// ```no_run
/// use dspy_core::{LanguageModel, LmRequest, Message, lm::LM};
/// # async fn run() -> Result<(), dspy_core::LmError> {
/// let lm = LM::builder("openai/gpt-4o-mini").temperature(0.0).build()?;
/// let response = lm.complete(LmRequest { messages: vec![Message::user("Say hi")], ..Default::default() }).await?;
/// println!("{} ({} tokens)", response.outputs[0].text, response.usage.total_tokens);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LM {
    inner: Arc<Inner>,
}

/// Where an LM's requests go, as its builder resolved them from the provider table.
pub(super) struct Endpoint {
    pub(super) model: String,
    pub(super) model_id: String,
    pub(super) spec: &'static ProviderSpec,
    pub(super) format: WireFormat,
    pub(super) url: String,
    pub(super) api_key: Option<ApiKey>,
    pub(super) key_required: bool,
    pub(super) headers: HeaderMap,
    pub(super) dialect: Dialect,
}

/// How an LM calls its endpoint: request defaults, limits, retries, cache and price.
pub(super) struct CallPolicy {
    pub(super) defaults: LmConfig,
    pub(super) timeout: Duration,
    pub(super) retry: RetryPolicy,
    pub(super) cache: CacheChoice,
    pub(super) limiter: Limiter,
    pub(super) price: Option<Price>,
    pub(super) detect_dialect: bool,
}

struct Inner {
    model: String,
    model_id: String,
    spec: &'static ProviderSpec,
    format: WireFormat,
    url: String,
    api_key: Option<ApiKey>,
    key_required: bool,
    headers: HeaderMap,
    defaults: LmConfig,
    timeout: Duration,
    retry: RetryPolicy,
    cache: CacheChoice,
    limiter: Limiter,
    price: Option<Price>,
    dialect: RwLock<Dialect>,
    detect_dialect: bool,
    http: reqwest::Client,
}

impl fmt::Debug for LM {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("LM")
            .field("model", &i.model)
            .field("url", &i.url)
            .field("api_key", &i.api_key)
            .field("defaults", &i.defaults)
            .field("dialect", &self.dialect())
            .field("timeout", &i.timeout)
            .field("retry", &i.retry)
            .field("cache", &i.cache)
            .finish_non_exhaustive()
    }
}

/// What a successful attempt produced.
enum Sent {
    Body(Vec<u8>),
    /// A response whose body is still arriving, with its concurrency slot.
    Stream(reqwest::Response, Permit),
}

impl LM {
    /// The LM its builder resolved (see [`LM::builder`]).
    pub(super) fn from_parts(endpoint: Endpoint, policy: CallPolicy, http: reqwest::Client) -> LM {
        let Endpoint { model, model_id, spec, format, url, api_key, key_required, headers, dialect } = endpoint;
        let CallPolicy { defaults, timeout, retry, cache, limiter, price, detect_dialect } = policy;
        let dialect = RwLock::new(dialect);
        let inner = Inner {
            model,
            model_id,
            spec,
            format,
            url,
            api_key,
            key_required,
            headers,
            defaults,
            timeout,
            retry,
            cache,
            limiter,
            price,
            dialect,
            detect_dialect,
            http,
        };
        LM { inner: Arc::new(inner) }
    }

    /// The provider prefix (`openai`, `anthropic`, ...).
    pub fn provider(&self) -> &'static str {
        self.inner.spec.name
    }

    /// The endpoint requests go to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// What the server accepts now (after any detected switch).
    pub fn dialect(&self) -> Dialect {
        *self.inner.dialect.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the LM was given (or found) an API key.
    pub fn has_api_key(&self) -> bool {
        self.inner.api_key.is_some()
    }

    fn cache(&self) -> Option<Arc<Cache>> {
        let cache = match &self.inner.cache {
            CacheChoice::Global => global_cache(),
            CacheChoice::Off => return None,
            CacheChoice::Own(c) => Arc::clone(c),
        };
        cache.is_enabled().then_some(cache)
    }

    fn operation(&self) -> &'static str {
        match self.inner.format.model_type {
            ModelType::Chat => "chat",
            ModelType::Text => "text_completion",
        }
    }

    fn span(&self, config: &LmConfig) -> tracing::Span {
        telemetry::lm_span(self.inner.spec.name, &self.inner.model_id, self.operation(), config, &self.inner.url)
    }

    fn key_of(&self, request: &LmRequest) -> String {
        cache_key(&self.inner.model, self.inner.format.model_type, request)
    }

    fn priced(&self, mut response: LmResponse) -> LmResponse {
        if response.model.is_empty() {
            response.model = self.inner.model_id.clone();
        }
        response.usage.cost = self.inner.price.map(|p| p.cost(&response.usage));
        response
    }

    /// A cache hit as returned: nothing was billed.
    fn as_hit(mut response: LmResponse) -> LmResponse {
        response.cache_hit = true;
        response.usage = Usage { cost: Some(0.0), ..Usage::default() };
        response
    }

    /// Records a finished call in the usage scope and the history.
    fn account(&self, sink: Option<&UsageSink>, request: &LmRequest, response: &LmResponse, latency: Duration) {
        if let Some(sink) = sink {
            sink.record(&self.inner.model, &response.usage, response.cache_hit);
        }
        history::record(HistoryEntry {
            timestamp: SystemTime::now(),
            model: self.inner.model.clone(),
            messages: request.messages.clone(),
            config: request.config.clone(),
            outputs: response.outputs.clone(),
            usage: response.usage,
            latency,
            cache_hit: response.cache_hit,
        });
    }

    fn scrub(&self, text: &str) -> String {
        scrub(text, self.inner.api_key.as_ref())
    }

    /// The request body for `dialect`, serialized.
    fn body(&self, request: &LmRequest, dialect: &Dialect, stream: bool) -> Result<Vec<u8>, LmError> {
        let body = self.inner.format.body(&self.inner.model_id, request, dialect, stream)?;
        serde_json::to_vec(&body).map_err(|e| LmError::Other(format!("could not serialize the request: {e}")))
    }

    /// One attempt, within the per-attempt timeout.
    async fn attempt(&self, body: &[u8], stream: bool) -> Result<Sent, Failure> {
        let i = &self.inner;
        let request = i.http.post(&i.url).headers(i.headers.clone()).header(CONTENT_TYPE, "application/json").body(body.to_vec());
        let exchange = async {
            let response = request.send().await.map_err(|e| {
                if e.is_timeout() { Failure::Timeout } else { Failure::Connection(self.scrub(&error_chain(&e))) }
            })?;
            let status = response.status();
            if !status.is_success() {
                let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
                let text = response.text().await.unwrap_or_default();
                return Err(status_failure(status.as_u16(), retry_after.as_deref(), &text, |s| self.scrub(s)));
            }
            if stream {
                return Ok(Sent::Stream(response, Permit::placeholder()));
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| Failure::Connection(format!("the response body was cut off: {}", self.scrub(&error_chain(&e)))))?;
            Ok(Sent::Body(bytes.to_vec()))
        };
        match tokio::time::timeout(i.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// Sends with retries and, once per call, a dialect switch when the server rejects it.
    async fn send(&self, request: &LmRequest, stream: bool) -> Result<Sent, LmError> {
        let i = &self.inner;
        if i.key_required && i.api_key.is_none() {
            let vars = i.spec.key_env.join(" or ");
            return Err(LmError::Authentication {
                provider: i.spec.name.to_string(),
                message: format!("no API key: set {vars} or pass `.api_key(...)`"),
            });
        }
        let mut dialect = self.dialect();
        let mut body = self.body(request, &dialect, stream)?;
        let mut switched: Vec<&'static str> = Vec::new();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let permit = i.limiter.acquire().await;
            let failure = match self.attempt(&body, stream).await {
                // A stream keeps its slot until its body is read.
                Ok(Sent::Stream(response, _)) => return Ok(Sent::Stream(response, permit)),
                Ok(sent) => return Ok(sent),
                Err(f) => f,
            };
            drop(permit);
            if let Failure::Status { status, message, .. } = &failure
                && let Some((name, fixed)) = self.switch_dialect(&dialect, request, *status, message, &switched)
            {
                tracing::info!(model = %i.model, switch = name, status, "the server rejected the request's dialect; resending in the other one and remembering it");
                switched.push(name);
                dialect = fixed;
                *i.dialect.write().unwrap_or_else(|p| p.into_inner()) = fixed;
                body = self.body(request, &dialect, stream)?;
                attempts -= 1;
                continue;
            }
            let retry_after = failure.retry_after();
            let exhausted = attempts > i.retry.num_retries || retry_after.is_some_and(|ra| ra > i.retry.max_retry_after);
            if !failure.retryable() || exhausted {
                return Err(failure.into_error(i.spec.name, &i.url, i.timeout, attempts));
            }
            let delay = i.retry.delay(attempts - 1, retry_after);
            tracing::debug!(model = %i.model, attempt = attempts, ?delay, failure = ?failure_kind(&failure), "retrying LM request");
            tokio::time::sleep(delay).await;
        }
    }

    /// The dialect to resend in when `message` says the server rejected this one (detection).
    fn switch_dialect(
        &self,
        d: &Dialect,
        request: &LmRequest,
        status: u16,
        message: &str,
        done: &[&'static str],
    ) -> Option<(&'static str, Dialect)> {
        if !self.inner.detect_dialect {
            return None;
        }
        let lower = message.to_ascii_lowercase();
        let wants_schema = matches!(request.response_format, Some(ResponseFormat::JsonSchema { .. }));
        let sends_max = request.config.max_tokens.or(d.default_max_tokens).is_some();
        let rejected = matches!(status, 400 | 422 | 500);
        // (name, applies, switched dialect) — each tried at most once per call.
        let rules = [
            (
                "json_schema->json_object+schema",
                rejected
                    && wants_schema
                    && d.structured_output == StructuredDialect::OpenAiJsonSchema
                    && (lower.contains("response_format") || lower.contains("json_schema")),
                Dialect { structured_output: StructuredDialect::JsonObjectWithSchema, ..*d },
            ),
            (
                "max_tokens->max_completion_tokens",
                matches!(status, 400 | 422)
                    && sends_max
                    && d.max_tokens_param == MaxTokensParam::MaxTokens
                    && lower.contains("max_completion_tokens"),
                Dialect { max_tokens_param: MaxTokensParam::MaxCompletionTokens, ..*d },
            ),
            (
                "max_completion_tokens->max_tokens",
                matches!(status, 400 | 422)
                    && sends_max
                    && d.max_tokens_param == MaxTokensParam::MaxCompletionTokens
                    && lower.contains("max_completion_tokens"),
                Dialect { max_tokens_param: MaxTokensParam::MaxTokens, ..*d },
            ),
        ];
        rules.into_iter().find(|(name, applies, _)| *applies && !done.contains(name)).map(|(name, _, d)| (name, d))
    }

    /// One request to the network (no cache): fans `n > 1` out when the server cannot.
    async fn fetch(&self, request: &LmRequest) -> Result<LmResponse, LmError> {
        let n = request.config.n.unwrap_or(1);
        if n > 1 && !self.dialect().multiple_completions {
            let mut single = request.clone();
            single.config.n = None;
            let parts = futures::future::try_join_all((0..n).map(|_| self.fetch_one(&single))).await?;
            let mut merged = LmResponse { model: parts[0].model.clone(), ..LmResponse::default() };
            for p in parts {
                merged.outputs.extend(p.outputs);
                merged.usage += p.usage;
            }
            return Ok(merged);
        }
        self.fetch_one(request).await
    }

    async fn fetch_one(&self, request: &LmRequest) -> Result<LmResponse, LmError> {
        match self.send(request, false).await? {
            Sent::Body(bytes) => self.inner.format.parse(&bytes).map_err(|e| match e {
                LmError::MalformedResponse { message } => LmError::MalformedResponse { message: self.scrub(&message) },
                other => other,
            }),
            Sent::Stream(..) => Err(LmError::Other("internal: a stream where a body was expected".into())),
        }
    }

    async fn complete_uncounted(&self, request: &LmRequest) -> Result<LmResponse, LmError> {
        let cache = self.cache();
        let key = cache.as_ref().map(|_| self.key_of(request));
        if let (Some(cache), Some(key)) = (&cache, &key)
            && let Some(hit) = cache.get(key).await
        {
            return Ok(Self::as_hit(hit));
        }
        let response = self.priced(self.fetch(request).await?);
        if let (Some(cache), Some(key)) = (&cache, &key) {
            cache.put(key, &response).await;
        }
        Ok(response)
    }

    fn merged(&self, mut request: LmRequest) -> LmRequest {
        request.config = self.inner.defaults.merged(&request.config);
        request
    }
}

fn failure_kind(f: &Failure) -> String {
    match f {
        Failure::Status { status, .. } => format!("HTTP {status}"),
        Failure::Timeout => "timeout".into(),
        Failure::Connection(_) => "connection".into(),
    }
}

/// An error with its sources (reqwest's top-level message alone hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[async_trait::async_trait]
impl LanguageModel for LM {
    fn model(&self) -> &str {
        &self.inner.model
    }

    fn capabilities(&self) -> Capabilities {
        self.dialect().capabilities()
    }

    fn defaults(&self) -> LmConfig {
        self.inner.defaults.clone()
    }

    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
        let request = self.merged(request);
        let sink = crate::settings::current().inner().usage_sink().cloned();
        let span = self.span(&request.config);
        let started = Instant::now();
        let result = self.complete_uncounted(&request).instrument(span.clone()).await;
        let latency = started.elapsed();
        match &result {
            Ok(response) => {
                telemetry::record_response(&span, response, latency);
                self.account(sink.as_ref(), &request, response, latency);
            }
            Err(e) => telemetry::record_error(&span, e, latency),
        }
        result
    }

    async fn stream(&self, request: LmRequest) -> Result<LmStream, LmError> {
        let request = self.merged(request);
        let dialect = self.dialect();
        if !dialect.streaming || (request.config.n.unwrap_or(1) > 1 && !dialect.multiple_completions) {
            return one_piece(self.complete(request).await?);
        }
        let sink = crate::settings::current().inner().usage_sink().cloned();
        let span = self.span(&request.config);
        let started = Instant::now();
        let cache = self.cache();
        let key = cache.as_ref().map(|_| self.key_of(&request));
        if let (Some(c), Some(k)) = (&cache, &key)
            && let Some(hit) = c.get(k).await
        {
            let hit = Self::as_hit(hit);
            let latency = started.elapsed();
            telemetry::record_response(&span, &hit, latency);
            self.account(sink.as_ref(), &request, &hit, latency);
            return one_piece(hit);
        }
        let (response, permit) = match self.send(&request, true).instrument(span.clone()).await {
            Ok(Sent::Stream(r, permit)) => (r, permit),
            Ok(Sent::Body(_)) => return Err(LmError::Other("internal: a body where a stream was expected".into())),
            Err(e) => {
                telemetry::record_error(&span, &e, started.elapsed());
                return Err(e);
            }
        };
        let state = StreamState {
            lm: self.clone(),
            response,
            _permit: permit,
            framer: Framer::new(self.inner.format.framing()),
            decoder: self.inner.format.decoder(),
            pending: VecDeque::new(),
            finished: false,
            provider_done: false,
            request,
            cache: cache.zip(key),
            sink,
            span,
            started,
        };
        Ok(Box::pin(futures::stream::unfold(state, StreamState::next)))
    }
}

/// A whole response as a stream: its text as one delta, then `Done`.
fn one_piece(response: LmResponse) -> Result<LmStream, LmError> {
    let text = response.outputs.first().map(|o| o.text.clone()).unwrap_or_default();
    let events = vec![Ok(StreamEvent::Delta(text)), Ok(StreamEvent::Done(response))];
    Ok(Box::pin(futures::stream::iter(events)))
}

/// A response being streamed: network chunks → frames → provider events → deltas.
struct StreamState {
    lm: LM,
    response: reqwest::Response,
    _permit: Permit,
    framer: Framer,
    decoder: Box<dyn StreamDecoder>,
    pending: VecDeque<Result<StreamEvent, LmError>>,
    finished: bool,
    provider_done: bool,
    request: LmRequest,
    cache: Option<(Arc<Cache>, String)>,
    sink: Option<UsageSink>,
    span: tracing::Span,
    started: Instant,
}

impl StreamState {
    async fn next(mut self) -> Option<(Result<StreamEvent, LmError>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((event, self));
            }
            if self.finished {
                return None;
            }
            let timeout = self.lm.inner.timeout;
            match tokio::time::timeout(timeout, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    let frames = self.framer.push(&chunk);
                    self.feed(frames);
                    if self.provider_done && !self.finished {
                        self.finalize().await;
                    }
                }
                Ok(Ok(None)) => {
                    let frames = self.framer.finish();
                    self.feed(frames);
                    if !self.finished {
                        self.finalize().await;
                    }
                }
                Ok(Err(e)) => {
                    let message = format!("the stream was interrupted: {}", self.lm.scrub(&error_chain(&e)));
                    self.fail(LmError::Connection { url: self.lm.inner.url.clone(), message });
                }
                Err(_) => self.fail(LmError::Timeout { after: timeout, attempts: 1 }),
            }
        }
    }

    fn feed(&mut self, frames: Vec<super::sse::Frame>) {
        for (event, data) in frames {
            if self.finished || self.provider_done {
                return;
            }
            match self.decoder.event(event.as_deref(), &data) {
                Ok(decoded) => {
                    if let Some(delta) = decoded.delta {
                        self.pending.push_back(Ok(StreamEvent::Delta(delta)));
                    }
                    self.provider_done |= decoded.done;
                }
                Err(e) => self.fail(e),
            }
        }
    }

    fn fail(&mut self, e: LmError) {
        telemetry::record_error(&self.span, &e, self.started.elapsed());
        self.pending.push_back(Err(e));
        self.finished = true;
    }

    async fn finalize(&mut self) {
        let response = match self.decoder.finish() {
            Ok(r) => r,
            Err(e) => return self.fail(e),
        };
        if !self.provider_done && response.outputs.iter().all(|o| o.finish_reason.is_none()) {
            return self.fail(LmError::MalformedResponse { message: "the stream ended before the server finished the response".into() });
        }
        let response = self.lm.priced(response);
        if let Some((cache, key)) = &self.cache {
            cache.put(key, &response).await;
        }
        let latency = self.started.elapsed();
        telemetry::record_response(&self.span, &response, latency);
        self.lm.account(self.sink.as_ref(), &self.request, &response, latency);
        self.pending.push_back(Ok(StreamEvent::Done(response)));
        self.finished = true;
    }
}
