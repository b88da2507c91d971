//! Python values, as the reference's parsers (`json.loads`, `json_repair`, `ast.literal_eval`)
//! produce them before pydantic validates them.
//!
//! They are richer than JSON: tuples and sets, bytes, non-finite floats, integers of any size,
//! dictionaries with non-string keys. [`Py::to_json`] lowers them to JSON for validation, and
//! [`Py::py_str`] renders them as Python's `str()` does (what a `str` output field receives).

use serde_json::{Map, Number, Value};

use crate::pyfmt;

/// A Python value produced by one of the reference's parsers.
#[derive(Clone, Debug)]
pub(crate) enum Py {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Py>),
    Tuple(Vec<Py>),
    Set(Vec<Py>),
    /// Insertion-ordered, keys unique under Python equality.
    Dict(Vec<(Py, Py)>),
    Complex(f64, f64),
    Ellipsis,
}

impl Py {
    /// The empty string, `json_repair`'s "nothing found".
    pub(crate) fn empty_str() -> Py {
        Py::Str(String::new())
    }

    /// Whether this is the string `s`.
    pub(crate) fn is_str(&self, s: &str) -> bool {
        matches!(self, Py::Str(x) if x == s)
    }

    fn number(&self) -> Option<f64> {
        match self {
            Py::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Py::Int(i) => Some(*i as f64),
            Py::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Python `==` (numbers compare across `bool`, `int` and `float`).
    pub(crate) fn py_eq(&self, other: &Py) -> bool {
        match (self, other) {
            (Py::Int(a), Py::Int(b)) => a == b,
            (Py::Int(a), Py::Bool(b)) | (Py::Bool(b), Py::Int(a)) => *a == i128::from(*b),
            (Py::Bool(a), Py::Bool(b)) => a == b,
            (a, b) if a.number().is_some() && b.number().is_some() => a.number() == b.number(),
            (Py::None, Py::None) | (Py::Ellipsis, Py::Ellipsis) => true,
            (Py::Str(a), Py::Str(b)) => a == b,
            (Py::Bytes(a), Py::Bytes(b)) => a == b,
            (Py::List(a), Py::List(b)) | (Py::Tuple(a), Py::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (Py::Set(a), Py::Set(b)) => a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| x.py_eq(y))),
            (Py::Dict(a), Py::Dict(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.iter().any(|(k2, v2)| k.py_eq(k2) && v.py_eq(v2)))
            }
            (Py::Complex(a, b), Py::Complex(c, d)) => a == c && b == d,
            _ => false,
        }
    }

    /// Whether Python can hash this value (set members and dict keys must be hashable).
    pub(crate) fn hashable(&self) -> bool {
        match self {
            Py::List(_) | Py::Set(_) | Py::Dict(_) => false,
            Py::Tuple(items) => items.iter().all(Py::hashable),
            _ => true,
        }
    }

    /// `d[key] = value` on an insertion-ordered dict.
    pub(crate) fn dict_set(items: &mut Vec<(Py, Py)>, key: Py, value: Py) {
        match items.iter_mut().find(|(k, _)| k.py_eq(&key)) {
            Some(slot) => slot.1 = value,
            None => items.push((key, value)),
        }
    }

    /// The value as JSON, the way pydantic sees it in Python mode: tuples and sets are
    /// sequences, bytes are text. Fails on what JSON cannot hold (non-finite floats, complex
    /// numbers, `...`).
    pub(crate) fn to_json(&self) -> Result<Value, String> {
        Ok(match self {
            Py::None => Value::Null,
            Py::Bool(b) => Value::Bool(*b),
            Py::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(v), _) => Value::Number(v.into()),
                (_, Ok(v)) => Value::Number(v.into()),
                _ => Value::Number(Number::from_f64(*i as f64).ok_or("integer out of range")?),
            },
            Py::Float(f) => Value::Number(
                Number::from_f64(*f).ok_or_else(|| format!("{} cannot be represented in JSON", float_str(*f)))?,
            ),
            Py::Str(s) => Value::String(s.clone()),
            Py::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            Py::List(items) | Py::Tuple(items) | Py::Set(items) => {
                Value::Array(items.iter().map(Py::to_json).collect::<Result<_, _>>()?)
            }
            Py::Dict(items) => {
                let mut map = Map::new();
                for (k, v) in items {
                    let key = match k {
                        Py::Str(s) => s.clone(),
                        other => other.py_str(),
                    };
                    map.insert(key, v.to_json()?);
                }
                Value::Object(map)
            }
            Py::Complex(..) => return Err("a complex number is not a valid value".into()),
            Py::Ellipsis => return Err("`...` is not a valid value".into()),
        })
    }

    /// A JSON value as the Python object `json.loads` would give.
    pub(crate) fn from_json(value: &Value) -> Py {
        match value {
            Value::Null => Py::None,
            Value::Bool(b) => Py::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Py::Int(i.into()),
                (_, Some(u)) => Py::Int(u.into()),
                _ => Py::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Py::Str(s.clone()),
            Value::Array(items) => Py::List(items.iter().map(Py::from_json).collect()),
            Value::Object(map) => Py::Dict(map.iter().map(|(k, v)| (Py::Str(k.clone()), Py::from_json(v))).collect()),
        }
    }

    /// Python's `str(value)`.
    pub(crate) fn py_str(&self) -> String {
        match self {
            Py::Str(s) => s.clone(),
            other => other.py_repr(),
        }
    }

    /// Python's `repr(value)`.
    pub(crate) fn py_repr(&self) -> String {
        let join = |items: &[Py]| items.iter().map(Py::py_repr).collect::<Vec<_>>().join(", ");
        match self {
            Py::None => "None".into(),
            Py::Bool(true) => "True".into(),
            Py::Bool(false) => "False".into(),
            Py::Int(i) => i.to_string(),
            Py::Float(f) => float_str(*f),
            Py::Str(s) => pyfmt::str_repr(s),
            Py::Bytes(b) => bytes_repr(b),
            Py::List(items) => format!("[{}]", join(items)),
            Py::Tuple(items) if items.len() == 1 => format!("({},)", items[0].py_repr()),
            Py::Tuple(items) => format!("({})", join(items)),
            Py::Set(items) if items.is_empty() => "set()".into(),
            Py::Set(items) => format!("{{{}}}", join(items)),
            Py::Dict(items) => {
                let parts: Vec<String> = items.iter().map(|(k, v)| format!("{}: {}", k.py_repr(), v.py_repr())).collect();
                format!("{{{}}}", parts.join(", "))
            }
            Py::Complex(re, im) => {
                let imag = |x: f64| {
                    let s = float_str(x);
                    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
                };
                if *re == 0.0 && re.is_sign_positive() {
                    format!("{}j", imag(*im))
                } else {
                    let sign = if *im < 0.0 || (*im == 0.0 && im.is_sign_negative()) { "-" } else { "+" };
                    format!("({}{sign}{}j)", imag(*re), imag(im.abs()))
                }
            }
            Py::Ellipsis => "Ellipsis".into(),
        }
    }
}

