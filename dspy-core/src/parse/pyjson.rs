//! Python's `json.loads` and `JSONDecoder.raw_decode`, exactly: the strict decoder the
//! reference tries before repairing (it accepts `NaN`/`Infinity`, rejects trailing commas and
//! raw control characters in strings, and lets the last of duplicate keys win).

use super::py::Py;

/// Why decoding failed: not JSON, or nested deeper than the reference's recursion limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    Invalid,
    TooDeep,
}

const MAX_DEPTH: usize = 500;

/// `json.loads(text)`.
pub(crate) fn loads(s: &[char]) -> Result<Py, DecodeError> {
    if s.first() == Some(&'\u{feff}') {
        return Err(DecodeError::Invalid);
    }
    let start = skip_ws(s, 0);
    let (value, end) = Decoder { s, depth: 0 }.value(start)?;
    if skip_ws(s, end) != s.len() {
        return Err(DecodeError::Invalid);
    }
    Ok(value)
}

/// `json.JSONDecoder().raw_decode(text)`: the value at the very start and where it ends.
pub(crate) fn raw_decode(s: &[char]) -> Result<(Py, usize), DecodeError> {
    Decoder { s, depth: 0 }.value(0)
}

fn skip_ws(s: &[char], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], ' ' | '\t' | '\n' | '\r') {
        i += 1;
    }
    i
}

struct Decoder<'a> {
    s: &'a [char],
    depth: usize,
}

