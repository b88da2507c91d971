//! Signatures: the declared inputs, outputs and instructions of one LM call.
//!
//! A [`Signature`] is a run-time value because optimizers rewrite its instructions, modules such
//! as ChainOfThought add fields to it, and saved programs restore it. The `Signature` derive and
//! the `signature!` macro build the same value at compile time and add typed inputs and outputs
//! on top ([`TypedSignature`]).

mod field_type;
mod typed;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use field_type::{FieldType, NamedType};
pub use typed::{TypedSignature, named_type};

use crate::error::SignatureError;

/// Whether a field is given to the LM or produced by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Supplied by the caller.
    Input,
    /// Produced by the LM.
    Output,
}

impl FieldKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FieldKind::Input => "input",
            FieldKind::Output => "output",
        }
    }
}

/// One field of a signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The field name, as it appears in prompts (`[[ ## name ## ]]`).
    pub name: String,
    /// Input or output.
    pub kind: FieldKind,
    /// Its type.
    pub ty: FieldType,
    /// Its JSON schema (derived from `ty` unless set explicitly).
    pub schema: Value,
    /// The description, if the field has one. Saved programs write a missing one as DSPy's
    /// placeholder `${name}` (and read that back as `None`).
    pub desc: Option<String>,
    /// The legacy prefix (`Question:`), kept because saved programs carry it.
    pub prefix: String,
}

impl Field {
    /// A field with DSPy's defaults: prefix inferred from the name, no description.
    pub fn new(name: impl Into<String>, kind: FieldKind, ty: FieldType) -> Self {
        let name = name.into();
        let schema = ty.json_schema();
        let prefix = format!("{}:", infer_prefix(&name));
        Field { name, kind, ty, schema, desc: None, prefix }
    }

    /// An input field.
    ///
    /// ```
    /// use dspy_core::{Field, FieldType};
    /// let f = Field::input("question", FieldType::Str).desc("a trivia question");
    /// assert_eq!(f.prefix, "Question:");
    /// ```
    pub fn input(name: impl Into<String>, ty: FieldType) -> Self {
        Self::new(name, FieldKind::Input, ty)
    }

    /// An output field.
    pub fn output(name: impl Into<String>, ty: FieldType) -> Self {
        Self::new(name, FieldKind::Output, ty)
    }

    /// Sets the description. DSPy's placeholder `${name}` (this field's own name) means none,
    /// as in DSPy.
    ///
    /// ```
    /// use dspy_core::{Field, FieldType};
    /// assert_eq!(Field::input("q", FieldType::Str).desc("a question").desc.as_deref(), Some("a question"));
    /// assert_eq!(Field::input("q", FieldType::Str).desc("${q}").desc, None);
    /// ```
    pub fn desc(mut self, desc: impl Into<String>) -> Self {
        self.desc = described(&self.name, desc.into());
        self
    }

    /// Sets the prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Overrides the JSON schema (e.g. the exact schema another tool derived).
    pub fn schema(mut self, schema: Value) -> Self {
        self.schema = schema;
        self
    }

    /// The description as shown in prompts: empty when there is none.
    pub fn description(&self) -> &str {
        self.desc.as_deref().unwrap_or("")
    }

    /// Whether this is an input field.
    pub fn is_input(&self) -> bool {
        self.kind == FieldKind::Input
    }
}

/// A description as DSPy writes it: `None` for its no-description placeholder `${name}`.
fn described(name: &str, desc: String) -> Option<String> {
    let placeholder = desc.len() == name.len() + 3 && desc.starts_with("${") && desc.ends_with('}') && desc[2..desc.len() - 1] == *name;
    (!placeholder).then_some(desc)
}

