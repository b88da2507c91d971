//! BootstrapFinetune against an in-test HTTP server that emulates the OpenAI files,
//! fine-tuning jobs and chat completions endpoints; the local-command finetuner with a tiny
//! shell script; and BetterTogether's strategy parsing and step sequence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dspy_core::{DummyLM, Example, Module, Predict, Prediction, Predictor};
use dspy_optimizers::better_together::{BetterTogetherError, Step, Strategy};
use dspy_optimizers::{
    BetterTogether, BootstrapFewShot, BootstrapFinetune, FinetuneError, LabeledFewShot, LocalCommand, OpenAIFinetuner, Optimizer,
};
use serde_json::{Value, json};
use dspy_sim::{AnswerMatch, SimLm, TwoStep, dataset};

const KEY: &str = "sk-test-SECRET-4242";
const FT_MODEL: &str = "ft:gpt-4o-mini:acme::t1";

/// What the fake OpenAI server saw, and how it answers.
#[derive(Default)]
struct Server {
    /// (content-type, authorization, raw body) of each upload.
    uploads: Vec<(String, String, Vec<u8>)>,
    /// Bodies of the job creations.
    jobs: Vec<Value>,
    /// Status polls so far.
    polls: usize,
    /// The final status of jobs: `succeeded`, `failed`...
    final_status: String,
    /// Answer uploads with 401 and the key echoed back.
    reject_key: bool,
    /// Question → answer, for the chat endpoint (the "fine-tuned" model knows them).
    answers: HashMap<String, String>,
    /// Models the chat endpoint was asked for.
    chat_models: Vec<String>,
}

type Shared = Arc<Mutex<Server>>;

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

async fn upload(State(s): State<Shared>, h: HeaderMap, body: Bytes) -> Response {
    let mut s = s.lock().unwrap();
    s.uploads.push((header(&h, "content-type"), header(&h, "authorization"), body.to_vec()));
    if s.reject_key {
        let msg = format!("Incorrect API key provided: {}.", header(&h, "authorization").trim_start_matches("Bearer "));
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"message": msg}}))).into_response();
    }
    axum::Json(json!({"id": "file-abc", "object": "file", "purpose": "fine-tune"})).into_response()
}

async fn create_job(State(s): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    s.lock().unwrap().jobs.push(body);
    axum::Json(json!({"id": "ftjob-1", "status": "validating_files", "fine_tuned_model": null})).into_response()
}

async fn poll_job(State(s): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let mut s = s.lock().unwrap();
    s.polls += 1;
    let status = if s.polls < 3 { "running".to_string() } else { s.final_status.clone() };
    let mut job = json!({"id": id, "status": status, "fine_tuned_model": null});
    if status == "succeeded" {
        job["fine_tuned_model"] = json!(FT_MODEL);
    }
    if status == "failed" {
        job["error"] = json!({"code": "invalid_training_file", "message": "Training file has 1 invalid line"});
    }
    axum::Json(job).into_response()
}

async fn chat(State(s): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    let mut s = s.lock().unwrap();
    s.chat_models.push(body["model"].as_str().unwrap_or_default().to_string());
    let last = body["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or_default().to_string();
    let question = last.split("[[ ## question ## ]]\n").nth(1).and_then(|r| r.split("\n\n").next()).unwrap_or_default();
    let answer = s.answers.get(question).cloned().unwrap_or_else(|| "unknown".into());
    axum::Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]")}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
    .into_response()
}

/// Starts the fake server on 127.0.0.1; returns its `/v1` base and state.
async fn serve(final_status: &str) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Server { final_status: final_status.into(), ..Server::default() }));
    let app = Router::new()
        .route("/v1/files", post(upload))
        .route("/v1/fine_tuning/jobs", post(create_job))
        .route("/v1/fine_tuning/jobs/{id}", get(poll_job))
        .route("/v1/chat/completions", post(chat))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), state)
}

