//! Modules: composable programs of LM calls. [`Predict`] is the one that calls the LM; every
//! other module is built from predictors, and optimizers tune those through [`Predictor`].

mod assertions;
mod batch;
mod best_of_n;
mod chain_of_thought;
pub(crate) mod error;
pub(crate) mod id;
mod majority;
mod multi_chain_comparison;
mod parallel;
mod predict;
mod program_of_thought;
mod react;
pub mod sandbox;
pub(crate) mod tool;
pub(crate) mod program;
mod refine;
mod rewrite;
pub(crate) mod source;
mod state;
mod stream;
mod typed;

use serde_json::Value;

pub use chain_of_thought::{ChainOfThought, Reasoned, with_reasoning};
pub use batch::batch;
pub use predict::{Predict, Untyped};
pub use stream::{PredictionStream, StreamItem};
pub use typed::{TypedCall, TypedModule, TypedStream};
pub(crate) use typed::{input_map, serialized_example, typed_stream};

pub use majority::{Normalize, default_normalize, majority, majority_by, majority_of};
pub use multi_chain_comparison::{Attempts, MultiChainComparison, Rationalized};
pub use program_of_thought::{ProgramOfThought, parse_code};
pub use react::{Acted, ReAct, ToolCalling};
pub use error::{AssertionError, Capability, ConstraintKind, SandboxError, StateMismatch, ToolError};
pub use sandbox::{DEFAULT_ALLOWED_MODULES, Execution, PythonSandbox, SandboxConfig};
pub use tool::{Json, Tool, ToolFuture, ToolOutput, arg_schema, optional_arg_schema};

pub use assertions::{Assert, Backtracking, Suggest, assert, suggest};
pub use best_of_n::{BestOfN, RewardFn};
pub use parallel::{DEFAULT_MAX_ERRORS, Parallel};
pub(crate) use parallel::run_bounded;
pub use program::{ContainsPredictors, ForwardOutput, IntoPrediction, ModuleFields};
pub use refine::{Refine, inspect_modules, offer_feedback_signature};
pub use source::SourceCode;
pub use state::{DSPY_FORMAT_VERSION, ModuleExt, write_atomic};

use crate::error::Result;
use crate::example::Example;
use crate::lm::LanguageModel;
use crate::prediction::Prediction;
use crate::signature::Signature;
use crate::trace::PredictorId;

/// A program: example inputs in, a prediction out. Optimizers and `Evaluate` run programs
/// through this dynamic entry point; typed programs add their own typed `call`.
#[async_trait::async_trait]
pub trait Module: Send + Sync {
    /// Runs the program on the example's input fields.
    async fn forward(&self, inputs: &Example) -> Result<Prediction>;

    /// Every predictor in the program with its dotted name (`generate_answer.predict`).
    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)>;

    /// The same predictors, mutable, for optimizers.
    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)>;

    /// The program's own code as written, as DSPy shows `inspect.getsource(type(program))`: for
    /// a `#[module]` program, its struct and `impl` block, recorded at compile time. `None` for
    /// modules with no recorded code (the built-in modules, hand-written `Module` impls).
    fn definition(&self) -> Option<String> {
        None
    }

    /// The program's code for the prompt model, DSPy's `get_dspy_source_code`: the code its
    /// parts declare (predictors' signatures, sub-modules' code), then its [`definition`](Module::definition).
    /// By default the parts are its predictors' signatures; `#[module]` programs walk their
    /// fields, and modules wrapping another module show that module's code.
    ///
    /// ```
    /// use dspy_core::{Module, Predict};
    /// let code = Predict::parse("question -> answer").unwrap().source_code();
    /// assert!(code.starts_with("StringSignature(question -> answer\n"));
    /// assert!(code.contains("question = Field(annotation=str required=True"));
    /// ```
    fn source_code(&self) -> String {
        let mut code = SourceCode::new();
        for (_, predictor) in self.named_predictors() {
            code.signature(predictor.signature());
        }
        code.finish(self.definition().as_deref())
    }

    /// Uses this LM for every predictor of the program (DSPy's `set_lm`). Any model works by
    /// value, shared ones too (`Arc<L>`, `Arc<dyn LanguageModel>`), so no caller wraps it.
    fn with_lm(mut self, lm: impl LanguageModel + 'static) -> Self
    where
        Self: Sized,
    {
        let lm = lm.into_shared();
        for (_, predictor) in self.named_predictors_mut() {
            predictor.set_lm(Some(lm.clone()));
        }
        self
    }
}

/// The tunable state of one LM call: its signature (instructions, field descriptions), its demos
/// and its LM. This is what optimizers change and what saved programs store.
pub trait Predictor: Send + Sync {
    /// This predictor's identity (traces refer to it).
    fn id(&self) -> PredictorId;
    /// The signature.
    fn signature(&self) -> &Signature;
    /// Replaces the signature (e.g. new instructions).
    fn set_signature(&mut self, signature: Signature);
    /// The demos.
    fn demos(&self) -> &[Example];
    /// Replaces the demos.
    fn set_demos(&mut self, demos: Vec<Example>);
    /// The LM set on this predictor, if any.
    fn lm(&self) -> Option<std::sync::Arc<dyn LanguageModel>>;
    /// Sets (or clears) the predictor's own LM.
    fn set_lm(&mut self, lm: Option<std::sync::Arc<dyn LanguageModel>>);
    /// Clears demos and the predictor's own LM, as DSPy's `reset`.
    fn reset(&mut self) {
        self.set_demos(Vec::new());
        self.set_lm(None);
    }
    /// The state DSPy saves for a predictor.
    fn dump_state(&self) -> Value;
    /// Restores saved state.
    fn load_state(&mut self, state: &Value) -> Result<()>;
}
