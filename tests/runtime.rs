//! The runtime around one call: streaming per field, batch, and settings isolation between
//! concurrent tasks.

use std::sync::Arc;
use std::time::Duration;

use dspy::module::StreamItem;
use dspy::prelude::*;
use dspy::{JSONAdapter, LmError, LmRequest, LmResponse, LmStream, StreamEvent, settings};
use futures::StreamExt;
use serde_json::json;

/// An LM that streams a scripted completion a few characters at a time, with a pause between
/// pieces, so chunks can be seen to arrive before the completion is over.
#[derive(Debug)]
struct TrickleLM {
    text: String,
    piece: usize,
}

#[async_trait::async_trait]
impl LanguageModel for TrickleLM {
    fn model(&self) -> &str {
        "trickle"
    }

    async fn complete(&self, _request: LmRequest) -> Result<LmResponse, LmError> {
        Ok(LmResponse::from_texts("trickle", [self.text.clone()]))
    }

    async fn stream(&self, _request: LmRequest) -> Result<LmStream, LmError> {
        let chars: Vec<char> = self.text.chars().collect();
        let pieces: Vec<String> = chars.chunks(self.piece).map(|c| c.iter().collect()).collect();
        let done = LmResponse::from_texts("trickle", [self.text.clone()]);
        let events = futures::stream::iter(pieces)
            .then(|p| async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Ok(StreamEvent::Delta(p))
            })
            .chain(futures::stream::once(async move { Ok(StreamEvent::Done(done)) }));
        Ok(Box::pin(events))
    }
}

/// Answer with a short reasoning first.
#[derive(Signature)]
struct Explain {
    #[input]
    question: String,
    #[output]
    reasoning: String,
    #[output]
    answer: String,
    #[output]
    confidence: f64,
}

#[tokio::test]
async fn chat_stream_yields_field_chunks_then_the_typed_prediction() {
    let text = "[[ ## reasoning ## ]]\nHamlet is a play by Shakespeare.\n\n[[ ## answer ## ]]\nWilliam Shakespeare\n\n[[ ## confidence ## ]]\n0.9\n\n[[ ## completed ## ]]";
    let lm = Arc::new(TrickleLM { text: text.into(), piece: 3 });
    let p = Predict::<Explain>::new().with_lm(lm);
    let mut stream = p.stream(ExplainInput { question: "Who wrote Hamlet?".into() });
    let mut chunks: Vec<(String, String)> = Vec::new();
    let mut done = None;
    while let Some(item) = stream.next().await {
        match item.unwrap() {
            StreamItem::Chunk { field, text } => {
                assert!(done.is_none(), "chunks come before the prediction");
                chunks.push((field, text));
            }
            StreamItem::Done(pred) => done = Some(pred),
        }
    }
    assert!(chunks.len() > 10, "small pieces give many chunks, got {}", chunks.len());
    let joined = |f: &str| chunks.iter().filter(|(g, _)| g == f).map(|(_, t)| t.as_str()).collect::<String>();
    assert_eq!(joined("reasoning"), "Hamlet is a play by Shakespeare.");
    assert_eq!(joined("answer"), "William Shakespeare");
    let order: Vec<&str> = chunks.iter().map(|(f, _)| f.as_str()).collect();
    let first = |f: &str| order.iter().position(|g| *g == f).unwrap();
    assert!(first("reasoning") < first("answer") && first("answer") < first("confidence"));
    let typed: dspy::Predicted<ExplainOutput> = done.expect("a final prediction");
    assert_eq!(typed.answer, "William Shakespeare");
    assert_eq!(typed.confidence, 0.9);
}

