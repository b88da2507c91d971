//! Property test of the adapters' parsers: whatever the LM writes, `parse` never panics, and
//! every success has exactly the signature's output fields, each valid against its JSON schema
//! (checked by the independent `jsonschema` crate).
//!
//! The signatures are the reference's own, read from the committed conformance vectors, so they
//! cover every output type the reference renders. Completions are
//!
//! * mutated renderings: an adapter's `format_assistant_message_content` of random valid values,
//!   then random insertions, deletions, truncations, case flips, quote swaps, fences and prose;
//! * arbitrary text: random Unicode strings, and "token soup" made of the adapters' markers,
//!   JSON/XML punctuation, Python literals and the signatures' field names.
//!
//! Every completion goes to all three adapters. Case counts are explicit below; the run prints
//! how many cases and parses it made.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use dspy::{Adapter, ChatAdapter, JSONAdapter, Signature, XMLAdapter};
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value, json};

const MUTATED_CASES: u32 = 60_000;
const ARBITRARY_CASES: u32 = 40_000;

/// A signature with a compiled validator per output field.
struct Case {
    sig: Signature,
    validators: Vec<(String, jsonschema::Validator)>,
}

fn cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance-extra");
    let mut seen: BTreeMap<String, Signature> = BTreeMap::new();
    for path in common::json_files(&dir) {
        let text = std::fs::read_to_string(&path).expect("readable vector");
        let case: Value = serde_json::from_str(&text).expect("valid JSON vector");
        let key = case["signature"]["fields"].to_string();
        if seen.contains_key(&key) {
            continue;
        }
        let sig = common::signature(&case["signature"]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen.insert(key, sig);
    }
    assert!(seen.len() >= 30, "expected a variety of signatures, found {}", seen.len());
    seen.into_values()
        .map(|sig| {
            let validators = sig
                .output_fields()
                .map(|f| (f.name.clone(), jsonschema::validator_for(&f.schema).expect("the reference's schema compiles")))
                .collect();
            Case { sig, validators }
        })
        .collect()
}

fn adapters() -> [Box<dyn Adapter>; 3] {
    [Box::new(ChatAdapter::new()), Box::new(JSONAdapter::new()), Box::new(XMLAdapter::new())]
}

#[derive(Default)]
struct Stats {
    cases: AtomicUsize,
    parses: AtomicUsize,
    successes: AtomicUsize,
}

/// Parses with every adapter; every success must have exactly the output fields, each valid.
fn check_all(case: &Case, adapters: &[Box<dyn Adapter>; 3], completion: &str, stats: &Stats) -> Result<(), TestCaseError> {
    for adapter in adapters {
        stats.parses.fetch_add(1, Ordering::Relaxed);
        let Ok(outputs) = adapter.parse(&case.sig, completion) else { continue };
        stats.successes.fetch_add(1, Ordering::Relaxed);
        let names: Vec<&String> = outputs.keys().collect();
        let wanted: Vec<&String> = case.validators.iter().map(|(n, _)| n).collect();
        prop_assert_eq!(&names, &wanted, "{} returned other fields for {:?}", adapter.name(), completion);
        for (name, validator) in &case.validators {
            let value = &outputs[name];
            if let Err(error) = validator.validate(value) {
                return Err(TestCaseError::fail(format!(
                    "{} accepted a schema-invalid value for `{name}`: {value} ({error})\ncompletion: {completion:?}",
                    adapter.name()
                )));
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Random valid values, from a field's JSON schema

/// SplitMix64: a tiny deterministic generator driven by a proptest-chosen seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STRINGS: &[&str] = &[
    "plain", "", " padded ", "multi\nline\n", "tab\there", "quote \" and ' both", "back\\slash", "«guillemets»",
    "[[ ## fake ## ]]", "<tag> & </tag>", "naïve café 東京 🎉", "\u{2028}sep", "ctrl\u{1}\u{1f}", "None", "True", "42",
    "[1, 2]", "{\"a\": 1}", "trailing space ", "\r\nwindows", "```json\n{}\n```", "&amp;", "<![CDATA[x]]>",
];
const FLOATS: &[f64] = &[0.0, 2.0, 0.1, 1e16, 1e-05, -3.5, 123456.789, 1.5e300, -0.0, 0.30000000000000004];
const INTS: &[i64] = &[0, 1, -7, 42, 1_000_000_000_000, i64::MAX, i64::MIN];
const KEYS: &[&str] = &["a", "b", "key two", "k-3", "1x", "ünï", "x.y", "entry"];

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => root.pointer(pointer).map(|t| resolve(t, root)).unwrap_or(schema),
        None => schema,
    }
}

fn random_json(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(*rng.pick(INTS)),
        3 => json!(*rng.pick(FLOATS)),
        4 => json!(*rng.pick(STRINGS)),
        5 => Value::Array((0..rng.below(3)).map(|_| random_json(rng, depth + 1)).collect()),
        _ => Value::Object((0..rng.below(3)).map(|_| (rng.pick(KEYS).to_string(), random_json(rng, depth + 1))).collect()),
    }
}

