//! Control flow of ReAct, ProgramOfThought, MultiChainComparison and majority on scripted LMs:
//! tools called with typed arguments, tool errors and bad arguments in the trajectory,
//! `max_iters`, trajectory truncation, native function calling, regeneration after code
//! errors (with the reference's prompts), sandbox denials fed back to the LM, majority ties.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use dspy::module::{MultiChainComparison, ProgramOfThought, ReAct, ToolCalling, majority_of};
use dspy::prelude::*;
use dspy::{Capabilities, Error, LmError, LmOutput, LmRequest, LmResponse, ToolCall};
use serde_json::{Map, Value, json};

// --- a scripted LM that records requests ----------------------------------------------------

#[derive(Debug)]
struct Scripted {
    replies: Mutex<VecDeque<Result<LmOutput, LmError>>>,
    requests: Mutex<Vec<LmRequest>>,
    function_calling: bool,
}

impl Scripted {
    fn new(replies: Vec<Result<LmOutput, LmError>>) -> Arc<Self> {
        Arc::new(Scripted { replies: Mutex::new(replies.into()), requests: Mutex::new(Vec::new()), function_calling: false })
    }

    fn texts(texts: &[String]) -> Arc<Self> {
        Self::new(texts.iter().map(|t| Ok(text_output(t))).collect())
    }

    fn requests(&self) -> Vec<LmRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn last_user_message(&self, call: usize) -> String {
        self.requests()[call].messages.last().unwrap().content.text()
    }
}

#[async_trait::async_trait]
impl LanguageModel for Scripted {
    fn model(&self) -> &str {
        "scripted"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { function_calling: self.function_calling, ..Capabilities::default() }
    }

    async fn complete(&self, request: LmRequest) -> Result<LmResponse, LmError> {
        self.requests.lock().unwrap().push(request);
        let reply = self.replies.lock().unwrap().pop_front().unwrap_or_else(|| Ok(text_output("No more responses")));
        reply.map(|o| LmResponse { outputs: vec![o], model: "scripted".into(), ..LmResponse::default() })
    }
}

fn text_output(text: &str) -> LmOutput {
    LmOutput { text: text.to_string(), ..LmOutput::default() }
}

/// A ChatAdapter completion.
fn chat(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("[[ ## {k} ## ]]\n{v}")).collect::<Vec<_>>().join("\n\n")
}

fn step(thought: &str, tool: &str, args: Value) -> String {
    chat(&[("next_thought", thought), ("next_tool_name", tool), ("next_tool_args", &args.to_string())])
}

fn answer(reasoning: &str, answer: &str) -> String {
    chat(&[("reasoning", reasoning), ("answer", answer)])
}

// --- tools ----------------------------------------------------------------------------------

static SEEN: Mutex<Vec<(String, Option<u32>)>> = Mutex::new(Vec::new());

/// Look up a city's population.
#[dspy::tool]
async fn population(
    #[arg(desc = "the city's English name")] city: String,
    year: Option<u32>,
) -> Result<u64, String> {
    SEEN.lock().unwrap().push((city.clone(), year));
    match city.as_str() {
        "Paris" => Ok(2_102_650),
        other => Err(format!("no data for {other}")),
    }
}

/// Add two integers.
#[dspy::tool(name = "plus")]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn question(q: &str) -> Example {
    Example::new().with("question", q)
}

// --- ReAct ----------------------------------------------------------------------------------

#[test]
fn the_tool_macro_describes_functions_like_dspy() {
    let t = population_tool();
    assert_eq!(t.name(), "population");
    assert_eq!(t.desc(), "Look up a city's population.");
    assert_eq!(
        t.to_string(),
        "population, whose description is <desc>Look up a city's population.</desc>. It takes arguments \
         {'city': {'type': 'string', 'description': \"the city's English name\"}, \
         'year': {'anyOf': [{'minimum': 0, 'type': 'integer'}, {'type': 'null'}], 'default': None}}."
    );
    assert_eq!(t.required_args(), ["city"]);
    assert_eq!(add_tool().name(), "plus");
    assert_eq!(add(2, 3), 5, "the function itself is unchanged");
}

