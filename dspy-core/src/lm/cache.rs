//! The response cache, as DSPy's: an in-memory LRU (moka) in front of a persistent on-disk
//! cache (cacache: content-addressed files written atomically, an append-only index whose
//! lines carry their own hash, so concurrent writers — tasks or processes — never see a torn
//! entry). Keys hash the canonical request without the API key or base URL.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::provider::ModelType;
use super::{LmRequest, LmResponse};

/// Where and how responses are cached.
///
/// ```
/// use dspy_core::lm::CacheConfig;
/// let c = CacheConfig::default().dir("/tmp/my-dspy-cache");
/// assert!(c.memory && c.disk);
/// assert!(!CacheConfig::disabled().memory);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Keep responses in memory (an LRU of at most `memory_max_entries`).
    pub memory: bool,
    /// Keep responses on disk under `dir`.
    pub disk: bool,
    /// The disk cache directory.
    pub dir: PathBuf,
    /// Capacity of the in-memory LRU.
    pub memory_max_entries: u64,
}

impl Default for CacheConfig {
    /// Memory and disk on, in [`default_cache_dir`] (as DSPy).
    fn default() -> Self {
        CacheConfig { memory: true, disk: true, dir: default_cache_dir(), memory_max_entries: 1_000_000 }
    }
}

impl CacheConfig {
    /// No caching at all.
    pub fn disabled() -> Self {
        CacheConfig { memory: false, disk: false, ..CacheConfig::default() }
    }

    /// Memory only: nothing written to disk.
    pub fn memory_only() -> Self {
        CacheConfig { disk: false, ..CacheConfig::default() }
    }

    /// The same, with the disk cache in `dir`.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }
}

/// DSPy's default cache directory: `$DSPY_CACHEDIR`, else `~/.dspy_cache`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DSPY_CACHEDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")) {
        Some(home) => Path::new(&home).join(".dspy_cache"),
        None => PathBuf::from(".dspy_cache"),
    }
}

/// A two-level response cache. LMs use the process-wide one ([`configure_cache`]) unless
/// given their own.
pub struct Cache {
    memory: Option<moka::sync::Cache<String, Arc<LmResponse>>>,
    dir: Option<PathBuf>,
    warned_corrupt: AtomicBool,
    warned_write: AtomicBool,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("memory", &self.memory.is_some()).field("dir", &self.dir).finish()
    }
}

/// The version of the on-disk entry format; other versions are misses.
const FORMAT: u64 = 1;

impl Cache {
    /// A cache as configured.
    pub fn new(config: CacheConfig) -> Self {
        Cache {
            memory: config.memory.then(|| moka::sync::Cache::new(config.memory_max_entries.max(1))),
            dir: config.disk.then_some(config.dir),
            warned_corrupt: AtomicBool::new(false),
            warned_write: AtomicBool::new(false),
        }
    }

    /// Whether anything is cached at all.
    pub fn is_enabled(&self) -> bool {
        self.memory.is_some() || self.dir.is_some()
    }

    /// The disk directory, when the disk level is on.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Forgets the in-memory entries (the disk keeps them).
    pub fn clear_memory(&self) {
        if let Some(m) = &self.memory {
            m.invalidate_all();
        }
    }

    /// The cached response for `key`, if any. A disk entry that cannot be read back (corrupt,
    /// truncated, another format) is a miss: reported once per cache, removed, and overwritten
    /// by the next [`Cache::put`].
    pub async fn get(&self, key: &str) -> Option<LmResponse> {
        if let Some(hit) = self.memory.as_ref().and_then(|m| m.get(key)) {
            return Some((*hit).clone());
        }
        let dir = self.dir.clone()?;
        // One blocking-pool hop for the whole read (index lookup, content, integrity check,
        // decoding) rather than one per file operation.
        let k = key.to_string();
        let read = tokio::task::spawn_blocking(move || match cacache::read_sync(&dir, &k) {
            Ok(bytes) => decode(&bytes).map(Some),
            Err(cacache::Error::EntryNotFound(..)) => Ok(None),
            Err(e) => Err(e.to_string()),
        })
        .await
        .unwrap_or_else(|e| Err(format!("the cache reader failed: {e}")));
        match read {
            Ok(Some(response)) => {
                if let Some(m) = &self.memory {
                    m.insert(key.to_string(), Arc::new(response.clone()));
                }
                Some(response)
            }
            Ok(None) => None,
            Err(reason) => {
                if let Some(dir) = &self.dir {
                    self.corrupt(dir, key, &reason).await;
                }
                None
            }
        }
    }

