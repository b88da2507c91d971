//! Typed end to end: generated example rows, typed metrics, `Evaluate` and the optimizers over
//! typed data, and the one `TypedModule` trait (call, call_blocking, batch, stream, with_lm) on the
//! built-in modules and on `#[module]` programs with typed `forward`s.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dspy::evaluate::Trace;
use dspy::module::{Attempts, Parallel, StreamItem};
use dspy::optimizers::{BootstrapFewShot, LabeledFewShot, Optimizer};
use dspy::prelude::*;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Name the capital city of the country.
#[derive(Signature)]
struct Capital {
    #[input]
    country: String,
    #[output]
    city: String,
    #[output(unlabeled)]
    population: Option<u64>,
    #[output(unlabeled)]
    note: String,
}

signature! { pub Count = "text -> words: int" }
signature! { pub Describe = "city -> description" }

fn capitals() -> Vec<CapitalExample> {
    [("France", "Paris"), ("Spain", "Madrid"), ("Peru", "Lima"), ("Japan", "Tokyo")]
        .into_iter()
        .map(|(country, city)| CapitalExample { country: country.into(), city: city.into(), population: None, note: None })
        .collect()
}

/// A DummyLM answering each country's capital (and getting Peru wrong).
fn capital_lm() -> DummyLM {
    DummyLM::by_substring(vec![
        ("France".into(), json!({"city": "Paris", "population": 2_100_000, "note": "-"})),
        ("Spain".into(), json!({"city": "Madrid", "population": null, "note": "-"})),
        ("Peru".into(), json!({"city": "Cusco", "population": null, "note": "-"})),
        ("Japan".into(), json!({"city": "Tokyo", "population": null, "note": "-"})),
    ])
}

// --- typed rows ------------------------------------------------------------------------------

#[test]
fn the_derive_generates_an_example_row_with_its_inputs_marked() {
    let row = CapitalExample { country: "France".into(), city: "Paris".into(), population: None, note: None };
    let example = row.to_example();
    assert_eq!(example.input_keys(), Some(&["country".to_string()][..]));
    assert_eq!(example.get_str("city"), Some("Paris"));
    // Unlabeled outputs are optional in the row, and absent from the example when unknown.
    assert!(!example.contains("population") && !example.contains("note"));
    let back = CapitalExample::from_example(&example).unwrap();
    assert_eq!((back.country.as_str(), back.city.as_str(), back.note), ("France", "Paris", None));
    // A row gives the program's inputs.
    let input: CapitalInput = (&row).into();
    assert_eq!(input.country, "France");
}

#[test]
fn typed_rows_load_from_jsonl_with_missing_unlabeled_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capitals.jsonl");
    std::fs::write(&path, "{\"country\": \"France\", \"city\": \"Paris\"}\n{\"country\": \"Chile\", \"city\": \"Santiago\", \"population\": 6000000}\n").unwrap();
    let rows: Vec<CapitalExample> = dspy::data::load(&path).unwrap();
    assert_eq!(rows[1].population, Some(6_000_000));
    assert_eq!(rows[0].population, None);
    // A row without a gold label that is not `unlabeled` is an error naming the line and field.
    std::fs::write(&path, "{\"country\": \"France\", \"city\": \"Paris\"}\n{\"country\": \"Chile\"}\n").unwrap();
    let err = dspy::data::load::<CapitalExample>(&path).unwrap_err().to_string();
    assert!(err.contains(":2") && err.contains("city"), "{err}");
}

// --- typed metrics and Evaluate --------------------------------------------------------------

#[tokio::test]
async fn evaluate_runs_a_typed_metric_over_typed_rows() {
    let program = Predict::<Capital>::new().with_lm(capital_lm());
    let metric = |gold: &CapitalExample, pred: &CapitalOutput| gold.city == pred.city;
    let result = Evaluate::new(capitals(), metric).num_threads(2).run(&program).await.unwrap();
    assert_eq!(result.score, 75.0);
    assert_eq!(result.results[2].score.value, 0.0);
    assert_eq!(result.results[2].prediction.get_str("city"), Some("Cusco"));
}

