//! The type of a signature field, as DSPy names it in prompts and as JSON schema describes it.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use dspy_syntax::{Const, PyType, SyntaxError, TypeExpr, TypeName, literal_quote};
use crate::error::SignatureError;
use crate::pyfmt;

/// The type of a signature field.
///
/// It is what the prompt calls the field (`list[str]`, `Union[float, NoneType]`, `Verdict`) and
/// what parsing validates against. Rust types map to it in the `Signature` derive; string
/// signatures build it from their type expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldType {
    /// `str`
    Str,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `Any` (free-form JSON)
    Any,
    /// `NoneType`, only meaningful inside a union.
    NoneType,
    /// `list[T]`
    List(Box<FieldType>),
    /// `dict[K, V]`
    Dict(Box<FieldType>, Box<FieldType>),
    /// `tuple[A, B, ...]`
    Tuple(Vec<FieldType>),
    /// `Union[A, B]`; `Optional[T]` is `Union[T, NoneType]`, as the reference renders it.
    Union(Vec<FieldType>),
    /// `Literal['a', 'b']`
    Literal(Vec<Value>),
    /// A named model or enum with its JSON schema (a pydantic model or `Enum` in DSPy).
    Named(Arc<NamedType>),
    /// `dspy.Image`, rendered as an image content part.
    Image,
    /// `dspy.Audio`, rendered as an audio content part.
    Audio,
}

/// A user-defined model or enum: its name and its pydantic-style JSON schema.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedType {
    /// The name shown in prompts.
    pub name: String,
    /// Its JSON schema, in pydantic's shape (`title`s, `$defs`).
    pub schema: Value,
}

impl NamedType {
    /// The enum's member values when this is an enum (`{"enum": [...]}` at the top of the schema).
    pub fn enum_values(&self) -> Option<&Vec<Value>> {
        match self.schema.get("enum") {
            Some(Value::Array(values)) if self.schema.get("properties").is_none() => Some(values),
            _ => None,
        }
    }
}

impl FieldType {
    /// `list[item]`.
    pub fn list(item: FieldType) -> Self {
        FieldType::List(Box::new(item))
    }

    /// `dict[str, value]`.
    pub fn dict(value: FieldType) -> Self {
        FieldType::Dict(Box::new(FieldType::Str), Box::new(value))
    }

    /// `Optional[inner]`, i.e. `Union[inner, NoneType]`.
    pub fn optional(inner: FieldType) -> Self {
        match inner {
            FieldType::Union(mut members) => {
                if !members.contains(&FieldType::NoneType) {
                    members.push(FieldType::NoneType);
                }
                FieldType::Union(members)
            }
            inner => FieldType::Union(vec![inner, FieldType::NoneType]),
        }
    }

    /// A named model or enum with a pydantic-style schema.
    pub fn named(name: impl Into<String>, schema: Value) -> Self {
        FieldType::Named(Arc::new(NamedType { name: name.into(), schema }))
    }

    /// Whether values of this type are plain text (no parsing, no type hint in prompts).
    pub fn is_str(&self) -> bool {
        matches!(self, FieldType::Str)
    }

    /// Whether `None` is an acceptable value (`Optional[...]`, `Any`).
    pub fn allows_none(&self) -> bool {
        match self {
            FieldType::NoneType | FieldType::Any => true,
            FieldType::Union(members) => members.iter().any(FieldType::allows_none),
            _ => false,
        }
    }

