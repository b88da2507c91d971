//! A predictor's identity. A leaf, so errors (and traces) can name a predictor without
//! depending on the rest of the module area.

/// Identifies one predictor instance within a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PredictorId(pub u64);

impl PredictorId {
    /// A new, unique id.
    pub fn fresh() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PredictorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}