fn random_value(schema: &Value, root: &Value, rng: &mut Rng, depth: usize) -> Value {
    let schema = resolve(schema, root);
    if let Some(Value::Array(options)) = schema.get("anyOf").or_else(|| schema.get("oneOf")) {
        return random_value(rng.pick(options), root, rng, depth + 1);
    }
    if let Some(Value::Array(members)) = schema.get("enum") {
        return rng.pick(members).clone();
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => json!(*rng.pick(STRINGS)),
        Some("integer") => json!(*rng.pick(INTS)),
        Some("number") => json!(*rng.pick(FLOATS)),
        Some("boolean") => json!(rng.below(2) == 0),
        Some("null") => Value::Null,
        Some("array") => {
            if let Some(Value::Array(prefix)) = schema.get("prefixItems") {
                return Value::Array(prefix.iter().map(|s| random_value(s, root, rng, depth + 1)).collect());
            }
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            let n = if depth > 3 { 0 } else { rng.below(4) };
            Value::Array((0..n).map(|_| random_value(&items, root, rng, depth + 1)).collect())
        }
        Some("object") => {
            let mut out = Map::new();
            let required: Vec<&str> =
                schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, prop) in props {
                    if required.contains(&name.as_str()) || rng.below(2) == 0 {
                        out.insert(name.clone(), random_value(prop, root, rng, depth + 1));
                    }
                }
            } else {
                let extra = schema.get("additionalProperties").cloned().unwrap_or(json!(true));
                for _ in 0..(if depth > 3 { 0 } else { rng.below(4) }) {
                    let value = if extra.is_object() { random_value(&extra, root, rng, depth + 1) } else { random_json(rng, depth + 1) };
                    out.insert(rng.pick(KEYS).to_string(), value);
                }
            }
            Value::Object(out)
        }
        _ => random_json(rng, depth),
    }
}

// ------------------------------------------------------------------------------------------
// Mutations

const TOKENS: &[&str] = &[
    "[[ ## ", " ## ]]", "[[ ## completed ## ]]", "{", "}", "[", "]", "(", ")", "\"", "'", ":", ",", "\n", "\n\n", " ", "\\",
    "\\n", "\\\"", "<", ">", "</", "/>", "<item>", "</item>", "<entry key=\"a b\">", "</entry>", "```json\n", "```", "\n```",
    "True", "False", "None", "null", "true", "NaN", "Infinity", "1e400", "0x1A", "1_000", "-0", "3.14", "42", "&amp;", "&lt;",
    "&#65;", "&bogus;", "<![CDATA[", "]]>", "<!--", "-->", "<?xml version=\"1.0\"?>", "“", "”", "„", "#", "//", "/*", "*/",
    "...", "«", "»", "\u{2028}", "\r\n", "\t", "Literal[", "str[", "set()", "b'x'", "1j", "é", "東京", "🎉",
];

#[derive(Clone, Debug)]
enum Mutation {
    Insert(f64, usize),
    Delete(f64, usize),
    Truncate(f64),
    CaseFlip(f64, usize),
    SwapQuotes,
    Fence(usize),
    Prose(bool, usize),
    Duplicate(f64, usize),
    Replace(f64, char),
}

const FENCES: &[(&str, &str)] = &[("```json\n", "\n```"), ("```\n", "\n```"), ("```xml\n", "\n```"), ("`", "`")];
const PROSE: &[&str] = &["Sure! Here you go:\n", "The answer is below.", "Hope this helps.", "<response>", "{\"note\": 1}", "[[ ## note ## ]]\nx"];

