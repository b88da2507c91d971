//! The proposers see the program's real code: MIPROv2's grounded proposer and SIMBA's
//! `OfferFeedback` are shown a `#[module]` program's struct and `impl` block as written, and
//! its signatures' declarations (DSPy's `get_dspy_source_code` / `inspect.getsource`).

use std::sync::{Arc, Mutex};

use dspy_core::{LanguageModel, LmConfig, LmError, LmRequest, LmResponse, Module, Predict, Prediction, Result, TypedModule};
use dspy_macros::{module, signature};
use dspy_optimizers::{MiproV2, Optimizer, Simba};
use dspy_sim::{AnswerMatch, SimLm, dataset};

signature! {
    /// Transform the code in the question.
    #[signature(crate = "dspy_core")]
    pub Transform = "question -> answer"
}

#[module(crate = "dspy_core")]
struct Solver {
    solve: Predict<Transform>,
}

#[module(crate = "dspy_core")]
impl Solver {
    async fn forward(&self, question: String) -> Result<Prediction> {
        // The bracketed category names the rule to apply.
        let out = self.solve.call(question).await?;
        Ok(out.prediction().clone())
    }
}

/// The prompt model: the simulated LM, recording the messages of every call.
#[derive(Debug)]
struct Recording {
    inner: Arc<SimLm>,
    prompts: Mutex<Vec<String>>,
}

impl Recording {
    fn new() -> Arc<Self> {
        Arc::new(Recording { inner: SimLm::new(), prompts: Mutex::new(Vec::new()) })
    }

    /// The recorded prompts that show `field` with exactly `value`.
    fn showing(&self, field: &str, value: &str) -> usize {
        let section = format!("[[ ## {field} ## ]]\n{value}\n\n");
        self.prompts.lock().unwrap().iter().filter(|p| p.contains(&section)).count()
    }
}

#[async_trait::async_trait]
impl LanguageModel for Recording {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn defaults(&self) -> LmConfig {
        self.inner.defaults()
    }

    async fn complete(&self, request: LmRequest) -> std::result::Result<LmResponse, LmError> {
        let text = request.messages.iter().map(|m| m.content.text()).collect::<Vec<_>>().join("\n\n");
        self.prompts.lock().unwrap().push(text);
        self.inner.complete(request).await
    }
}

fn student(lm: &Arc<SimLm>) -> Solver {
    Solver { solve: Predict::new() }.with_lm(lm.clone())
}

#[test]
fn the_program_code_is_the_source_as_written() {
    let code = student(&SimLm::new()).source_code();
    let declaration = "signature! {\n    /// Transform the code in the question.\n    #[signature(crate = \"dspy_core\")]\n    pub Transform = \"question -> answer\"\n}";
    assert!(code.starts_with(&format!("{declaration}\n\nstruct Solver {{\n    solve: Predict<Transform>,\n}}\n\nimpl Solver {{\n")), "{code}");
    assert!(code.contains("        // The bracketed category names the rule to apply.\n        let out = self.solve.call(question).await?;\n"), "{code}");
}

#[tokio::test]
async fn mipro_shows_the_proposer_the_program_source() {
    let (task, prompt) = (SimLm::new(), Recording::new());
    let student = student(&task);
    let mipro = MiproV2::new().manual().num_candidates(2).num_trials(2).zero_shot().minibatch(false).prompt_model(prompt.clone()).progress(false);
    mipro.compile(&student, &dataset(20, 0), &AnswerMatch).valset(&dataset(20, 300)).await.unwrap();
    let code = student.source_code();
    assert!(code.contains("let out = self.solve.call(question).await?;"));
    // DescribeProgram, DescribeModule and the instruction generator, for each of the 2 proposals.
    assert_eq!(prompt.showing("program_code", &code), 6, "{:#?}", prompt.prompts.lock().unwrap());

    // The user's override still wins.
    let prompt = Recording::new();
    let mipro = MiproV2::new().manual().num_candidates(2).num_trials(1).zero_shot().minibatch(false).prompt_model(prompt.clone()).program_code("MY CODE").progress(false);
    mipro.compile(&student, &dataset(20, 0), &AnswerMatch).valset(&dataset(20, 300)).await.unwrap();
    assert_eq!(prompt.showing("program_code", &code), 0);
    assert_eq!(prompt.showing("program_code", "MY CODE"), 6);
}

#[tokio::test]
async fn simba_shows_offer_feedback_the_program_definition() {
    let (task, prompt) = (SimLm::new(), Recording::new());
    let student = student(&task);
    let simba = Simba::new().bsize(16).num_candidates(4).max_steps(2).max_demos(0).prompt_model(prompt.clone()).progress(false);
    simba.compile(&student, &dataset(32, 0), &AnswerMatch).await.unwrap();
    // DSPy shows the class's source (`inspect.getsource(type(program))`): the struct and `impl`.
    let definition = student.definition().unwrap();
    assert!(definition.starts_with("struct Solver {") && definition.ends_with("Ok(out.prediction().clone())\n    }\n}"), "{definition}");
    let feedback = prompt.prompts.lock().unwrap().iter().filter(|p| p.contains("[[ ## module_advice ## ]]")).count();
    assert!(feedback > 0);
    assert_eq!(prompt.showing("program_code", &definition), feedback);
}
