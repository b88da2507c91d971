//! Python-compatible text helpers.
//!
//! Prompts must be byte-identical to the reference DSPy, which builds them with Python's
//! `json.dumps`, `repr(float)`, `str.splitlines`, `textwrap.dedent` and friends. Each helper here
//! reproduces exactly one of those behaviours so the adapters can be read side by side with the
//! reference.

use serde_json::Value;

/// `json.dumps(value, ensure_ascii=False)`: `", "` and `": "` separators, Python float repr.
pub(crate) fn dumps(value: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_compact(&mut out, value);
    out
}

/// `json.dumps(value, indent=2, ensure_ascii=False)`, as the JSON adapter renders outputs.
pub(crate) fn dumps_indent(value: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_indented(&mut out, value, 0);
    out
}

fn write_compact(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, k);
                out.push_str(": ");
                write_compact(out, v);
            }
            out.push('}');
        }
        scalar => write_scalar(out, scalar),
    }
}

fn write_indented(out: &mut String, value: &Value, level: usize) {
    const INDENT: usize = 2;
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, (level + 1) * INDENT);
                write_indented(out, item, level + 1);
            }
            newline_indent(out, level * INDENT);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, (level + 1) * INDENT);
                write_string(out, k);
                out.push_str(": ");
                write_indented(out, v, level + 1);
            }
            newline_indent(out, level * INDENT);
            out.push('}');
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
        scalar => write_scalar(out, scalar),
    }
}

fn newline_indent(out: &mut String, n: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(_) | Value::Object(_) => unreachable!("containers are written by the callers"),
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(itoa(i).as_str());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&float_repr(f));
    }
}

fn itoa(i: i64) -> String {
    i.to_string()
}

/// A JSON string literal as Python's `json.dumps(..., ensure_ascii=False)` writes it.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{08}' => Some("\\b"),
            '\u{0c}' => Some("\\f"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Python's `repr(float)`: the shortest round-tripping digits, scientific notation outside
/// `1e-4 <= |x| < 1e16`, and always a `.0` on integral values.
///
/// ```
/// use dspy_core::python::float_repr;
/// assert_eq!(float_repr(9.0), "9.0");
/// assert_eq!(float_repr(0.1), "0.1");
/// assert_eq!(float_repr(1e16), "1e+16");
/// assert_eq!(float_repr(1e-5), "1e-05");
/// assert_eq!(float_repr(123456.789), "123456.789");
/// ```
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-5", "9e-1". When two
    // candidates of that length round-trip, Python takes the one nearest the exact value (ties
    // to even), which is the correctly rounded `{:.N$e}` of the same length.
    let shortest = format!("{:e}", f);
    let n_digits = shortest.split('e').next().unwrap_or("").chars().filter(|c| c.is_ascii_digit()).count();
    let rounded = format!("{:.*e}", n_digits.saturating_sub(1), f);
    let sci = if rounded.parse::<f64>() == Ok(f) { rounded } else { shortest };
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    let decpt = exp + 1; // position of the decimal point relative to the digits
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-decpt) as usize));
            out.push_str(&digits);
        } else if decpt as usize >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', decpt as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt as usize]);
            out.push('.');
            out.push_str(&digits[decpt as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    }
    out
}

/// Python's `str(value)` for a JSON scalar: `True`, `None`, `9.0`, or the string itself.
///
/// ```
/// use serde_json::json;
/// assert_eq!(dspy_core::python::py_str(&json!(true)), "True");
/// assert_eq!(dspy_core::python::py_str(&json!("x")), "x");
/// ```
pub fn py_str(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Array(_) | Value::Object(_) => py_repr(value),
    }
}