#[tokio::test]
async fn typed_metrics_may_return_scores_with_feedback() {
    let program = Predict::<Capital>::new().with_lm(capital_lm());
    let graded = |gold: &CapitalExample, pred: &CapitalOutput| {
        if gold.city == pred.city { (1.0, "right".to_string()) } else { (0.0, format!("expected {}, got {}", gold.city, pred.city)) }
    };
    let result = Evaluate::new(capitals(), graded).run(&program).await.unwrap();
    assert_eq!(result.results[2].score.feedback.as_deref(), Some("expected Lima, got Cusco"));
    let as_f64 = |gold: &CapitalExample, pred: &CapitalOutput| if gold.city == pred.city { 0.5 } else { 0.0 };
    assert_eq!(Evaluate::new(capitals(), as_f64).run(&program).await.unwrap().score, 37.5);
}

#[tokio::test]
async fn a_row_that_does_not_read_as_the_metrics_types_is_an_error_not_a_zero() {
    let program = Predict::parse("country -> town").unwrap().with_lm(DummyLM::new(vec![json!({"town": "Paris"})]));
    // A dynamic program whose prediction has `town`, scored by a metric that reads `city`.
    let metric = dspy::evaluate::IntoMetric::<CapitalExample, _>::into_metric(|gold: &CapitalExample, pred: &CapitalOutput| gold.city == pred.city);
    let prediction = program.forward(&Example::new().with("country", "France")).await.unwrap();
    let gold = Example::new().with("country", "France").with("city", "Paris");
    let err = metric.try_score(&gold, &prediction, None).await.unwrap_err();
    assert!(err.to_string().contains("missing field `city`"), "{err}");
    // `score` (for callers that cannot fail) says why in the feedback.
    let score = metric.score(&gold, &prediction, None);
    assert_eq!(score.value, 0.0);
    assert!(score.feedback.unwrap().contains("missing field `city`"));
}

#[tokio::test]
async fn the_trace_form_sees_whether_an_optimizer_is_compiling() {
    let seen = Arc::new(AtomicUsize::new(0));
    let compiling = Arc::new(AtomicUsize::new(0));
    let (s, c) = (seen.clone(), compiling.clone());
    let metric = move |gold: &CapitalExample, pred: &CapitalOutput, trace: Trace<'_>| {
        s.fetch_add(1, Ordering::SeqCst);
        if trace.is_compiling() {
            assert!(!trace.entries().is_empty());
            c.fetch_add(1, Ordering::SeqCst);
        }
        gold.city == pred.city
    };
    let program = Predict::<Capital>::new().with_lm(capital_lm());
    Evaluate::new(capitals(), metric.clone()).run(&program).await.unwrap();
    assert_eq!((seen.load(Ordering::SeqCst), compiling.load(Ordering::SeqCst)), (4, 0));
    let compiled = BootstrapFewShot::new().max_bootstrapped_demos(2).max_labeled_demos(0).compile(&program, &capitals(), metric).await.unwrap();
    assert!(compiling.load(Ordering::SeqCst) > 0);
    assert_eq!(compiled.program.demos().len(), 2);
}

// --- optimizers over typed data ---------------------------------------------------------------

