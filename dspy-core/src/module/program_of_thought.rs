//! `ProgramOfThought`: the LM writes Python that computes the answer; the code runs in a sandbox.

use std::marker::PhantomData;

use serde_json::{Map, Value};

use super::sandbox::PythonSandbox;
use super::{ChainOfThought, Module, Predictor, Reasoned, Untyped};
use crate::error::{Error, InputError, Result, SignatureError};
use crate::example::Example;
use crate::prediction::Prediction;
use crate::pyfmt;
use crate::signature::{Field, FieldType, Signature, TypedSignature};

/// DSPy's ProgramOfThought: a [`ChainOfThought`] writes Python code that computes the outputs;
/// the code runs in a [`PythonSandbox`]; when parsing or running it fails, another
/// `ChainOfThought` is shown the code and the error and writes new code, up to `max_iters`
/// attempts in all (3 by default); finally a third one reads the code and its output and
/// gives the signature's outputs (plus `reasoning`).
///
/// The prompts, the code extraction (the first fenced `python` block, a trailing assignment
/// echoed) and the texts fed back to the LM are DSPy 3.4.1's. The sandbox is a locked-down
/// CPython subprocess instead of DSPy's Deno/Pyodide; see [`PythonSandbox`] for what it
/// guarantees. Every escape attempt is an error shown to the LM like any other. Each run
/// starts a fresh interpreter, so no state survives between attempts. Predictors:
/// `code_generate.predict`, `code_regenerate.predict`, `generate_output.predict`.
///
/// ```no_run
/// use std::sync::Arc;
/// use dspy_core::module::ProgramOfThought;
/// use dspy_core::{DummyLM, Example, Module};
/// use serde_json::json;
///
/// let lm = Arc::new(DummyLM::new(vec![
///     json!({"reasoning": "Multiply.", "generated_code": "```python\nresult = 6 * 7\n```"}),
///     json!({"reasoning": "The code printed 42.", "answer": "42"}),
/// ]));
/// let pot = ProgramOfThought::parse("question -> answer").unwrap().with_lm(lm);
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let out = pot.forward(&Example::new().with("question", "What is 6 times 7?")).await.unwrap();
/// assert_eq!(out.get_str("answer"), Some("42"));
/// # });
/// ```
pub struct ProgramOfThought<S = Untyped> {
    /// Writes the first program.
    pub code_generate: ChainOfThought,
    /// Fixes a program that failed.
    pub code_regenerate: ChainOfThought,
    /// Answers from the final program and its output.
    pub generate_output: ChainOfThought,
    signature: Signature,
    max_iters: usize,
    sandbox: PythonSandbox,
    _typed: PhantomData<fn() -> S>,
}

