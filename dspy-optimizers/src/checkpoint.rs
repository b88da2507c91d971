//! Resumable compilations: with a `checkpoint_dir` ([`RunConfig::checkpoint_dir`]), MIPROv2
//! (after its proposals and after each trial), GEPA (at each iteration, as DSPy's GEPA does
//! with `log_dir`) and SIMBA (after each step) write their whole state to
//! `<dir>/<optimizer>.checkpoint.json`, atomically. Started again with the same directory, a
//! compilation that was killed continues from its last checkpoint: the LM and metric calls it
//! already made are not made again, still count against `max_lm_calls` / `max_metric_calls`,
//! and appear in the report, and the result is the one the uninterrupted run gives (same seed,
//! same random draws, same candidates; for an LM that answers the same request the same way).
//! A finished checkpoint returns its result without any LM call.
//!
//! A checkpoint holds a fingerprint of the compilation: the optimizer, its settings, the seed
//! and budgets, the student's state, the trainset, the valset and the metric's name. A
//! checkpoint whose fingerprint differs is refused with [`StateError::CheckpointMismatch`],
//! and an unreadable one (truncated, edited) with [`StateError::Unreadable`]: a compilation
//! never silently starts afresh over another run's checkpoint. Delete the file to start over.
//!
//! The work of the step in flight when the process died is lost and redone: at most one
//! MIPROv2 trial (with its full evaluation), one GEPA iteration or one SIMBA step (or SIMBA's
//! final validation).
//!
//! ```
//! use std::sync::Arc;
//! use dspy_core::{DummyLM, Example, Module, Predict, Prediction};
//! use dspy_optimizers::{Optimizer, Simba, checkpoint};
//! let lm = Arc::new(DummyLM::by_substring(vec![("question".into(), serde_json::json!({"answer": "2"}))]));
//! let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
//! let trainset: Vec<Example> = (0..4).map(|i| Example::new().with("question", format!("{i}+1?")).with("answer", format!("{}", i + 1)).with_inputs(["question"])).collect();
//! let metric = |ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>| ex.get("answer") == p.get("answer");
//! let dir = tempfile::tempdir().unwrap();
//! let simba = Simba::new().bsize(2).num_candidates(2).max_steps(2).progress(false).checkpoint_dir(dir.path());
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let first = simba.compile(&student, &trainset, metric).await.unwrap();
//! let saved = checkpoint::read_summary(checkpoint::checkpoint_path(dir.path(), "SIMBA")).unwrap();
//! assert!(saved.finished);
//! // Started again: the finished result, without LM calls.
//! let again = simba.compile(&student, &trainset, metric).await.unwrap();
//! assert_eq!(again.report.best_score, first.report.best_score);
//! assert_eq!(again.report.lm_calls, first.report.lm_calls);
//! // Another seed is another compilation: refused, not mixed.
//! let err = simba.clone().seed(1).compile(&student, &trainset, metric).await.unwrap_err();
//! assert!(err.to_string().contains("different seed"), "{err}");
//! # });
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dspy_core::evaluate::Metric;
use dspy_core::module::{ModuleExt, write_atomic};
use dspy_core::usage::{self, UsageByModel};
use dspy_core::{Error, Example, Module, Result, StateError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::{BudgetReport, Engine, RunConfig, SeededRng};
use crate::{CompileReport, Compiled};

/// The version of the checkpoint format this crate writes and reads.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// The checkpoint file of `optimizer` (`MIPROv2`, `GEPA`, `SIMBA`) in `dir`:
/// `<dir>/<name, lowercase alphanumerics>.checkpoint.json`, so optimizers can share a directory.
///
/// ```
/// use std::path::Path;
/// let path = dspy_optimizers::checkpoint::checkpoint_path(Path::new("runs"), "MIPROv2");
/// assert_eq!(path, Path::new("runs/miprov2.checkpoint.json"));
/// ```
pub fn checkpoint_path(dir: &Path, optimizer: &str) -> PathBuf {
    let slug: String = optimizer.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    dir.join(format!("{slug}.checkpoint.json"))
}

/// The budget counts when one step's checkpoint was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMark {
    /// The step (MIPROv2: trials done, 0 after the proposals; GEPA: iterations started;
    /// SIMBA: steps done).
    pub step: usize,
    /// LM calls spent by then.
    pub lm_calls: u64,
    /// Metric calls spent by then.
    pub metric_calls: u64,
}

