//! `BootstrapFinetune` (DSPy's `dspy.BootstrapFinetune`): the teacher runs every training
//! example with tracing on; each predictor call of a run that passes the metric becomes one
//! chat fine-tuning record (the adapter's messages for the call plus the assistant message
//! with its outputs, DSPy's `format_finetune_data`); the records are written as JSONL
//! (atomically) and handed to a [`Finetuner`], and every predictor of the returned program is
//! bound to an LM of the fine-tuned model.
//!
//! Two finetuners are built in: [`OpenAIFinetuner`] (the OpenAI files and fine-tuning jobs
//! API, as DSPy's `OpenAIProvider`, against any compatible server) and [`LocalCommand`] (a
//! trainer program of your own). Implement [`Finetuner`] for anything else.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dspy_core::evaluate::{IntoMetric, Metric};
use dspy_core::lm::{ApiKey, LM, LmBuilder, LmError};
use dspy_core::trace::{PredictorId, TraceEntry};
use dspy_core::{Adapter, Example, LanguageModel, Message, Module, Signature, settings, usage};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::bootstrap::check_same_structure;
use crate::engine::{RunConfig, Traces, seeded_rng};
use dspy_core::module::write_atomic;
use crate::{CompileReport, Compiled, Optimizer};

/// Why fine-tuning failed.
///
/// ```
/// use dspy_optimizers::FinetuneError;
/// let e = FinetuneError::JobFailed { job_id: "ftjob-1".into(), status: "failed".into(), message: Some("bad file".into()) };
/// assert_eq!(e.to_string(), "fine-tuning job ftjob-1 ended as failed: bad file");
/// // Through the `Optimizer` trait it becomes a `dspy_core::Error` with the same message.
/// assert_eq!(dspy_core::Error::from(e).to_string(), "fine-tuning job ftjob-1 ended as failed: bad file");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FinetuneError {
    /// A predictor of the student has no LM of its own (DSPy requires one per predictor: it is
    /// the model that gets fine-tuned).
    #[error("predictor `{predictor}` has no LM: set one on every predictor before fine-tuning")]
    MissingLm {
        /// The predictor's name.
        predictor: String,
    },
    /// No traced call passed the metric, so there is nothing to train on.
    #[error("no training data for {model}: no traced call passed the metric")]
    NoTrainingData {
        /// The model that was to be fine-tuned.
        model: String,
    },
    /// No API key was passed and `OPENAI_API_KEY` is not set.
    #[error("no API key: pass one to the finetuner or set OPENAI_API_KEY")]
    MissingApiKey,
    /// The server answered with an error status.
    #[error("{endpoint} answered {status}: {message}")]
    Http {
        /// The request (`POST /files`...).
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The server's message (the API key scrubbed out).
        message: String,
    },
    /// The request could not be sent or its answer not read.
    #[error("{endpoint} failed: {message}")]
    Request {
        /// The request.
        endpoint: String,
        /// What went wrong (the API key scrubbed out).
        message: String,
    },
    /// The server's answer is not what the API specifies.
    #[error("unexpected answer from {endpoint}: {message}")]
    InvalidResponse {
        /// The request.
        endpoint: String,
        /// What is wrong with it.
        message: String,
    },
    /// The fine-tuning job ended as `failed` or `cancelled`.
    #[error("fine-tuning job {job_id} ended as {status}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    JobFailed {
        /// The job.
        job_id: String,
        /// Its final status.
        status: String,
        /// The server's reason, if given.
        message: Option<String>,
    },
    /// The job succeeded without naming a fine-tuned model.
    #[error("fine-tuning job {job_id} succeeded but names no fine_tuned_model")]
    NoModel {
        /// The job.
        job_id: String,
    },
    /// The job did not finish within the configured wait.
    #[error("fine-tuning job {job_id} still {status} after {waited:?}")]
    Timeout {
        /// The job.
        job_id: String,
        /// Its last status.
        status: String,
        /// How long it was polled.
        waited: Duration,
    },
    /// The local trainer could not be started.
    #[error("could not run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The local trainer exited with a failure.
    #[error("{program} exited with {}: {stderr}", code.map(|c| format!("status {c}")).unwrap_or_else(|| "a signal".into()))]
    Command {
        /// The program.
        program: String,
        /// Its exit code (`None`: killed by a signal).
        code: Option<i32>,
        /// The end of its standard error.
        stderr: String,
    },
    /// The local trainer printed no model name.
    #[error("{program} printed no model name (its last line of standard output is the model)")]
    NoModelName {
        /// The program.
        program: String,
    },
    /// The training file could not be written or read.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The LM of the fine-tuned model could not be built.
    #[error(transparent)]
    Lm(#[from] LmError),
    /// Running the program to collect traces failed.
    #[error(transparent)]
    Core(#[from] dspy_core::Error),
}

impl From<FinetuneError> for dspy_core::Error {
    /// Through the [`Optimizer`] trait, finetune failures without a counterpart in
    /// [`dspy_core::Error`] arrive as [`dspy_core::Error::Custom`] (downcast it to the
    /// [`FinetuneError`]); call
    /// [`BootstrapFinetune::finetune`] to match on [`FinetuneError`].
    fn from(e: FinetuneError) -> Self {
        match e {
            FinetuneError::Core(e) => e,
            FinetuneError::Lm(e) => dspy_core::Error::Lm(e),
            FinetuneError::Io { path, source } => dspy_core::Error::Io { path, source },
            other => dspy_core::Error::custom(other),
        }
    }
}

/// What a [`Finetuner`] is asked to train.
#[derive(Clone, Copy, Debug)]
pub struct FinetuneRequest<'a> {
    /// The model to fine-tune, as its LM names it (`openai/gpt-4o-mini-2024-07-18`).
    pub base_model: &'a str,
    /// The JSONL training file (OpenAI chat format: one `{"messages": [...]}` per line).
    pub data: &'a Path,
    /// How many records the file holds.
    pub records: usize,
    /// Training options (`n_epochs`, `learning_rate_multiplier`...), DSPy's `train_kwargs`.
    pub train_kwargs: &'a Map<String, Value>,
}

