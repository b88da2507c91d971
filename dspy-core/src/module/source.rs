//! A program's code for the prompt model: DSPy's `get_dspy_source_code`, which the program-aware
//! instruction proposer shows to describe the program before proposing instructions.

use super::Module;
use crate::pyfmt::str_repr;
use crate::signature::Signature;

/// DSPy's `get_dspy_source_code` text for one program, built from its parts: a header of the
/// code they declare (each predictor's signature, each sub-module's code; each once, in order),
/// a blank line, then the program's own definition. [`Module::source_code`] builds it; a
/// `#[module]` program adds its fields, and its definition is its struct and `impl` block as
/// written.
///
/// A signature shows its declaration as written when the macros recorded it (as DSPy shows a
/// signature class's source), otherwise DSPy's `str(signature)` text form. Unlike DSPy, which
/// keys signatures by the name of the function that built them (so only the first of several
/// string signatures appears), blocks are de-duplicated by their text.
///
/// ```
/// use dspy_core::module::SourceCode;
/// use dspy_core::{Module, Predict, Signature};
/// let qa = Predict::parse("question -> answer").unwrap();
/// let mut code = SourceCode::new();
/// code.module(&qa);
/// code.signature(&Signature::parse("question -> answer").unwrap()); // the same text: shown once
/// let text = code.finish(Some("struct Program { qa: Predict }"));
/// assert!(text.starts_with("StringSignature(question -> answer\n    instructions='Given the fields `question`, produce the fields `answer`.'\n"));
/// assert!(text.ends_with(")\n\nstruct Program { qa: Predict }"));
/// assert_eq!(text, format!("{}\n\nstruct Program {{ qa: Predict }}", qa.source_code().trim()));
/// ```
#[derive(Clone, Debug, Default)]
pub struct SourceCode {
    header: Vec<String>,
}

impl SourceCode {
    /// An empty header.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a signature: its recorded declaration, or its text form.
    pub fn signature(&mut self, signature: &Signature) -> &mut Self {
        let text = signature.source().map_or_else(|| signature_repr(signature), str::to_string);
        self.push(text)
    }

    /// Adds a sub-module's code (its [`Module::source_code`], trimmed).
    pub fn module<M: Module + ?Sized>(&mut self, module: &M) -> &mut Self {
        self.push(module.source_code().trim().to_string())
    }

    fn push(&mut self, text: String) -> &mut Self {
        if !text.is_empty() && !self.header.contains(&text) {
            self.header.push(text);
        }
        self
    }

    /// The text: the header's blocks separated by blank lines, a blank line, then `definition`
    /// (nothing for modules without one), exactly as DSPy joins them.
    pub fn finish(&self, definition: Option<&str>) -> String {
        format!("{}\n\n{}", self.header.join("\n\n"), definition.unwrap_or(""))
    }
}

/// DSPy's `str(signature)`: the name, the short form, the instructions, and each field as
/// pydantic shows it.
fn signature_repr(signature: &Signature) -> String {
    let fields: Vec<String> = signature
        .fields()
        .iter()
        .map(|f| {
            let desc = f.desc.clone().unwrap_or_else(|| format!("${{{}}}", f.name));
            format!(
                "{} = Field(annotation={} required=True json_schema_extra={{'__dspy_field_type': {}, 'prefix': {}, 'desc': {}}})",
                f.name,
                f.ty.name(),
                str_repr(f.kind.as_str()),
                str_repr(&f.prefix),
                str_repr(&desc)
            )
        })
        .collect();
    format!(
        "{}({}\n    instructions={}\n    {}\n)",
        signature.name(),
        signature.to_short_string(),
        str_repr(signature.instructions()),
        fields.join("\n    ")
    )
}

/// A `#[module]` program's definition: the struct's declaration (when `#[module]` is on it
/// too), then the `impl` block.
#[doc(hidden)]
pub fn __definition(declaration: Option<&str>, implementation: &str) -> String {
    match declaration {
        Some(declaration) => format!("{declaration}\n\n{implementation}"),
        None => implementation.to_string(),
    }
}