/// What a checkpoint says of its compilation's progress (without its state).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointSummary {
    /// The optimizer that wrote it.
    pub optimizer: String,
    /// The last step saved.
    pub step: usize,
    /// Whether the compilation finished (the file then holds its result).
    pub finished: bool,
    /// The budget spent by then.
    pub budget: BudgetReport,
    /// The counts at each step saved, in order.
    pub steps: Vec<StepMark>,
}

/// Reads the progress recorded in a checkpoint file (e.g. to watch a long compilation).
pub fn read_summary(path: impl AsRef<Path>) -> Result<CheckpointSummary> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| StateError::Unreadable { path: path.to_path_buf(), expected: "an optimizer checkpoint", source }.into())
}

/// The file's content.
#[derive(Serialize, Deserialize)]
struct Document {
    format: u32,
    optimizer: String,
    fingerprint: BTreeMap<String, Value>,
    step: usize,
    finished: bool,
    budget: BudgetReport,
    usage: UsageByModel,
    wall_time_secs: f64,
    steps: Vec<StepMark>,
    state: Value,
    result: Option<Finished>,
}

#[derive(Serialize, Deserialize)]
struct Finished {
    program: Value,
    report: CompileReport,
}

/// One compilation's checkpoint: loaded (and checked) when it starts, written after each step,
/// and written with the result when it ends. Without a `checkpoint_dir` every call is a no-op.
pub(crate) struct Checkpoint {
    path: Option<PathBuf>,
    optimizer: &'static str,
    fingerprint: BTreeMap<String, Value>,
    prior_usage: UsageByModel,
    prior_wall: Duration,
    steps: Vec<StepMark>,
    resumed: Option<Value>,
    finished: Option<Finished>,
    started: Instant,
}

