//! Python's `ast.literal_eval` (3.11), the reference's second chance when `json_repair` finds
//! nothing: numbers in every Python spelling (`0x1A`, `1_000`, `1e3`, `2j`), strings with
//! prefixes, escapes and implicit concatenation, tuples (`1, 2`), lists, sets, dicts,
//! `True`/`False`/`None`, `...` and `set()`.

use super::py::Py;

/// How `literal_eval` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiteralError {
    /// `ValueError` or `SyntaxError`: not a literal (the reference then keeps the text).
    NotLiteral,
    /// `TypeError`: an unhashable set member or dict key (the reference's parse fails).
    Unhashable,
}

const MAX_DEPTH: usize = 200;

/// `ast.literal_eval(text)`.
pub(crate) fn literal_eval(text: &str) -> Result<Py, LiteralError> {
    let text = text.trim_start_matches([' ', '\t']);
    let tokens = tokenize(text).ok_or(LiteralError::NotLiteral)?;
    let mut p = Parser { tokens, pos: 0, depth: 0 };
    let value = p.testlist()?;
    while p.peek() == Some(&Tok::Newline) {
        p.pos += 1;
    }
    if p.pos != p.tokens.len() {
        return Err(LiteralError::NotLiteral);
    }
    value.eval()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Num),
    Str { bytes: bool, fstring: bool, value: Vec<u32> },
    Name(String),
    Op(&'static str),
    Newline,
}

#[derive(Debug, Clone, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
    Imag(f64),
}

fn tokenize(src: &str) -> Option<Vec<Tok>> {
    let s: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let mut nesting = 0usize;
    let mut at_line_start = true;
    while i < s.len() {
        let c = s[i];
        if at_line_start && nesting == 0 {
            // Indentation of the first logical line is an error; blank lines are skipped.
            let mut j = i;
            while j < s.len() && matches!(s[j], ' ' | '\t' | '\u{c}') {
                j += 1;
            }
            // Spaces at the very end without a newline are an indented empty line: an error.
            if j >= s.len() && s[i..j].iter().any(|c| *c != '\u{c}') {
                return None;
            }
            let blank = j >= s.len() || matches!(s[j], '\n' | '\r' | '#');
            if !blank && j > i && out.is_empty() && s[i..j].iter().any(|c| *c != '\u{c}') {
                return None;
            }
            if !blank && !out.is_empty() && j > i {
                return None;
            }
            i = j;
            at_line_start = false;
            continue;
        }
        match c {
            ' ' | '\t' | '\u{c}' => i += 1,
            '#' => {
                while i < s.len() && s[i] != '\n' && s[i] != '\r' {
                    i += 1;
                }
            }
            '\\' if matches!(s.get(i + 1), Some('\n' | '\r')) => {
                i += 2;
                if s[i - 1] == '\r' && s.get(i) == Some(&'\n') {
                    i += 1;
                }
            }
            '\n' | '\r' => {
                i += 1;
                if nesting == 0 {
                    if !out.is_empty() && out.last() != Some(&Tok::Newline) {
                        out.push(Tok::Newline);
                    }
                    at_line_start = true;
                }
            }
            '(' | '[' | '{' => {
                nesting += 1;
                out.push(Tok::Op(match c {
                    '(' => "(",
                    '[' => "[",
                    _ => "{",
                }));
                i += 1;
            }
            ')' | ']' | '}' => {
                nesting = nesting.checked_sub(1)?;
                out.push(Tok::Op(match c {
                    ')' => ")",
                    ']' => "]",
                    _ => "}",
                }));
                i += 1;
            }
            ',' => {
                out.push(Tok::Op(","));
                i += 1;
            }
            ':' => {
                out.push(Tok::Op(":"));
                i += 1;
            }
            '+' | '-' => {
                out.push(Tok::Op(if c == '+' { "+" } else { "-" }));
                i += 1;
            }
            '.' if s.get(i + 1) == Some(&'.') && s.get(i + 2) == Some(&'.') => {
                out.push(Tok::Op("..."));
                i += 3;
            }
            '.' if s.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                let (num, end) = number(&s, i)?;
                out.push(Tok::Num(num));
                i = end;
            }
            c if c.is_ascii_digit() => {
                let (num, end) = number(&s, i)?;
                out.push(Tok::Num(num));
                i = end;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                    i += 1;
                }
                let word: String = s[start..i].iter().collect();
                if matches!(s.get(i), Some('\'' | '"')) && let Some((bytes, raw, fstring)) = string_prefix(&word) {
                    let (value, end) = string(&s, i, bytes, raw)?;
                    out.push(Tok::Str { bytes, fstring, value });
                    i = end;
                    continue;
                }
                out.push(Tok::Name(word));
            }
            '\'' | '"' => {
                let (value, end) = string(&s, i, false, false)?;
                out.push(Tok::Str { bytes: false, fstring: false, value });
                i = end;
            }
            // Operators that make valid but non-literal expressions, and everything else.
            _ => return None,
        }
    }
    Some(out)
}