#[tokio::test]
async fn tools_are_called_with_typed_arguments_and_errors_become_observations() {
    let lm = Scripted::texts(&[
        step("Look it up.", "population", json!({"city": "Paris", "year": 2020})),
        step("Try Atlantis.", "population", json!({"city": "Atlantis"})),
        step("Bad args.", "plus", json!({"a": "x", "b": 2})),
        step("Missing arg.", "plus", json!({"a": 1})),
        step("Unknown arg.", "plus", json!({"a": 1, "b": 2, "c": 3})),
        step("Done.", "finish", json!({})),
        answer("Paris has about 2.1M.", "2102650"),
    ]);
    let agent = ReAct::parse("question -> answer", [population_tool(), add_tool()]).unwrap().with_lm(lm.clone());
    let out = agent.forward(&question("How many people live in Paris?")).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("2102650"));
    assert!(SEEN.lock().unwrap().contains(&("Paris".to_string(), Some(2020))));
    assert!(SEEN.lock().unwrap().contains(&("Atlantis".to_string(), None)));
    let traj = out.get("trajectory").unwrap();
    assert_eq!(traj["observation_0"], json!(2102650));
    assert_eq!(traj["observation_1"], "Execution error in population: no data for Atlantis");
    assert_eq!(traj["observation_2"], "Execution error in plus: Arg a is invalid: 'x' is not of type 'integer'");
    assert_eq!(traj["observation_3"], "Execution error in plus: plus() missing 1 required positional argument: 'b'");
    assert_eq!(traj["observation_4"], "Execution error in plus: Arg c is not in the tool's args.");
    assert_eq!(traj["observation_5"], "Completed.");
    assert_eq!(lm.requests().len(), 7);
    // The error is shown to the LM in the next step's trajectory.
    assert!(lm.last_user_message(2).contains("[[ ## observation_1 ## ]]\nExecution error in population: no data for Atlantis"));
}

#[tokio::test]
async fn max_iters_bounds_the_loop_and_an_input_overrides_it() {
    let looping: Vec<String> = (0..10).map(|i| step(&format!("t{i}"), "plus", json!({"a": i, "b": 1}))).collect();
    let mut script = looping[..3].to_vec();
    script.push(answer("r", "3"));
    let lm = Scripted::texts(&script);
    let agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_max_iters(3).with_lm(lm.clone());
    let out = agent.forward(&question("?")).await.unwrap();
    assert_eq!(lm.requests().len(), 4, "3 steps and the extraction");
    assert_eq!(out.get("trajectory").unwrap().as_object().unwrap().len(), 12);
    assert!(lm.requests()[3].messages[0].content.text().contains("`reasoning`"));

    let mut script = looping[..1].to_vec();
    script.push(answer("r", "1"));
    let lm = Scripted::texts(&script);
    let agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_max_iters(3).with_lm(lm.clone());
    agent.forward(&question("?").with("max_iters", 1)).await.unwrap();
    assert_eq!(lm.requests().len(), 2);
}

#[tokio::test]
async fn the_oldest_tool_call_is_dropped_when_the_context_window_is_exceeded() {
    let cwe = || Err(LmError::ContextWindowExceeded { message: "too long".into() });
    let lm = Scripted::new(vec![
        Ok(text_output(&step("first", "plus", json!({"a": 1, "b": 1})))),
        Ok(text_output(&step("second", "plus", json!({"a": 2, "b": 2})))),
        cwe(),
        Ok(text_output(&step("done", "finish", json!({})))),
        Ok(text_output(&answer("r", "4"))),
    ]);
    let agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_lm(lm.clone());
    let out = agent.forward(&question("?")).await.unwrap();
    let retried = lm.last_user_message(3);
    assert!(!retried.contains("thought_0") && retried.contains("[[ ## thought_1 ## ]]\nsecond"), "{retried}");
    let traj = out.get("trajectory").unwrap().as_object().unwrap();
    assert!(!traj.contains_key("thought_0"));
    assert_eq!(traj["tool_name_2"], "finish");

    // With a single tool call nothing can be dropped: the loop ends and extraction runs.
    let lm = Scripted::new(vec![Ok(text_output(&step("first", "plus", json!({"a": 1, "b": 1})))), cwe(), Ok(text_output(&answer("r", "2")))]);
    let agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_lm(lm.clone());
    let out = agent.forward(&question("?")).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("2"));
    assert_eq!(lm.requests().len(), 3);

    // Other LM errors abort.
    let lm = Scripted::new(vec![Err(LmError::Other("down".into()))]);
    let agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_lm(lm);
    assert!(matches!(agent.forward(&question("?")).await, Err(Error::Lm(LmError::Other(_)))));
}

