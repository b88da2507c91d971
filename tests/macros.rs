//! The macros end to end: `#[derive(Signature)]` and `signature!` build the same run-time
//! signatures as hand-written code and `Signature::parse`, and typed calls return typed outputs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use dspy::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn lm(answers: Vec<Value>) -> Arc<DummyLM> {
    Arc::new(DummyLM::new(answers))
}

/// The fields of a signature without its name (string signatures are all `StringSignature`).
fn same_fields(a: &Signature, b: &Signature) {
    assert_eq!(a.instructions(), b.instructions());
    assert_eq!(a.fields(), b.fields());
}

// --- #[derive(Signature)] -------------------------------------------------------------------

/// Answer questions with short factoid answers.
#[derive(Signature)]
struct BasicQA {
    #[input]
    question: String,
    #[output(desc = "often between 1 and 5 words")]
    answer: String,
}

#[test]
fn derived_signature_equals_hand_built() {
    let want = Signature::from_fields(
        "BasicQA",
        Some("Answer questions with short factoid answers.".into()),
        [
            Field::input("question", FieldType::Str),
            Field::output("answer", FieldType::Str).desc("often between 1 and 5 words"),
        ],
    )
    .unwrap();
    assert_eq!(*BasicQA::signature(), want);
    assert_eq!(BasicQA::signature().name(), "BasicQA");
    let answer = BasicQA::signature().field("answer").unwrap().clone();
    assert_eq!(answer.prefix, "Answer:");
}

#[derive(Signature)]
struct AllTypes {
    #[input]
    context: Vec<String>,
    #[input]
    count: i32,
    #[input]
    ratio: f32,
    #[input]
    flag: bool,
    #[input]
    tags: HashSet<String>,
    #[input]
    queue: VecDeque<u8>,
    #[input]
    ordered: BTreeSet<i64>,
    #[output]
    maybe: Option<Vec<usize>>,
    #[output]
    scores: HashMap<String, f64>,
    #[output]
    nested: BTreeMap<String, Vec<Option<bool>>>,
    #[output]
    raw: serde_json::Value,
    #[output]
    boxed: Box<i64>,
    #[output]
    path: std::string::String,
}

#[test]
fn derived_types_match_the_string_grammar() {
    let parsed = Signature::parse(
        "context: list[str], count: int, ratio: float, flag: bool, tags: set[str], queue: list[int], \
         ordered: list[int] -> maybe: Optional[list[int]], scores: dict[str, float], \
         nested: dict[str, list[Optional[bool]]], raw: Any, boxed: int, path: str",
    )
    .unwrap();
    let derived = AllTypes::signature();
    assert_eq!(derived.name(), "AllTypes");
    // No doc comment: DSPy's default instructions, as for a string signature.
    same_fields(derived, &parsed);
    assert_eq!(derived.field("maybe").unwrap().ty.name(), "Union[list[int], NoneType]");
}

/// Summarize the document.
///
/// Keep it short:
///   - one sentence
///   - no jargon
#[derive(Signature)]
#[allow(dead_code)]
struct Summarize {
    /// The document
    /// to summarize.
    #[input(prefix = "Doc:")]
    document: String,
    /// Ignored: `desc` wins over the doc comment.
    #[output(desc = "one sentence")]
    summary: String,
    #[output(rename = "keyWords")]
    keywords: Vec<String>,
    #[output]
    r#type: String,
}

#[test]
fn docs_become_instructions_and_descriptions() {
    let sig = Summarize::signature();
    assert_eq!(sig.instructions(), "Summarize the document.\n\nKeep it short:\n  - one sentence\n  - no jargon");
    let document = sig.field("document").unwrap();
    assert_eq!(document.desc.as_deref(), Some("The document\nto summarize."));
    assert_eq!(document.prefix, "Doc:");
    assert_eq!(sig.field("summary").unwrap().desc.as_deref(), Some("one sentence"));
    // `rename` is the name in prompts; the prefix is inferred from it.
    let keywords = sig.field("keyWords").unwrap();
    assert_eq!(keywords.prefix, "Key Words:");
    assert_eq!(keywords.description(), "");
    // Raw identifiers lose their `r#`.
    assert!(sig.field("type").is_some());
    assert_eq!(sig.to_short_string(), "document -> summary, keyWords, type");
}

