//! # dspy for Rust
//!
//! Typed, compiled programming of language models: declare what an LM call takes and returns,
//! compose calls into programs, and let optimizers compile better prompts. Prompts are
//! byte-identical to Python DSPy 3.4.1's, so programs optimized there load and behave the same.
//!
//! ```
//! use dspy::prelude::*;
//!
//! /// Answer questions with short factoid answers.
//! #[derive(Signature)]
//! struct BasicQA {
//!     #[input]
//!     question: String,
//!     #[output(desc = "often between 1 and 5 words")]
//!     answer: String,
//! }
//!
//! let lm = DummyLM::new(vec![serde_json::json!({"answer": "Shakespeare"})]);
//! let qa = Predict::<BasicQA>::new().with_lm(lm);
//! let out = qa.call_blocking(BasicQAInput { question: "Who wrote Hamlet?".into() }).unwrap();
//! assert_eq!(out.answer, "Shakespeare");
//! ```

extern crate self as dspy;

// The surface, listed on purpose: the documented modules and the items most programs name.
// `dspy_core`'s internals (parsing, Python formatting, the signature grammar) are not here.
pub use dspy_core::{
    adapter, data, dummy, error, evaluate, example, lm, module, prediction, retrieve, settings, signature, telemetry, trace, types, usage,
};
pub use dspy_core::{Adapter, ChatAdapter, FormatOutputs, JSONAdapter, XMLAdapter};
pub use dspy_core::{Error, InputError, ParseError, Result, SignatureError, StateError};
pub use dspy_core::{DummyLM, LmHistoryEntry};
pub use dspy_core::{Example, Predicted, Prediction, TypedExample, typed_example};
pub use dspy_core::{
    CacheConfig, Capabilities, Content, ContentPart, LM, LanguageModel, LmConfig, LmError, LmOutput, LmRequest,
    LmResponse, LmStream, Message, ResponseFormat, Role, StreamEvent, StructuredOutput, ToolCall, ToolSpec, Usage,
    configure_cache, inspect_history,
};
pub use dspy_core::{ChainOfThought, Module, Predict, Predictor, TypedModule, Reasoned, Untyped};
pub use dspy_core::{MultiChainComparison, ProgramOfThought, PythonSandbox, ReAct, Tool, ToolError, majority};
pub use dspy_core::{Audio, Image, MediaError};
pub use dspy_core::{Settings, configure};
pub use dspy_core::{Field, FieldKind, FieldType, NamedType, Signature, TypedSignature, named_type};
pub use dspy_core::block_on;
#[doc(hidden)]
pub use dspy_core::__private;
pub use dspy_macros::{Signature, module, signature};
pub use dspy_macros::tool;
pub use dspy_optimizers as optimizers;

/// The names most programs need: `use dspy::prelude::*;`.
pub mod prelude {
    pub use dspy_core::{
        Adapter, ChainOfThought, ChatAdapter, DummyLM, Example, Field, FieldType, JSONAdapter, LM, LanguageModel, Module, Predict,
        Predicted, Prediction, Predictor, TypedModule, Settings, Signature, TypedExample, TypedSignature, XMLAdapter, configure,
    };
    pub use dspy_macros::{Signature, signature};
    pub use dspy_core::Result;
    pub use dspy_core::evaluate::{Evaluate, Metric, Score, Trace};
    pub use dspy_core::module::{Assert, Backtracking, BestOfN, ModuleExt, Parallel, Refine, Suggest};
    pub use dspy_core::retrieve::{Embeddings, Retrieve, Retriever};
    pub use dspy_macros::module;
    pub use dspy_core::{MultiChainComparison, ProgramOfThought, ReAct, Tool, majority};
    pub use dspy_core::{Audio, Image};
    pub use dspy_core::module::{StreamItem, batch};
    pub use dspy_macros::tool;
}

/// The book (`docs/`, an mdBook) as doctests: `cargo test -p dspy --doc` compiles and runs
/// every Rust code block of every chapter, so the guide cannot drift from the API.
#[cfg(doctest)]
mod book {
    #[doc = include_str!("../docs/introduction.md")]
    pub struct Introduction;
    #[doc = include_str!("../docs/getting-started.md")]
    pub struct GettingStarted;
    #[doc = include_str!("../docs/signatures.md")]
    pub struct Signatures;
    #[doc = include_str!("../docs/modules.md")]
    pub struct Modules;
    #[doc = include_str!("../docs/data.md")]
    pub struct Data;
    #[doc = include_str!("../docs/adapters.md")]
    pub struct Adapters;
    #[doc = include_str!("../docs/lms.md")]
    pub struct Lms;
    #[doc = include_str!("../docs/optimizers.md")]
    pub struct Optimizers;
    #[doc = include_str!("../docs/saving.md")]
    pub struct Saving;
    #[doc = include_str!("../docs/performance.md")]
    pub struct Performance;
}
