//! Typed value parsing: from an LM's text (or a JSON value it produced) to a value of a field's
//! type, with the reference DSPy's `parse_value` semantics, lenient where that is safe.

mod coerce;
pub mod lenient;

pub use coerce::coerce;
pub(crate) use coerce::json_eq;

use serde_json::Value;

use crate::pyfmt;
use crate::signature::{Field, FieldType};

/// Parses one output field's raw text, as the chat and XML adapters see it.
///
/// ```
/// use dspy_core::{Field, FieldType, parse::parse_text};
/// use serde_json::json;
/// let n = Field::output("n", FieldType::Int);
/// assert_eq!(parse_text(" 3 ", &n).unwrap(), json!(3));
/// assert!(parse_text("three", &n).is_err());
/// ```
pub fn parse_text(text: &str, field: &Field) -> Result<Value, String> {
    parse_value(Value::String(text.to_string()), field)
}

/// Parses one output field's value (a JSON value, or text that may hold one) into its type.
/// The result always satisfies the field's schema; otherwise the error says why.
pub fn parse_value(value: Value, field: &Field) -> Result<Value, String> {
    let ty = &field.ty;
    if ty.is_str() {
        return Ok(match value {
            Value::String(s) => Value::String(s),
            other => Value::String(pyfmt::py_str(&other)),
        });
    }
    let mut value = value;
    if let FieldType::Literal(allowed) = ty {
        if allowed.iter().any(|a| json_eq(a, &value)) {
            return Ok(value);
        }
        if let Value::String(s) = &value {
            let mut v = pyfmt::strip(s);
            for wrapper in ["Literal[", "str["] {
                if v.starts_with(wrapper) && v.ends_with(']') {
                    v = &v[wrapper.len()..v.len() - 1];
                    break;
                }
            }
            let mut chars = v.chars();
            if v.chars().count() > 1 {
                let (first, last) = (chars.next(), chars.next_back());
                if first == last && matches!(first, Some('"' | '\'')) {
                    v = &v[1..v.len() - 1];
                }
            }
            if let Some(a) = allowed.iter().find(|a| a.as_str() == Some(v)) {
                return Ok(a.clone());
            }
            value = Value::String(v.to_string());
        }
    }
    let Value::String(text) = value else {
        return coerce(value, &field.schema);
    };
    if let FieldType::Union(members) = ty {
        if members.contains(&FieldType::Str) && members.contains(&FieldType::NoneType) {
            return coerce(Value::String(text), &field.schema);
        }
    }
    if let FieldType::Named(named) = ty {
        if named.enum_values().is_some() {
            // Enum members are matched on their text first, as DSPy's `find_enum_member` does.
            if let Ok(v) = coerce(Value::String(text.clone()), &field.schema) {
                return Ok(v);
            }
        }
    }
    let candidate = match lenient::loads(&text) {
        Some(v) => v,
        None => Value::String(text),
    };
    coerce(candidate, &field.schema)
}

/// Fills output fields missing from a parse with their fallback: `None` for optional types.
pub fn apply_output_defaults(fields: &mut serde_json::Map<String, Value>, sig: &crate::Signature) {
    for f in sig.output_fields() {
        if !fields.contains_key(&f.name) && f.ty.allows_none() {
            fields.insert(f.name.clone(), Value::Null);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(src: &str) -> Field {
        crate::Signature::parse(&format!("x -> y: {src}")).unwrap().output_fields().next().unwrap().clone()
    }

    #[test]
    fn literal_forms() {
        let f = field("Literal['positive', 'negative', 'neutral']");
        assert_eq!(parse_text("positive", &f).unwrap(), json!("positive"));
        assert_eq!(parse_text("'negative'", &f).unwrap(), json!("negative"));
        assert_eq!(parse_text("Literal['neutral']", &f).unwrap(), json!("neutral"));
        assert_eq!(parse_text(" Positive ", &f).unwrap(), json!("positive"));
        assert!(parse_text("mixed", &f).is_err());
        let stars = field("Literal[1, 2, 3, 4, 5]");
        assert_eq!(parse_text("3", &stars).unwrap(), json!(3));
        assert!(parse_text("7", &stars).is_err());
    }

    #[test]
    fn optional_str_keeps_text() {
        let f = field("Optional[str]");
        assert_eq!(parse_text("None", &f).unwrap(), json!("None"));
    }

    #[test]
    fn containers_from_text() {
        let f = field("list[str]");
        assert_eq!(parse_text("```json\n[\"a\", \"b\",]\n```", &f).unwrap(), json!(["a", "b"]));
        assert!(parse_text("a", &f).is_err());
        let d = field("dict[str, int]");
        assert_eq!(parse_text("{'x': '2'}", &d).unwrap(), json!({"x": 2}));
    }
}