#[test]
fn rename_applies_to_outputs_and_examples() {
    let out: SummarizeOutput = serde_json::from_value(json!({"summary": "s", "keyWords": ["a"], "type": "t"})).unwrap();
    assert_eq!(out.keywords, ["a"]);
    assert_eq!(out.r#type, "t");
    let example: Example =
        Summarize { document: "d".into(), summary: "s".into(), keywords: vec!["k".into()], r#type: "t".into() }.into();
    assert_eq!(example.keys().collect::<Vec<_>>(), ["document", "summary", "keyWords", "type"]);
    assert_eq!(example.input_keys(), Some(&["document".to_string()][..]));
    assert_eq!(example.get("keyWords"), Some(&json!(["k"])));
}

#[test]
fn a_derived_struct_is_a_labelled_example() {
    let example: Example = BasicQA { question: "What is 2+2?".into(), answer: "4".into() }.into();
    let want = Example::new().with("question", "What is 2+2?").with("answer", "4").with_inputs(["question"]);
    assert_eq!(example, want);
    assert_eq!(example.labels().get_str("answer"), Some("4"));
}

/// A claim's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Label {
    Supported,
    Refuted,
}

/// A source for a verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Citation {
    source: String,
    page: u32,
}

/// Check the claim against the evidence.
#[derive(Signature)]
struct FactCheck {
    #[input]
    claim: String,
    #[input]
    evidence: Vec<String>,
    #[output]
    label: Label,
    #[output]
    supported: bool,
    #[output]
    confidence: u8,
    #[output]
    citations: Vec<Citation>,
    #[output]
    note: Option<String>,
    #[output]
    pages: Option<Vec<u32>>,
}

#[test]
fn named_types_use_their_schemas() {
    let sig = FactCheck::signature();
    // A unit enum is a literal, a struct a named model.
    assert_eq!(sig.field("label").unwrap().ty.name(), "Literal['supported', 'refuted']");
    let citations = &sig.field("citations").unwrap().ty;
    assert_eq!(citations.name(), "list[Citation]");
    assert_eq!(citations.json_schema()["$defs"]["Citation"]["properties"]["page"]["title"], "Page");
}

#[tokio::test]
async fn typed_calls_return_typed_outputs() {
    let answer = json!({
        "label": "refuted",
        "supported": false,
        "confidence": 7,
        "citations": [{"source": "atlas", "page": 12}],
        "note": "checked",
        "pages": null,
    });
    let check = Predict::<FactCheck>::new().with_lm(lm(vec![answer]));
    let out = check
        .call(FactCheckInput { claim: "The sky is green.".into(), evidence: vec!["The sky is blue.".into()] })
        .await
        .unwrap();
    let label: &Label = &out.label;
    assert_eq!(*label, Label::Refuted);
    assert!(!out.supported);
    assert_eq!(out.confidence, 7u8);
    assert_eq!(out.citations, vec![Citation { source: "atlas".into(), page: 12 }]);
    assert_eq!(out.note.as_deref(), Some("checked"));
    assert_eq!(out.pages, None);
    // The dynamic prediction is still there.
    assert_eq!(out.prediction().get("label"), Some(&json!("refuted")));
}

#[tokio::test]
async fn typed_demos_come_from_the_struct() {
    let demo = BasicQA { question: "Capital of France?".into(), answer: "Paris".into() };
    let qa = Predict::<BasicQA>::new().with_demos([demo]).with_lm(Arc::new(DummyLM::follow_examples()));
    let out = qa.call(BasicQAInput { question: "Capital of France?".into() }).await.unwrap();
    assert_eq!(out.answer, "Paris");
}

#[test]
fn the_crate_path_can_be_overridden() {
    mod reexport {
        pub use dspy as runtime;
    }
    #[derive(Signature)]
    #[signature(crate = "reexport::runtime")]
    struct Renamed {
        #[input]
        a: String,
        #[output]
        b: i64,
    }
    assert_eq!(Renamed::signature().to_short_string(), "a -> b");
    let _ = Renamed { a: String::new(), b: 0 };
}

// --- signature! -----------------------------------------------------------------------------

#[tokio::test]
async fn expression_form_is_typed() {
    let qa = Predict::typed(signature!("question -> answer: bool")).with_lm(lm(vec![json!({"answer": true})]));
    let out = qa.call(("Is water wet?",)).await.unwrap();
    let b: bool = out.answer;
    assert!(b);
    // A single `str` input also converts from `&str` and `String`.
    let qa = qa.with_lm(lm(vec![json!({"answer": false}), json!({"answer": true})]));
    assert!(!qa.call("Is fire cold?").await.unwrap().answer);
    assert!(qa.call(String::from("Is ice cold?")).await.unwrap().answer);
}

#[tokio::test]
async fn expression_form_converts_tuples_of_inputs() {
    let answer = json!({"answer": 3, "sources": ["a", "b"], "extra": null, "pair": [1, "x"]});
    let rag = Predict::typed(signature!(
        "context: list[str], question, k: int -> answer: int, sources: list[str], extra: Optional[float], pair: tuple[int, str]"
    ))
    .with_lm(lm(vec![answer]));
    let out = rag.call((vec!["c1".to_string()], "How many?", 3)).await.unwrap();
    let (answer, sources, extra, pair): (i64, Vec<String>, Option<f64>, (i64, String)) =
        (out.answer, out.sources.clone(), out.extra, out.pair.clone());
    assert_eq!(answer, 3);
    assert_eq!(sources, ["a", "b"]);
    assert_eq!(extra, None);
    assert_eq!(pair, (1, "x".to_string()));
}

