//! The grammar of string signatures such as `"context: list[str], question -> answer: int"`.
//!
//! DSPy parses each side as the parameter list of a Python function (`def f(<side>): pass`), so
//! names are identifiers and types are Python type expressions: names, dotted names,
//! subscripts (`list[str]`, `dict[str, int]`, `Literal['a', 'b']`), `X | None` and constants
//! inside `Literal`.

use std::fmt;

/// A parsed type expression, before names are resolved to types.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    /// A (possibly dotted) name with optional subscript arguments: `str`, `list[int]`, `dspy.Image`.
    Name {
        /// The name as written, dots included.
        name: String,
        /// The subscript arguments; empty when there is no subscript.
        args: Vec<TypeExpr>,
        /// Where the name starts (in characters from the start of the signature).
        position: usize,
    },
    /// `A | B | ...`
    Union(Vec<TypeExpr>),
    /// A constant: a `Literal[...]` value, or `None` (which as a type means `NoneType`).
    Const(Const),
}

/// A constant of a type expression, as written: a `Literal[...]` value or `None`.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    /// `'a'`
    Str(String),
    /// `1`
    Int(i64),
    /// `1.5`
    Float(f64),
    /// `True`, `False`
    Bool(bool),
    /// `None`
    None,
}

/// One declared field: its name, optional type and position.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDecl {
    /// The field name.
    pub name: String,
    /// The declared type, `None` when omitted (DSPy then uses `str`).
    pub ty: Option<TypeExpr>,
    /// Where the name starts, in characters.
    pub position: usize,
}

/// Both sides of a parsed string signature.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureDecl {
    /// Fields left of `->`.
    pub inputs: Vec<FieldDecl>,
    /// Fields right of `->`.
    pub outputs: Vec<FieldDecl>,
}

/// A syntax error with the character position it was found at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Offset in characters from the start of the signature string.
    pub position: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.position)
    }
}

/// Parses a string signature into its field declarations.
pub fn parse_signature(source: &str) -> Result<SignatureDecl, SyntaxError> {
    let chars: Vec<char> = source.chars().collect();
    let arrows: Vec<usize> = (0..chars.len().saturating_sub(1))
        .filter(|&i| chars[i] == '-' && chars[i + 1] == '>')
        .collect();
    match arrows.len() {
        0 => {
            return Err(SyntaxError {
                position: chars.len(),
                message: "a signature needs `->` between its inputs and outputs".into(),
            });
        }
        1 => {}
        _ => {
            return Err(SyntaxError {
                position: arrows[1],
                message: "a signature must contain exactly one `->`".into(),
            });
        }
    }
    let arrow = arrows[0];
    let inputs = Parser { chars: &chars, pos: 0, end: arrow }.field_list()?;
    let outputs = Parser { chars: &chars, pos: arrow + 2, end: chars.len() }.field_list()?;
    if outputs.is_empty() {
        return Err(SyntaxError { position: chars.len(), message: "a signature needs at least one output field".into() });
    }
    let mut seen: Vec<&FieldDecl> = Vec::new();
    for field in inputs.iter().chain(outputs.iter()) {
        if seen.iter().any(|f| f.name == field.name) {
            return Err(SyntaxError { position: field.position, message: format!("duplicate field name `{}`", field.name) });
        }
        seen.push(field);
    }
    Ok(SignatureDecl { inputs, outputs })
}

impl TypeExpr {
    /// Where the expression starts, when the parser recorded it (names and unions of names).
    pub fn position(&self) -> Option<usize> {
        match self {
            TypeExpr::Name { position, .. } => Some(*position),
            TypeExpr::Union(members) => members.first().and_then(TypeExpr::position),
            _ => None,
        }
    }
}

