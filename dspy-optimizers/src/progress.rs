//! The progress bar the optimizers draw on stderr. Its own module so that the engine (which
//! draws it) and the report (which reads the engine's budget) do not depend on each other.

use std::io::IsTerminal;

/// A progress bar on stderr (indicatif), drawn only when enabled and stderr is a terminal;
/// every method is a no-op otherwise.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A bar over `total` steps, labelled `label`.
    pub(crate) fn new(total: usize, label: &str, enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template("{msg}: {percent:>3}%|{wide_bar}| {pos}/{len} [{elapsed}<{eta}]") {
                bar.set_style(style);
            }
            bar.set_message(label.to_string());
            bar
        });
        Progress { bar }
    }

    /// One more step done; `message` describes the state.
    pub(crate) fn advance(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(message.to_string());
        }
    }

    /// Leaves the final state on screen.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn progress() {
        let bar = super::Progress::new(3, "Bootstrapping", false);
        bar.advance("1 demo");
        bar.finish();
    }
}
