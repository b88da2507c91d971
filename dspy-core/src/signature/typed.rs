//! The typed shell over [`Signature`]: Rust input and output types for one signature.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{FieldType, Signature};
use crate::pyfmt;

/// A signature with Rust types for its inputs and outputs.
///
/// Implemented by `#[derive(Signature)]` and by `signature!`; a predictor over a typed
/// signature takes `Input` and returns `Output`, so a misspelt field or a wrong type is a
/// compile error. Hand-written impls work too:
///
/// ```
/// use dspy_core::{Field, FieldType, Signature, TypedSignature};
/// #[derive(serde::Serialize)]
/// struct In { question: String }
/// #[derive(serde::Deserialize)]
/// struct Out { answer: bool }
/// struct YesNo;
/// impl TypedSignature for YesNo {
///     type Input = In;
///     type Output = Out;
///     fn signature() -> &'static Signature {
///         static SIGNATURE: std::sync::OnceLock<Signature> = std::sync::OnceLock::new();
///         SIGNATURE.get_or_init(|| {
///             Signature::from_fields("YesNo", None, [
///                 Field::input("question", FieldType::Str),
///                 Field::output("answer", FieldType::Bool),
///             ]).unwrap()
///         })
///     }
/// }
/// assert_eq!(YesNo::signature().to_short_string(), "question -> answer");
/// ```
pub trait TypedSignature: Send + Sync + 'static {
    /// The inputs, serialised into the signature's input fields.
    type Input: Serialize + Send + Sync;
    /// The outputs, deserialised from the parsed output fields.
    type Output: DeserializeOwned + Send + Sync + 'static;
    /// The run-time signature value, built once: a module that changes its signature (an
    /// optimizer's new instructions, ChainOfThought's extra field) clones it first.
    fn signature() -> &'static Signature;
}

/// The [`FieldType`] of a user type deriving `schemars::JsonSchema`: rendered by its name, with
/// its schema reshaped the way pydantic would describe the same model or enum.
///
/// ```
/// #[derive(schemars::JsonSchema)]
/// #[allow(dead_code)]
/// struct Citation { source: String, page: u32 }
/// let t = dspy_core::named_type::<Citation>();
/// assert_eq!(t.name(), "Citation");
/// assert_eq!(t.json_schema()["properties"]["page"]["title"], "Page");
/// ```
pub fn named_type<T: schemars::JsonSchema>() -> FieldType {
    let name = T::schema_name().into_owned();
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let root = generator.into_root_schema_for::<T>();
    let schema = pydantic_style(root.to_value());
    match unit_enum_values(&schema) {
        Some(values) => FieldType::Literal(values),
        None => FieldType::named(name, schema),
    }
}

/// The values of an enum of unit variants (`{"enum": [...]}` or `{"oneOf": [{"const": ...}]}`),
/// which render as `Literal[...]` like DSPy's `Literal` types.
fn unit_enum_values(schema: &Value) -> Option<Vec<Value>> {
    if schema.get("properties").is_some() {
        return None;
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        return Some(values.clone());
    }
    let Value::Array(options) = schema.get("oneOf")? else { return None };
    options
        .iter()
        .map(|o| match (o.get("const"), o.get("enum")) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(Value::Array(one))) if one.len() == 1 => Some(one[0].clone()),
            _ => None,
        })
        .collect()
}

