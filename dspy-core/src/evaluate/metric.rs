//! `Metric`: how good a prediction is for an example.

use serde::de::DeserializeOwned;

use crate::example::{Example, TypedExample};
use crate::prediction::Prediction;
use crate::trace::TraceEntry;

/// A metric's verdict: a score (1.0 / 0.0 for pass / fail) and optional textual feedback
/// (which reflective optimizers such as GEPA read).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    /// The score; higher is better.
    pub value: f64,
    /// Why, in words, when the metric can say.
    pub feedback: Option<String>,
}

impl Score {
    /// A score with feedback.
    pub fn with_feedback(value: f64, feedback: impl Into<String>) -> Self {
        Score { value, feedback: Some(feedback.into()) }
    }

    /// Whether the score passes, as DSPy's `if metric_threshold: value >= threshold else
    /// value` decides: at least `threshold`, or, with no threshold (or a threshold of 0, which
    /// Python reads as none), any non-zero value (Python's truthiness: -1 passes, 0 fails).
    ///
    /// ```
    /// use dspy_core::evaluate::Score;
    /// assert!(Score::from(0.5).passes(Some(0.5)));
    /// assert!(!Score::from(0.4).passes(Some(0.5)));
    /// assert!(!Score::from(0.0).passes(Some(0.0)), "a threshold of 0 is no threshold");
    /// assert!(Score::from(-1.0).passes(None));
    /// ```
    pub fn passes(&self, threshold: Option<f64>) -> bool {
        match threshold {
            Some(t) if t != 0.0 => self.value >= t,
            _ => self.value != 0.0,
        }
    }
}

impl From<bool> for Score {
    fn from(b: bool) -> Self {
        Score { value: if b { 1.0 } else { 0.0 }, feedback: None }
    }
}

impl From<f64> for Score {
    fn from(value: f64) -> Self {
        Score { value, feedback: None }
    }
}

impl<S: Into<String>> From<(f64, S)> for Score {
    fn from((value, feedback): (f64, S)) -> Self {
        Score::with_feedback(value, feedback)
    }
}

/// Scores a prediction against the example it was made for. During compilation the trace of
/// the run is passed too (DSPy's `trace` argument), so a metric can be stricter when
/// bootstrapping demos.
///
/// Implement it for metric structs (state, an LM judge, an async `try_score`). Closures need
/// not: every API that takes a metric takes [`IntoMetric`], which accepts a metric struct (by
/// value or reference), a typed closure, or a dynamic one,
/// `Fn(&Example, &Prediction, Option<&[TraceEntry]>) -> impl Into<Score>`:
///
/// ```
/// use dspy_core::evaluate::{IntoMetric, Metric, Score};
/// use dspy_core::{Example, Prediction};
/// let exact = |ex: &Example, pred: &Prediction, _trace: Option<&[dspy_core::trace::TraceEntry]>| {
///     ex.get("answer") == pred.get("answer")
/// };
/// let metric = IntoMetric::<Example, _>::into_metric(exact);
/// let ex = Example::new().with("answer", "4");
/// let pred = Prediction::new(serde_json::json!({"answer": "4"}).as_object().unwrap().clone());
/// assert_eq!(metric.score(&ex, &pred, None), Score::from(true));
/// ```
#[async_trait::async_trait]
pub trait Metric: Send + Sync {
    /// The score of `prediction` for `example`.
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score;

    /// The score, for callers that can await and report a failure: metrics that call an LM
    /// (such as `SemanticF1`) override this; by default it is [`Metric::score`]. `Evaluate`
    /// calls this one, and counts an `Err` as a failed example.
    async fn try_score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> crate::Result<Score> {
        Ok(self.score(example, prediction, trace))
    }

    /// Feedback on one predictor of the run, for GEPA's reflection. DSPy calls the metric again
    /// with `pred_name` and `pred_trace` for each predictor it is about to rewrite, so each
    /// stage of a multi-stage program can be told what *it* got wrong; GEPA reads the feedback
    /// and keeps the run's own score. By default: the run's score, with its trace.
    async fn try_score_predictor(&self, example: &Example, prediction: &Prediction, trace: &[TraceEntry], predictor: PredictorCall<'_>) -> crate::Result<Score> {
        let _ = predictor;
        self.try_score(example, prediction, Some(trace)).await
    }

    /// The metric's name, for result tables and files (DSPy uses the function's `__name__`):
    /// a function's name, or `metric` for closures.
    fn name(&self) -> String {
        metric_name(std::any::type_name::<Self>())
    }
}

