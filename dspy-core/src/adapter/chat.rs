//! `ChatAdapter`: fields delimited by `[[ ## name ## ]]` markers, DSPy's default format.

use serde_json::{Map, Value};

use super::format::{
    Joined, field_descriptions, format_field_value, join_strip, jsonable, marker_sections, task_description, translate_field_type,
    type_info,
};
use super::{Adapter, FormatOutputs, JSONAdapter, SystemMessageCache};
use crate::error::ParseError;
use crate::lm::snippet;
use crate::parse::{apply_output_defaults, parse_text};
use crate::pyfmt;
use crate::signature::Signature;

const STRUCTURE_INTRO: &str = "All interactions will be structured in the following way, with the appropriate values filled in.";

/// The default adapter: `[[ ## field ## ]]` sections, ending with `[[ ## completed ## ]]`.
///
/// When a completion cannot be parsed it retries once with [`JSONAdapter`], as DSPy does
/// (turn that off with [`ChatAdapter::without_json_fallback`]).
///
/// ```
/// use dspy_core::{Adapter, ChatAdapter, Signature};
/// let sig = Signature::parse("question -> answer: int").unwrap();
/// let out = ChatAdapter::new().parse(&sig, "[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]").unwrap();
/// assert_eq!(out["answer"], 42);
/// ```
#[derive(Clone, Debug)]
pub struct ChatAdapter {
    json_fallback: Option<JSONAdapter>,
    system_cache: SystemMessageCache,
}

impl Default for ChatAdapter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatAdapter {
    /// A chat adapter that falls back to JSON on parse failures.
    pub fn new() -> Self {
        ChatAdapter { json_fallback: Some(JSONAdapter::new()), system_cache: SystemMessageCache::default() }
    }

    /// A chat adapter that reports parse failures instead of retrying with JSON.
    pub fn without_json_fallback() -> Self {
        ChatAdapter { json_fallback: None, system_cache: SystemMessageCache::default() }
    }
}

/// The user message of the chat family: input sections plus an optional closing request.
pub(crate) fn chat_user_message(sig: &Signature, inputs: &Map<String, Value>, prefix: &str, requirements: Option<&str>) -> String {
    // The reference joins [prefix, sections..., requirements] with blank lines and strips it.
    let mut joined = Joined::with_capacity(256);
    joined.part(prefix);
    for f in sig.input_fields() {
        if let Some(v) = inputs.get(&f.name) {
            joined.section(&f.name, &format_field_value(f, v));
        }
    }
    if let Some(r) = requirements {
        joined.part(r);
    }
    joined.finish()
}

/// A value without a declared type, as the reference formats an answer given to its DummyLM.
pub(crate) fn format_untyped(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => pyfmt::dumps(value),
        other => pyfmt::py_str(other),
    }
}

/// The output values, or the missing-value text, in signature order.
pub(crate) fn output_values<'a>(sig: &'a Signature, outputs: &'a Map<String, Value>, missing: Option<&str>) -> Vec<(&'a crate::Field, Value)> {
    let fallback = missing.map(|m| Value::String(m.to_string())).unwrap_or(Value::Null);
    sig.output_fields().map(|f| (f, outputs.get(&f.name).cloned().unwrap_or_else(|| fallback.clone()))).collect()
}

/// Reads `[[ ## name ## ]]` at the start of a (stripped) line: the name and the rest of the line.
fn match_header(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("[[ ## ")?;
    let name_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let after = rest[name_len..].strip_prefix(" ## ]]")?;
    Some((&rest[..name_len], after))
}

