//! Schema-driven validation with pydantic's "lax mode" coercions.
//!
//! Every output value passes through here, so whatever the LM wrote, what comes back either
//! satisfies the field's JSON schema or is an error naming where it does not. Coercions are the
//! safe ones pydantic also makes (`"3"` → `3`, `"true"` → `true`, `9` → `9.0`) plus trimming and
//! case-insensitive matching of enum members.

use serde_json::{Map, Number, Value};

use crate::pyfmt;

const MAX_DEPTH: usize = 64;

/// Validates `value` against `schema`, applying lax coercions; the error says what and where.
pub(crate) fn coerce(value: Value, schema: &Value) -> Result<Value, String> {
    let ctx = Ctx { root: schema };
    ctx.coerce(&value, schema, true, 0).map_err(|e| e.render())
}

struct Ctx<'a> {
    root: &'a Value,
}

struct Failure {
    path: Vec<String>,
    message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Failure { path: Vec::new(), message: message.into() }
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    fn render(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            let mut path = String::new();
            for seg in self.path.iter().rev() {
                if seg.starts_with('[') {
                    path.push_str(seg);
                } else {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(seg);
                }
            }
            format!("at `{path}`: {}", self.message)
        }
    }
}

type R = Result<Value, Failure>;

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    let mut text = pyfmt::dumps(value);
    if text.chars().count() > 60 {
        text = text.chars().take(60).collect::<String>() + "…";
    }
    format!("{kind} {text}")
}

impl<'a> Ctx<'a> {
    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    fn coerce(&self, value: &Value, schema: &Value, lax: bool, depth: usize) -> R {
        if depth > MAX_DEPTH {
            return Err(Failure::new("the value or schema is nested too deeply"));
        }
        let obj = match schema {
            Value::Bool(true) => return Ok(value.clone()),
            Value::Bool(false) => return Err(Failure::new("no value is allowed here")),
            Value::Object(o) => o,
            _ => return Ok(value.clone()),
        };
        if let Some(Value::String(reference)) = obj.get("$ref") {
            let target = self.resolve(reference).ok_or_else(|| Failure::new(format!("unresolvable reference {reference}")))?;
            return self.coerce(value, target, lax, depth + 1);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = obj.get(key) {
                return self.any_of(value, options, lax, depth);
            }
        }
        let mut current = value.clone();
        if let Some(Value::Array(parts)) = obj.get("allOf") {
            for part in parts {
                current = self.coerce(&current, part, lax, depth + 1)?;
            }
        }
        match obj.get("type") {
            Some(Value::String(t)) => current = self.coerce_type(&current, t, obj, lax, depth)?,
            Some(Value::Array(types)) => {
                let options: Vec<Value> = types
                    .iter()
                    .map(|t| {
                        let mut o = obj.clone();
                        o.insert("type".into(), t.clone());
                        Value::Object(o)
                    })
                    .collect();
                return self.any_of(&current, &options, lax, depth);
            }
            _ => {}
        }
        if let Some(expected) = obj.get("const") {
            current = match_member(&current, std::slice::from_ref(expected), lax)
                .ok_or_else(|| Failure::new(format!("expected {}, got {}", pyfmt::dumps(expected), describe(&current))))?;
        }
        if let Some(Value::Array(members)) = obj.get("enum") {
            current = match_member(&current, members, lax).ok_or_else(|| {
                let allowed: Vec<String> = members.iter().map(pyfmt::py_str).collect();
                Failure::new(format!("expected one of [{}], got {}", allowed.join(", "), describe(&current)))
            })?;
        }
        Ok(current)
    }

    fn any_of(&self, value: &Value, options: &[Value], lax: bool, depth: usize) -> R {
        // pydantic's smart unions: an exact match wins over a coerced one.
        for option in options {
            if let Ok(v) = self.coerce(value, option, false, depth + 1) {
                return Ok(v);
            }
        }
        let mut reasons = Vec::new();
        if lax {
            for option in options {
                match self.coerce(value, option, true, depth + 1) {
                    Ok(v) => return Ok(v),
                    Err(e) => reasons.push(e.render()),
                }
            }
        }
        Err(Failure::new(format!("no variant matched ({})", reasons.join("; "))))
    }

