//! Optimizers (placeholder).
