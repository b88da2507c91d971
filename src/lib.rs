//! dspy for Rust (facade).
pub use dspy_core::*;
