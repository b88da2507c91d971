//! A forgiving JSON reader for LM output, with the reference DSPy's exact semantics.
//!
//! LMs wrap JSON in markdown fences, surround it with prose, use Python literals (`True`,
//! `None`, single quotes, tuples), leave trailing commas, forget to quote keys, or stop
//! mid-object. The reference reads such text with `json_repair.loads` and, when that finds
//! nothing, `ast.literal_eval`; this module is a port of both, so values parse the same way. It
//! never panics, whatever the input (a property test feeds it arbitrary text).

use serde_json::Value;

/// Reads `text` as the reference reads an LM value: `None` means "not JSON or a Python literal"
/// (the reference then keeps the text as it is) or a value JSON cannot hold (`inf`, `1j`).
pub(crate) fn loads(text: &str) -> Option<Value> {
    match super::read_text(text).ok()? {
        super::py::Py::Str(s) if s == text => None,
        value => value.to_json().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agrees_with_the_reference_on_common_shapes() {
        let cases: &[(&str, Option<Value>)] = &[
            ("nine", None),
            ("7", Some(json!(7))),
            (" 3 ", Some(json!(3))),
            ("True", Some(json!(true))),
            ("None", Some(json!(null))),
            ("12.5", Some(json!(12.5))),
            ("'negative'", Some(json!("negative"))),
            ("Here is {\"a\": 1} ok", Some(json!({"a": 1}))),
            ("[\"tokio vs smol\", 'glommio']", Some(json!(["tokio vs smol", "glommio"]))),
            ("[1, 2", Some(json!([1, 2]))),
            ("7 apples", None),
            ("-3", Some(json!(-3))),
            ("1e5", Some(json!(100000.0))),
            ("1, 2, 3", Some(json!([1, 2, 3]))),
            ("{1, 2}", Some(json!([1, 2]))),
            ("1_000", Some(json!(1000))),
            ("", None),
            ("{'reasoning': 'single quotes', 'answer': '9.5'}", Some(json!({"reasoning": "single quotes", "answer": "9.5"}))),
        ];
        for (text, want) in cases {
            assert_eq!(&loads(text), want, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let deep = "[".repeat(100_000);
        let _ = loads(&deep);
        let deep = "{\"a\":".repeat(50_000);
        let _ = loads(&deep);
        let deep = "(".repeat(100_000);
        let _ = loads(&deep);
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn loads() {
        use crate::parse::lenient::loads;
        use serde_json::json;
        assert_eq!(loads("```json\n[\"a\", \"b\",]\n```"), Some(json!(["a", "b"])));
        assert_eq!(loads("{label: 'refuted', ok: True}"), Some(json!({"label": "refuted", "ok": true})));
        assert_eq!(loads("Here is the JSON: {\"answer\": 7} hope it helps"), Some(json!({"answer": 7})));
        assert_eq!(loads("{\"answer\": \"Shakes"), Some(json!({"answer": "Shakes"})));
        assert_eq!(loads("(1, 'a')"), Some(json!([1, "a"])));
        assert_eq!(loads("0x1A"), Some(json!(26)));
        assert_eq!(loads("the answer is 7"), None);
    }
}
