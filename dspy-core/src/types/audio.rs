//! `Audio`: an audio input, sent to the LM as an `input_audio` content part.

use std::fmt;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::MediaError;

/// Audio given to the LM: base64 data and its format (`wav`, `mp3`).
///
/// ```
/// use dspy_core::Audio;
/// let wav = b"RIFF\x24\0\0\0WAVEfmt ";
/// let clip = Audio::from_bytes(wav, None).unwrap();
/// assert_eq!(clip.format(), "wav");
/// assert!(Audio::from_bytes(b"????", None).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Audio {
    data: String,
    format: String,
}

fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        return Some("wav");
    }
    if bytes.starts_with(b"ID3") || (bytes.len() >= 2 && bytes[0] == 0xff && bytes[1] & 0xe0 == 0xe0) {
        return Some("mp3");
    }
    None
}

const FORMATS: &[&str] = &["wav", "mp3"];

impl Audio {
    /// Audio from its bytes; the format is detected unless given.
    pub fn from_bytes(bytes: &[u8], format: Option<&str>) -> Result<Self, MediaError> {
        let format = match format {
            Some(f) if FORMATS.contains(&f) => f,
            Some(f) => return Err(MediaError::UnsupportedFormat(format!("audio format `{f}` (supported: wav, mp3)"))),
            None => sniff(bytes).ok_or_else(|| MediaError::UnsupportedFormat("not a WAV or MP3 file".into()))?,
        };
        Ok(Audio { data: base64::engine::general_purpose::STANDARD.encode(bytes), format: format.to_string() })
    }

    /// Audio already base64-encoded.
    pub fn from_base64(data: impl Into<String>, format: &str) -> Result<Self, MediaError> {
        let data = data.into();
        base64::engine::general_purpose::STANDARD.decode(&data).map_err(|e| MediaError::InvalidBase64(e.to_string()))?;
        if !FORMATS.contains(&format) {
            return Err(MediaError::UnsupportedFormat(format!("audio format `{format}` (supported: wav, mp3)")));
        }
        Ok(Audio { data, format: format.to_string() })
    }

    /// Audio read from a file (format detected from its bytes).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, MediaError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| MediaError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(&bytes, None).map_err(|e| match e {
            MediaError::UnsupportedFormat(why) => MediaError::UnsupportedFormat(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    /// The base64 data.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The format (`wav`, `mp3`).
    pub fn format(&self) -> &str {
        &self.format
    }
}

impl fmt::Debug for Audio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audio").field("format", &self.format).field("bytes_base64", &self.data.len()).finish()
    }
}

impl schemars::JsonSchema for Audio {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Audio".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "object", "title": "Audio"})
    }
}