fn string_prefix(word: &str) -> Option<(bool, bool, bool)> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "r" => Some((false, true, false)),
        "u" => Some((false, false, false)),
        "b" => Some((true, false, false)),
        "br" | "rb" => Some((true, true, false)),
        "f" => Some((false, false, true)),
        "fr" | "rf" => Some((false, true, true)),
        _ => None,
    }
}

/// A string literal starting at the quote `s[i]`: its code points and where it ends.
fn string(s: &[char], i: usize, bytes: bool, raw: bool) -> Option<(Vec<u32>, usize)> {
    let q = s[i];
    let triple = s.get(i + 1) == Some(&q) && s.get(i + 2) == Some(&q);
    let mut k = if triple { i + 3 } else { i + 1 };
    let mut out: Vec<u32> = Vec::new();
    loop {
        let c = *s.get(k)?;
        if c == q {
            if !triple {
                return Some((out, k + 1));
            }
            if s.get(k + 1) == Some(&q) && s.get(k + 2) == Some(&q) {
                return Some((out, k + 3));
            }
        }
        if !triple && (c == '\n' || c == '\r') {
            return None;
        }
        if bytes && !c.is_ascii() {
            return None;
        }
        if c == '\\' {
            let e = *s.get(k + 1)?;
            if raw {
                out.push('\\' as u32);
                out.push(e as u32);
                k += 2;
                continue;
            }
            k += 2;
            match e {
                '\n' => {}
                '\r' => {
                    if s.get(k) == Some(&'\n') {
                        k += 1;
                    }
                }
                '\\' | '\'' | '"' => out.push(e as u32),
                'a' => out.push(7),
                'b' => out.push(8),
                'f' => out.push(12),
                'n' => out.push(10),
                'r' => out.push(13),
                't' => out.push(9),
                'v' => out.push(11),
                '0'..='7' => {
                    let mut v = e.to_digit(8)?;
                    for _ in 0..2 {
                        match s.get(k).and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                v = v * 8 + d;
                                k += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(v);
                }
                'x' => {
                    let v = hex(s, k, 2)?;
                    k += 2;
                    out.push(v);
                }
                'u' if !bytes => {
                    let v = hex(s, k, 4)?;
                    k += 4;
                    out.push(v);
                }
                'U' if !bytes => {
                    let v = hex(s, k, 8)?;
                    if v > 0x10FFFF {
                        return None;
                    }
                    k += 8;
                    out.push(v);
                }
                // `\N{...}` needs the Unicode name table; treat it as not a literal.
                'N' if !bytes => return None,
                other => {
                    out.push('\\' as u32);
                    out.push(other as u32);
                }
            }
            continue;
        }
        out.push(c as u32);
        k += 1;
    }
}

fn hex(s: &[char], k: usize, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for j in 0..n {
        v = v * 16 + s.get(k + j)?.to_digit(16)?;
    }
    Some(v)
}

/// A number token at `s[i]`, following Python's lexical rules.
fn number(s: &[char], i: usize) -> Option<(Num, usize)> {
    let at = |k: usize| s.get(k).copied();
    let mut k = i;
    // Digits with single underscores between them.
    let digit_run = |k: &mut usize, radix: u32| -> Option<String> {
        let mut out = String::new();
        loop {
            match at(*k) {
                Some(c) if c.is_digit(radix) => {
                    out.push(c);
                    *k += 1;
                }
                Some('_') if at(*k + 1).is_some_and(|c| c.is_digit(radix)) && !out.is_empty() => *k += 1,
                _ => break,
            }
        }
        (!out.is_empty()).then_some(out)
    };
    let finish = |num: Num, k: usize| -> Option<(Num, usize)> {
        // A number glued to a name character is a syntax error (`1abc`).
        if at(k).is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        Some((num, k))
    };
    if at(k) == Some('0') && matches!(at(k + 1), Some('x' | 'X' | 'o' | 'O' | 'b' | 'B')) {
        let radix = match at(k + 1) {
            Some('x' | 'X') => 16,
            Some('o' | 'O') => 8,
            _ => 2,
        };
        k += 2;
        if at(k) == Some('_') {
            k += 1;
        }
        let digits = digit_run(&mut k, radix)?;
        let v = i128::from_str_radix(&digits, radix).ok()?;
        return finish(Num::Int(v), k);
    }
    let int_part = if at(k) == Some('.') { String::new() } else { digit_run(&mut k, 10)? };
    let mut is_float = false;
    let mut text = int_part.clone();
    if at(k) == Some('.') {
        is_float = true;
        k += 1;
        text.push('.');
        if at(k).is_some_and(|c| c.is_ascii_digit()) {
            text.push_str(&digit_run(&mut k, 10)?);
        } else {
            text.push('0');
        }
        if int_part.is_empty() {
            text.insert(0, '0');
        }
    }
    if matches!(at(k), Some('e' | 'E')) {
        let mut j = k + 1;
        let mut exp = String::from("e");
        if matches!(at(j), Some('+' | '-')) {
            exp.push(at(j)?);
            j += 1;
        }
        if at(j).is_some_and(|c| c.is_ascii_digit()) {
            exp.push_str(&digit_run(&mut j, 10)?);
            k = j;
            is_float = true;
            text.push_str(&exp);
        } else {
            return None;
        }
    }
    if matches!(at(k), Some('j' | 'J')) {
        let v: f64 = text.parse().ok()?;
        return finish(Num::Imag(v), k + 1);
    }
    if is_float {
        return finish(Num::Float(text.parse().ok()?), k);
    }
    // Decimal integers may not have leading zeros (`007`), except zero itself (`00`).
    if int_part.len() > 1 && int_part.starts_with('0') && int_part.chars().any(|c| c != '0') {
        return None;
    }
    let v = match int_part.parse::<i128>() {
        Ok(v) => Num::Int(v),
        Err(_) => Num::Float(int_part.parse().ok()?),
    };
    finish(v, k)
}

/// The expression tree `literal_eval` walks.
#[derive(Debug)]
enum Node {
    Const(Py),
    Num(Num),
    Str { bytes: bool, value: Vec<u32> },
    FString,
    Name(String),
    Tuple(Vec<Node>),
    List(Vec<Node>),
    Set(Vec<Node>),
    Dict(Vec<(Node, Node)>),
    EmptySetCall,
    Unary(bool, Box<Node>),
    Binary(bool, Box<Node>, Box<Node>),
    /// Valid syntax that is never a literal (calls, starred items, ...).
    Other,
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn expect(&mut self, op: &str) -> Result<(), LiteralError> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(LiteralError::NotLiteral)
        }
    }

    fn starts_expr(&self) -> bool {
        match self.peek() {
            Some(Tok::Op(o)) => matches!(*o, "(" | "[" | "{" | "+" | "-" | "..."),
            Some(Tok::Newline) | None => false,
            Some(_) => true,
        }
    }

    /// `a, b, c` (a tuple when there is a comma).
    fn testlist(&mut self) -> Result<Node, LiteralError> {
        let first = self.expr()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.is_op(",") {
            self.pos += 1;
            if !self.starts_expr() {
                break;
            }
            items.push(self.expr()?);
        }
        Ok(Node::Tuple(items))
    }

    /// Additive expressions (`1 + 2j`). Only `number ± imaginary` is a literal, so a longer
    /// chain is rejected at once (it also keeps the tree shallow).
    fn expr(&mut self) -> Result<Node, LiteralError> {
        let left = self.unary(0)?;
        if !(self.is_op("+") || self.is_op("-")) {
            return Ok(left);
        }
        let add = self.is_op("+");
        self.pos += 1;
        let right = self.unary(0)?;
        if self.is_op("+") || self.is_op("-") {
            return Err(LiteralError::NotLiteral);
        }
        Ok(Node::Binary(add, Box::new(left), Box::new(right)))
    }

    /// Signs: one is a literal (`-5`), two or more never are (`--5`).
    fn unary(&mut self, signs: usize) -> Result<Node, LiteralError> {
        if self.is_op("+") || self.is_op("-") {
            if signs >= 2 {
                return Err(LiteralError::NotLiteral);
            }
            let plus = self.is_op("+");
            self.pos += 1;
            let operand = self.unary(signs + 1)?;
            return Ok(Node::Unary(plus, Box::new(operand)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Node, LiteralError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(LiteralError::NotLiteral);
        }
        let node = self.atom_inner();
        self.depth -= 1;
        let mut node = node?;
        // Calls and subscripts: only `set()` is a literal.
        while self.is_op("(") || self.is_op("[") {
            let is_call = self.is_op("(");
            let close = if is_call { ")" } else { "]" };
            self.pos += 1;
            let empty = self.is_op(close);
            self.skip_balanced(close)?;
            node = match node {
                Node::Name(n) if is_call && empty && n == "set" => Node::EmptySetCall,
                _ => Node::Other,
            };
        }
        Ok(node)
    }

    fn skip_balanced(&mut self, close: &str) -> Result<(), LiteralError> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(LiteralError::NotLiteral),
                Some(Tok::Op(o)) if matches!(*o, "(" | "[" | "{") => depth += 1,
                Some(Tok::Op(o)) if matches!(*o, ")" | "]" | "}") => {
                    if depth == 0 {
                        if *o != close {
                            return Err(LiteralError::NotLiteral);
                        }
                        self.pos += 1;
                        return Ok(());
                    }
                    depth -= 1;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn atom_inner(&mut self) -> Result<Node, LiteralError> {
        let tok = self.peek().cloned().ok_or(LiteralError::NotLiteral)?;
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Node::Num(n)),
            Tok::Str { bytes, fstring, value } => {
                let (mut bytes_all, mut fstring_any, mut value) = (bytes, fstring, value);
                while let Some(Tok::Str { bytes, fstring, value: more }) = self.peek().cloned() {
                    if bytes != bytes_all {
                        return Err(LiteralError::NotLiteral);
                    }
                    bytes_all = bytes;
                    fstring_any |= fstring;
                    value.extend(more);
                    self.pos += 1;
                }
                if fstring_any { Ok(Node::FString) } else { Ok(Node::Str { bytes: bytes_all, value }) }
            }
            Tok::Name(n) => Ok(match n.as_str() {
                "True" => Node::Const(Py::Bool(true)),
                "False" => Node::Const(Py::Bool(false)),
                "None" => Node::Const(Py::None),
                _ => Node::Name(n),
            }),
            Tok::Op("...") => Ok(Node::Const(Py::Ellipsis)),
            Tok::Op("(") => {
                if self.is_op(")") {
                    self.pos += 1;
                    return Ok(Node::Tuple(Vec::new()));
                }
                let inner = self.testlist()?;
                self.expect(")")?;
                Ok(inner)
            }
            Tok::Op("[") => {
                let items = self.items("]")?;
                Ok(Node::List(items))
            }
            Tok::Op("{") => {
                if self.is_op("}") {
                    self.pos += 1;
                    return Ok(Node::Dict(Vec::new()));
                }
                let first = self.expr()?;
                if self.is_op(":") {
                    self.pos += 1;
                    let value = self.expr()?;
                    let mut pairs = vec![(first, value)];
                    while self.is_op(",") {
                        self.pos += 1;
                        if self.is_op("}") {
                            break;
                        }
                        let k = self.expr()?;
                        self.expect(":")?;
                        let v = self.expr()?;
                        pairs.push((k, v));
                    }
                    self.expect("}")?;
                    return Ok(Node::Dict(pairs));
                }
                let mut items = vec![first];
                while self.is_op(",") {
                    self.pos += 1;
                    if self.is_op("}") {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect("}")?;
                Ok(Node::Set(items))
            }
            _ => Err(LiteralError::NotLiteral),
        }
    }

    fn items(&mut self, close: &str) -> Result<Vec<Node>, LiteralError> {
        let mut items = Vec::new();
        loop {
            if self.is_op(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.expr()?);
            if self.is_op(",") {
                self.pos += 1;
            } else {
                self.expect(close)?;
                return Ok(items);
            }
        }
    }
}

impl Node {
    fn eval(self) -> Result<Py, LiteralError> {
        match self {
            Node::Const(v) => Ok(v),
            Node::Num(n) => Ok(num_value(n)),
            Node::Str { bytes: true, value } => Ok(Py::Bytes(value.into_iter().map(|c| c as u8).collect())),
            Node::Str { bytes: false, value } => {
                Ok(Py::Str(value.into_iter().map(|c| char::from_u32(c).unwrap_or('\u{fffd}')).collect()))
            }
            Node::Tuple(items) => Ok(Py::Tuple(items.into_iter().map(Node::eval).collect::<Result<_, _>>()?)),
            Node::List(items) => Ok(Py::List(items.into_iter().map(Node::eval).collect::<Result<_, _>>()?)),
            Node::Set(items) => {
                let mut out: Vec<Py> = Vec::new();
                for item in items {
                    let v = item.eval()?;
                    if !v.hashable() {
                        return Err(LiteralError::Unhashable);
                    }
                    if !out.iter().any(|x| x.py_eq(&v)) {
                        out.push(v);
                    }
                }
                Ok(Py::Set(out))
            }
            Node::EmptySetCall => Ok(Py::Set(Vec::new())),
            Node::Dict(pairs) => {
                let mut out = Vec::new();
                for (k, v) in pairs {
                    let (k, v) = (k.eval()?, v.eval()?);
                    if !k.hashable() {
                        return Err(LiteralError::Unhashable);
                    }
                    Py::dict_set(&mut out, k, v);
                }
                Ok(Py::Dict(out))
            }
            Node::Binary(add, left, right) => {
                let left = signed_num(*left)?;
                let right = match *right {
                    Node::Num(n) => num_value(n),
                    _ => return Err(LiteralError::NotLiteral),
                };
                match (left, right) {
                    (l @ (Py::Int(_) | Py::Float(_)), Py::Complex(re, im)) => {
                        let l = match l {
                            Py::Int(i) => i as f64,
                            Py::Float(f) => f,
                            _ => unreachable!(),
                        };
                        Ok(if add { Py::Complex(l + re, im) } else { Py::Complex(l - re, -im) })
                    }
                    _ => Err(LiteralError::NotLiteral),
                }
            }
            other => signed_num(other),
        }
    }
}

fn num_value(n: Num) -> Py {
    match n {
        Num::Int(i) => Py::Int(i),
        Num::Float(f) => Py::Float(f),
        Num::Imag(f) => Py::Complex(0.0, f),
    }
}

/// `_convert_signed_num`: a number, optionally with one unary sign.
fn signed_num(node: Node) -> Result<Py, LiteralError> {
    match node {
        Node::Unary(plus, operand) => match *operand {
            Node::Num(n) => Ok(match (num_value(n), plus) {
                (v, true) => v,
                (Py::Int(i), false) => Py::Int(-i),
                (Py::Float(f), false) => Py::Float(-f),
                (Py::Complex(re, im), false) => Py::Complex(-re, -im),
                (v, false) => v,
            }),
            _ => Err(LiteralError::NotLiteral),
        },
        Node::Num(n) => Ok(num_value(n)),
        _ => Err(LiteralError::NotLiteral),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> String {
        match literal_eval(text) {
            Ok(v) => v.py_repr(),
            Err(LiteralError::NotLiteral) => "ERR".into(),
            Err(LiteralError::Unhashable) => "TypeError".into(),
        }
    }

    #[test]
    fn matches_python_literal_eval() {
        let cases = [
            ("\n5", "5"),
            (" 5", "5"),
            ("5 # c", "5"),
            ("1,", "(1,)"),
            ("(1)", "1"),
            ("()", "()"),
            ("1, 2", "(1, 2)"),
            ("-5", "-5"),
            ("--5", "ERR"),
            ("-(5)", "-5"),
            ("+True", "ERR"),
            ("1+2j", "(1+2j)"),
            ("007", "ERR"),
            ("0_0", "0"),
            ("1__0", "ERR"),
            ("0x_1A", "26"),
            ("1.", "1.0"),
            (".5", "0.5"),
            ("1_0.5", "10.5"),
            ("'a' 'b'", "'ab'"),
            ("b'x'", "b'x'"),
            ("'\\q'", "'\\\\q'"),
            ("'\\x4'", "ERR"),
            ("set()", "set()"),
            ("{1:2, 1.0:3}", "{1: 3}"),
            ("...", "Ellipsis"),
            ("{[1]}", "TypeError"),
            ("[1,\n2]", "[1, 2]"),
            ("u'x'", "'x'"),
            ("f'x'", "ERR"),
            ("1if 1 else 2", "ERR"),
            ("1abc", "ERR"),
            ("0b101", "5"),
            ("0O17", "15"),
            ("1e-5", "1e-05"),
            ("[1 ,2 ,]", "[1, 2]"),
            ("{1}", "{1}"),
            ("'''a\nb'''", "'a\\nb'"),
            ("'a\nb'", "ERR"),
            ("  \n  5", "ERR"),
            ("5\n ", "ERR"),
            ("5\n \n", "5"),
            ("5\n #c", "5"),
            ("[1,\n ]", "[1]"),
            ("None", "None"),
            ("none", "ERR"),
            ("0x1A", "26"),
            ("1, 2, 3", "(1, 2, 3)"),
            ("{1, 2}", "{1, 2}"),
            ("hello world", "ERR"),
            ("", "ERR"),
            ("1 + 2j + 3", "ERR"),
            ("- - - 5", "ERR"),
        ];
        for (text, want) in cases {
            assert_eq!(show(text), want, "{text:?}");
        }
        let long_chain = format!("{}5", "-".repeat(100_000));
        assert_eq!(show(&long_chain), "ERR");
        let long_sum = "1+".repeat(100_000) + "1";
        assert_eq!(show(&long_sum), "ERR");
        let deep = "[".repeat(100_000);
        assert_eq!(show(&deep), "ERR");
    }
}
