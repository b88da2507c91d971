//! `PythonSandbox`: runs LM-written Python code in a locked-down CPython subprocess.
//!
//! [`ProgramOfThought`](super::ProgramOfThought) runs the code it generates here. Each call
//! starts a fresh `python3 -I -S -B` (isolated mode: no environment variables, no user or site
//! packages, no bytecode written) with an empty environment, in a new empty temporary
//! directory, and feeds it the code on stdin. Before the code runs, a bootstrap applies, in
//! this order:
//!
//! 1. **Kernel resource limits** (`setrlimit`): address space ([`SandboxConfig::memory_bytes`],
//!    256 MiB by default), CPU time (the wall-clock limit rounded up, plus one second), no core
//!    files, no new processes (`RLIMIT_NPROC = 0`).
//! 2. **Preloading** of the allowed modules ([`DEFAULT_ALLOWED_MODULES`]); afterwards no module
//!    is ever loaded again.
//! 3. **A seccomp filter** (Linux x86_64), which the kernel enforces whatever the code does
//!    inside the interpreter: every `open`/`openat`/`creat` fails (no file can be read or
//!    written), as do all file-system changes (unlink, rename, mkdir, chmod, truncate, links,
//!    xattrs, mounts), all socket calls (`socket`, `connect`, `bind`, ...), `fork`/`vfork`/
//!    `execve` and `clone` of anything but a thread, signals to other processes, `ptrace`,
//!    raising resource limits, `io_uring`, `bpf`, `memfd_create`, namespaces and other
//!    administration calls. Without the filter (another OS or architecture) the sandbox refuses
//!    to run ([`SandboxError::Unavailable`]) unless [`SandboxConfig::require_kernel_filter`] is
//!    turned off.
//! 4. **An audit hook** (`sys.addaudithook`) and an import guard that turn the same attempts
//!    into clear errors before they reach the kernel — opening files, sockets, subprocesses,
//!    `os.system`/`exec*`/`fork`, loading modules, frame and code-object introspection — plus an
//!    **import allow-list**: the code may import only the allowed modules.
//!
//! The parent kills the process when the **wall-clock limit** ([`SandboxConfig::timeout`],
//! 5 s by default) passes. Any escape attempt ends the run with a typed [`SandboxError`]
//! (even if the code catches the Python exception), whose text [`ProgramOfThought`](super::ProgramOfThought)
//! (super::ProgramOfThought) shows the LM so it can write better code.
//!
//! What it does not guarantee: file *metadata* (`stat`) of paths can still be probed; the
//! code can use all the CPU and memory its limits allow and write up to 1 MiB of output; the
//! audit hook is a convenience (CPython does not promise that it cannot be bypassed), the
//! kernel filter and limits are the boundary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

use super::error::{Capability, SandboxError};

/// The bootstrap that locks the interpreter down and runs the code.
const BOOTSTRAP: &str = include_str!("sandbox_bootstrap.py");

/// The modules generated code may import by default: the standard library's pure
/// computation (math, numbers, text, dates, data structures).
pub const DEFAULT_ALLOWED_MODULES: &[&str] = &[
    "bisect",
    "calendar",
    "cmath",
    "collections",
    "collections.abc",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "json",
    "math",
    "numbers",
    "operator",
    "random",
    "re",
    "statistics",
    "string",
    "textwrap",
    "typing",
    "unicodedata",
];

/// Limits and policy of a [`PythonSandbox`].
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxConfig {
    /// The interpreter; by default `$DSPY_PYTHON`, else the real executable behind `python3`
    /// on `PATH` (a pyenv shim is resolved once).
    pub python: Option<PathBuf>,
    /// Wall-clock limit of one run (5 s).
    pub timeout: Duration,
    /// Address-space limit in bytes (256 MiB).
    pub memory_bytes: u64,
    /// Modules the code may import (top-level names; submodules come with them).
    pub allowed_modules: Vec<String>,
    /// Refuse to run where the seccomp filter cannot be installed (true).
    pub require_kernel_filter: bool,
    /// At most this many characters of printed output are kept (1 MiB).
    pub max_output_chars: usize,
    #[doc(hidden)]
    pub python_guards: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            python: None,
            timeout: Duration::from_secs(5),
            memory_bytes: 256 * 1024 * 1024,
            allowed_modules: DEFAULT_ALLOWED_MODULES.iter().map(|m| m.to_string()).collect(),
            require_kernel_filter: true,
            max_output_chars: 1 << 20,
            python_guards: true,
        }
    }
}

