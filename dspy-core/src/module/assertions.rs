//! Assertions, as in the DSPy Assertions paper (Singhvi et al., 2023): computational
//! constraints checked inside a program's `forward`.
//!
//! `Assert` and `Suggest` return an error the program propagates with `?`. Run the program
//! through [`Backtracking`] and a failed constraint is *backtracked*: the predictor that
//! produced the offending output (the last one called, or the one named with `.target(..)`)
//! is re-run with its past outputs and the feedback message added to its signature, exactly
//! as DSPy 2.4's `Retry` did (`past_{field}` inputs "past {Prefix} with errors", and a
//! `feedback` input "Some instructions you must satisfy" whose value joins every message
//! given to that predictor so far with newlines), up to `max_backtracks` times. Then a failed
//! `Assert` is a typed [`AssertionError`], while a `Suggest` is logged and the program goes on
//! (on the last attempt suggestions only log). Outside `Backtracking`, `Assert` fails at once
//! and `Suggest` only logs.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::error::{AssertionError, ConstraintKind};
use super::rewrite::{Rewrite, RewriteAdapter};
use super::{Module, Predictor};
use crate::error::{Error, Result};
use crate::example::Example;
use crate::prediction::Prediction;
use crate::settings::{self, Settings};
use crate::signature::{Field, FieldType, Signature};
use crate::trace::{self, PredictorId};

#[derive(Clone, Copy)]
struct Context {
    /// The last attempt: suggestions only log.
    bypass_suggest: bool,
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// A hard constraint: `Assert::new(cond, "msg").check()?` inside `forward`.
///
/// ```
/// use dspy_core::module::Assert;
/// assert!(Assert::new(1 + 1 == 2, "arithmetic").check().is_ok());
/// assert!(Assert::new(false, "always fails").check().is_err());
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `.check()?` to apply the constraint"]
pub struct Assert {
    condition: bool,
    message: String,
    target: Option<PredictorId>,
}

impl Assert {
    /// The constraint `condition`, with the feedback given to the LM when it fails.
    pub fn new(condition: bool, message: impl Into<String>) -> Self {
        Assert { condition, message: message.into(), target: None }
    }

    /// Backtracks to this predictor instead of the last one called (DSPy's `target_module`).
    pub fn target(mut self, predictor: &dyn Predictor) -> Self {
        self.target = Some(predictor.id());
        self
    }

    /// `Ok(())` when the condition holds, else an [`AssertionError`].
    pub fn check(self) -> Result<()> {
        if self.condition {
            return Ok(());
        }
        Err(AssertionError { kind: ConstraintKind::Assert, message: self.message, target: self.target, attempts: 1 }.into())
    }
}

/// A soft constraint: `Suggest::new(cond, "msg").check()?` inside `forward`. Fails (to
/// trigger backtracking) only under [`Backtracking`] while attempts remain; otherwise logs a
/// warning and returns `Ok(())`.
///
/// ```
/// use dspy_core::module::Suggest;
/// // Outside `Backtracking` a failed suggestion only logs.
/// assert!(Suggest::new(false, "keep it short").check().is_ok());
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `.check()?` to apply the constraint"]
pub struct Suggest {
    condition: bool,
    message: String,
    target: Option<PredictorId>,
}

impl Suggest {
    /// The constraint `condition`, with the feedback given to the LM when it fails.
    pub fn new(condition: bool, message: impl Into<String>) -> Self {
        Suggest { condition, message: message.into(), target: None }
    }

    /// Backtracks to this predictor instead of the last one called.
    pub fn target(mut self, predictor: &dyn Predictor) -> Self {
        self.target = Some(predictor.id());
        self
    }

