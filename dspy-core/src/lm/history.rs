//! The global call history: a bounded ring of the last LM calls (DSPy's `GLOBAL_HISTORY`,
//! 10 000 entries), and [`inspect_history`] to print the last few readably.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Content, ContentPart, LmConfig, LmOutput, Message, Usage};

/// One recorded LM call.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// When the call finished.
    pub timestamp: SystemTime,
    /// The LM (`provider/model`).
    pub model: String,
    /// The messages sent.
    pub messages: Vec<Message>,
    /// The settings sent.
    pub config: LmConfig,
    /// The completions.
    pub outputs: Vec<LmOutput>,
    /// Tokens and cost (zero for cache hits).
    pub usage: Usage,
    /// Wall-clock time of the call, retries and waits included.
    pub latency: Duration,
    /// Whether it was answered from the cache.
    pub cache_hit: bool,
}

struct Ring {
    entries: VecDeque<HistoryEntry>,
    capacity: usize,
}

static HISTORY: LazyLock<Mutex<Ring>> =
    LazyLock::new(|| Mutex::new(Ring { entries: VecDeque::new(), capacity: DEFAULT_CAPACITY }));

/// DSPy's `MAX_HISTORY_SIZE`.
const DEFAULT_CAPACITY: usize = 10_000;

/// Sets how many calls the history keeps (0 turns it off; DSPy keeps 10 000).
pub fn set_history_capacity(capacity: usize) {
    let mut ring = HISTORY.lock().unwrap_or_else(|p| p.into_inner());
    ring.capacity = capacity;
    while ring.entries.len() > capacity {
        ring.entries.pop_front();
    }
}

pub(crate) fn record(entry: HistoryEntry) {
    let mut ring = HISTORY.lock().unwrap_or_else(|p| p.into_inner());
    if ring.capacity == 0 {
        return;
    }
    if ring.entries.len() >= ring.capacity {
        ring.entries.pop_front();
    }
    ring.entries.push_back(entry);
}

/// The last `n` calls, oldest first.
pub fn history(n: usize) -> Vec<HistoryEntry> {
    let ring = HISTORY.lock().unwrap_or_else(|p| p.into_inner());
    ring.entries.iter().skip(ring.entries.len().saturating_sub(n)).cloned().collect()
}

/// Forgets every recorded call.
pub fn clear_history() {
    HISTORY.lock().unwrap_or_else(|p| p.into_inner()).entries.clear();
}

/// Prints the last `n` calls (messages, response, usage, latency) to stdout, as DSPy's
/// `dspy.inspect_history(n)` does; colored when stdout is a terminal.
pub fn inspect_history(n: usize) {
    print!("{}", format_history_with(n, std::io::stdout().is_terminal()));
}

/// What [`inspect_history`] prints, without colors.
///
/// ```
/// let text = dspy_core::lm::format_history(1);
/// assert!(text.is_empty() || text.contains("Response:"));
/// ```
pub fn format_history(n: usize) -> String {
    format_history_with(n, false)
}

fn format_history_with(n: usize, color: bool) -> String {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    let (red, green, blue) = ("31", "32", "34");
    let mut out = String::new();
    for e in history(n) {
        out.push_str("\n\n\n\n");
        let mut header = format!("[{}] {} · {} ms", iso8601(e.timestamp), e.model, e.latency.as_millis());
        let _ = write!(
            header,
            " · {} prompt + {} completion tokens",
            e.usage.prompt_tokens, e.usage.completion_tokens
        );
        if let Some(cost) = e.usage.cost {
            let _ = write!(header, " · ${cost:.6}");
        }
        if e.cache_hit {
            header.push_str(" · cache hit");
        }
        let _ = writeln!(out, "{}\n", paint(blue, &header));
        for m in &e.messages {
            let role = format!("{:?} message:", m.role);
            let _ = writeln!(out, "{}\n", paint(red, &role));
            match &m.content {
                Content::Text(t) => {
                    let _ = writeln!(out, "{}", t.trim());
                }
                Content::Parts(parts) => {
                    for p in parts {
                        match p {
                            ContentPart::Text { text } => {
                                let _ = writeln!(out, "{}", text.trim());
                            }
                            ContentPart::ImageUrl { image_url } => {
                                let shown = match image_url.url.split_once("base64,") {
                                    Some((head, data)) => format!("<{head}base64,<IMAGE BASE 64 ENCODED({})>", data.len()),
                                    None => format!("<image_url: {}>", image_url.url),
                                };
                                let _ = writeln!(out, "{}", paint(blue, &shown));
                            }
                            ContentPart::InputAudio { input_audio } => {
                                let shown = format!(
                                    "<audio format='{}' base64-encoded, length={}>",
                                    input_audio.format,
                                    input_audio.data.len()
                                );
                                let _ = writeln!(out, "{}", paint(blue, &shown));
                            }
                        }
                    }
                }
            }
            out.push_str("\n\n");
        }
        if let Some(first) = e.outputs.first() {
            let _ = writeln!(out, "{}\n", paint(red, "Response:"));
            let _ = writeln!(out, "{}", paint(green, first.text.trim()));
            if !first.tool_calls.is_empty() {
                let _ = writeln!(out, "{}", paint(red, "Tool calls:"));
                for c in &first.tool_calls {
                    let _ = writeln!(out, "{}", paint(green, &format!("{}: {}", c.name, c.args)));
                }
            }
            if e.outputs.len() > 1 {
                let _ = write!(out, "{}", paint(red, &format!(" \t (and {} other completions)", e.outputs.len() - 1)));
            }
        }
    }
    if !out.is_empty() {
        out.push_str("\n\n\n\n");
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) without a date library.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_millis(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_secs(1_767_225_599)), "2025-12-31T23:59:59.000Z");
    }
}