/// A locked-down CPython subprocess per run; see the [module docs](crate::module::sandbox) for exactly what it
/// guarantees.
///
/// ```no_run
/// use dspy_core::module::PythonSandbox;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let sandbox = PythonSandbox::new();
/// let run = sandbox.execute("import math\nmath.factorial(5)").await.unwrap();
/// assert_eq!(run.output, serde_json::json!(120));
/// let denied = sandbox.execute("open('/etc/passwd').read()").await.unwrap_err();
/// assert!(denied.to_string().contains("file system access is not allowed"));
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct PythonSandbox {
    config: SandboxConfig,
}

/// The result of a run that finished.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    /// What the code produced, as DSPy's interpreter reports it: the `SUBMIT(...)` argument
    /// wrapped as `{"output": ...}`, else the value of a final expression, else the printed text.
    pub output: Value,
    /// Whether the code called `SUBMIT`.
    pub submitted: bool,
    /// Everything the code printed.
    pub stdout: String,
    /// `json.dumps(output)` exactly as Python writes it (what ProgramOfThought shows the LM).
    pub json: String,
}

static RUN_COUNTER: AtomicU64 = AtomicU64::new(0);
static DEFAULT_PYTHON: tokio::sync::OnceCell<Result<PathBuf, String>> = tokio::sync::OnceCell::const_new();

/// The interpreter behind `$DSPY_PYTHON` or `python3`, resolved through `sys.executable` once.
async fn default_python() -> Result<PathBuf, SandboxError> {
    DEFAULT_PYTHON
        .get_or_init(|| async {
            let candidate = std::env::var_os("DSPY_PYTHON").unwrap_or_else(|| "python3".into());
            let out = tokio::process::Command::new(&candidate)
                .args(["-I", "-S", "-c", "import sys; print(sys.executable)"])
                .stdin(Stdio::null())
                .output()
                .await
                .map_err(|e| format!("cannot run {}: {e}", Path::new(&candidate).display()))?;
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !out.status.success() || path.is_empty() {
                return Err(format!("{} did not report its executable", Path::new(&candidate).display()));
            }
            Ok(PathBuf::from(path))
        })
        .await
        .clone()
        .map_err(|reason| SandboxError::Unavailable { reason })
}