    /// `Ok(())` when the condition holds or retries are over, else an [`AssertionError`].
    pub fn check(self) -> Result<()> {
        if self.condition {
            return Ok(());
        }
        let backtracking = CONTEXT.try_with(|c| !c.bypass_suggest).unwrap_or(false);
        if backtracking {
            Err(AssertionError { kind: ConstraintKind::Suggest, message: self.message, target: self.target, attempts: 1 }.into())
        } else {
            tracing::warn!(message = %self.message, "suggestion failed");
            Ok(())
        }
    }
}

/// Shorthand for `Assert::new(condition, message).check()`.
///
/// ```
/// fn check(answer: &str) -> dspy_core::Result<()> {
///     dspy_core::module::assert(!answer.is_empty(), "the answer must not be empty")
/// }
/// assert!(check("").is_err());
/// ```
pub fn assert(condition: bool, message: impl Into<String>) -> Result<()> {
    Assert::new(condition, message).check()
}

/// Shorthand for `Suggest::new(condition, message).check()`.
///
/// ```
/// assert!(dspy_core::module::suggest(false, "outside Backtracking this only logs").is_ok());
/// ```
pub fn suggest(condition: bool, message: impl Into<String>) -> Result<()> {
    Suggest::new(condition, message).check()
}

/// Runs a program with backtracking on failed `Assert`/`Suggest` (DSPy's
/// `assert_transform_module(program, backtrack_handler)`). Default `max_backtracks`: 2.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::module::{Backtracking, suggest};
/// use dspy_core::{ChainOfThought, DummyLM, Example, Module, Prediction, Predictor, Result};
///
/// #[derive(Clone)]
/// struct OneWord { qa: ChainOfThought }
/// #[async_trait::async_trait]
/// impl Module for OneWord {
///     async fn forward(&self, inputs: &Example) -> Result<Prediction> {
///         let out = self.qa.forward(inputs).await?;
///         let answer = out.get_str("answer").unwrap_or_default();
///         suggest(!answer.contains(' '), "Answer in one word.")?;
///         Ok(out)
///     }
///     fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> { vec![("qa.predict".into(), &self.qa.predict)] }
///     fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> { vec![("qa.predict".into(), &mut self.qa.predict)] }
/// }
///
/// let lm = Arc::new(DummyLM::new(vec![
///     serde_json::json!({"reasoning": "r", "answer": "The city of Paris"}),
///     serde_json::json!({"reasoning": "r", "answer": "Paris"}),
/// ]));
/// let program = Backtracking::new(OneWord { qa: ChainOfThought::parse("question -> answer").unwrap().with_lm(lm.clone()) });
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = program.forward(&Example::new().with("question", "Capital of France?")).await.unwrap();
/// assert_eq!(out.get_str("answer"), Some("Paris"));
/// let retry = lm.history()[1].messages.last().unwrap().content.text();
/// assert!(retry.contains("[[ ## past_answer ## ]]\nThe city of Paris"));
/// assert!(retry.contains("[[ ## feedback ## ]]\nAnswer in one word."));
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Backtracking<M> {
    program: M,
    max_backtracks: usize,
}

impl<M: Module> Backtracking<M> {
    /// Wraps `program` with DSPy's default of 2 backtracks.
    pub fn new(program: M) -> Self {
        Backtracking { program, max_backtracks: 2 }
    }

    /// How many times a failing predictor is re-run before giving up.
    pub fn max_backtracks(mut self, max_backtracks: usize) -> Self {
        self.max_backtracks = max_backtracks;
        self
    }

    /// The wrapped program.
    pub fn program(&self) -> &M {
        &self.program
    }

    /// The wrapped program, mutable.
    pub fn program_mut(&mut self) -> &mut M {
        &mut self.program
    }

    /// Unwraps the program.
    pub fn into_inner(self) -> M {
        self.program
    }

