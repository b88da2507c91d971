//! Incremental stream framing: server-sent events and newline-delimited JSON, fed with
//! network chunks as they arrive (a chunk may end mid-line or mid-character).

use super::provider::Framing;

/// One framed event: the SSE `event:` name (if any) and its data (or one NDJSON line).
pub(crate) type Frame = (Option<String>, String);

/// Splits a byte stream into frames.
pub(crate) struct Framer {
    framing: Framing,
    buf: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl Framer {
    pub(crate) fn new(framing: Framing) -> Self {
        Framer { framing, buf: Vec::new(), event: None, data: None }
    }

    /// Feeds one chunk; returns the frames it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(chunk);
        let mut frames = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let line = String::from_utf8_lossy(&self.buf[start..end]).trim_end_matches('\r').to_string();
            start = end + 1;
            self.line(&line, &mut frames);
        }
        self.buf.drain(..start);
        frames
    }

    /// The frame left when the stream ends without a final newline / blank line.
    pub(crate) fn finish(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        if !self.buf.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).trim_end_matches('\r').to_string();
            self.line(&line, &mut frames);
        }
        if self.framing == Framing::Sse {
            self.dispatch(&mut frames);
        }
        frames
    }

    fn dispatch(&mut self, frames: &mut Vec<Frame>) {
        if let Some(data) = self.data.take() {
            frames.push((self.event.take(), data));
        }
        self.event = None;
    }

    fn line(&mut self, line: &str, frames: &mut Vec<Frame>) {
        match self.framing {
            Framing::Ndjson => {
                if !line.trim().is_empty() {
                    frames.push((None, line.to_string()));
                }
            }
            Framing::Sse => {
                if line.is_empty() {
                    self.dispatch(frames);
                    return;
                }
                if line.starts_with(':') {
                    return;
                }
                let (field, value) = match line.split_once(':') {
                    Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                    None => (line, ""),
                };
                match field {
                    "data" => match &mut self.data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(value);
                        }
                        None => self.data = Some(value.to_string()),
                    },
                    "event" => self.event = Some(value.to_string()),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_across_chunk_boundaries() {
        let mut f = Framer::new(Framing::Sse);
        let text = "event: message_start\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: ping\n\ndata: [DONE]\n\n";
        let mut frames = Vec::new();
        for chunk in text.as_bytes().chunks(3) {
            frames.extend(f.push(chunk));
        }
        frames.extend(f.finish());
        assert_eq!(frames, vec![(Some("message_start".into()), "{\"a\":\n1}".into()), (None, "[DONE]".into())]);
    }

    #[test]
    fn ndjson_with_split_utf8_and_no_final_newline() {
        let mut f = Framer::new(Framing::Ndjson);
        let text = "{\"t\":\"é\"}\n\n{\"t\":2}".as_bytes();
        let mut frames = f.push(&text[..7]);
        frames.extend(f.push(&text[7..]));
        frames.extend(f.finish());
        assert_eq!(frames, vec![(None, "{\"t\":\"é\"}".into()), (None, "{\"t\":2}".into())]);
    }
}
