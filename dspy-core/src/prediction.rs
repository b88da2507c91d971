//! `Prediction`: what a module returns, and its typed view `Predicted<T>`.

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::lm::Usage;

/// The outputs of one call: the first completion's fields, every completion when `n > 1`,
/// and the tokens used.
///
/// ```
/// use dspy_core::Prediction;
/// let p = Prediction::from_completions(vec![
///     serde_json::json!({"answer": "Paris"}).as_object().unwrap().clone(),
/// ]);
/// assert_eq!(p.get_str("answer"), Some("Paris"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// One map per completion; the first is the main output.
    completions: Vec<Map<String, Value>>,
    #[serde(default)]
    usage: Usage,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl Prediction {
    /// A prediction of one set of outputs.
    pub fn new(outputs: Map<String, Value>) -> Self {
        Prediction { completions: vec![outputs], usage: Usage::default() }
    }

    /// A prediction from every completion; the first one is the main output.
    pub fn from_completions(completions: Vec<Map<String, Value>>) -> Self {
        Prediction { completions, usage: Usage::default() }
    }

    /// Attaches token usage.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    /// The main outputs (the first completion's).
    pub fn outputs(&self) -> &Map<String, Value> {
        self.completions.first().unwrap_or(&EMPTY)
    }

    /// Every completion's outputs.
    pub fn completions(&self) -> &[Map<String, Value>] {
        &self.completions
    }

    /// Tokens used to produce this prediction.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// One output.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.outputs().get(key)
    }

    /// One text output.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// Sets an output of the main completion.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        if self.completions.is_empty() {
            self.completions.push(Map::new());
        }
        self.completions[0].insert(key.into(), value);
    }

    /// The main outputs as a typed struct.
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T, Error> {
        typed_from_map(self.outputs())
    }
}

pub(crate) fn typed_from_map<T: DeserializeOwned>(map: &Map<String, Value>) -> Result<T, Error> {
    T::deserialize(map).map_err(|e| Error::Output { type_name: std::any::type_name::<T>(), reason: e.to_string() })
}

/// A typed prediction: derefs to the output struct and keeps the dynamic [`Prediction`].
///
/// ```
/// use dspy_core::{Predicted, Prediction};
/// #[derive(serde::Deserialize)]
/// struct Out { answer: String }
/// let p = Prediction::new(serde_json::json!({"answer": "Paris"}).as_object().unwrap().clone());
/// let typed: Predicted<Out> = Predicted::new(p).unwrap();
/// assert_eq!(typed.answer, "Paris");
/// ```
#[derive(Clone, Debug)]
pub struct Predicted<T> {
    output: T,
    prediction: Prediction,
}

impl<T: DeserializeOwned> Predicted<T> {
    /// Views a prediction through the typed output struct.
    pub fn new(prediction: Prediction) -> Result<Self, Error> {
        Ok(Predicted { output: prediction.to_typed()?, prediction })
    }

    /// Every completion, typed (for `n > 1`).
    pub fn completions(&self) -> Result<Vec<T>, Error> {
        self.prediction.completions.iter().map(typed_from_map).collect()
    }
}

impl<T> Predicted<T> {
    /// A typed output that a program built itself (a `#[module]`'s `forward`), with the
    /// prediction the dynamic API sees: its serde fields.
    pub fn from_output(output: T) -> Result<Self, Error>
    where
        T: Serialize,
    {
        let map = match serde_json::to_value(&output) {
            Ok(Value::Object(map)) => map,
            Ok(other) => return Err(Error::Output { type_name: std::any::type_name::<T>(), reason: format!("serialises to {other}, not an object") }),
            Err(e) => return Err(Error::Output { type_name: std::any::type_name::<T>(), reason: e.to_string() }),
        };
        Ok(Predicted { output, prediction: Prediction::new(map) })
    }

    /// A typed output beside the prediction it was read from (for programs whose output is
    /// not read field by field, such as `Parallel`'s list).
    pub(crate) fn from_parts(output: T, prediction: Prediction) -> Self {
        Predicted { output, prediction }
    }

    /// The typed outputs.
    pub fn into_inner(self) -> T {
        self.output
    }

    /// The typed outputs and the dynamic prediction, by value.
    pub fn into_parts(self) -> (T, Prediction) {
        (self.output, self.prediction)
    }

    /// The dynamic prediction.
    pub fn prediction(&self) -> &Prediction {
        &self.prediction
    }

    /// Tokens used.
    pub fn usage(&self) -> Usage {
        self.prediction.usage
    }
}

impl<T> Deref for Predicted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.output
    }
}

impl<T> DerefMut for Predicted<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.output
    }
}
