//! OTLP export (feature `otel`): LM and module spans arrive, as protobuf over HTTP, at a
//! collector this test runs on 127.0.0.1, with their GenAI attributes.
//!
//!     cargo test -p dspy-core --features otel --test lm_otel
#![cfg(feature = "otel")]

mod lm_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use dspy_core::lm::LM;
use dspy_core::{LanguageModel, LmRequest, Message};
use lm_support::{MockServer, Reply, chat_completion};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt;

type Received = Arc<Mutex<Vec<(String, Span)>>>;

async fn collect(State(received): State<Received>, body: Bytes) -> &'static str {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
    for rs in request.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref()?.value.clone())
            .map(|v| match v {
                Any::StringValue(s) => s,
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                received.lock().unwrap().push((service.clone(), span));
            }
        }
    }
    ""
}

fn attr(span: &Span, key: &str) -> Option<Any> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()?.value.clone())
}

#[test]
fn spans_reach_a_local_otlp_collector() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The collector runs on its own worker thread, so it answers while `flush` blocks this one.
    let collector_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let received: Received = Arc::default();
    let collector = collector_rt.block_on(async {
        let app = Router::new().route("/v1/traces", post(collect)).with_state(Arc::clone(&received));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });

    let (layer, guard) = dspy_core::telemetry::otel::layer(Some(&collector), "dspy-otel-test").unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("ok"))).await;
            let lm = LM::builder("openai/gpt-4o-mini").api_base(server.v1()).cache(false).build().unwrap();
            dspy_core::telemetry::in_module_span("QA", async {
                lm.complete(LmRequest { messages: vec![Message::user("q")], ..Default::default() }).await.unwrap()
            })
            .await;
        });
    });
    guard.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(guard);

    let spans = received.lock().unwrap().clone();
    let (service, lm_span) = spans.iter().find(|(_, s)| s.name == "chat gpt-4o-mini").unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(service, "dspy-otel-test");
    assert_eq!(attr(lm_span, "gen_ai.system"), Some(Any::StringValue("openai".into())));
    assert_eq!(attr(lm_span, "gen_ai.request.model"), Some(Any::StringValue("gpt-4o-mini".into())));
    assert_eq!(attr(lm_span, "gen_ai.response.model"), Some(Any::StringValue("served-model".into())));
    assert_eq!(attr(lm_span, "gen_ai.usage.input_tokens"), Some(Any::IntValue(12)));
    assert_eq!(attr(lm_span, "gen_ai.usage.output_tokens"), Some(Any::IntValue(3)));
    assert_eq!(attr(lm_span, "dspy.cache_hit"), Some(Any::BoolValue(false)));
    assert!(matches!(attr(lm_span, "dspy.latency_ms"), Some(Any::DoubleValue(ms)) if ms > 0.0));
    assert_eq!(lm_span.kind, 3, "SPAN_KIND_CLIENT");
    let (_, module_span) = spans.iter().find(|(_, s)| s.name == "invoke_agent QA").unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(lm_span.parent_span_id, module_span.span_id, "the LM call is a child of the module call");
    assert_eq!(lm_span.trace_id, module_span.trace_id);
}
