//! Resumable compilations: a MIPROv2, GEPA or SIMBA compile process killed midway, started
//! again with the same `checkpoint_dir`, finishes with the result of an uninterrupted run and
//! without re-spending the LM calls made before its last checkpoint.
//!
//! The killed and resumed runs are real processes: this test binary re-runs itself as a child
//! (the ignored test `child`, configured through environment variables) whose LM is slowed a
//! little and appends one line per call to a file, and the parent kills it with
//! `Child::kill` once its checkpoint shows a few steps.


use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dspy_core::module::ModuleExt;
use dspy_core::{Error, Example, LanguageModel, LmError, LmRequest, LmResponse, Module, Predict, Predictor, StateError};
use dspy_optimizers::checkpoint::{self, CheckpointSummary};
use dspy_optimizers::{Compiled, Gepa, MiproV2, Optimizer, Simba};
use serde_json::{Value, json};
use dspy_sim::{AnswerMatch, SimLm, dataset};

/// The simulated LM, optionally slowed, counting its calls (and logging each to a file).
#[derive(Debug)]
struct CountingLm {
    inner: Arc<SimLm>,
    delay: Duration,
    calls: AtomicU64,
    log: Option<Mutex<std::fs::File>>,
}

impl CountingLm {
    fn new(delay: Duration, log: Option<&Path>) -> Arc<Self> {
        let log = log.map(|p| Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap()));
        Arc::new(CountingLm { inner: SimLm::new(), delay, calls: AtomicU64::new(0), log })
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl LanguageModel for CountingLm {
    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let response = self.inner.complete(request).await;
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(log) = &self.log {
            let mut f = log.lock().unwrap();
            f.write_all(b"call\n").unwrap();
            f.flush().unwrap();
        }
        response
    }
}

/// The compilation of `which` (`mipro`, `gepa`, `simba`): small settings, several steps each.
async fn compile(which: &str, lm: Arc<CountingLm>, dir: Option<&Path>) -> dspy_core::Result<Compiled<Predict>> {
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    match which {
        "mipro" => {
            let (trainset, valset) = (dataset(20, 0), dataset(20, 300));
            let mut mipro = MiproV2::new()
                .manual()
                .num_candidates(4)
                .num_trials(12)
                .minibatch_size(10)
                .minibatch_full_eval_steps(3)
                .max_bootstrapped_demos(2)
                .max_labeled_demos(2)
                .prompt_model(lm.clone())
                .num_threads(4)
                .progress(false);
            if let Some(dir) = dir {
                mipro = mipro.checkpoint_dir(dir);
            }
            mipro.compile(&student, &trainset, &AnswerMatch).valset(&valset).await
        }
        "gepa" => {
            let (trainset, valset) = (dataset(20, 0), dataset(10, 300));
            // `max_metric_calls` is GEPA's budget and a hard cap: the resumed run must count the
            // metric calls of the killed one to stop where the uninterrupted run stops.
            let mut gepa = Gepa::new().max_metric_calls(160).reflection_lm(lm.clone()).num_threads(4).progress(false);
            if let Some(dir) = dir {
                gepa = gepa.log_dir(dir);
            }
            gepa.compile(&student, &trainset, &AnswerMatch).valset(&valset).await
        }
        "simba" => {
            let trainset = dataset(24, 0);
            let mut simba = Simba::new().bsize(8).num_candidates(3).max_steps(6).prompt_model(lm.clone()).num_threads(4).progress(false);
            if let Some(dir) = dir {
                simba = simba.checkpoint_dir(dir);
            }
            simba.compile(&student, &trainset, &AnswerMatch).await
        }
        other => panic!("unknown optimizer {other}"),
    }
}

fn outcome(c: &Compiled<Predict>) -> Value {
    json!({"program": Value::Object(c.program.to_state()), "best_score": c.report.best_score, "lm_calls": c.report.lm_calls, "metric_calls": c.report.metric_calls})
}

