//! One HTTP attempt and what its failure means: which failures are worth retrying, and which
//! typed [`LmError`] each becomes once the retries are spent.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::LmError;
use super::provider::error_in_body;

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered with a non-success status.
    Status { status: u16, retry_after: Option<Duration>, message: String, context_window: bool },
    /// No answer within the per-attempt timeout.
    Timeout,
    /// The server could not be reached, or the connection broke mid-body.
    Connection(String),
}

impl Failure {
    /// Whether another attempt may succeed: 429, 408, 5xx, timeouts, connection failures.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            Failure::Status { status, context_window, .. } => {
                !context_window && (*status == 429 || *status == 408 || *status >= 500)
            }
            Failure::Timeout | Failure::Connection(_) => true,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The typed error after `attempts` attempts.
    pub(crate) fn into_error(self, provider: &str, url: &str, timeout: Duration, attempts: u32) -> LmError {
        match self {
            Failure::Status { context_window: true, message, .. } => LmError::ContextWindowExceeded { message },
            Failure::Status { status: 401 | 403, message, .. } => {
                LmError::Authentication { provider: provider.to_string(), message }
            }
            Failure::Status { status: 429, retry_after, message, .. } => {
                LmError::RateLimited { provider: provider.to_string(), attempts, retry_after, message }
            }
            Failure::Status { status, message, .. } if status == 408 || status >= 500 => {
                LmError::Server { status, attempts, message }
            }
            Failure::Status { status, message, .. } => LmError::BadRequest { status, message },
            Failure::Timeout => LmError::Timeout { after: timeout, attempts },
            Failure::Connection(message) => LmError::Connection { url: url.to_string(), message },
        }
    }
}

/// A failed response, classified. `scrub` removes the API key from anything the server echoed.
pub(crate) fn status_failure(status: u16, retry_after: Option<&str>, body: &str, scrub: impl Fn(&str) -> String) -> Failure {
    let (code, message) = error_parts(body);
    let message = scrub(&message);
    Failure::Status {
        status,
        retry_after: retry_after.and_then(|v| super::retry::parse_retry_after(v, SystemTime::now())),
        context_window: status != 429 && is_context_window(code.as_deref(), &message),
        message,
    }
}

/// The error code (if any) and message of an error body, in the shapes providers use:
/// OpenAI `{"error": {"message", "code"}}`, Anthropic `{"type": "error", "error": {...}}`,
/// Ollama `{"error": "..."}`, FastAPI `{"detail": ...}`, or plain text.
pub(crate) fn error_parts(body: &str) -> (Option<String>, String) {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let code = v
            .pointer("/error/code")
            .or_else(|| v.pointer("/error/type"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(m) = error_in_body(&v) {
            return (code, m);
        }
        if let Some(d) = v.get("detail") {
            return (code, d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string()));
        }
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            return (code, m.to_string());
        }
    }
    let text = body.trim();
    let message = if text.is_empty() { "(empty body)".to_string() } else { crate::lm::snippet(text) };
    (None, message)
}

/// The phrases providers use for a prompt longer than the context window.
const CONTEXT_WINDOW_CODES: &[&str] = &["context_length_exceeded", "exceed_context_size_error", "string_above_max_length"];
const CONTEXT_WINDOW_PHRASES: &[&str] = &[
    "maximum context length",
    "context length exceeded",
    "context_length_exceeded",
    "context window",
    "prompt is too long",
    "exceeds the context",
    "exceed context",
    "exceeds the available context",
    "input is too long",
    "too many tokens",
    "reduce the length of the messages",
    "input length and `max_tokens` exceed",
];

/// Whether an error code/message says the prompt does not fit the model's context window.
pub(crate) fn is_context_window(code: Option<&str>, message: &str) -> bool {
    if code.is_some_and(|c| CONTEXT_WINDOW_CODES.contains(&c)) {
        return true;
    }
    let lower = message.to_ascii_lowercase();
    CONTEXT_WINDOW_PHRASES.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_provider_errors() {
        let f = status_failure(400, None, r#"{"error": {"message": "This model's maximum context length is 8192 tokens.", "code": "context_length_exceeded"}}"#, str::to_string);
        assert!(matches!(f.into_error("openai", "u", Duration::ZERO, 1), LmError::ContextWindowExceeded { .. }));
        let f = status_failure(400, None, r#"{"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}}"#, str::to_string);
        assert!(matches!(f.into_error("anthropic", "u", Duration::ZERO, 1), LmError::ContextWindowExceeded { .. }));
        let f = status_failure(429, Some("7"), r#"{"error": "slow down"}"#, str::to_string);
        assert!(f.retryable());
        assert!(matches!(f.into_error("p", "u", Duration::ZERO, 4), LmError::RateLimited { attempts: 4, retry_after: Some(d), .. } if d == Duration::from_secs(7)));
        let f = status_failure(401, None, "bad key sk-123456", |s| s.replace("sk-123456", "[REDACTED]"));
        assert!(!f.retryable());
        assert_eq!(f.into_error("p", "u", Duration::ZERO, 1).to_string(), "authentication failed for p: bad key [REDACTED]");
        let f = status_failure(503, None, "", str::to_string);
        assert!(f.retryable());
        assert_eq!(f.into_error("p", "u", Duration::ZERO, 2).to_string(), "server error (503) after 2 attempt(s): (empty body)");
        for s in [400, 404, 422] {
            assert!(!status_failure(s, None, "{\"detail\": \"nope\"}", str::to_string).retryable());
        }
    }
}
