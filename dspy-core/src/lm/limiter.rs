//! Client-side limits of one LM: at most N requests in flight, and optionally at most R
//! request starts per minute, spaced evenly (so a batch never bursts into a provider's limit).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The limits of one LM (shared by its clones).
#[derive(Debug)]
pub(crate) struct Limiter {
    slots: Option<Arc<Semaphore>>,
    pace: Option<Pace>,
}

#[derive(Debug)]
struct Pace {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

/// Held while a request is in flight.
pub(crate) struct Permit {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Permit {
    /// A permit holding no slot (replaced by the real one by whoever acquired it).
    pub(crate) fn placeholder() -> Self {
        Permit { _slot: None }
    }
}

impl Limiter {
    pub(crate) fn new(max_concurrency: Option<usize>, requests_per_minute: Option<u32>) -> Self {
        Limiter {
            slots: max_concurrency.map(|n| Arc::new(Semaphore::new(n.max(1)))),
            pace: requests_per_minute
                .filter(|&r| r > 0)
                .map(|r| Pace { interval: Duration::from_secs(60) / r, next: Mutex::new(None) }),
        }
    }

    /// Waits for a free slot and for this request's turn in the per-minute schedule.
    pub(crate) async fn acquire(&self) -> Permit {
        let slot = match &self.slots {
            // The semaphore is never closed, so acquiring cannot fail.
            Some(s) => Arc::clone(s).acquire_owned().await.ok(),
            None => None,
        };
        if let Some(pace) = &self.pace {
            let at = {
                let mut next = pace.next.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let at = next.map_or(now, |n| n.max(now));
                *next = Some(at + pace.interval);
                at
            };
            tokio::time::sleep_until(at).await;
        }
        Permit { _slot: slot }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_requests_per_minute() {
        let l = Limiter::new(None, Some(120));
        let start = Instant::now();
        for _ in 0..3 {
            let _p = l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn bounds_concurrency() {
        let l = Arc::new(Limiter::new(Some(2), None));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        let l2 = Arc::clone(&l);
        let third = tokio::spawn(async move { l2.acquire().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!third.is_finished());
        drop(a);
        third.await.unwrap();
    }
}
