//! Splitting a streamed completion into per-field chunks as the adapter's markers arrive
//! (DSPy's `StreamListener`).

/// How an adapter delimits output fields in a completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldMarkers {
    /// `[[ ## field ## ]]` headers (ChatAdapter).
    Chat,
    /// One JSON object, `"field": value` (JSONAdapter).
    Json,
    /// `<field>...</field>` (XMLAdapter).
    Xml,
}

/// Turns text deltas into `(field, text)` chunks of the output fields, in order.
///
/// The chunks of a field concatenate to its text with surrounding whitespace trimmed (for a
/// JSON string, its decoded content), which is what the parsed value holds for text fields.
/// Text that might be the start of a marker is held back until it is known not to be.
#[derive(Debug)]
pub(crate) struct FieldStreamer {
    markers: FieldMarkers,
    fields: Vec<String>,
    buffer: String,
    /// Where to look for the next field start.
    scan: usize,
    state: State,
}

#[derive(Debug)]
enum State {
    Between,
    /// Inside a field's text; `emitted` is how far its text was sent.
    Text { field: String, emitted: usize, started: bool, pending_ws: String },
    /// Inside a JSON string value; `pos` is the next byte to decode.
    JsonString { field: String, pos: usize },
    /// Inside a non-string JSON value.
    JsonRaw { field: String, start: usize, pos: usize, depth: i32, in_string: bool, escaped: bool },
}

type Chunks = Vec<(String, String)>;

impl FieldStreamer {
    /// A streamer for these output fields in this format.
    pub(crate) fn new(markers: FieldMarkers, fields: &[&str]) -> Self {
        FieldStreamer {
            markers,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            buffer: String::new(),
            scan: 0,
            state: State::Between,
        }
    }

    /// Feeds more text; returns the chunks it completes.
    pub(crate) fn push(&mut self, delta: &str) -> Chunks {
        self.buffer.push_str(delta);
        let mut out = Vec::new();
        self.advance(false, &mut out);
        out
    }

    /// Flushes what was held back at the end of the stream.
    pub(crate) fn finish(&mut self) -> Chunks {
        let mut out = Vec::new();
        self.advance(true, &mut out);
        out
    }

    fn advance(&mut self, at_end: bool, out: &mut Chunks) {
        loop {
            let progressed = match std::mem::replace(&mut self.state, State::Between) {
                State::Between => self.find_start(),
                State::Text { field, emitted, started, pending_ws } => {
                    self.text_field(field, emitted, started, pending_ws, at_end, out)
                }
                State::JsonString { field, pos } => self.json_string(field, pos, at_end, out),
                State::JsonRaw { field, start, pos, depth, in_string, escaped } => {
                    self.json_raw(field, start, pos, depth, in_string, escaped, at_end, out)
                }
            };
            if !progressed {
                return;
            }
        }
    }

    /// Looks for the start of the next output field; true when found.
    fn find_start(&mut self) -> bool {
        let hay = &self.buffer[self.scan..];
        let found = self
            .fields
            .iter()
            .filter_map(|f| {
                let marker = match self.markers {
                    FieldMarkers::Chat => format!("[[ ## {f} ## ]]"),
                    FieldMarkers::Xml => format!("<{f}>"),
                    FieldMarkers::Json => format!("\"{f}\""),
                };
                hay.find(&marker).map(|i| (i, marker.len(), f.clone()))
            })
            .min_by_key(|(i, _, _)| *i);
        let Some((at, len, field)) = found else { return false };
        let content = self.scan + at + len;
        match self.markers {
            FieldMarkers::Json => {
                // `"field"` then `:` then the value; wait until the value's first character.
                let rest = &self.buffer[content..];
                let trimmed = rest.trim_start();
                let Some(after_colon) = trimmed.strip_prefix(':') else {
                    if trimmed.is_empty() {
                        return false; // need more text
                    }
                    self.scan = content; // a key elsewhere (e.g. inside a value); keep looking
                    return true;
                };
                let value = after_colon.trim_start();
                let Some(first) = value.chars().next() else { return false };
                let value_start = self.buffer.len() - value.len();
                self.fields.retain(|f| *f != field);
                self.state = if first == '"' {
                    State::JsonString { field, pos: value_start + 1 }
                } else {
                    State::JsonRaw { field, start: value_start, pos: value_start, depth: 0, in_string: false, escaped: false }
                };
            }
            _ => {
                self.fields.retain(|f| *f != field);
                self.state = State::Text { field, emitted: content, started: false, pending_ws: String::new() };
            }
        }
        true
    }