#[tokio::test]
async fn native_function_calling_sends_tool_specs_and_reads_tool_calls() {
    let call = |name: &str, args: Value| LmOutput {
        text: String::new(),
        tool_calls: vec![ToolCall { id: Some("c1".into()), name: name.into(), args }],
        ..LmOutput::default()
    };
    let lm = Arc::new(Scripted {
        replies: Mutex::new(
            vec![
                Ok(LmOutput { text: "[[ ## next_thought ## ]]\nAdd them.".into(), ..call("plus", json!({"a": 2, "b": 40})) }),
                Ok(call("finish", json!("{}"))),
                Ok(text_output(&answer("2 + 40 = 42", "42"))),
            ]
            .into(),
        ),
        requests: Mutex::new(Vec::new()),
        function_calling: true,
    });
    let agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_lm(lm.clone());
    let out = agent.forward(&question("2 + 40?")).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("42"));
    let traj = out.get("trajectory").unwrap();
    assert_eq!(traj["thought_0"], "Add them.");
    assert_eq!(traj["observation_0"], json!(42));
    assert_eq!(traj["tool_name_1"], "finish");
    let requests = lm.requests();
    let names: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["plus", "finish"]);
    assert_eq!(requests[0].tools[0].parameters["required"], json!(["a", "b"]));
    assert!(requests[2].tools.is_empty(), "the extraction is a plain call");

    // The messages are the text protocol's, byte for byte.
    let text_lm = Scripted::texts(&[step("x", "finish", json!({})), answer("r", "a")]);
    let text_agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_lm(text_lm.clone()).with_tool_calling(ToolCalling::Text);
    text_agent.forward(&question("2 + 40?")).await.unwrap();
    assert_eq!(text_lm.requests()[0].messages, requests[0].messages);
    assert!(text_lm.requests()[0].tools.is_empty());
}

#[tokio::test]
async fn parse_failures_of_the_agent_are_errors_as_in_dspy() {
    let lm = Scripted::texts(&[step("x", "nope", json!({})), "{}".to_string()]);
    let agent = ReAct::parse("question -> answer", [add_tool()]).unwrap().with_lm(lm);
    assert!(matches!(agent.forward(&question("?")).await, Err(Error::Parse(_))));
}

/// Answer with a number.
#[derive(Signature)]
struct Arith {
    #[input]
    question: String,
    #[output]
    answer: i64,
}

#[tokio::test]
async fn typed_agents_return_typed_outputs_and_name_their_predictors() {
    let lm = Scripted::texts(&[step("add", "plus", json!({"a": 2, "b": 40})), step("done", "finish", json!({})), answer("sum", "42")]);
    let agent = ReAct::<Arith>::new([add_tool()]).unwrap().with_lm(lm);
    let out = agent.call(ArithInput { question: "2 + 40?".into() }).await.unwrap();
    assert_eq!(out.answer, 42);
    assert_eq!(out.reasoning, "sum");
    assert_eq!(out.trajectory["observation_0"], json!(42));
    let names: Vec<String> = agent.named_predictors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["react", "extract.predict"]);
}

// --- ProgramOfThought -----------------------------------------------------------------------

/// The reference's runs in tests/data/program_of_thought, replayed with the real sandbox.
#[tokio::test]
async fn program_of_thought_matches_the_reference() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/program_of_thought");
    let files = common::json_files(&dir);
    assert!(!files.is_empty());
    for path in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.display();
        let outputs: Vec<String> = v["lm_outputs"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()).collect();
        let lm = Arc::new(DummyLM::raw(outputs));
        let pot = ProgramOfThought::parse(v["signature"].as_str().unwrap())
            .unwrap()
            .with_max_iters(v["config"]["max_iters"].as_u64().unwrap() as usize)
            .with_lm(lm.clone());
        let inputs = Example::from_map(v["inputs"].as_object().unwrap().clone());
        let result = pot.forward(&inputs).await;
        let history = lm.history();
        let expected = v["messages"].as_array().unwrap();
        assert_eq!(history.len(), expected.len(), "{name}: number of calls");
        for (i, (call, want)) in history.iter().zip(expected).enumerate() {
            let got = serde_json::to_value(&call.messages).unwrap();
            assert!(&got == want, "{name}: call {i}: {}", common::first_difference(want, &got));
        }
        match (&v["error"], result) {
            (Value::String(want), Err(e)) => assert_eq!(&e.to_string(), want, "{name}"),
            (Value::Null, Ok(p)) => {
                for (k, want) in v["outputs"].as_object().unwrap() {
                    assert!(common::json_eq(p.get(k).unwrap(), want), "{name}: {k}");
                }
            }
            (want, got) => panic!("{name}: expected {want}, got {got:?}"),
        }
    }
}