/// Parses a standalone type expression such as `dict[str, list[int]]`.
pub fn parse_type(source: &str) -> Result<TypeExpr, SyntaxError> {
    let chars: Vec<char> = source.chars().collect();
    let mut parser = Parser { chars: &chars, pos: 0, end: chars.len() };
    let ty = parser.type_expr()?;
    if parser.peek().is_some() {
        let found = parser.describe_here();
        return parser.err(format!("unexpected {found} after the type"));
    }
    Ok(ty)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    end: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError { position: self.pos, message: message.into() })
    }

    fn skip_ws(&mut self) {
        while self.pos < self.end && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        (self.pos < self.end).then(|| self.chars[self.pos])
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn describe_here(&mut self) -> String {
        match self.peek() {
            Some(c) => format!("`{c}`"),
            None => "the end of the field list".into(),
        }
    }

    fn field_list(&mut self) -> Result<Vec<FieldDecl>, SyntaxError> {
        let mut fields = Vec::new();
        if self.peek().is_none() {
            return Ok(fields);
        }
        loop {
            let position = self.pos;
            let name = self.ident().or_else(|e| {
                if e.message.contains("keyword") {
                    return Err(e);
                }
                let found = self.describe_here();
                self.err(format!("expected a field name, found {found}"))
            })?;
            let ty = if self.eat(':') { Some(self.type_expr()?) } else { None };
            fields.push(FieldDecl { name, ty, position });
            if self.eat(',') {
                if self.peek().is_none() {
                    break; // a trailing comma, as Python allows
                }
                continue;
            }
            if self.peek().is_none() {
                break;
            }
            let found = self.describe_here();
            return self.err(format!("expected `,`, `:` or `->` after a field, found {found}"));
        }
        Ok(fields)
    }

    fn ident(&mut self) -> Result<String, SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        if self.pos < self.end && (self.chars[self.pos].is_alphabetic() || self.chars[self.pos] == '_') {
            self.pos += 1;
            while self.pos < self.end && (self.chars[self.pos].is_alphanumeric() || self.chars[self.pos] == '_') {
                self.pos += 1;
            }
            let name: String = self.chars[start..self.pos].iter().collect();
            if is_python_keyword(&name) {
                self.pos = start;
                return self.err(format!("`{name}` is a Python keyword and cannot be a name here"));
            }
            Ok(name)
        } else {
            self.err("expected an identifier")
        }
    }

    fn type_expr(&mut self) -> Result<TypeExpr, SyntaxError> {
        let first = self.primary()?;
        if self.peek() != Some('|') {
            return Ok(first);
        }
        let mut members = vec![first];
        while self.eat('|') {
            members.push(self.primary()?);
        }
        Ok(TypeExpr::Union(members))
    }

    fn primary(&mut self) -> Result<TypeExpr, SyntaxError> {
        match self.peek() {
            Some('\'' | '"') => self.string(),
            Some(c) if c.is_ascii_digit() || c == '-' => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => {
                let position = self.pos;
                let mut name = self.ident_allow_constants()?;
                match name.as_str() {
                    "True" => return Ok(TypeExpr::Const(Const::Bool(true))),
                    "False" => return Ok(TypeExpr::Const(Const::Bool(false))),
                    "None" => return Ok(TypeExpr::Const(Const::None)),
                    _ => {}
                }
                while self.peek() == Some('.') {
                    self.pos += 1;
                    name.push('.');
                    name.push_str(&self.ident()?);
                }
                let mut args = Vec::new();
                if self.eat('[') {
                    if self.peek() == Some(']') {
                        return self.err(format!("`{name}[]` needs at least one type argument"));
                    }
                    loop {
                        args.push(self.type_expr()?);
                        if self.eat(',') {
                            if self.peek() == Some(']') {
                                self.pos += 1;
                                break;
                            }
                            continue;
                        }
                        if self.eat(']') {
                            break;
                        }
                        let found = self.describe_here();
                        return self.err(format!("expected `,` or `]` in the arguments of `{name}`, found {found}"));
                    }
                }
                Ok(TypeExpr::Name { name, args, position })
            }
            _ => {
                let found = self.describe_here();
                self.err(format!("expected a type, found {found}"))
            }
        }
    }

    fn ident_allow_constants(&mut self) -> Result<String, SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.end && (self.chars[self.pos].is_alphanumeric() || self.chars[self.pos] == '_') {
            self.pos += 1;
        }
        if start == self.pos {
            return self.err("expected a type name");
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn string(&mut self) -> Result<TypeExpr, SyntaxError> {
        self.skip_ws();
        let quote = self.chars[self.pos];
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        while self.pos < self.end {
            let c = self.chars[self.pos];
            self.pos += 1;
            if c == quote {
                return Ok(TypeExpr::Const(Const::Str(value)));
            }
            if c == '\\' && self.pos < self.end {
                let e = self.chars[self.pos];
                self.pos += 1;
                value.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            } else {
                value.push(c);
            }
        }
        self.pos = start;
        self.err("unterminated string constant")
    }

    fn number(&mut self) -> Result<TypeExpr, SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        if self.chars[self.pos] == '-' {
            self.pos += 1;
        }
        while self.pos < self.end && (self.chars[self.pos].is_ascii_alphanumeric() || matches!(self.chars[self.pos], '.' | '_')) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().filter(|c| **c != '_').collect();
        if let Ok(i) = text.parse::<i64>() {
            return Ok(TypeExpr::Const(Const::Int(i)));
        }
        if let Ok(f) = text.parse::<f64>() {
            return Ok(TypeExpr::Const(Const::Float(f)));
        }
        self.pos = start;
        self.err(format!("`{text}` is not a valid number"))
    }
}