    fn end_marker(&self, field: &str) -> String {
        match self.markers {
            FieldMarkers::Xml => format!("</{field}>"),
            _ => "[[ ## ".to_string(),
        }
    }

    fn text_field(&mut self, field: String, emitted: usize, started: bool, pending_ws: String, at_end: bool, out: &mut Chunks) -> bool {
        let end = self.end_marker(&field);
        let rest = &self.buffer[emitted..];
        let (text_end, closed) = match rest.find(&end) {
            Some(i) => (emitted + i, true),
            None if at_end => (self.buffer.len(), true),
            None => (self.buffer.len() - held_back(rest, &end), false),
        };
        let mut started = started;
        let mut pending = pending_ws;
        let mut chunk = String::new();
        for c in self.buffer[emitted..text_end].chars() {
            if c.is_whitespace() {
                if started {
                    pending.push(c);
                }
            } else {
                started = true;
                chunk.push_str(&pending);
                pending.clear();
                chunk.push(c);
            }
        }
        if !chunk.is_empty() {
            out.push((field.clone(), chunk));
        }
        if closed {
            self.scan = text_end;
            self.state = State::Between;
            true
        } else {
            self.state = State::Text { field, emitted: text_end, started, pending_ws: pending };
            false
        }
    }

    fn json_string(&mut self, field: String, pos: usize, at_end: bool, out: &mut Chunks) -> bool {
        let bytes = self.buffer.as_bytes();
        let mut chunk = String::new();
        let mut i = pos;
        let mut closed = false;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    closed = true;
                    i += 1;
                    break;
                }
                b'\\' => {
                    let Some(&e) = bytes.get(i + 1) else { break };
                    let (c, used) = match e {
                        b'n' => ('\n', 2),
                        b't' => ('\t', 2),
                        b'r' => ('\r', 2),
                        b'b' => ('\u{8}', 2),
                        b'f' => ('\u{c}', 2),
                        b'u' => match self.buffer.get(i + 2..i + 6).and_then(|h| u32::from_str_radix(h, 16).ok()) {
                            Some(code) => (char::from_u32(code).unwrap_or('\u{fffd}'), 6),
                            None if i + 6 > bytes.len() => break,
                            None => ('u', 2),
                        },
                        other => (other as char, 2),
                    };
                    chunk.push(c);
                    i += used;
                }
                _ => {
                    let c = self.buffer[i..].chars().next().expect("in bounds");
                    chunk.push(c);
                    i += c.len_utf8();
                }
            }
        }
        if !chunk.is_empty() {
            out.push((field.clone(), chunk));
        }
        if closed || at_end {
            self.scan = i;
            self.state = State::Between;
            closed
        } else {
            self.state = State::JsonString { field, pos: i };
            false
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn json_raw(
        &mut self,
        field: String,
        start: usize,
        pos: usize,
        depth: i32,
        in_string: bool,
        escaped: bool,
        at_end: bool,
        out: &mut Chunks,
    ) -> bool {
        let (mut depth, mut in_string, mut escaped) = (depth, in_string, escaped);
        let bytes = self.buffer.as_bytes();
        let mut i = pos;
        let mut end = None;
        while i < bytes.len() {
            let b = bytes[i];
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' if depth > 0 => depth -= 1,
                    b',' | b'}' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        let stop = end.unwrap_or(if at_end { bytes.len() } else { i });
        let text = self.buffer[start..stop].trim();
        if end.is_some() || at_end {
            if !text.is_empty() {
                out.push((field, text.to_string()));
            }
            self.scan = stop;
            self.state = State::Between;
            end.is_some()
        } else {
            self.state = State::JsonRaw { field, start, pos: i, depth, in_string, escaped };
            false
        }
    }
}

/// How many trailing bytes of `text` could be the start of `marker` (held back until known).
fn held_back(text: &str, marker: &str) -> usize {
    (1..marker.len().min(text.len() + 1))
        .rev()
        .find(|&n| text.is_char_boundary(text.len() - n) && marker.starts_with(&text[text.len() - n..]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(markers: FieldMarkers, fields: &[&str], text: &str, step: usize) -> Vec<(String, String)> {
        let mut s = FieldStreamer::new(markers, fields);
        let mut chunks = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(step) {
            chunks.extend(s.push(&piece.iter().collect::<String>()));
        }
        chunks.extend(s.finish());
        chunks
    }

    fn joined(chunks: &[(String, String)], field: &str) -> String {
        chunks.iter().filter(|(f, _)| f == field).map(|(_, t)| t.as_str()).collect()
    }

    #[test]
    fn chat_fields_in_any_chunking() {
        let text = "[[ ## reasoning ## ]]\nStep one.\nStep two.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]";
        for step in [1, 2, 3, 7, 100] {
            let chunks = run(FieldMarkers::Chat, &["reasoning", "answer"], text, step);
            assert_eq!(joined(&chunks, "reasoning"), "Step one.\nStep two.", "step {step}");
            assert_eq!(joined(&chunks, "answer"), "Paris", "step {step}");
            let order: Vec<&str> = chunks.iter().map(|(f, _)| f.as_str()).collect();
            let first_answer = order.iter().position(|f| *f == "answer").unwrap();
            assert!(order[..first_answer].iter().all(|f| *f == "reasoning"));
        }
    }

    #[test]
    fn json_strings_are_decoded_and_raw_values_kept() {
        let text = "{\n  \"answer\": \"Par\\\"is\\n\\u00e9\",\n  \"n\": [1, {\"a\": 2}],\n  \"ok\": true\n}";
        for step in [1, 3, 100] {
            let chunks = run(FieldMarkers::Json, &["answer", "n", "ok"], text, step);
            assert_eq!(joined(&chunks, "answer"), "Par\"is\né", "step {step}");
            assert_eq!(joined(&chunks, "n"), "[1, {\"a\": 2}]");
            assert_eq!(joined(&chunks, "ok"), "true");
        }
    }

    #[test]
    fn xml_fields() {
        let chunks = run(FieldMarkers::Xml, &["answer"], "<answer>\n Paris \n</answer>", 2);
        assert_eq!(joined(&chunks, "answer"), "Paris");
    }

    #[test]
    fn incremental_delivery() {
        let mut s = FieldStreamer::new(FieldMarkers::Chat, &["answer"]);
        assert!(s.push("[[ ## answer ## ]]\nHel").iter().any(|(_, t)| t == "Hel"));
        assert_eq!(s.push("lo wor"), vec![("answer".to_string(), "lo wor".to_string())]);
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn field_streamer() {
        use crate::adapter::{FieldMarkers, FieldStreamer};
        let mut s = FieldStreamer::new(FieldMarkers::Chat, &["answer"]);
        let mut chunks = Vec::new();
        for delta in ["[[ ## ans", "wer ## ]]\nPar", "is\n\n[[ ## compl", "eted ## ]]"] {
            chunks.extend(s.push(delta));
        }
        chunks.extend(s.finish());
        let text: String = chunks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(text, "Paris");
    }
}