#[tokio::test]
async fn sandbox_denials_go_back_to_the_lm_as_errors() {
    let code = |c: &str| json!({"reasoning": "r", "generated_code": format!("```python\n{c}\n```")});
    let lm = Arc::new(DummyLM::new(vec![
        code("print(open('/etc/passwd').read())"),
        code("import socket\nsocket.create_connection(('example.com', 80))"),
        code("import math\nSUBMIT({'answer': math.factorial(5)})"),
        json!({"reasoning": "120", "answer": "120"}),
    ]));
    let pot = ProgramOfThought::parse("question -> answer").unwrap().with_lm(lm.clone());
    let out = pot.forward(&question("5!?")).await.unwrap();
    assert_eq!(out.get_str("answer"), Some("120"));
    let history = lm.history();
    let error_of = |call: usize| history[call].messages.last().unwrap().content.text();
    assert!(error_of(1).contains("[[ ## error ## ]]\nSandboxViolation: file system access is not allowed in the sandbox (open '/etc/passwd')"), "{}", error_of(1));
    assert!(error_of(2).contains("[[ ## error ## ]]\nImportError: importing 'socket' is not allowed in the sandbox"), "{}", error_of(2));
    assert!(error_of(3).contains("[[ ## code_output ## ]]\n{\"output\": {\"answer\": 120}}"), "{}", error_of(3));
    let names: Vec<String> = pot.named_predictors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["code_generate.predict", "code_regenerate.predict", "generate_output.predict"]);
}

#[tokio::test]
async fn an_unusable_sandbox_is_an_error_not_a_retry() {
    let lm = Arc::new(DummyLM::new(vec![json!({"reasoning": "r", "generated_code": "1 + 1"})]));
    let sandbox = dspy::module::PythonSandbox::new().with_python("/nonexistent/python3");
    let pot = ProgramOfThought::parse("question -> answer").unwrap().with_lm(lm.clone()).with_sandbox(sandbox);
    assert!(matches!(pot.forward(&question("?")).await, Err(Error::Sandbox(_))));
    assert_eq!(lm.history().len(), 1);
}

// --- MultiChainComparison and majority ------------------------------------------------------

fn completions(values: &[Value]) -> Vec<Map<String, Value>> {
    values.iter().map(|v| v.as_object().unwrap().clone()).collect()
}

#[tokio::test]
async fn multi_chain_comparison_checks_m_and_samples_warm() {
    let lm = Scripted::texts(&[chat(&[("rationale", "ok"), ("answer", "Paris")])]);
    let mcc = MultiChainComparison::parse("question -> answer", 2).unwrap().with_lm(lm.clone());
    let two = completions(&[json!({"rationale": "A\nmore", "answer": "Paris"}), json!({"reasoning": "B", "answer": 3})]);
    let out = mcc.compare(&two, &question("?")).await.unwrap();
    assert_eq!(out.get_str("rationale"), Some("ok"));
    let request = &lm.requests()[0];
    assert_eq!(request.config.temperature, Some(0.7));
    let user = request.messages.last().unwrap().content.text();
    assert!(user.contains("«I'm trying to A I'm not sure but my prediction is Paris»"), "{user}");
    assert!(user.contains("«I'm trying to B I'm not sure but my prediction is 3»"), "{user}");

    let err = mcc.compare(&two[..1], &question("?")).await.unwrap_err();
    assert!(err.to_string().contains("The number of attempts (1) doesn't match the expected number M (2)"), "{err}");
    let err = mcc.compare(&completions(&[json!({"answer": "x"}), json!({"answer": "y"})]), &question("?")).await.unwrap_err();
    assert!(matches!(err, Error::Input(_)));

    // Through the Module trait the attempts are the `completions` input.
    let lm = Scripted::texts(&[chat(&[("rationale", "ok"), ("answer", "Paris")])]);
    let mcc = MultiChainComparison::parse("question -> answer", 2).unwrap().with_lm(lm);
    let example = question("?").with("completions", Value::Array(two.iter().cloned().map(Value::Object).collect()));
    assert_eq!(Module::forward(&mcc, &example).await.unwrap().get_str("answer"), Some("Paris"));
}

#[tokio::test]
async fn majority_votes_over_a_predictions_completions() {
    let lm = Arc::new(DummyLM::new(vec![
        json!({"answer": "The Louvre"}),
        json!({"answer": "Orsay"}),
        json!({"answer": "louvre!"}),
        json!({"answer": "Orsay"}),
    ]));
    let predict = Predict::parse("question -> answer").unwrap().with_lm(lm).with_config(dspy::LmConfig { n: Some(4), ..Default::default() });
    let pred = predict.forward(&question("Which museum?")).await.unwrap();
    assert_eq!(pred.completions().len(), 4);
    // Two votes each: the value seen first wins, and its first completion is returned.
    assert_eq!(majority_of(&pred).unwrap().get_str("answer"), Some("The Louvre"));
}
