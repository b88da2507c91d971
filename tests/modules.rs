//! Programs: `#[module]` (predictor walk, typed `forward`, copies, state), assertions with
//! backtracking, `Refine` (byte-identical to DSPy 3.4.1's prompts), `BestOfN` and `Parallel`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dspy::module::{Assert, AssertionError, ConstraintKind, ModuleExt, Parallel, Suggest};
use dspy::prelude::*;
use dspy::{LmError, LmRequest, LmResponse};
use serde_json::{Value, json};

signature! { pub Qa = "question -> answer" }
signature! { pub Query = "context: list[str], question -> search_query" }

// --- #[module] -------------------------------------------------------------------------------

#[module]
struct Inner {
    generate: Predict<Qa>,
}

#[module]
impl Inner {
    async fn forward(&self, question: String) -> Result<Prediction> {
        Ok(self.generate.call(QaInput { question }).await?.prediction().clone())
    }
}

#[module]
struct Hops {
    generate_answer: ChainOfThought<Qa>,
    hops: Vec<ChainOfThought<Query>>,
    maybe: Option<Predict<Qa>>,
    absent: Option<Predict<Qa>>,
    inner: Inner,
    pair: [Predict; 2],
    retrieve: dspy::retrieve::Retrieve,
    #[skip]
    label: String,
}

#[module]
impl Hops {
    async fn forward(&self, question: String, context: Option<Vec<String>>) -> Result<Prediction> {
        let context = context.unwrap_or_default();
        let q = self.hops[0].call((context, question.clone())).await?;
        let _ = (&self.label, q.search_query.len());
        self.generate_answer.call(question).await.map(|p| p.prediction().clone())
    }
}

/// `Box<dyn Module>` fields are modules too (such a struct is not `Clone`).
#[module(no_clone)]
struct Boxed {
    first: Box<dyn Module>,
    rest: Vec<Box<dyn Module>>,
}

#[module]
impl Boxed {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.first.forward(inputs).await
    }
}

fn program() -> Hops {
    Hops {
        generate_answer: ChainOfThought::new(),
        hops: vec![ChainOfThought::new(), ChainOfThought::new()],
        maybe: Some(Predict::new()),
        absent: None,
        inner: Inner { generate: Predict::new() },
        pair: [Predict::parse("a -> b").unwrap(), Predict::parse("a -> b").unwrap()],
        retrieve: dspy::retrieve::Retrieve::new(3),
        label: "demo".into(),
    }
}

fn names(m: &dyn Module) -> Vec<String> {
    m.named_predictors().into_iter().map(|(n, _)| n).collect()
}

#[test]
fn predictor_names_follow_dspy() {
    let p = program();
    assert_eq!(
        names(&p),
        [
            "generate_answer.predict",
            "hops[0].predict",
            "hops[1].predict",
            "maybe",
            "inner.generate",
            "pair[0]",
            "pair[1]",
        ]
    );
    let boxed = Boxed { first: Box::new(program()), rest: vec![Box::new(ChainOfThought::parse("a -> b").unwrap())] };
    assert_eq!(names(&boxed)[0], "first.generate_answer.predict");
    assert_eq!(names(&boxed).last().unwrap(), "rest[0].predict");
}

#[test]
fn optimizers_can_change_every_predictor_and_copies_are_deep() {
    let mut p = program();
    for (name, predictor) in p.named_predictors_mut() {
        let sig = predictor.signature().clone().with_instructions(format!("Tuned {name}."));
        predictor.set_signature(sig);
        predictor.set_demos(vec![Example::new().with("question", "q").with("answer", "a")]);
    }
    assert_eq!(p.hops[1].predict.signature().instructions(), "Tuned hops[1].predict.");
    let copy = p.clone();
    let ids: Vec<_> = p.named_predictors().iter().map(|(_, x)| x.id()).collect();
    let copy_ids: Vec<_> = copy.named_predictors().iter().map(|(_, x)| x.id()).collect();
    assert!(ids.iter().zip(&copy_ids).all(|(a, b)| a != b), "copies get fresh predictor identities");
    assert_eq!(copy.to_state(), p.to_state());
    let reset = p.reset_copy();
    assert!(reset.named_predictors().iter().all(|(_, x)| x.demos().is_empty()));
    assert_eq!(p.predictor("inner.generate").unwrap().demos().len(), 1);
    let lm: Arc<dyn LanguageModel> = Arc::new(DummyLM::new(vec![]));
    p.set_lm_all(Some(lm));
    assert!(p.named_predictors().iter().all(|(_, x)| x.lm().is_some()));
}