/// Parses `[[ ## name ## ]]` sections; the first section of each output field wins.
pub(crate) fn parse_sections(adapter: &'static str, sig: &Signature, completion: &str) -> Result<Map<String, Value>, ParseError> {
    let mut found: Map<String, Value> = Map::with_capacity(sig.output_fields().count());
    // The open section: its name, the text after its header, and where its body starts.
    let mut open: Option<(&str, &str, usize)> = None;
    let close = |section: Option<(&str, &str, usize)>, end: usize, found: &mut Map<String, Value>| {
        let Some((name, rest, start)) = section else { return Ok(()) };
        let Some(field) = sig.output_fields().find(|f| f.name == name) else { return Ok(()) };
        if found.keys().any(|k| k == name) {
            return Ok(()); // a handful of keys: a scan is cheaper than hashing
        }
        let text = section_text(rest, &completion[start..end.max(start)]);
        let value = parse_text(&text, field).map_err(|reason| ParseError::InvalidValue {
            adapter,
            field: field.name.clone(),
            expected: field.ty.name(),
            reason,
            snippet: snippet(completion),
        })?;
        found.insert(field.name.clone(), value);
        Ok(())
    };
    let mut line_start = 0;
    for (line, next) in pyfmt::Lines::new(completion) {
        if let Some((name, rest)) = match_header(pyfmt::strip(line)) {
            close(open.take(), line_start, &mut found)?;
            open = Some((name, pyfmt::strip(rest), next));
        }
        line_start = next;
    }
    close(open, completion.len(), &mut found)?;
    finish_outputs(adapter, sig, found, completion)
}

/// The reference's `"\n".join([rest] + body.splitlines()).strip()`, where `rest` (the text after
/// the header) is already stripped. A one-line answer (the usual case) is borrowed from the
/// completion rather than split and joined.
fn section_text<'a>(rest: &'a str, body: &'a str) -> std::borrow::Cow<'a, str> {
    let join = |first: Option<&str>, body: &str| {
        let lines = first.into_iter().chain(pyfmt::Lines::new(body).map(|(line, _)| line));
        lines.collect::<Vec<_>>().join("\n").into()
    };
    if rest.is_empty() {
        let body = pyfmt::strip(body);
        if pyfmt::Lines::new(body).nth(1).is_none() { body.into() } else { join(None, body) }
    } else {
        // Blank lines and indentation right after the header are inside the joined text.
        let body = body.trim_end_matches(pyfmt::is_py_space);
        if body.is_empty() { rest.into() } else { join(Some(rest), body) }
    }
}