/// Reshapes a schemars schema into pydantic's conventions: property titles, `anyOf` with
/// `null` for optional values, no numeric `format`s, no `$schema`.
fn pydantic_style(schema: Value) -> Value {
    let Value::Object(mut map) = schema else { return schema };
    map.remove("$schema");
    map.remove("format");
    // `{"type": ["integer", "null"], ...}` becomes `{"anyOf": [{"type": "integer", ...}, {"type": "null"}]}`.
    if let Some(Value::Array(types)) = map.get("type").cloned() {
        let non_null: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if types.len() == 2 && non_null.len() == 1 {
            let mut inner = map.clone();
            inner.insert("type".into(), non_null[0].clone());
            inner.remove("title");
            inner.remove("description");
            inner.remove("default");
            let mut outer = Map::new();
            for key in ["title", "description", "default"] {
                if let Some(v) = map.remove(key) {
                    outer.insert(key.into(), v);
                }
            }
            outer.insert(
                "anyOf".into(),
                Value::Array(vec![pydantic_style(Value::Object(inner)), serde_json::json!({"type": "null"})]),
            );
            return Value::Object(outer);
        }
    }
    let required: Vec<String> = match map.get("required") {
        Some(Value::Array(r)) => r.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Object(props)) = map.remove("properties") {
        let mut titled = Map::new();
        for (name, prop) in props {
            let mut prop = pydantic_style(prop);
            if let Value::Object(p) = &mut prop {
                if !p.contains_key("title") {
                    p.insert("title".into(), Value::String(pyfmt::title(&name).replace('_', " ")));
                }
                if !required.contains(&name) && !p.contains_key("default") && is_nullable(p) {
                    p.insert("default".into(), Value::Null);
                }
            }
            titled.insert(name, prop);
        }
        map.insert("properties".into(), Value::Object(titled));
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = map.remove(key) {
            map.insert(key.into(), pydantic_style(v));
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(vs)) = map.remove(key) {
            map.insert(key.into(), Value::Array(vs.into_iter().map(pydantic_style).collect()));
        }
    }
    if let Some(Value::Object(defs)) = map.remove("$defs") {
        let defs: Map<String, Value> = defs.into_iter().map(|(k, v)| (k, pydantic_style(v))).collect();
        let mut with_defs = Map::new();
        with_defs.insert("$defs".into(), Value::Object(defs));
        with_defs.extend(map);
        map = with_defs;
    }
    Value::Object(map)
}

fn is_nullable(p: &Map<String, Value>) -> bool {
    match p.get("anyOf") {
        Some(Value::Array(choices)) => choices.iter().any(|c| c.get("type") == Some(&Value::String("null".into()))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    enum Label {
        #[serde(rename = "supported")]
        Supported,
        #[serde(rename = "refuted")]
        Refuted,
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Citation {
        source: String,
        page: i64,
    }

    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Verdict {
        label: Label,
        confidence: f64,
        citations: Vec<Citation>,
        note: Option<String>,
    }

    #[test]
    fn model_schema_looks_like_pydantic() {
        let t = named_type::<Verdict>();
        let schema = t.json_schema();
        assert_eq!(schema["title"], "Verdict");
        assert_eq!(schema["properties"]["confidence"], json!({"type": "number", "title": "Confidence"}));
        assert_eq!(schema["properties"]["citations"]["items"], json!({"$ref": "#/$defs/Citation"}));
        assert_eq!(schema["$defs"]["Citation"]["properties"]["page"], json!({"type": "integer", "title": "Page"}));
        assert_eq!(schema["$defs"]["Label"]["enum"], json!(["supported", "refuted"]));
        assert_eq!(
            schema["properties"]["note"],
            json!({"title": "Note", "default": null, "anyOf": [{"type": "string"}, {"type": "null"}]})
        );
        assert!(schema.get("$schema").is_none());
    }

    #[test]
    fn unit_enums_are_literals() {
        let t = named_type::<Label>();
        assert_eq!(t, FieldType::Literal(vec![json!("supported"), json!("refuted")]));
        assert_eq!(t.name(), "Literal['supported', 'refuted']");
    }

    /// Variants with docs make schemars emit `oneOf` consts; still a literal.
    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Documented {
        /// Good.
        Good,
        /// Bad.
        Bad,
    }

    #[test]
    fn documented_unit_enums_are_literals() {
        assert_eq!(named_type::<Documented>().name(), "Literal['good', 'bad']");
    }
}
