//! `JSONAdapter`: inputs as marker sections, outputs as one JSON object.

use serde_json::{Map, Value, json};

use super::{Adapter, FormatOutputs, SystemMessageCache};
use super::chat::{chat_user_message, finish_outputs, output_values};
use super::format::{field_descriptions, join_strip, jsonable, marker_sections, task_description, translate_field_type, type_info};
use crate::error::ParseError;
use crate::lm::snippet;
use crate::lm::{Capabilities, LmRequest, ResponseFormat, StructuredOutput};
use crate::parse::py::Py;
use crate::parse::{parse_py, repair_json};
use crate::pyfmt;
use crate::signature::Signature;

/// Asks for the outputs as a JSON object, and for structured output when the LM supports it.
///
/// ```
/// use dspy_core::{Adapter, JSONAdapter, Signature};
/// let sig = Signature::parse("question -> answer: float").unwrap();
/// let out = JSONAdapter::new().parse(&sig, "```json\n{\"answer\": \"9.5\"}\n```").unwrap();
/// assert_eq!(out["answer"], 9.5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct JSONAdapter {
    system_cache: SystemMessageCache,
}

impl JSONAdapter {
    /// A JSON adapter.
    pub fn new() -> Self {
        JSONAdapter { system_cache: SystemMessageCache::default() }
    }
}

/// The response schema for structured output, lowered to what strict mode accepts: every
/// object lists all its properties as required and forbids others. `None` when an output is
/// an open-ended mapping (strict mode cannot describe it), so the caller asks for JSON mode.
pub(crate) fn structured_output_schema(sig: &Signature) -> Option<Value> {
    let mut defs = Map::new();
    let mut properties = Map::new();
    for f in sig.output_fields() {
        let mut schema = f.schema.clone();
        if let Some(Value::Object(d)) = schema.as_object_mut().and_then(|m| m.remove("$defs")) {
            defs.extend(d);
        }
        if let Value::Object(m) = &mut schema {
            m.insert("title".into(), Value::String(pyfmt::title(&f.name).replace('_', " ")));
        }
        properties.insert(f.name.clone(), schema);
    }
    let mut root = json!({"type": "object", "title": "DSPyProgramOutputs", "properties": properties});
    if !defs.is_empty() {
        root["$defs"] = Value::Object(defs);
    }
    if has_open_mapping(&root) {
        return None;
    }
    enforce_strict(&mut root);
    Some(root)
}

fn has_open_mapping(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => {
            let open_object = m.get("type") == Some(&Value::String("object".into())) && !m.contains_key("properties");
            open_object || m.values().any(has_open_mapping)
        }
        Value::Array(items) => items.iter().any(has_open_mapping),
        _ => false,
    }
}

fn enforce_strict(schema: &mut Value) {
    let Value::Object(m) = schema else { return };
    if m.get("type") == Some(&Value::String("object".into())) {
        let names: Vec<Value> = match m.get("properties") {
            Some(Value::Object(p)) => p.keys().cloned().map(Value::String).collect(),
            _ => Vec::new(),
        };
        m.entry("properties").or_insert_with(|| json!({}));
        m.insert("required".into(), Value::Array(names));
        m.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (key, value) in m.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "definitions" => {
                if let Value::Object(children) = value {
                    children.values_mut().for_each(enforce_strict);
                }
            }
            "items" | "additionalProperties" => enforce_strict(value),
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Value::Array(options) = value {
                    options.iter_mut().for_each(enforce_strict);
                }
            }
            _ => {}
        }
    }
}

/// The first `{...}` with balanced braces, as the reference's recursive regex
/// `\{(?:[^{}]|(?R))*\}` finds it: the earliest `{` that has a matching `}` (quotes are not
/// special to the regex).
fn first_balanced_object(text: &str) -> Option<&str> {
    let mut open: Vec<usize> = Vec::new();
    let mut best: Option<(usize, usize)> = None;
    for (i, c) in text.char_indices() {
        match c {
            '{' => open.push(i),
            '}' => {
                if let Some(start) = open.pop() && best.is_none_or(|(s, _)| start < s) {
                    best = Some((start, i + 1));
                }
            }
            _ => {}
        }
    }
    best.map(|(s, e)| &text[s..e])
}

