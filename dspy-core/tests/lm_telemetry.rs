//! The GenAI spans of LM and module calls, as any `tracing` subscriber sees them. (Alone in its
//! test binary: a thread-scoped subscriber must not race other tests for callsite interest.)

mod lm_support;

use dspy_core::lm::LM;
use dspy_core::{LanguageModel, LmRequest, Message};
use lm_support::{Captured, MockServer, Reply, capture_subscriber, chat_completion};

fn ask(text: &str) -> LmRequest {
    LmRequest { messages: vec![Message::user(text)], ..LmRequest::default() }
}

#[test]
fn lm_calls_are_spans_with_gen_ai_attributes() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(capture_subscriber(&captured, tracing::Level::INFO));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let server = MockServer::start(|_, _| Reply::Json(200, chat_completion("ok"))).await;
        let lm = LM::builder("openai/gpt-4o-mini").api_base(server.v1()).cache(false).temperature(0.5).build().unwrap();
        dspy_core::telemetry::in_module_span("MyProgram", async { lm.complete(ask("q")).await.unwrap() }).await;
        let failing = LM::builder("openai/gpt-4o-mini").api_base("http://127.0.0.1:9/v1").num_retries(0).cache(false).build().unwrap();
        failing.complete(ask("q")).await.unwrap_err();
    });
    let text = captured.text();
    let call = text.lines().find(|l| l.contains("lm_call") && l.contains("close") && l.contains("gen_ai.usage.input_tokens")).unwrap_or_else(|| panic!("{text}"));
    for field in [
        "gen_ai.operation.name=\"chat\"",
        "gen_ai.system=\"openai\"",
        "gen_ai.request.model=\"gpt-4o-mini\"",
        "gen_ai.request.temperature=0.5",
        "gen_ai.response.model=\"served-model\"",
        "gen_ai.usage.input_tokens=12",
        "gen_ai.usage.output_tokens=3",
        "dspy.cache_hit=false",
        "dspy.latency_ms=",
        "server.address=\"127.0.0.1:",
    ] {
        assert!(call.contains(field), "missing {field} in {call}");
    }
    assert!(call.contains("module_call"), "the LM span is a child of the module span: {call}");
    assert!(text.lines().any(|l| l.contains("lm_call") && l.contains("error.type=\"connection\"")), "{text}");
}
