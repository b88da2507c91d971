//! Programs: structs whose fields are modules. [`ContainsPredictors`] is the predictor walk
//! (with DSPy's dotted names) that `#[module]` generates for a user struct through
//! [`ModuleFields`]; the rest here is what the generated `Module::forward` calls.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Module, Predictor, SourceCode};
use crate::error::{Error, InputError, Result};
use crate::example::Example;
use crate::prediction::{Predicted, Prediction};

/// Anything that holds predictors: every [`Module`], and `Vec`, `Option`, arrays and `Box` of
/// them. `#[module]` calls it on each field of a program, so a field's predictors are found
/// under the field's name, exactly as DSPy's `named_parameters` names them: a `Predict` field
/// `generate` is `generate`, a `ChainOfThought` field `generate_answer` is
/// `generate_answer.predict`, the second element of a `Vec` field `hops` is `hops[1]...`, and
/// a nested program's predictors are prefixed by its field name.
///
/// ```
/// use dspy_core::module::ContainsPredictors;
/// use dspy_core::{ChainOfThought, Predict};
/// let hops = vec![ChainOfThought::parse("q -> a").unwrap(), ChainOfThought::parse("q -> a").unwrap()];
/// let mut names = Vec::new();
/// hops.collect_predictors("hops", &mut names);
/// let names: Vec<_> = names.into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["hops[0].predict", "hops[1].predict"]);
///
/// let maybe = Some(Predict::parse("q -> a").unwrap());
/// let mut one = Vec::new();
/// maybe.collect_predictors("generate", &mut one);
/// assert_eq!(one[0].0, "generate");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module, so it cannot be a field of a `#[module]` program",
    label = "not a module (no predictors to find)",
    note = "mark fields that are not modules (settings, counters, clients) with `#[skip]`"
)]
pub trait ContainsPredictors {
    /// Appends this value's predictors to `out`, named under `path`.
    fn collect_predictors<'a>(&'a self, path: &str, out: &mut Vec<(String, &'a dyn Predictor)>);

    /// Appends this value's predictors, mutable, to `out`, named under `path`.
    fn collect_predictors_mut<'a>(&'a mut self, path: &str, out: &mut Vec<(String, &'a mut dyn Predictor)>);

    /// Adds the code of the modules in this value to `code` (see [`Module::source_code`]).
    fn collect_source_code(&self, code: &mut SourceCode) {
        let _ = code;
    }
}

/// `path` + a module's own predictor name: `Predict`'s own name `self` is the field itself.
fn join(path: &str, name: &str) -> String {
    if name == "self" {
        path.to_string()
    } else if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

impl<T: Module + ?Sized> ContainsPredictors for T {
    fn collect_predictors<'a>(&'a self, path: &str, out: &mut Vec<(String, &'a dyn Predictor)>) {
        out.extend(self.named_predictors().into_iter().map(|(name, p)| (join(path, &name), p)));
    }

    fn collect_predictors_mut<'a>(&'a mut self, path: &str, out: &mut Vec<(String, &'a mut dyn Predictor)>) {
        out.extend(self.named_predictors_mut().into_iter().map(|(name, p)| (join(path, &name), p)));
    }

    fn collect_source_code(&self, code: &mut SourceCode) {
        code.module(self);
    }
}

impl<T: ContainsPredictors> ContainsPredictors for Vec<T> {
    fn collect_predictors<'a>(&'a self, path: &str, out: &mut Vec<(String, &'a dyn Predictor)>) {
        self.as_slice().collect_indexed(path, out);
    }

    fn collect_predictors_mut<'a>(&'a mut self, path: &str, out: &mut Vec<(String, &'a mut dyn Predictor)>) {
        for (i, item) in self.iter_mut().enumerate() {
            item.collect_predictors_mut(&format!("{path}[{i}]"), out);
        }
    }

    fn collect_source_code(&self, code: &mut SourceCode) {
        self.iter().for_each(|item| item.collect_source_code(code));
    }
}

impl<T: ContainsPredictors, const N: usize> ContainsPredictors for [T; N] {
    fn collect_predictors<'a>(&'a self, path: &str, out: &mut Vec<(String, &'a dyn Predictor)>) {
        self.as_slice().collect_indexed(path, out);
    }

    fn collect_predictors_mut<'a>(&'a mut self, path: &str, out: &mut Vec<(String, &'a mut dyn Predictor)>) {
        for (i, item) in self.iter_mut().enumerate() {
            item.collect_predictors_mut(&format!("{path}[{i}]"), out);
        }
    }

    fn collect_source_code(&self, code: &mut SourceCode) {
        self.iter().for_each(|item| item.collect_source_code(code));
    }
}

trait CollectIndexed<'a> {
    fn collect_indexed(self, path: &str, out: &mut Vec<(String, &'a dyn Predictor)>);
}

impl<'a, T: ContainsPredictors> CollectIndexed<'a> for &'a [T] {
    fn collect_indexed(self, path: &str, out: &mut Vec<(String, &'a dyn Predictor)>) {
        for (i, item) in self.iter().enumerate() {
            item.collect_predictors(&format!("{path}[{i}]"), out);
        }
    }
}

impl<T: ContainsPredictors> ContainsPredictors for Option<T> {
    fn collect_predictors<'a>(&'a self, path: &str, out: &mut Vec<(String, &'a dyn Predictor)>) {
        if let Some(inner) = self {
            inner.collect_predictors(path, out);
        }
    }

    fn collect_predictors_mut<'a>(&'a mut self, path: &str, out: &mut Vec<(String, &'a mut dyn Predictor)>) {
        if let Some(inner) = self {
            inner.collect_predictors_mut(path, out);
        }
    }

    fn collect_source_code(&self, code: &mut SourceCode) {
        if let Some(inner) = self {
            inner.collect_source_code(code);
        }
    }
}

/// A boxed module (also `Box<dyn Module>`) is a module.
#[async_trait::async_trait]
impl<T: Module + ?Sized> Module for Box<T> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        (**self).forward(inputs).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        (**self).named_predictors()
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        (**self).named_predictors_mut()
    }

    fn definition(&self) -> Option<String> {
        (**self).definition()
    }

    fn source_code(&self) -> String {
        (**self).source_code()
    }
}

/// The predictor walk over a program's fields, generated by `#[module]` on a struct. The
/// `Module` impl (generated by `#[module]` on the `impl` block with `forward`, or written by
/// hand) returns it from `named_predictors`.
///
/// ```
/// use dspy_core::module::{ContainsPredictors, ModuleFields};
/// use dspy_core::{ChainOfThought, Predictor};
/// struct Pipeline { draft: ChainOfThought, polish: ChainOfThought }
/// impl ModuleFields for Pipeline {
///     fn field_predictors(&self) -> Vec<(String, &dyn Predictor)> {
///         let mut out = Vec::new();
///         self.draft.collect_predictors("draft", &mut out);
///         self.polish.collect_predictors("polish", &mut out);
///         out
///     }
///     fn field_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
///         let mut out = Vec::new();
///         self.draft.collect_predictors_mut("draft", &mut out);
///         self.polish.collect_predictors_mut("polish", &mut out);
///         out
///     }
/// }
/// let p = Pipeline { draft: ChainOfThought::parse("topic -> text").unwrap(), polish: ChainOfThought::parse("text -> text2").unwrap() };
/// assert_eq!(p.field_predictors()[1].0, "polish.predict");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no predictor walk",
    note = "put `#[module]` on the struct definition too"
)]
pub trait ModuleFields {
    /// Every predictor in the fields, with dotted names, in field order.
    fn field_predictors(&self) -> Vec<(String, &dyn Predictor)>;
    /// The same, mutable.
    fn field_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)>;

    /// The struct's declaration as written (`#[module]` records it).
    fn declaration(&self) -> Option<&'static str> {
        None
    }

    /// Adds the fields' code (their signatures, nested programs' code) to `code`, in field order.
    fn field_source_code(&self, code: &mut SourceCode) {
        let _ = code;
    }
}