impl Decoder<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn starts_with(&self, i: usize, word: &str) -> bool {
        word.chars().enumerate().all(|(k, c)| self.at(i + k) == Some(c))
    }

    fn value(&mut self, i: usize) -> Result<(Py, usize), DecodeError> {
        match self.at(i).ok_or(DecodeError::Invalid)? {
            '"' => {
                let (s, end) = self.string(i + 1)?;
                Ok((Py::Str(s), end))
            }
            '{' => self.nested(|d| d.object(i + 1)),
            '[' => self.nested(|d| d.array(i + 1)),
            'n' if self.starts_with(i, "null") => Ok((Py::None, i + 4)),
            't' if self.starts_with(i, "true") => Ok((Py::Bool(true), i + 4)),
            'f' if self.starts_with(i, "false") => Ok((Py::Bool(false), i + 5)),
            'N' if self.starts_with(i, "NaN") => Ok((Py::Float(f64::NAN), i + 3)),
            'I' if self.starts_with(i, "Infinity") => Ok((Py::Float(f64::INFINITY), i + 8)),
            '-' if self.starts_with(i, "-Infinity") => Ok((Py::Float(f64::NEG_INFINITY), i + 9)),
            _ => self.number(i),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<(Py, usize), DecodeError>) -> Result<(Py, usize), DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn object(&mut self, i: usize) -> Result<(Py, usize), DecodeError> {
        let mut items: Vec<(Py, Py)> = Vec::new();
        let mut i = skip_ws(self.s, i);
        if self.at(i) == Some('}') {
            return Ok((Py::Dict(items), i + 1));
        }
        loop {
            if self.at(i) != Some('"') {
                return Err(DecodeError::Invalid);
            }
            let (key, end) = self.string(i + 1)?;
            i = skip_ws(self.s, end);
            if self.at(i) != Some(':') {
                return Err(DecodeError::Invalid);
            }
            i = skip_ws(self.s, i + 1);
            let (value, end) = self.value(i)?;
            Py::dict_set(&mut items, Py::Str(key), value);
            i = skip_ws(self.s, end);
            match self.at(i) {
                Some('}') => return Ok((Py::Dict(items), i + 1)),
                Some(',') => i = skip_ws(self.s, i + 1),
                _ => return Err(DecodeError::Invalid),
            }
        }
    }

    fn array(&mut self, i: usize) -> Result<(Py, usize), DecodeError> {
        let mut items = Vec::new();
        let mut i = skip_ws(self.s, i);
        if self.at(i) == Some(']') {
            return Ok((Py::List(items), i + 1));
        }
        loop {
            let (value, end) = self.value(i)?;
            items.push(value);
            i = skip_ws(self.s, end);
            match self.at(i) {
                Some(']') => return Ok((Py::List(items), i + 1)),
                Some(',') => i = skip_ws(self.s, i + 1),
                _ => return Err(DecodeError::Invalid),
            }
        }
    }

    /// `py_scanstring` in strict mode, from just after the opening quote.
    fn string(&self, mut i: usize) -> Result<(String, usize), DecodeError> {
        let mut out = String::new();
        loop {
            let c = self.at(i).ok_or(DecodeError::Invalid)?;
            i += 1;
            match c {
                '"' => return Ok((out, i)),
                '\\' => {
                    let e = self.at(i).ok_or(DecodeError::Invalid)?;
                    i += 1;
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let code = self.hex4(i)?;
                            i += 4;
                            if (0xD800..0xDC00).contains(&code) && self.at(i) == Some('\\') && self.at(i + 1) == Some('u')
                                && let Ok(low) = self.hex4(i + 2)
                                && (0xDC00..0xE000).contains(&low) {
                                i += 6;
                                let combined = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                out.push(char::from_u32(combined).unwrap_or('\u{fffd}'));
                                continue;
                            }
                            // A lone surrogate: Python keeps it; Rust strings cannot.
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(DecodeError::Invalid),
                    }
                }
                c if (c as u32) < 0x20 => return Err(DecodeError::Invalid),
                c => out.push(c),
            }
        }
    }

    fn hex4(&self, i: usize) -> Result<u32, DecodeError> {
        let mut code = 0;
        for k in 0..4 {
            let d = self.at(i + k).and_then(|c| c.to_digit(16)).ok_or(DecodeError::Invalid)?;
            code = code * 16 + d;
        }
        Ok(code)
    }

    /// `_match_number_unicode`.
    fn number(&self, start: usize) -> Result<(Py, usize), DecodeError> {
        let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        let mut i = start;
        if self.at(i) == Some('-') {
            i += 1;
        }
        match self.at(i) {
            Some('1'..='9') => {
                i += 1;
                while digit(i) {
                    i += 1;
                }
            }
            Some('0') => i += 1,
            _ => return Err(DecodeError::Invalid),
        }
        let mut is_float = false;
        if self.at(i) == Some('.') && digit(i + 1) {
            is_float = true;
            i += 2;
            while digit(i) {
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let e_start = i;
            i += 1;
            if matches!(self.at(i), Some('-' | '+')) {
                i += 1;
            }
            let digits_start = i;
            while digit(i) {
                i += 1;
            }
            if i > digits_start {
                is_float = true;
            } else {
                i = e_start;
            }
        }
        let text: String = self.s[start..i].iter().collect();
        Ok((parse_number_text(&text, is_float), i))
    }
}

/// `int(text)` or `float(text)` for a well-formed JSON number.
fn parse_number_text(text: &str, is_float: bool) -> Py {
    if !is_float && let Ok(i) = text.parse::<i128>() {
        return Py::Int(i);
    }
    Py::Float(text.parse::<f64>().unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn matches_python_json_loads() {
        assert!(matches!(loads(&chars(" 42 ")), Ok(Py::Int(42))));
        assert!(matches!(loads(&chars("NaN")), Ok(Py::Float(f)) if f.is_nan()));
        assert!(matches!(loads(&chars("1e400")), Ok(Py::Float(f)) if f.is_infinite()));
        assert!(loads(&chars("[1, 2,]")).is_err());
        assert!(loads(&chars("\"a\nb\"")).is_err());
        assert!(loads(&chars("01")).is_err());
        assert!(loads(&chars("{'a': 1}")).is_err());
        let v = loads(&chars("{\"a\": 1, \"b\": 2, \"a\": 3}")).unwrap();
        assert_eq!(v.py_str(), "{'a': 3, 'b': 2}");
        assert_eq!(raw_decode(&chars("[1] tail")).unwrap().1, 3);
        assert!(matches!(loads(&chars(&"[".repeat(10_000))), Err(DecodeError::TooDeep)));
    }
}
