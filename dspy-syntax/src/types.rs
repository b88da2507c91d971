//! Type names to types: DSPy's (Python's) type vocabulary, resolved once for both the runtime's
//! `FieldType` and the macro's generated code.

use crate::grammar::{Const, SyntaxError, TypeExpr};

/// A resolved type expression in DSPy's vocabulary. `N` is what a user type name (`Verdict`,
/// `models.Verdict`) resolves to: the runtime's own type, or the name itself for the macro.
#[derive(Clone, Debug, PartialEq)]
pub enum PyType<N> {
    /// `str`
    Str,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `Any`
    Any,
    /// `NoneType`, only meaningful inside a union.
    NoneType,
    /// `Image`
    Image,
    /// `Audio`
    Audio,
    /// `list[T]` (also `List`, `set`, `Set`, `frozenset`, `Sequence`, `tuple[T, ...]`).
    List(Box<PyType<N>>),
    /// `dict[K, V]`; keys are always `str`.
    Dict(Box<PyType<N>>, Box<PyType<N>>),
    /// `tuple[A, B, ...]`
    Tuple(Vec<PyType<N>>),
    /// `Union[A, B]`; `Optional[T]` is `Union[T, NoneType]`.
    Union(Vec<PyType<N>>),
    /// `Literal['a', 'b']`
    Literal(Vec<Const>),
    /// A user type.
    Named(N),
}

/// The name of a resolved user type, for messages (`dictionary keys must be str, found ...`).
pub trait TypeName {
    /// The name as DSPy prints it.
    fn type_name(&self) -> String;
}

impl TypeName for String {
    fn type_name(&self) -> String {
        self.clone()
    }
}

impl<N: PartialEq + TypeName> PyType<N> {
    /// Resolves a parsed type expression. `named` is asked for every name that is not built in,
    /// with the position of the name; it returns the user type or an error (an unknown name).
    /// `position` is where errors without a position of their own point (the field's name).
    pub fn resolve(
        expr: &TypeExpr,
        position: usize,
        named: &mut dyn FnMut(&str, usize) -> Result<N, SyntaxError>,
    ) -> Result<Self, SyntaxError> {
        let bad = |position: usize, message: String| SyntaxError { position, message };
        match expr {
            TypeExpr::Const(Const::None) => Ok(PyType::NoneType),
            TypeExpr::Union(members) => Ok(Self::union_of(Self::resolve_all(members, position, named)?)),
            TypeExpr::Const(_) => Err(bad(position, "a constant is only allowed inside `Literal[...]`".into())),
            TypeExpr::Name { name, args, position: at } => {
                let at = *at;
                let base = name.rsplit('.').next().unwrap_or(name);
                let arity = |n: usize| {
                    if args.len() == n {
                        Ok(())
                    } else {
                        Err(bad(at, format!("`{name}` takes {n} type argument(s), found {}", args.len())))
                    }
                };
                let no_args = |t: Self| {
                    if args.is_empty() { Ok(t) } else { Err(bad(at, format!("`{name}` takes no type arguments"))) }
                };
                let arg = |i: usize, named: &mut dyn FnMut(&str, usize) -> Result<N, SyntaxError>| {
                    Self::resolve(&args[i], position, named)
                };
                match base {
                    "str" => no_args(PyType::Str),
                    "int" => no_args(PyType::Int),
                    "float" => no_args(PyType::Float),
                    "bool" => no_args(PyType::Bool),
                    "Any" => no_args(PyType::Any),
                    "NoneType" => no_args(PyType::NoneType),
                    "Image" => no_args(PyType::Image),
                    "Audio" => no_args(PyType::Audio),
                    "list" | "List" | "set" | "Set" | "frozenset" | "Sequence" => {
                        if args.is_empty() {
                            return Ok(PyType::List(Box::new(PyType::Any)));
                        }
                        arity(1)?;
                        Ok(PyType::List(Box::new(arg(0, named)?)))
                    }
                    "dict" | "Dict" | "Mapping" => {
                        if args.is_empty() {
                            return Ok(PyType::Dict(Box::new(PyType::Str), Box::new(PyType::Any)));
                        }
                        arity(2)?;
                        let key = arg(0, named)?;
                        if key != PyType::Str {
                            return Err(bad(at, format!("dictionary keys must be `str`, found `{}`", key.name())));
                        }
                        Ok(PyType::Dict(Box::new(key), Box::new(arg(1, named)?)))
                    }
                    "tuple" | "Tuple" => {
                        if args.len() == 2 && matches!(&args[1], TypeExpr::Name { name, .. } if name == "Ellipsis") {
                            return Ok(PyType::List(Box::new(arg(0, named)?)));
                        }
                        Ok(PyType::Tuple(Self::resolve_all(args, position, named)?))
                    }
                    "Optional" => {
                        arity(1)?;
                        Ok(Self::optional(arg(0, named)?))
                    }
                    "Union" => {
                        let members = Self::resolve_all(args, position, named)?;
                        if members.is_empty() {
                            return Err(bad(at, "`Union` needs type arguments".into()));
                        }
                        Ok(Self::union_of(members))
                    }
                    "Literal" => {
                        if args.is_empty() {
                            return Err(bad(at, "`Literal` needs at least one value".into()));
                        }
                        let values = args
                            .iter()
                            .map(|a| match a {
                                TypeExpr::Const(c) => Ok(c.clone()),
                                _ => Err(bad(at, "`Literal` values must be constants".into())),
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(PyType::Literal(values))
                    }
                    _ => no_args(PyType::Named(named(name, at)?)),
                }
            }
        }
    }

    fn resolve_all(
        exprs: &[TypeExpr],
        position: usize,
        named: &mut dyn FnMut(&str, usize) -> Result<N, SyntaxError>,
    ) -> Result<Vec<Self>, SyntaxError> {
        exprs.iter().map(|e| Self::resolve(e, position, named)).collect()
    }

    /// `Optional[inner]`: `Union[inner, NoneType]`, flattening a union.
    pub fn optional(inner: Self) -> Self {
        match inner {
            PyType::Union(mut members) => {
                if !members.contains(&PyType::NoneType) {
                    members.push(PyType::NoneType);
                }
                PyType::Union(members)
            }
            inner => PyType::Union(vec![inner, PyType::NoneType]),
        }
    }

    /// `X | None` and `Optional[X]` are the same union; a single member is just that member.
    fn union_of(mut members: Vec<Self>) -> Self {
        members.dedup();
        if members.len() == 1 { members.pop().expect("one member") } else { PyType::Union(members) }
    }

    /// The name DSPy prints (`list[str]`, `Union[float, NoneType]`, `Literal['a', 'b']`).
    pub fn name(&self) -> String {
        let join = |ts: &[Self]| ts.iter().map(Self::name).collect::<Vec<_>>().join(", ");
        match self {
            PyType::Str => "str".into(),
            PyType::Int => "int".into(),
            PyType::Float => "float".into(),
            PyType::Bool => "bool".into(),
            PyType::Any => "Any".into(),
            PyType::NoneType => "NoneType".into(),
            PyType::Image => "Image".into(),
            PyType::Audio => "Audio".into(),
            PyType::List(t) => format!("list[{}]", t.name()),
            PyType::Dict(k, v) => format!("dict[{}, {}]", k.name(), v.name()),
            PyType::Tuple(ts) => format!("tuple[{}]", join(ts)),
            PyType::Union(ts) => format!("Union[{}]", join(ts)),
            PyType::Literal(values) => {
                let values: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Const::Str(s) => literal_quote(s),
                        Const::Int(i) => i.to_string(),
                        Const::Float(f) => py_float(*f),
                        Const::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                        Const::None => "None".into(),
                    })
                    .collect();
                format!("Literal[{}]", values.join(", "))
            }
            PyType::Named(n) => n.type_name(),
        }
    }
}