/// A function's name from its type name; `metric` for closures.
fn metric_name(full: &str) -> String {
    let last = full.rsplit("::").next().unwrap_or(full);
    if full.contains("{{closure}}") || last.is_empty() { "metric".to_string() } else { last.to_string() }
}

/// A dynamic closure as a [`Metric`] (what [`IntoMetric`] makes of one).
struct FnMetric<F, R>(F, std::marker::PhantomData<fn() -> R>);

#[async_trait::async_trait]
impl<F, R> Metric for FnMetric<F, R>
where
    F: Fn(&Example, &Prediction, Option<&[TraceEntry]>) -> R + Send + Sync,
    R: Into<Score>,
{
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score {
        (self.0)(example, prediction, trace).into()
    }

    fn name(&self) -> String {
        metric_name(std::any::type_name::<F>())
    }
}

/// The trace a metric sees: the predictor calls of the run while an optimizer compiles
/// (DSPy's `trace` argument), nothing during evaluation; and, when GEPA asks for feedback on
/// one predictor, that predictor (DSPy's `pred_name` and `pred_trace`). Only metrics that ask
/// for it, in the three-argument typed form, receive it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trace<'a> {
    entries: Option<&'a [TraceEntry]>,
    predictor: Option<PredictorCall<'a>>,
}

/// The predictor an optimizer asks the metric about: its name in the program
/// (`generate_answer.predict`) and the call of it being reflected on (DSPy's `pred_name` and
/// `pred_trace`).
#[derive(Clone, Copy, Debug)]
pub struct PredictorCall<'a> {
    /// The predictor's name, as `named_predictors` gives it.
    pub name: &'a str,
    /// Its call: inputs and outputs.
    pub call: &'a TraceEntry,
}

impl<'a> Trace<'a> {
    /// Whether an optimizer is compiling (DSPy's `trace is not None`): metrics are often
    /// stricter then, so only perfect runs become demos.
    pub fn is_compiling(&self) -> bool {
        self.entries.is_some()
    }

    /// The predictor calls of this run (empty during evaluation).
    pub fn entries(&self) -> &'a [TraceEntry] {
        self.entries.unwrap_or(&[])
    }

    /// The predictor GEPA wants feedback for (DSPy's `pred_name is not None`), so the metric
    /// can say what that stage did wrong; `None` when the whole run is scored.
    pub fn predictor(&self) -> Option<PredictorCall<'a>> {
        self.predictor
    }
}

/// What a metric reads as the prediction, and so which programs it can score: [`Dynamic`] for
/// metrics over the dynamic [`Prediction`] (any program), [`Reads<O>`] for typed metrics
/// (programs whose typed output is `O`).
pub trait MetricKind: Send + Sync + 'static {}

/// The kind of a metric over the dynamic [`Prediction`]: it scores any program.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dynamic;

/// The kind of a typed metric over the output `O`: it scores programs whose typed output is `O`.
pub struct Reads<O>(std::marker::PhantomData<fn() -> O>);

impl MetricKind for Dynamic {}
impl<O: 'static> MetricKind for Reads<O> {}

/// Proof that a metric of this kind can score the program `P`. Checked where a program meets
/// its metric (`Evaluate::run`, an optimizer's `compile`), so a metric over another program's
/// output is a compile error there, not a silent 0 % at run time.
#[diagnostic::on_unimplemented(
    message = "this metric scores `{Self}`, which is not the typed output of `{P}`",
    label = "the program's output is not what the metric reads",
    note = "a typed metric takes `&ExampleType` and `&OutputType`, where `OutputType` is `<{P} as TypedModule>::Output`"
)]
pub trait Scores<P: ?Sized> {}

impl<P: crate::module::Module + ?Sized> Scores<P> for Dynamic {}
impl<P, O> Scores<P> for Reads<O>
where
    P: crate::module::TypedModule + ?Sized,
    P::Output: OutputRead<O>,
{
}

/// `Self`, a program's typed output, is `O`, the output a typed metric reads: the check behind
/// [`Scores`], as a trait of its own so that a mismatch is reported with both types named
/// (an equality bound would read as a `type mismatch resolving` error).
#[diagnostic::on_unimplemented(
    message = "this metric reads `{O}`, but the program's typed output is `{Self}`",
    label = "this program outputs `{Self}`, not `{O}`",
    note = "a typed metric `|gold: &E, pred: &O|` scores the programs whose `TypedModule::Output` is `O`",
    note = "`ChainOfThought<S>` and `ProgramOfThought<S>` output `dspy::Reasoned<..>` (the reasoning, then the signature's outputs): their metrics read `pred: &Reasoned<NameOutput>`"
)]
pub trait OutputRead<O: ?Sized> {}

