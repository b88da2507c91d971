//! Messages with images and audio, against the reference: every vector in `tests/data/multimodal`
//! (vendored) and in `../shared/multimodal` (or `$DSPY_MULTIMODAL_DIR`) is formatted with the named adapter and
//! must equal DSPy 3.4.1's messages, content parts included. See that directory's README.

mod common;

use dspy::{Audio, Example, Image, MediaError, Signature};
use serde_json::{Map, Value};

fn check(case: &Value) -> Result<(), String> {
    let sig = Signature::parse(case["signature"].as_str().ok_or("no signature")?).map_err(|e| e.to_string())?;
    let adapter = common::adapter(case["adapter"].as_str().unwrap_or("chat"));
    let demos: Vec<Example> = case["demos"]
        .as_array()
        .map(|d| d.iter().filter_map(|x| x.as_object().cloned().map(Example::from_map)).collect())
        .unwrap_or_default();
    let inputs: Map<String, Value> = case["inputs"].as_object().cloned().unwrap_or_default();
    let got = serde_json::to_value(adapter.format(&sig, &demos, &inputs)).map_err(|e| e.to_string())?;
    let expected = &case["expected"]["messages"];
    if &got == expected { Ok(()) } else { Err(common::first_difference(expected, &got)) }
}

#[test]
fn multimodal_vectors() {
    for dir in common::vector_dirs("DSPY_MULTIMODAL_DIR", "multimodal") {
        let mut tally = common::Tally::default();
        for path in common::json_files(&dir) {
            tally.record(&path.display().to_string(), common::read_json(&path).and_then(|case| check(&case)));
        }
        tally.finish("multimodal vectors", &dir);
    }
}

/// Typed `Image`/`Audio` values render exactly like the reference's `{"$image": ...}` values.
#[test]
fn typed_media_match_the_vector_values() {
    let case: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/multimodal/image-chat.json")).unwrap(),
    )
    .unwrap();
    let uri = case["inputs"]["image"]["$image"].as_str().unwrap();
    let image = Image::from_url(uri).unwrap();
    let sig = Signature::parse(case["signature"].as_str().unwrap()).unwrap();
    let mut inputs = case["inputs"].as_object().unwrap().clone();
    inputs.insert("image".into(), serde_json::to_value(&image).unwrap());
    let got = serde_json::to_value(common::adapter("chat").format(&sig, &[], &inputs)).unwrap();
    assert_eq!(got, case["expected"]["messages"]);
}

#[test]
fn bad_media_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    assert!(matches!(Image::from_path(&text), Err(MediaError::UnsupportedFormat(m)) if m.contains("notes.txt")));
    assert!(matches!(Image::from_path(dir.path().join("missing.png")), Err(MediaError::Io { .. })));
    assert!(matches!(Image::from_url("ftp://x/y.png"), Err(MediaError::InvalidUrl(_))));
    assert!(matches!(Image::from_url("data:text/plain;base64,aGk="), Err(MediaError::UnsupportedFormat(_))));
    assert!(matches!(Audio::from_bytes(b"RIFF", Some("flac")), Err(MediaError::UnsupportedFormat(_))));
    assert!(matches!(Audio::from_base64("%%%", "wav"), Err(MediaError::InvalidBase64(_))));
    let png = dir.path().join("pixel.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    assert_eq!(Image::from_path(&png).unwrap().mime_type(), Some("image/png"));
}
