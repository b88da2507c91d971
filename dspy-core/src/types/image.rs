//! `Image`: an image input, sent to the LM as an `image_url` content part.

use std::fmt;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MediaError;

/// An image given to the LM: an `http(s)://` URL, or the bytes as a base64 `data:` URI.
///
/// Used as a signature input type (`image: dspy::Image`, or `dspy.Image` in string
/// signatures), it becomes an image content part of the user message, exactly where DSPy puts it.
///
/// ```
/// use dspy_core::Image;
/// let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
/// let img = Image::from_bytes(&png, None).unwrap();
/// assert!(img.url().starts_with("data:image/png;base64,"));
/// assert!(Image::from_bytes(b"not an image", None).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Image {
    url: String,
}

/// Image formats recognised by their first bytes.
const SIGNATURES: &[(&[u8], &str)] = &[
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
];

fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    SIGNATURES.iter().find(|(magic, _)| bytes.starts_with(magic)).map(|(_, mime)| *mime)
}

impl Image {
    /// An image by URL (`https://...`) or data URI (`data:image/png;base64,...`).
    pub fn from_url(url: impl Into<String>) -> Result<Self, MediaError> {
        let url = url.into();
        if url.starts_with("http://") || url.starts_with("https://") {
            return Ok(Image { url });
        }
        if let Some(rest) = url.strip_prefix("data:") {
            let (header, data) = rest.split_once(',').ok_or_else(|| MediaError::InvalidUrl(abbreviate(&url)))?;
            if !header.starts_with("image/") {
                return Err(MediaError::UnsupportedFormat(format!("a data URI of type `{header}` is not an image")));
            }
            if header.ends_with(";base64") {
                base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| MediaError::InvalidBase64(e.to_string()))?;
            }
            return Ok(Image { url });
        }
        Err(MediaError::InvalidUrl(abbreviate(&url)))
    }

    /// An image from its bytes; the type is detected from the bytes unless `mime` is given.
    pub fn from_bytes(bytes: &[u8], mime: Option<&str>) -> Result<Self, MediaError> {
        let mime = match mime {
            Some(m) if m.starts_with("image/") => m.to_string(),
            Some(m) => return Err(MediaError::UnsupportedFormat(format!("`{m}` is not an image type"))),
            None => sniff(bytes)
                .ok_or_else(|| MediaError::UnsupportedFormat("not a PNG, JPEG, GIF, WebP or BMP image".into()))?
                .to_string(),
        };
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        Ok(Image { url: format!("data:{mime};base64,{data}") })
    }

    /// An image read from a file (type detected from its bytes).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, MediaError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| MediaError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(&bytes, None).map_err(|e| match e {
            MediaError::UnsupportedFormat(why) => MediaError::UnsupportedFormat(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    /// The URL or data URI sent to the LM.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The MIME type of a data URI (`image/png`), if this is one.
    pub fn mime_type(&self) -> Option<&str> {
        let rest = self.url.strip_prefix("data:")?;
        rest.split([';', ',']).next()
    }
}

fn abbreviate(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl fmt::Debug for Image {
    /// Data URIs are abbreviated: logs should not carry megabytes of base64.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image").field("url", &abbreviate(&self.url)).finish()
    }
}

impl Serialize for Image {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.url)
    }
}

impl<'de> Deserialize<'de> for Image {
    /// Accepts `"url"`, `{"url": ...}` and the reference's `{"$image": ...}`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let url = match &value {
            serde_json::Value::String(s) => Some(s.as_str()),
            serde_json::Value::Object(m) => m.get("$image").or_else(|| m.get("url")).and_then(|v| v.as_str()),
            _ => None,
        };
        let url = url.ok_or_else(|| serde::de::Error::custom("an image is a URL string or {\"url\": ...}"))?;
        Image::from_url(url).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Image {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Image".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "title": "Image"})
    }
}
