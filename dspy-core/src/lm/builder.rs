//! `LmBuilder`: every option of an [`LM`], resolved against the provider table and the
//! environment once, when the LM is built.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::cache::Cache;
use super::cache::CacheChoice;
use super::client::{CallPolicy, Endpoint, LM};
use super::cost::Price;
use super::dialect::{self, Dialect, MaxTokensParam, StructuredDialect};
use super::limiter::Limiter;
use super::provider::{self, Auth, ModelType, WireFormat};
use super::retry::RetryPolicy;
use super::secret::ApiKey;
use super::{LmConfig, LmError};

/// Builds an [`LM`]: `LM::builder("openai/gpt-4o-mini").temperature(0.0).build()?`.
///
/// Unset options come from the provider's defaults and the conventional environment
/// variables (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `AZURE_API_KEY`, `AZURE_API_BASE`, ...).
///
/// ```
/// use std::time::Duration;
/// use dspy_core::lm::LM;
/// let lm = LM::builder("openai/meta-llama/Llama-3-8B")
///     .api_base("http://localhost:30000/v1")
///     .temperature(0.0)
///     .max_tokens(512)
///     .timeout(Duration::from_secs(60))
///     .num_retries(5)
///     .max_concurrency(16)
///     .cache(false)
///     .build()
///     .unwrap();
/// assert_eq!(dspy_core::LanguageModel::model(&lm), "openai/meta-llama/Llama-3-8B");
/// ```
pub struct LmBuilder {
    model: String,
    api_key: Option<ApiKey>,
    api_base: Option<String>,
    api_version: Option<String>,
    config: LmConfig,
    timeout: Duration,
    retry: RetryPolicy,
    cache: CacheChoice,
    model_type: Option<ModelType>,
    max_concurrency: Option<usize>,
    requests_per_minute: Option<u32>,
    price: Option<Price>,
    dialect: Option<Dialect>,
    structured_output: Option<StructuredDialect>,
    max_tokens_param: Option<MaxTokensParam>,
    tools: Option<bool>,
    detect_dialect: bool,
    headers: Vec<(String, String)>,
}

