//! The one progress bar (of `Evaluate`, `Parallel` and the optimizers): indicatif on stderr,
//! drawn only when stderr is a terminal and the caller asked for it.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that may be hidden; every method is a no-op when it is.
///
/// ```
/// use dspy_core::evaluate::Progress;
/// let bar = Progress::new(3, false); // hidden: nothing is drawn
/// bar.advance("Bootstrapping: 1 demo");
/// bar.set(3, "Bootstrapping: 2 demos");
/// bar.finish();
/// assert_eq!(bar.total(), 3);
/// ```
pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
}

impl Progress {
    /// A bar over `total` items, shown when `enabled` and stderr is a terminal.
    pub fn new(total: usize, enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{msg}: {percent:>3}%|{wide_bar}| {pos}/{len} [{elapsed}<{eta}]") {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar, total }
    }

    /// How many items there are.
    pub fn total(&self) -> usize {
        self.total
    }

    /// `done` items finished; the message describes them.
    pub fn set(&self, done: usize, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(message.to_string());
        }
    }

    /// One more item finished; the message describes the state.
    pub fn advance(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(message.to_string());
        }
    }

    /// Leaves the final state on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