/// The child process: runs one compilation as the environment says, writes its outcome.
#[test]
#[ignore = "run by the resume tests as a child process"]
fn child() {
    let Ok(which) = std::env::var("DSPY_RESUME_CHILD") else { return };
    let dir = PathBuf::from(std::env::var("DSPY_RESUME_DIR").unwrap());
    let log = PathBuf::from(std::env::var("DSPY_RESUME_CALLS").unwrap());
    let out = PathBuf::from(std::env::var("DSPY_RESUME_OUT").unwrap());
    let delay = Duration::from_millis(std::env::var("DSPY_RESUME_DELAY_MS").unwrap().parse().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let compiled = rt.block_on(compile(&which, CountingLm::new(delay, Some(&log)), Some(&dir))).unwrap();
    std::fs::write(out, outcome(&compiled).to_string()).unwrap();
}

fn spawn_child(which: &str, dir: &Path, log: &Path, out: &Path, delay_ms: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--ignored", "--nocapture", "--test-threads", "1"])
        .env("DSPY_RESUME_CHILD", which)
        .env("DSPY_RESUME_DIR", dir)
        .env("DSPY_RESUME_CALLS", log)
        .env("DSPY_RESUME_OUT", out)
        .env("DSPY_RESUME_DELAY_MS", delay_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn lines(path: &Path) -> u64 {
    std::fs::read_to_string(path).map(|s| s.lines().count() as u64).unwrap_or(0)
}

/// Kills a compile of `which` once its checkpoint shows `kill_at` steps, resumes it, and
/// compares with an uninterrupted run.
async fn kill_and_resume(which: &str, kill_at: usize) {
    let tmp = tempfile::tempdir().unwrap();

    // The uninterrupted run (in this process; its checkpoint records the calls per step).
    let ref_dir = tmp.path().join("reference");
    let lm = CountingLm::new(Duration::ZERO, None);
    let full = compile(which, lm.clone(), Some(&ref_dir)).await.unwrap();
    let full_calls = lm.calls();
    let optimizer = full.report.optimizer.clone();
    let marks = checkpoint::read_summary(checkpoint::checkpoint_path(&ref_dir, &optimizer)).unwrap();
    assert!(marks.finished);
    let mut at = vec![0u64];
    at.extend(marks.steps.iter().map(|m| m.lm_calls));
    at.push(full_calls);
    let max_step_calls = at.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert_eq!(full.report.lm_calls, full_calls);
    // Checkpointing changes nothing: the same run without it.
    let plain_lm = CountingLm::new(Duration::ZERO, None);
    let plain = compile(which, plain_lm.clone(), None).await.unwrap();
    assert_eq!(outcome(&plain), outcome(&full));
    assert_eq!(plain_lm.calls(), full_calls);

    // A run killed after `kill_at` steps.
    let dir = tmp.path().join("run");
    let ckpt = checkpoint::checkpoint_path(&dir, &optimizer);
    let (log1, log2, out) = (tmp.path().join("calls-killed"), tmp.path().join("calls-resumed"), tmp.path().join("out.json"));
    let mut child = spawn_child(which, &dir, &log1, &out, 5);
    let started = Instant::now();
    // Once `kill_at` steps are saved, a few calls into the next step: killed mid-step.
    let mut saved_calls = None;
    loop {
        match saved_calls {
            None => {
                if let Ok(s) = checkpoint::read_summary(&ckpt)
                    && s.step >= kill_at
                {
                    saved_calls = Some(s.budget.lm_calls);
                }
            }
            Some(n) if lines(&log1) >= n + 5 => break,
            Some(_) => {}
        }
        assert!(child.try_wait().unwrap().is_none(), "the child ended before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(300), "the child made no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_calls = lines(&log1);
    let at_kill: CheckpointSummary = checkpoint::read_summary(&ckpt).unwrap();
    assert!(!at_kill.finished, "killed too late: the compilation had finished");
    assert!(!out.exists());

    // Started again with the same directory: it resumes.
    let status = spawn_child(which, &dir, &log2, &out, 0).wait().unwrap();
    assert!(status.success());
    let resumed_calls = lines(&log2);
    let resumed: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();

    println!(
        "{optimizer}: uninterrupted {full_calls} LM calls; killed at step {} after {killed_calls} calls ({} saved in the checkpoint), resumed with {resumed_calls} calls: {} in all ({} redone; the largest step makes {max_step_calls})",
        at_kill.step,
        at_kill.budget.lm_calls,
        killed_calls + resumed_calls,
        killed_calls + resumed_calls - full_calls,
    );
    // (a) The result of the uninterrupted run, and its report's totals.
    assert_eq!(resumed["program"], outcome(&full)["program"]);
    assert_eq!(resumed["best_score"], json!(full.report.best_score));
    assert_eq!(resumed["lm_calls"], json!(full_calls));
    assert_eq!(resumed["metric_calls"], json!(full.report.metric_calls));
    // (b) Only the step in flight at the kill is paid twice; what was saved is not redone.
    assert_eq!(resumed_calls, full_calls - at_kill.budget.lm_calls);
    assert!(killed_calls >= at_kill.budget.lm_calls);
    assert!(killed_calls + resumed_calls <= full_calls + max_step_calls, "{killed_calls} + {resumed_calls} > {full_calls} + {max_step_calls}");
    // (c) The resumed run is cheaper than a full one.
    assert!(resumed_calls < full_calls);

    // Started once more: the finished checkpoint's result, without an LM call.
    let status = spawn_child(which, &dir, &log2, &out, 0).wait().unwrap();
    assert!(status.success());
    assert_eq!(lines(&log2), resumed_calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mipro_killed_midway_resumes_from_its_checkpoint() {
    kill_and_resume("mipro", 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gepa_killed_midway_resumes_from_its_checkpoint() {
    kill_and_resume("gepa", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simba_killed_midway_resumes_from_its_checkpoint() {
    kill_and_resume("simba", 2).await;
}

/// Compiles `which` with a checkpoint in `dir`, returning the result and the LM calls made.
async fn run_in(which: &str, dir: &Path) -> (dspy_core::Result<Compiled<Predict>>, u64) {
    let lm = CountingLm::new(Duration::ZERO, None);
    let result = compile(which, lm.clone(), Some(dir)).await;
    (result, lm.calls())
}

#[tokio::test]
async fn a_corrupt_or_truncated_checkpoint_is_a_typed_error() {
    for which in ["mipro", "gepa", "simba"] {
        let tmp = tempfile::tempdir().unwrap();
        let (done, _) = run_in(which, tmp.path()).await;
        let path = checkpoint::checkpoint_path(tmp.path(), &done.unwrap().report.optimizer);
        let text = std::fs::read(&path).unwrap();
        // Truncated (as by a crash of a non-atomic writer), then garbage, then empty.
        for bad in [&text[..text.len() / 2], b"not json".as_slice(), b"".as_slice()] {
            std::fs::write(&path, bad).unwrap();
            let (result, calls) = run_in(which, tmp.path()).await;
            let err = result.unwrap_err();
            assert!(matches!(&err, Error::State(StateError::Unreadable { path: p, .. }) if *p == path), "{which}: {err}");
            assert!(err.to_string().contains("is not an optimizer checkpoint"), "{err}");
            assert_eq!(calls, 0, "{which}: no LM call before the checkpoint is read");
        }
        // Valid JSON of the wrong shape.
        std::fs::write(&path, r#"{"format": 1}"#).unwrap();
        assert!(matches!(run_in(which, tmp.path()).await.0.unwrap_err(), Error::State(StateError::Unreadable { .. })));
    }
}

#[tokio::test]
async fn a_checkpoint_of_another_compilation_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let lm = CountingLm::new(Duration::ZERO, None);
    let student = Predict::parse("question -> answer").unwrap().with_lm(lm.clone());
    let trainset = dataset(24, 0);
    let simba = Simba::new().bsize(8).num_candidates(3).max_steps(2).prompt_model(lm.clone()).progress(false).checkpoint_dir(tmp.path());
    let first = simba.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let calls = lm.calls();

    // The same compilation again: the saved result, without an LM call.
    let again = simba.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert_eq!(lm.calls(), calls);
    assert_eq!(again.program.to_state(), first.program.to_state());
    assert_eq!(again.report.lm_calls, first.report.lm_calls);

    let refused = |err: Error| match err {
        Error::State(StateError::CheckpointMismatch { differs, optimizer, .. }) => {
            assert_eq!(optimizer, "SIMBA");
            differs
        }
        other => panic!("expected a checkpoint mismatch, got {other}"),
    };
    let other_seed = simba.clone().seed(5).compile(&student, &trainset, &AnswerMatch).await.unwrap_err();
    assert!(other_seed.to_string().contains("(different seed); delete it or choose another checkpoint_dir"), "{other_seed}");
    assert_eq!(refused(other_seed), ["seed"]);
    let other_data: Vec<Example> = dataset(24, 1);
    assert_eq!(refused(simba.compile(&student, &other_data, &AnswerMatch).await.unwrap_err()), ["trainset"]);
    assert_eq!(refused(simba.clone().max_steps(3).compile(&student, &trainset, &AnswerMatch).await.unwrap_err()), ["settings.max_steps"]);
    let mut edited = student.clone();
    edited.set_signature(student.signature().clone().with_instructions("Answer tersely."));
    assert_eq!(refused(simba.compile(&edited, &trainset, &AnswerMatch).await.unwrap_err()), ["student"]);
    assert_eq!(lm.calls(), calls, "a refused checkpoint costs no LM call");
}
