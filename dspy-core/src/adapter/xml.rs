//! `XMLAdapter`: fields wrapped in `<name>...</name>` tags; lists, maps and models as nested XML.

use serde_json::{Map, Value};

use super::{Adapter, FormatOutputs, SystemMessageCache};
use super::chat::{finish_outputs, format_untyped, output_values};
use super::format::{field_descriptions, format_field_value, jsonable, task_description, translate_field_type};
use crate::error::ParseError;
use crate::lm::snippet;
use crate::parse::{coerce, parse_value};
use crate::pyfmt;
use crate::signature::{Field, FieldKind, FieldType, Signature};

/// Wraps every field in XML tags, nesting lists (`<item>`), maps and models.
///
/// Parsing is more forgiving than the reference (which needs well-formed XML): stray `<` and
/// `&`, unknown entities and unclosed tags are read as text or closed at the end.
///
/// ```
/// use dspy_core::{Adapter, Signature, XMLAdapter};
/// let sig = Signature::parse("question -> tags: list[str]").unwrap();
/// let out = XMLAdapter::new().parse(&sig, "<tags><item>a</item><item>b & c</item></tags>").unwrap();
/// assert_eq!(out["tags"], serde_json::json!(["a", "b & c"]));
/// ```
#[derive(Clone, Debug, Default)]
pub struct XMLAdapter {
    system_cache: SystemMessageCache,
}

impl XMLAdapter {
    /// An XML adapter.
    pub fn new() -> Self {
        XMLAdapter { system_cache: SystemMessageCache::default() }
    }
}

/// Whether an output of this type is written as nested XML rather than text.
fn uses_nested_xml(ty: &FieldType) -> bool {
    let ty = match ty {
        FieldType::Union(members) => {
            let non_null: Vec<&FieldType> = members.iter().filter(|m| **m != FieldType::NoneType).collect();
            if non_null.len() == 1 { non_null[0] } else { ty }
        }
        other => other,
    };
    match ty {
        FieldType::List(item) => !matches!(**item, FieldType::Image | FieldType::Audio),
        FieldType::Dict(..) => true,
        FieldType::Named(n) => n.enum_values().is_none() && is_object_schema(&n.schema),
        _ => false,
    }
}

/// Whether a model's schema describes an object, following a top-level `$ref` (recursive
/// models are a `$ref` into their own `$defs`).
fn is_object_schema(schema: &Value) -> bool {
    let target = match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
        Some(name) => schema.get("$defs").and_then(|d| d.get(name)).unwrap_or(schema),
        None => schema,
    };
    target.get("type") == Some(&Value::String("object".into()))
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

fn quote_attr(s: &str) -> String {
    let escaped = s
        .replace('&', "&amp;")
        .replace('>', "&gt;")
        .replace('<', "&lt;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;");
    if escaped.contains('"') {
        if escaped.contains('\'') { format!("\"{}\"", escaped.replace('"', "&quot;")) } else { format!("'{escaped}'") }
    } else {
        format!("\"{escaped}\"")
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => chars.all(|c| c.is_alphanumeric() || c == '_'),
        _ => false,
    }
}

/// A JSON value as nested XML, the way the reference writes demo outputs.
fn value_to_xml(value: &Value, tag: &str, key: Option<&str>) -> String {
    let attrs = key.map(|k| format!(" key={}", quote_attr(k))).unwrap_or_default();
    match value {
        Value::Array(items) => {
            let children: String = items.iter().map(|item| value_to_xml(item, "item", None)).collect();
            if children.is_empty() { format!("<{tag}{attrs} />") } else { format!("<{tag}{attrs}>{children}</{tag}>") }
        }
        Value::Object(map) => {
            let children: String = map
                .iter()
                .map(|(name, child)| {
                    let mut chars = name.chars();
                    let normalised: String =
                        chars.next().into_iter().chain(chars.map(|c| if c == '-' || c == '.' { '_' } else { c })).collect();
                    if is_identifier(&normalised) {
                        value_to_xml(child, name, None)
                    } else {
                        value_to_xml(child, "entry", Some(name))
                    }
                })
                .collect();
            format!("<{tag}{attrs}>{children}</{tag}>")
        }
        Value::Null => format!("<{tag}{attrs} />"),
        scalar => format!("<{tag}{attrs}>{}</{tag}>", escape_text(&pyfmt::py_str(scalar))),
    }
}