    /// Stores `response` under `key` in every level. Disk failures are reported once, never
    /// raised: a cache that cannot write only makes runs slower.
    pub async fn put(&self, key: &str, response: &LmResponse) {
        if let Some(m) = &self.memory {
            m.insert(key.to_string(), Arc::new(response.clone()));
        }
        let Some(dir) = self.dir.clone() else { return };
        let bytes = match serde_json::to_vec(&json!({"format": FORMAT, "response": response})) {
            Ok(b) => b,
            Err(_) => return,
        };
        let k = key.to_string();
        let d = dir.clone();
        let written = tokio::task::spawn_blocking(move || cacache::write_sync(&d, &k, bytes).map(|_| ()).map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        if let Err(e) = written
            && !self.warned_write.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "could not write to the LM disk cache; continuing without it");
        }
    }

    async fn corrupt(&self, dir: &Path, key: &str, reason: &str) {
        if !self.warned_corrupt.swap(true, Ordering::Relaxed) {
            tracing::warn!(dir = %dir.display(), key, reason, "ignoring an unreadable LM disk cache entry; it will be overwritten (reported once)");
        }
        if let Ok(Some(meta)) = cacache::metadata(dir, key).await {
            let _ = cacache::remove_hash(dir, &meta.integrity).await;
        }
        let _ = cacache::remove(dir, key).await;
    }
}

fn decode(bytes: &[u8]) -> Result<LmResponse, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("format").and_then(Value::as_u64) != Some(FORMAT) {
        return Err("unknown entry format".into());
    }
    serde_json::from_value(v.get("response").cloned().unwrap_or(Value::Null)).map_err(|e| format!("not a response: {e}"))
}

/// Request settings that never enter a key (DSPy's `ignored_args_for_cache_key`).
const IGNORED: &[&str] = &["api_key", "api_base", "base_url"];

/// The cache key of a request: SHA-256 of its canonical JSON (keys sorted) — model, model
/// type, messages, settings (with `rollout_id`), response format and tools; never the API key
/// or base URL, so the same request to a mirror of the same model hits.
///
/// ```
/// use dspy_core::{LmRequest, Message, lm::{ModelType, cache_key}};
/// let mut r = LmRequest { messages: vec![Message::user("hi")], ..Default::default() };
/// let k1 = cache_key("openai/gpt-4o-mini", ModelType::Chat, &r);
/// r.config.rollout_id = Some(1);
/// assert_ne!(k1, cache_key("openai/gpt-4o-mini", ModelType::Chat, &r));
/// assert_eq!(k1.len(), 64);
/// ```
pub fn cache_key(model: &str, model_type: ModelType, request: &LmRequest) -> String {
    let mut config = request.config.clone();
    config.extra.retain(|k, _| !IGNORED.contains(&k.as_str()));
    let v = json!({
        "model": model,
        "model_type": model_type,
        "messages": request.messages,
        "config": config,
        "response_format": request.response_format,
        "tools": request.tools,
    });
    let mut canonical = String::new();
    write_canonical(&v, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with object keys sorted at every level (serde_json keeps insertion order here).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

static GLOBAL: LazyLock<RwLock<Option<Arc<Cache>>>> = LazyLock::new(|| RwLock::new(None));

/// Replaces the process-wide cache (DSPy's `dspy.configure_cache`): on, off, memory only, or
/// another directory. LMs built without their own cache use it from their next call.
///
/// ```
/// use dspy_core::lm::{CacheConfig, configure_cache};
/// configure_cache(CacheConfig::memory_only());
/// ```
pub fn configure_cache(config: CacheConfig) {
    *GLOBAL.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(Cache::new(config)));
}

/// The process-wide cache (built from [`CacheConfig::default`] on first use).
pub fn global_cache() -> Arc<Cache> {
    if let Some(c) = GLOBAL.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return Arc::clone(c);
    }
    let mut g = GLOBAL.write().unwrap_or_else(|p| p.into_inner());
    Arc::clone(g.get_or_insert_with(|| Arc::new(Cache::new(CacheConfig::default()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn canonical_json_sorts_keys() {
        let mut a = Map::new();
        a.insert("b".into(), json!(1));
        a.insert("a".into(), json!({"y": [1, {"d": 2, "c": 3}], "x": "é\""}));
        let mut s = String::new();
        write_canonical(&Value::Object(a), &mut s);
        assert_eq!(s, r#"{"a":{"x":"é\"","y":[1,{"c":3,"d":2}]},"b":1}"#);
    }

    #[test]
    fn key_ignores_credentials_in_extra() {
        let mut r = LmRequest::default();
        let k = cache_key("m/x", ModelType::Chat, &r);
        r.config.extra.insert("api_base".into(), json!("http://elsewhere"));
        assert_eq!(k, cache_key("m/x", ModelType::Chat, &r));
        r.config.extra.insert("seed".into(), json!(1));
        assert_ne!(k, cache_key("m/x", ModelType::Chat, &r));
    }
}

/// Which cache an LM uses.
#[derive(Clone, Debug)]
pub(crate) enum CacheChoice {
    /// The process-wide one, as configured at call time.
    Global,
    /// None.
    Off,
    /// Its own.
    Own(Arc<Cache>),
}
