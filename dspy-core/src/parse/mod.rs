//! Typed value parsing: from an LM's text (or a JSON value it produced) to a value of a field's
//! type, with the reference DSPy's `parse_value` semantics, lenient where that is safe.

mod coerce;
// The adapters parse through `parse_text`; `lenient::loads` reads a whole value the way the
// reference's tests do, to check this port against the reference's cases.
#[cfg(test)]
mod lenient;
mod literal;
pub(crate) mod py;
mod pyjson;
mod repair;

pub(crate) use coerce::coerce;

use serde_json::Value;

use crate::pyfmt;
use crate::signature::{Field, FieldType};
use py::Py;

/// Parses one output field's raw text, as the chat and XML adapters see it.
pub(crate) fn parse_text(text: &str, field: &Field) -> Result<Value, String> {
    if field.ty.is_str() {
        return Ok(Value::String(text.to_string())); // text fields are the text itself
    }
    parse_py(Py::Str(text.to_string()), field)
}

/// Parses one output field's value (a JSON value, or text that may hold one) into its type.
/// The result always satisfies the field's schema; otherwise the error says why.
pub(crate) fn parse_value(value: Value, field: &Field) -> Result<Value, String> {
    parse_py(Py::from_json(&value), field)
}

/// The reference's `parse_value(value, annotation)`, step by step: text for `str`, enum members,
/// `Literal` spellings, then (for text) `json_repair.loads` and `ast.literal_eval`, then
/// validation with pydantic's lax coercions.
pub(crate) fn parse_py(value: Py, field: &Field) -> Result<Value, String> {
    let ty = &field.ty;
    if ty.is_str() {
        return Ok(Value::String(value.py_str()));
    }
    if let FieldType::Named(named) = ty && let Some(members) = named.enum_values() {
        return enum_member(value, members, &field.schema);
    }
    let mut value = value;
    if let FieldType::Literal(allowed) = ty {
        // `value in allowed`. The reference returns the value as given, so `1` for
        // `Literal[True, False]` (Python's `1 == True`); the allowed member is the value that
        // satisfies the field's schema.
        if let Some(member) = allowed.iter().find(|a| Py::from_json(a).py_eq(&value)) {
            return Ok(member.clone());
        }
        if let Py::Str(s) = &value {
            let mut v = pyfmt::strip(s);
            if (v.starts_with("Literal[") || v.starts_with("str[")) && v.ends_with(']') {
                let open = v.find('[').expect("has a bracket");
                v = &v[open + 1..v.len() - 1];
            }
            let (first, last) = (v.chars().next(), v.chars().next_back());
            if v.chars().count() > 1 && first == last && matches!(first, Some('"' | '\'')) {
                v = &v[1..v.len() - 1];
            }
            if let Some(member) = allowed.iter().find(|a| a.as_str() == Some(v)) {
                return Ok(member.clone());
            }
            value = Py::Str(v.to_string());
        }
    }
    let Py::Str(text) = value else {
        return coerce(value.to_json()?, &field.schema);
    };
    if let FieldType::Union(members) = ty
        && members.contains(&FieldType::Str) && members.contains(&FieldType::NoneType) {
        return coerce(Value::String(text), &field.schema);
    }
    let candidate = read_text(&text)?;
    coerce(candidate.to_json()?, &field.schema)
}

/// What the reference makes of text before validating it: `json_repair.loads(text)`, and when
/// that finds nothing, `ast.literal_eval(text)`, and when that fails, the text itself.
pub(crate) fn read_text(text: &str) -> Result<Py, String> {
    let candidate = repair::loads(text).map_err(|_| "the value is nested too deeply to parse".to_string())?;
    if candidate.is_str("") && !text.is_empty() {
        return match literal::literal_eval(text) {
            Ok(v) => Ok(v),
            Err(literal::LiteralError::NotLiteral) => Ok(Py::Str(text.to_string())),
            Err(literal::LiteralError::Unhashable) => Err("the value holds an unhashable set member or key".into()),
        };
    }
    Ok(candidate)
}

/// `json_repair.loads` on a whole completion (the JSON adapter's first step).
pub(crate) fn repair_json(text: &str) -> Result<Py, String> {
    repair::loads(text).map_err(|_| "the response is nested too deeply to parse".to_string())
}

/// `find_enum_member`: a member whose value equals the given one. The reference also accepts a
/// member's Python name, which the schema does not record; instead, what is not a value is
/// matched leniently (trimmed, unquoted, case-insensitively, numbers from text), which can only
/// produce one of the members.
fn enum_member(value: Py, members: &[Value], schema: &Value) -> Result<Value, String> {
    if let Some(member) = members.iter().find(|m| Py::from_json(m).py_eq(&value)) {
        return Ok(member.clone());
    }
    coerce(value.to_json()?, schema)
}

/// Fills output fields missing from a parse with their fallback: `None` for optional types.
pub(crate) fn apply_output_defaults(fields: &mut serde_json::Map<String, Value>, sig: &crate::Signature) {
    for f in sig.output_fields() {
        if f.ty.allows_none() && !fields.contains_key(&f.name) {
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

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn parse_text() {
        use crate::{Field, FieldType, parse::parse_text};
        use serde_json::json;
        let n = Field::output("n", FieldType::Int);
        assert_eq!(parse_text(" 3 ", &n).unwrap(), json!(3));
        assert_eq!(parse_text("0x1A", &n).unwrap(), json!(26));
        assert!(parse_text("three", &n).is_err());
    }
}
