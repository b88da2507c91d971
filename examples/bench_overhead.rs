//! Per-call framework overhead of `Predict` over an in-process LM that answers instantly,
//! measured the same way as the reference's `../shared/bench/py_overhead.py` so the two can be
//! run side by side:
//!
//!     cargo run --release --example bench_overhead -- 20000
//!     refdspy/bin/python ../shared/bench/py_overhead.py 2000
//!
//! Both print `predict: N calls/s (X us/call)` and `chain_of_thought: N calls/s (X us/call)`; as
//! in the reference's loop, each call's input is built inside the timed loop. Below each line,
//! the median and fastest round of 1,000 calls.

use std::sync::Arc;
use std::time::Instant;

use dspy::{ChainOfThought, ChatAdapter, DummyLM, Example, Field, FieldType, Module, Predict, Signature};
use serde_json::json;

fn basic_qa() -> Signature {
    Signature::from_fields(
        "BasicQA",
        Some("Answer questions with short factoid answers.".into()),
        [
            Field::input("question", FieldType::Str),
            Field::output("answer", FieldType::Str).desc("often between 1 and 5 words"),
        ],
    )
    .expect("a valid signature")
}

const ROUND: usize = 1_000;

/// Times `n` calls of the program `build` makes around an instant DummyLM and a ChatAdapter.
async fn bench<M: Module>(label: &str, n: usize, answer: serde_json::Value, build: impl FnOnce(Arc<DummyLM>, Arc<ChatAdapter>) -> M) {
    let lm = Arc::new(DummyLM::new(vec![answer; n + 10]).without_history());
    let program = build(lm, Arc::new(ChatAdapter::new()));
    program.forward(&Example::new().with("question", "warm up?")).await.expect("warm-up call");
    // Also timed in rounds of 1,000 calls: on a shared VM the host's load changes within a run,
    // and the median and fastest round show what the code costs apart from that.
    let mut rounds = Vec::with_capacity(n / ROUND + 1);
    let start = Instant::now();
    let mut round = start;
    for i in 0..n {
        let input = Example::new().with("question", format!("Who wrote Hamlet? ({i})"));
        let out = program.forward(&input).await.expect("a prediction");
        std::hint::black_box(out);
        if (i + 1) % ROUND == 0 {
            rounds.push(round.elapsed().as_secs_f64() / ROUND as f64 * 1e6);
            round = Instant::now();
        }
    }
    let dt = start.elapsed().as_secs_f64();
    println!("{label}: {:.0} calls/s ({:.2} us/call)", n as f64 / dt, dt / n as f64 * 1e6);
    rounds.sort_by(f64::total_cmp);
    if let (Some(fastest), Some(median)) = (rounds.first(), rounds.get(rounds.len() / 2)) {
        println!("  rounds of {ROUND} calls: median {median:.2} us/call, fastest {fastest:.2} us/call");
    }
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        bench("predict", n, json!({"answer": "Shakespeare"}), |lm, adapter| {
            Predict::from_signature(basic_qa()).with_lm(lm).with_adapter(adapter)
        })
        .await;
        bench("chain_of_thought", n, json!({"reasoning": "It is a famous play.", "answer": "Shakespeare"}), |lm, adapter| {
            let mut cot = ChainOfThought::from_signature(basic_qa()).with_lm(lm);
            cot.predict = cot.predict.with_adapter(adapter);
            cot
        })
        .await;
    });
}
