//! `Example`: one row of data, its fields split into inputs and labels.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// One row of a dataset: named fields, some of which are marked as inputs.
///
/// Demos, trainsets and devsets are lists of examples, exactly as in DSPy.
///
/// ```
/// use dspy_core::Example;
/// let ex = Example::new()
///     .with("question", "What is 2+2?")
///     .with("answer", "4")
///     .with_inputs(["question"]);
/// assert_eq!(ex.inputs().get_str("question"), Some("What is 2+2?"));
/// assert_eq!(ex.labels().keys().collect::<Vec<_>>(), ["answer"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Example {
    data: Map<String, Value>,
    input_keys: Option<Vec<String>>,
}

impl Example {
    /// An empty example.
    pub fn new() -> Self {
        Self::default()
    }

    /// An example holding these fields.
    pub fn from_map(data: Map<String, Value>) -> Self {
        Example { data, input_keys: None }
    }

    /// Adds or replaces a field.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// Sets a field.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.data.insert(key.into(), value.into());
    }

    /// Removes a field.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.data.shift_remove(key)
    }

    /// Marks which fields are inputs.
    pub fn with_inputs<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.input_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// The input keys, if they were set.
    pub fn input_keys(&self) -> Option<&[String]> {
        self.input_keys.as_deref()
    }

    /// The input fields only (all fields when no inputs were marked).
    pub fn inputs(&self) -> Example {
        match &self.input_keys {
            None => self.clone(),
            Some(keys) => Example {
                data: self.data.iter().filter(|(k, _)| keys.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
                input_keys: self.input_keys.clone(),
            },
        }
    }

    /// The non-input fields (the labels).
    pub fn labels(&self) -> Example {
        let keys = self.input_keys.as_deref().unwrap_or(&[]);
        Example {
            data: self.data.iter().filter(|(k, _)| !keys.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
            input_keys: self.input_keys.clone(),
        }
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// A text field's value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }

    /// Whether the field exists.
    pub fn contains(&self, key: &str) -> bool {
        self.data.contains_key(key)
    }

    /// The field names in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.data.keys()
    }

    /// The fields.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// The fields, by value.
    pub fn into_map(self) -> Map<String, Value> {
        self.data
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// A copy without some fields.
    pub fn without(&self, keys: &[&str]) -> Example {
        let mut out = self.clone();
        for k in keys {
            out.data.shift_remove(*k);
        }
        out
    }
}

impl From<Map<String, Value>> for Example {
    fn from(data: Map<String, Value>) -> Self {
        Example::from_map(data)
    }
}

impl Serialize for Example {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Example {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Example::from_map)
    }
}

impl std::ops::Index<&str> for Example {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.data.get(key).unwrap_or(&Value::Null)
    }
}

/// A row of a typed dataset (such as the `NameExample` that `#[derive(Signature)]` generates):
/// it becomes the dynamic [`Example`] that `Evaluate` and the optimizers run on, with its
/// inputs marked, and typed metrics read the gold row back from it.
///
/// `Example` itself is one, so the dynamic API takes the same paths.
///
/// ```
/// use dspy_core::{Example, TypedExample, typed_example};
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct Row { question: String, answer: String }
/// impl TypedExample for Row {
///     fn to_example(&self) -> Example { typed_example(self, &["question"]) }
/// }
/// let ex = Row { question: "2+2?".into(), answer: "4".into() }.to_example();
/// assert_eq!(ex.inputs().get_str("question"), Some("2+2?"));
/// assert_eq!(Row::from_example(&ex).unwrap().answer, "4");
/// ```
pub trait TypedExample: serde::de::DeserializeOwned + Send + Sync {
    /// The dynamic example, its input fields marked.
    fn to_example(&self) -> Example;

    /// The typed row, read back from a dynamic example (by serde, field by field).
    fn from_example(example: &Example) -> crate::Result<Self> {
        Self::deserialize(example.data()).map_err(|e| {
            crate::Error::Input(crate::error::InputError::Invalid {
                needed_by: "a typed metric".into(),
                message: format!("the example does not read as `{}`: {e}", std::any::type_name::<Self>()),
            })
        })
    }
}

impl TypedExample for Example {
    fn to_example(&self) -> Example {
        self.clone()
    }

    fn from_example(example: &Example) -> crate::Result<Self> {
        Ok(example.clone())
    }
}

/// A typed row as an [`Example`]: its serde fields, `inputs` marked as the inputs. What
/// generated and hand-written [`TypedExample::to_example`]s call; a row that does not serialise
/// to an object becomes an empty example (its fields then read as missing, with an error).
pub fn typed_example<T: Serialize + ?Sized>(row: &T, inputs: &[&str]) -> Example {
    let data = match serde_json::to_value(row) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Example::from_map(data).with_inputs(inputs.iter().copied())
}
