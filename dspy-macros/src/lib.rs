//! Procedural macros of dspy for Rust (placeholder while the crate is being written).