    /// The extension of the target predictor's calls for the next attempt.
    fn rewrite_for(&self, target: PredictorId, past: Map<String, Value>, feedback: String) -> Option<Rewrite> {
        let version = self.program.named_predictors().into_iter().find(|(_, p)| p.id() == target)?.1.signature().version();
        Some(Arc::new(move |sig: &Signature, inputs: &Map<String, Value>| {
            if sig.version() != version {
                return None;
            }
            let (sig, mut inputs) = (with_feedback_fields(sig)?, inputs.clone());
            for (name, value) in &past {
                inputs.insert(format!("past_{name}"), value.clone());
            }
            inputs.insert("feedback".into(), Value::String(feedback.clone()));
            Some((sig, inputs))
        }))
    }
}

/// DSPy's `Retry._create_new_signature`: a `past_{name}` input per output, then `feedback`.
fn with_feedback_fields(sig: &Signature) -> Option<Signature> {
    let mut extended = sig.clone();
    for f in sig.output_fields() {
        let prefix = format!("{}:", f.prefix.split(':').next().unwrap_or_default());
        let label = &prefix[..prefix.len() - 1];
        let past = Field::input(format!("past_{}", f.name), FieldType::Str)
            .prefix(format!("Previous {prefix}"))
            .desc(format!("past {label} with errors"));
        extended = extended.append(past).ok()?;
    }
    let feedback = Field::input("feedback", FieldType::Str).prefix("Instructions:").desc("Some instructions you must satisfy");
    extended.append(feedback).ok()
}

#[async_trait::async_trait]
impl<M: Module> Module for Backtracking<M> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let outer = settings::current();
        let mut feedback: Vec<(PredictorId, Vec<String>)> = Vec::new();
        let mut rewrite: Option<Rewrite> = None;
        let mut attempt = 0;
        loop {
            let last = attempt >= self.max_backtracks;
            let overrides = match &rewrite {
                Some(r) => Settings::new().adapter(Arc::new(RewriteAdapter::new(outer.adapter(), r.clone()))),
                None => Settings::new(),
            };
            let run = CONTEXT.scope(Context { bypass_suggest: last }, self.program.forward(inputs));
            let (result, calls) = trace::collect(settings::context(overrides, run)).await;
            attempt += 1;
            let mut error = match result {
                Ok(prediction) => {
                    for call in &calls {
                        trace::record(outer.inner(), call.predictor, &call.inputs, &call.outputs);
                    }
                    return Ok(prediction);
                }
                Err(Error::Assertion(e)) => e,
                Err(other) => return Err(other),
            };
            error.attempts = attempt;
            if last {
                return Err(error.into());
            }
            let call = match error.target {
                Some(id) => calls.iter().rev().find(|c| c.predictor == id),
                None => calls.last(),
            };
            let Some(call) = call else {
                // Nothing ran that could be retried.
                if error.kind == ConstraintKind::Assert {
                    return Err(error.into());
                }
                attempt = self.max_backtracks;
                rewrite = None;
                continue;
            };
            tracing::info!(kind = %error.kind, message = %error.message, attempt, "constraint failed, backtracking");
            let index = match feedback.iter().position(|(id, _)| *id == call.predictor) {
                Some(i) => i,
                None => {
                    feedback.push((call.predictor, Vec::new()));
                    feedback.len() - 1
                }
            };
            let messages = &mut feedback[index].1;
            if !messages.contains(&error.message) {
                messages.push(error.message.clone());
            }
            let joined = messages.join("\n");
            let past = self
                .program
                .named_predictors()
                .into_iter()
                .find(|(_, p)| p.id() == call.predictor)
                .map(|(_, p)| {
                    p.signature()
                        .output_fields()
                        .map(|f| (f.name.clone(), call.outputs.get(&f.name).cloned().unwrap_or(Value::Null)))
                        .collect::<Map<String, Value>>()
                })
                .unwrap_or_default();
            rewrite = self.rewrite_for(call.predictor, past, joined);
            if rewrite.is_none() && error.kind == ConstraintKind::Assert {
                return Err(error.into());
            }
        }
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        self.program.named_predictors()
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        self.program.named_predictors_mut()
    }

    fn definition(&self) -> Option<String> {
        self.program.definition()
    }

    fn source_code(&self) -> String {
        self.program.source_code()
    }
}