impl<S> Clone for ProgramOfThought<S> {
    fn clone(&self) -> Self {
        ProgramOfThought {
            code_generate: self.code_generate.clone(),
            code_regenerate: self.code_regenerate.clone(),
            generate_output: self.generate_output.clone(),
            signature: self.signature.clone(),
            max_iters: self.max_iters,
            sandbox: self.sandbox.clone(),
            _typed: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for ProgramOfThought<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgramOfThought")
            .field("signature", &self.signature.to_short_string())
            .field("max_iters", &self.max_iters)
            .field("sandbox", &self.sandbox)
            .finish()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Generate,
    Regenerate,
    Answer,
}

impl ProgramOfThought<Untyped> {
    /// Program of thought over a run-time signature.
    pub fn from_signature(signature: Signature) -> std::result::Result<Self, SignatureError> {
        Self::build(signature)
    }

    /// Program of thought over a string signature.
    pub fn parse(signature: &str) -> std::result::Result<Self, SignatureError> {
        Self::build(Signature::parse(signature)?)
    }
}

impl<S: TypedSignature> ProgramOfThought<S> {
    /// Program of thought over the typed signature `S`.
    pub fn new() -> std::result::Result<Self, SignatureError> {
        Self::build(S::signature().clone())
    }
}

// Typed inputs in; typed outputs with the final step's reasoning out.
super::typed::typed_over_signature!(ProgramOfThought, Reasoned);

fn mode_signature(signature: &Signature, mode: Mode) -> std::result::Result<Signature, SignatureError> {
    let code = |kind: fn(String, FieldType) -> Field, name: &str, desc: &str| kind(name.to_string(), FieldType::Str).desc(desc);
    let input = |n: String, t| Field::input(n, t);
    let output = |n: String, t| Field::output(n, t);
    let mut fields: Vec<Field> = signature.input_fields().cloned().collect();
    match mode {
        Mode::Generate => fields.push(code(output, "generated_code", "python code that answers the question")),
        Mode::Regenerate => {
            fields.push(code(input, "previous_code", "previously-generated python code that errored"));
            fields.push(code(input, "error", "error message from previously-generated python code"));
            fields.push(code(output, "generated_code", "python code that answers the question"));
        }
        Mode::Answer => {
            fields.push(code(input, "final_generated_code", "python code that answers the question"));
            fields.push(code(input, "code_output", "output of previously-generated python code"));
            fields.extend(signature.output_fields().cloned());
        }
    }
    let mut sig = Signature::new("StringSignature", "");
    for f in fields {
        sig = sig.append(f)?;
    }
    let names = |fields: &mut dyn Iterator<Item = &Field>| fields.map(|f| format!("`{}`", f.name)).collect::<Vec<_>>().join(", ");
    let mode_inputs = names(&mut sig.input_fields());
    let mode_outputs = names(&mut sig.output_fields());
    let final_outputs = names(&mut signature.output_fields());
    let instructions = match mode {
        Mode::Generate => [
            format!("You will be given {mode_inputs} and you will respond with {mode_outputs}."),
            format!("Generating executable Python code that programmatically computes the correct {mode_outputs}."),
            "After you're done with the computation and think you have the final output, make sure to submit your output by calling the preloaded function `SUBMIT()`.".into(),
            format!("You must structure your output in a dict, like {{\"field_a\": value_a, ...}}, with the correct value mapping for the field(s): {final_outputs}."),
        ]
        .join("\n"),
        Mode::Regenerate => [
            format!("You are given {mode_inputs} due to an error in previous code."),
            "Your task is to correct the error and provide the new `generated_code`.".to_string(),
        ]
        .join("\n"),
        Mode::Answer => format!("Given the final code {mode_inputs}, provide the final {mode_outputs}."),
    };
    Ok(sig.with_instructions(instructions))
}

impl<S> ProgramOfThought<S> {
    fn build(signature: Signature) -> std::result::Result<Self, SignatureError> {
        Ok(ProgramOfThought {
            code_generate: ChainOfThought::from_signature(mode_signature(&signature, Mode::Generate)?),
            code_regenerate: ChainOfThought::from_signature(mode_signature(&signature, Mode::Regenerate)?),
            generate_output: ChainOfThought::from_signature(mode_signature(&signature, Mode::Answer)?),
            signature,
            max_iters: 3,
            sandbox: PythonSandbox::new(),
            _typed: PhantomData,
        })
    }

    /// At most this many programs are written and run (DSPy's `max_iters`, 3 by default).
    pub fn with_max_iters(mut self, max_iters: usize) -> Self {
        self.max_iters = max_iters.max(1);
        self
    }

    /// Runs the programs in this sandbox (limits, allowed modules, interpreter).
    pub fn with_sandbox(mut self, sandbox: PythonSandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// The sandbox programs run in.
    pub fn sandbox(&self) -> &PythonSandbox {
        &self.sandbox
    }

    /// Runs on an example's input fields.
    pub async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        self.run(inputs.data()).await
    }

    async fn run(&self, inputs: &Map<String, Value>) -> Result<Prediction> {
        let mut input_kwargs = Map::new();
        for f in self.signature.input_fields() {
            let v = inputs.get(&f.name).ok_or_else(|| InputError::Missing { needed_by: "ProgramOfThought".into(), field: f.name.clone() })?;
            input_kwargs.insert(f.name.clone(), v.clone());
        }
        let code_data = self.code_generate.predict.forward_map(&input_kwargs).await?;
        let mut usage = code_data.usage();
        let (mut code, mut error) = parse_code(code_data.get_str("generated_code").unwrap_or_default());
        let mut output = None;
        if error.is_none() {
            (output, error) = self.execute(&code).await?;
        }
        let mut hop = 1;
        while let Some(err) = error {
            tracing::error!(error = %err, "Error in code execution");
            if hop >= self.max_iters {
                return Err(Error::MaxIters { module: "ProgramOfThought", max_iters: self.max_iters, last_error: err });
            }
            let mut kwargs = input_kwargs.clone();
            kwargs.insert("previous_code".into(), Value::String(code));
            kwargs.insert("error".into(), Value::String(err));
            let code_data = self.code_regenerate.predict.forward_map(&kwargs).await?;
            usage += code_data.usage();
            (code, error) = parse_code(code_data.get_str("generated_code").unwrap_or_default());
            if error.is_none() {
                (output, error) = self.execute(&code).await?;
            }
            hop += 1;
        }
        let mut kwargs = input_kwargs;
        kwargs.insert("final_generated_code".into(), Value::String(code));
        kwargs.insert("code_output".into(), output.map(Value::String).unwrap_or(Value::Null));
        let answer = self.generate_output.predict.forward_map(&kwargs).await?;
        usage += answer.usage();
        Ok(Prediction::from_completions(answer.completions().to_vec()).with_usage(usage))
    }

    /// DSPy's `_execute_code`: the output as `json.dumps` writes it, or the error text for the
    /// LM. Only a sandbox that cannot run at all is an `Err`.
    async fn execute(&self, code: &str) -> Result<(Option<String>, Option<String>)> {
        if code.is_empty() {
            return Ok((None, Some("Error: Empty code before execution.".into())));
        }
        match self.sandbox.execute(code).await {
            Ok(run) => Ok((Some(run.json), None)),
            Err(e) if e.is_code_error() => Ok((None, Some(e.to_string()))),
            Err(e) => Err(e.into()),
        }
    }
}

/// DSPy's `_parse_code`: the code before any `---` or two blank lines, the first fenced
/// ```` ```python ```` block in it, and the name a trailing assignment binds echoed on a last
/// line (so its value is the output). Returns the code and, when it is unusable, an error text.
///
/// ```
/// use dspy_core::module::parse_code;
/// let (code, error) = parse_code("```python\nx = 6 * 7\n```\nThat computes it.");
/// assert_eq!((code.as_str(), error), ("x = 6 * 7\nx", None));
/// ```
pub fn parse_code(generated: &str) -> (String, Option<String>) {
    let code = generated.split_once("---").map_or(generated, |(before, _)| before);
    let code = code.split_once("\n\n\n").map_or(code, |(before, _)| before);
    let block = python_block(code).unwrap_or(code);
    if block.is_empty() {
        return (code.to_string(), Some("Error: Empty code after parsing.".into()));
    }
    if !block.contains('\n') && block.matches('=').count() > 1 {
        return (code.to_string(), Some("Error: Code format is not correct.".into()));
    }
    let mut out = block.to_string();
    let last = block.rsplit('\n').next().unwrap_or(block);
    if let Some(name) = assigned_name(pyfmt::strip(last)) {
        out.push('\n');
        out.push_str(name);
    }
    (out, None)
}

/// `re.search(r"```python[ \n](.*?)[ \n]```?", code, re.DOTALL).group(1)`.
fn python_block(code: &str) -> Option<&str> {
    const OPEN: &str = "```python";
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(pos) = code[from..].find(OPEN) {
        let tag = from + pos;
        let body = tag + OPEN.len();
        if matches!(bytes.get(body), Some(b' ' | b'\n')) {
            let body = body + 1;
            for j in body..bytes.len() {
                if matches!(bytes[j], b' ' | b'\n') && code[j + 1..].starts_with("``") {
                    return Some(&code[body..j]);
                }
            }
        }
        from = tag + 1;
    }
    None
}

/// `re.match(r"^(\w+)\s*=", line).group(1)`.
fn assigned_name(line: &str) -> Option<&str> {
    let end = line.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(line.len());
    if end == 0 {
        return None;
    }
    let rest = line[end..].trim_start_matches(pyfmt::is_py_space);
    rest.starts_with('=').then(|| &line[..end])
}

#[async_trait::async_trait]
impl<S> Module for ProgramOfThought<S> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        ProgramOfThought::forward(self, inputs).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        vec![
            ("code_generate.predict".into(), &self.code_generate.predict as &dyn Predictor),
            ("code_regenerate.predict".into(), &self.code_regenerate.predict as &dyn Predictor),
            ("generate_output.predict".into(), &self.generate_output.predict as &dyn Predictor),
        ]
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        vec![
            ("code_generate.predict".into(), &mut self.code_generate.predict as &mut dyn Predictor),
            ("code_regenerate.predict".into(), &mut self.code_regenerate.predict as &mut dyn Predictor),
            ("generate_output.predict".into(), &mut self.generate_output.predict as &mut dyn Predictor),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_code_like_dspy() {
        assert_eq!(parse_code("```python\nprint(1)\n```"), ("print(1)".into(), None));
        assert_eq!(parse_code("x = 1\ny = x + 1"), ("x = 1\ny = x + 1\ny".into(), None));
        assert_eq!(parse_code("a = b = 1"), ("a = b = 1".into(), Some("Error: Code format is not correct.".into())));
        assert_eq!(parse_code(""), ("".into(), Some("Error: Empty code after parsing.".into())));
        assert_eq!(parse_code("print(1)\n---\nignored"), ("print(1)\n".into(), None));
        assert_eq!(parse_code("print(1)\n\n\nignored"), ("print(1)".into(), None));
        assert_eq!(parse_code("```python x = 2 ```"), ("x = 2\nx".into(), None));
        assert_eq!(parse_code("```pythonx\n```python\nz = 3\n``"), ("z = 3\nz".into(), None));
        assert_eq!(parse_code("```python\nz == 3\n```").1, Some("Error: Code format is not correct.".into()));
        assert_eq!(assigned_name("total += 1"), None);
    }

    #[test]
    fn prompts_follow_dspy() {
        let sig = Signature::parse("question -> answer: int").unwrap();
        let generate = mode_signature(&sig, Mode::Generate).unwrap();
        assert_eq!(generate.to_short_string(), "question -> generated_code");
        assert!(generate.instructions().ends_with("with the correct value mapping for the field(s): `answer`."));
        let regenerate = mode_signature(&sig, Mode::Regenerate).unwrap();
        assert_eq!(
            regenerate.instructions(),
            "You are given `question`, `previous_code`, `error` due to an error in previous code.\nYour task is to correct the error and provide the new `generated_code`."
        );
        let answer = mode_signature(&sig, Mode::Answer).unwrap();
        assert_eq!(answer.to_short_string(), "question, final_generated_code, code_output -> answer");
        assert_eq!(answer.field("code_output").unwrap().desc.as_deref(), Some("output of previously-generated python code"));
    }
}