/// The parts of a multipart body: (headers, content).
fn multipart(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type.split("boundary=").nth(1).expect("a boundary");
    let delim = format!("--{boundary}");
    let text = body.to_vec();
    let mut parts = Vec::new();
    let mut rest: &[u8] = &text;
    while let Some(start) = find(rest, delim.as_bytes()) {
        rest = &rest[start + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let rest2 = rest.strip_prefix(b"\r\n").unwrap();
        let head_end = find(rest2, b"\r\n\r\n").unwrap();
        let headers = String::from_utf8(rest2[..head_end].to_vec()).unwrap();
        let content_start = head_end + 4;
        let next = find(&rest2[content_start..], format!("\r\n{delim}").as_bytes()).unwrap();
        parts.push((headers, rest2[content_start..content_start + next].to_vec()));
        rest = &rest2[content_start + next + 2..];
    }
    parts
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn qa(q: &str, a: &str) -> Example {
    Example::new().with("question", q).with("answer", a).with_inputs(["question"])
}

fn exact(ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>) -> bool {
    ex.get("answer") == p.get("answer")
}

/// What DSPy 3.4.1 writes for this call (`ChatAdapter().format_finetune_data(Signature("question
/// -> answer"), [], {"question": "What is 2+2?"}, {"answer": "4"})` through `orjson.dumps`).
const DSPY_RECORD: &str = r#"{"messages":[{"role":"system","content":"Your input fields are:\n1. `question` (str):\nYour output fields are:\n1. `answer` (str):\nAll interactions will be structured in the following way, with the appropriate values filled in.\n\n[[ ## question ## ]]\n{question}\n\n[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]\nIn adhering to this structure, your objective is: \n        Given the fields `question`, produce the fields `answer`."},{"role":"user","content":"[[ ## question ## ]]\nWhat is 2+2?\n\nRespond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."},{"role":"assistant","content":"[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]\n"}]}"#;

fn openai(base: &str) -> OpenAIFinetuner {
    OpenAIFinetuner::new().api_base(base).api_key(KEY).poll_interval(Duration::from_millis(5)).max_wait(Duration::from_secs(20)).lm_options(|b| b.cache(false))
}

#[tokio::test]
async fn openai_finetune_uploads_dspy_jsonl_polls_and_binds_the_model() {
    let (base, server) = serve("succeeded").await;
    server.lock().unwrap().answers.insert("What is 5+5?".into(), "10".into());
    let dir = tempfile::tempdir().unwrap();
    // The teacher is right on 2+2 and wrong on 3+3: only the first run becomes a record.
    let lm = Arc::new(DummyLM::by_substring(vec![
        ("What is 2+2?".into(), json!({"answer": "4"})),
        ("What is 3+3?".into(), json!({"answer": "7"})),
    ]));
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
    let trainset = vec![qa("What is 2+2?", "4"), qa("What is 3+3?", "6")];
    let optimizer = BootstrapFinetune::new()
        .finetuner(openai(&base))
        .data_dir(dir.path())
        .train_kwargs(json!({"n_epochs": 2}).as_object().unwrap().clone())
        .progress(false);

    let compiled = optimizer.compile(&student, &trainset, exact).await.unwrap();

    {
        let s = server.lock().unwrap();
        assert_eq!(s.uploads.len(), 1);
        let (content_type, auth, body) = &s.uploads[0];
        assert_eq!(auth, &format!("Bearer {KEY}"));
        let parts = multipart(content_type, body);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].0.contains("name=\"purpose\""));
        assert_eq!(parts[0].1, b"fine-tune");
        assert!(parts[1].0.contains("name=\"file\"") && parts[1].0.contains(".jsonl\""), "{}", parts[1].0);
        // Byte for byte what DSPy writes: one record, the passing run only.
        let uploaded = String::from_utf8(parts[1].1.clone()).unwrap();
        assert_eq!(uploaded, format!("{DSPY_RECORD}\n"));
        assert!(!uploaded.contains(KEY));
        // The file on disk is the one uploaded.
        let data_path = compiled.report.extra["jobs"][0]["data"].as_str().unwrap().to_string();
        assert!(data_path.starts_with(dir.path().to_str().unwrap()));
        assert_eq!(std::fs::read_to_string(&data_path).unwrap(), uploaded);

        assert_eq!(s.jobs, vec![json!({"training_file": "file-abc", "model": "dummy", "hyperparameters": {"n_epochs": 2}})]);
        // Running, running, succeeded.
        assert_eq!(s.polls, 3);
    }

    let report = &compiled.report;
    assert_eq!(report.extra["jobs"][0]["job_id"], "ftjob-1");
    assert_eq!(report.extra["jobs"][0]["model"], FT_MODEL);
    assert_eq!(report.extra["jobs"][0]["records"], 1);
    assert_eq!(report.extra["passed"], 1);
    assert_eq!(report.predictors[0].model.as_deref(), Some("openai/ft:gpt-4o-mini:acme::t1"));
    let lm = compiled.program.lm().unwrap();
    assert_eq!(lm.model(), format!("openai/{FT_MODEL}"));

    // The returned program calls the fine-tuned model at the same server.
    let out = compiled.program.forward(&qa("What is 5+5?", "10").inputs()).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("10"));
    assert_eq!(server.lock().unwrap().chat_models, vec![FT_MODEL.to_string()]);

    // The key shows nowhere.
    for shown in [format!("{optimizer:?}"), format!("{:?}", openai(&base)), format!("{lm:?}"), format!("{report:?}"), report.to_string()] {
        assert!(!shown.contains(KEY), "key leaked in {shown}");
    }
}