/// A finished fine-tuning job.
///
/// ```
/// let job = dspy_optimizers::bootstrap_finetune::FinetuneJob { model: "ft:gpt-4o-mini:org::x".into(), job_id: Some("ftjob-1".into()), file_id: None };
/// assert_eq!(serde_json::to_value(&job).unwrap(), serde_json::json!({"model": "ft:gpt-4o-mini:org::x", "job_id": "ftjob-1"}));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FinetuneJob {
    /// The fine-tuned model's name (`ft:gpt-4o-mini:org::abc123`).
    pub model: String,
    /// The provider's job id, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The provider's id of the uploaded training file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

/// Trains a model on a JSONL file and gives the LM that serves the result.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, LanguageModel, Module};
/// use dspy_optimizers::bootstrap_finetune::{FinetuneError, FinetuneJob, FinetuneRequest, Finetuner};
/// /// Pretends to train: the "fine-tuned" model answers from its demos.
/// #[derive(Debug)]
/// struct Pretend;
/// #[async_trait::async_trait]
/// impl Finetuner for Pretend {
///     async fn finetune(&self, req: FinetuneRequest<'_>) -> Result<FinetuneJob, FinetuneError> {
///         Ok(FinetuneJob { model: format!("{}-tuned", req.base_model), ..Default::default() })
///     }
///     fn lm_for(&self, _model: &str) -> Result<Arc<dyn LanguageModel>, FinetuneError> {
///         Ok(Arc::new(DummyLM::follow_examples()))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Finetuner: Send + Sync + fmt::Debug {
    /// Trains `request.base_model` on `request.data` until done; fails on a failed job.
    async fn finetune(&self, request: FinetuneRequest<'_>) -> Result<FinetuneJob, FinetuneError>;

    /// The LM that serves the fine-tuned `model` (as [`FinetuneJob::model`] names it).
    fn lm_for(&self, model: &str) -> Result<Arc<dyn LanguageModel>, FinetuneError>;
}

/// Adjusts the builder of the fine-tuned model's LM (timeouts, caching, headers...).
pub type LmOptions = Arc<dyn Fn(LmBuilder) -> LmBuilder + Send + Sync>;

/// DSPy's default: one status poll every 20 seconds.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(20);
const OPENAI_API_BASE: &str = "https://api.openai.com/v1";