/// How Python's `repr` quotes a string inside `Literal[...]`: single quotes unless the string
/// contains one and no double quote.
pub fn literal_quote(s: &str) -> String {
    let (single, double) = (s.contains('\''), s.contains('"'));
    match (single, double) {
        (true, false) => format!("\"{s}\""),
        (false, true) => format!("'{s}'"),
        (true, true) => format!("'{}'", s.replace('\'', "\\'")),
        (false, false) => format!("'{s}'"),
    }
}

/// A float as Python writes it in common cases (`1.0`, `0.5`, `inf`).
fn py_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_type;

    fn resolve(src: &str) -> Result<PyType<String>, SyntaxError> {
        PyType::resolve(&parse_type(src).unwrap(), 0, &mut |name, _| Ok(name.to_string()))
    }

    #[test]
    fn names_and_defaults() {
        for (src, want) in [
            ("list", "list[Any]"),
            ("dict", "dict[str, Any]"),
            ("Optional[float]", "Union[float, NoneType]"),
            ("float | None", "Union[float, NoneType]"),
            ("Optional[int | None]", "Union[int, NoneType]"),
            ("tuple[int, str]", "tuple[int, str]"),
            ("Literal['a', \"it's\", 1, 2.0, True, None]", "Literal['a', \"it's\", 1, 2.0, True, None]"),
            ("models.Verdict", "models.Verdict"),
        ] {
            assert_eq!(resolve(src).unwrap().name(), want, "{src}");
        }
    }

    #[test]
    fn errors_point_at_names() {
        let e = resolve("list[int, str]").unwrap_err();
        assert_eq!((e.position, e.message.as_str()), (0, "`list` takes 1 type argument(s), found 2"));
        let e = resolve("dict[int, str]").unwrap_err();
        assert_eq!(e.message, "dictionary keys must be `str`, found `int`");
        let e = resolve("list[str[int]]").unwrap_err();
        assert_eq!((e.position, e.message.as_str()), (5, "`str` takes no type arguments"));
        let e = PyType::<String>::resolve(&parse_type("Foo").unwrap(), 0, &mut |name, at| {
            Err(SyntaxError { position: at, message: format!("unknown type `{name}`") })
        })
        .unwrap_err();
        assert_eq!(e.message, "unknown type `Foo`");
    }
}
