//! `Tool`: a Rust function an agent ([`ReAct`](super::ReAct)) may call, with DSPy's description
//! of it (name, description, argument JSON schemas) and DSPy's argument checks.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ToolError;
use crate::lm::ToolSpec;
use crate::pyfmt;
use crate::signature::{FieldType, named_type};

/// What a tool's function returns: its output as JSON, or why it failed.
pub type ToolFuture = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + Send>>;

type ToolFn = dyn Fn(Map<String, Value>) -> ToolFuture + Send + Sync;

/// A function an agent may call: a name, a description and one JSON schema per argument, as
/// DSPy's `dspy.Tool` describes it to the LM, plus the async function itself.
///
/// Arguments are checked the way DSPy checks them before the function runs — unknown
/// arguments, values that do not match their schema and missing required arguments are
/// [`ToolError`]s (which [`ReAct`](super::ReAct) shows the LM as observations) — and then
/// deserialised into the function's Rust types. A panicking tool is an error too, never a crash.
///
/// Build one from an argument struct with [`Tool::new`], from a plain function with the
/// `#[dspy::tool]` attribute, or from raw JSON schemas with [`Tool::from_parts`].
///
/// ```
/// use dspy_core::module::Tool;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Weather { city: String }
///
/// let tool = Tool::new("get_weather", "Get the current weather for a city.", |a: Weather| async move {
///     Ok::<_, std::convert::Infallible>(format!("Sunny in {}, 21 C", a.city))
/// });
/// assert_eq!(
///     tool.to_string(),
///     "get_weather, whose description is <desc>Get the current weather for a city.</desc>. \
///      It takes arguments {'city': {'type': 'string'}}."
/// );
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = tool.call(serde_json::json!({"city": "Paris"})).await.unwrap();
/// assert_eq!(out, "Sunny in Paris, 21 C");
/// let err = tool.call(serde_json::json!({"city": 3})).await.unwrap_err();
/// assert_eq!(err.to_string(), "Arg city is invalid: 3 is not of type 'string'");
/// # });
/// ```
#[derive(Clone)]
pub struct Tool {
    name: String,
    desc: String,
    args: Map<String, Value>,
    accepts_extra_args: bool,
    func: Arc<ToolFn>,
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool").field("name", &self.name).field("desc", &self.desc).field("args", &self.args).finish()
    }
}

impl fmt::Display for Tool {
    /// DSPy's `str(tool)`, the line each tool gets in ReAct's instructions:
    /// `name, whose description is <desc>...</desc>. It takes arguments {...}.`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let desc = if self.desc.is_empty() {
            ".".to_string()
        } else {
            format!(", whose description is <desc>{}</desc>.", self.desc).replace('\n', "  ")
        };
        write!(f, "{}{} It takes arguments {}.", self.name, desc, pyfmt::py_repr(&Value::Object(self.args.clone())))
    }
}

