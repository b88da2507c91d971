//! `ApiKey`: a credential that cannot leak through `Debug`, `Display`, logs or serialization.

use std::fmt;

/// An API key. Its `Debug` and `Display` print `[REDACTED]`, it implements no `Serialize`, and
/// the only way to read it is [`ApiKey::expose`], which the HTTP layer calls to build the auth
/// header (marked sensitive, so HTTP-level logging skips it too).
///
/// ```
/// use dspy_core::lm::ApiKey;
/// let key = ApiKey::new("sk-very-secret");
/// assert_eq!(format!("{key:?} {key}"), "ApiKey([REDACTED]) [REDACTED]");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for building the request's auth header; never log or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of this key replaced by `[REDACTED]`, for error messages
    /// that echo what the client sent (some servers quote the key they rejected).
    pub fn scrub(&self, text: &str) -> String {
        scrub(text, Some(self))
    }
}

/// `text` with `key` (when there is one, and it is long enough to be a real key) replaced.
pub(crate) fn scrub(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(k) if k.0.len() >= 4 && text.contains(&k.0) => text.replace(&k.0, "[REDACTED]"),
        _ => text.to_string(),
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey(s)
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_echoed_keys() {
        let k = ApiKey::new("sk-abcdef");
        assert_eq!(k.scrub("Incorrect API key provided: sk-abcdef."), "Incorrect API key provided: [REDACTED].");
        assert_eq!(scrub("x", None), "x");
    }
}
