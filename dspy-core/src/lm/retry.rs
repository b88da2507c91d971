//! When and how long to wait before retrying a failed attempt: exponential backoff with
//! jitter, or exactly what the server's `Retry-After` asks.

use std::time::{Duration, SystemTime};

/// The retry schedule of an LM.
///
/// Retried: 429, 408, 5xx, connection failures, timeouts. Never retried: 400, 401, 403, 404,
/// 422 and other client errors (the same request would fail the same way).
///
/// ```
/// use std::time::Duration;
/// use dspy_core::lm::RetryPolicy;
/// let p = RetryPolicy { num_retries: 3, ..RetryPolicy::default() };
/// let d = p.delay(2, None);
/// assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(2));
/// assert_eq!(p.delay(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (DSPy's `num_retries`, default 3).
    pub num_retries: u32,
    /// The backoff before the first retry; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a server asking for longer ends the retries.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            num_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (0 for the first): the server's
    /// `Retry-After` when it sent one, else `initial · 2^retry` (capped) with "equal jitter"
    /// (half fixed, half random) so concurrent clients do not retry in lockstep.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra;
        }
        let exp = self.initial_backoff.saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX)).min(self.max_backoff);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// A `Retry-After` header value: delay seconds (`"2"`, `"1.5"`) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.25", now), Some(Duration::from_millis(250)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy { initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_millis(500), ..RetryPolicy::default() };
        for retry in 0..40 {
            let d = p.delay(retry, None);
            let exp = Duration::from_millis(100 * 2u64.pow(retry.min(10))).min(Duration::from_millis(500));
            assert!(d >= exp / 2 && d <= exp, "{retry}: {d:?}");
        }
    }
}