/// The nested XML skeleton of a schema (`<tags><item>...</item></tags>`).
fn schema_to_xml(tag: &str, schema: &Value, defs: &Map<String, Value>, seen: &[String]) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference).to_string();
        if seen.contains(&name) {
            return format!("<{tag}>...</{tag}>");
        }
        let target = defs.get(&name).cloned().unwrap_or(Value::Null);
        let mut seen = seen.to_vec();
        seen.push(name);
        return schema_to_xml(tag, &target, defs, &seen);
    }
    if let Some(Value::Array(choices)) = schema.get("anyOf")
        && let Some(first) = choices.iter().find(|c| c.get("type") != Some(&Value::String("null".into()))).or(choices.first()) {
        return schema_to_xml(tag, first, defs, seen);
    }
    if schema.get("type") == Some(&Value::String("array".into())) {
        let empty = Value::Object(Map::new());
        let item = schema_to_xml("item", schema.get("items").unwrap_or(&empty), defs, seen);
        return format!("<{tag}>{item}</{tag}>");
    }
    let children: String = match schema.get("properties") {
        Some(Value::Object(props)) => props.iter().map(|(name, child)| schema_to_xml(name, child, defs, seen)).collect(),
        _ => String::new(),
    };
    if children.is_empty() { format!("<{tag}>...</{tag}>") } else { format!("<{tag}>{children}</{tag}>") }
}

fn xml_schema(field: &Field) -> String {
    let defs = match field.schema.get("$defs") {
        Some(Value::Object(d)) => d.clone(),
        _ => Map::new(),
    };
    schema_to_xml(&field.name, &field.schema, &defs, &[])
}

impl XMLAdapter {
    fn format_fields(&self, fields: &[(&Field, Value)]) -> String {
        let parts: Vec<String> = fields
            .iter()
            .map(|(field, value)| {
                let is_output = field.kind == FieldKind::Output;
                let serialized = jsonable(value, &field.ty);
                if is_output && uses_nested_xml(&field.ty) && matches!(serialized, Value::Array(_) | Value::Object(_)) {
                    return value_to_xml(&serialized, &field.name, None);
                }
                let mut formatted = format_field_value(field, value);
                if is_output && field.ty.is_str() {
                    formatted = escape_text(&formatted).into();
                }
                format!("<{0}>\n{1}\n</{0}>", field.name, formatted)
            })
            .collect();
        pyfmt::strip(&parts.join("\n\n")).to_string()
    }

    fn structure(&self, sig: &Signature) -> String {
        let format_one = |f: &Field| {
            if f.kind == FieldKind::Output && uses_nested_xml(&f.ty) {
                xml_schema(f)
            } else {
                self.format_fields(&[(f, Value::String(translate_field_type(f)))])
            }
        };
        let inputs: Vec<String> = sig.input_fields().map(format_one).collect();
        let outputs: Vec<String> = sig.output_fields().map(format_one).collect();
        [
            "All interactions will be structured in the following way, with the appropriate values filled in.".to_string(),
            inputs.join("\n\n"),
            outputs.join("\n\n"),
        ]
        .join("\n\n")
    }
}