impl Tool {
    /// A tool whose arguments are the fields of `A` (each field's schema from
    /// `schemars`, its doc comment becoming the argument's `description`) and whose function
    /// returns `Result<T, E>` (`T: Serialize`, `E: Display`) or one of the plain
    /// [`ToolOutput`] types.
    ///
    /// ```
    /// use dspy_core::module::Tool;
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Add { a: i64, b: i64 }
    /// let add = Tool::new("add", "Add two integers.", |x: Add| async move { x.a + x.b });
    /// assert_eq!(add.args()["a"], serde_json::json!({"type": "integer"}));
    /// ```
    pub fn new<A, F, Fut>(name: impl Into<String>, desc: impl Into<String>, func: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: ToolOutput,
    {
        let name = name.into();
        let (args, unit) = struct_args::<A>();
        let tool_name = name.clone();
        let func = Arc::new(func);
        Self::from_parts(name, desc, args, move |map: Map<String, Value>| {
            let func = Arc::clone(&func);
            let tool = tool_name.clone();
            async move {
                let value = if unit && map.is_empty() { Value::Null } else { Value::Object(map) };
                let args: A = serde_json::from_value(value)
                    .map_err(|e| ToolError::Deserialize { tool: tool.clone(), reason: e.to_string() })?;
                func(args).await.into_tool_result(&tool)
            }
        })
    }

    /// A tool over a synchronous function (run inline, so keep it quick; see [`Tool::new`]).
    ///
    /// ```
    /// use dspy_core::module::Tool;
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Word { word: String }
    /// let shout = Tool::sync("shout", "Upper-cases a word.", |w: Word| w.word.to_uppercase());
    /// assert_eq!(shout.name(), "shout");
    /// ```
    pub fn sync<A, F, R>(name: impl Into<String>, desc: impl Into<String>, func: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + 'static,
        F: Fn(A) -> R + Send + Sync + 'static,
        R: ToolOutput + Send + 'static,
    {
        let func = Arc::new(func);
        Self::new(name, desc, move |a: A| {
            let out = func(a);
            async move { out }
        })
    }

    /// A tool from its parts: the argument schemas as DSPy's `Tool.args` holds them (argument
    /// name → JSON schema; an argument is required unless its schema has a `default`) and a
    /// function of the checked argument map. The `#[dspy::tool]` attribute expands to this.
    ///
    /// ```
    /// use dspy_core::module::{Tool, ToolError};
    /// use serde_json::{json, Map, Value};
    /// let mut args = Map::new();
    /// args.insert("text".into(), json!({"type": "string"}));
    /// let len = Tool::from_parts("length", "Counts characters.", args, |a: Map<String, Value>| async move {
    ///     Ok::<Value, ToolError>(json!(a["text"].as_str().unwrap_or_default().chars().count()))
    /// });
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(len.call(json!({"text": "héllo"})).await.unwrap(), json!(5));
    /// # });
    /// ```
    pub fn from_parts<F, Fut>(name: impl Into<String>, desc: impl Into<String>, args: Map<String, Value>, func: F) -> Self
    where
        F: Fn(Map<String, Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ToolError>> + Send + 'static,
    {
        Tool {
            name: name.into(),
            desc: desc.into(),
            args,
            accepts_extra_args: false,
            func: Arc::new(move |map| Box::pin(func(map)) as ToolFuture),
        }
    }

    /// Renames the tool.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Replaces the description.
    pub fn with_desc(mut self, desc: impl Into<String>) -> Self {
        self.desc = desc.into();
        self
    }

    /// Describes one argument (DSPy's `arg_desc`): sets its schema's `description`.
    ///
    /// ```
    /// use dspy_core::module::Tool;
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Q { query: String }
    /// let t = Tool::sync("search", "Searches.", |q: Q| q.query).with_arg_desc("query", "what to look for");
    /// assert_eq!(t.args()["query"]["description"], "what to look for");
    /// ```
    pub fn with_arg_desc(mut self, arg: &str, desc: impl Into<String>) -> Self {
        if let Some(Value::Object(schema)) = self.args.get_mut(arg) {
            schema.insert("description".into(), Value::String(desc.into()));
        }
        self
    }

    /// Accepts arguments not in [`Tool::args`] and passes them on (DSPy's `**kwargs` tools).
    pub fn accepting_extra_args(mut self) -> Self {
        self.accepts_extra_args = true;
        self
    }

    /// The name the LM calls the tool by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the tool does, as shown to the LM.
    pub fn desc(&self) -> &str {
        &self.desc
    }

    /// Argument name → JSON schema, in order (DSPy's `Tool.args`).
    pub fn args(&self) -> &Map<String, Value> {
        &self.args
    }

    /// The arguments the LM must give: those without a `default` in their schema.
    pub fn required_args(&self) -> Vec<&str> {
        self.args.iter().filter(|(_, s)| s.get("default").is_none()).map(|(k, _)| k.as_str()).collect()
    }

    /// The tool for native function calling, as DSPy's `format_as_litellm_function_call`
    /// describes its parameters.
    ///
    /// ```
    /// use dspy_core::module::Tool;
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct W { city: String }
    /// let spec = Tool::sync("get_weather", "Weather.", |w: W| w.city).to_spec();
    /// assert_eq!(spec.parameters["required"], serde_json::json!(["city"]));
    /// ```
    pub fn to_spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name.clone(),
            description: self.desc.clone(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": self.args,
                "required": self.required_args(),
            }),
        }
    }

