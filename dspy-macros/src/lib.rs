//! Procedural macros of dspy for Rust: [`macro@Signature`] and [`signature!`].
//!
//! Use them through the `dspy` crate (`use dspy::prelude::*;`); the generated code names the
//! runtime as `::dspy`. This crate only dispatches: the parsed model is in `ast`, attribute
//! parsing (darling) in `attr`, Rust type mapping in `types`, checks in `valid`, code generation
//! in `expand`, the stand-ins emitted beside errors in `fallback`, the item's text as written
//! (recorded for the prompt model) in `source`, and the string form [`signature!`] in `sig_str`
//! (whose grammar and type names are the runtime's, from `dspy-syntax`, so a string accepted at
//! compile time is accepted at run time).
//!
//! The examples below need the `dspy` crate, which this crate cannot depend on; they are
//! compiled and run as tests in the `dspy` crate (`tests/macros.rs`, `doc_example_*`).

mod ast;
mod attr;
mod expand;
mod fallback;
mod module;
mod sig_str;
mod source;
mod tool;
mod types;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives a typed signature from a struct: each field is an input or an output of one LM call.
///
/// ```ignore
/// use dspy::prelude::*;
///
/// /// Answer questions with short factoid answers.
/// #[derive(Signature)]
/// struct BasicQA {
///     /// The question to answer.
///     #[input]
///     question: String,
///     #[output(desc = "often between 1 and 5 words", prefix = "Short Answer:")]
///     answer: String,
///     #[output(rename = "confidence_score")]
///     confidence: Option<f64>,
/// }
///
/// let sig = BasicQA::signature();
/// assert_eq!(sig.name(), "BasicQA");
/// assert_eq!(sig.instructions(), "Answer questions with short factoid answers.");
/// assert_eq!(sig.to_short_string(), "question -> answer, confidence_score");
/// assert_eq!(sig.fields()[0].desc.as_deref(), Some("The question to answer."));
/// assert_eq!(sig.fields()[1].prefix, "Short Answer:");
/// assert_eq!(sig.fields()[2].ty.name(), "Union[float, NoneType]");
///
/// // The generated input and output structs:
/// let input = BasicQAInput { question: "Who wrote Hamlet?".into() };
/// let lm = DummyLM::new(vec![serde_json::json!({"answer": "Shakespeare"})]);
/// let out = Predict::<BasicQA>::new().with_lm(lm).call_blocking(input).unwrap();
/// let _: &BasicQAOutput = &out;
/// assert_eq!(out.answer, "Shakespeare");
/// assert_eq!(out.confidence, None);
///
/// // The struct itself is a labelled example (a demo).
/// let demo: Example = BasicQA { question: "2+2?".into(), answer: "4".into(), confidence: Some(1.0) }.into();
/// assert_eq!(demo.input_keys(), Some(&["question".to_string()][..]));
/// assert_eq!(demo.get("confidence_score"), Some(&serde_json::json!(1.0)));
///
/// // A dataset row: the inputs and the gold outputs, for typed datasets and metrics.
/// let row = BasicQAExample { question: "2+2?".into(), answer: "4".into(), confidence: None };
/// let metric = |gold: &BasicQAExample, pred: &BasicQAOutput| gold.answer == pred.answer;
/// # let _ = (row, metric);
/// ```
///
/// # Generated items
///
/// For `struct Name`, with the struct's visibility:
///
/// * `NameInput`: the `#[input]` fields as `pub` fields (`Debug`, `Clone`, `Serialize`);
/// * `NameOutput`: the `#[output]` fields as `pub` fields (`Debug`, `Clone`, `Deserialize`);
/// * `impl TypedSignature for Name`, whose `signature()` is built once, on first use, into a `static`;
/// * `NameExample`: a dataset row, every field (`pub`; `Debug`, `Clone`, `Serialize`,
///   `Deserialize`), implementing `TypedExample` (its inputs marked) and converting into
///   `NameInput` (by value and by reference). Load rows with `dspy::data`, score with typed
///   metrics `|gold: &NameExample, pred: &NameOutput| ...`, pass them to `Evaluate` and `compile`;
/// * `impl From<Name> for Example`: every field serialised to JSON, the inputs marked with
///   `with_inputs`, so the struct doubles as a typed demo. Field types must therefore implement
///   `Serialize`, `Deserialize`, `Debug` and `Clone`.
///
/// # Attributes
///
/// * `#[input]` / `#[output]` (exactly one per field), optionally with arguments:
///   * `desc = "..."`: the field description shown in prompts. Without it, the field's doc
///     comment is used, trimmed like Python's `inspect.cleandoc` (as clap does for help texts);
///     without either, the field has no description (DSPy's `${name}` placeholder).
///   * `prefix = "..."`: the legacy prefix (default: inferred from the name, `Question:`).
///   * `rename = "..."`: the field name used in prompts, parsing and examples (the Rust field
///     keeps its name; serde uses the new one).
///   * `unlabeled` (outputs only): the data has no gold value for this output, so it is an
///     `Option` in `NameExample` (left out of the example when `None`).
/// * `#[signature(unlabeled)]` on the struct: every output is `unlabeled` (a task without labels).
/// * `#[signature(crate = "path")]` on the struct: where the `dspy` crate is, when it is not
///   `::dspy` (e.g. when re-exported by another crate).
///
/// The struct's doc comment becomes the instructions: its lines are joined with `\n` and
/// trimmed like Python's `inspect.cleandoc`, exactly as DSPy treats a class docstring. Without a
/// doc comment the instructions are DSPy's default, ``Given the fields `a`, produce the fields `b`.``
///
/// # Field types
///
/// | Rust | DSPy |
/// |------|------|
/// | `String` | `str` |
/// | `i8`..`i64`, `u8`..`u64`, `isize`, `usize` | `int` |
/// | `f32`, `f64` | `float` |
/// | `bool` | `bool` |
/// | `Vec<T>`, `VecDeque<T>`, `HashSet<T>`, `BTreeSet<T>` | `list[T]` |
/// | `Option<T>` | `Optional[T]` (`Union[T, NoneType]`) |
/// | `HashMap<String, V>`, `BTreeMap<String, V>`, `IndexMap<String, V>` | `dict[str, V]` |
/// | `serde_json::Value` | `Any` |
/// | `Box<T>`, `Arc<T>` (`Arc` needs serde's `rc` feature) | as `T` |
/// | `Image`, `Audio` | `Image`, `Audio` |
/// | any other type deriving `serde` and `schemars::JsonSchema` | its name and schema (a unit-only enum is a `Literal[...]`) |
///
/// The mapping is syntactic (by the last path segment). References, tuples, arrays, slices,
/// function pointers, trait objects, `impl Trait`, `char`, 128-bit integers and maps with
/// non-`String` keys are compile errors, as are generic structs, enums, unions, tuple and unit
/// structs.
///
/// # Errors
///
/// Mistakes are compile errors at their span. Beside them the macro still defines `NameInput`,
/// `NameOutput` (with the fields it could read) and the impls, with `unimplemented!()` bodies,
/// so that code using them adds no errors of its own: one mistake, one error. `signature!`,
/// `#[module]` and `#[tool]` do the same with what they generate.
#[proc_macro_derive(Signature, attributes(input, output, signature))]
pub fn derive_signature(input: TokenStream) -> TokenStream {
    let source = source::text(input.clone());
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, source).into()
}