#[tokio::test]
async fn typed_forward_reads_inputs_by_name() {
    let lm = Arc::new(DummyLM::new(vec![
        json!({"reasoning": "r", "search_query": "q"}),
        json!({"reasoning": "r", "answer": "Paris"}),
    ]));
    let p = program();
    let ex = Example::new().with("question", "Capital of France?");
    let out = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&p, &ex)).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("Paris"));
    // `context` was absent and is an `Option`: `None`; the query step saw an empty list.
    assert!(lm.history()[0].messages.last().unwrap().content.text().starts_with("[[ ## context ## ]]\n[]"));

    let err = Module::forward(&p, &Example::new().with("context", json!([]))).await.unwrap_err();
    assert!(err.to_string().contains("`Hops::forward` needs the input `question`"), "{err}");
    assert!(matches!(&err, dspy::Error::Input(dspy::InputError::Missing { field, .. }) if field == "question"), "{err:?}");
    let err = Module::forward(&p, &Example::new().with("question", 3)).await.unwrap_err();
    assert!(err.to_string().contains("input `question` of `Hops::forward`"), "{err}");
    assert!(matches!(&err, dspy::Error::Input(dspy::InputError::WrongType { field, expected, .. }) if field == "question" && expected.contains("String")), "{err:?}");
}

/// A synchronous `forward` over the whole example, returning a JSON object.
#[module]
struct Echo {}

#[module]
impl Echo {
    fn forward(&self, inputs: &Example) -> Result<Value> {
        Ok(json!({"echo": inputs.get("text").cloned().unwrap_or(Value::Null)}))
    }
}

/// Generic programs work when the bound says the field is a module.
#[module]
struct Wrapper<M: Module + Clone> {
    module: M,
}

#[module]
impl<M: Module + Clone> Wrapper<M> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.module.forward(inputs).await
    }
}

#[tokio::test]
async fn sync_forward_and_generic_programs() {
    let out = Module::forward(&Echo {}, &Example::new().with("text", "hi")).await.unwrap();
    assert_eq!(out.get_str("echo"), Some("hi"));
    assert!(names(&Echo {}).is_empty());
    let w = Wrapper { module: Inner { generate: Predict::new() } };
    assert_eq!(names(&w), ["module.generate"]);
}

#[test]
fn state_saves_atomically_and_loads_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("program.json");
    let mut p = program();
    p.hops[0].predict.set_demos(vec![Example::new().with("question", "q").with("search_query", "s")]);
    p.save(&path).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left: {leftovers:?}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["hops[0].predict"]["demos"][0]["search_query"], "s");
    assert_eq!(saved["metadata"]["dependency_versions"], json!({"dspy": "3.4.1"}));

    let mut fresh = program();
    fresh.load(&path).unwrap();
    assert_eq!(fresh.hops[0].predict.demos().len(), 1);

    // A bad entry for a later predictor leaves the earlier ones untouched.
    let mut broken = saved.clone();
    broken["hops[0].predict"]["demos"] = json!([{"question": "changed", "search_query": "x"}]);
    broken["pair[1]"]["demos"] = json!("not a list");
    let mut target = program();
    let err = target.apply_state(&broken).unwrap_err();
    assert!(err.to_string().contains("`pair[1]`"), "{err}");
    assert!(target.hops[0].predict.demos().is_empty(), "rolled back");

    // A missing file is an I/O error naming the path.
    let err = fresh.load(dir.path().join("nope.json")).unwrap_err();
    assert!(matches!(err, dspy::Error::Io { .. }), "{err}");
}