/// The expression form's signature equals `Signature::parse` for every supported type.
#[test]
fn string_signatures_equal_the_runtime_parser() {
    fn sig_of<S: TypedSignature>(_: S) -> &'static Signature {
        S::signature()
    }
    macro_rules! check {
        ($($s:literal),* $(,)?) => {$(
            let compiled = sig_of(signature!($s));
            let parsed = Signature::parse($s).unwrap();
            assert_eq!(*compiled, parsed, "{}", $s);
        )*};
    }
    check!(
        "question -> answer",
        "context: list[str], question: str -> answer: int",
        "a: float, b: bool -> c: dict[str, list[int]]",
        "a: List[str], b: Dict[str, float], c: set[int] -> d: Any",
        "a: Optional[int], b: int | None, c: None | str -> d: Optional[Optional[float]]",
        "a: typing.Optional[str] -> b: Union[int, None]",
        "a -> b: Literal['positive', 'negative', \"it's\"]",
        "a -> b: Literal[1, 2, 3], c: Literal[True, False], d: Literal[0.5, 1]",
        "a -> b: Literal['x', None], c: Literal['x', 1]",
        "a -> b: tuple[int, str], c: tuple[int, Ellipsis], d: Tuple[bool]",
        "a -> b: list, c: dict, d: Sequence[str], e: Mapping[str, int]",
        "-> only_output",
        "a, -> b,",
    );
}

#[test]
fn literal_fields_keep_their_literal_type() {
    fn sig_of<S: TypedSignature>(_: S) -> &'static Signature {
        S::signature()
    }
    let sig = sig_of(signature!("text -> sentiment: Literal['positive', 'negative'], stars: Literal[1, 2, 3]"));
    assert_eq!(sig.field("sentiment").unwrap().ty, FieldType::Literal(vec![json!("positive"), json!("negative")]));
    let out: Predicted<_> = {
        let p =
            Predict::typed(signature!("text -> sentiment: Literal['positive', 'negative'], stars: Literal[1, 2, 3]"))
                .with_lm(lm(vec![json!({"sentiment": "positive", "stars": 3})]));
        p.call_blocking("Great!").unwrap()
    };
    let (s, n): (&String, i64) = (&out.sentiment, out.stars);
    assert_eq!((s.as_str(), n), ("positive", 3));
}

mod models {
    use super::*;

    /// How sure the model is.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    pub struct Assessment {
        pub verdict: Label,
        pub score: f64,
    }
}

#[tokio::test]
async fn string_signatures_name_rust_types() {
    let judge = Predict::typed(signature!("claim -> assessment: models.Assessment, labels: list[Label]"))
        .with_lm(lm(vec![json!({"assessment": {"verdict": "supported", "score": 0.5}, "labels": ["refuted"]})]));
    let out = judge.call("The sky is blue.").await.unwrap();
    let assessment: &models::Assessment = &out.assessment;
    assert_eq!(assessment.verdict, Label::Supported);
    assert_eq!(out.labels, [Label::Refuted]);
    let sig = judge.signature().clone();
    assert_eq!(sig.field("assessment").unwrap().ty.name(), "Assessment");
    assert_eq!(sig.field("labels").unwrap().ty.name(), "list[Literal['supported', 'refuted']]");
}

signature! {
    /// Classify the sentiment of a sentence.
    ///
    /// Be decisive.
    pub Sentiment = "sentence -> sentiment: bool, confidence: float";

    /// Rank the candidates.
    pub(crate) Rank = "query, candidates: list[str] -> order: list[int]"
}

signature! {
    Undocumented = "a: int, b: int -> sum: int"
}

#[test]
fn item_form_defines_named_types() {
    let sig = Sentiment::signature();
    assert_eq!(sig.name(), "Sentiment");
    assert_eq!(sig.instructions(), "Classify the sentiment of a sentence.\n\nBe decisive.");
    let parsed = Signature::parse("sentence -> sentiment: bool, confidence: float").unwrap();
    assert_eq!(sig.fields(), parsed.fields());

    let input: SentimentInput = "I love it".into();
    assert_eq!(input.sentence, "I love it");
    let output: SentimentOutput = serde_json::from_value(json!({"sentiment": true, "confidence": 0.9})).unwrap();
    assert!(output.sentiment);
    assert_eq!(output.confidence, 0.9);

    let input: RankInput = ("q", vec!["a".to_string()]).into();
    assert_eq!(input.candidates, ["a"]);
    assert_eq!(Rank::signature().instructions(), "Rank the candidates.");

    // No doc comment: the default instructions, as `Signature::parse`.
    same_fields(Undocumented::signature(), &Signature::parse("a: int, b: int -> sum: int").unwrap());
    let input = UndocumentedInput::from((1, 2));
    assert_eq!((input.a, input.b), (1, 2));
}