    fn coerce_type(&self, value: &Value, ty: &str, obj: &Map<String, Value>, lax: bool, depth: usize) -> R {
        let mismatch = || Failure::new(format!("expected {ty}, got {}", describe(value)));
        match ty {
            "string" => {
                // pydantic's lax mode takes no numbers or booleans as text.
                let Value::String(s) = value else { return Err(mismatch()) };
                let s = s.clone();
                let len = s.chars().count() as u64;
                check_bound(obj, "minLength", len, |l, b| l >= b, "characters")?;
                check_bound(obj, "maxLength", len, |l, b| l <= b, "characters")?;
                Ok(Value::String(s))
            }
            "integer" => {
                let n = match value {
                    Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
                    Value::Number(n) => {
                        let f = n.as_f64().unwrap_or(f64::NAN);
                        if lax && f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
                            Value::Number((f as i64).into())
                        } else {
                            return Err(mismatch());
                        }
                    }
                    Value::String(s) if lax => parse_int(s).ok_or_else(mismatch)?,
                    Value::Bool(b) if lax => Value::Number(i64::from(*b).into()),
                    _ => return Err(mismatch()),
                };
                check_numeric(obj, &n)?;
                Ok(n)
            }
            "number" => {
                let f = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) if lax => parse_float(s),
                    Value::Bool(b) if lax => Some(if *b { 1.0 } else { 0.0 }),
                    _ => None,
                }
                .ok_or_else(mismatch)?;
                let n = Value::Number(Number::from_f64(f).ok_or_else(mismatch)?);
                check_numeric(obj, &n)?;
                Ok(n)
            }
            "boolean" => match value {
                Value::Bool(_) => Ok(value.clone()),
                Value::String(s) if lax => parse_bool(s).map(Value::Bool).ok_or_else(mismatch),
                Value::Number(n) if lax => match n.as_f64() {
                    Some(0.0) => Ok(Value::Bool(false)),
                    Some(1.0) => Ok(Value::Bool(true)),
                    _ => Err(mismatch()),
                },
                _ => Err(mismatch()),
            },
            "null" => match value {
                Value::Null => Ok(Value::Null),
                _ => Err(mismatch()),
            },
            "array" => {
                let Value::Array(items) = value else { return Err(mismatch()) };
                let prefix = match obj.get("prefixItems") {
                    Some(Value::Array(p)) => p.as_slice(),
                    _ => &[],
                };
                let rest = obj.get("items");
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item_schema = match prefix.get(i) {
                        Some(s) => Some(s),
                        None => rest,
                    };
                    let v = match item_schema {
                        Some(s) => self.coerce(item, s, lax, depth + 1).map_err(|e| e.at(format!("[{i}]")))?,
                        None if !prefix.is_empty() && obj.contains_key("maxItems") => {
                            return Err(Failure::new(format!("expected at most {} items", prefix.len())));
                        }
                        None => item.clone(),
                    };
                    out.push(v);
                }
                let len = out.len() as u64;
                check_bound(obj, "minItems", len, |l, b| l >= b, "items")?;
                check_bound(obj, "maxItems", len, |l, b| l <= b, "items")?;
                if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
                    let mut seen: Vec<&Value> = Vec::new();
                    let mut unique = Vec::with_capacity(out.len());
                    for v in &out {
                        if !seen.contains(&v) {
                            seen.push(v);
                            unique.push(v.clone());
                        }
                    }
                    out = unique;
                }
                Ok(Value::Array(out))
            }
            "object" => {
                let Value::Object(map) = value else { return Err(mismatch()) };
                self.coerce_object(map, obj, lax, depth)
            }
            _ => Ok(value.clone()),
        }
    }

    fn coerce_object(&self, map: &Map<String, Value>, obj: &Map<String, Value>, lax: bool, depth: usize) -> R {
        let properties = match obj.get("properties") {
            Some(Value::Object(p)) => Some(p),
            _ => None,
        };
        let required: Vec<&str> = match obj.get("required") {
            Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut out = Map::new();
        if let Some(props) = properties {
            for (name, prop_schema) in props {
                // pydantic matches property names exactly; a case variant is only taken for a
                // required property that is otherwise missing (where pydantic would fail).
                let is_required = required.contains(&name.as_str()) && prop_schema.get("default").is_none();
                match lookup(map, name, lax && is_required) {
                    Some(v) => {
                        let v = self.coerce(v, prop_schema, lax, depth + 1).map_err(|e| e.at(name.clone()))?;
                        out.insert(name.clone(), v);
                    }
                    None => {
                        if let Some(default) = prop_schema.get("default") {
                            out.insert(name.clone(), default.clone());
                        } else if required.contains(&name.as_str()) {
                            return Err(Failure::new("missing required property").at(name.clone()));
                        }
                    }
                }
            }
        }
        match obj.get("additionalProperties") {
            Some(Value::Bool(false)) => {}
            Some(extra_schema @ Value::Object(_)) => {
                for (k, v) in map {
                    if properties.is_some_and(|p| p.contains_key(k)) {
                        continue;
                    }
                    let v = self.coerce(v, extra_schema, lax, depth + 1).map_err(|e| e.at(k.clone()))?;
                    out.insert(k.clone(), v);
                }
            }
            // pydantic ignores unknown keys of a model; a schema-less object keeps them all.
            _ if properties.is_some() => {}
            _ => {
                for (k, v) in map {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        let len = out.len() as u64;
        check_bound(obj, "minProperties", len, |l, b| l >= b, "properties")?;
        check_bound(obj, "maxProperties", len, |l, b| l <= b, "properties")?;
        Ok(Value::Object(out))
    }
}

/// A property by name; in lax mode also by case-insensitive name.
fn lookup<'v>(map: &'v Map<String, Value>, name: &str, lax: bool) -> Option<&'v Value> {
    map.get(name).or_else(|| {
        if lax {
            let mut found = map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
            match (found.next(), found.next()) {
                (Some((_, v)), None) => Some(v),
                _ => None,
            }
        } else {
            None
        }
    })
}

/// The member of `members` that `value` denotes, exactly or (lax) after trimming, unquoting,
/// reading numbers from text, or ignoring case when that is unambiguous.
fn match_member(value: &Value, members: &[Value], lax: bool) -> Option<Value> {
    if let Some(m) = members.iter().find(|m| json_eq(m, value)) {
        return Some(m.clone());
    }
    if !lax {
        return None;
    }
    let text = match value {
        Value::String(s) => s.trim().trim_matches(|c| c == '"' || c == '\'').to_string(),
        Value::Number(_) | Value::Bool(_) => pyfmt::py_str(value),
        _ => return None,
    };
    if let Some(m) = members.iter().find(|m| pyfmt::py_str(m) == text) {
        return Some(m.clone());
    }
    let mut folded = members.iter().filter(|m| pyfmt::py_str(m).to_lowercase() == text.to_lowercase());
    if let (Some(m), None) = (folded.next(), folded.next()) {
        return Some(m.clone());
    }
    // An identifier-like spelling of a member (`HAPPY` for "happy :)", `IN_PROGRESS` for
    // "in progress"), which is how Python enum members are usually named.
    let ident = |s: &str| -> String { s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect() };
    let wanted = ident(&text);
    if !wanted.chars().any(char::is_alphabetic) {
        return None;
    }
    let mut named = members.iter().filter(|m| m.as_str().is_some_and(|v| ident(v) == wanted));
    match (named.next(), named.next()) {
        (Some(m), None) => Some(m.clone()),
        _ => None,
    }
}

/// JSON equality where `9` equals `9.0`.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Digits with single underscores between them (`1_000`), as Python and pydantic accept them.
fn strip_underscores(digits: &str) -> Option<String> {
    let ok = !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__");
    ok.then(|| digits.replace('_', ""))
}

/// pydantic's text-to-int: trimmed, an optional sign, digits (with `_`), and an optional
/// fraction of zeros (`"42.0"`).
fn parse_int(s: &str) -> Option<Value> {
    let t = pyfmt::strip(s);
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac) = body.split_once('.').unwrap_or((body, ""));
    if !frac.chars().all(|c| c == '0') || int_part.is_empty() || !int_part.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let digits = strip_underscores(int_part)?;
    let text = format!("{sign}{digits}");
    match (text.parse::<i64>(), text.parse::<u64>()) {
        (Ok(i), _) => Some(Value::Number(i.into())),
        (_, Ok(u)) => Some(Value::Number(u.into())),
        _ => None,
    }
}

