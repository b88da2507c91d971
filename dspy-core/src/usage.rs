//! Usage tracking: tokens and cost of every LM call made while a future runs, per model
//! (DSPy's `track_usage()` / `get_lm_usage()`). Cache hits count as calls, never as cost.
//!
//! The sink travels with the settings, so calls in [`crate::settings::spawn`]ed tasks are
//! counted too; nested [`track`]s roll their totals up into the enclosing one when they end.

use std::collections::BTreeMap;
use std::fmt;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::lm::Usage;
use crate::settings::{self, Settings};

/// Totals for one model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelUsage {
    /// LM calls (cache hits included).
    pub calls: u64,
    /// Of which answered from the cache.
    pub cache_hits: u64,
    /// Prompt tokens billed.
    pub prompt_tokens: u64,
    /// Completion tokens billed.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Dollars, over the calls whose price is known.
    pub cost: f64,
    /// Calls (not from the cache) whose cost is unknown: `cost` leaves them out.
    pub unpriced_calls: u64,
}

impl ModelUsage {
    fn add_call(&mut self, usage: &Usage, cache_hit: bool) {
        self.calls += 1;
        if cache_hit {
            self.cache_hits += 1;
            return;
        }
        self.prompt_tokens += usage.prompt_tokens;
        self.completion_tokens += usage.completion_tokens;
        self.total_tokens += usage.total_tokens;
        match usage.cost {
            Some(c) => self.cost += c,
            None => self.unpriced_calls += 1,
        }
    }

    fn merge(&mut self, o: &ModelUsage) {
        self.calls += o.calls;
        self.cache_hits += o.cache_hits;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.total_tokens += o.total_tokens;
        self.cost += o.cost;
        self.unpriced_calls += o.unpriced_calls;
    }
}

/// Usage per model (`provider/model`), as [`track`] returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsageByModel(BTreeMap<String, ModelUsage>);

impl UsageByModel {
    /// The totals of one model.
    pub fn get(&self, model: &str) -> Option<&ModelUsage> {
        self.0.get(model)
    }

    /// Every model's totals, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ModelUsage)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether no call was made.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All models together.
    pub fn total(&self) -> ModelUsage {
        let mut t = ModelUsage::default();
        self.0.values().for_each(|u| t.merge(u));
        t
    }

    /// Records one call (what LM clients call after each request).
    pub fn record(&mut self, model: &str, usage: &Usage, cache_hit: bool) {
        self.0.entry(model.to_string()).or_default().add_call(usage, cache_hit);
    }

    /// Adds another set of totals to these.
    pub fn merge(&mut self, other: &UsageByModel) {
        for (k, v) in &other.0 {
            self.0.entry(k.clone()).or_default().merge(v);
        }
    }
}

impl fmt::Display for UsageByModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (model, u) in &self.0 {
            write!(
                f,
                "{model}: {} call(s) ({} cached), {} prompt + {} completion tokens, ",
                u.calls, u.cache_hits, u.prompt_tokens, u.completion_tokens
            )?;
            if u.unpriced_calls > 0 && u.unpriced_calls == u.calls - u.cache_hits {
                write!(f, "cost unknown")?;
            } else {
                write!(f, "${:.6}", u.cost)?;
                if u.unpriced_calls > 0 {
                    write!(f, " (+{} call(s) of unknown price)", u.unpriced_calls)?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Where the calls of one [`track`] scope are added up.
#[derive(Clone, Default)]
pub(crate) struct UsageSink(Arc<Mutex<UsageByModel>>);

impl UsageSink {
    pub(crate) fn record(&self, model: &str, usage: &Usage, cache_hit: bool) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).record(model, usage, cache_hit);
    }

    fn take(&self) -> UsageByModel {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn merge(&self, other: &UsageByModel) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).merge(other);
    }

    fn snapshot(&self) -> UsageByModel {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Runs `fut` and returns its output with the usage of every LM call it made, per model.
///
/// ```
/// use dspy_core::{LanguageModel, LmRequest, Message, usage};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = dspy_core::DummyLM::new(vec![]);
/// let (_, used) = usage::track(async { usage::record("openai/gpt-4o-mini", &Default::default(), false) }).await;
/// assert_eq!(used.get("openai/gpt-4o-mini").unwrap().calls, 1);
/// # });
/// ```
pub async fn track<F: IntoFuture>(fut: F) -> (F::Output, UsageByModel) {
    let parent = settings::current().inner().usage_sink().cloned();
    let sink = UsageSink::default();
    let out = settings::context(Settings::new().with_usage_sink(sink.clone()), fut.into_future()).await;
    let used = sink.take();
    if let Some(parent) = parent {
        parent.merge(&used);
    }
    (out, used)
}

/// The usage of the innermost [`track`] scope so far (empty outside one): what a long run
/// saves in a checkpoint, before its scope has ended.
///
/// ```
/// use dspy_core::usage;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (so_far, _) = usage::track(async {
///     usage::record("openai/gpt-4o-mini", &Default::default(), false);
///     usage::so_far()
/// })
/// .await;
/// assert_eq!(so_far.total().calls, 1);
/// assert!(usage::so_far().is_empty());
/// # });
/// ```
pub fn so_far() -> UsageByModel {
    settings::current().inner().usage_sink().map(UsageSink::snapshot).unwrap_or_default()
}

/// Records one LM call in the [`track`] scope in effect (if any). LM clients call it; custom
/// [`LanguageModel`](crate::LanguageModel) implementations may too.
pub fn record(model: &str, usage: &Usage, cache_hit: bool) {
    if let Some(sink) = settings::current().inner().usage_sink() {
        sink.record(model, usage, cache_hit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nested_scopes_roll_up_and_cache_hits_cost_nothing() {
        let u = Usage { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cost: Some(0.5) };
        let (inner, outer) = track(async {
            record("a", &u, false);
            let ((), inner) = track(async {
                record("a", &u, true);
                record("b", &Usage { cost: None, ..u }, false);
            })
            .await;
            inner
        })
        .await;
        assert_eq!(inner.get("a").unwrap().cache_hits, 1);
        assert_eq!(inner.get("a").unwrap().cost, 0.0);
        let a = outer.get("a").unwrap();
        assert_eq!((a.calls, a.cache_hits, a.total_tokens, a.cost), (2, 1, 15, 0.5));
        assert_eq!(outer.get("b").unwrap().unpriced_calls, 1);
        assert_eq!(outer.total().calls, 3);
        assert!(outer.to_string().contains("a: 2 call(s) (1 cached)"));
    }
}