/// The declared inputs, outputs and instructions of one LM call.
///
/// ```
/// use dspy_core::Signature;
/// let sig = Signature::parse("context: list[str], question -> answer: int").unwrap();
/// assert_eq!(sig.instructions(), "Given the fields `context`, `question`, produce the fields `answer`.");
/// assert_eq!(sig.output_fields().next().unwrap().ty.name(), "int");
/// ```
#[derive(Clone, Debug)]
pub struct Signature {
    name: String,
    instructions: String,
    /// Inputs first, then outputs, each in declaration order.
    fields: Vec<Field>,
    /// Changes on every modification; copies share it. Keys caches of formatted prompts.
    version: u64,
    /// The declaration as written (recorded by the macros), while it still says what the LM sees.
    source: Option<Arc<str>>,
}

impl PartialEq for Signature {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.instructions == other.instructions && self.fields == other.fields
    }
}

fn next_version() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Signature {
    /// An empty signature (add fields with [`Signature::append`]).
    pub fn new(name: impl Into<String>, instructions: impl Into<String>) -> Self {
        Signature { name: name.into(), instructions: instructions.into(), fields: Vec::new(), version: next_version(), source: None }
    }

    /// Builds a signature from fields; instructions default to DSPy's
    /// ``Given the fields `a`, produce the fields `b`.``
    pub fn from_fields(
        name: impl Into<String>,
        instructions: Option<String>,
        fields: impl IntoIterator<Item = Field>,
    ) -> Result<Self, SignatureError> {
        let mut sig = Signature::new(name, String::new());
        for f in fields {
            sig = sig.append(f)?;
        }
        if !sig.output_fields().any(|_| true) {
            return Err(SignatureError::NoOutputs);
        }
        sig.instructions = instructions.unwrap_or_else(|| sig.default_instructions());
        sig.version = next_version();
        Ok(sig)
    }

    /// Parses a string signature (`"question -> answer: bool"`) with DSPy's grammar and defaults.
    /// Names other than the built-in types are rejected; see [`Signature::parse_with_types`].
    pub fn parse(source: &str) -> Result<Self, SignatureError> {
        Self::parse_with_types(source, &|_| None)
    }

    /// Parses a string signature, asking `resolve` for user types such as `Verdict`.
    ///
    /// ```
    /// use dspy_core::{FieldType, Signature};
    /// use serde_json::json;
    /// let color = FieldType::named("Color", json!({"enum": ["red", "blue"], "title": "Color", "type": "string"}));
    /// let sig = Signature::parse_with_types("item -> color: Color", &|name| (name == "Color").then(|| color.clone())).unwrap();
    /// assert_eq!(sig.output_fields().next().unwrap().ty.name(), "Color");
    /// ```
    pub fn parse_with_types(source: &str, resolve: &dyn Fn(&str) -> Option<FieldType>) -> Result<Self, SignatureError> {
        let decl = dspy_syntax::parse_signature(source).map_err(field_type::syntax_error)?;
        let mut fields = Vec::with_capacity(decl.inputs.len() + decl.outputs.len());
        for (decls, kind) in [(&decl.inputs, FieldKind::Input), (&decl.outputs, FieldKind::Output)] {
            for d in decls {
                let ty = match &d.ty {
                    None => FieldType::Str,
                    Some(expr) => FieldType::from_expr(expr, d.position, resolve)?,
                };
                fields.push(Field::new(d.name.clone(), kind, ty));
            }
        }
        Self::from_fields("StringSignature", None, fields)
    }

    /// An identifier of this signature's content: equal for copies, new after every change.
    /// Adapters key their caches of formatted system messages on it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The signature's name (the struct name, or `StringSignature`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instructions (the task description in prompts).
    pub fn instructions(&self) -> &str {
        &self.instructions
    }

    /// All fields, inputs first.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The input fields in order.
    pub fn input_fields(&self) -> impl Iterator<Item = &Field> + '_ {
        self.fields.iter().filter(|f| f.kind == FieldKind::Input)
    }

    /// The output fields in order.
    pub fn output_fields(&self) -> impl Iterator<Item = &Field> + '_ {
        self.fields.iter().filter(|f| f.kind == FieldKind::Output)
    }

    /// The field of that name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// DSPy's default instructions for these fields.
    pub fn default_instructions(&self) -> String {
        let list = |kind| {
            self.fields.iter().filter(|f| f.kind == kind).map(|f| format!("`{}`", f.name)).collect::<Vec<_>>().join(", ")
        };
        format!("Given the fields {}, produce the fields {}.", list(FieldKind::Input), list(FieldKind::Output))
    }

    /// `"a, b -> c"`, the reference's short form.
    pub fn to_short_string(&self) -> String {
        let names = |it: &mut dyn Iterator<Item = &Field>| it.map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
        format!("{} -> {}", names(&mut self.input_fields()), names(&mut self.output_fields()))
    }

    /// The same signature with new instructions.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        let instructions = instructions.into();
        if instructions != self.instructions {
            self.source = None;
        }
        self.instructions = instructions;
        self.version = next_version();
        self
    }

    /// The same signature with `text` appended to the instructions after a blank line.
    pub fn append_instructions(mut self, text: &str) -> Self {
        self.instructions = format!("{}\n\n{}", self.instructions, text);
        self.version = next_version();
        self.source = None;
        self
    }

    /// The same signature with the source text of its declaration, which
    /// [`SourceCode`](crate::module::SourceCode) shows the prompt model (as DSPy shows a
    /// signature class's source). `#[derive(Signature)]` and `signature!` items record it.
    /// Adding or removing fields (as `ChainOfThought` adds `reasoning`) keeps it; changing the
    /// instructions or a field's prefix or description drops it, since the declaration no longer
    /// says what the LM sees.
    ///
    /// ```
    /// use dspy_core::Signature;
    /// let sig = Signature::parse("question -> answer").unwrap().with_source("\"question -> answer\"");
    /// assert_eq!(sig.source(), Some("\"question -> answer\""));
    /// assert_eq!(sig.with_instructions("Answer briefly.").source(), None);
    /// ```
    pub fn with_source(mut self, source: impl Into<Arc<str>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The source text of the declaration, if recorded and still current (see [`Signature::with_source`]).
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Inserts a field first among the fields of its kind.
    pub fn prepend(self, field: Field) -> Result<Self, SignatureError> {
        self.insert(0, field)
    }

    /// Inserts a field last among the fields of its kind.
    pub fn append(self, field: Field) -> Result<Self, SignatureError> {
        self.insert(-1, field)
    }

    /// Inserts a field at `index` among the fields of its kind; negative indices count from the
    /// end (`-1` appends), as in DSPy.
    pub fn insert(mut self, index: isize, field: Field) -> Result<Self, SignatureError> {
        if self.field(&field.name).is_some() {
            return Err(SignatureError::DuplicateField(field.name));
        }
        let len = self.fields.iter().filter(|f| f.kind == field.kind).count();
        let at = if index < 0 { index + len as isize + 1 } else { index };
        if at < 0 || at as usize > len {
            return Err(SignatureError::InvalidIndex { index, len, kind: field.kind.as_str() });
        }
        let offset = match field.kind {
            FieldKind::Input => 0,
            FieldKind::Output => self.fields.iter().filter(|f| f.kind == FieldKind::Input).count(),
        };
        self.fields.insert(offset + at as usize, field);
        self.version = next_version();
        Ok(self)
    }

    /// Removes a field; removing an absent field changes nothing, as in DSPy.
    pub fn remove(mut self, name: &str) -> Self {
        self.fields.retain(|f| f.name != name);
        self.version = next_version();
        self
    }

    /// Changes one field in place.
    pub fn with_updated_field(mut self, name: &str, update: impl FnOnce(&mut Field)) -> Result<Self, SignatureError> {
        let field = self.fields.iter_mut().find(|f| f.name == name).ok_or_else(|| SignatureError::UnknownField(name.into()))?;
        let before = field.clone();
        update(field);
        if *field != before {
            self.source = None;
        }
        self.version = next_version();
        Ok(self)
    }

    /// The state DSPy saves for a signature: instructions plus each field's prefix and description.
    pub fn dump_state(&self) -> SignatureState {
        SignatureState {
            instructions: self.instructions.clone(),
            fields: self
                .fields
                .iter()
                .map(|f| FieldState {
                    prefix: f.prefix.clone(),
                    description: f.desc.clone().unwrap_or_else(|| format!("${{{}}}", f.name)),
                })
                .collect(),
        }
    }

    /// Applies saved state; the number of fields must match.
    pub fn load_state(&mut self, state: &SignatureState) -> Result<(), SignatureError> {
        if state.fields.len() != self.fields.len() {
            return Err(SignatureError::StateMismatch(format!(
                "the saved signature has {} field(s) but `{}` has {} ({})",
                state.fields.len(),
                self.to_short_string(),
                self.fields.len(),
                self.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let before = (self.instructions.clone(), self.fields.clone());
        self.instructions = state.instructions.clone();
        self.version = next_version();
        for (field, saved) in self.fields.iter_mut().zip(&state.fields) {
            field.prefix = saved.prefix.clone();
            field.desc = described(&field.name, saved.description.clone());
        }
        if (&before.0, &before.1) != (&self.instructions, &self.fields) {
            self.source = None;
        }
        Ok(())
    }
}

/// A signature as DSPy saves it: `{"instructions": ..., "fields": [{"prefix", "description"}]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureState {
    /// The instructions.
    pub instructions: String,
    /// One entry per field, inputs first.
    pub fields: Vec<FieldState>,
}

/// One field of a saved signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldState {
    /// The prefix (`Question:`).
    pub prefix: String,
    /// The description.
    pub description: String,
}

/// DSPy's `infer_prefix`: `"snake_case_text"` → `"Snake Case Text"`, `"HTMLParser"` → `"HTML Parser"`.
///
/// ```
/// use dspy_core::signature::infer_prefix;
/// assert_eq!(infer_prefix("camelCaseText"), "Camel Case Text");
/// assert_eq!(infer_prefix("text2number"), "Text 2 Number");
/// assert_eq!(infer_prefix("HTMLParser"), "HTML Parser");
/// ```
pub fn infer_prefix(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2"): an underscore before each capitalised word,
    // scanning left to right without overlapping matches, as Python's regex engine does.
    let mut s1: Vec<char> = Vec::with_capacity(chars.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let word = i + 2 < chars.len() && chars[i + 1].is_ascii_uppercase() && chars[i + 2].is_ascii_lowercase();
        if word {
            let mut j = i + 3;
            while j < chars.len() && chars[j].is_ascii_lowercase() {
                j += 1;
            }
            s1.push(chars[i]);
            s1.push('_');
            s1.extend_from_slice(&chars[i + 1..j]);
            i = j;
        } else {
            s1.push(chars[i]);
            i += 1;
        }
    }
    let subst = |input: &[char], left: fn(char) -> bool, right: fn(char) -> bool| -> Vec<char> {
        let mut out = Vec::with_capacity(input.len() + 4);
        for (j, &c) in input.iter().enumerate() {
            if j > 0 && left(input[j - 1]) && right(c) {
                out.push('_');
            }
            out.push(c);
        }
        out
    };
    // re.sub("([a-z0-9])([A-Z])", r"\1_\2")
    let s2 = subst(&s1, |c| c.is_ascii_lowercase() || c.is_ascii_digit(), |c| c.is_ascii_uppercase());
    // re.sub(r"([a-zA-Z])(\d)") then re.sub(r"(\d)([a-zA-Z])")
    let s3 = subst(&s2, |c| c.is_ascii_alphabetic(), |c| c.is_ascii_digit());
    let s4 = subst(&s3, |c| c.is_ascii_digit(), |c| c.is_ascii_alphabetic());
    let joined: String = s4.into_iter().collect();
    joined
        .split('_')
        .map(|word| {
            let is_upper = word.chars().any(char::is_alphabetic) && !word.chars().any(char::is_lowercase);
            if is_upper {
                word.to_string()
            } else {
                let mut cs = word.chars();
                match cs.next() {
                    Some(first) => first.to_uppercase().chain(cs.flat_map(char::to_lowercase)).collect(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recorded declaration survives what modules do to a signature (CoT's `reasoning`, a
    /// state that changes nothing) and is dropped once the instructions or a field's texts
    /// differ from it.
    #[test]
    fn the_source_lasts_while_the_declaration_is_current() {
        let sig = Signature::parse("question -> answer").unwrap().with_source("DECL");
        let extended = sig.clone().prepend(Field::output("reasoning", FieldType::Str)).unwrap();
        assert_eq!(extended.source(), Some("DECL"));
        let mut same = sig.clone();
        same.load_state(&sig.dump_state()).unwrap();
        assert_eq!(same.source(), Some("DECL"));
        assert_eq!(sig.clone().with_instructions(sig.instructions().to_string()).source(), Some("DECL"));

        let mut state = sig.dump_state();
        state.fields[0].description = "The question.".into();
        let mut loaded = sig.clone();
        loaded.load_state(&state).unwrap();
        assert_eq!(loaded.source(), None);
        assert_eq!(sig.clone().append_instructions("Be brief.").source(), None);
        assert_eq!(sig.clone().with_updated_field("answer", |f| f.prefix = "A:".into()).unwrap().source(), None);
        assert_eq!(sig.with_updated_field("answer", |_| {}).unwrap().source(), Some("DECL"));
    }

    #[test]
    fn prefixes_match_dspy() {
        for (name, want) in [
            ("question", "Question"),
            ("search_query", "Search Query"),
            ("camelCaseText", "Camel Case Text"),
            ("HTMLParser", "HTML Parser"),
            ("text2number", "Text 2 Number"),
            ("2text", "2 Text"),
            ("reasoning", "Reasoning"),
            ("getHTTPResponseCode", "Get HTTP Response Code"),
        ] {
            assert_eq!(infer_prefix(name), want, "{name}");
        }
    }

    #[test]
    fn insert_and_remove_keep_sections() {
        let sig = Signature::parse("a, b -> c").unwrap();
        let sig = sig.prepend(Field::output("reasoning", FieldType::Str)).unwrap();
        let names: Vec<_> = sig.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "reasoning", "c"]);
        let sig = sig.insert(1, Field::input("x", FieldType::Int)).unwrap();
        let names: Vec<_> = sig.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "x", "b", "reasoning", "c"]);
        assert!(matches!(sig.clone().insert(9, Field::input("y", FieldType::Int)), Err(SignatureError::InvalidIndex { .. })));
        assert!(matches!(sig.clone().append(Field::input("a", FieldType::Int)), Err(SignatureError::DuplicateField(_))));
        let sig = sig.remove("x").remove("nope");
        assert_eq!(sig.fields().len(), 4);
    }

    #[test]
    fn state_round_trips_and_mismatch_is_an_error() {
        let sig = Signature::parse("question -> answer").unwrap().with_instructions("Be brief.");
        let state = sig.dump_state();
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"instructions": "Be brief.", "fields": [
                {"prefix": "Question:", "description": "${question}"},
                {"prefix": "Answer:", "description": "${answer}"}]})
        );
        let mut other = Signature::parse("question -> answer").unwrap();
        other.load_state(&state).unwrap();
        assert_eq!(other, sig);
        // The placeholder is DSPy's "no description": it reads back as none.
        assert_eq!(other.field("question").unwrap().desc, None);
        let mut wrong = Signature::parse("q, c -> answer").unwrap();
        assert!(matches!(wrong.load_state(&state), Err(SignatureError::StateMismatch(_))));
    }

    #[test]
    fn string_signature_errors_are_typed() {
        match Signature::parse("question -> answer: Nope") {
            Err(SignatureError::Syntax { position, message }) => {
                assert_eq!(position, 20);
                assert!(message.contains("unknown type"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