#[tokio::test]
async fn optimizers_compile_typed_programs_and_return_the_same_typed_program() {
    let student = Predict::<Capital>::new().with_lm(capital_lm());
    let metric = |gold: &CapitalExample, pred: &CapitalOutput| gold.city == pred.city;
    let compiled = LabeledFewShot::new(3).compile(&student, &capitals(), metric).await.unwrap();
    let program: Predict<Capital> = compiled.program;
    assert_eq!(program.demos().len(), 3);
    assert!(program.demos()[0].input_keys().is_some());
    // Still typed, and it still saves and loads.
    let out = program.call(CapitalInput { country: "France".into() }).await.unwrap();
    assert_eq!(out.city, "Paris");
    let dir = tempfile::tempdir().unwrap();
    program.save(dir.path().join("capital.json")).unwrap();
    let mut loaded = Predict::<Capital>::new();
    loaded.load(dir.path().join("capital.json")).unwrap();
    let data = |demos: &[Example]| demos.iter().map(|d| d.data().clone()).collect::<Vec<_>>();
    assert_eq!(data(loaded.demos()), data(program.demos()));
}

#[tokio::test]
async fn the_valset_is_an_option_of_the_compilation() {
    let student = Predict::<Capital>::new().with_lm(capital_lm());
    let metric = |gold: &CapitalExample, pred: &CapitalOutput| gold.city == pred.city;
    let all = capitals();
    let (train, val) = all.split_at(2);
    let compiled = dspy::optimizers::BootstrapFewShotWithRandomSearch::new()
        .num_candidate_programs(2)
        .compile(&student, train, metric)
        .valset(val)
        .await
        .unwrap();
    let trials = &compiled.report.trials;
    assert!(!trials.is_empty());
    // Scored on the two valset rows (one of them, Peru, answered wrong): 50 %.
    assert!(trials.iter().all(|t| (t.score - 50.0).abs() < 1e-9 && t.num_examples == 2), "{:?}", trials.iter().map(|t| t.score).collect::<Vec<_>>());
}

// --- the TypedModule trait on the built-in modules -------------------------------------------------

#[tokio::test]
async fn predict_calls_batches_and_streams_through_the_program_trait() {
    let p = Predict::<Capital>::new().with_lm(capital_lm());
    let out = p.call(CapitalInput { country: "Spain".into() }).await.unwrap();
    assert_eq!(out.city, "Madrid");
    let many = p.batch(capitals().iter().map(CapitalInput::from), 2).await;
    let cities: Vec<String> = many.into_iter().map(|r| r.unwrap().city.clone()).collect();
    assert_eq!(cities, ["Paris", "Madrid", "Cusco", "Tokyo"]);
    let items: Vec<_> = p.stream(CapitalInput { country: "Japan".into() }).collect().await;
    match items.last() {
        Some(Ok(StreamItem::Done(done))) => assert_eq!(done.city, "Tokyo"),
        other => panic!("no typed final item: {other:?}"),
    }
}

#[test]
fn chain_of_thought_is_a_program_with_the_reasoning() {
    let lm = DummyLM::new(vec![json!({"reasoning": "Count them.", "words": "3"})]);
    let cot = ChainOfThought::<Count>::new().with_lm(lm);
    let out = cot.call_blocking("one two three").unwrap();
    assert_eq!((out.reasoning.as_str(), out.words), ("Count them.", 3));
}

#[test]
fn multi_chain_comparison_takes_attempts_and_inputs() {
    let lm = DummyLM::new(vec![json!({"rationale": "Both agree.", "words": "2"})]);
    let mcc = MultiChainComparison::<Count>::new(2).unwrap().with_lm(lm);
    let attempts = vec![json!({"reasoning": "two", "words": 2}), json!({"reasoning": "2", "words": 2})];
    let input: Attempts<CountInput> = (attempts, "hello world").into();
    let out = mcc.call_blocking(input).unwrap();
    assert_eq!((out.rationale.as_str(), out.words), ("Both agree.", 2));
}

