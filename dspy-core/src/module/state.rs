//! Saving and loading a program's state in DSPy's JSON format, and the other whole-program
//! operations (reset, LM, copies) DSPy's `Module` has.
//!
//! The file is what DSPy 3.4.1's `program.save("x.json")` writes: one entry per predictor,
//! named as in `named_predictors()`, each `{"traces", "train", "demos", "signature":
//! {"instructions", "fields": [{"prefix", "description"}]}, "lm"}`, plus `"metadata":
//! {"dependency_versions": {...}}`. Only state is saved: the Rust code is the program.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::error::StateMismatch;
use super::{Module, Predictor};
use crate::error::{Error, Result, StateError};
use crate::lm::LanguageModel;

/// The DSPy version whose saved-state format (and prompts) this crate reproduces; written as
/// `metadata.dependency_versions.dspy` so Python DSPy loads our files without a warning.
pub const DSPY_FORMAT_VERSION: &str = "3.4.1";

/// Whole-program operations on any [`Module`]: DSPy's `save`, `load`, `dump_state`,
/// `load_state`, `reset_copy` and `set_lm`, over the program's predictors.
///
/// The names differ from [`Predictor`]'s methods so that calling them on a `Predict` (which is
/// both) is never ambiguous.
///
/// ```
/// use dspy_core::module::ModuleExt;
/// use dspy_core::{ChainOfThought, Example};
/// let mut cot = ChainOfThought::parse("question -> answer").unwrap();
/// let dir = std::env::temp_dir().join(format!("dspy-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("cot.json");
/// use dspy_core::Predictor;
/// cot.predict.set_demos(vec![Example::new().with("question", "1+1?").with("answer", "2")]);
/// cot.save(&path).unwrap();
///
/// let mut fresh = ChainOfThought::parse("question -> answer").unwrap();
/// fresh.load(&path).unwrap();
/// assert_eq!(fresh.predict.demos().len(), 1);
///
/// // A program of another shape is a clear error.
/// let mut other = ChainOfThought::parse("question, context -> answer").unwrap();
/// let err = other.load(&path).unwrap_err();
/// assert!(err.to_string().contains("`predict` has 3 field(s) saved but 4 in the program"), "{err}");
/// ```
pub trait ModuleExt: Module {
    /// DSPy's `dump_state()`: `{name: predictor state}` in program order (no metadata).
    fn to_state(&self) -> Map<String, Value> {
        self.named_predictors().into_iter().map(|(name, p)| (name, p.dump_state())).collect()
    }

    /// DSPy's `load_state(state)`, all or nothing: the state is checked against the program
    /// first (names, field counts) and a predictor that fails to load rolls the others back.
    /// Entries that are not predictor states (such as DSPy's `Retrieve` `{"k": 3}`) and
    /// `metadata` are ignored.
    fn apply_state(&mut self, state: &Value) -> Result<()> {
        apply(self, state, None)
    }

    /// Saves the state to a `.json` file in DSPy's format, atomically (a temporary file in the
    /// same directory, flushed to disk, then renamed over `path`).
    fn save(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let mut state = self.to_state();
        state.insert("metadata".into(), metadata());
        let mut text = serde_json::to_string_pretty(&Value::Object(state)).map_err(|source| StateError::Serialize { what: "the program state", source })?;
        text.push('\n');
        write_atomic(path.as_ref(), text.as_bytes())
    }

    /// Loads state saved by [`ModuleExt::save`] or by Python DSPy's `program.save("x.json")`.
    fn load(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let state: Value = serde_json::from_slice(&bytes)
            .map_err(|source| StateError::Unreadable { path: path.to_path_buf(), expected: "valid JSON", source })?;
        if let Some(saved) = state.pointer("/metadata/dependency_versions/dspy").and_then(Value::as_str)
            && saved != DSPY_FORMAT_VERSION
        {
            tracing::warn!(saved, expected = DSPY_FORMAT_VERSION, "the program was saved by another DSPy version");
        }
        apply(self, &state, Some(path))
    }