impl Adapter for XMLAdapter {
    fn name(&self) -> &'static str {
        "XMLAdapter"
    }

    fn field_markers(&self) -> Option<super::FieldMarkers> {
        Some(super::FieldMarkers::Xml)
    }

    fn format_system_message(&self, sig: &Signature) -> String {
        self.system_cache.get_or_insert_with(sig, || {
            format!("{}\n{}\n{}", field_descriptions(sig), self.structure(sig), task_description(sig.instructions()))
        })
    }

    fn format_user_message_content(&self, sig: &Signature, inputs: &Map<String, Value>, prefix: &str, main_request: bool) -> String {
        let fields: Vec<(&Field, Value)> =
            sig.input_fields().filter_map(|f| inputs.get(&f.name).map(|v| (f, v.clone()))).collect();
        let mut parts = vec![prefix.to_string(), self.format_fields(&fields)];
        if main_request {
            let tags: Vec<String> = sig.output_fields().map(|f| format!("`<{}>`", f.name)).collect();
            let schemas: Vec<String> = sig.output_fields().filter(|f| uses_nested_xml(&f.ty)).map(xml_schema).collect();
            let mut request = format!("Respond with the corresponding output fields wrapped in XML tags {}.", tags.join(", then "));
            if !schemas.is_empty() {
                request.push_str(&format!(" Use this nested XML structure: {}", schemas.join(" ")));
            }
            parts.push(request);
        }
        parts.push(String::new());
        pyfmt::strip(&parts.join("\n\n")).to_string()
    }

    fn format_assistant_message_content(&self, sig: &Signature, outputs: &Map<String, Value>, missing: Option<&str>) -> String {
        self.format_fields(&output_values(sig, outputs, missing))
    }

    fn parse(&self, sig: &Signature, completion: &str) -> Result<Map<String, Value>, ParseError> {
        let root = tree::parse(completion);
        let groups = tree::group_children(&root);
        let mut found = Map::new();
        for field in sig.output_fields() {
            let Some(elements) = groups.iter().find(|(name, _)| *name == field.name).map(|(_, e)| e) else { continue };
            let defs = match field.schema.get("$defs") {
                Some(Value::Object(d)) => d.clone(),
                _ => Map::new(),
            };
            let mut candidates = vec![&field.schema];
            if let Some(Value::Array(choices)) = field.schema.get("anyOf") {
                candidates.extend(choices.iter());
            }
            let mut last_error = String::new();
            let mut parsed = None;
            for candidate in candidates {
                let value = tree::elements_to_value(elements, candidate, &defs, 0);
                // `parse_value`, and when that fails, pydantic on the raw value
                // (`adapter.validate_python(value)`): text such as `None` stays text for
                // `Union[int, str]`.
                let result = parse_value(value.clone(), field).or_else(|e| coerce(value, &field.schema).map_err(|_| e));
                match result {
                    Ok(v) => {
                        parsed = Some(v);
                        break;
                    }
                    Err(e) => last_error = e,
                }
            }
            match parsed {
                Some(v) => {
                    found.insert(field.name.clone(), v);
                }
                None => {
                    return Err(ParseError::InvalidValue {
                        adapter: "XMLAdapter",
                        field: field.name.clone(),
                        expected: field.ty.name(),
                        reason: last_error,
                        snippet: snippet(completion),
                    });
                }
            }
        }
        finish_outputs("XMLAdapter", sig, found, completion)
    }
}

impl FormatOutputs for XMLAdapter {
    fn format_outputs(&self, outputs: &Map<String, Value>) -> String {
        let parts: Vec<String> = outputs.iter().map(|(k, v)| format!("<{k}>\n{}\n</{k}>", format_untyped(v))).collect();
        pyfmt::strip(&parts.join("\n\n")).to_string()
    }
}

/// A forgiving XML reader producing what ElementTree would: elements with their attributes,
/// `.text` (character data before the first child) and `.tail` (after the end tag).
mod tree {
    use serde_json::{Map, Value};

    use crate::pyfmt;

    const MAX_DEPTH: usize = 256;

    #[derive(Debug, Default)]
    pub(super) struct Element {
        pub tag: String,
        pub attrs: Vec<(String, String)>,
        pub text: String,
        pub tail: String,
        pub children: Vec<Element>,
    }

    impl Element {
        fn key(&self) -> Option<&str> {
            self.attrs.iter().find(|(k, _)| k == "key").map(|(_, v)| v.as_str())
        }

        /// `ET.tostring(element, encoding="unicode")`, tail included.
        fn to_xml(&self, out: &mut String) {
            out.push('<');
            out.push_str(&self.tag);
            for (k, v) in &self.attrs {
                out.push_str(&format!(" {k}=\"{}\"", escape_attr(v)));
            }
            if self.text.is_empty() && self.children.is_empty() {
                out.push_str(" />");
            } else {
                out.push('>');
                out.push_str(&escape_cdata(&self.text));
                for child in &self.children {
                    child.to_xml(out);
                }
                out.push_str(&format!("</{}>", self.tag));
            }
            out.push_str(&escape_cdata(&self.tail));
        }
    }

    fn escape_cdata(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }

    fn escape_attr(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\r', "&#13;")
            .replace('\n', "&#10;")
            .replace('\t', "&#09;")
    }

    /// XML end-of-line handling: `\r\n` and lone `\r` read as `\n`.
    fn normalize_newlines(s: &str) -> String {
        if s.contains('\r') { s.replace("\r\n", "\n").replace('\r', "\n") } else { s.to_string() }
    }