    /// The name the reference DSPy prints for this type (`get_annotation_name`).
    ///
    /// ```
    /// use dspy_core::FieldType;
    /// let t = FieldType::optional(FieldType::list(FieldType::Str));
    /// assert_eq!(t.name(), "Union[list[str], NoneType]");
    /// ```
    pub fn name(&self) -> String {
        match self {
            FieldType::Str => "str".into(),
            FieldType::Int => "int".into(),
            FieldType::Float => "float".into(),
            FieldType::Bool => "bool".into(),
            FieldType::Any => "Any".into(),
            FieldType::NoneType => "NoneType".into(),
            FieldType::Image => "Image".into(),
            FieldType::Audio => "Audio".into(),
            FieldType::List(t) => format!("list[{}]", t.name()),
            FieldType::Dict(k, v) => format!("dict[{}, {}]", k.name(), v.name()),
            FieldType::Tuple(items) => format!("tuple[{}]", join_names(items)),
            FieldType::Union(members) => format!("Union[{}]", join_names(members)),
            FieldType::Literal(values) => {
                let args: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => literal_quote(s),
                        other => pyfmt::py_str(other),
                    })
                    .collect();
                format!("Literal[{}]", args.join(", "))
            }
            FieldType::Named(n) => n.name.clone(),
        }
    }

    /// The JSON schema pydantic derives for this type (`TypeAdapter(t).json_schema()`).
    ///
    /// ```
    /// use dspy_core::FieldType;
    /// use serde_json::json;
    /// assert_eq!(
    ///     FieldType::dict(FieldType::Int).json_schema(),
    ///     json!({"additionalProperties": {"type": "integer"}, "type": "object"})
    /// );
    /// ```
    pub fn json_schema(&self) -> Value {
        if let FieldType::Named(n) = self {
            return n.schema.clone();
        }
        let mut defs = Map::new();
        let mut schema = self.schema_with_defs(&mut defs);
        if !defs.is_empty() && let Value::Object(map) = &mut schema {
            let mut with_defs = Map::new();
            with_defs.insert("$defs".into(), Value::Object(defs));
            with_defs.extend(std::mem::take(map));
            *map = with_defs;
        }
        schema
    }

    fn schema_with_defs(&self, defs: &mut Map<String, Value>) -> Value {
        match self {
            FieldType::Str => json!({"type": "string"}),
            FieldType::Int => json!({"type": "integer"}),
            FieldType::Float => json!({"type": "number"}),
            FieldType::Bool => json!({"type": "boolean"}),
            FieldType::Any => json!({}),
            FieldType::NoneType => json!({"type": "null"}),
            FieldType::Image | FieldType::Audio => {
                json!({"type": "string", "title": self.name()})
            }
            FieldType::List(t) => json!({"items": t.schema_with_defs(defs), "type": "array"}),
            // pydantic writes `dict[str, Any]` values as `true`, not as the empty schema.
            FieldType::Dict(_, v) if **v == FieldType::Any => json!({"additionalProperties": true, "type": "object"}),
            FieldType::Dict(_, v) => json!({"additionalProperties": v.schema_with_defs(defs), "type": "object"}),
            FieldType::Tuple(items) => json!({
                "maxItems": items.len(),
                "minItems": items.len(),
                "prefixItems": items.iter().map(|t| t.schema_with_defs(defs)).collect::<Vec<_>>(),
                "type": "array",
            }),
            FieldType::Union(members) => {
                json!({"anyOf": members.iter().map(|t| t.schema_with_defs(defs)).collect::<Vec<_>>()})
            }
            FieldType::Literal(values) => literal_schema(values),
            FieldType::Named(n) => {
                let mut schema = n.schema.clone();
                if let Some(Value::Object(inner)) = schema.as_object_mut().and_then(|m| m.remove("$defs")) {
                    for (k, v) in inner {
                        defs.entry(k).or_insert(v);
                    }
                }
                defs.insert(n.name.clone(), schema);
                json!({"$ref": format!("#/$defs/{}", n.name)})
            }
        }
    }

    /// Parses a type as the reference names it (`list[str]`, `Union[float, NoneType]`,
    /// `Literal['a', 'b']`); `resolve` supplies user types by name.
    ///
    /// ```
    /// use dspy_core::FieldType;
    /// let t = FieldType::parse("Optional[dict[str, int]]", &|_| None).unwrap();
    /// assert_eq!(t.name(), "Union[dict[str, int], NoneType]");
    /// ```
    pub fn parse(source: &str, resolve: &dyn Fn(&str) -> Option<FieldType>) -> Result<FieldType, SignatureError> {
        let expr = dspy_syntax::parse_type(source).map_err(syntax_error)?;
        Self::from_expr(&expr, 0, resolve)
    }

    /// Resolves a parsed type expression with the grammar's shared resolver. `resolve` is asked
    /// for names that are not built in (user models and enums); it returns `None` for unknown
    /// names. `position` is where errors without a position of their own point.
    pub(crate) fn from_expr(
        expr: &TypeExpr,
        position: usize,
        resolve: &dyn Fn(&str) -> Option<FieldType>,
    ) -> Result<FieldType, SignatureError> {
        let ty = PyType::resolve(expr, position, &mut |name, at| {
            resolve(name).ok_or_else(|| SyntaxError { position: at, message: format!("unknown type `{name}`") })
        })
        .map_err(syntax_error)?;
        Ok(Self::from_py(ty))
    }

    fn from_py(ty: PyType<FieldType>) -> FieldType {
        let all = |ts: Vec<PyType<FieldType>>| ts.into_iter().map(Self::from_py).collect();
        match ty {
            PyType::Str => FieldType::Str,
            PyType::Int => FieldType::Int,
            PyType::Float => FieldType::Float,
            PyType::Bool => FieldType::Bool,
            PyType::Any => FieldType::Any,
            PyType::NoneType => FieldType::NoneType,
            PyType::Image => FieldType::Image,
            PyType::Audio => FieldType::Audio,
            PyType::List(t) => FieldType::list(Self::from_py(*t)),
            PyType::Dict(k, v) => FieldType::Dict(Box::new(Self::from_py(*k)), Box::new(Self::from_py(*v))),
            PyType::Tuple(ts) => FieldType::Tuple(all(ts)),
            PyType::Union(ts) => FieldType::Union(all(ts)),
            PyType::Literal(values) => FieldType::Literal(
                values
                    .into_iter()
                    .map(|v| match v {
                        Const::Str(s) => Value::String(s),
                        Const::Int(i) => json!(i),
                        Const::Float(f) => json!(f),
                        Const::Bool(b) => Value::Bool(b),
                        Const::None => Value::Null,
                    })
                    .collect(),
            ),
            PyType::Named(t) => t,
        }
    }
}