// --- assertions -------------------------------------------------------------------------------

#[module]
struct OneWord {
    qa: ChainOfThought<Qa>,
    #[skip]
    hard: bool,
}

#[module]
impl OneWord {
    async fn forward(&self, question: String) -> Result<Prediction> {
        let out = self.qa.call(question).await?;
        let one_word = !out.answer.trim().contains(' ');
        if self.hard {
            Assert::new(one_word, "Answer with a single word.").check()?;
        } else {
            Suggest::new(one_word, "Answer with a single word.").check()?;
        }
        Ok(out.prediction().clone())
    }
}

#[tokio::test]
async fn suggest_backtracks_with_past_outputs_and_feedback() {
    let lm = Arc::new(DummyLM::new(vec![
        json!({"reasoning": "Think.", "answer": "The city of Paris"}),
        json!({"reasoning": "Shorter.", "answer": "Paris"}),
    ]));
    let program = Backtracking::new(OneWord { qa: ChainOfThought::new(), hard: false });
    let ex = Example::new().with("question", "Capital of France?");
    let out = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&program, &ex)).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("Paris"));
    let history = lm.history();
    assert_eq!(history.len(), 2);
    let system = history[1].messages[0].content.text();
    assert!(system.starts_with(
        "Your input fields are:\n1. `question` (str): \n2. `past_reasoning` (str): past Reasoning with errors\n\
         3. `past_answer` (str): past Answer with errors\n4. `feedback` (str): Some instructions you must satisfy\n\
         Your output fields are:\n1. `reasoning` (str): \n2. `answer` (str):"
    ), "{system}");
    assert_eq!(
        history[1].messages.last().unwrap().content.text(),
        "[[ ## question ## ]]\nCapital of France?\n\n[[ ## past_reasoning ## ]]\nThink.\n\n\
         [[ ## past_answer ## ]]\nThe city of Paris\n\n[[ ## feedback ## ]]\nAnswer with a single word.\n\n\
         Respond with the corresponding output fields, starting with the field `[[ ## reasoning ## ]]`, then \
         `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."
    );
}

#[tokio::test]
async fn failing_suggestions_give_up_and_failing_asserts_error() {
    let verbose = || json!({"reasoning": "r", "answer": "two words"});
    let lm = Arc::new(DummyLM::new(vec![verbose(), verbose(), verbose()]));
    let soft = Backtracking::new(OneWord { qa: ChainOfThought::new(), hard: false }).max_backtracks(2);
    let ex = Example::new().with("question", "Q?");
    let out = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&soft, &ex)).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("two words"), "the last attempt only logs");
    assert_eq!(lm.history().len(), 3);

    let lm = Arc::new(DummyLM::new(vec![verbose(), verbose(), verbose(), verbose()]));
    let hard = Backtracking::new(OneWord { qa: ChainOfThought::new(), hard: true }).max_backtracks(1);
    let err = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&hard, &ex)).await.unwrap_err();
    match err {
        dspy::Error::Assertion(AssertionError { kind: ConstraintKind::Assert, message, attempts, .. }) => {
            assert_eq!(message, "Answer with a single word.");
            assert_eq!(attempts, 2);
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(lm.history().len(), 2);
    // The second feedback is not repeated: messages are unique per predictor.
    assert!(lm.history()[1].messages.last().unwrap().content.text().contains("[[ ## feedback ## ]]\nAnswer with a single word.\n\n"));

    // Without Backtracking an Assert fails at once.
    let lm = Arc::new(DummyLM::new(vec![verbose()]));
    let plain = OneWord { qa: ChainOfThought::new(), hard: true };
    let err = dspy::settings::context(Settings::new().lm(lm), Module::forward(&plain, &ex)).await.unwrap_err();
    assert!(matches!(err, dspy::Error::Assertion(_)));
}

// --- Refine / BestOfN ---------------------------------------------------------------------------

fn one_word(_: &Example, p: &Prediction) -> f64 {
    if p.get_str("answer").is_some_and(|a| a.split_whitespace().count() == 1) { 1.0 } else { 0.0 }
}

/// Recorded from DSPy 3.4.1 by `tests/data/refine/generate.py`.
#[tokio::test]
async fn refine_prompts_match_the_reference() {
    let vector: Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/refine/refine-hint.json")).unwrap())
            .unwrap();
    let outputs: Vec<String> = vector["outputs"].as_array().unwrap().iter().map(|o| o[0].as_str().unwrap().to_string()).collect();
    let lm = Arc::new(DummyLM::raw(outputs));
    let refine = Refine::new(Predict::<Qa>::new(), 3, one_word, 1.0).program_code("PROGRAM").reward_code("REWARD");
    let ex = Example::new().with("question", "Capital of Belgium?");
    let out = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&refine, &ex)).await.unwrap();
    assert_eq!(out.get_str("answer"), vector["answer"].as_str());
    let sent: Vec<Value> = lm.history().iter().map(|h| serde_json::to_value(&h.messages).unwrap()).collect();
    let want = vector["messages"].as_array().unwrap();
    assert_eq!(sent.len(), want.len());
    for (i, (got, want)) in sent.iter().zip(want).enumerate() {
        assert_eq!(got, want, "call {i}");
    }
    assert_eq!(names(&refine), ["module"]);
}