/// Fine-tunes through the OpenAI API or a compatible server: uploads the JSONL
/// (`POST {api_base}/files`, multipart, `purpose=fine-tune`), starts a job
/// (`POST {api_base}/fine_tuning/jobs` with `training_file`, `model` and, when given,
/// `hyperparameters` = the train kwargs), polls `GET {api_base}/fine_tuning/jobs/{id}` until
/// `succeeded`, `failed` or `cancelled`, and returns its `fine_tuned_model`. The fine-tuned
/// model is then called as `openai/<model>` at the same API base with the same key.
///
/// The key comes from [`OpenAIFinetuner::api_key`] or `OPENAI_API_KEY`; it is sent only in the
/// `Authorization` header and never appears in `Debug` output or errors.
///
/// ```
/// use std::time::Duration;
/// use dspy_optimizers::bootstrap_finetune::OpenAIFinetuner;
/// let ft = OpenAIFinetuner::new()
///     .api_base("http://127.0.0.1:8000/v1")
///     .api_key("sk-secret")
///     .poll_interval(Duration::from_millis(500))
///     .max_wait(Duration::from_secs(3600));
/// assert!(!format!("{ft:?}").contains("sk-secret"));
/// ```
#[derive(Clone)]
pub struct OpenAIFinetuner {
    api_base: Option<String>,
    api_key: Option<ApiKey>,
    poll_interval: Duration,
    max_wait: Option<Duration>,
    request_timeout: Duration,
    lm_options: Option<LmOptions>,
}

impl fmt::Debug for OpenAIFinetuner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAIFinetuner")
            .field("api_base", &self.base())
            .field("api_key", &self.api_key)
            .field("poll_interval", &self.poll_interval)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

impl Default for OpenAIFinetuner {
    fn default() -> Self {
        OpenAIFinetuner {
            api_base: None,
            api_key: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_wait: None,
            request_timeout: Duration::from_secs(600),
            lm_options: None,
        }
    }
}

impl OpenAIFinetuner {
    /// The OpenAI API (or `OPENAI_API_BASE`), the key from `OPENAI_API_KEY`, a poll every 20 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another server speaking the same API (`http://host:port/v1`).
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = Some(base.into());
        self
    }

    /// The API key (else `OPENAI_API_KEY`).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The time between two status polls.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Gives up (with [`FinetuneError::Timeout`]) after polling this long; unlimited by default.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = Some(wait);
        self
    }

    /// The timeout of each HTTP request (10 minutes by default: uploads can be large).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Adjusts the LM built for the fine-tuned model (e.g. `|b| b.cache(false)`).
    pub fn lm_options(mut self, f: impl Fn(LmBuilder) -> LmBuilder + Send + Sync + 'static) -> Self {
        self.lm_options = Some(Arc::new(f));
        self
    }

    fn base(&self) -> String {
        self.api_base
            .clone()
            .or_else(|| std::env::var("OPENAI_API_BASE").ok().filter(|s| !s.trim().is_empty()))
            .unwrap_or_else(|| OPENAI_API_BASE.to_string())
            .trim()
            .trim_end_matches('/')
            .to_string()
    }

    fn key(&self) -> Result<ApiKey, FinetuneError> {
        self.api_key
            .clone()
            .or_else(|| std::env::var("OPENAI_API_KEY").ok().filter(|s| !s.trim().is_empty()).map(|k| ApiKey::new(k.trim())))
            .ok_or(FinetuneError::MissingApiKey)
    }

    /// Sends one request and returns its JSON answer; errors are typed, the key scrubbed.
    async fn send(&self, endpoint: &str, request: reqwest::RequestBuilder, key: &ApiKey) -> Result<Value, FinetuneError> {
        let fail = |e: reqwest::Error| FinetuneError::Request { endpoint: endpoint.to_string(), message: key.scrub(&e.to_string()) };
        let response = request.send().await.map_err(fail)?;
        let status = response.status();
        let body = response.bytes().await.map_err(fail)?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| text.chars().take(500).collect());
            return Err(FinetuneError::Http { endpoint: endpoint.to_string(), status: status.as_u16(), message: key.scrub(&message) });
        }
        serde_json::from_slice(&body).map_err(|e| FinetuneError::InvalidResponse {
            endpoint: endpoint.to_string(),
            message: key.scrub(&format!("{e}: {}", text.chars().take(200).collect::<String>())),
        })
    }
}

fn string_field(v: &Value, field: &str, endpoint: &str) -> Result<String, FinetuneError> {
    v.get(field).and_then(Value::as_str).map(str::to_string).ok_or_else(|| FinetuneError::InvalidResponse {
        endpoint: endpoint.to_string(),
        message: format!("no `{field}` in {v}"),
    })
}