/// What a program's `forward` may return (inside `Result`): the dynamic prediction, a typed one,
/// or a field map.
///
/// ```
/// use dspy_core::module::IntoPrediction;
/// let map = serde_json::json!({"answer": "4"}).as_object().unwrap().clone();
/// assert_eq!(map.into_prediction().unwrap().get_str("answer"), Some("4"));
/// ```
pub trait IntoPrediction {
    /// The prediction `Module::forward` returns.
    fn into_prediction(self) -> Result<Prediction>;
}

impl IntoPrediction for Prediction {
    fn into_prediction(self) -> Result<Prediction> {
        Ok(self)
    }
}

impl<T> IntoPrediction for Predicted<T> {
    fn into_prediction(self) -> Result<Prediction> {
        Ok(self.into_parts().1)
    }
}

impl IntoPrediction for Map<String, Value> {
    fn into_prediction(self) -> Result<Prediction> {
        Ok(Prediction::new(self))
    }
}

impl IntoPrediction for Example {
    fn into_prediction(self) -> Result<Prediction> {
        Ok(Prediction::new(self.into_map()))
    }
}

impl IntoPrediction for Value {
    fn into_prediction(self) -> Result<Prediction> {
        match self {
            Value::Object(map) => Ok(Prediction::new(map)),
            other => Err(Error::Output { type_name: "Prediction", reason: format!("forward returned {other}, not an object") }),
        }
    }
}

