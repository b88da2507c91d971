//! Per-call framework overhead of `Predict` over an in-process LM that answers instantly,
//! measured the same way as the reference's `../shared/bench/py_overhead.py` so the two can be
//! run side by side:
//!
//!     cargo run --release --example bench_overhead -- 20000
//!     refdspy/bin/python ../shared/bench/py_overhead.py 2000
//!
//! Both print `predict: N calls/s (X us/call)` and `chain_of_thought: N calls/s (X us/call)`; as
//! in the reference's loop, each call's input is built inside the timed loop. Those two rows
//! call the dynamic `Module::forward` with an `Example`, as Python does; the `typed` rows make
//! the same calls through the `TypedModule` trait (`Predict::<BasicQA>::new().call(BasicQAInput {..})`,
//! typed input in, the parsed `BasicQAOutput` out), in the same table format. Below each line,
//! the median and fastest round of 1,000 calls.

use std::sync::Arc;
use std::time::Instant;

use dspy::{ChainOfThought, ChatAdapter, DummyLM, Example, Field, FieldType, Module, Predict, TypedModule, Signature};
use serde_json::json;

/// The run-time signature the dynamic rows use (as the reference builds it).
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

// The same signature, typed, for the `typed` rows (the prompt is byte for byte the same).
/// Answer questions with short factoid answers.
#[derive(Signature)]
#[allow(dead_code)] // the struct is the declaration; the programs use the generated types
struct BasicQA {
    #[input]
    question: String,
    #[output(desc = "often between 1 and 5 words")]
    answer: String,
}

const ROUND: usize = 1_000;

/// An instant DummyLM with `n + 10` copies of `answer`, and the ChatAdapter.
fn instant_lm(n: usize, answer: serde_json::Value) -> (Arc<DummyLM>, Arc<ChatAdapter>) {
    (Arc::new(DummyLM::new(vec![answer; n + 10]).without_history()), Arc::new(ChatAdapter::new()))
}

/// Times `n` runs of `call(i)` (which builds input `i` and calls the program once), after the
/// caller's warm-up call.
async fn bench(label: &str, n: usize, call: impl AsyncFn(usize)) {
    // Also timed in rounds of 1,000 calls: on a shared VM the host's load changes within a run,
    // and the median and fastest round show what the code costs apart from that.
    let mut rounds = Vec::with_capacity(n / ROUND + 1);
    let start = Instant::now();
    let mut round = start;
    for i in 0..n {
        call(i).await;
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

/// Times a dynamic program: `forward(&Example)`, the input built in the loop.
async fn bench_dynamic(label: &str, n: usize, program: &impl Module) {
    program.forward(&Example::new().with("question", "warm up?")).await.expect("warm-up call");
    bench(label, n, async |i| {
        let input = Example::new().with("question", format!("Who wrote Hamlet? ({i})"));
        let out = program.forward(&input).await.expect("a prediction");
        std::hint::black_box(out);
    })
    .await;
}

/// Times a typed program: `TypedModule::call(BasicQAInput)`, the input built in the loop.
async fn bench_typed<P: TypedModule<Input = BasicQAInput>>(label: &str, n: usize, program: &P) {
    program.call(BasicQAInput { question: "warm up?".into() }).await.expect("warm-up call");
    bench(label, n, async |i| {
        let out = program.call(BasicQAInput { question: format!("Who wrote Hamlet? ({i})") }).await.expect("a prediction");
        std::hint::black_box(out);
    })
    .await;
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let answer = json!({"answer": "Shakespeare"});
    let reasoned = json!({"reasoning": "It is a famous play.", "answer": "Shakespeare"});
    rt.block_on(async {
        let (lm, adapter) = instant_lm(n, answer.clone());
        bench_dynamic("predict", n, &Predict::from_signature(basic_qa()).with_lm(lm).with_adapter(adapter)).await;

        let (lm, adapter) = instant_lm(n, answer);
        bench_typed("predict (typed)", n, &Predict::<BasicQA>::new().with_lm(lm).with_adapter(adapter)).await;

        let (lm, adapter) = instant_lm(n, reasoned.clone());
        let mut cot = ChainOfThought::from_signature(basic_qa()).with_lm(lm);
        cot.predict = cot.predict.with_adapter(adapter);
        bench_dynamic("chain_of_thought", n, &cot).await;

        let (lm, adapter) = instant_lm(n, reasoned);
        let mut cot = ChainOfThought::<BasicQA>::new().with_lm(lm);
        cot.predict = cot.predict.with_adapter(adapter);
        bench_typed("chain_of_thought (typed)", n, &cot).await;
    });
}
