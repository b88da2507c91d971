//! OTLP export of the LM and module spans (feature `otel`): HTTP/protobuf to any collector
//! (the OpenTelemetry Collector, Jaeger, MLflow, Phoenix, ...), batched on a background thread.
//!
//! ```no_run
//! # fn main() -> dspy_core::Result<()> {
//! // Spans of every LM and module call go to http://localhost:4318/v1/traces until `_otel` drops.
//! let _otel = dspy_core::telemetry::otel::init(Some("http://localhost:4318"), "my-dspy-app")?;
//! # Ok(()) }
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::Error;

/// Keeps the exporter alive; dropping it flushes the spans not yet sent and shuts it down.
#[must_use = "spans are exported only while the guard lives"]
pub struct OtelGuard {
    provider: SdkTracerProvider,
}

impl std::fmt::Debug for OtelGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelGuard").finish_non_exhaustive()
    }
}

impl OtelGuard {
    /// Sends every finished span now.
    pub fn flush(&self) -> Result<(), Error> {
        self.provider.force_flush().map_err(|e| Error::Telemetry { action: "OTLP flush failed", source: Box::new(e) })
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// `endpoint` as the traces URL: a collector base (`http://host:4318`) gets `/v1/traces`.
fn traces_url(endpoint: &str) -> String {
    let e = endpoint.trim_end_matches('/');
    if e.ends_with("/v1/traces") { e.to_string() } else { format!("{e}/v1/traces") }
}

/// A `tracing` layer exporting spans over OTLP/HTTP (protobuf), to compose with your own
/// subscriber. `endpoint` is the collector (`http://localhost:4318`); `None` reads
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (else `http://localhost:4318`).
pub fn layer<S>(endpoint: Option<&str>, service_name: &str) -> Result<(OpenTelemetryLayer<S, SdkTracer>, OtelGuard), Error>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http().with_protocol(Protocol::HttpBinary);
    if let Some(endpoint) = endpoint {
        exporter = exporter.with_endpoint(traces_url(endpoint));
    }
    let exporter = exporter.build().map_err(|e| Error::Telemetry { action: "could not build the OTLP exporter", source: Box::new(e) })?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name.to_string()).build())
        .build();
    let tracer = provider.tracer("dspy");
    Ok((tracing_opentelemetry::layer().with_tracer(tracer), OtelGuard { provider }))
}

/// Installs a global subscriber exporting dspy's spans (targets `dspy::*`) over OTLP. Fails if
/// a global subscriber is already set: then compose [`layer`] into yours.
pub fn init(endpoint: Option<&str>, service_name: &str) -> Result<OtelGuard, Error> {
    let (layer, guard) = layer(endpoint, service_name)?;
    let only_dspy = tracing_subscriber::filter::filter_fn(|meta| meta.target().starts_with("dspy"));
    tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(layer, only_dspy))
        .try_init()
        .map_err(|e| Error::Telemetry { action: "could not install the tracing subscriber", source: Box::new(e) })?;
    Ok(guard)
}