/// The `Result` a program's `forward` returns, turned into `Module::forward`'s. Any error type
/// that converts into [`Error`] is accepted.
pub trait ForwardOutput {
    /// The prediction, or the error as a dspy [`Error`].
    fn into_forward_result(self) -> Result<Prediction>;
}

impl<R: IntoPrediction, E: Into<Error>> ForwardOutput for std::result::Result<R, E> {
    fn into_forward_result(self) -> Result<Prediction> {
        self.map_err(Into::into)?.into_prediction()
    }
}

/// Reads one typed argument of a program's `forward` from the example (generated code calls
/// this). A missing field reads as `null`, so `Option<_>` arguments may be left out.
#[doc(hidden)]
pub fn __input<T: DeserializeOwned>(inputs: &Example, name: &str, program: &str) -> Result<T> {
    let value = inputs.get(name).cloned().unwrap_or(Value::Null);
    let missing = value.is_null() && !inputs.contains(name);
    serde_json::from_value(value).map_err(|e| {
        if missing {
            InputError::Missing { needed_by: format!("`{program}::forward`").into(), field: name.to_string() }
        } else {
            InputError::WrongType {
                needed_by: format!("`{program}::forward`").into(),
                field: name.to_string(),
                expected: std::any::type_name::<T>().into(),
                reason: e.to_string(),
            }
        }
    })
    .map_err(Error::Input)
}

/// Reads the whole example as the struct of a program's `#[flatten]` argument (generated code
/// calls this).
#[doc(hidden)]
pub fn __inputs<T: DeserializeOwned>(inputs: &Example, program: &str) -> Result<T> {
    T::deserialize(inputs.data()).map_err(|e| {
        Error::Input(InputError::WrongType {
            needed_by: format!("`{program}::forward`").into(),
            field: "inputs".to_string(),
            expected: std::any::type_name::<T>().into(),
            reason: e.to_string(),
        })
    })
}

/// A typed program's input struct as the example `Module::forward` reads (generated code).
#[doc(hidden)]
pub fn __to_example<T: serde::Serialize>(input: T) -> Result<Example> {
    super::serialized_example(input)
}

/// One typed argument as the JSON value of its example field (generated code).
#[doc(hidden)]
pub fn __to_value<T: serde::Serialize>(value: T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| InputError::NotAnObject { what: "an argument of `forward`".into(), reason: e.to_string() }.into())
}

/// A type a `#[module]`'s typed `forward` may return (generated code): it is written to the
/// dynamic prediction and read back from it, so it must be `Serialize` and `Deserialize`.
///
/// The generated code reaches serde only through this trait's methods, called on the declared
/// return type with its span: an output type without the derives is then one error, this
/// trait's message at the user's return type, instead of one error per serde bound of each
/// generated use, some of them pointing at the attribute.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the output of a typed `forward`: it must derive `Serialize` and `Deserialize`",
    label = "the program's typed output",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to `{Self}`: a program's output is also its dynamic `Prediction`, the fields optimizers, `Evaluate` and saved programs read"
)]
pub trait __ProgramOutput: Sized {
    /// The output as the prediction `Module::forward` returns.
    fn __to_prediction(self) -> Result<Prediction>;
    /// The output with its prediction, as `TypedModule::call` returns it.
    fn __to_predicted(self) -> Result<Predicted<Self>>;
    /// A prediction of the program read as its output (`TypedModule::to_output`).
    fn __from_prediction(prediction: Prediction) -> Result<Predicted<Self>>;
}

#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + DeserializeOwned> __ProgramOutput for T {
    fn __to_prediction(self) -> Result<Prediction> {
        Ok(Predicted::from_output(self)?.into_parts().1)
    }

    fn __to_predicted(self) -> Result<Predicted<Self>> {
        Predicted::from_output(self)
    }

    fn __from_prediction(prediction: Prediction) -> Result<Predicted<Self>> {
        Predicted::new(prediction)
    }
}