/// Orders parsed outputs as the signature does, fills optional ones, and reports missing ones.
pub(crate) fn finish_outputs(
    adapter: &'static str,
    sig: &Signature,
    mut found: Map<String, Value>,
    completion: &str,
) -> Result<Map<String, Value>, ParseError> {
    apply_output_defaults(&mut found, sig);
    // Usually every field was found, in signature order: no need to rebuild the map.
    let outputs = sig.output_fields().count();
    if found.len() == outputs && found.keys().zip(sig.output_fields()).all(|(k, f)| *k == f.name) {
        return Ok(found);
    }
    let mut out = Map::new();
    let mut missing = Vec::new();
    for f in sig.output_fields() {
        match found.remove(&f.name) {
            Some(v) => {
                out.insert(f.name.clone(), v);
            }
            None => missing.push(f.name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(ParseError::MissingFields { adapter, missing, snippet: snippet(completion) });
    }
    Ok(out)
}

impl Adapter for ChatAdapter {
    fn name(&self) -> &'static str {
        "ChatAdapter"
    }

    fn field_markers(&self) -> Option<super::FieldMarkers> {
        Some(super::FieldMarkers::Chat)
    }

    fn format_system_message(&self, sig: &Signature) -> String {
        self.system_cache.get_or_insert_with(sig, || {
            let inputs = marker_sections(sig.input_fields().map(|f| (f.name.as_str(), translate_field_type(f))));
            let outputs = marker_sections(sig.output_fields().map(|f| (f.name.as_str(), translate_field_type(f))));
            let structure = join_strip(&[STRUCTURE_INTRO, &inputs, &outputs, "[[ ## completed ## ]]\n"]);
            format!("{}\n{}\n{}", field_descriptions(sig), structure, task_description(sig.instructions()))
        })
    }

    fn format_user_message_content(&self, sig: &Signature, inputs: &Map<String, Value>, prefix: &str, main_request: bool) -> String {
        let requirements = main_request.then(|| {
            self.system_cache.get_or_insert_slot(sig, 1, || {
                let fields: Vec<String> =
                    sig.output_fields().map(|f| format!("`[[ ## {} ## ]]`{}", f.name, type_info(f))).collect();
                format!(
                    "Respond with the corresponding output fields, starting with the field {}, and then ending with the marker for `[[ ## completed ## ]]`.",
                    fields.join(", then ")
                )
            })
        });
        chat_user_message(sig, inputs, prefix, requirements.as_deref())
    }

    fn format_assistant_message_content(&self, sig: &Signature, outputs: &Map<String, Value>, missing: Option<&str>) -> String {
        let values = output_values(sig, outputs, missing);
        let body = marker_sections(values.iter().map(|(f, v)| (f.name.as_str(), format_field_value(f, v))));
        body + "\n\n[[ ## completed ## ]]\n"
    }

    fn parse(&self, sig: &Signature, completion: &str) -> Result<Map<String, Value>, ParseError> {
        parse_sections("ChatAdapter", sig, completion)
    }

    fn fallback(&self) -> Option<&dyn Adapter> {
        self.json_fallback.as_ref().map(|a| a as &dyn Adapter)
    }
}

impl FormatOutputs for ChatAdapter {
    fn format_outputs(&self, outputs: &Map<String, Value>) -> String {
        marker_sections(outputs.iter().map(|(k, v)| (k.as_str(), format_untyped(&jsonable(v, &crate::FieldType::Any)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sig() -> Signature {
        Signature::parse("question -> answer, n: int").unwrap()
    }

    /// The reference's algorithm, spelled out: every line, sections by header, each body joined
    /// with `\n` and stripped; the parser above must give the same text without collecting.
    fn sections_as_the_reference_does(completion: &str) -> Vec<(String, String)> {
        let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
        for line in pyfmt::splitlines(completion) {
            match match_header(pyfmt::strip(line)) {
                Some((name, rest)) => {
                    let rest = pyfmt::strip(rest);
                    sections.push((name.to_string(), if rest.is_empty() { vec![] } else { vec![rest] }));
                }
                None => {
                    if let Some(last) = sections.last_mut() {
                        last.1.push(line);
                    }
                }
            }
        }
        sections.into_iter().map(|(name, lines)| (name, pyfmt::strip(&lines.join("\n")).to_string())).collect()
    }

    #[test]
    fn section_text_matches_the_reference_join() {
        let pieces = ["[[ ## answer ## ]]", "[[ ## n ## ]]", " ", "\n", "\r\n", "\r", "x", "  y ", "\u{2028}", "\t", "\u{85}", "é"];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut completion = String::new();
            for _ in 0..(seed % 14) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                completion.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut first: Vec<(String, String)> = Vec::new();
            for (name, text) in sections_as_the_reference_does(&completion) {
                if !first.iter().any(|(n, _)| *n == name) {
                    first.push((name, text));
                }
            }
            let sig = Signature::parse("q -> answer, n").unwrap();
            match parse_sections("ChatAdapter", &sig, &completion) {
                Ok(out) => {
                    let got: Vec<(String, String)> = out.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
                    let mut want = first.clone();
                    want.sort_by_key(|(n, _)| n != "answer");
                    assert_eq!(got, want, "{completion:?}");
                }
                Err(ParseError::MissingFields { .. }) => assert!(first.len() < 2, "{completion:?}"),
                Err(e) => panic!("{completion:?}: {e}"),
            }
        }
    }

    #[test]
    fn first_section_wins_and_prose_is_ignored() {
        let out = ChatAdapter::new()
            .parse(&sig(), "Sure.\n[[ ## answer ## ]]\nA\nB\n[[ ## n ## ]] 3\n[[ ## answer ## ]]\nignored")
            .unwrap();
        assert_eq!(Value::Object(out), json!({"answer": "A\nB", "n": 3}));
    }

    #[test]
    fn missing_and_invalid_fields_are_typed_errors() {
        let err = ChatAdapter::new().parse(&sig(), "[[ ## answer ## ]]\nA").unwrap_err();
        assert!(matches!(&err, ParseError::MissingFields { missing, .. } if missing == &vec!["n".to_string()]), "{err}");
        let err = ChatAdapter::new().parse(&sig(), "[[ ## answer ## ]]\nA\n[[ ## n ## ]]\nmany").unwrap_err();
        match err {
            ParseError::InvalidValue { field, expected, .. } => {
                assert_eq!(field, "n");
                assert_eq!(expected, "int");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn indented_headers_are_read_whole() {
        let out = ChatAdapter::new().parse(&sig(), "  [[ ## answer ## ]] Paris\n [[ ## n ## ]] 1").unwrap();
        assert_eq!(out["answer"], "Paris");
    }
}
