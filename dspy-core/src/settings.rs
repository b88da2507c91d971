//! Settings: the default LM and adapter, process-wide or scoped to one task or thread.
//!
//! `configure` sets process defaults. `context` overrides them for one future (and the tasks
//! it spawns through [`spawn`]); `scoped` overrides them for the current thread until the
//! guard drops. Lookups prefer the innermost scope, so concurrent tasks with different LMs
//! never see each other's settings.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use crate::adapter::{Adapter, ChatAdapter};
use crate::lm::LanguageModel;
use crate::trace::TraceEntry;
use crate::retrieve::Retriever;
use crate::usage::UsageSink;

/// Settings a module call reads: which LM and adapter to use, and whether to trace.
///
/// Every field is optional; an override only replaces the fields it sets.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Settings, JSONAdapter};
/// dspy_core::configure(Settings::new().lm(Arc::new(DummyLM::new(vec![]))).adapter(Arc::new(JSONAdapter::new())));
/// assert_eq!(dspy_core::settings::current().adapter().name(), "JSONAdapter");
/// ```
#[derive(Clone, Default)]
pub struct Settings {
    lm: Option<Arc<dyn LanguageModel>>,
    adapter: Option<Arc<dyn Adapter>>,
    trace: Option<TraceSink>,
    usage: Option<UsageSink>,
    rm: Option<Arc<dyn Retriever>>,
}

/// Where traced predictor calls are collected: the calls that returned, and those whose output
/// did not parse.
#[derive(Clone, Default)]
pub(crate) struct TraceSink(pub(crate) Arc<Mutex<(Vec<TraceEntry>, Vec<crate::trace::FailedCall>)>>);

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("lm", &self.lm.as_ref().map(|lm| lm.model().to_string()))
            .field("adapter", &self.adapter.as_ref().map(|a| a.name()))
            .field("tracing", &self.trace.is_some())
            .field("rm", &self.rm.is_some())
            .finish()
    }
}

static DEFAULT_ADAPTER: LazyLock<Arc<dyn Adapter>> = LazyLock::new(|| Arc::new(ChatAdapter::new()));
static GLOBAL: LazyLock<RwLock<Arc<Settings>>> = LazyLock::new(|| RwLock::new(Arc::new(Settings::default())));

tokio::task_local! {
    static TASK: Arc<Settings>;
}

thread_local! {
    static THREAD: RefCell<Vec<Arc<Settings>>> = const { RefCell::new(Vec::new()) };
}

impl Settings {
    /// No settings (everything inherited).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the language model.
    pub fn lm(mut self, lm: impl LanguageModel + 'static) -> Self {
        self.lm = Some(lm.into_shared());
        self
    }

    /// Sets the adapter.
    pub fn adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapter = Some(adapter);
        self
    }

    /// Sets the default retriever (DSPy's `rm`), used by `Retrieve` modules without their own.
    /// Any retriever is taken by value, as [`Settings::lm`] takes any model; pass an `Arc` of it
    /// to keep a handle of your own (it is kept as it is, not wrapped again).
    ///
    /// ```
    /// use dspy_core::Settings;
    /// use dspy_core::retrieve::{Embeddings, FnEmbedder};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let embedder = FnEmbedder::new(|texts: &[String]| Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect()));
    /// let rm = Embeddings::new(["a", "bb"], embedder, 1).await.unwrap();
    /// dspy_core::configure(Settings::new().rm(rm));
    /// assert!(dspy_core::settings::current().rm().is_some());
    /// # });
    /// ```
    pub fn rm(mut self, rm: impl Retriever + 'static) -> Self {
        self.rm = Some(rm.into_shared());
        self
    }

    /// The configured retriever, if any.
    pub fn get_rm(&self) -> Option<&Arc<dyn Retriever>> {
        self.rm.as_ref()
    }

    pub(crate) fn with_trace(mut self, sink: TraceSink) -> Self {
        self.trace = Some(sink);
        self
    }

    /// The configured LM, if any.
    pub fn get_lm(&self) -> Option<&Arc<dyn LanguageModel>> {
        self.lm.as_ref()
    }

    /// The configured adapter, or the default `ChatAdapter`.
    pub fn adapter_or_default(&self) -> Arc<dyn Adapter> {
        self.adapter.clone().unwrap_or_else(|| DEFAULT_ADAPTER.clone())
    }

    pub(crate) fn trace_sink(&self) -> Option<&TraceSink> {
        self.trace.as_ref()
    }

    pub(crate) fn with_usage_sink(mut self, sink: UsageSink) -> Self {
        self.usage = Some(sink);
        self
    }

    pub(crate) fn usage_sink(&self) -> Option<&UsageSink> {
        self.usage.as_ref()
    }

    /// These settings with every field `over` sets replacing ours.
    pub fn merged(&self, over: &Settings) -> Settings {
        Settings {
            lm: over.lm.clone().or_else(|| self.lm.clone()),
            adapter: over.adapter.clone().or_else(|| self.adapter.clone()),
            trace: over.trace.clone().or_else(|| self.trace.clone()),
            usage: over.usage.clone().or_else(|| self.usage.clone()),
            rm: over.rm.clone().or_else(|| self.rm.clone()),
        }
    }
}