#[tokio::test]
async fn a_failed_job_is_a_typed_error() {
    let (base, server) = serve("failed").await;
    let dir = tempfile::tempdir().unwrap();
    let lm = Arc::new(DummyLM::by_substring(vec![("2+2".into(), json!({"answer": "4"}))]));
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
    let trainset = vec![qa("What is 2+2?", "4")];
    let optimizer = BootstrapFinetune::new().finetuner(openai(&base)).data_dir(dir.path()).progress(false);

    let err = optimizer.finetune(&student, None, &trainset, &exact).await.unwrap_err();
    match &err {
        FinetuneError::JobFailed { job_id, status, message } => {
            assert_eq!(job_id, "ftjob-1");
            assert_eq!(status, "failed");
            assert_eq!(message.as_deref(), Some("Training file has 1 invalid line"));
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    assert_eq!(server.lock().unwrap().polls, 3);
    // Through the Optimizer trait: the same message.
    let err = optimizer.compile(&student, &trainset, exact).await.unwrap_err();
    assert!(err.to_string().contains("ended as failed"), "{err}");
}

#[tokio::test]
async fn a_rejected_key_is_a_typed_error_without_the_key() {
    let (base, server) = serve("succeeded").await;
    server.lock().unwrap().reject_key = true;
    let dir = tempfile::tempdir().unwrap();
    let lm = Arc::new(DummyLM::by_substring(vec![("2+2".into(), json!({"answer": "4"}))]));
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
    let optimizer = BootstrapFinetune::new().finetuner(openai(&base)).data_dir(dir.path()).progress(false);

    let err = optimizer.finetune(&student, None, &[qa("What is 2+2?", "4")], &exact).await.unwrap_err();
    assert!(matches!(&err, FinetuneError::Http { status: 401, endpoint, .. } if endpoint == "POST /files"), "{err:?}");
    assert!(err.to_string().contains("Incorrect API key provided: [REDACTED]"), "{err}");
    assert!(!err.to_string().contains(KEY) && !format!("{err:?}").contains(KEY));
    assert!(server.lock().unwrap().jobs.is_empty());
}

#[tokio::test]
async fn no_passing_run_and_a_missing_lm_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lm = Arc::new(DummyLM::by_substring(vec![("2+2".into(), json!({"answer": "5"}))]));
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
    let optimizer = BootstrapFinetune::new().finetuner(LocalCommand::new("true", Vec::<String>::new())).data_dir(dir.path()).progress(false);
    let err = optimizer.finetune(&student, None, &[qa("What is 2+2?", "4")], &exact).await.unwrap_err();
    assert!(matches!(&err, FinetuneError::NoTrainingData { model } if model == "dummy"), "{err:?}");

    let bare = Predict::parse("question -> answer").unwrap();
    let err = optimizer.finetune(&bare, None, &[qa("What is 2+2?", "4")], &exact).await.unwrap_err();
    assert!(matches!(&err, FinetuneError::MissingLm { .. }), "{err:?}");
}

/// Two predictors sharing one LM: per-predictor jobs (multitask off) through a shell trainer
/// that prints the record count and the base model, then the new model's name.
#[tokio::test]
async fn local_command_trains_one_job_per_predictor_and_excludes_demos() {
    let dir = tempfile::tempdir().unwrap();
    let lm = Arc::new(DummyLM::by_substring(vec![
        ("## ]]\nmath".into(), json!({"answer": "4"})),
        ("What is".into(), json!({"category": "math"})),
    ]));
    let mut program = TwoStep {
        classify: Predict::parse("question -> category").unwrap().with_lm(lm.clone()),
        answer: Predict::parse("question, category -> answer").unwrap().with_lm(lm),
    };
    program.answer.set_demos(vec![qa("What is 1+1?", "2").with("category", "math")]);
    let script = r#"n=$(wc -l < "$0" | tr -d ' '); echo "training $1 on $n records"; echo "kwargs $2"; echo "tuned-$(basename "$0" .jsonl)""#;
    let trainer = LocalCommand::new("sh", ["-c", script, "{data}", "{model}", "{train_kwargs}"]).api_base("http://127.0.0.1:9/v1");
    let optimizer = BootstrapFinetune::new()
        .finetuner(trainer)
        .multitask(false)
        .exclude_demos(true)
        .data_dir(dir.path())
        .train_kwargs_for("dummy", json!({"lr": 0.1}).as_object().unwrap().clone())
        .progress(false);
    let trainset = vec![qa("What is 2+2?", "4"), qa("What is 2+2 again?", "4")];

    let compiled = optimizer.compile(&program, &trainset, exact).await.unwrap();

    let jobs = compiled.report.extra["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    for (job, predictor) in jobs.iter().zip(["classify", "answer"]) {
        assert_eq!(job["predictors"], json!([predictor]));
        assert_eq!(job["records"], 2);
        let data = std::fs::read_to_string(job["data"].as_str().unwrap()).unwrap();
        let stem = std::path::Path::new(job["data"].as_str().unwrap()).file_stem().unwrap().to_str().unwrap().to_string();
        assert_eq!(job["model"], format!("tuned-{stem}"));
        for line in data.lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            let messages = record["messages"].as_array().unwrap();
            // exclude_demos: system, user, assistant only (no demo pair).
            assert_eq!(messages.len(), 3, "{line}");
            let system = messages[0]["content"].as_str().unwrap();
            assert!(system.contains(&format!("`{}`", if predictor == "classify" { "category" } else { "answer" })));
        }
    }
    let models: Vec<String> = compiled.program.named_predictors().iter().map(|(_, p)| p.lm().unwrap().model().to_string()).collect();
    assert_eq!(models[0], format!("openai/{}", jobs[0]["model"].as_str().unwrap()));
    assert_eq!(models[1], format!("openai/{}", jobs[1]["model"].as_str().unwrap()));
    assert_ne!(models[0], models[1]);
    // exclude_demos clears the returned predictors' demos (the student keeps its own).
    assert!(compiled.program.answer.demos().is_empty());
    assert_eq!(program.answer.demos().len(), 1);
}