impl<T: ?Sized> OutputRead<T> for T {}

/// Anything usable as a metric over examples of type `E`: a [`Metric`] (any program's
/// [`Prediction`]), or a closure over the typed gold example and typed output,
/// `|gold: &E, pred: &O| -> bool | f64 | Score | (f64, String)`, or the same with a third
/// [`Trace`] argument, or a dynamic closure over `&Example, &Prediction, Option<&[TraceEntry]>`.
/// Each may be passed by value or by reference. `K` tells the forms apart; it is inferred,
/// never written.
///
/// ```
/// use dspy_core::evaluate::{IntoMetric, Score};
/// use dspy_core::{Example, Prediction, TypedExample};
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// struct CityExample { country: String, city: String }
/// impl TypedExample for CityExample {
///     fn to_example(&self) -> Example { dspy_core::typed_example(self, &["country"]) }
/// }
/// #[derive(serde::Deserialize)]
/// struct CityOutput { city: String }
///
/// let metric = (|gold: &CityExample, pred: &CityOutput| gold.city == pred.city).into_metric();
/// let gold = Example::new().with("country", "France").with("city", "Paris");
/// let pred = Prediction::new(serde_json::json!({"city": "Paris"}).as_object().unwrap().clone());
/// assert_eq!(metric.score(&gold, &pred, None), Score::from(true));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a metric over `{E}`",
    label = "not a metric for this data",
    note = "a metric is a `Metric`, a closure `|gold: &{E}, pred: &Output|` returning `bool`, `f64`, `Score` or `(f64, String)` (optionally with a third `Trace` argument), or a dynamic closure `|example: &Example, pred: &Prediction, trace: Option<&[TraceEntry]>|`",
    note = "`{E}` is the type of the dataset's rows; `Output` is the program's typed output (`NameOutput` for `Predict<Name>`)"
)]
pub trait IntoMetric<'a, E, K> {
    /// What the metric reads ([`Dynamic`] or [`Reads<O>`]).
    type Kind: MetricKind;
    /// The metric, over the dynamic examples and predictions the runtime works on.
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a>;
}

/// The form marker of a [`Metric`] used as a metric.
pub struct AsMetric;
/// The form marker of a metric already shared or borrowed (`Arc<dyn Metric>`, `&dyn Metric`).
pub struct Shared;
/// The form marker of a dynamic closure (over `&Example, &Prediction, Option<&[TraceEntry]>`).
pub struct DynamicForm<R>(std::marker::PhantomData<fn() -> R>);
/// The form marker of a typed two-argument closure.
pub struct TypedForm<O, R>(std::marker::PhantomData<fn() -> (O, R)>);
/// The form marker of a typed closure that also reads the [`Trace`].
pub struct TracedForm<O, R>(std::marker::PhantomData<fn() -> (O, R)>);

// Every impl is `do_not_recommend`: a value that is not a metric is reported as that (the
// message above, at the user's argument), not as a failed bound of one impl picked at random,
// nor with a list of the impls.
#[diagnostic::do_not_recommend]
impl<'a, E, M> IntoMetric<'a, E, AsMetric> for M
where
    M: Metric + 'a,
{
    type Kind = Dynamic;
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a> {
        std::sync::Arc::new(self)
    }
}

#[diagnostic::do_not_recommend]
impl<'a, E, F, R> IntoMetric<'a, E, DynamicForm<R>> for F
where
    F: Fn(&Example, &Prediction, Option<&[TraceEntry]>) -> R + Send + Sync + 'a,
    R: Into<Score> + 'a,
{
    type Kind = Dynamic;
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a> {
        std::sync::Arc::new(FnMetric(self, std::marker::PhantomData))
    }
}

#[diagnostic::do_not_recommend]
impl<'a, E> IntoMetric<'a, E, Shared> for std::sync::Arc<dyn Metric + 'a> {
    type Kind = Dynamic;
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a> {
        self
    }
}

#[diagnostic::do_not_recommend]
impl<'a, E> IntoMetric<'a, E, Shared> for &'a (dyn Metric + 'a) {
    type Kind = Dynamic;
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a> {
        std::sync::Arc::new(Borrowed(self))
    }
}