#[tokio::test]
async fn item_form_predicts() {
    let p = Predict::<Sentiment>::new().with_lm(lm(vec![json!({"sentiment": "true", "confidence": "0.75"})]));
    let out = p.call("What a day!").await.unwrap();
    assert!(out.sentiment);
    assert_eq!(out.confidence, 0.75);
    let p = Predict::typed(Rank).with_lm(lm(vec![json!({"order": [2, 1]})]));
    assert_eq!(p.call(("q", vec!["x".to_string(), "y".to_string()])).await.unwrap().order, [2, 1]);
}

#[test]
fn rust_keywords_become_raw_identifiers() {
    let p = Predict::typed(signature!("type, match: int -> fn: bool")).with_lm(lm(vec![json!({"fn": true})]));
    let out = p.call_blocking(("t", 1)).unwrap();
    assert!(out.r#fn);
    assert_eq!(p.signature().to_short_string(), "type, match -> fn");
}

// --- the examples of dspy-macros' docs (that crate cannot run them) ----------------------

#[test]
fn doc_example_derive() {
    /// Answer questions with short factoid answers.
    #[derive(Signature)]
    struct BasicQA {
        /// The question to answer.
        #[input]
        question: String,
        #[output(desc = "often between 1 and 5 words", prefix = "Short Answer:")]
        answer: String,
        #[output(rename = "confidence_score")]
        confidence: Option<f64>,
    }

    let sig = BasicQA::signature();
    assert_eq!(sig.name(), "BasicQA");
    assert_eq!(sig.instructions(), "Answer questions with short factoid answers.");
    assert_eq!(sig.to_short_string(), "question -> answer, confidence_score");
    assert_eq!(sig.fields()[0].desc.as_deref(), Some("The question to answer."));
    assert_eq!(sig.fields()[1].prefix, "Short Answer:");
    assert_eq!(sig.fields()[2].ty.name(), "Union[float, NoneType]");

    // The generated input and output structs:
    let input = BasicQAInput { question: "Who wrote Hamlet?".into() };
    let lm = DummyLM::new(vec![serde_json::json!({"answer": "Shakespeare"})]);
    let out = Predict::<BasicQA>::new().with_lm(lm).call_blocking(input).unwrap();
    let _: &BasicQAOutput = &out;
    assert_eq!(out.answer, "Shakespeare");
    assert_eq!(out.confidence, None);

    // The struct itself is a labelled example (a demo).
    let demo: Example = BasicQA { question: "2+2?".into(), answer: "4".into(), confidence: Some(1.0) }.into();
    assert_eq!(demo.input_keys(), Some(&["question".to_string()][..]));
    assert_eq!(demo.get("confidence_score"), Some(&serde_json::json!(1.0)));

    // A dataset row: the inputs and the gold outputs, for typed datasets and metrics.
    let row = BasicQAExample { question: "2+2?".into(), answer: "4".into(), confidence: None };
    let metric = |gold: &BasicQAExample, pred: &BasicQAOutput| gold.answer == pred.answer;
    let _ = (row, metric);
}

#[test]
fn doc_example_signature_expression() {
    let lm = DummyLM::new(vec![serde_json::json!({"answer": "true", "score": "2"})]);
    let check = Predict::typed(signature!("claim, context: list[str] -> answer: bool, score: int")).with_lm(lm);
    let out = check.call_blocking(("Water is wet.", vec!["Water is a liquid.".to_string()])).unwrap();
    let (answer, score): (bool, i64) = (out.answer, out.score);
    assert!(answer);
    assert_eq!(score, 2);
}

#[test]
fn doc_example_signature_item() {
    signature! {
        /// Judge whether the claim is supported.
        pub FactCheck = "claim -> verdict: Literal['supported', 'refuted'], confidence: Optional[float]"
    }

    let sig = FactCheck::signature();
    assert_eq!(sig.instructions(), "Judge whether the claim is supported.");
    assert_eq!(sig.field("verdict").unwrap().ty.name(), "Literal['supported', 'refuted']");
    let input: FactCheckInput = "The sky is green.".into();
    assert_eq!(input.claim, "The sky is green.");
    let _ = |o: FactCheckOutput| -> (String, Option<f64>) { (o.verdict, o.confidence) };
}

// --- trybuild -------------------------------------------------------------------------------

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