impl Adapter for JSONAdapter {
    fn name(&self) -> &'static str {
        "JSONAdapter"
    }

    fn field_markers(&self) -> Option<super::FieldMarkers> {
        Some(super::FieldMarkers::Json)
    }

    fn format_system_message(&self, sig: &Signature) -> String {
        self.system_cache.get_or_insert_with(sig, || {
            let inputs = marker_sections(sig.input_fields().map(|f| (f.name.as_str(), translate_field_type(f))));
            let outputs: Map<String, Value> =
                sig.output_fields().map(|f| (f.name.clone(), Value::String(translate_field_type(f)))).collect();
            let structure = join_strip(&[
                "All interactions will be structured in the following way, with the appropriate values filled in.",
                "Inputs will have the following structure:",
                &inputs,
                "Outputs will be a JSON object with the following fields.",
                &pyfmt::dumps_indent(&Value::Object(outputs)),
            ]);
            format!("{}\n{}\n{}", field_descriptions(sig), structure, task_description(sig.instructions()))
        })
    }

    fn format_user_message_content(&self, sig: &Signature, inputs: &Map<String, Value>, prefix: &str, main_request: bool) -> String {
        let requirements = main_request.then(|| {
            self.system_cache.get_or_insert_slot(sig, 1, || {
                let fields: Vec<String> = sig.output_fields().map(|f| format!("`{}`{}", f.name, type_info(f))).collect();
                format!("Respond with a JSON object in the following order of fields: {}.", fields.join(", then "))
            })
        });
        chat_user_message(sig, inputs, prefix, requirements.as_deref())
    }

    fn format_assistant_message_content(&self, sig: &Signature, outputs: &Map<String, Value>, missing: Option<&str>) -> String {
        let map: Map<String, Value> =
            output_values(sig, outputs, missing).into_iter().map(|(f, v)| (f.name.clone(), jsonable(&v, &f.ty))).collect();
        pyfmt::dumps_indent(&Value::Object(map))
    }

    fn parse(&self, sig: &Signature, completion: &str) -> Result<Map<String, Value>, ParseError> {
        let malformed = |reason: String| ParseError::Malformed { adapter: "JSONAdapter", reason, snippet: snippet(completion) };
        let mut parsed = repair_json(completion).map_err(malformed)?;
        if !matches!(parsed, Py::Dict(_)) && let Some(object) = first_balanced_object(completion) {
            parsed = repair_json(object).map_err(malformed)?;
        }
        let Py::Dict(object) = parsed else {
            return Err(malformed("the LM response is not a JSON object".into()));
        };
        let mut found = Map::new();
        for f in sig.output_fields() {
            // Later duplicates of a key have already replaced earlier ones, as in a Python dict.
            if let Some((_, v)) = object.iter().find(|(k, _)| k.is_str(&f.name)) {
                let value = parse_py(v.clone(), f).map_err(|reason| ParseError::InvalidValue {
                    adapter: "JSONAdapter",
                    field: f.name.clone(),
                    expected: f.ty.name(),
                    reason,
                    snippet: snippet(completion),
                })?;
                found.insert(f.name.clone(), value);
            }
        }
        finish_outputs("JSONAdapter", sig, found, completion)
    }

    fn prepare_request(&self, sig: &Signature, request: &mut LmRequest, capabilities: &Capabilities) {
        request.response_format = match capabilities.structured_output {
            StructuredOutput::None => None,
            StructuredOutput::JsonObject => Some(ResponseFormat::JsonObject),
            StructuredOutput::JsonSchema => Some(match structured_output_schema(sig) {
                Some(schema) => ResponseFormat::JsonSchema { name: "DSPyProgramOutputs".into(), schema, strict: true },
                None => ResponseFormat::JsonObject,
            }),
        };
    }
}

impl FormatOutputs for JSONAdapter {
    fn format_outputs(&self, outputs: &Map<String, Value>) -> String {
        pyfmt::dumps_indent(&Value::Object(outputs.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_schema_requires_everything() {
        let sig = Signature::parse("q -> answer: str, tags: list[str], score: Optional[float]").unwrap();
        let schema = structured_output_schema(&sig).unwrap();
        assert_eq!(schema["required"], json!(["answer", "tags", "score"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["properties"]["tags"]["title"], json!("Tags"));
    }

    #[test]
    fn open_mappings_fall_back_to_json_mode() {
        let sig = Signature::parse("q -> counts: dict[str, int]").unwrap();
        assert!(structured_output_schema(&sig).is_none());
        let mut req = LmRequest::default();
        let caps = Capabilities { structured_output: StructuredOutput::JsonSchema, ..Capabilities::default() };
        JSONAdapter::new().prepare_request(&sig, &mut req, &caps);
        assert_eq!(req.response_format, Some(ResponseFormat::JsonObject));
    }

    #[test]
    fn prose_and_extra_keys() {
        let sig = Signature::parse("q -> answer").unwrap();
        let out = JSONAdapter::new().parse(&sig, "Here is the JSON: {\"answer\": \"x\", \"extra\": 1}").unwrap();
        assert_eq!(Value::Object(out), json!({"answer": "x"}));
        assert!(matches!(JSONAdapter::new().parse(&sig, "no json"), Err(ParseError::Malformed { .. })));
    }
}
