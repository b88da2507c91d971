//! Formatting shared by the adapters: field values, type hints and field lists, each as the
//! reference's `dspy/adapters/utils.py` writes them.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::pyfmt;
use crate::signature::{Field, FieldKind, FieldType, Signature};
use crate::types::media_marker;

/// `format_field_value`: a field's value as prompt text.
///
/// Text stays as it is; a list given to a `str` field becomes a numbered list; other values are
/// JSON (`json.dumps`) when they are lists or objects and Python's `str()` otherwise.
pub(crate) fn format_field_value<'a>(field: &Field, value: &'a Value) -> Cow<'a, str> {
    if let (Value::Array(items), true) = (value, field.ty.is_str()) {
        return format_input_list(items).into();
    }
    if let Value::String(s) = value
        && !contains_media(&field.ty)
    {
        return s.as_str().into(); // text is shown as it is
    }
    let jsonable = jsonable(value, &field.ty);
    match &jsonable {
        Value::Array(_) | Value::Object(_) => pyfmt::dumps(&jsonable).into(),
        other => pyfmt::py_str(other).into(),
    }
}

/// `serialize_for_json`: the value with media (images, audio) replaced by their content-part
/// markers, which `format` later splits into separate message parts.
pub(crate) fn jsonable(value: &Value, ty: &FieldType) -> Value {
    match ty {
        FieldType::Image | FieldType::Audio => match media_marker(value, ty) {
            Some(marker) => Value::String(marker),
            None => value.clone(),
        },
        FieldType::List(item) => match value {
            Value::Array(items) if contains_media(item) => {
                Value::Array(items.iter().map(|v| jsonable(v, item)).collect())
            }
            _ => value.clone(),
        },
        FieldType::Union(members) => match members.iter().find(|m| contains_media(m)) {
            Some(m) if !value.is_null() => jsonable(value, m),
            _ => value.clone(),
        },
        FieldType::Dict(_, v) if contains_media(v) => match value {
            Value::Object(map) => Value::Object(map.iter().map(|(k, x)| (k.clone(), jsonable(x, v))).collect()),
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}

fn contains_media(ty: &FieldType) -> bool {
    match ty {
        FieldType::Image | FieldType::Audio => true,
        FieldType::List(t) | FieldType::Dict(_, t) => contains_media(t),
        FieldType::Union(m) | FieldType::Tuple(m) => m.iter().any(contains_media),
        _ => false,
    }
}

fn format_input_list(items: &[Value]) -> String {
    match items {
        [] => "N/A".into(),
        [one] => format_blob(&pyfmt::py_str(one)),
        many => many
            .iter()
            .enumerate()
            .map(|(i, v)| format!("[{}] {}", i + 1, format_blob(&pyfmt::py_str(v))))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn format_blob(blob: &str) -> String {
    if !blob.contains('\n') && !blob.contains('«') && !blob.contains('»') {
        return format!("«{blob}»");
    }
    format!("«««\n    {}\n»»»", blob.replace('\n', "\n    "))
}

/// `translate_field_type`: the placeholder for a field in the structure section, with a note on
/// the type the LM must produce (`{answer}        # note: the value you produce must be True or False`).
pub(crate) fn translate_field_type(field: &Field) -> String {
    let desc = if field.kind == FieldKind::Input {
        String::new()
    } else {
        type_note(field)
    };
    if desc.is_empty() {
        format!("{{{}}}", field.name)
    } else {
        format!("{{{}}}        # note: the value you produce {}", field.name, desc)
    }
}

fn type_note(field: &Field) -> String {
    match &field.ty {
        FieldType::Str => String::new(),
        FieldType::Bool => "must be True or False".into(),
        FieldType::Int => "must be a single int value".into(),
        FieldType::Float => "must be a single float value".into(),
        FieldType::Named(n) if n.enum_values().is_some() => {
            let values: Vec<String> = n.enum_values().into_iter().flatten().map(pyfmt::py_str).collect();
            format!("must be one of: {}", values.join("; "))
        }
        FieldType::Literal(values) => {
            let values: Vec<String> = values.iter().map(pyfmt::py_str).collect();
            format!("must exactly match (no extra characters) one of: {}", values.join("; "))
        }
        _ => format!("must adhere to the JSON schema: {}", pyfmt::dumps(&type_first(&field.schema))),
    }
}

/// The schema with keys sorted and `type` first at every level, as DSPy shows it to the LM.
pub(crate) fn type_first(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| (a.as_str() != "type", a.as_str()).cmp(&(b.as_str() != "type", b.as_str())));
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), type_first(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(type_first).collect()),
        other => other.clone(),
    }
}

/// `get_field_description_string`: "1. `question` (str): a trivia question", one line per field.
pub(crate) fn field_description_list<'a>(fields: impl Iterator<Item = &'a Field>) -> String {
    let lines: Vec<String> = fields
        .enumerate()
        .map(|(i, f)| format!("{}. `{}` ({}): {}", i + 1, f.name, f.ty.name(), f.description()))
        .collect();
    pyfmt::strip(&lines.join("\n")).to_string()
}

