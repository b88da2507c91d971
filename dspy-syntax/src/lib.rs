//! The string-signature grammar and Python type names shared by dspy's runtime and macros.
//!
//! `Signature::parse` (run time) and `signature!` (compile time) both parse with [`parse_signature`]
//! and resolve type names with [`PyType::resolve`], so a string accepted at compile time is
//! accepted at run time and builds the same field types. This crate depends on nothing but
//! `std`, so the proc-macro crate can use it without pulling in the runtime.

mod grammar;
mod types;

pub use grammar::{Const, FieldDecl, SignatureDecl, SyntaxError, TypeExpr, parse_signature, parse_type};
pub use types::{PyType, TypeName, literal_quote};