    /// Checks the arguments as DSPy does, then runs the tool.
    pub async fn call(&self, args: Value) -> Result<Value, ToolError> {
        let map = self.check_args(args)?;
        match AssertUnwindSafe((self.func)(map)).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic payload".into());
                Err(ToolError::Panicked { tool: self.name.clone(), message })
            }
        }
    }

    /// DSPy's `_validate_and_parse_args`: every argument must be known and match its schema
    /// (when the schema names a `type`), and every required argument must be present.
    fn check_args(&self, args: Value) -> Result<Map<String, Value>, ToolError> {
        let map = match args {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => return Err(ToolError::NotAnObject { tool: self.name.clone(), got: pyfmt::py_repr(&other) }),
        };
        for (k, v) in &map {
            match self.args.get(k) {
                None if self.accepts_extra_args => {}
                None => return Err(ToolError::UnknownArg { tool: self.name.clone(), arg: k.clone() }),
                Some(schema) => {
                    if schema.get("type").is_some_and(|t| t != "Any")
                        && let Err(reason) = validate(v, schema)
                    {
                        return Err(ToolError::InvalidArg { tool: self.name.clone(), arg: k.clone(), reason });
                    }
                }
            }
        }
        let missing: Vec<String> = self.required_args().into_iter().filter(|k| !map.contains_key(*k)).map(String::from).collect();
        if !missing.is_empty() {
            return Err(ToolError::MissingArgs { tool: self.name.clone(), missing });
        }
        Ok(map)
    }
}

/// What a tool function may return: `Result<T, E>` with `T: Serialize` and `E: Display`, or a
/// plain value of a common type (strings, numbers, `bool`, `Value`, `Vec`, `Option`, maps, or
/// any `Serialize` type wrapped in [`Json`]).
#[diagnostic::on_unimplemented(
    message = "a tool cannot return `{Self}`",
    note = "return `Result<{Self}, E>` (with `{Self}: Serialize` and `E: Display`), or wrap the value in `dspy::module::Json(...)`"
)]
pub trait ToolOutput {
    /// The output as JSON, or the tool's failure.
    fn into_tool_result(self, tool: &str) -> Result<Value, ToolError>;
}

/// Wraps any serialisable value as a tool's output.
///
/// ```
/// use dspy_core::module::{Json, ToolOutput};
/// #[derive(serde::Serialize)]
/// struct Hit { title: String }
/// let out = Json(Hit { title: "Rust".into() }).into_tool_result("search").unwrap();
/// assert_eq!(out["title"], "Rust");
/// ```
#[derive(Clone, Debug)]
pub struct Json<T>(pub T);

fn serialise<T: Serialize>(value: &T, tool: &str) -> Result<Value, ToolError> {
    serde_json::to_value(value).map_err(|e| ToolError::Output { tool: tool.to_string(), reason: e.to_string() })
}

impl<T: Serialize, E: fmt::Display> ToolOutput for Result<T, E> {
    fn into_tool_result(self, tool: &str) -> Result<Value, ToolError> {
        match self {
            Ok(v) => serialise(&v, tool),
            Err(e) => Err(ToolError::failed(tool, e)),
        }
    }
}

impl<T: Serialize> ToolOutput for Json<T> {
    fn into_tool_result(self, tool: &str) -> Result<Value, ToolError> {
        serialise(&self.0, tool)
    }
}