fn is_python_keyword(name: &str) -> bool {
    matches!(
        name,
        "False" | "None" | "True" | "and" | "as" | "assert" | "async" | "await" | "break" | "class" | "continue"
            | "def" | "del" | "elif" | "else" | "except" | "finally" | "for" | "from" | "global" | "if" | "import"
            | "in" | "is" | "lambda" | "nonlocal" | "not" | "or" | "pass" | "raise" | "return" | "try" | "while"
            | "with" | "yield"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str, args: Vec<TypeExpr>) -> TypeExpr {
        TypeExpr::Name { name: n.into(), args, position: 0 }
    }

    fn strip_positions(t: TypeExpr) -> TypeExpr {
        match t {
            TypeExpr::Name { name, args, .. } => {
                TypeExpr::Name { name, args: args.into_iter().map(strip_positions).collect(), position: 0 }
            }
            TypeExpr::Union(m) => TypeExpr::Union(m.into_iter().map(strip_positions).collect()),
            other => other,
        }
    }

    #[test]
    fn parses_types_and_defaults() {
        let sig = parse_signature("context: list[str], question -> answer: dict[str, int]").unwrap();
        assert_eq!(sig.inputs.len(), 2);
        assert_eq!(sig.inputs[1].ty, None);
        assert_eq!(
            strip_positions(sig.outputs[0].ty.clone().unwrap()),
            name("dict", vec![name("str", vec![]), name("int", vec![])])
        );
    }

    #[test]
    fn parses_literals_and_unions() {
        let sig = parse_signature("q -> a: Literal['x', \"y's\", 3], b: float | None").unwrap();
        assert_eq!(
            strip_positions(sig.outputs[0].ty.clone().unwrap()),
            name("Literal", vec![TypeExpr::Const(Const::Str("x".into())), TypeExpr::Const(Const::Str("y's".into())), TypeExpr::Const(Const::Int(3))])
        );
        assert_eq!(
            strip_positions(sig.outputs[1].ty.clone().unwrap()),
            TypeExpr::Union(vec![name("float", vec![]), TypeExpr::Const(Const::None)])
        );
    }

    #[test]
    fn errors_name_positions() {
        assert_eq!(parse_signature("question answer").unwrap_err().position, 15);
        let e = parse_signature("a -> b -> c").unwrap_err();
        assert_eq!(e.position, 7);
        let e = parse_signature("a, a -> b").unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
        assert_eq!(e.position, 3);
        let e = parse_signature("a -> b: list[str").unwrap_err();
        assert!(e.message.contains("expected `,` or `]`"), "{e}");
        let e = parse_signature("a -> 9b").unwrap_err();
        assert!(e.message.contains("field name"), "{e}");
        assert!(parse_signature("a ->").unwrap_err().message.contains("output"));
        assert!(parse_signature("class -> a").unwrap_err().message.contains("keyword"));
    }
}