/// A `multipart/form-data` body with a `purpose` field and the file (hand-built: two parts do
/// not justify another reqwest feature).
fn multipart_body(boundary: &str, purpose: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 512);
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n").as_bytes());
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/jsonl\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[async_trait::async_trait]
impl Finetuner for OpenAIFinetuner {
    async fn finetune(&self, request: FinetuneRequest<'_>) -> Result<FinetuneJob, FinetuneError> {
        let key = self.key()?;
        let base = self.base();
        let http = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .build()
            .map_err(|e| FinetuneError::Request { endpoint: base.clone(), message: e.to_string() })?;
        let auth = format!("Bearer {}", key.expose());
        // DSPy's `_remove_provider_prefix`.
        let model = request.base_model.replace("openai/", "");

        let bytes = std::fs::read(request.data).map_err(|source| FinetuneError::Io { path: request.data.to_path_buf(), source })?;
        let file_name = request.data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "train.jsonl".into());
        let boundary = format!("dspy-rs-{:016x}", fnv1a(&bytes) ^ std::process::id() as u64);
        let endpoint = "POST /files";
        let uploaded = self
            .send(
                endpoint,
                http.post(format!("{base}/files"))
                    .header(reqwest::header::AUTHORIZATION, &auth)
                    .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
                    .body(multipart_body(&boundary, "fine-tune", &file_name, &bytes)),
                &key,
            )
            .await?;
        let file_id = string_field(&uploaded, "id", endpoint)?;
        tracing::info!(file_id = %file_id, records = request.records, "uploaded the fine-tuning data");

        let endpoint = "POST /fine_tuning/jobs";
        let mut body = json!({"training_file": file_id, "model": model});
        if !request.train_kwargs.is_empty() {
            body["hyperparameters"] = Value::Object(request.train_kwargs.clone());
        }
        let created = self
            .send(
                endpoint,
                http.post(format!("{base}/fine_tuning/jobs"))
                    .header(reqwest::header::AUTHORIZATION, &auth)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string()),
                &key,
            )
            .await?;
        let job_id = string_field(&created, "id", endpoint)?;
        tracing::info!(job_id = %job_id, model = %model, "started the fine-tuning job");

        let endpoint = format!("GET /fine_tuning/jobs/{job_id}");
        let started = Instant::now();
        let mut job = created;
        loop {
            let status = job.get("status").and_then(Value::as_str).unwrap_or("").to_string();
            match status.as_str() {
                "succeeded" => {
                    let model = job.get("fine_tuned_model").and_then(Value::as_str).filter(|m| !m.is_empty());
                    return match model {
                        Some(m) => Ok(FinetuneJob { model: m.to_string(), job_id: Some(job_id), file_id: Some(file_id) }),
                        None => Err(FinetuneError::NoModel { job_id }),
                    };
                }
                "failed" | "cancelled" => {
                    let message = job.pointer("/error/message").and_then(Value::as_str).map(|m| key.scrub(m));
                    return Err(FinetuneError::JobFailed { job_id, status, message });
                }
                _ => {}
            }
            if let Some(max) = self.max_wait
                && started.elapsed() >= max
            {
                return Err(FinetuneError::Timeout { job_id, status, waited: started.elapsed() });
            }
            tokio::time::sleep(self.poll_interval).await;
            job = self
                .send(&endpoint, http.get(format!("{base}/fine_tuning/jobs/{job_id}")).header(reqwest::header::AUTHORIZATION, &auth), &key)
                .await?;
            tracing::debug!(job_id = %job_id, status = ?job.get("status"), "polled the fine-tuning job");
        }
    }

    fn lm_for(&self, model: &str) -> Result<Arc<dyn LanguageModel>, FinetuneError> {
        let mut builder = LM::builder(format!("openai/{model}")).api_base(self.base());
        if let Ok(key) = self.key() {
            builder = builder.api_key(key);
        }
        if let Some(options) = &self.lm_options {
            builder = options(builder);
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// Fine-tunes with a trainer program of your own: runs `program args...` with `{data}` (the
/// JSONL path), `{model}` (the base model) and `{train_kwargs}` (the train kwargs as JSON)
/// replaced in the arguments; its last non-empty line of standard output is the new model's
/// name. The model is then called as `openai/<name>` (at [`LocalCommand::api_base`], e.g.
/// the local server that serves it).
///
/// ```
/// use dspy_optimizers::bootstrap_finetune::LocalCommand;
/// let trainer = LocalCommand::new("sh", ["-c", "my-trainer --data \"$0\" --base \"$1\"", "{data}", "{model}"])
///     .api_base("http://127.0.0.1:8000/v1");
/// assert_eq!(trainer.program(), "sh");
/// ```
#[derive(Clone)]
pub struct LocalCommand {
    program: String,
    args: Vec<String>,
    api_base: Option<String>,
    lm_options: Option<LmOptions>,
}

impl fmt::Debug for LocalCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCommand")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl LocalCommand {
    /// Runs `program` with `args` (placeholders `{data}`, `{model}`, `{train_kwargs}`).
    pub fn new(program: impl Into<String>, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        LocalCommand { program: program.into(), args: args.into_iter().map(Into::into).collect(), api_base: None, lm_options: None }
    }

    /// Where the fine-tuned model is served (OpenAI-compatible); else `OPENAI_API_BASE` or OpenAI.
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = Some(base.into());
        self
    }

    /// Adjusts the LM built for the fine-tuned model.
    pub fn lm_options(mut self, f: impl Fn(LmBuilder) -> LmBuilder + Send + Sync + 'static) -> Self {
        self.lm_options = Some(Arc::new(f));
        self
    }

    /// The trainer program.
    pub fn program(&self) -> &str {
        &self.program
    }
}