/// `format_field_description` of the chat family: both field lists.
pub(crate) fn field_descriptions(sig: &Signature) -> String {
    format!(
        "Your input fields are:\n{}\nYour output fields are:\n{}",
        field_description_list(sig.input_fields()),
        field_description_list(sig.output_fields())
    )
}

/// `format_task_description` of the chat family: the dedented instructions, indented by 8.
pub(crate) fn task_description(instructions: &str) -> String {
    let dedented = pyfmt::dedent(instructions);
    let mut objective = String::new();
    for line in pyfmt::splitlines(&dedented) {
        objective.push_str("\n        ");
        objective.push_str(line);
    }
    format!("In adhering to this structure, your objective is: {objective}")
}

/// The note on a field's type in the closing request: empty for `str`.
pub(crate) fn type_info(field: &Field) -> String {
    if field.ty.is_str() {
        String::new()
    } else {
        format!(" (must be formatted as a valid Python {})", field.ty.name())
    }
}

/// `[[ ## name ## ]]\nvalue` sections joined by blank lines, as `format_field_with_value` does.
pub(crate) fn marker_sections<'a>(fields: impl Iterator<Item = (&'a str, impl AsRef<str>)>) -> String {
    let mut joined = Joined::with_capacity(128);
    for (name, value) in fields {
        joined.section(name, value.as_ref());
    }
    joined.finish()
}

/// Joins parts with blank lines and strips the result, the reference's `"\n\n".join(...).strip()`.
pub(crate) fn join_strip(parts: &[&str]) -> String {
    let mut joined = Joined::with_capacity(parts.iter().map(|p| p.len() + 2).sum());
    for part in parts {
        joined.part(part);
    }
    joined.finish()
}

/// The reference's `"\n\n".join(parts).strip()` built in one buffer: parts (an empty one still
/// counts, as in Python) and `[[ ## name ## ]]` sections, stripped once at the end.
pub(crate) struct Joined {
    text: String,
    parts: usize,
}

impl Joined {
    /// An empty text with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Joined { text: String::with_capacity(capacity), parts: 0 }
    }

    fn separate(&mut self) {
        if self.parts > 0 {
            self.text.push_str("\n\n");
        }
        self.parts += 1;
    }

    /// Appends one part.
    pub(crate) fn part(&mut self, part: &str) {
        self.separate();
        self.text.push_str(part);
    }

    /// Appends one `[[ ## name ## ]]\nvalue` section as a part.
    pub(crate) fn section(&mut self, name: &str, value: &str) {
        self.separate();
        self.text.push_str("[[ ## ");
        self.text.push_str(name);
        self.text.push_str(" ## ]]\n");
        self.text.push_str(value);
    }

    /// The stripped text (no copy when there is nothing to strip).
    pub(crate) fn finish(self) -> String {
        let stripped = pyfmt::strip(&self.text);
        if stripped.len() == self.text.len() { self.text } else { stripped.to_string() }
    }
}