impl fmt::Debug for LmBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LmBuilder")
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("api_base", &self.api_base)
            .field("config", &self.config)
            .field("headers", &self.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// DSPy's default per-request timeout (LiteLLM's): 10 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Azure OpenAI's current GA API version.
const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

impl LmBuilder {
    pub(crate) fn new(model: impl Into<String>) -> Self {
        LmBuilder {
            model: model.into(),
            api_key: None,
            api_base: None,
            api_version: None,
            config: LmConfig::default(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            cache: CacheChoice::Global,
            model_type: None,
            max_concurrency: None,
            requests_per_minute: None,
            price: None,
            dialect: None,
            structured_output: None,
            max_tokens_param: None,
            tools: None,
            detect_dialect: true,
            headers: Vec::new(),
        }
    }

    /// The API key (else the provider's environment variable).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The API base URL, e.g. `http://localhost:8000/v1` for a vLLM server.
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = Some(base.into());
        self
    }

    /// Azure's `api-version` (else `AZURE_API_VERSION`, else 2024-10-21).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Default sampling temperature.
    pub fn temperature(mut self, t: f64) -> Self {
        self.config.temperature = Some(t);
        self
    }

    /// Default nucleus sampling.
    pub fn top_p(mut self, p: f64) -> Self {
        self.config.top_p = Some(p);
        self
    }

    /// Default output-token limit (sent under the key the server reads).
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.config.max_tokens = Some(n);
        self
    }

    /// Default number of completions per call.
    pub fn n(mut self, n: u32) -> Self {
        self.config.n = Some(n);
        self
    }

    /// Default stop sequences.
    pub fn stop(mut self, stop: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.config.stop = Some(stop.into_iter().map(Into::into).collect());
        self
    }

    /// A default `rollout_id`: a separate cache namespace (and fresh samples) for this LM.
    pub fn rollout_id(mut self, id: u64) -> Self {
        self.config.rollout_id = Some(id);
        self
    }

    /// A provider-specific request parameter, sent as is (`seed`, `reasoning_effort`, Ollama
    /// `options`, ...).
    pub fn param(mut self, key: impl Into<String>, value: Value) -> Self {
        self.config.extra.insert(key.into(), value);
        self
    }

    /// Timeout of each attempt (default 10 minutes); streams use it between chunks too.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries after a failed attempt (default 3).
    pub fn num_retries(mut self, n: u32) -> Self {
        self.retry.num_retries = n;
        self
    }

    /// The whole retry schedule.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Turns caching on (the process-wide cache, default) or off for this LM.
    pub fn cache(mut self, on: bool) -> Self {
        self.cache = if on { CacheChoice::Global } else { CacheChoice::Off };
        self
    }

    /// Uses this cache instead of the process-wide one.
    pub fn cache_store(mut self, cache: Arc<Cache>) -> Self {
        self.cache = CacheChoice::Own(cache);
        self
    }

    /// Chat (default) or text completions.
    pub fn model_type(mut self, t: ModelType) -> Self {
        self.model_type = Some(t);
        self
    }

    /// At most this many requests of this LM (and its clones) in flight.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// At most this many request starts per minute, evenly spaced.
    pub fn requests_per_minute(mut self, n: u32) -> Self {
        self.requests_per_minute = Some(n);
        self
    }

    /// This model's price, overriding the built-in table.
    pub fn price(mut self, price: Price) -> Self {
        self.price = Some(price);
        self
    }

    /// Replaces the whole dialect (what the server accepts).
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = Some(dialect);
        self
    }

    /// How to ask this server for JSON output (e.g. llama.cpp's `JsonObjectWithSchema`).
    pub fn structured_output(mut self, s: StructuredDialect) -> Self {
        self.structured_output = Some(s);
        self
    }

    /// Which max-tokens key this server reads.
    pub fn max_tokens_param(mut self, p: MaxTokensParam) -> Self {
        self.max_tokens_param = Some(p);
        self
    }

    /// Whether the model supports native tool calling.
    pub fn supports_tools(mut self, on: bool) -> Self {
        self.tools = Some(on);
        self
    }

    /// Whether a request the server rejects for its dialect (e.g. `json_schema` on llama.cpp)
    /// is resent once in the other dialect, which is then remembered (default on).
    pub fn detect_dialect(mut self, on: bool) -> Self {
        self.detect_dialect = on;
        self
    }

    /// An extra header on every request (its value is treated as a secret).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Resolves everything and builds the LM. Fails for an unknown provider, a provider that
    /// needs an API base none was given for, or an invalid URL or header. A missing API key is
    /// reported by the first call that needs the network (cached calls work without one).
    pub fn build(self) -> Result<LM, LmError> {
        let (spec, model_id) = provider::parse_model(&self.model)?;
        let model_type = self.model_type.unwrap_or(spec.model_type);
        let base = self
            .api_base
            .clone()
            .or_else(|| env_first(spec.base_env))
            .or_else(|| spec.default_base.map(str::to_string))
            .ok_or_else(|| {
                LmError::Config(format!(
                    "{}/ needs an API base: pass `.api_base(\"http://host:port/v1\")`{}",
                    spec.name,
                    match spec.base_env.first() {
                        Some(v) => format!(" or set {v}"),
                        None => String::new(),
                    }
                ))
            })?;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(LmError::Config(format!("API base {base:?} is not an http:// or https:// URL")));
        }
        let api_key = self.api_key.clone().or_else(|| env_first(spec.key_env).map(ApiKey::new));
        let api_version = self
            .api_version
            .clone()
            .or_else(|| env_first(&["AZURE_API_VERSION", "OPENAI_API_VERSION"]))
            .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_string());
        let url = provider::endpoint(spec, &base, &model_id, model_type, &api_version);
        // Hosted APIs need a key; the same wire format at another base (a local server) may not.
        let key_required = spec.key_required && (spec.azure_urls || spec.default_base == Some(base.trim_end_matches('/')));

        let base_dialect = match model_type {
            ModelType::Chat => spec.dialect,
            ModelType::Text => Dialect { structured_output: StructuredDialect::None, tools: false, vision: false, audio: false, ..spec.dialect },
        };
        let mut d = self.dialect.unwrap_or_else(|| dialect::for_model(spec.name, &model_id, base_dialect));
        d.structured_output = self.structured_output.unwrap_or(d.structured_output);
        d.max_tokens_param = self.max_tokens_param.unwrap_or(d.max_tokens_param);
        d.tools = self.tools.unwrap_or(d.tools);

        let mut headers = HeaderMap::new();
        for (k, v) in spec.headers {
            headers.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| LmError::Config(format!("invalid header name {k:?}")))?;
            let mut value = HeaderValue::from_str(v).map_err(|_| LmError::Config(format!("invalid value for header {k:?}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(key) = &api_key {
            let (name, value) = match spec.auth {
                Auth::Bearer => (reqwest::header::AUTHORIZATION, format!("Bearer {}", key.expose())),
                Auth::Header(h) => (HeaderName::from_static(h), key.expose().to_string()),
            };
            let mut value =
                HeaderValue::from_str(&value).map_err(|_| LmError::Config("the API key contains characters not allowed in a header".into()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }

        let price = self.price.or_else(|| if spec.local { Some(Price::FREE) } else { super::cost::price_of(&self.model) });
        let endpoint = Endpoint {
            model: self.model,
            model_id,
            spec,
            format: WireFormat { wire: spec.wire, model_type },
            url,
            api_key,
            key_required,
            headers,
            dialect: d,
        };
        let policy = CallPolicy {
            defaults: self.config,
            timeout: self.timeout,
            retry: self.retry,
            cache: self.cache,
            limiter: Limiter::new(self.max_concurrency, self.requests_per_minute),
            price,
            detect_dialect: self.detect_dialect,
        };
        Ok(LM::from_parts(endpoint, policy, http_client()?))
    }
}

/// The ways to make an [`LM`], all through [`LmBuilder`] (here, so that the client does not
/// depend on its builder).
impl LM {
    /// An LM with the provider's defaults: `LM::new("openai/gpt-4o-mini")?`.
    pub fn new(model: impl Into<String>) -> Result<LM, LmError> {
        LmBuilder::new(model).build()
    }

    /// A builder for every option.
    pub fn builder(model: impl Into<String>) -> LmBuilder {
        LmBuilder::new(model)
    }

    /// The LM named by `DSPY_LM` (with `DSPY_API_BASE` and `DSPY_API_KEY` when set), for
    /// examples and scripts that take their model from the environment.
    ///
    /// ```
    /// // Without DSPY_LM it says what to set.
    /// if std::env::var_os("DSPY_LM").is_none() {
    ///     assert!(dspy_core::lm::LM::from_env().unwrap_err().to_string().contains("DSPY_LM"));
    /// }
    /// ```
    pub fn from_env() -> Result<LM, LmError> {
        let model = std::env::var("DSPY_LM")
            .ok()
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| LmError::Config("DSPY_LM is not set (e.g. DSPY_LM=openai/gpt-4o-mini)".into()))?;
        let mut b = LmBuilder::new(model.trim());
        if let Some(base) = std::env::var("DSPY_API_BASE").ok().filter(|s| !s.trim().is_empty()) {
            b = b.api_base(base.trim());
        }
        if let Some(key) = std::env::var("DSPY_API_KEY").ok().filter(|s| !s.trim().is_empty()) {
            b = b.api_key(key.trim());
        }
        b.build()
    }
}

fn env_first(vars: &[&str]) -> Option<String> {
    vars.iter().filter_map(|v| std::env::var(v).ok()).find(|v| !v.trim().is_empty())
}

/// One connection pool for every LM of the process.
fn http_client() -> Result<reqwest::Client, LmError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(30))
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90))
                .user_agent(concat!("dspy-rs/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| LmError::Config(format!("could not build the HTTP client: {e}")))
}