/// The form marker of a metric struct passed by reference (`&SemanticF1::new(..)`).
pub struct ByRef;

#[diagnostic::do_not_recommend]
impl<'a, E, M: Metric + 'a> IntoMetric<'a, E, ByRef> for &'a M {
    type Kind = Dynamic;
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a> {
        std::sync::Arc::new(Borrowed(self))
    }
}

/// A borrowed metric, scoring as the metric it borrows.
struct Borrowed<'a>(&'a (dyn Metric + 'a));

#[async_trait::async_trait]
impl Metric for Borrowed<'_> {
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score {
        self.0.score(example, prediction, trace)
    }

    async fn try_score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> crate::Result<Score> {
        self.0.try_score(example, prediction, trace).await
    }

    async fn try_score_predictor(&self, example: &Example, prediction: &Prediction, trace: &[TraceEntry], predictor: PredictorCall<'_>) -> crate::Result<Score> {
        self.0.try_score_predictor(example, prediction, trace, predictor).await
    }

    fn name(&self) -> String {
        self.0.name()
    }
}

#[diagnostic::do_not_recommend]
impl<'a, E, O, R, F> IntoMetric<'a, E, TypedForm<O, R>> for F
where
    F: Fn(&E, &O) -> R + Send + Sync + 'a,
    E: TypedExample + 'a,
    O: DeserializeOwned + 'static,
    R: Into<Score> + 'a,
{
    type Kind = Reads<O>;
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a> {
        std::sync::Arc::new(TypedMetric::<E, O, _>::new(move |gold: &E, pred: &O, _trace: Trace<'_>| self(gold, pred).into(), std::any::type_name::<F>()))
    }
}

#[diagnostic::do_not_recommend]
impl<'a, E, O, R, F> IntoMetric<'a, E, TracedForm<O, R>> for F
where
    F: Fn(&E, &O, Trace<'_>) -> R + Send + Sync + 'a,
    E: TypedExample + 'a,
    O: DeserializeOwned + 'static,
    R: Into<Score> + 'a,
{
    type Kind = Reads<O>;
    fn into_metric(self) -> std::sync::Arc<dyn Metric + 'a> {
        std::sync::Arc::new(TypedMetric::<E, O, _>::new(move |gold: &E, pred: &O, trace: Trace<'_>| self(gold, pred, trace).into(), std::any::type_name::<F>()))
    }
}

/// A typed metric seen by the dynamic runtime: reads the gold example and the prediction into
/// `E` and `O`, then scores them. A row that does not read as `E` or `O` is an error (counted as a
/// failed example), never a silent 0.
struct TypedMetric<E, O, F> {
    score: F,
    name: &'static str,
    _types: std::marker::PhantomData<fn(&E, &O)>,
}

impl<E, O, F> TypedMetric<E, O, F> {
    fn new(score: F, name: &'static str) -> Self {
        TypedMetric { score, name, _types: std::marker::PhantomData }
    }
}

impl<E, O, F> TypedMetric<E, O, F>
where
    E: TypedExample,
    O: DeserializeOwned,
    F: Fn(&E, &O, Trace<'_>) -> Score,
{
    fn typed_score(&self, example: &Example, prediction: &Prediction, trace: Trace<'_>) -> crate::Result<Score> {
        let gold = E::from_example(example)?;
        let pred: O = prediction.to_typed()?;
        Ok((self.score)(&gold, &pred, trace))
    }
}

#[async_trait::async_trait]
impl<E, O, F> Metric for TypedMetric<E, O, F>
where
    E: TypedExample,
    O: DeserializeOwned,
    F: Fn(&E, &O, Trace<'_>) -> Score + Send + Sync,
{
    /// On a row that does not read as the metric's types: 0, with the reason as feedback.
    fn score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> Score {
        self.typed_score(example, prediction, Trace { entries: trace, predictor: None }).unwrap_or_else(|e| Score::with_feedback(0.0, e.to_string()))
    }

    async fn try_score(&self, example: &Example, prediction: &Prediction, trace: Option<&[TraceEntry]>) -> crate::Result<Score> {
        self.typed_score(example, prediction, Trace { entries: trace, predictor: None })
    }

    async fn try_score_predictor(&self, example: &Example, prediction: &Prediction, trace: &[TraceEntry], predictor: PredictorCall<'_>) -> crate::Result<Score> {
        self.typed_score(example, prediction, Trace { entries: Some(trace), predictor: Some(predictor) })
    }

    fn name(&self) -> String {
        metric_name(self.name)
    }
}