macro_rules! plain_outputs {
    ($($t:ty),*) => {$(
        impl ToolOutput for $t {
            fn into_tool_result(self, tool: &str) -> Result<Value, ToolError> {
                serialise(&self, tool)
            }
        }
    )*};
}

plain_outputs!(String, &'static str, bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, Value, (), Map<String, Value>);

impl<T: Serialize> ToolOutput for Vec<T> {
    fn into_tool_result(self, tool: &str) -> Result<Value, ToolError> {
        serialise(&self, tool)
    }
}

impl<T: Serialize> ToolOutput for Option<T> {
    fn into_tool_result(self, tool: &str) -> Result<Value, ToolError> {
        serialise(&self, tool)
    }
}

impl<V: Serialize> ToolOutput for std::collections::BTreeMap<String, V> {
    fn into_tool_result(self, tool: &str) -> Result<Value, ToolError> {
        serialise(&self, tool)
    }
}

impl<V: Serialize, S> ToolOutput for std::collections::HashMap<String, V, S> {
    fn into_tool_result(self, tool: &str) -> Result<Value, ToolError> {
        serialise(&self, tool)
    }
}

// --- argument schemas ------------------------------------------------------------------------

/// The JSON schema DSPy gives a tool argument of type `T` (pydantic's
/// `TypeAdapter(T).json_schema()` with references resolved): `{"type": "string"}` for
/// `String`, `{"type": "integer"}` for `i64`, a model's full schema for a struct.
///
/// ```
/// use dspy_core::module::arg_schema;
/// use serde_json::json;
/// assert_eq!(arg_schema::<String>(), json!({"type": "string"}));
/// assert_eq!(arg_schema::<Vec<f64>>(), json!({"items": {"type": "number"}, "type": "array"}));
/// assert_eq!(arg_schema::<Option<i64>>(), json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}));
/// ```
pub fn arg_schema<T: JsonSchema>() -> Value {
    let mut schema = named_type::<T>().json_schema();
    if let Value::Object(map) = &mut schema
        && !map.contains_key("properties")
        && !is_enum_model(map)
    {
        map.remove("title");
    }
    pydantic_order(&resolve_refs(schema), false)
}

/// `Option<T>` arguments may be left out: their schema gets DSPy's `"default": None`.
#[doc(hidden)]
pub fn optional_arg_schema<T: JsonSchema>() -> Value {
    let mut schema = arg_schema::<T>();
    if let Value::Object(map) = &mut schema {
        map.insert("default".into(), Value::Null);
    }
    schema
}

/// One argument of a `#[dspy::tool]` function, taken from the checked argument map (an absent
/// optional argument is `null`, i.e. `None`).
#[doc(hidden)]
pub fn take_arg<T: DeserializeOwned>(args: &mut Map<String, Value>, tool: &str, name: &str) -> Result<T, ToolError> {
    let value = args.remove(name).unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| ToolError::Deserialize { tool: tool.to_string(), reason: format!("argument `{name}`: {e}") })
}

fn is_enum_model(map: &Map<String, Value>) -> bool {
    map.contains_key("enum") && map.contains_key("title")
}