/// Records each request's sampling settings; answers with the rollout id.
#[derive(Debug, Default)]
struct Recorder {
    configs: Mutex<Vec<dspy::LmConfig>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    delay: Option<Duration>,
}

#[async_trait::async_trait]
impl LanguageModel for Recorder {
    fn model(&self) -> &str {
        "recorder"
    }

    async fn complete(&self, request: LmRequest) -> std::result::Result<LmResponse, LmError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let text = request.messages.last().map(|m| m.content.text()).unwrap_or_default();
        self.configs.lock().unwrap().push(request.config.clone());
        if text.contains("fail") {
            return Err(LmError::Other("scripted failure".into()));
        }
        let rollout = request.config.rollout_id.unwrap_or(99);
        let answer = if rollout == 2 { "Brussels".to_string() } else { format!("answer number {rollout}") };
        Ok(LmResponse::from_texts("recorder", [format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]")]))
    }
}

#[tokio::test]
async fn best_of_n_samples_distinct_rollouts_at_temperature_one() {
    let lm = Arc::new(Recorder::default());
    let best = BestOfN::new(Predict::<Qa>::new(), 5, one_word, 1.0);
    let ex = Example::new().with("question", "Capital of Belgium?");
    let (out, trace) = dspy::trace::collect(dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&best, &ex))).await;
    assert_eq!(out.unwrap().get_str("answer"), Some("Brussels"));
    let configs = lm.configs.lock().unwrap().clone();
    assert_eq!(configs.iter().map(|c| c.rollout_id).collect::<Vec<_>>(), [Some(0), Some(1), Some(2)], "stops at the threshold");
    assert!(configs.iter().all(|c| c.temperature == Some(1.0)));
    assert_eq!(trace.len(), 1, "only the kept attempt's trace is recorded");

    // Below the threshold everywhere: the best reward wins (the first of equals).
    let lm = Arc::new(Recorder::default());
    let best = BestOfN::new(Predict::<Qa>::new(), 2, |_: &Example, p: &Prediction| p.get_str("answer").map_or(0.0, |a| a.len() as f64), 100.0);
    let out = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&best, &ex)).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("answer number 0"));

    // Every attempt failing: the error comes back.
    let lm = Arc::new(Recorder::default());
    let best = BestOfN::new(Predict::<Qa>::new(), 2, one_word, 1.0).fail_count(0);
    let err = dspy::settings::context(Settings::new().lm(lm), Module::forward(&best, &Example::new().with("question", "fail"))).await;
    assert!(err.is_err());
}