    pub(super) fn parse(src: &str) -> Element {
        let mut stack: Vec<Element> = vec![Element { tag: "dspy_root".into(), ..Element::default() }];
        let mut pos = 0;
        let bytes = src.as_bytes();
        while pos < src.len() {
            let Some(lt) = src[pos..].find('<').map(|i| i + pos) else {
                push_text(&mut stack, &unescape(&normalize_newlines(&src[pos..])));
                break;
            };
            if lt > pos {
                push_text(&mut stack, &unescape(&normalize_newlines(&src[pos..lt])));
            }
            let rest = &src[lt..];
            if rest.starts_with("<!--") {
                pos = rest.find("-->").map(|i| lt + i + 3).unwrap_or(src.len());
                continue;
            }
            if rest.starts_with("<![CDATA[") {
                let end = rest.find("]]>").map(|i| lt + i).unwrap_or(src.len());
                push_text(&mut stack, &normalize_newlines(&src[lt + 9..end]));
                pos = (end + 3).min(src.len());
                continue;
            }
            if rest.starts_with("<?") || rest.starts_with("<!") {
                pos = rest.find('>').map(|i| lt + i + 1).unwrap_or(src.len());
                continue;
            }
            let closing = bytes.get(lt + 1) == Some(&b'/');
            let name_start = lt + 1 + usize::from(closing);
            let name_len = src[name_start..]
                .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
                .unwrap_or(src.len() - name_start);
            let gt = src[name_start..].find('>').map(|i| name_start + i);
            let starts_name = src[name_start..].chars().next().is_some_and(|c| c.is_alphabetic() || c == '_');
            let (Some(gt), true) = (gt, starts_name && name_len > 0) else {
                // Not a tag: a literal '<'.
                push_text(&mut stack, "<");
                pos = lt + 1;
                continue;
            };
            let name = &src[name_start..name_start + name_len];
            if closing {
                if let Some(open) = stack.iter().rposition(|e| e.tag == name) && open > 0 {
                    while stack.len() > open {
                        close_top(&mut stack);
                    }
                }
                pos = gt + 1;
                continue;
            }
            let attrs = &src[name_start + name_len..gt];
            let self_closing = attrs.trim_end().ends_with('/');
            let element = Element { tag: name.to_string(), attrs: attributes(attrs), ..Element::default() };
            if self_closing || stack.len() > MAX_DEPTH {
                stack.last_mut().expect("root").children.push(element);
            } else {
                stack.push(element);
            }
            pos = gt + 1;
        }
        while stack.len() > 1 {
            close_top(&mut stack);
        }
        stack.pop().expect("root")
    }

    fn close_top(stack: &mut Vec<Element>) {
        let element = stack.pop().expect("non-root element");
        stack.last_mut().expect("root").children.push(element);
    }

    /// Character data goes to the open element's `.text` before its first child, and to the
    /// last child's `.tail` after it.
    fn push_text(stack: &mut [Element], text: &str) {
        let top = stack.last_mut().expect("root");
        match top.children.last_mut() {
            Some(last) => last.tail.push_str(text),
            None => top.text.push_str(text),
        }
    }