/// The arguments of a tool taking the struct `A`: one schema per field (without the titles
/// pydantic would not give a function parameter), and whether `A` is `()` (no arguments).
fn struct_args<A: JsonSchema>() -> (Map<String, Value>, bool) {
    let schema = match named_type::<A>() {
        FieldType::Named(n) => n.schema.clone(),
        other => other.json_schema(),
    };
    if schema.get("type") == Some(&Value::String("null".into())) {
        return (Map::new(), true);
    }
    let Some(Value::Object(props)) = schema.get("properties") else { return (Map::new(), false) };
    let required: Vec<&str> = match schema.get("required") {
        Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let defs = schema.get("$defs").cloned();
    let mut args = Map::new();
    for (name, prop) in props {
        let mut prop = prop.clone();
        let mut default = None;
        if let Value::Object(p) = &mut prop {
            let auto_title = pyfmt::title(name).replace('_', " ");
            if p.get("title").and_then(Value::as_str) == Some(auto_title.as_str()) {
                p.remove("title");
            }
            default = p.remove("default");
            if default.is_none() && !required.contains(&name.as_str()) {
                default = Some(Value::Null);
            }
        }
        let mut with_defs = prop;
        if let (Some(defs), Value::Object(p)) = (&defs, &mut with_defs) {
            p.insert("$defs".into(), defs.clone());
        }
        let mut resolved = pydantic_order(&resolve_refs(with_defs), false);
        if let (Some(d), Value::Object(p)) = (default, &mut resolved) {
            p.insert("default".into(), d);
        }
        args.insert(name.clone(), resolved);
    }
    (args, false)
}

/// DSPy's `_resolve_json_schema_reference`: every `$ref` replaced by its definition (keys
/// beside the `$ref`, such as a field's description, kept), `$defs` gone.
fn resolve_refs(schema: Value) -> Value {
    let Some(Value::Object(defs)) = schema.get("$defs").cloned() else { return schema };
    fn walk(v: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref")
                    && depth < 32
                {
                    let name = r.rsplit('/').next().unwrap_or(r);
                    if let Some(def) = defs.get(name) {
                        // Keys beside the `$ref` (a field's own description) override the definition's.
                        let mut resolved = walk(def, defs, depth + 1);
                        if let Value::Object(out) = &mut resolved {
                            for (k, x) in map.iter().filter(|(k, _)| *k != "$ref") {
                                out.insert(k.clone(), walk(x, defs, depth));
                            }
                        }
                        return resolved;
                    }
                }
                Value::Object(map.iter().filter(|(k, _)| *k != "$defs").map(|(k, x)| (k.clone(), walk(x, defs, depth))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|x| walk(x, defs, depth)).collect()),
            other => other.clone(),
        }
    }
    walk(&schema, &defs, 0)
}

/// pydantic's key order: schema keys sorted, property names (and values such as `default`,
/// `enum`, `const`) left as they are.
fn pydantic_order(v: &Value, names: bool) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            if !names {
                keys.sort();
            }
            let mut out = Map::new();
            for k in keys {
                let x = &map[k];
                let ordered = match k.as_str() {
                    _ if names => pydantic_order(x, false),
                    "properties" | "$defs" | "patternProperties" => pydantic_order(x, true),
                    "default" | "enum" | "const" | "examples" | "required" => x.clone(),
                    _ => pydantic_order(x, false),
                };
                out.insert(k.clone(), ordered);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|x| pydantic_order(x, false)).collect()),
        other => other.clone(),
    }
}

// --- argument validation ---------------------------------------------------------------------