/// A typed signature from DSPy's string syntax, checked at compile time.
///
/// **Expression form**: `signature!("...")` is a value of an anonymous type implementing
/// `TypedSignature`, for `Predict::typed`. The output struct has one `pub` field per output
/// with its Rust type; the input struct converts from the tuple of inputs in order (each element
/// `Into` the field type) and, when the only input is a `str`, from `&str` and `String`.
///
/// ```ignore
/// use dspy::prelude::*;
///
/// let lm = DummyLM::new(vec![serde_json::json!({"answer": "true", "score": "2"})]);
/// let check = Predict::typed(signature!("claim, context: list[str] -> answer: bool, score: int")).with_lm(lm);
/// let out = check.call_blocking(("Water is wet.", vec!["Water is a liquid.".to_string()])).unwrap();
/// let (answer, score): (bool, i64) = (out.answer, out.score);
/// assert!(answer);
/// assert_eq!(score, 2);
/// ```
///
/// **Item form**: `signature! { /// Instructions. \n pub Name = "..." }` defines a unit struct
/// `Name` implementing `TypedSignature`, with `NameInput` and `NameOutput` (several items may
/// follow each other, separated by `;`). The doc comment becomes the instructions, trimmed like
/// Python's `inspect.cleandoc`; without one they are DSPy's default. The signature is named
/// `Name` (the expression form's is `StringSignature`, as in DSPy).
///
/// ```ignore
/// use dspy::prelude::*;
///
/// signature! {
///     /// Judge whether the claim is supported.
///     pub FactCheck = "claim -> verdict: Literal['supported', 'refuted'], confidence: Optional[float]"
/// }
///
/// let sig = FactCheck::signature();
/// assert_eq!(sig.instructions(), "Judge whether the claim is supported.");
/// assert_eq!(sig.field("verdict").unwrap().ty.name(), "Literal['supported', 'refuted']");
/// let input: FactCheckInput = "The sky is green.".into();
/// assert_eq!(input.claim, "The sky is green.");
/// # let _ = |o: FactCheckOutput| -> (String, Option<f64>) { (o.verdict, o.confidence) };
/// ```
///
/// # Types
///
/// | DSPy | Rust |
/// |------|------|
/// | `str` (and no type) | `String` |
/// | `int` | `i64` |
/// | `float` | `f64` |
/// | `bool` | `bool` |
/// | `list[T]`, `List[T]`, `set[T]` | `Vec<T>` |
/// | `dict[str, V]`, `Dict[str, V]` | `BTreeMap<String, V>` |
/// | `Optional[T]`, `T \| None` | `Option<T>` |
/// | `tuple[A, B]` | `(A, B)` |
/// | `Literal['a', 'b']` / `Literal[1, 2]` | `String` / `i64` (the run-time type stays the `Literal`, so values are validated) |
/// | `Any` | `serde_json::Value` |
/// | any other name, e.g. `Verdict` or `models.Verdict` | that Rust type (`models::Verdict`) in the caller's scope, deriving `serde` and `schemars::JsonSchema` |
///
/// The run-time `FieldType` of every field equals what
/// `Signature::parse` builds for the same string. Syntax errors, unions of several types,
/// duplicate fields, missing outputs and dictionaries with non-`str` keys are compile errors
/// that point at the string and name the character position.
#[proc_macro]
pub fn signature(input: TokenStream) -> TokenStream {
    let sources = source::items(input.clone());
    sig_str::expand(input.into(), sources).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Makes a struct of modules a DSPy program. Put it on the struct *and* on the `impl` block
/// that defines `forward`.
///
/// ```ignore
/// use dspy::prelude::*;
///
/// signature! { pub GenerateAnswer = "context: list[str], question -> answer" }
///
/// #[module]
/// struct Rag {
///     generate_answer: ChainOfThought<GenerateAnswer>,
///     #[skip]
///     passages: usize,
/// }
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Answer { answer: String }
///
/// #[module]
/// impl Rag {
///     async fn forward(&self, question: String) -> Result<Answer> {
///         let context = vec!["Paris is the capital of France.".to_string(); self.passages];
///         let out = self.generate_answer.call((context, question)).await?;
///         Ok(Answer { answer: out.answer.clone() })
///     }
/// }
///
/// let rag = Rag { generate_answer: ChainOfThought::new(), passages: 1 };
/// let names: Vec<String> = rag.named_predictors().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["generate_answer.predict"]);
/// let lm = DummyLM::new(vec![serde_json::json!({"reasoning": "Given.", "answer": "Paris"})]);
/// let out = rag.with_lm(lm).call_blocking("Capital of France?").unwrap();
/// assert_eq!(out.answer, "Paris");
/// ```
///
/// # On the struct
///
/// Every field is a module (anything implementing `ContainsPredictors`: `Predict`,
/// `ChainOfThought`, `ReAct`, any `Module`, another `#[module]` program, and `Vec`, `Option`,
/// arrays and `Box` of them) unless marked `#[skip]`; a field that is not a module and not
/// skipped is a compile error at its type. The macro implements `ModuleFields`, the predictor
/// walk with DSPy's dotted names (`generate_answer.predict`, `hops[0].predict`,
/// `inner.generate.predict`), and derives `Clone` (a deep copy whose predictors get fresh
/// identities) unless the struct already derives it or says `#[module(no_clone)]`.
///
/// # On the `impl` block
///
/// The block must contain `forward(&self, ...)` (usually `async`) returning a `Result` (any
/// error type that converts into `dspy::Error`) of your own output type (`Serialize` and
/// `Deserialize`), of a `Predicted<T>`, or of a dynamic `Prediction`, `serde_json` map or
/// object, or `Example`. Its arguments are plain names of owned types: the generated
/// `Module::forward(&self, &Example)` reads each from the example field of the same name with
/// serde (a missing field reads as `null`, so `Option<_>` arguments may be absent), calls your
/// `forward`, and converts its result. `#[flatten] input: T` as the only argument reads the
/// whole example as `T` (its fields are the program's inputs); a single `inputs: &Example`
/// argument receives the example itself. Your `forward` stays callable as it is; the dynamic
/// one is `Module::forward(&program, &example)`, which `Evaluate`, `Parallel` and the
/// optimizers use.
///
/// When the arguments are typed and the result is your type `T` (or `Predicted<T>`), the
/// program is also a `TypedModule`: `call`, `call_blocking`, `batch` and `stream` take its
/// input (the argument's type, the tuple of the arguments' types, or the `#[flatten]` struct)
/// and return `Predicted<T>`; typed metrics over `T` can score it, and optimizers return it as
/// the same type.
///
/// # Source code
///
/// Both attributes record their item's text as written (comments and formatting included) at
/// compile time: `Module::definition` returns the struct and the `impl` block, and
/// `Module::source_code` (DSPy's `get_dspy_source_code`) puts the fields' signatures and
/// nested programs' code before it. The optimizers' prompt models read it as DSPy's read the
/// Python source. `#[derive(Signature)]` and `signature!` items record the signature's
/// declaration in the same way (`Signature::source`).
///
/// `#[module(crate = "path")]` names the `dspy` crate when it is re-exported elsewhere.
#[proc_macro_attribute]
pub fn module(args: TokenStream, input: TokenStream) -> TokenStream {
    let source = source::text(input.clone());
    module::expand(args.into(), input.into(), source).into()
}

/// Makes a plain function (async or not) usable as an agent tool: keeps the function and adds
/// `{name}_tool() -> dspy::module::Tool`, whose name is the function's, whose description is
/// its doc comment (trimmed like Python's `inspect.cleandoc`), and whose arguments are its
/// parameters with their JSON schemas (`schemars`), as DSPy's `dspy.Tool(func)` builds them.
///
/// ```ignore
/// use dspy::prelude::*;
///
/// /// Get the current weather for a city.
/// #[dspy::tool]
/// async fn get_weather(city: String) -> String {
///     format!("Sunny in {city}, 21 C")
/// }
///
/// let tool = get_weather_tool();
/// assert_eq!(tool.name(), "get_weather");
/// assert_eq!(
///     tool.to_string(),
///     "get_weather, whose description is <desc>Get the current weather for a city.</desc>. \
///      It takes arguments {'city': {'type': 'string'}}."
/// );
/// ```
///
/// * Parameters must be plain names with owned types that implement `serde::Deserialize` and
///   `schemars::JsonSchema`; an `Option<T>` parameter may be left out (its schema gets DSPy's
///   `"default": None`). `#[arg(desc = "...")]` on a parameter sets its `description`.
/// * The function returns `Result<T, E>` (`T: Serialize`, `E: Display`: an `Err` becomes the
///   observation `Execution error in {tool}: {e}`) or a plain value (strings, numbers, `bool`,
///   `Vec`, `Option`, `serde_json::Value`, or `dspy::module::Json(any Serialize)`).
/// * Options: `#[tool(name = "...", desc = "...", crate = "path")]` override the name, the
///   description and the path of the `dspy` crate.
///
/// Methods (`self`), generic functions and borrowed parameters are compile errors.
#[proc_macro_attribute]
pub fn tool(args: TokenStream, input: TokenStream) -> TokenStream {
    tool::expand(args.into(), input.into()).into()
}