// --- Parallel -----------------------------------------------------------------------------------

#[tokio::test]
async fn parallel_keeps_order_limits_concurrency_and_counts_errors() {
    let lm = Arc::new(Recorder { delay: Some(Duration::from_millis(20)), ..Recorder::default() });
    let qa = Predict::<Qa>::new().with_lm(lm.clone());
    let examples: Vec<Example> = (0..8).map(|i| Example::new().with("question", format!("q{i}"))).collect();
    let results = Parallel::new().num_threads(3).map(&qa, &examples).await.unwrap();
    assert_eq!(results.len(), 8);
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(lm.max_in_flight.load(Ordering::SeqCst), 3);

    let mut examples = examples;
    examples[2] = Example::new().with("question", "fail");
    let results = Parallel::new().num_threads(2).max_errors(5).map(&qa, &examples).await.unwrap();
    assert!(results[2].is_err() && results[3].is_ok(), "per-item results in order");

    examples[5] = Example::new().with("question", "fail too");
    let err = Parallel::new().num_threads(1).max_errors(2).map(&qa, &examples).await.unwrap_err();
    assert!(matches!(err, dspy::Error::TooManyErrors { errors: 2, max_errors: 2, .. }), "{err}");
}

// --- the `#[module]` doc example (dspy-macros cannot run it itself) -----------------------------

mod doc_example_module {
    use dspy::prelude::*;

    signature! { pub GenerateAnswer = "context: list[str], question -> answer" }

    #[module]
    struct Rag {
        generate_answer: ChainOfThought<GenerateAnswer>,
        #[skip]
        passages: usize,
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Answer {
        answer: String,
    }

    #[module]
    impl Rag {
        async fn forward(&self, question: String) -> Result<Answer> {
            let context = vec!["Paris is the capital of France.".to_string(); self.passages];
            let out = self.generate_answer.call((context, question)).await?;
            Ok(Answer { answer: out.answer.clone() })
        }
    }

    #[test]
    fn doc_example_module() {
        let rag = Rag { generate_answer: ChainOfThought::new(), passages: 1 };
        let names: Vec<String> = rag.named_predictors().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["generate_answer.predict"]);
        let lm = DummyLM::new(vec![serde_json::json!({"reasoning": "Given.", "answer": "Paris"})]);
        let out = rag.with_lm(lm).call_blocking("Capital of France?").unwrap();
        assert_eq!(out.answer, "Paris");
    }
}

// --- source code for the prompt model --------------------------------------------------------

/// Answer in one word.
#[derive(Signature)]
struct Short {
    /// The question.
    #[input]
    question: String,
    #[output]
    answer: String,
}

/// Two steps.
#[module]
struct Drafted {
    draft: ChainOfThought<Short>,
    check: Predict,
    again: Predict<Short>,
}

#[module]
impl Drafted {
    async fn forward(&self, question: String) -> Result<Prediction> {
        // The draft first, then the check.
        let draft = self.draft.call(ShortInput { question }).await?;
        let ex = Example::new().with("draft", draft.answer.clone());
        Module::forward(&self.check, &ex).await
    }
}