/// Validates `value` against the common JSON-schema keywords, with the messages of Python's
/// `jsonschema` (what DSPy's `Arg x is invalid: ...` shows).
fn validate(value: &Value, schema: &Value) -> Result<(), String> {
    let Value::Object(s) = schema else { return Ok(()) };
    let r = pyfmt::py_repr;
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            let names: Vec<String> = types.iter().map(|t| format!("'{t}'")).collect();
            return Err(format!("{} is not of type {}", r(value), names.join(", ")));
        }
    }
    if let Some(Value::Array(options)) = s.get("enum")
        && !options.iter().any(|o| json_equal(o, value))
    {
        return Err(format!("{} is not one of {}", r(value), r(&Value::Array(options.clone()))));
    }
    if let Some(c) = s.get("const")
        && !json_equal(c, value)
    {
        return Err(format!("{} was expected", r(c)));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = s.get(key)
            && !options.iter().any(|o| validate(value, o).is_ok())
        {
            return Err(format!("{} is not valid under any of the given schemas", r(value)));
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for sub in all {
            validate(value, sub)?;
        }
    }
    if let Some(n) = value.as_f64().filter(|_| value.is_number()) {
        let bound = |k: &str| s.get(k).and_then(Value::as_f64).map(|b| (b, &s[k]));
        if let Some((b, raw)) = bound("minimum").filter(|(b, _)| n < *b) {
            let _ = b;
            return Err(format!("{} is less than the minimum of {}", r(value), r(raw)));
        }
        if let Some((_, raw)) = bound("maximum").filter(|(b, _)| n > *b) {
            return Err(format!("{} is greater than the maximum of {}", r(value), r(raw)));
        }
        if let Some((_, raw)) = bound("exclusiveMinimum").filter(|(b, _)| n <= *b) {
            return Err(format!("{} is less than or equal to the minimum of {}", r(value), r(raw)));
        }
        if let Some((_, raw)) = bound("exclusiveMaximum").filter(|(b, _)| n >= *b) {
            return Err(format!("{} is greater than or equal to the maximum of {}", r(value), r(raw)));
        }
    }
    if let Value::String(text) = value {
        let len = text.chars().count() as u64;
        if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| len < m) {
            return Err(format!("{} is too short", r(value)));
        }
        if s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| len > m) {
            return Err(format!("{} is too long", r(value)));
        }
    }
    if let Value::Array(items) = value {
        let len = items.len() as u64;
        if s.get("minItems").and_then(Value::as_u64).is_some_and(|m| len < m) {
            return Err(format!("{} is too short", r(value)));
        }
        if s.get("maxItems").and_then(Value::as_u64).is_some_and(|m| len > m) {
            return Err(format!("{} is too long", r(value)));
        }
        let prefix = match s.get("prefixItems") {
            Some(Value::Array(p)) => p.as_slice(),
            _ => &[],
        };
        for (i, item) in items.iter().enumerate() {
            match prefix.get(i) {
                Some(p) => validate(item, p)?,
                None => {
                    if let Some(item_schema) = s.get("items") {
                        validate(item, item_schema)?;
                    }
                }
            }
        }
    }
    if let Value::Object(obj) = value {
        if let Some(Value::Array(required)) = s.get("required") {
            for req in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(req) {
                    return Err(format!("{} is a required property", pyfmt::str_repr(req)));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        let mut extra = Vec::new();
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(p) => validate(v, p)?,
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => extra.push(pyfmt::str_repr(k)),
                    Some(sub @ Value::Object(_)) => validate(v, sub)?,
                    _ => {}
                },
            }
        }
        if !extra.is_empty() {
            let verb = if extra.len() == 1 { "was" } else { "were" };
            return Err(format!("Additional properties are not allowed ({} {verb} unexpected)", extra.join(", ")));
        }
    }
    Ok(())
}