/// Python's `repr(value)` for JSON data: single-quoted strings, `True`/`None`, `{'k': v}`.
///
/// ```
/// use serde_json::json;
/// assert_eq!(dspy_core::python::py_repr(&json!({"a": ["b", null]})), "{'a': ['b', None]}");
/// ```
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => out.push_str(&str_repr(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_repr(k));
                out.push_str(": ");
                write_repr(out, v);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text holds a `'` and no `"`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isspace()` for one character (Unicode whitespace plus `\x1c`..`\x1f`).
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `str.splitlines()`: every Unicode line boundary, `\r\n` as one, no trailing empty line.
pub(crate) fn splitlines(s: &str) -> Vec<&str> {
    Lines::new(s).map(|(line, _)| line).collect()
}

/// The lines of `splitlines`, each with the byte offset where the next line starts, so a caller
/// can slice the original text between two lines without collecting them.
pub(crate) struct Lines<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lines<'a> {
    /// The lines of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Lines { text, at: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        // A byte scan: every boundary is ASCII or starts with 0xC2 (U+0085) or 0xE2 (U+2028/9),
        // and in UTF-8 those bytes only ever lead a character, so every cut is on a char boundary.
        const CANDIDATE: [bool; 256] = {
            let mut table = [false; 256];
            let mut b = 0x0a;
            while b <= 0x1e {
                table[b] = !matches!(b, 0x0e..=0x1b);
                b += 1;
            }
            table[0xc2] = true;
            table[0xe2] = true;
            table
        };
        let bytes = self.text.as_bytes();
        let start = self.at;
        if start >= bytes.len() {
            return None;
        }
        let mut i = start;
        while i < bytes.len() {
            if CANDIDATE[bytes[i] as usize] {
                let width = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
                    (b'\r', Some(b'\n'), _) | (0xc2, Some(0x85), _) => 2,
                    (0xe2, Some(0x80), Some(0xa8 | 0xa9)) => 3,
                    (0xc2 | 0xe2, _, _) => 0,
                    _ => 1,
                };
                if width > 0 {
                    self.at = i + width;
                    return Some((&self.text[start..i], self.at));
                }
            }
            i += 1;
        }
        self.at = bytes.len();
        Some((&self.text[start..], self.at))
    }
}

/// Python's `textwrap.dedent`: drop the longest common leading run of spaces/tabs, and blank
/// out lines made only of spaces and tabs.
pub(crate) fn dedent(text: &str) -> String {
    // Lines are split on '\n' only, exactly as textwrap's regular expressions do.
    let lines: Vec<&str> = text.split('\n').collect();
    let is_blank = |l: &str| l.chars().all(|c| c == ' ' || c == '\t');
    let mut margin: Option<&str> = None;
    for line in lines.iter().filter(|l| !is_blank(l)) {
        let indent_len = line.len() - line.trim_start_matches([' ', '\t']).len();
        let indent = &line[..indent_len];
        margin = Some(match margin {
            None => indent,
            Some(m) if indent.starts_with(m) => m,
            Some(m) if m.starts_with(indent) => indent,
            Some(m) => {
                let common = m.bytes().zip(indent.bytes()).take_while(|(a, b)| a == b).count();
                &m[..common]
            }
        });
    }
    let margin = margin.unwrap_or("");
    lines
        .iter()
        .map(|l| if is_blank(l) { "" } else { &l[margin.len()..] })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Python's `inspect.cleandoc`: how a class docstring becomes DSPy instructions.
pub fn cleandoc(doc: &str) -> String {
    let expanded = expandtabs(doc, 8);
    let lines: Vec<&str> = expanded.split('\n').collect();
    let margin = lines
        .iter()
        .skip(1)
        .filter_map(|l| {
            let content = l.trim_start_matches(is_py_space);
            (!content.is_empty()).then(|| l.chars().count() - content.chars().count())
        })
        .min();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    if let Some(first) = lines.first() {
        out.push(first.trim_start_matches(is_py_space).to_string());
    }
    for line in lines.iter().skip(1) {
        out.push(match margin {
            Some(m) => line.chars().skip(m).collect(),
            None => line.to_string(),
        });
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    while out.first().is_some_and(|l| l.is_empty()) {
        out.remove(0);
    }
    out.join("\n")
}

/// Python's `str.expandtabs(tabsize)`: tabs to the next multiple of `tabsize` columns, the
/// column restarting after `\n` and `\r`.
pub(crate) fn expandtabs(s: &str, tabsize: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut column = 0;
    for c in s.chars() {
        match c {
            '\t' => {
                let n = tabsize - column % tabsize;
                out.extend(std::iter::repeat_n(' ', n));
                column += n;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// Python's `str.title()`: capitalise each run of letters.
pub(crate) fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splitlines_cuts_at_every_python_boundary() {
        // Python: "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\r\rj\r\nk\u2027é".splitlines()
        let text = "a\u{0b}b\u{0c}c\u{1c}d\u{1d}e\u{1e}f\u{85}g\u{2028}h\u{2029}i\r\rj\r\nk\u{2027}é";
        assert_eq!(splitlines(text), vec!["a", "b", "c", "d", "e", "f", "g", "h", "i", "", "j", "k\u{2027}é"]);
        assert_eq!(splitlines("\u{c5}\u{e285}x\r"), vec!["\u{c5}\u{e285}x"]);
        assert!(splitlines("").is_empty());
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e-5, "1e-05"),
            (2.5e-7, "2.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (12345678.9, "12345678.9"),
            (1_000_000_000_000_000.3, "1000000000000000.2"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn dumps_escapes_like_python() {
        let v = json!({"s": "a\"b\\c\nd\u{1}é«»"});
        assert_eq!(dumps(&v), "{\"s\": \"a\\\"b\\\\c\\nd\\u0001é«»\"}");
    }

    #[test]
    fn indent_matches_python() {
        let v = json!({"a": 1, "b": [1, {"c": null}], "d": {}});
        assert_eq!(
            dumps_indent(&v),
            "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n  ],\n  \"d\": {}\n}"
        );
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a \"gem\""), "'a \"gem\"'");
        assert_eq!(str_repr("both ' \""), "'both \\' \"'");
    }

    #[test]
    fn cleandoc_like_python() {
        assert_eq!(cleandoc("  First.\n\tTab\tbed\n      deeper  \n\n"), "First.\n  Tab     bed\ndeeper  ");
        assert_eq!(cleandoc("\u{3000}x\n\u{a0} y"), "x\ny");
    }

    #[test]
    fn title_like_python() {
        assert_eq!(title("page_count"), "Page_Count");
        assert_eq!(title("abc2def"), "Abc2Def");
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn dumps() {
        use serde_json::json;
        assert_eq!(crate::pyfmt::dumps(&json!({"a": [1, 2.0, "x"]})), r#"{"a": [1, 2.0, "x"]}"#);
    }

    #[test]
    fn dumps_indent() {
        use serde_json::json;
        assert_eq!(crate::pyfmt::dumps_indent(&json!({"a": []})), "{\n  \"a\": []\n}");
    }

    #[test]
    fn splitlines() {
        assert_eq!(crate::pyfmt::splitlines("a\r\nb\n\nc\n"), vec!["a", "b", "", "c"]);
    }

    #[test]
    fn lines() {
        let lines: Vec<_> = crate::pyfmt::Lines::new("a\r\nb").collect();
        assert_eq!(lines, vec![("a", 3), ("b", 4)]);
    }

    #[test]
    fn dedent() {
        assert_eq!(crate::pyfmt::dedent("  a\n    b\n  \n"), "a\n  b\n\n");
    }

    #[test]
    fn cleandoc() {
        let doc = "\n    Answer questions.\n\n    Be brief.\n    ";
        assert_eq!(crate::pyfmt::cleandoc(doc), "Answer questions.\n\nBe brief.");
    }
}