#[async_trait::async_trait]
impl Finetuner for LocalCommand {
    async fn finetune(&self, request: FinetuneRequest<'_>) -> Result<FinetuneJob, FinetuneError> {
        let data = request.data.to_string_lossy();
        let kwargs = Value::Object(request.train_kwargs.clone()).to_string();
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.replace("{data}", &data).replace("{model}", request.base_model).replace("{train_kwargs}", &kwargs))
            .collect();
        let output = tokio::process::Command::new(&self.program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| FinetuneError::Spawn { program: self.program.clone(), source })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            let stderr = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
            return Err(FinetuneError::Command { program: self.program.clone(), code: output.status.code(), stderr });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let model = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).ok_or_else(|| FinetuneError::NoModelName { program: self.program.clone() })?;
        Ok(FinetuneJob { model: model.to_string(), job_id: None, file_id: None })
    }

    fn lm_for(&self, model: &str) -> Result<Arc<dyn LanguageModel>, FinetuneError> {
        let mut builder = LM::builder(format!("openai/{model}"));
        if let Some(base) = &self.api_base {
            builder = builder.api_base(base.clone());
        }
        if let Some(options) = &self.lm_options {
            builder = options(builder);
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// DSPy's `format_finetune_data` for one call: the adapter's messages for the call (system,
/// demos, inputs) followed by the assistant message with the outputs, as
/// `{"messages": [{"role": ..., "content": ...}, ...]}`.
pub(crate) fn finetune_record(adapter: &dyn Adapter, sig: &Signature, demos: &[Example], inputs: &Map<String, Value>, outputs: &Map<String, Value>) -> Value {
    let mut messages = adapter.format(sig, demos, inputs);
    messages.push(Message::assistant(adapter.format_assistant_message_content(sig, outputs, None)));
    json!({ "messages": messages })
}

/// Writes records as JSONL (one compact JSON object per line, as DSPy's `save_data`),
/// atomically: a temporary file beside `path`, synced, then renamed over it.
pub(crate) fn write_jsonl(path: &Path, records: &[Value]) -> Result<(), FinetuneError> {
    let mut text = String::new();
    for r in records {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| FinetuneError::Io { path: dir.to_path_buf(), source })?;
    }
    write_atomic(path, text.as_bytes()).map_err(|e| match e {
        dspy_core::Error::Io { path, source } => FinetuneError::Io { path, source },
        other => FinetuneError::Core(other),
    })
}

/// A stable content hash for file names (FNV-1a, 64 bits): the same data, the same file.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// One traced run of the teacher (DSPy's `TraceData`).
#[derive(Clone, Debug)]
pub struct TraceData {
    /// The example's index in the trainset.
    pub example_index: usize,
    /// The metric's score (`None` when the run was not scored).
    pub score: Option<f64>,
    /// Whether the run passes the metric (always, when not scored).
    pub passed: bool,
    /// The predictor calls of the run, in order.
    pub trace: Vec<TraceEntry>,
}

/// Fine-tunes the student's LMs on the successful traces of a teacher.
///
/// Defaults as DSPy: `multitask = true` (one job per distinct LM, trained on every traced
/// call; `false`: one job per predictor, on its own calls), no `train_kwargs`,
/// `exclude_demos = false` (the records include the predictor's demos in the prompt; `true`
/// leaves them out and clears the returned predictors' demos), the context's adapter (else
/// `ChatAdapter`), a pass is a score > 0. The finetuner is [`OpenAIFinetuner::new`] unless
/// [`BootstrapFinetune::finetuner`] sets another. The JSONL goes to `data_dir` (else
/// `$DSPY_FINETUNEDIR`, else `finetune/` in the DSPy cache directory), named by its hash.
///
/// Cost: one program run (and metric call) per training example, then the fine-tuning jobs,
/// run concurrently.
///
/// ```no_run
/// use std::sync::Arc;
/// use dspy_core::{Example, Module, Predict, Prediction, lm::LM};
/// use dspy_optimizers::{BootstrapFinetune, Optimizer};
/// use dspy_optimizers::bootstrap_finetune::OpenAIFinetuner;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let lm = Arc::new(LM::new("openai/gpt-4o-mini-2024-07-18").unwrap());
/// let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let trainset = vec![Example::new().with("question", "1+1?").with("answer", "2").with_inputs(["question"])];
/// let metric = |ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>| ex.get("answer") == p.get("answer");
/// let optimizer = BootstrapFinetune::new()
///     .finetuner(OpenAIFinetuner::new())
///     .train_kwargs(serde_json::json!({"n_epochs": 3}).as_object().unwrap().clone());
/// let compiled = optimizer.compile(&student, &trainset, metric).await.unwrap();
/// println!("{}", compiled.report.extra["jobs"][0]["model"]);
/// # });
/// ```
#[derive(Clone)]
pub struct BootstrapFinetune {
    /// One job per distinct LM on all traced calls (`true`), or one per predictor.
    pub multitask: bool,
    /// Training options for every job (DSPy's `train_kwargs`).
    pub train_kwargs: Map<String, Value>,
    /// Training options for the jobs of one base model (by its LM's model name), instead.
    pub train_kwargs_by_model: HashMap<String, Map<String, Value>>,
    /// The adapter that formats the records (`None`: the context's).
    pub adapter: Option<Arc<dyn Adapter>>,
    /// Leave demos out of the records and clear them on the returned predictors.
    pub exclude_demos: bool,
    /// A run passes when its score is at least this (`None`: above 0).
    pub metric_threshold: Option<f64>,
    /// Keep only runs that pass the metric (DSPy keeps every run when given no metric).
    pub filter_by_metric: bool,
    /// Where the JSONL files go.
    pub data_dir: Option<PathBuf>,
    /// What trains the models.
    pub finetuner: Arc<dyn Finetuner>,
    /// Seed (of the record shuffle), concurrency, budgets, progress.
    pub run: RunConfig,
}

impl fmt::Debug for BootstrapFinetune {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootstrapFinetune")
            .field("multitask", &self.multitask)
            .field("train_kwargs", &self.train_kwargs)
            .field("exclude_demos", &self.exclude_demos)
            .field("metric_threshold", &self.metric_threshold)
            .field("data_dir", &self.data_dir)
            .field("finetuner", &self.finetuner)
            .finish_non_exhaustive()
    }
}