    /// Clears every predictor's demos and own LM (DSPy's `reset` on each parameter).
    fn reset_all(&mut self) {
        for (_, p) in self.named_predictors_mut() {
            p.reset();
        }
    }

    /// A deep copy with every predictor reset (DSPy's `reset_copy`).
    fn reset_copy(&self) -> Self
    where
        Self: Clone + Sized,
    {
        let mut copy = self.clone();
        copy.reset_all();
        copy
    }

    /// Sets (or clears) the LM of every predictor (DSPy's `set_lm`).
    fn set_lm_all(&mut self, lm: Option<Arc<dyn LanguageModel>>) {
        for (_, p) in self.named_predictors_mut() {
            p.set_lm(lm.clone());
        }
    }

    /// The predictor of that dotted name.
    fn predictor(&self, name: &str) -> Option<&dyn Predictor> {
        self.named_predictors().into_iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// The predictor of that dotted name, mutable.
    fn predictor_mut(&mut self, name: &str) -> Option<&mut dyn Predictor> {
        self.named_predictors_mut().into_iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
}

impl<M: Module + ?Sized> ModuleExt for M {}

/// `metadata` as we write it: Python DSPy reads `dependency_versions` (only keys it knows are
/// allowed there), and ignores the rest.
fn metadata() -> Value {
    json!({
        "dependency_versions": {"dspy": DSPY_FORMAT_VERSION},
        "dspy_rs": {"version": env!("CARGO_PKG_VERSION")},
    })
}

/// Whether a saved entry is a predictor's state (rather than, say, a retriever's `{"k": 3}`).
fn is_predictor_state(value: &Value) -> bool {
    value.get("signature").is_some() || value.get("demos").is_some()
}

fn apply<M: Module + ?Sized>(program: &mut M, state: &Value, path: Option<&Path>) -> Result<()> {
    let Some(entries) = state.as_object() else {
        return Err(StateError::Shape { what: "a saved program", expected: "a JSON object of predictor states" }.into());
    };
    let mut mismatch = StateMismatch { path: path.map(Path::to_path_buf), ..Default::default() };
    let mut predictors = program.named_predictors_mut();
    let ours: BTreeSet<&str> = predictors.iter().map(|(n, _)| n.as_str()).collect();
    for (name, value) in entries {
        if name == "metadata" || ours.contains(name.as_str()) {
            continue;
        }
        if is_predictor_state(value) {
            mismatch.extra.push(name.clone());
        } else {
            tracing::warn!(entry = %name, "ignoring a saved entry that is not a predictor state");
        }
    }
    for (name, p) in &predictors {
        let Some(saved) = entries.get(name) else {
            mismatch.missing.push(name.clone());
            continue;
        };
        match saved.pointer("/signature/fields").and_then(Value::as_array) {
            Some(fields) if fields.len() != p.signature().fields().len() => {
                mismatch.field_counts.push((name.clone(), fields.len(), p.signature().fields().len()));
            }
            Some(_) => {}
            None => mismatch.invalid.push((name.clone(), "no `signature.fields` list".into())),
        }
    }
    if !mismatch.is_empty() {
        return Err(mismatch.into());
    }
    let mut backups: Vec<Value> = Vec::with_capacity(predictors.len());
    for i in 0..predictors.len() {
        let (name, p) = &mut predictors[i];
        let backup = p.dump_state();
        if let Err(e) = p.load_state(&entries[name.as_str()]) {
            let failed = name.clone();
            p.load_state(&backup).ok();
            for (j, saved) in backups.into_iter().enumerate() {
                predictors[j].1.load_state(&saved).ok();
            }
            mismatch.invalid.push((failed, e.to_string()));
            return Err(mismatch.into());
        }
        backups.push(backup);
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path` (and the directory synced, where the platform allows). A reader (or a
/// process killed mid-write) sees the old file or the new one, never half of one, which is what
/// saved programs, reports and optimizer checkpoints rely on.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("dspy-atomic-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("state.json");
/// dspy_core::module::write_atomic(&path, b"{}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), fastrand::u64(..)));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            d.sync_all().ok();
        }
        Ok(())
    })();
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result.map_err(io)
}