/// A read-only view of the settings in effect.
pub struct CurrentSettings(Arc<Settings>);

impl CurrentSettings {
    /// The LM in effect, if any.
    pub fn lm(&self) -> Option<Arc<dyn LanguageModel>> {
        self.0.lm.clone()
    }

    /// The adapter in effect (`ChatAdapter` unless configured).
    pub fn adapter(&self) -> Arc<dyn Adapter> {
        self.0.adapter_or_default()
    }

    /// The retriever in effect (`Settings::rm`), if any.
    pub fn rm(&self) -> Option<Arc<dyn Retriever>> {
        self.0.rm.clone()
    }

    pub(crate) fn inner(&self) -> &Settings {
        &self.0
    }
}

/// Sets the process-wide defaults (fields not set keep their previous value).
pub fn configure(settings: Settings) {
    let mut global = GLOBAL.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    *global = Arc::new(global.merged(&settings));
}

/// The settings in effect here: the innermost task or thread scope, else the process defaults.
pub fn current() -> CurrentSettings {
    CurrentSettings(current_arc())
}

fn current_arc() -> Arc<Settings> {
    if let Ok(s) = TASK.try_with(Arc::clone) {
        return s;
    }
    if let Some(s) = THREAD.with(|t| t.borrow().last().cloned()) {
        return s;
    }
    GLOBAL.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
}

/// Runs `fut` with `overrides` applied on top of the current settings, for that future only.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Settings, settings};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = Arc::new(DummyLM::new(vec![]));
/// let inside = settings::context(Settings::new().lm(lm), async {
///     settings::current().lm().map(|lm| lm.model().to_string())
/// }).await;
/// assert_eq!(inside.as_deref(), Some("dummy"));
/// # });
/// ```
pub async fn context<F: Future>(overrides: Settings, fut: F) -> F::Output {
    let merged = Arc::new(current_arc().merged(&overrides));
    TASK.scope(merged, fut).await
}

/// Spawns a tokio task that inherits the settings in effect where it was spawned.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let settings = current_arc();
    tokio::spawn(TASK.scope(settings, fut))
}

/// Overrides the settings for the current thread until the guard is dropped.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{JSONAdapter, Settings, settings};
/// {
///     let _guard = settings::scoped(Settings::new().adapter(Arc::new(JSONAdapter::new())));
///     assert_eq!(settings::current().adapter().name(), "JSONAdapter");
/// }
/// ```
pub fn scoped(overrides: Settings) -> ScopedSettings {
    let merged = Arc::new(current_arc().merged(&overrides));
    THREAD.with(|t| t.borrow_mut().push(merged));
    ScopedSettings { _not_send: std::marker::PhantomData }
}

/// Restores the previous thread settings when dropped.
#[must_use = "the override ends when the guard is dropped"]
pub struct ScopedSettings {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ScopedSettings {
    fn drop(&mut self) {
        THREAD.with(|t| {
            t.borrow_mut().pop();
        });
    }
}