#[tokio::test]
async fn local_command_failure_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let lm = Arc::new(DummyLM::by_substring(vec![("2+2".into(), json!({"answer": "4"}))]));
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
    let failing = BootstrapFinetune::new()
        .finetuner(LocalCommand::new("sh", ["-c", "echo 'out of memory' >&2; exit 3"]))
        .data_dir(dir.path())
        .progress(false);
    let err = failing.finetune(&student, None, &[qa("What is 2+2?", "4")], &exact).await.unwrap_err();
    assert!(matches!(&err, FinetuneError::Command { code: Some(3), stderr, .. } if stderr.contains("out of memory")), "{err:?}");

    let silent = BootstrapFinetune::new().finetuner(LocalCommand::new("sh", ["-c", "true"])).data_dir(dir.path()).progress(false);
    let err = silent.finetune(&student, None, &[qa("What is 2+2?", "4")], &exact).await.unwrap_err();
    assert!(matches!(err, FinetuneError::NoModelName { .. }), "{err:?}");
}

#[test]
fn strategies_parse_or_fail_with_typed_errors() {
    let s = Strategy::parse("p -> w -> p", "p", "w").unwrap();
    assert_eq!(s.steps(), [Step::Prompt, Step::Weight, Step::Prompt]);
    assert_eq!(s.prefix(2), "p -> w");
    assert_eq!(s.to_string(), "p -> w -> p");
    assert_eq!(Strategy::parse("w", "p", "w").unwrap().steps(), [Step::Weight]);
    assert_eq!(Strategy::parse("mipro->ft", "mipro", "ft").unwrap().steps(), [Step::Prompt, Step::Weight]);

    assert_eq!(Strategy::parse("  ", "p", "w"), Err(BetterTogetherError::EmptyStrategy));
    assert!(matches!(Strategy::parse("p -> x", "p", "w"), Err(BetterTogetherError::InvalidStep { step, .. }) if step == "x"));
    assert!(matches!(Strategy::parse("p -> -> w", "p", "w"), Err(BetterTogetherError::InvalidStep { step, .. }) if step.is_empty()));
    assert!(matches!(Strategy::parse("p w", "p", "w"), Err(BetterTogetherError::InvalidStep { .. })));
    assert_eq!(Strategy::parse("p", "p", "p"), Err(BetterTogetherError::DuplicateKey("p".into())));
}