#[test]
fn best_of_n_and_refine_keep_their_modules_types() {
    let lm = DummyLM::new(vec![json!({"words": "7"}), json!({"words": "2"})]);
    let two = |_: &Example, p: &Prediction| if p.get("words") == Some(&json!(2)) { 1.0 } else { 0.0 };
    let best = BestOfN::new(Predict::<Count>::new(), 3, two, 1.0).with_lm(lm);
    let out: Predicted<CountOutput> = best.call_blocking("hello world").unwrap();
    assert_eq!(out.words, 2);
    let lm = DummyLM::new(vec![json!({"words": "2"})]);
    let refine = Refine::new(Predict::<Count>::new(), 2, two, 1.0).with_lm(lm);
    assert_eq!(refine.call_blocking("hello world").unwrap().words, 2);
}

#[test]
fn parallel_over_a_module_maps_its_inputs_in_order_with_none_for_failures() {
    let lm = DummyLM::by_substring(vec![("alpha".into(), json!({"words": "1"})), ("beta gamma".into(), json!({"words": "two"}))]);
    let each = Parallel::new().num_threads(2).over(Predict::<Count>::new()).with_lm(lm);
    let out = each.call_blocking(vec!["alpha".into(), "beta gamma".into(), CountInput { text: "alpha".into() }]).unwrap();
    let words: Vec<Option<i64>> = out.iter().map(|o| o.as_ref().map(|o| o.words)).collect();
    assert_eq!(words, [Some(1), None, Some(1)]);
    assert_eq!(each.named_predictors().len(), 1);
}

// --- #[module] programs with typed forwards ---------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Guide {
    city: String,
    description: String,
}

#[module]
struct CityGuide {
    capital: Predict<Capital>,
    describe: ChainOfThought<Describe>,
}

#[module]
impl CityGuide {
    async fn forward(&self, country: String) -> Result<Guide> {
        let capital = self.capital.call(CapitalInput { country }).await?;
        let described = self.describe.call(capital.city.clone()).await?;
        Ok(Guide { city: capital.city.clone(), description: described.description.clone() })
    }
}

fn guide_lm() -> DummyLM {
    DummyLM::by_substring(vec![
        ("[[ ## country ## ]]\nFrance".into(), json!({"city": "Paris", "population": null, "note": "-"})),
        ("[[ ## city ## ]]\nParis".into(), json!({"reasoning": "Known.", "description": "City of light"})),
    ])
}