impl Default for BootstrapFinetune {
    fn default() -> Self {
        BootstrapFinetune {
            multitask: true,
            train_kwargs: Map::new(),
            train_kwargs_by_model: HashMap::new(),
            adapter: None,
            exclude_demos: false,
            metric_threshold: None,
            filter_by_metric: true,
            data_dir: None,
            finetuner: Arc::new(OpenAIFinetuner::new()),
            run: RunConfig::default(),
        }
    }
}

impl_run_options!(BootstrapFinetune);

/// One fine-tuning job to run: its base LM, data and the predictors it serves.
struct PlannedJob {
    lm: Arc<dyn LanguageModel>,
    predictors: Vec<String>,
    records: Vec<Value>,
}

impl BootstrapFinetune {
    /// DSPy's defaults, fine-tuning through the OpenAI API.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trains with this finetuner.
    pub fn finetuner(mut self, finetuner: impl Finetuner + 'static) -> Self {
        self.finetuner = Arc::new(finetuner);
        self
    }

    /// Sets `multitask`.
    pub fn multitask(mut self, on: bool) -> Self {
        self.multitask = on;
        self
    }

    /// Sets the training options of every job.
    pub fn train_kwargs(mut self, kwargs: Map<String, Value>) -> Self {
        self.train_kwargs = kwargs;
        self
    }

    /// Sets the training options of the jobs fine-tuning `model` (its LM's model name).
    pub fn train_kwargs_for(mut self, model: impl Into<String>, kwargs: Map<String, Value>) -> Self {
        self.train_kwargs_by_model.insert(model.into(), kwargs);
        self
    }