    /// `name="value"` pairs, values unescaped and whitespace-normalized as XML requires.
    fn attributes(src: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut rest = src;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            let Some(eq) = rest.find('=') else { break };
            let name = rest[..eq].trim();
            let after = rest[eq + 1..].trim_start();
            let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else { break };
            let Some(end) = after[1..].find(quote) else { break };
            let raw = &after[1..1 + end];
            let value = unescape(&normalize_newlines(raw).replace(['\n', '\t'], " "));
            if !name.is_empty() && !name.contains(char::is_whitespace) && !out.iter().any(|(k, _)| k == name) {
                out.push((name.to_string(), value));
            }
            rest = &after[1 + end + 1..];
        }
        out
    }

    fn unescape(s: &str) -> String {
        if !s.contains('&') {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let after = &rest[amp..];
            let entity = after.find(';').filter(|&i| i <= 10).map(|i| &after[1..i]);
            let decoded = entity.and_then(|e| match e {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
                _ if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            });
            match (decoded, entity) {
                (Some(c), Some(e)) => {
                    out.push(c);
                    rest = &after[e.len() + 2..];
                }
                _ => {
                    out.push('&');
                    rest = &after[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Children grouped by tag (or by `key` for `<entry key=...>`), in order of appearance.
    pub(super) fn group_children(element: &Element) -> Vec<(String, Vec<&Element>)> {
        let mut groups: Vec<(String, Vec<&Element>)> = Vec::new();
        for child in &element.children {
            let name = match (&child.tag[..], child.key()) {
                ("entry", Some(k)) => k.to_string(),
                _ => child.tag.clone(),
            };
            match groups.iter_mut().find(|(n, _)| *n == name) {
                Some((_, list)) => list.push(child),
                None => groups.push((name, vec![child])),
            }
        }
        groups
    }

    fn is_type(schema: &Value, t: &str) -> bool {
        schema.get("type").and_then(Value::as_str) == Some(t)
    }

    /// The reference's `_elements_to_value`: elements read against a schema.
    pub(super) fn elements_to_value(elements: &[&Element], schema: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
        let Some(first) = elements.first() else { return Value::Null };
        if depth > MAX_DEPTH {
            return Value::String(first.text.clone());
        }
        let mut schema = schema;
        if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next())
            && let Some(target) = defs.get(name) {
            schema = target;
        }
        if let Some(Value::Array(choices)) = schema.get("anyOf") {
            let allows_null = choices.iter().any(|c| is_type(c, "null") && c.as_object().is_some_and(|o| o.len() == 1));
            if allows_null && first.children.is_empty() && pyfmt::strip(&first.text).is_empty() {
                return Value::Null;
            }
            let non_null: Vec<&Value> = choices.iter().filter(|c| !is_type(c, "null")).collect();
            if let Some(&chosen) = non_null.first() {
                schema = chosen;
                if !first.children.is_empty() {
                    schema = non_null.iter().copied().find(|c| !is_type(c, "string")).unwrap_or(chosen);
                }
            }
        }
        let empty = Value::Object(Map::new());
        if is_type(schema, "array") {
            let mut elements = elements.to_vec();
            if elements.len() == 1 && first.children.is_empty() {
                let text = pyfmt::strip(&first.text);
                if text.is_empty() {
                    return Value::Array(Vec::new());
                }
                if text.starts_with('[') {
                    return Value::String(text.to_string());
                }
            }
            if elements.len() == 1
                && let Some((_, items)) = group_children(first).into_iter().find(|(n, _)| n == "item") {
                elements = items;
            }
            let item_schema = schema.get("items").unwrap_or(&empty);
            return Value::Array(elements.iter().map(|e| elements_to_value(&[e], item_schema, defs, depth + 1)).collect());
        }
        if is_type(schema, "string") && !first.children.is_empty() {
            let mut text = first.text.clone();
            for child in &first.children {
                child.to_xml(&mut text);
            }
            return Value::String(text);
        }
        let children = group_children(first);
        if children.is_empty() {
            if is_type(schema, "object") && pyfmt::strip(&first.text).is_empty() {
                return Value::Object(Map::new());
            }
            let values: Vec<Value> = elements.iter().map(|e| Value::String(pyfmt::strip(&e.text).to_string())).collect();
            return if values.len() == 1 { values.into_iter().next().expect("one") } else { Value::Array(values) };
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let extra = schema.get("additionalProperties").filter(|v| v.is_object()).unwrap_or(&empty);
        let mut out = Map::new();
        for (name, items) in children {
            let child_schema = properties.and_then(|p| p.get(&name)).unwrap_or(extra);
            out.insert(name, elements_to_value(&items, child_schema, defs, depth + 1));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_models_round_trip() {
        let citation = json!({"properties": {"source": {"title": "Source", "type": "string"}, "page": {"title": "Page", "type": "integer"}}, "required": ["source", "page"], "title": "Citation", "type": "object"});
        let verdict = FieldType::named(
            "Verdict",
            json!({"$defs": {"Citation": citation}, "properties": {"label": {"type": "string"}, "citations": {"items": {"$ref": "#/$defs/Citation"}, "type": "array"}}, "required": ["label", "citations"], "title": "Verdict", "type": "object"}),
        );
        let sig = Signature::from_fields("S", None, [Field::input("q", FieldType::Str), Field::output("v", verdict)]).unwrap();
        let value = json!({"label": "ok", "citations": [{"source": "p1", "page": 3}]});
        let outputs = Map::from_iter([("v".to_string(), value.clone())]);
        let text = XMLAdapter::new().format_assistant_message_content(&sig, &outputs, None);
        assert_eq!(text, "<v><label>ok</label><citations><item><source>p1</source><page>3</page></item></citations></v>");
        let out = XMLAdapter::new().parse(&sig, &text).unwrap();
        assert_eq!(out["v"], value);
    }

    #[test]
    fn malformed_xml_never_panics() {
        let sig = Signature::parse("q -> a, b: int").unwrap();
        for text in ["<a>x & y < z</a><b>3</b>", "<a>unclosed<b>2", "</b><a>x</a><b>1</b>", "<<>>", "<a key='1'>x</a><b/>"] {
            let _ = XMLAdapter::new().parse(&sig, text);
        }
        let out = XMLAdapter::new().parse(&sig, "<a>x & y < z</a><b>3</b>").unwrap();
        assert_eq!(out["a"], "x & y < z");
    }
}