#[tokio::test]
async fn a_module_with_a_typed_forward_is_a_program() {
    let guide = CityGuide { capital: Predict::new(), describe: ChainOfThought::new() }.with_lm(guide_lm());
    let out: Predicted<Guide> = guide.call("France").await.unwrap();
    assert_eq!(*out, Guide { city: "Paris".into(), description: "City of light".into() });
    // The dynamic path (what optimizers and Evaluate run) returns the same fields.
    let dynamic = Module::forward(&guide, &Example::new().with("country", "France")).await.unwrap();
    assert_eq!(dynamic.get_str("description"), Some("City of light"));
    // A typed metric over the module's own output type.
    let rows = vec![GuideRow { country: "France".into(), city: "Paris".into() }];
    let metric = |gold: &GuideRow, pred: &Guide| gold.city == pred.city;
    assert_eq!(Evaluate::new(rows, metric).run(&guide).await.unwrap().score, 100.0);
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct GuideRow {
    country: String,
    city: String,
}

impl TypedExample for GuideRow {
    fn to_example(&self) -> Example {
        dspy::typed_example(self, &["country"])
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Trip {
    country: String,
    days: u32,
}

#[module]
struct Planner {
    capital: Predict<Capital>,
}

#[module]
impl Planner {
    async fn forward(&self, #[flatten] trip: Trip) -> Result<Predicted<CapitalOutput>> {
        let mut out = self.capital.call(CapitalInput { country: trip.country }).await?;
        out.note = format!("{} days", trip.days);
        Ok(out)
    }
}

#[module]
struct TwoArgs {
    count: Predict<Count>,
}

#[module]
impl TwoArgs {
    async fn forward(&self, text: String, times: i64) -> Result<CountOutput> {
        let out = self.count.call(text).await?;
        Ok(CountOutput { words: out.words * times })
    }
}

#[tokio::test]
async fn typed_forwards_take_a_flattened_struct_or_several_arguments() {
    let planner = Planner { capital: Predict::new() }.with_lm(capital_lm());
    let out = planner.call(Trip { country: "Spain".into(), days: 3 }).await.unwrap();
    assert_eq!((out.city.as_str(), out.note.as_str()), ("Madrid", "3 days"));
    let dynamic = Module::forward(&planner, &Example::new().with("country", "Spain").with("days", 3)).await.unwrap();
    assert_eq!(dynamic.get_str("city"), Some("Madrid"));
    let err = Module::forward(&planner, &Example::new().with("country", "Spain")).await.unwrap_err();
    assert!(err.to_string().contains("days"), "{err}");

    let two = TwoArgs { count: Predict::new() }.with_lm(DummyLM::new(vec![json!({"words": "2"}), json!({"words": "2"})]));
    assert_eq!(two.call(("a b".to_string(), 3)).await.unwrap().words, 6);
    let dynamic = Module::forward(&two, &Example::new().with("text", "a b").with("times", 5)).await.unwrap();
    assert_eq!(dynamic.get("words"), Some(&json!(10)));
}

#[tokio::test]
async fn optimizers_compile_a_typed_module_into_the_same_type() {
    let guide = CityGuide { capital: Predict::new(), describe: ChainOfThought::new() }.with_lm(guide_lm());
    let rows = vec![GuideRow { country: "France".into(), city: "Paris".into() }];
    let metric = |gold: &GuideRow, pred: &Guide| gold.city == pred.city;
    let compiled: dspy::optimizers::Compiled<CityGuide> =
        BootstrapFewShot::new().max_bootstrapped_demos(1).compile(&guide, &rows, metric).await.unwrap();
    assert_eq!(compiled.program.capital.demos().len(), 1);
    assert_eq!(compiled.program.describe.predict.demos().len(), 1);
    assert_eq!(compiled.program.call("France").await.unwrap().city, "Paris");
}

/// A metric struct (with state), usable by value or by reference like every other form.
struct CityMatches;

impl Metric for CityMatches {
    fn score(&self, example: &Example, prediction: &Prediction, _trace: Option<&[dspy::trace::TraceEntry]>) -> Score {
        Score::from(example.get("city") == prediction.get("city"))
    }
}

#[tokio::test]
async fn every_metric_form_goes_by_value_or_by_reference() {
    let program = Predict::<Capital>::new().with_lm(capital_lm());
    let typed = |gold: &CapitalExample, pred: &CapitalOutput| gold.city == pred.city;
    let dynamic = |ex: &Example, pred: &Prediction, _t: Option<&[dspy::trace::TraceEntry]>| ex.get("city") == pred.get("city");
    let scores = [
        Evaluate::new(capitals(), typed).run(&program).await.unwrap().score,
        Evaluate::new(capitals(), dynamic).run(&program).await.unwrap().score,
        Evaluate::new(capitals(), CityMatches).run(&program).await.unwrap().score,
        Evaluate::new(capitals(), dspy::evaluate::answer_exact_match).run(&program).await.unwrap().score,
    ];
    assert_eq!(scores[..3], [75.0, 75.0, 75.0]);
    // `answer_exact_match` reads `answer`, which this task does not have: every row fails to score.
    assert_eq!(scores[3], 0.0);
    for compiled in [
        LabeledFewShot::new(2).compile(&program, &capitals(), &typed).await.unwrap(),
        LabeledFewShot::new(2).compile(&program, &capitals(), &dynamic).await.unwrap(),
        LabeledFewShot::new(2).compile(&program, &capitals(), &CityMatches).await.unwrap(),
        LabeledFewShot::new(2).compile(&program, &capitals(), CityMatches).await.unwrap(),
    ] {
        assert_eq!(compiled.program.demos().len(), 2);
    }
}