/// A mutation from three plain integers (cheap for proptest to generate and shrink).
fn mutation() -> impl Strategy<Value = Mutation> {
    (0u8..9, any::<u32>(), any::<u32>()).prop_map(|(kind, a, b)| {
        let at = f64::from(a) / (f64::from(u32::MAX) + 1.0);
        let small = |n: u32| (b % n) as usize;
        match kind {
            0 => Mutation::Insert(at, small(TOKENS.len() as u32)),
            1 => Mutation::Delete(at, 1 + small(7)),
            2 => Mutation::Truncate(at),
            3 => Mutation::CaseFlip(at, 1 + small(11)),
            4 => Mutation::SwapQuotes,
            5 => Mutation::Fence(small(FENCES.len() as u32)),
            6 => Mutation::Prose(b % 2 == 0, small(PROSE.len() as u32)),
            7 => Mutation::Duplicate(at, 1 + small(19)),
            _ => Mutation::Replace(at, char::from_u32(b % 0x11_0000).unwrap_or('\u{fffd}')),
        }
    })
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let pos = |chars: &Vec<char>, a: f64| ((chars.len() as f64) * a) as usize;
    for m in mutations {
        match *m {
            Mutation::Insert(a, t) => {
                let p = pos(&chars, a);
                chars.splice(p..p, TOKENS[t].chars());
            }
            Mutation::Delete(a, n) => {
                let p = pos(&chars, a);
                let end = (p + n).min(chars.len());
                chars.drain(p..end);
            }
            Mutation::Truncate(a) => {
                let p = pos(&chars, a);
                chars.truncate(p);
            }
            Mutation::CaseFlip(a, n) => {
                let p = pos(&chars, a);
                let end = (p + n).min(chars.len());
                let flipped: Vec<char> = chars[p..end]
                    .iter()
                    .flat_map(|c| if c.is_uppercase() { c.to_lowercase().collect::<Vec<_>>() } else { c.to_uppercase().collect() })
                    .collect();
                chars.splice(p..end, flipped);
            }
            Mutation::SwapQuotes => {
                for c in chars.iter_mut() {
                    *c = match *c {
                        '"' => '\'',
                        '\'' => '"',
                        other => other,
                    };
                }
            }
            Mutation::Fence(i) => {
                let (open, close) = FENCES[i];
                chars = open.chars().chain(chars).chain(close.chars()).collect();
            }
            Mutation::Prose(prefix, i) => {
                let prose: Vec<char> = PROSE[i].chars().collect();
                if prefix {
                    chars.splice(0..0, prose.into_iter().chain(std::iter::once('\n')));
                } else {
                    chars.push('\n');
                    chars.extend(prose);
                }
            }
            Mutation::Duplicate(a, n) => {
                let p = pos(&chars, a);
                let end = (p + n).min(chars.len());
                let copy: Vec<char> = chars[p..end].to_vec();
                chars.splice(end..end, copy);
            }
            Mutation::Replace(a, c) => {
                let p = pos(&chars, a);
                if p < chars.len() {
                    chars[p] = c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

/// A runner with an explicit case count. Deterministic by default so CI is stable; set
/// `DSPY_PROPTEST_SEED=<number>` to explore other inputs and `DSPY_PROPTEST_SCALE=<k>` to run
/// k times as many cases.
fn runner(cases: u32) -> TestRunner {
    let scale = std::env::var("DSPY_PROPTEST_SCALE").ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(1).max(1);
    let config = ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases * scale) };
    let rng = match std::env::var("DSPY_PROPTEST_SEED").ok().and_then(|s| s.parse::<u64>().ok()) {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
        }
        None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    };
    TestRunner::new_with_rng(config, rng)
}

#[test]
fn parse_never_panics_and_successes_satisfy_the_schema() {
    let started = Instant::now();
    let cases = cases();
    let adapters = adapters();
    let stats = Stats::default();

    // Mutated renderings of random valid outputs.
    let strategy = (0..cases.len(), any::<u64>(), 0..adapters.len(), prop::collection::vec(mutation(), 0..5));
    runner(MUTATED_CASES)
        .run(&strategy, |(i, seed, renderer, mutations)| {
            stats.cases.fetch_add(1, Ordering::Relaxed);
            let case = &cases[i];
            let mut rng = Rng(seed);
            let outputs: Map<String, Value> =
                case.sig.output_fields().map(|f| (f.name.clone(), random_value(&f.schema, &f.schema, &mut rng, 0))).collect();
            let rendered = adapters[renderer].format_assistant_message_content(&case.sig, &outputs, None);
            check_all(case, &adapters, &apply(&rendered, &mutations), &stats)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let mutated = stats.cases.load(Ordering::Relaxed);
    let mutated_time = started.elapsed();

    // Arbitrary text: random Unicode, or soup of markers, punctuation and field names.
    let names: Vec<String> = cases.iter().flat_map(|c| c.sig.output_fields().map(|f| f.name.clone()).collect::<Vec<_>>()).collect();
    let soup = prop::collection::vec((0..TOKENS.len() + 3 * names.len(), any::<bool>()), 0..40).prop_map(move |picks| {
        picks
            .into_iter()
            .map(|(k, spaced)| {
                let token = match k.checked_sub(TOKENS.len()) {
                    None => TOKENS[k].to_string(),
                    Some(j) => match (j % 3, &names[j / 3]) {
                        (0, n) => format!("[[ ## {n} ## ]]"),
                        (1, n) => format!("<{n}>"),
                        (_, n) => format!("\"{n}\": "),
                    },
                };
                if spaced { format!("{token} ") } else { token }
            })
            .collect::<String>()
    });
    // Random characters (proptest's `char` strategy favours edge cases: controls, surrogates'
    // neighbours, combining marks); cheaper than a regex-driven `String` strategy.
    let random_chars = prop::collection::vec(any::<char>(), 0..80).prop_map(String::from_iter);
    let text = prop_oneof![random_chars, soup];
    runner(ARBITRARY_CASES)
        .run(&(0..cases.len(), text), |(i, completion)| {
            stats.cases.fetch_add(1, Ordering::Relaxed);
            check_all(&cases[i], &adapters, &completion, &stats)
        })
        .unwrap_or_else(|e| panic!("{e}"));

    let total = stats.cases.load(Ordering::Relaxed);
    println!(
        "proptest_parse: {total} cases ({mutated} mutated renderings in {mutated_time:.1?}, {} arbitrary in {:.1?}) over {} \
         signatures: {} parses, {} successes validated against the schemas",
        total - mutated,
        started.elapsed() - mutated_time,
        cases.len(),
        stats.parses.load(Ordering::Relaxed),
        stats.successes.load(Ordering::Relaxed),
    );
    assert!(total >= 100_000, "ran only {total} cases");
}