/// DSPy's `get_dspy_source_code`: the header (each signature's declaration or text form, each
/// nested program's code, once), a blank line, then the struct and `impl` block as written.
#[test]
fn a_programs_source_code_is_its_code_as_written() {
    let program = Drafted { draft: ChainOfThought::new(), check: Predict::parse("draft -> verdict").unwrap(), again: Predict::new() };
    let definition = program.definition().unwrap();
    assert_eq!(
        definition,
        r#"/// Two steps.
struct Drafted {
    draft: ChainOfThought<Short>,
    check: Predict,
    again: Predict<Short>,
}

impl Drafted {
    async fn forward(&self, question: String) -> Result<Prediction> {
        // The draft first, then the check.
        let draft = self.draft.call(ShortInput { question }).await?;
        let ex = Example::new().with("draft", draft.answer.clone());
        Module::forward(&self.check, &ex).await
    }
}"#
    );
    let short = r#"/// Answer in one word.
struct Short {
    /// The question.
    #[input]
    question: String,
    #[output]
    answer: String,
}"#;
    let check = r#"StringSignature(draft -> verdict
    instructions='Given the fields `draft`, produce the fields `verdict`.'
    draft = Field(annotation=str required=True json_schema_extra={'__dspy_field_type': 'input', 'prefix': 'Draft:', 'desc': '${draft}'})
    verdict = Field(annotation=str required=True json_schema_extra={'__dspy_field_type': 'output', 'prefix': 'Verdict:', 'desc': '${verdict}'})
)"#;
    // `Short` twice in the program (`draft`, `again`), once in the header.
    assert_eq!(program.source_code(), format!("{short}\n\n{check}\n\n{definition}"));

    // An optimizer's new instructions make the declaration stale: the text form replaces it.
    let mut changed = program.clone();
    for (name, p) in changed.named_predictors_mut() {
        if name == "again" {
            p.set_signature(p.signature().clone().with_instructions("Answer in two words."));
        }
    }
    let code = changed.source_code();
    assert!(code.starts_with(&format!("{short}\n\n{check}\n\nShort(question -> answer\n    instructions='Answer in two words.'\n")), "{code}");
}

#[test]
fn nested_programs_and_wrappers_show_their_code() {
    let code = program().source_code();
    // The signatures as written (the `signature!` call of each item), each once.
    let query = "signature! {\n    pub Query = \"context: list[str], question -> search_query\"\n}";
    assert_eq!(code.matches(query).count(), 1, "{code}");
    assert!(code.starts_with("signature! {\n    pub Qa = \"question -> answer\"\n}\n\n"), "{code}");
    // The nested program's own code, with its header, before this program's.
    let inner = Inner { generate: Predict::new() }.source_code();
    assert!(code.contains(inner.trim()), "{code}");
    assert!(inner.contains("Ok(self.generate.call(QaInput { question }).await?.prediction().clone())"), "{inner}");
    assert!(code.ends_with("        self.generate_answer.call(question).await.map(|p| p.prediction().clone())\n    }\n}"), "{code}");

    // Wrappers show the wrapped program's code; a hand-written module without recorded code
    // shows its predictors' signatures.
    let refine = Refine::new(Inner { generate: Predict::new() }, 2, one_word, 1.0);
    assert_eq!(refine.source_code(), format!("{}\n\n", inner.trim()));
    assert_eq!(Predict::<Qa>::new().source_code(), "signature! {\n    pub Qa = \"question -> answer\"\n}\n\n");
    assert_eq!(Predict::<Qa>::new().definition(), None);
}

/// `Refine`'s feedback prompt shows the wrapped program's definition, as DSPy shows
/// `inspect.getsource(type(module))`.
#[tokio::test]
async fn refine_shows_the_program_definition() {
    let lm = Arc::new(DummyLM::new(vec![
        json!({"answer": "It is Brussels"}),
        json!({"discussion": "Too long.", "advice": {"generate": "One word."}}),
        json!({"answer": "Brussels"}),
    ]));
    let inner = Inner { generate: Predict::new() };
    let definition = inner.definition().unwrap();
    assert!(definition.starts_with("struct Inner {\n    generate: Predict<Qa>,\n}\n\nimpl Inner {\n"), "{definition}");
    let refine = Refine::new(inner, 3, one_word, 1.0);
    let ex = Example::new().with("question", "Capital of Belgium?");
    let out = dspy::settings::context(Settings::new().lm(lm.clone()), Module::forward(&refine, &ex)).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("Brussels"));
    let feedback = lm.history()[1].messages.last().unwrap().content.text();
    assert!(feedback.contains(&format!("[[ ## program_code ## ]]\n{definition}\n\n[[ ## modules_defn ## ]]")), "{feedback}");
}
