//! Tracing spans for LM and module calls, with OpenTelemetry's GenAI attribute names
//! (`gen_ai.system`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...), so any
//! `tracing` subscriber sees them and the `otel` feature's `telemetry::otel` module exports them over
//! OTLP to MLflow, Jaeger or any collector. Prompts and keys are never recorded.

use std::future::Future;
use std::time::Duration;

use tracing::Instrument;
use tracing::field::Empty;

use crate::lm::{LmConfig, LmError, LmResponse};

/// The `tracing` target of LM call spans (filter on it: `RUST_LOG=dspy::lm=info`).
pub const LM_TARGET: &str = "dspy::lm";
/// The `tracing` target of module call spans.
pub const MODULE_TARGET: &str = "dspy::module";

/// A span for one LM call; [`record_response`] / [`record_error`] fill in the outcome.
///
/// ```
/// let span = dspy_core::telemetry::lm_span("openai", "gpt-4o-mini", "chat", &Default::default(), "https://api.openai.com/v1");
/// let _entered = span.enter();
/// ```
pub fn lm_span(provider: &str, model_id: &str, operation: &str, config: &LmConfig, url: &str) -> tracing::Span {
    tracing::info_span!(
        target: LM_TARGET,
        "lm_call",
        otel.name = %format!("{operation} {model_id}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = operation,
        gen_ai.system = provider,
        gen_ai.provider.name = provider,
        gen_ai.request.model = model_id,
        gen_ai.request.temperature = config.temperature,
        gen_ai.request.max_tokens = config.max_tokens.map(i64::from),
        gen_ai.request.top_p = config.top_p,
        gen_ai.response.model = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        server.address = server_address(url),
        dspy.cache_hit = Empty,
        dspy.latency_ms = Empty,
        dspy.cost_usd = Empty,
        error.type = Empty,
    )
}

/// The host (and port) of a URL: never its path or query.
fn server_address(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    host.rsplit('@').next().unwrap_or(host)
}

/// Records a call's outcome on its span.
pub fn record_response(span: &tracing::Span, response: &LmResponse, latency: Duration) {
    span.record("gen_ai.response.model", response.model.as_str());
    let reasons: Vec<&str> = response.outputs.iter().filter_map(|o| o.finish_reason.as_deref()).collect();
    if !reasons.is_empty() {
        span.record("gen_ai.response.finish_reasons", reasons.join(",").as_str());
    }
    // As i64: OpenTelemetry has no unsigned integers (u64 would be exported as a string).
    span.record("gen_ai.usage.input_tokens", as_i64(response.usage.prompt_tokens));
    span.record("gen_ai.usage.output_tokens", as_i64(response.usage.completion_tokens));
    span.record("dspy.cache_hit", response.cache_hit);
    span.record("dspy.latency_ms", latency.as_secs_f64() * 1000.0);
    if let Some(cost) = response.usage.cost {
        span.record("dspy.cost_usd", cost);
    }
    span.record("otel.status_code", "OK");
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records a failed call on its span (the error's kind and message, never a key).
pub fn record_error(span: &tracing::Span, error: &LmError, latency: Duration) {
    span.record("error.type", error_type(error));
    span.record("dspy.latency_ms", latency.as_secs_f64() * 1000.0);
    span.record("otel.status_code", "ERROR");
}

/// A short, stable name for an error's kind (`error.type`).
pub(crate) fn error_type(error: &LmError) -> &'static str {
    match error {
        LmError::Authentication { .. } => "authentication",
        LmError::RateLimited { .. } => "rate_limited",
        LmError::BadRequest { .. } => "bad_request",
        LmError::ContextWindowExceeded { .. } => "context_window_exceeded",
        LmError::Server { .. } => "server_error",
        LmError::Timeout { .. } => "timeout",
        LmError::Connection { .. } => "connection",
        LmError::MalformedResponse { .. } => "malformed_response",
        LmError::Config(_) => "config",
        _ => "other",
    }
}

/// A span for one module (program) call, parent of the LM calls it makes.
///
/// ```
/// let span = dspy_core::telemetry::module_span("Predict(question -> answer)");
/// ```
pub fn module_span(name: &str) -> tracing::Span {
    tracing::info_span!(
        target: MODULE_TARGET,
        "module_call",
        otel.name = %format!("invoke_agent {name}"),
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = name,
        dspy.module = name,
    )
}

/// Runs `fut` inside a [`module_span`] named `name`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let x = dspy_core::telemetry::in_module_span("MyProgram", async { 42 }).await;
/// assert_eq!(x, 42);
/// # });
/// ```
pub async fn in_module_span<F: Future>(name: &str, fut: F) -> F::Output {
    fut.instrument(module_span(name)).await
}

#[cfg(feature = "otel")]
pub mod otel;

#[cfg(test)]
mod tests {
    #[test]
    fn server_address_is_only_the_host() {
        assert_eq!(super::server_address("https://user:pw@api.openai.com/v1/chat?x=1"), "api.openai.com");
        assert_eq!(super::server_address("http://127.0.0.1:8765/v1"), "127.0.0.1:8765");
    }
}