/// A fresh, empty working directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, SandboxError> {
        let n = RUN_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("dspy-sandbox-{}-{n}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir(&path).map_err(|e| SandboxError::Unavailable { reason: format!("cannot create {}: {e}", path.display()) })?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl PythonSandbox {
    /// A sandbox with the default limits and allow-list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sandbox with these settings.
    pub fn with_config(config: SandboxConfig) -> Self {
        PythonSandbox { config }
    }

    /// The settings.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Sets the wall-clock limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Sets the memory (address-space) limit.
    pub fn with_memory_limit(mut self, bytes: u64) -> Self {
        self.config.memory_bytes = bytes;
        self
    }

    /// Also allows importing this module (a standard-library module; nothing else is on the path).
    pub fn allow_module(mut self, module: impl Into<String>) -> Self {
        self.config.allowed_modules.push(module.into());
        self
    }

    /// Uses this interpreter.
    pub fn with_python(mut self, python: impl Into<PathBuf>) -> Self {
        self.config.python = Some(python.into());
        self
    }

    /// Runs `code`.
    pub async fn execute(&self, code: &str) -> Result<Execution, SandboxError> {
        self.execute_with(code, &Map::new()).await
    }

    /// Runs `code` with these variables defined (JSON values become Python values).
    pub async fn execute_with(&self, code: &str, variables: &Map<String, Value>) -> Result<Execution, SandboxError> {
        let python = match &self.config.python {
            Some(p) => p.clone(),
            None => default_python().await?,
        };
        let c = &self.config;
        let request = json!({
            "code": code,
            "variables": variables,
            "allowed_modules": c.allowed_modules,
            "preload": ["_strptime"],
            "require_kernel_filter": c.require_kernel_filter,
            "audit_hook": c.python_guards,
            "limits": {
                "memory_bytes": c.memory_bytes,
                "cpu_seconds": c.timeout.as_secs() + 2,
                "max_output_chars": c.max_output_chars,
            },
        });
        let payload = serde_json::to_vec(&request).map_err(|e| SandboxError::Protocol { message: e.to_string() })?;
        let dir = TempDir::new()?;
        let mut child = tokio::process::Command::new(&python)
            .args(["-I", "-S", "-B", "-X", "utf8", "-c", BOOTSTRAP])
            .env_clear()
            .current_dir(&dir.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SandboxError::Unavailable { reason: format!("cannot start {}: {e}", python.display()) })?;
        let mut stdin = child.stdin.take();
        let run = async move {
            if let Some(stdin) = stdin.as_mut() {
                // A child that dies early closes the pipe; its exit status tells why.
                let _ = stdin.write_all(&payload).await;
                let _ = stdin.shutdown().await;
            }
            drop(stdin);
            child.wait_with_output().await
        };
        let output = match tokio::time::timeout(c.timeout, run).await {
            Err(_) => return Err(SandboxError::Timeout { limit: c.timeout }),
            Ok(Err(e)) => return Err(SandboxError::Protocol { message: format!("waiting for the interpreter failed: {e}") }),
            Ok(Ok(output)) => output,
        };
        drop(dir);
        let stdout = String::from_utf8_lossy(&output.stdout);
        match stdout.lines().rev().find(|l| l.starts_with('{')) {
            Some(line) => self.read_reply(line),
            None => Err(self.died(&output.status, &String::from_utf8_lossy(&output.stderr))),
        }
    }

    fn read_reply(&self, line: &str) -> Result<Execution, SandboxError> {
        let reply: Value = serde_json::from_str(line).map_err(|e| SandboxError::Protocol { message: format!("{e} in {line:?}") })?;
        let text = |k: &str| reply.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        match reply.get("status").and_then(Value::as_str) {
            Some("ok") => {
                let json_text = text("json");
                let output = serde_json::from_str(&json_text).unwrap_or_else(|_| Value::String(json_text.clone()));
                Ok(Execution { output, submitted: text("kind") == "final", stdout: text("stdout"), json: json_text })
            }
            Some("syntax_error") => Err(SandboxError::Syntax { message: text("message") }),
            Some("error") => Err(SandboxError::Execution {
                error_type: text("type"),
                args: reply.get("args").and_then(Value::as_array).cloned().unwrap_or_default(),
                message: text("message"),
            }),
            Some("violation") if text("kind") == "import" => {
                Err(SandboxError::ForbiddenImport { module: text("detail"), allowed: self.config.allowed_modules.clone() })
            }
            Some("violation") => Err(SandboxError::Denied { capability: Capability::from_code(&text("kind")), detail: text("detail") }),
            Some("memory_limit") => Err(SandboxError::MemoryLimit { limit_bytes: self.config.memory_bytes }),
            Some("unavailable") => Err(SandboxError::Unavailable { reason: text("message") }),
            other => Err(SandboxError::Protocol { message: format!("unknown status {other:?}") }),
        }
    }

    fn died(&self, status: &std::process::ExitStatus, stderr: &str) -> SandboxError {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            const SIGXCPU: i32 = 24;
            if status.signal() == Some(SIGXCPU) {
                return SandboxError::CpuLimit { seconds: self.config.timeout.as_secs() + 2 };
            }
        }
        if stderr.contains("MemoryError") || stderr.contains("Cannot allocate memory") {
            return SandboxError::MemoryLimit { limit_bytes: self.config.memory_bytes };
        }
        let tail: String = {
            let chars: Vec<char> = stderr.trim().chars().collect();
            chars[chars.len().saturating_sub(500)..].iter().collect()
        };
        SandboxError::Crashed { status: status.to_string(), stderr: tail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str) -> Result<Execution, SandboxError> {
        crate::block_on(PythonSandbox::new().execute(code))
    }

    /// The kernel layer alone (the Python hook and import guard off).
    fn run_kernel_only(code: &str) -> Result<Execution, SandboxError> {
        let config = SandboxConfig { python_guards: false, ..SandboxConfig::default() };
        crate::block_on(PythonSandbox::with_config(config).execute(code))
    }

    fn denied(result: Result<Execution, SandboxError>, capability: Capability) -> String {
        match result {
            Err(e @ SandboxError::Denied { capability: c, .. }) if c == capability => e.to_string(),
            other => panic!("expected a {capability:?} denial, got {other:?}"),
        }
    }

    fn kernel_refused(result: Result<Execution, SandboxError>) {
        match result {
            Err(SandboxError::Execution { error_type, message, .. }) => {
                assert!(
                    ["PermissionError", "ImportError", "ValueError", "OSError", "BlockingIOError"].contains(&error_type.as_str())
                        && (message.contains("not permitted") || message.contains("raise maximum limit") || message.contains("Resource temporarily")),
                    "{error_type}: {message}"
                );
            }
            Ok(e) if e.output == json!(32512) || e.output == json!(-1) => {} // os.system: fork failed
            other => panic!("expected the kernel to refuse, got {other:?}"),
        }
    }

    #[test]
    fn computes_prints_and_submits() {
        let r = run("import math\nx = math.sqrt(16)\nprint('hi')\nx * 2").unwrap();
        assert_eq!((r.output.clone(), r.json.as_str(), r.stdout.as_str(), r.submitted), (json!(8.0), "8.0", "hi\n", false));
        let r = run("print(6 * 7)").unwrap();
        assert_eq!(r.json, "\"42\\n\"");
        let r = run("SUBMIT({'answer': 'é'})").unwrap();
        assert!(r.submitted);
        assert_eq!(r.json, r#"{"output": {"answer": "\u00e9"}}"#);
        let vars = json!({"n": 5}).as_object().unwrap().clone();
        assert_eq!(crate::block_on(PythonSandbox::new().execute_with("n + 1", &vars)).unwrap().output, json!(6));
    }

    #[test]
    fn code_errors_use_dspys_words() {
        assert_eq!(run("undefined + 1").unwrap_err().to_string(), "NameError: [\"name 'undefined' is not defined\"]");
        assert_eq!(run("1/0").unwrap_err().to_string(), "ZeroDivisionError: ['division by zero']");
        let e = run("x = = 1").unwrap_err();
        assert!(matches!(e, SandboxError::Syntax { .. }));
        assert!(e.to_string().starts_with("Invalid Python syntax. message: File \"<exec>\", line 1"), "{e}");
    }

    #[test]
    fn file_access_is_denied() {
        let msg = denied(run("open('/tmp/dspy-sandbox-pwned', 'w').write('x')"), Capability::FileSystem);
        assert!(msg.contains("open '/tmp/dspy-sandbox-pwned'"), "{msg}");
        assert!(!Path::new("/tmp/dspy-sandbox-pwned").exists());
        denied(run("print(open('/etc/passwd').read())"), Capability::FileSystem);
        // Caught exceptions do not hide the attempt.
        denied(run("try:\n    open('/etc/passwd')\nexcept Exception:\n    pass\n42"), Capability::FileSystem);
        denied(run("import collections\ncollections._sys.modules['os'].listdir('/')"), Capability::FileSystem);
    }

    #[test]
    fn network_and_processes_are_denied() {
        denied(run("import collections\ncollections._sys.modules['os'].system('id')"), Capability::Process);
        denied(run("import collections\ncollections._sys.modules['posix'].fork()"), Capability::Process);
        denied(run("import collections\ncollections._sys.modules['os'].execv('/bin/sh', ['sh'])"), Capability::Process);
        match run("import socket") {
            Err(SandboxError::ForbiddenImport { module, .. }) => assert_eq!(module, "socket"),
            other => panic!("{other:?}"),
        }
        for m in ["os", "subprocess", "ctypes", "sys", "importlib", "shutil"] {
            assert!(matches!(run(&format!("import {m}")), Err(SandboxError::ForbiddenImport { .. })), "{m}");
        }
        assert!(matches!(run("from os import path"), Err(SandboxError::ForbiddenImport { .. })));
        denied(run("import collections\ncollections._sys._getframe()"), Capability::Introspection);
    }

    #[test]
    fn the_kernel_stops_what_the_python_layer_would_miss() {
        kernel_refused(run_kernel_only("open('/tmp/dspy-sandbox-pwned', 'w')"));
        assert!(!Path::new("/tmp/dspy-sandbox-pwned").exists());
        kernel_refused(run_kernel_only("open('/etc/passwd').read()"));
        kernel_refused(run_kernel_only("import os\nos.fork()"));
        kernel_refused(run_kernel_only("import os\nos.system('touch /tmp/dspy-sandbox-pwned')"));
        kernel_refused(run_kernel_only("import os\nos.execv('/bin/sh', ['sh', '-c', 'id'])"));
        kernel_refused(run_kernel_only("import _socket\n_socket.socket().connect(('127.0.0.1', 9))"));
        kernel_refused(run_kernel_only("import os\nos.kill(1, 0)"));
        kernel_refused(run_kernel_only("import os\nos.unlink('/etc/hostname')"));
        kernel_refused(run_kernel_only("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))"));
        assert!(!Path::new("/tmp/dspy-sandbox-pwned").exists());
    }

    #[test]
    fn limits_are_enforced() {
        let sandbox = PythonSandbox::new().with_timeout(Duration::from_millis(1500));
        let start = std::time::Instant::now();
        assert!(matches!(crate::block_on(sandbox.execute("while True: pass")), Err(SandboxError::Timeout { .. })));
        assert!(start.elapsed() < Duration::from_secs(4));
        assert!(matches!(run("x = bytearray(10**9)"), Err(SandboxError::MemoryLimit { .. })));
        assert!(matches!(run("x = [0] * (10**9)"), Err(SandboxError::MemoryLimit { .. })));
        assert_eq!(run("x = [0] * (10**9)").unwrap_err().to_string(), "MemoryError: the code exceeded the sandbox's memory limit of 256 MiB");
    }

    #[test]
    fn errors_say_whether_the_code_is_to_blame() {
        assert!(SandboxError::Timeout { limit: Duration::from_secs(1) }.is_code_error());
        assert!(!SandboxError::Unavailable { reason: "x".into() }.is_code_error());
        let missing = PythonSandbox::new().with_python("/nonexistent/python3");
        assert!(matches!(crate::block_on(missing.execute("1")), Err(SandboxError::Unavailable { .. })));
    }
}