#[tokio::test]
async fn a_bad_strategy_or_ratio_fails_before_any_lm_call() {
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let trainset = dataset(8, 0);
    let optimizer = BetterTogether::with_optimizers(LabeledFewShot::new(2), BootstrapFinetune::new()).strategy("p -> q");
    let err = optimizer.compile(&student, &trainset, &AnswerMatch).await.unwrap_err();
    assert!(err.to_string().contains("invalid optimizer key \"q\""), "{err}");
    let err = optimizer.clone().strategy("p").valset_ratio(1.0).compile(&student, &trainset, &AnswerMatch).await.unwrap_err();
    assert!(err.to_string().contains("valset_ratio"), "{err}");
    assert_eq!(lm.calls(), 0);
}

/// `"p -> w"`: the prompt step sets demos, the weight step then fine-tunes on traces of that
/// program (its records carry the demos) and binds the fine-tuned model; the fine-tuned
/// program scores best on the valset and is returned.
#[tokio::test]
async fn better_together_runs_prompt_then_weight_optimization() {
    let (base, server) = serve("succeeded").await;
    let trainset = dataset(12, 0);
    let valset = dataset(8, 400);
    {
        let mut s = server.lock().unwrap();
        for ex in trainset.iter().chain(&valset) {
            s.answers.insert(ex.get_str("question").unwrap().to_string(), ex.get_str("answer").unwrap().to_string());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let optimizer = BetterTogether::with_optimizers(
        BootstrapFewShot::new().max_bootstrapped_demos(4).max_labeled_demos(4).progress(false),
        BootstrapFinetune::new().finetuner(openai(&base)).data_dir(dir.path()).progress(false),
    )
    .strategy("p -> w")
    .progress(false);

    let compiled = optimizer.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();

    let report = &compiled.report;
    let names: Vec<&str> = report.trials.iter().map(|t| t.description.as_str()).collect();
    assert_eq!(names, ["original (no optimization)", "p", "p -> w"]);
    assert_eq!(report.extra["flag_compilation_error_occurred"], false);
    assert_eq!(report.extra["steps"][0]["optimizer"], "BootstrapFewShot");
    assert_eq!(report.extra["steps"][1]["optimizer"], "BootstrapFinetune");
    // The fine-tuned model (the server knows every answer) is perfect, and chosen.
    assert_eq!(report.trials[2].score, 100.0);
    assert!(report.trials[0].score < 100.0);
    assert_eq!(report.best_trial, Some(2));
    assert_eq!(report.best_score, Some(100.0));
    // Demos from the prompt step, model from the weight step.
    assert!(!compiled.program.demos().is_empty());
    assert_eq!(compiled.program.lm().unwrap().model(), format!("openai/{FT_MODEL}"));
    // The weight step started from the prompt step's program: its records hold the demos.
    let s = server.lock().unwrap();
    assert_eq!(s.jobs[0]["model"], "sim/prompt-sensitive");
    let (ct, _, body) = &s.uploads[0];
    let file = &multipart(ct, body)[1].1;
    let first: Value = serde_json::from_slice(file.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert!(first["messages"].as_array().unwrap().len() > 3, "records should include the demos: {first}");
    assert_eq!(s.chat_models.len(), valset.len());
}

/// A failing weight step stops the sequence; the best program so far comes back, flagged.
#[tokio::test]
async fn better_together_returns_the_best_so_far_when_a_step_fails() {
    let (base, _server) = serve("cancelled").await;
    let dir = tempfile::tempdir().unwrap();
    let lm = SimLm::new();
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let optimizer = BetterTogether::with_optimizers(
        LabeledFewShot::new(8),
        BootstrapFinetune::new().finetuner(openai(&base)).data_dir(dir.path()).progress(false),
    )
    .strategy("p -> w -> p")
    .valset_ratio(0.25)
    .progress(false);

    let compiled = optimizer.compile(&student, &dataset(16, 0), &AnswerMatch).await.unwrap();

    let report = &compiled.report;
    assert_eq!(report.trials.len(), 2, "original and p only");
    assert_eq!(report.extra["flag_compilation_error_occurred"], true);
    assert!(report.extra["error"].as_str().unwrap().contains("ended as cancelled"), "{}", report.extra["error"]);
    assert!(report.trials.iter().all(|t| t.num_examples == 4));
    assert_eq!(compiled.program.lm().unwrap().model(), "sim/prompt-sensitive");
    let best = report.best_trial.unwrap();
    assert!(report.trials.iter().all(|t| t.score <= report.trials[best].score));
}