/// Python's `repr(float)`, with `inf` and `nan` as Python spells them.
pub(crate) fn float_str(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        pyfmt::float_repr(f)
    }
}

fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { '"' } else { '\'' };
    let mut out = String::from("b");
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isspace()` for one character.
pub(crate) fn is_space(c: char) -> bool {
    pyfmt::is_py_space(c)
}

/// Python's `str.isalpha()` for one character (Unicode letters).
pub(crate) fn is_alpha(c: char) -> bool {
    c.is_alphabetic()
}

/// Python's `str.isdigit()` for one character.
pub(crate) fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || is_unicode_digit(c)
}

fn is_unicode_digit(c: char) -> bool {
    // Decimal digits of other scripts and superscript/subscript/circled digits; Rust has no
    // Numeric_Type table, and LM output virtually never holds them, so a range check suffices.
    let cp = c as u32;
    matches!(cp, 0x00B2 | 0x00B3 | 0x00B9 | 0x2070..=0x2079 | 0x2080..=0x2089 | 0x2460..=0x2468 | 0x0660..=0x0669 | 0x06F0..=0x06F9 | 0x0966..=0x096F | 0xFF10..=0xFF19)
}

/// Python's `str.isalnum()` for one character.
pub(crate) fn is_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

/// Python's `float(text)` for text made of digits, signs, `.` and exponents: `None` where
/// Python raises `ValueError`.
pub(crate) fn python_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(whole) && digits(frac) && !(whole.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    let normal = format!(
        "{}{}.{}e{}",
        if text.starts_with('-') { "-" } else { "" },
        if whole.is_empty() { "0" } else { whole },
        if frac.is_empty() { "0" } else { frac },
        exponent.unwrap_or("0")
    );
    normal.parse().ok()
}

/// Python's `int(text)` for text made of digits and a sign: `None` where Python raises
/// `ValueError` (integers beyond `i128` become floats).
pub(crate) fn python_int(run: &str) -> Option<Py> {
    let digits = run.strip_prefix('-').unwrap_or(run);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match run.parse::<i128>() {
        Ok(i) => Some(Py::Int(i)),
        Err(_) => run.parse::<f64>().ok().map(Py::Float),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_and_repr_follow_python() {
        assert!(Py::Bool(true).py_eq(&Py::Int(1)));
        assert!(Py::Float(1.0).py_eq(&Py::Int(1)));
        assert!(!Py::List(vec![]).py_eq(&Py::Tuple(vec![])));
        let d = Py::Dict(vec![(Py::Str("a".into()), Py::List(vec![Py::Int(1), Py::None, Py::Float(f64::INFINITY)]))]);
        assert_eq!(d.py_str(), "{'a': [1, None, inf]}");
        assert_eq!(Py::Tuple(vec![Py::Int(1)]).py_repr(), "(1,)");
        assert_eq!(Py::Complex(1.0, 2.0).py_repr(), "(1+2j)");
        assert_eq!(Py::Complex(0.0, 1.0).py_repr(), "1j");
        assert_eq!(Py::Bytes(b"x'".to_vec()).py_repr(), "b\"x'\"");
    }
}