impl Checkpoint {
    /// Opens `optimizer`'s checkpoint in `run.checkpoint_dir`, if any. An existing one must have
    /// this `fingerprint`; the budget it had spent is charged to `engine`'s budget.
    pub(crate) fn open(run: &RunConfig, optimizer: &'static str, fingerprint: BTreeMap<String, Value>, engine: &Engine) -> Result<Self> {
        let mut ckpt = Checkpoint {
            path: None,
            optimizer,
            fingerprint,
            prior_usage: UsageByModel::default(),
            prior_wall: Duration::ZERO,
            steps: Vec::new(),
            resumed: None,
            finished: None,
            started: Instant::now(),
        };
        let Some(dir) = &run.checkpoint_dir else { return Ok(ckpt) };
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
        let path = checkpoint_path(dir, optimizer);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let doc: Document = serde_json::from_slice(&bytes)
                    .map_err(|source| StateError::Unreadable { path: path.clone(), expected: "an optimizer checkpoint", source })?;
                if doc.format != CHECKPOINT_FORMAT {
                    return Err(StateError::Shape { what: "a checkpoint", expected: "of format 1 (written by this version of dspy-optimizers)" }.into());
                }
                let mut differs = Vec::new();
                if doc.optimizer != optimizer {
                    differs.push("optimizer".to_string());
                } else {
                    differs = diff(&doc.fingerprint, &ckpt.fingerprint);
                }
                if !differs.is_empty() {
                    return Err(StateError::CheckpointMismatch { path, optimizer: optimizer.to_string(), differs }.into());
                }
                if doc.finished {
                    let Some(result) = doc.result else {
                        return Err(StateError::Shape { what: "a finished checkpoint", expected: "one with its result" }.into());
                    };
                    ckpt.finished = Some(result);
                } else {
                    engine.budget_ref().restore(&doc.budget);
                    ckpt.prior_usage = doc.usage;
                    ckpt.prior_wall = Duration::try_from_secs_f64(doc.wall_time_secs).unwrap_or_default();
                    ckpt.steps = doc.steps;
                    ckpt.resumed = Some(doc.state);
                    tracing::info!(path = %path.display(), step = doc.step, lm_calls = doc.budget.lm_calls, "{optimizer}: resuming from a checkpoint");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path, source }),
        }
        ckpt.path = Some(path);
        Ok(ckpt)
    }

    /// The result of a finished checkpoint, applied to a copy of `student`.
    pub(crate) fn finished<P: Module + Clone>(&mut self, student: &P) -> Result<Option<Compiled<P>>> {
        let Some(done) = self.finished.take() else { return Ok(None) };
        let mut program = student.clone();
        program.apply_state(&done.program)?;
        Ok(Some(Compiled { program, report: done.report }))
    }

    /// The optimizer's state saved by the last [`Checkpoint::save`], when resuming.
    pub(crate) fn resume<S: DeserializeOwned>(&mut self) -> Result<Option<S>> {
        let Some(state) = self.resumed.take() else { return Ok(None) };
        let path = self.path.clone().unwrap_or_default();
        serde_json::from_value(state).map(Some).map_err(|source| StateError::Unreadable { path, expected: "an optimizer checkpoint", source }.into())
    }

    /// Saves the optimizer's `state` after `step`, with the budget and usage spent so far.
    pub(crate) fn save<S: Serialize>(&mut self, step: usize, state: &S, engine: &Engine) -> Result<()> {
        if self.path.is_none() {
            return Ok(());
        }
        let state = serde_json::to_value(state).map_err(|source| StateError::Serialize { what: "the optimizer's checkpoint", source })?;
        let budget = engine.budget_ref().report();
        let mark = StepMark { step, lm_calls: budget.lm_calls, metric_calls: budget.metric_calls };
        match self.steps.last_mut() {
            Some(last) if last.step == step => *last = mark,
            _ => self.steps.push(mark),
        }
        self.write(step, false, budget, usage::so_far(), state, None)
    }

    /// Ends the compilation: completes the report (counting what earlier runs of it spent),
    /// and saves the result so that starting again returns it at once.
    pub(crate) fn complete<P: Module>(&mut self, program: P, mut report: CompileReport, used: UsageByModel, engine: &Engine, started: Instant) -> Result<Compiled<P>> {
        let mut all = self.prior_usage.clone();
        all.merge(&used);
        report.finish(&program, &all, engine.budget_ref(), started);
        report.wall_time += self.prior_wall;
        if self.path.is_some() {
            let result = Finished { program: Value::Object(program.to_state()), report: report.clone() };
            let step = self.steps.last().map_or(0, |m| m.step);
            self.write(step, true, engine.budget_ref().report(), used, Value::Null, Some(result))?;
        }
        Ok(Compiled { program, report })
    }

    fn write(&self, step: usize, finished: bool, budget: BudgetReport, used: UsageByModel, state: Value, result: Option<Finished>) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut usage = self.prior_usage.clone();
        usage.merge(&used);
        let doc = Document {
            format: CHECKPOINT_FORMAT,
            optimizer: self.optimizer.to_string(),
            fingerprint: self.fingerprint.clone(),
            step,
            finished,
            budget,
            usage,
            wall_time_secs: (self.prior_wall + self.started.elapsed()).as_secs_f64(),
            steps: self.steps.clone(),
            state,
            result,
        };
        let text = serde_json::to_vec(&doc).map_err(|source| StateError::Serialize { what: "the optimizer's checkpoint", source })?;
        write_atomic(path, &text)
    }
}

/// The fingerprint of a compilation: what must be the same for a checkpoint to be resumed.
/// `settings` are the optimizer's own (models by name); the run options that change results
/// (seed, budgets, error limit) are added, not those that do not (threads, progress bars).
pub(crate) fn fingerprint<P: Module + ?Sized>(
    settings: Value,
    run: &RunConfig,
    student: &P,
    trainset: &[Example],
    valset: Option<&[Example]>,
    metric: &dyn Metric,
) -> BTreeMap<String, Value> {
    let examples = |set: &[Example]| -> Value {
        let rows: Vec<Value> = set.iter().map(|e| json!({"data": e.data(), "inputs": e.input_keys()})).collect();
        json!({"len": set.len(), "digest": digest(&Value::Array(rows))})
    };
    BTreeMap::from([
        ("settings".to_string(), settings),
        ("seed".to_string(), json!(run.seed)),
        ("max_lm_calls".to_string(), json!(run.max_lm_calls)),
        ("max_metric_calls".to_string(), json!(run.max_metric_calls)),
        ("max_errors".to_string(), json!(run.max_errors)),
        ("student".to_string(), json!(digest(&Value::Object(student.to_state())))),
        ("trainset".to_string(), examples(trainset)),
        ("valset".to_string(), valset.map_or(Value::Null, examples)),
        ("metric".to_string(), json!(metric.name())),
    ])
}