/// JSON-schema type membership as Python's `jsonschema` decides it (`2.0` is an integer,
/// `true` is not a number).
fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "string" => value.is_string(),
        "integer" => match value {
            Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
            _ => false,
        },
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// Equality where `1 == 1.0`, as in Python.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Add {
        a: i64,
        b: i64,
    }

    fn add() -> Tool {
        Tool::new("add", "Add two integers.", |x: Add| async move { x.a + x.b })
    }

    fn block<F: Future>(f: F) -> F::Output {
        crate::block_on(f)
    }

    #[test]
    fn renders_like_dspy() {
        assert_eq!(
            add().to_string(),
            "add, whose description is <desc>Add two integers.</desc>. It takes arguments {'a': {'type': 'integer'}, 'b': {'type': 'integer'}}."
        );
        let bare = Tool::from_parts("finish", "", Map::new(), |_| async { Ok(json!("Completed.")) });
        assert_eq!(bare.to_string(), "finish. It takes arguments {}.");
        let multi = add().with_desc("Adds.\nReally.");
        assert!(multi.to_string().contains("<desc>Adds.  Really.</desc>."));
    }

    #[test]
    fn argument_errors_use_dspys_words() {
        let t = add();
        let err = |args| block(t.call(args)).unwrap_err().to_string();
        assert_eq!(err(json!({"a": "x", "b": 2})), "Arg a is invalid: 'x' is not of type 'integer'");
        assert_eq!(err(json!({"a": 1, "b": 2.5})), "Arg b is invalid: 2.5 is not of type 'integer'");
        assert_eq!(err(json!({"a": 1})), "add() missing 1 required positional argument: 'b'");
        assert_eq!(err(json!({})), "add() missing 2 required positional arguments: 'a' and 'b'");
        assert_eq!(err(json!({"a": 1, "b": 2, "c": 3})), "Arg c is not in the tool's args.");
        assert_eq!(block(t.call(json!({"a": 1, "b": 2}))).unwrap(), json!(3));
        // 1.0 is an integer for jsonschema; serde then refuses it for i64.
        assert!(matches!(block(t.call(json!({"a": 1.0, "b": 2}))), Err(ToolError::Deserialize { .. })));
    }

    #[test]
    fn failures_and_panics_are_errors() {
        #[derive(serde::Deserialize, JsonSchema)]
        struct City {
            city: String,
        }
        let t = Tool::new("weather", "", |c: City| async move {
            if c.city == "Nowhere" {
                return Err(format!("unknown city {}", c.city));
            }
            if c.city == "Boom" {
                panic!("exploded");
            }
            Ok(format!("Sunny in {}", c.city))
        });
        assert_eq!(block(t.call(json!({"city": "Nowhere"}))).unwrap_err().to_string(), "unknown city Nowhere");
        assert_eq!(block(t.call(json!({"city": "Boom"}))).unwrap_err().to_string(), "weather panicked: exploded");
        assert_eq!(block(t.call(json!({"city": "Oslo"}))).unwrap(), json!("Sunny in Oslo"));
    }

    #[test]
    fn struct_arguments_look_like_function_parameters() {
        /// A location.
        #[derive(serde::Deserialize, JsonSchema)]
        #[allow(dead_code)]
        struct Loc {
            lat: f64,
            lon: f64,
        }
        #[derive(serde::Deserialize, JsonSchema)]
        #[allow(dead_code)]
        struct Args {
            /// The place.
            place: Loc,
            tags: Vec<String>,
            limit: Option<u8>,
        }
        let t = Tool::sync("find", "Finds.", |_: Args| "ok");
        let args = Value::Object(t.args().clone());
        assert_eq!(args["tags"], json!({"items": {"type": "string"}, "type": "array"}));
        assert_eq!(args["place"]["properties"]["lat"], json!({"title": "Lat", "type": "number"}));
        assert_eq!(args["place"]["description"], "The place.");
        assert_eq!(args["limit"]["default"], Value::Null);
        assert_eq!(t.required_args(), ["place", "tags"]);
        assert_eq!(t.to_spec().parameters["required"], json!(["place", "tags"]));
    }

    #[test]
    fn unit_arguments_take_nothing() {
        let t = Tool::sync("now", "The time.", |(): ()| "noon");
        assert!(t.args().is_empty());
        assert_eq!(block(t.call(json!({}))).unwrap(), json!("noon"));
    }

    #[test]
    fn validator_covers_common_keywords() {
        let s = json!({"type": "object", "properties": {"k": {"enum": ["a", "b"]}}, "required": ["k"], "additionalProperties": false});
        assert_eq!(validate(&json!({}), &s).unwrap_err(), "'k' is a required property");
        assert_eq!(validate(&json!({"k": "c"}), &s).unwrap_err(), "'c' is not one of ['a', 'b']");
        assert_eq!(validate(&json!({"k": "a", "z": 1}), &s).unwrap_err(), "Additional properties are not allowed ('z' was unexpected)");
        assert_eq!(validate(&json!(-1), &json!({"type": "integer", "minimum": 0})).unwrap_err(), "-1 is less than the minimum of 0");
        assert_eq!(validate(&json!(true), &json!({"type": "number"})).unwrap_err(), "True is not of type 'number'");
        assert!(validate(&json!(null), &json!({"anyOf": [{"type": "integer"}, {"type": "null"}]})).is_ok());
    }
}