#[tokio::test]
async fn json_stream_decodes_string_values() {
    let text = "{\n  \"reasoning\": \"Because \\\"Hamlet\\\".\",\n  \"answer\": \"Shakespeare\",\n  \"confidence\": 1\n}";
    let lm = Arc::new(TrickleLM { text: text.into(), piece: 2 });
    let p = Predict::<Explain>::new().with_lm(lm).with_adapter(Arc::new(JSONAdapter::new()));
    let items: Vec<StreamItem<dspy::Predicted<ExplainOutput>>> =
        p.stream(ExplainInput { question: "?".into() }).map(|i| i.unwrap()).collect().await;
    let reasoning: String = items
        .iter()
        .filter_map(|i| match i {
            StreamItem::Chunk { field, text } if field == "reasoning" => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasoning, "Because \"Hamlet\".");
    let Some(StreamItem::Done(pred)) = items.last() else { panic!("no final prediction") };
    assert_eq!(pred.confidence, 1.0);
    assert_eq!(pred.prediction().get("confidence"), Some(&json!(1.0)));
}

#[tokio::test]
async fn a_stream_that_cannot_be_parsed_is_a_typed_error() {
    let lm = Arc::new(TrickleLM { text: "[[ ## reasoning ## ]]\nthinking...".into(), piece: 4 });
    let p = Predict::<Explain>::new().with_lm(lm);
    let items: Vec<_> = p.stream(ExplainInput { question: "?".into() }).collect().await;
    assert!(matches!(items.first(), Some(Ok(StreamItem::Chunk { .. }))));
    assert!(matches!(items.last(), Some(Err(dspy::Error::Parse(_)))), "{:?}", items.last());
}

#[tokio::test]
async fn batch_keeps_order_and_per_item_results() {
    let lm = Arc::new(dspy::DummyLM::by_substring(
        (0..8).map(|i| (format!("item {i}?"), json!({"reasoning": "r", "answer": format!("a{i}"), "confidence": "0.5"}))).collect(),
    ));
    let p = Predict::<Explain>::new().with_lm(lm);
    let mut inputs: Vec<ExplainInput> = (0..8).map(|i| ExplainInput { question: format!("item {i}?") }).collect();
    inputs.insert(3, ExplainInput { question: "unknown".into() }); // the DummyLM has no answer: a parse error
    let results = p.batch(inputs, 4).await;
    assert_eq!(results.len(), 9);
    assert!(results[3].is_err(), "the failing item keeps its place");
    let answers: Vec<String> = results.iter().filter_map(|r| r.as_ref().ok()).map(|o| o.answer.clone()).collect();
    assert_eq!(answers, (0..8).map(|i| format!("a{i}")).collect::<Vec<_>>());
}

/// An LM that answers with its own name after a random short delay, so tasks interleave.
#[derive(Debug)]
struct NamedLM(String);

#[async_trait::async_trait]
impl LanguageModel for NamedLM {
    fn model(&self) -> &str {
        &self.0
    }

    async fn complete(&self, _request: LmRequest) -> Result<LmResponse, LmError> {
        tokio::time::sleep(Duration::from_micros(fastrand::u64(0..2000))).await;
        Ok(LmResponse::from_texts(&self.0, [format!("[[ ## answer ## ]]\n{}\n\n[[ ## completed ## ]]", self.0)]))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_contexts_never_leak() {
    let qa = Arc::new(Predict::parse("question -> answer").unwrap());
    let mut handles = Vec::new();
    for i in 0..128 {
        let qa = qa.clone();
        let lm: Arc<dyn LanguageModel> = Arc::new(NamedLM(format!("lm-{i}")));
        handles.push(tokio::spawn(settings::context(Settings::new().lm(lm), async move {
            let mut seen = Vec::new();
            for round in 0..5 {
                // Nested spawns inherit the context they were spawned in.
                let qa = qa.clone();
                let inner = settings::spawn(async move {
                    qa.forward(&Example::new().with("question", format!("round {round}"))).await
                });
                seen.push(inner.await.unwrap().unwrap().get_str("answer").unwrap().to_string());
                tokio::task::yield_now().await;
            }
            (i, seen)
        })));
    }
    let mut leaks = 0;
    for h in handles {
        let (i, seen) = h.await.unwrap();
        leaks += seen.iter().filter(|s| **s != format!("lm-{i}")).count();
    }
    assert_eq!(leaks, 0, "a task saw another task's LM");
    // Outside every context nothing is configured.
    assert!(settings::current().lm().is_none() || !settings::current().lm().unwrap().model().starts_with("lm-"));
}