/// pydantic's text-to-float: trimmed, with `_` between digits; `inf`/`nan` are valid floats but
/// cannot be represented in JSON, so they are refused.
fn parse_float(s: &str) -> Option<f64> {
    let t = pyfmt::strip(s);
    if !t.chars().all(|c| c.is_ascii_digit() || matches!(c, '_' | '.' | 'e' | 'E' | '+' | '-')) {
        return None;
    }
    let cleaned = strip_underscores(t)?;
    let f = super::py::python_float(&cleaned)?;
    f.is_finite().then_some(f)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn check_bound(
    obj: &Map<String, Value>,
    key: &str,
    actual: u64,
    ok: fn(u64, u64) -> bool,
    unit: &str,
) -> Result<(), Failure> {
    match obj.get(key).and_then(Value::as_u64) {
        Some(bound) if !ok(actual, bound) => Err(Failure::new(format!("{key} is {bound} {unit}, got {actual}"))),
        _ => Ok(()),
    }
}

fn check_numeric(obj: &Map<String, Value>, n: &Value) -> Result<(), Failure> {
    let x = n.as_f64().unwrap_or(f64::NAN);
    let bound = |k: &str| obj.get(k).and_then(Value::as_f64);
    let fail = |what: &str, b: f64| Err(Failure::new(format!("must be {what} {}, got {}", pyfmt::float_repr(b), pyfmt::dumps(n))));
    if let Some(b) = bound("minimum") && x < b {
        return fail("at least", b);
    }
    if let Some(b) = bound("maximum") && x > b {
        return fail("at most", b);
    }
    if let Some(b) = bound("exclusiveMinimum") && x <= b {
        return fail("greater than", b);
    }
    if let Some(b) = bound("exclusiveMaximum") && x >= b {
        return fail("less than", b);
    }
    if let Some(b) = bound("multipleOf") && b != 0.0 && (x / b).fract().abs() > 1e-9 {
        return fail("a multiple of", b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_coerce_like_pydantic_lax_mode() {
        assert_eq!(coerce(json!("3"), &json!({"type": "integer"})).unwrap(), json!(3));
        assert_eq!(coerce(json!(9), &json!({"type": "number"})).unwrap(), json!(9.0));
        assert_eq!(coerce(json!("true"), &json!({"type": "boolean"})).unwrap(), json!(true));
        assert!(coerce(json!("maybe"), &json!({"type": "boolean"})).is_err());
        assert!(coerce(json!("2.5"), &json!({"type": "integer"})).is_err());
        assert!(coerce(json!("a"), &json!({"type": "array", "items": {"type": "string"}})).is_err());
    }

    #[test]
    fn unions_prefer_exact_matches() {
        let schema = json!({"anyOf": [{"type": "integer"}, {"type": "string"}]});
        assert_eq!(coerce(json!("3"), &schema).unwrap(), json!("3"));
        assert_eq!(coerce(json!(3), &schema).unwrap(), json!(3));
        let opt = json!({"anyOf": [{"type": "number"}, {"type": "null"}]});
        assert_eq!(coerce(json!(null), &opt).unwrap(), json!(null));
        assert_eq!(coerce(json!("1.5"), &opt).unwrap(), json!(1.5));
    }

    #[test]
    fn enums_match_leniently_but_never_invent() {
        let schema = json!({"enum": ["red", "green"], "type": "string"});
        assert_eq!(coerce(json!("RED"), &schema).unwrap(), json!("red"));
        assert_eq!(coerce(json!(" 'green' "), &schema).unwrap(), json!("green"));
        assert!(coerce(json!("purple"), &schema).is_err());
        let ints = json!({"enum": [1, 2, 3], "type": "integer"});
        assert_eq!(coerce(json!("2"), &ints).unwrap(), json!(2));
        assert!(coerce(json!(7), &ints).is_err());
    }

    #[test]
    fn models_resolve_refs_and_report_paths() {
        let schema = json!({
            "$defs": {"Citation": {"properties": {"page": {"type": "integer"}}, "required": ["page"], "type": "object"}},
            "properties": {"citations": {"items": {"$ref": "#/$defs/Citation"}, "type": "array"}},
            "required": ["citations"], "type": "object"});
        assert_eq!(
            coerce(json!({"citations": [{"page": "4"}]}), &schema).unwrap(),
            json!({"citations": [{"page": 4}]})
        );
        let err = coerce(json!({"citations": [{"page": "x"}]}), &schema).unwrap_err();
        assert!(err.contains("citations[0].page"), "{err}");
    }

    #[test]
    fn self_referential_schemas_terminate() {
        let schema = json!({"$defs": {"N": {"$ref": "#/$defs/N"}}, "$ref": "#/$defs/N"});
        assert!(coerce(json!(1), &schema).is_err());
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn coerce() {
        use crate::parse::coerce;
        use serde_json::json;
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        assert_eq!(coerce(json!({"n": "3", "extra": 1}), &schema).unwrap(), json!({"n": 3}));
        assert!(coerce(json!({"n": "three"}), &schema).unwrap_err().contains("n"));
    }
}
