//! A forgiving JSON reader for LM output.
//!
//! LMs wrap JSON in markdown fences, surround it with prose, use Python literals (`True`,
//! `None`, single quotes), leave trailing commas, forget to quote keys, or stop mid-object.
//! The reference DSPy reads such text with the `json_repair` package and `ast.literal_eval`;
//! this reader accepts the same inputs and returns `None` where they give up, so values parse
//! the same way. It never panics, whatever the input (a property test feeds it arbitrary text).

use serde_json::{Map, Number, Value};

/// Reads `text` as JSON, repairing what LMs commonly get wrong. `None` means "not JSON at all".
///
/// ```
/// use dspy_core::parse::lenient::loads;
/// use serde_json::json;
/// assert_eq!(loads("```json\n[\"a\", \"b\",]\n```"), Some(json!(["a", "b"])));
/// assert_eq!(loads("{label: 'refuted', ok: True}"), Some(json!({"label": "refuted", "ok": true})));
/// assert_eq!(loads("Here is the JSON: {\"answer\": 7} hope it helps"), Some(json!({"answer": 7})));
/// assert_eq!(loads("{\"answer\": \"Shakes"), Some(json!({"answer": "Shakes"})));
/// assert_eq!(loads("the answer is 7"), None);
/// ```
pub fn loads(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        return Some(v);
    }
    let inner = strip_fences(trimmed);
    if inner.len() != trimmed.len() {
        if let Ok(v) = serde_json::from_str::<Value>(inner) {
            return Some(v);
        }
    }
    // A whole-text scalar or container in JSON or Python syntax.
    let mut whole = Reader::new(inner);
    if let Some(v) = whole.value(0) {
        whole.skip_ws();
        if whole.at_end() {
            return Some(v);
        }
    }
    // Otherwise the first object or array found in the text.
    let start = inner.find(['{', '['])?;
    let mut reader = Reader::new(&inner[start..]);
    reader.value(0)
}

/// Strips a markdown code fence (```` ```json ... ``` ````) around the text, if any.
pub fn strip_fences(text: &str) -> &str {
    let Some(open) = text.find("```") else { return text };
    let after = &text[open + 3..];
    // Skip the language tag on the opening line.
    let body_start = after.find('\n').map(|i| i + 1).unwrap_or(0);
    let lang = after[..body_start].trim();
    if !lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return text;
    }
    let body = &after[body_start..];
    match body.find("```") {
        Some(close) => body[..close].trim(),
        None => body.trim(),
    }
}

