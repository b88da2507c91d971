//! Values with special rendering in prompts: images and audio become message content parts.

mod audio;
pub(crate) mod error;
mod image;

use serde_json::{Value, json};

pub use audio::Audio;
pub use error::MediaError;
pub use image::Image;

use crate::lm::{Content, ContentPart};
use crate::signature::FieldType;

/// Where a media value starts inside formatted text (the reference's marker, kept verbatim so
/// the text around media is byte-identical).
pub(crate) const MEDIA_START: &str = "<<CUSTOM-TYPE-START-IDENTIFIER>>";
/// Where it ends.
pub(crate) const MEDIA_END: &str = "<<CUSTOM-TYPE-END-IDENTIFIER>>";

/// The content parts of an image or audio value, in the OpenAI shape.
///
/// Images are `"https://..."`/`"data:..."` strings, `{"url": ...}` or `{"$image": ...}`;
/// audio is `{"data": ..., "format": ...}` or `{"$audio": {...}}`.
pub(crate) fn media_parts(value: &Value, ty: &FieldType) -> Option<Value> {
    match ty {
        FieldType::Image => {
            let url = match value {
                Value::String(s) => s.as_str(),
                Value::Object(m) => m.get("$image").or_else(|| m.get("url")).and_then(Value::as_str)?,
                _ => return None,
            };
            Some(json!([{"type": "image_url", "image_url": {"url": url}}]))
        }
        FieldType::Audio => {
            let obj = match value {
                Value::Object(m) => m.get("$audio").and_then(Value::as_object).unwrap_or(m),
                _ => return None,
            };
            let data = obj.get("data")?.as_str()?;
            let format = obj.get("format")?.as_str()?;
            Some(json!([{"type": "input_audio", "input_audio": {"data": data, "format": format}}]))
        }
        _ => None,
    }
}

/// The marker text standing for a media value until the message is split into parts.
pub(crate) fn media_marker(value: &Value, ty: &FieldType) -> Option<String> {
    media_parts(value, ty).map(|parts| format!("{MEDIA_START}{}{MEDIA_END}", crate::pyfmt::dumps(&parts)))
}

/// Splits text holding media markers into content parts; plain text stays plain.
pub(crate) fn expand_media(text: String) -> Content {
    if !text.contains(MEDIA_START) {
        return Content::Text(text);
    }
    let mut parts = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(MEDIA_START) {
        let after = &rest[start + MEDIA_START.len()..];
        let Some(end) = after.find(MEDIA_END) else { break };
        if start > 0 {
            parts.push(ContentPart::Text { text: rest[..start].to_string() });
        }
        parts.extend(payload_parts(after[..end].trim()));
        rest = &after[end + MEDIA_END.len()..];
    }
    if !rest.is_empty() {
        parts.push(ContentPart::Text { text: rest.to_string() });
    }
    Content::Parts(parts)
}

fn payload_parts(payload: &str) -> Vec<ContentPart> {
    // Inside a JSON-encoded list the payload arrives escaped once more.
    let parsed = serde_json::from_str::<Value>(payload).ok().or_else(|| {
        let unescaped: String = serde_json::from_str(&format!("\"{payload}\"")).ok()?;
        serde_json::from_str(&unescaped).ok()
    });
    match parsed {
        Some(Value::Array(blocks)) => blocks
            .into_iter()
            .map(|b| {
                serde_json::from_value::<ContentPart>(b.clone())
                    .unwrap_or_else(|_| ContentPart::Text { text: crate::pyfmt::py_str(&b) })
            })
            .collect(),
        _ => vec![ContentPart::Text { text: payload.to_string() }],
    }
}

