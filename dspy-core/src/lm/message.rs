//! Chat messages in the OpenAI shape every adapter produces and every client consumes.

use serde::{Deserialize, Serialize};

/// Who speaks a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions and format.
    System,
    /// Inputs (and demo inputs).
    User,
    /// Outputs (and demo outputs).
    Assistant,
    /// A tool result (native function calling).
    Tool,
}

/// One part of a multimodal message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image by URL or data URI.
    ImageUrl {
        /// `{"url": ...}`
        image_url: ImageUrl,
    },
    /// Base64 audio.
    InputAudio {
        /// `{"data": ..., "format": ...}`
        input_audio: InputAudio,
    },
}

/// The `image_url` object of an image part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// An `https://` URL or a `data:` URI.
    pub url: String,
}

/// The `input_audio` object of an audio part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputAudio {
    /// Base64-encoded audio.
    pub data: String,
    /// `wav`, `mp3`, ...
    pub format: String,
}

/// A message's content: one string, or parts when it carries images or audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and media parts, in order.
    Parts(Vec<ContentPart>),
}

impl Content {
    /// The text of the content (media parts are skipped).
    pub fn text(&self) -> String {
        match self {
            Content::Text(t) => t.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The text when the content is plain text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Content::Text(t) => Some(t),
            Content::Parts(_) => None,
        }
    }
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        Content::Text(s)
    }
}

/// One chat message.
///
/// ```
/// use dspy_core::Message;
/// let m = Message::user("hi");
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"role":"user","content":"hi"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: Content,
}

impl Message {
    /// A message with text content.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: Content::Text(content.into()) }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}