const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(src: &'a str) -> Self {
        Reader { src, pos: 0 }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('/') if self.src[self.pos..].starts_with("//") => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                Some('/') if self.src[self.pos..].starts_with("/*") => {
                    self.pos += 2;
                    match self.src[self.pos..].find("*/") {
                        Some(end) => self.pos += end + 2,
                        None => self.pos = self.src.len(),
                    }
                }
                Some('#') => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// One value, or `None` when nothing value-like starts here.
    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            '{' => Some(self.object(depth)),
            '[' => Some(self.array(depth, ']')),
            '(' => Some(self.array(depth, ')')),
            '"' | '\'' => Some(Value::String(self.string())),
            c if c == '-' || c.is_ascii_digit() => self.number(),
            c if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                let word = self.word();
                let value = keyword(&word);
                if value.is_none() {
                    self.pos = start; // not a literal: let the caller read it as bare text
                }
                value
            }
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Value {
        self.bump(); // '{'
        let mut map = Map::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => break,
                Some('}') => {
                    self.bump();
                    break;
                }
                Some(',') => {
                    self.bump();
                    continue;
                }
                _ => {}
            }
            let Some(key) = self.key() else {
                // Skip a character we cannot use, so the reader always makes progress.
                self.bump();
                continue;
            };
            self.skip_ws();
            if self.peek() == Some(':') {
                self.bump();
            }
            self.skip_ws();
            let value = match self.peek() {
                None | Some(',') | Some('}') => Value::String(String::new()),
                _ => self.value(depth + 1).unwrap_or_else(|| Value::String(self.bare_text(&[',', '}']))),
            };
            map.insert(key, value);
        }
        Value::Object(map)
    }

    fn key(&mut self) -> Option<String> {
        match self.peek()? {
            '"' | '\'' => Some(self.string()),
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == '$' => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '-' | '$' | '.') {
                        self.bump();
                    } else {
                        break;
                    }
                }
                Some(self.src[start..self.pos].to_string())
            }
            _ => None,
        }
    }

    fn array(&mut self, depth: usize, close: char) -> Value {
        self.bump(); // '[' or '('
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => break,
                Some(c) if c == close => {
                    self.bump();
                    break;
                }
                Some(',') => {
                    self.bump();
                    continue;
                }
                Some(']' | ')' | '}') => {
                    // A mismatched closer ends the array.
                    self.bump();
                    break;
                }
                _ => {}
            }
            match self.value(depth + 1) {
                Some(v) => items.push(v),
                None => {
                    let text = self.bare_text(&[',', close]);
                    if text.is_empty() {
                        self.bump();
                    } else {
                        items.push(Value::String(text));
                    }
                }
            }
        }
        Value::Array(items)
    }

    /// Text up to one of `stops` (or the end), for unquoted values.
    fn bare_text(&mut self, stops: &[char]) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if stops.contains(&c) || c == '\n' {
                break;
            }
            self.bump();
        }
        self.src[start..self.pos].trim().to_string()
    }

    fn string(&mut self) -> String {
        let quote = self.bump().unwrap_or('"');
        let mut out = String::new();
        while let Some(c) = self.bump() {
            if c == quote {
                return out;
            }
            if c == '\\' {
                match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{08}'),
                    Some('f') => out.push('\u{0c}'),
                    Some('/') => out.push('/'),
                    Some('u') => {
                        let hex: String = self.src[self.pos..].chars().take(4).collect();
                        match u32::from_str_radix(&hex, 16) {
                            Ok(code) if hex.len() == 4 => {
                                self.pos += 4;
                                if (0xD800..0xDC00).contains(&code) && self.src[self.pos..].starts_with("\\u") {
                                    let low: String = self.src[self.pos + 2..].chars().take(4).collect();
                                    if let Ok(lo) = u32::from_str_radix(&low, 16) {
                                        if low.len() == 4 && (0xDC00..0xE000).contains(&lo) {
                                            self.pos += 6;
                                            let combined = 0x10000 + ((code - 0xD800) << 10) + (lo - 0xDC00);
                                            out.push(char::from_u32(combined).unwrap_or('\u{fffd}'));
                                            continue;
                                        }
                                    }
                                }
                                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            }
                            _ => out.push_str("\\u"),
                        }
                    }
                    Some(other) => out.push(other),
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        out // unterminated: the text read so far, as json_repair does
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_') {
                self.bump();
            } else {
                break;
            }
        }
        let text: String = self.src[start..self.pos].chars().filter(|c| *c != '_').collect();
        // A number glued to letters (`7 apples` is fine, `7apples` is a word) is not a number.
        if self.peek().is_some_and(|c| c.is_alphabetic()) {
            self.pos = start;
            return None;
        }
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Some(Value::Number(u.into()));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Number::from_f64(f).map(Value::Number),
            _ => {
                self.pos = start;
                None
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' {
                self.bump();
            } else {
                break;
            }
        }
        self.src[start..self.pos].to_string()
    }
}

fn keyword(word: &str) -> Option<Value> {
    match word {
        "true" | "True" => Some(Value::Bool(true)),
        "false" | "False" => Some(Value::Bool(false)),
        "null" | "None" | "none" | "undefined" => Some(Value::Null),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agrees_with_json_repair_on_common_shapes() {
        let cases: &[(&str, Option<Value>)] = &[
            ("nine", None),
            ("7", Some(json!(7))),
            (" 3 ", Some(json!(3))),
            ("True", Some(json!(true))),
            ("None", Some(json!(null))),
            ("12.5", Some(json!(12.5))),
            ("'negative'", Some(json!("negative"))),
            ("Here is {\"a\": 1} ok", Some(json!({"a": 1}))),
            ("[\"tokio vs smol\", 'glommio']", Some(json!(["tokio vs smol", "glommio"]))),
            ("[1, 2", Some(json!([1, 2]))),
            ("{\"a\": tru", Some(json!({"a": "tru"}))),
            ("7 apples", None),
            ("-3", Some(json!(-3))),
            ("1e5", Some(json!(100000.0))),
            ("// c\n{\"a\": 1}", Some(json!({"a": 1}))),
            ("[1 2 3]", Some(json!([1, 2, 3]))),
            ("(1, 2)", Some(json!([1, 2]))),
            ("", None),
            ("{'reasoning': 'single quotes', 'answer': '9.5'}", Some(json!({"reasoning": "single quotes", "answer": "9.5"}))),
        ];
        for (text, want) in cases {
            assert_eq!(&loads(text), want, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let deep = "[".repeat(100_000);
        let _ = loads(&deep);
        let deep = "{\"a\":".repeat(50_000);
        let _ = loads(&deep);
    }
}