impl TypeName for FieldType {
    fn type_name(&self) -> String {
        self.name()
    }
}

pub(crate) fn syntax_error(e: SyntaxError) -> SignatureError {
    SignatureError::Syntax { position: e.position, message: e.message }
}

fn join_names(types: &[FieldType]) -> String {
    types.iter().map(FieldType::name).collect::<Vec<_>>().join(", ")
}

fn literal_schema(values: &[Value]) -> Value {
    let json_type = |v: &Value| match v {
        Value::String(_) => Some("string"),
        Value::Bool(_) => Some("boolean"),
        Value::Number(n) if n.is_f64() => Some("number"),
        Value::Number(_) => Some("integer"),
        Value::Null => Some("null"),
        _ => None,
    };
    let first = values.first().and_then(json_type);
    let same = first.filter(|t| values.iter().all(|v| json_type(v) == Some(t)));
    let mut schema = Map::new();
    if values.len() == 1 {
        schema.insert("const".into(), values[0].clone());
    } else {
        schema.insert("enum".into(), Value::Array(values.to_vec()));
    }
    if let Some(t) = same {
        schema.insert("type".into(), Value::String(t.into()));
    }
    Value::Object(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspy_syntax::parse_signature;

    fn parse_type(src: &str) -> FieldType {
        let sig = parse_signature(&format!("x -> y: {src}")).unwrap();
        FieldType::from_expr(sig.outputs[0].ty.as_ref().unwrap(), 0, &|_| None).unwrap()
    }

    #[test]
    fn names_round_trip() {
        for (src, want) in [
            ("list[str]", "list[str]"),
            ("dict[str, int]", "dict[str, int]"),
            ("Optional[float]", "Union[float, NoneType]"),
            ("float | None", "Union[float, NoneType]"),
            ("Literal['positive', 'negative']", "Literal['positive', 'negative']"),
            ("Literal[\"it's fine\", 'a \"gem\"', 'meh']", "Literal[\"it's fine\", 'a \"gem\"', 'meh']"),
            ("Literal[1, 2, 3]", "Literal[1, 2, 3]"),
            ("tuple[int, str]", "tuple[int, str]"),
        ] {
            assert_eq!(parse_type(src).name(), want, "{src}");
        }
    }

    #[test]
    fn schemas_match_pydantic() {
        assert_eq!(parse_type("Literal['a']").json_schema(), json!({"const": "a", "type": "string"}));
        assert_eq!(parse_type("Literal['a', 1]").json_schema(), json!({"enum": ["a", 1]}));
        assert_eq!(parse_type("dict[str, Any]").json_schema(), json!({"additionalProperties": true, "type": "object"}));
        assert_eq!(
            parse_type("Optional[list[str]]").json_schema(),
            json!({"anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}]})
        );
        let model = FieldType::named("C", json!({"properties": {"a": {"title": "A", "type": "integer"}}, "required": ["a"], "title": "C", "type": "object"}));
        assert_eq!(
            FieldType::list(model).json_schema(),
            json!({"$defs": {"C": {"properties": {"a": {"title": "A", "type": "integer"}}, "required": ["a"], "title": "C", "type": "object"}}, "items": {"$ref": "#/$defs/C"}, "type": "array"})
        );
    }

    #[test]
    fn rejects_unknown_and_bad_keys() {
        let sig = parse_signature("x -> y: Verdict").unwrap();
        let err = FieldType::from_expr(sig.outputs[0].ty.as_ref().unwrap(), 0, &|_| None).unwrap_err();
        assert!(err.to_string().contains("unknown type `Verdict`"), "{err}");
        let sig = parse_signature("x -> y: dict[int, str]").unwrap();
        assert!(FieldType::from_expr(sig.outputs[0].ty.as_ref().unwrap(), 0, &|_| None).is_err());
    }
}