/// The name of each model, for fingerprints (a model is identified by its name).
pub(crate) fn model_name(lm: Option<&std::sync::Arc<dyn dspy_core::LanguageModel>>) -> Value {
    lm.map_or(Value::Null, |lm| json!(lm.model()))
}

/// What differs between two fingerprints (settings key by key).
fn diff(saved: &BTreeMap<String, Value>, ours: &BTreeMap<String, Value>) -> Vec<String> {
    let mut keys: Vec<&String> = saved.keys().chain(ours.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        match (saved.get(key), ours.get(key)) {
            (Some(Value::Object(a)), Some(Value::Object(b))) if key == "settings" => {
                let mut inner: Vec<&String> = a.keys().chain(b.keys()).collect();
                inner.sort();
                inner.dedup();
                for k in inner {
                    if a.get(k).unwrap_or(&Value::Null) != b.get(k).unwrap_or(&Value::Null) {
                        out.push(format!("settings.{k}"));
                    }
                }
            }
            (a, b) if a != b => out.push(key.clone()),
            _ => {}
        }
    }
    out
}

/// A short stable digest (FNV-1a, 64 bits) of a JSON value: enough to tell data sets apart,
/// not a cryptographic hash.
fn digest(value: &Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The exact position of a [`SeededRng`] (seed, stream, word), saved as hex, so a resumed
/// run draws what the uninterrupted one would have. (ChaCha generators are not `Clone`; this
/// is also how a copy is taken.)
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RngState([u8; 49]);

impl RngState {
    pub(crate) fn of(rng: &SeededRng) -> Self {
        RngState(rng.serialize_state())
    }

    pub(crate) fn rng(&self) -> SeededRng {
        SeededRng::deserialize_state(&self.0)
    }
}

impl std::fmt::Debug for RngState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RngState(..)")
    }
}

impl Serialize for RngState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for RngState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let hex = String::deserialize(d)?;
        let mut state = [0u8; 49];
        if hex.len() != 2 * state.len() || !hex.is_ascii() {
            return Err(serde::de::Error::custom("a random generator state must be 98 hex digits"));
        }
        for (i, byte) in state.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(serde::de::Error::custom)?;
        }
        Ok(RngState(state))
    }
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;
    use crate::engine::seeded_rng;

    #[test]
    fn a_saved_generator_continues_its_stream() {
        let mut rng = seeded_rng(42);
        let _: Vec<u32> = (0..7).map(|_| rng.random()).collect();
        let text = serde_json::to_string(&RngState::of(&rng)).unwrap();
        let mut back = serde_json::from_str::<RngState>(&text).unwrap().rng();
        let a: Vec<u64> = (0..20).map(|_| rng.random()).collect();
        let b: Vec<u64> = (0..20).map(|_| back.random()).collect();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<RngState>(r#""00""#).is_err());
        assert!(serde_json::from_str::<RngState>(&format!(r#""{}""#, "zz".repeat(49))).is_err());
    }

    #[test]
    fn fingerprint_differences_are_named() {
        let a = BTreeMap::from([("seed".to_string(), json!(1)), ("settings".to_string(), json!({"n": 1, "m": 2}))]);
        let b = BTreeMap::from([("seed".to_string(), json!(2)), ("settings".to_string(), json!({"n": 1, "m": 3, "k": 0}))]);
        assert_eq!(diff(&a, &b), vec!["seed", "settings.k", "settings.m"]);
        assert!(diff(&a, &a).is_empty());
        assert_ne!(digest(&json!([1, 2])), digest(&json!([2, 1])));
    }
}