    /// Formats the records with this adapter.
    pub fn adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapter = Some(adapter);
        self
    }

    /// Sets `exclude_demos`.
    pub fn exclude_demos(mut self, on: bool) -> Self {
        self.exclude_demos = on;
        self
    }

    /// Sets `metric_threshold`.
    pub fn metric_threshold(mut self, t: f64) -> Self {
        self.metric_threshold = Some(t);
        self
    }

    /// Sets `filter_by_metric`.
    pub fn filter_by_metric(mut self, on: bool) -> Self {
        self.filter_by_metric = on;
        self
    }

    /// Writes the JSONL files into this directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    fn resolved_data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .or_else(|| std::env::var_os("DSPY_FINETUNEDIR").filter(|d| !d.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| dspy_core::lm::default_cache_dir().join("finetune"))
    }

    /// [`Optimizer::compile`] with typed errors and an optional teacher (a program of the same
    /// structure; the student itself by default, as DSPy).
    pub async fn finetune<'m, P, K>(
        &self,
        student: &P,
        teacher: Option<&P>,
        trainset: &[Example],
        metric: impl IntoMetric<'m, Example, K>,
    ) -> Result<Compiled<P>, FinetuneError>
    where
        P: Module + Clone,
    {
        let metric = metric.into_metric();
        let metric = &*metric;
        let started = Instant::now();
        let engine = self.run.engine().no_error_limit();
        let (result, used) = usage::track(self.finetune_inner(student, teacher, trainset, metric, &engine)).await;
        let (program, extra) = result?;
        let mut report = CompileReport::new("BootstrapFinetune");
        report.seed = Some(self.run.seed);
        report.extra = extra;
        report.finish(&program, &used, engine.budget_ref(), started);
        Ok(Compiled { program, report })
    }

    async fn finetune_inner<P>(
        &self,
        student: &P,
        teacher: Option<&P>,
        trainset: &[Example],
        metric: &dyn Metric,
        engine: &crate::Engine,
    ) -> Result<(P, Value), FinetuneError>
    where
        P: Module + Clone,
    {
        // DSPy requires every predictor to carry the LM to fine-tune.
        let mut student_lms = Vec::new();
        for (name, p) in student.named_predictors() {
            match p.lm() {
                Some(lm) => student_lms.push((name, lm)),
                None => return Err(FinetuneError::MissingLm { predictor: name }),
            }
        }
        let teacher = teacher.cloned().unwrap_or_else(|| student.clone());
        check_same_structure(student, &teacher)?;

        let data = self.bootstrap_trace_data(&teacher, trainset, metric, engine).await?;
        let passed: Vec<&TraceData> = data.iter().filter(|d| d.passed || !self.filter_by_metric).collect();
        tracing::info!(collected = data.len(), kept = passed.len(), "collected traces for fine-tuning");

        let adapter = self.adapter.clone().unwrap_or_else(|| settings::current().adapter());
        let teacher_preds: HashMap<PredictorId, usize> =
            teacher.named_predictors().iter().enumerate().map(|(i, (_, p))| (p.id(), i)).collect();
        let teacher_view = teacher.named_predictors();

        // Training key: (the LM, `None` in multitask mode or the predictor's index).
        let mut jobs: Vec<((usize, Option<usize>), PlannedJob)> = Vec::new();
        let mut assignment: Vec<usize> = Vec::new();
        for (index, (name, lm)) in student_lms.iter().enumerate() {
            let key = (Arc::as_ptr(lm) as *const () as usize, (!self.multitask).then_some(index));
            if let Some(pos) = jobs.iter().position(|(k, _)| *k == key) {
                jobs[pos].1.predictors.push(name.clone());
                assignment.push(pos);
                continue;
            }
            let mut records = Vec::new();
            for item in &passed {
                for entry in &item.trace {
                    let Some(&t_index) = teacher_preds.get(&entry.predictor) else { continue };
                    if key.1.is_some_and(|i| i != t_index) {
                        continue;
                    }
                    let pred = teacher_view[t_index].1;
                    let demos: &[Example] = if self.exclude_demos { &[] } else { pred.demos() };
                    records.push(finetune_record(&*adapter, pred.signature(), demos, &entry.inputs, entry.outputs.outputs()));
                }
            }
            records.shuffle(&mut seeded_rng(self.run.seed));
            assignment.push(jobs.len());
            jobs.push((key, PlannedJob { lm: lm.clone(), predictors: vec![name.clone()], records }));
        }

        let dir = self.resolved_data_dir();
        let mut files = Vec::with_capacity(jobs.len());
        for (_, job) in &jobs {
            if job.records.is_empty() {
                return Err(FinetuneError::NoTrainingData { model: job.lm.model().to_string() });
            }
            let text: String = job.records.iter().map(|r| format!("{r}\n")).collect();
            let path = dir.join(format!("{:016x}.jsonl", fnv1a(text.as_bytes())));
            write_jsonl(&path, &job.records)?;
            tracing::info!(path = %path.display(), records = job.records.len(), model = job.lm.model(), "wrote the fine-tuning data");
            files.push(path);
        }

        let results = futures::future::join_all(jobs.iter().zip(&files).map(|((_, job), path)| {
            let model = job.lm.model().to_string();
            let kwargs = self.train_kwargs_by_model.get(&model).unwrap_or(&self.train_kwargs);
            let finetuner = Arc::clone(&self.finetuner);
            async move {
                finetuner.finetune(FinetuneRequest { base_model: &model, data: path, records: job.records.len(), train_kwargs: kwargs }).await
            }
        }))
        .await;
        let mut finished = Vec::with_capacity(results.len());
        for r in results {
            finished.push(r?);
        }
        let mut new_lms = Vec::with_capacity(finished.len());
        for job in &finished {
            new_lms.push(self.finetuner.lm_for(&job.model)?);
        }

        let mut program = student.clone();
        for (i, (_, p)) in program.named_predictors_mut().into_iter().enumerate() {
            p.set_lm(Some(Arc::clone(&new_lms[assignment[i]])));
            if self.exclude_demos {
                p.set_demos(Vec::new());
            }
        }

        let extra = json!({
            "traces": data.len(),
            "passed": data.iter().filter(|d| d.passed).count(),
            "multitask": self.multitask,
            "jobs": jobs.iter().zip(&files).zip(&finished).map(|(((_, job), path), done)| json!({
                "base_model": job.lm.model(),
                "model": done.model,
                "job_id": done.job_id,
                "file_id": done.file_id,
                "data": path.display().to_string(),
                "records": job.records.len(),
                "predictors": job.predictors,
            })).collect::<Vec<_>>(),
        });
        Ok((program, extra))
    }

    /// DSPy's `bootstrap_trace_data`: runs `program` on every example with tracing on, scored
    /// by `metric`; runs that fail are left out.
    pub async fn bootstrap_trace_data<P: Module + ?Sized>(
        &self,
        program: &P,
        trainset: &[Example],
        metric: &dyn Metric,
        engine: &crate::Engine,
    ) -> Result<Vec<TraceData>, FinetuneError> {
        let run = if self.filter_by_metric {
            engine.evaluate_with(program, trainset, metric, Traces::Keep, "Bootstrapping traces").await?
        } else {
            engine.run_all(program, trainset, Traces::Keep).await?
        };
        Ok(run
            .outcomes
            .into_iter()
            .enumerate()
            .filter(|(_, o)| !o.skipped && !o.is_error())
            .map(|(i, o)| TraceData {
                example_index: i,
                score: o.score.as_ref().map(|s| s.value),
                passed: if self.filter_by_metric { o.passes(self.metric_threshold) } else { true },
                trace: o.trace,
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl Optimizer for BootstrapFinetune {
    async fn optimize<P>(&self, student: &P, trainset: &[Example], _valset: Option<&[Example]>, metric: &dyn Metric) -> dspy_core::Result<Compiled<P>>
    where
        P: Module + Clone + 'static,
    {
        Ok(self.finetune(student, None, trainset, metric).await?)
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn finetune_record() {
        use dspy_core::{ChatAdapter, Signature};
        use crate::bootstrap_finetune::finetune_record;
        let sig = Signature::parse("question -> answer").unwrap();
        let inputs = serde_json::json!({"question": "2+2?"}).as_object().unwrap().clone();
        let outputs = serde_json::json!({"answer": "4"}).as_object().unwrap().clone();
        let record = finetune_record(&ChatAdapter::new(), &sig, &[], &inputs, &outputs);
        let messages = record["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[2]["role"], "assistant");
        assert!(messages[2]["content"].as_str().unwrap().contains("[[ ## answer ## ]]\n4"));
    }

    #[test]
    fn write_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.jsonl");
        crate::bootstrap_finetune::write_jsonl(&path, &[serde_json::json!({"messages": []})]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"messages\":[]}\n");
    }
}
