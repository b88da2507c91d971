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
//! let lm = std::sync::Arc::new(DummyLM::new(vec![serde_json::json!({"answer": "Shakespeare"})]));
//! let qa = Predict::<BasicQA>::new().with_lm(lm);
//! let out = qa.call_blocking(BasicQAInput { question: "Who wrote Hamlet?".into() }).unwrap();
//! assert_eq!(out.answer, "Shakespeare");
//! ```

extern crate self as dspy;

pub use dspy_core::*;
pub use dspy_macros::{Signature, module, signature};
pub use dspy_macros::tool;
pub use dspy_optimizers as optimizers;

/// The names most programs need: `use dspy::prelude::*;`.
pub mod prelude {
    pub use dspy_core::{
        Adapter, ChainOfThought, ChatAdapter, DummyLM, Example, Field, FieldType, JSONAdapter, LM, LanguageModel, Module, Predict,
        Predicted, Prediction, Predictor, Settings, Signature, TypedSignature, XMLAdapter, configure,
    };
    pub use dspy_macros::{Signature, signature};
    pub use dspy_core::Result;
    pub use dspy_core::evaluate::{Evaluate, Metric, Score};
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
