//! `majority`: the most common answer among several completions.

use serde_json::{Map, Value};

use crate::error::{Error, InputError, Result};
use crate::evaluate::normalize_text;
use crate::prediction::Prediction;
use crate::pyfmt;

/// DSPy's default normaliser for votes: [`normalize_text`](crate::evaluate::normalize_text),
/// with empty results ignored.
pub fn default_normalize(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        other => pyfmt::py_str(other),
    };
    Some(normalize_text(&text)).filter(|s| !s.is_empty())
}

/// DSPy's `majority` with its defaults: votes on the last field of the completions with
/// [`default_normalize`], and returns the first completion holding the winning value (earlier
/// completions win ties).
///
/// ```
/// use dspy_core::module::majority;
/// use serde_json::json;
/// let completions: Vec<_> = [json!({"answer": "Paris"}), json!({"answer": "Lyon"}), json!({"answer": "paris!"})]
///     .iter().map(|c| c.as_object().unwrap().clone()).collect();
/// assert_eq!(majority(&completions).unwrap().get_str("answer"), Some("Paris"));
/// ```
pub fn majority(completions: &[Map<String, Value>]) -> Result<Prediction> {
    majority_by(completions, None, Some(&default_normalize))
}

/// [`majority`] over every completion of a prediction (e.g. a `Predict` called with `n > 1`).
pub fn majority_of(prediction: &Prediction) -> Result<Prediction> {
    majority(prediction.completions())
}

/// How [`majority_by`] reduces a value to its vote (`None`: the value does not vote).
pub type Normalize<'a> = &'a dyn Fn(&Value) -> Option<String>;

/// DSPy's `majority(completions, normalize, field)`: `field` defaults to the last field of the
/// first completion; values for which `normalize` returns `None` do not vote (unless none
/// votes); without `normalize` the values are compared as they are.
///
/// ```
/// use dspy_core::module::majority_by;
/// use serde_json::json;
/// let completions: Vec<_> = [json!({"a": 1, "b": "x"}), json!({"a": 2, "b": "y"}), json!({"a": 2, "b": "x"})]
///     .iter().map(|c| c.as_object().unwrap().clone()).collect();
/// let winner = majority_by(&completions, Some("a"), None).unwrap();
/// assert_eq!(winner.get("b"), Some(&json!("y")));
/// ```
pub fn majority_by(
    completions: &[Map<String, Value>],
    field: Option<&str>,
    normalize: Option<Normalize<'_>>,
) -> Result<Prediction> {
    let first = completions.first().ok_or_else(|| invalid("needs at least one completion".into()))?;
    let field = match field {
        Some(f) => f.to_string(),
        None => first.keys().next_back().cloned().ok_or_else(|| invalid("the completions have no fields".into()))?,
    };
    let key = |c: &Map<String, Value>| -> Result<Option<String>> {
        let value = c.get(&field).ok_or_else(|| invalid(format!("a completion has no field `{field}`")))?;
        Ok(match normalize {
            Some(n) => n(value),
            None => Some(pyfmt::dumps(value)),
        })
    };
    let keys = completions.iter().map(key).collect::<Result<Vec<_>>>()?;
    let voting: Vec<&Option<String>> = if keys.iter().any(Option::is_some) { keys.iter().filter(|k| k.is_some()).collect() } else { keys.iter().collect() };
    // Counts in first-seen order; `max` keeps the first of equal counts, as Python's does.
    let mut counts: Vec<(&Option<String>, usize)> = Vec::new();
    for k in voting {
        match counts.iter_mut().find(|(seen, _)| *seen == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((k, 1)),
        }
    }
    let mut winner = counts[0];
    for &(k, n) in &counts[1..] {
        if n > winner.1 {
            winner = (k, n);
        }
    }
    let index = keys.iter().position(|k| k == winner.0).unwrap_or(0);
    Ok(Prediction::from_completions(vec![completions[index].clone()]))
}

/// A refusal of `majority`'s completions.
fn invalid(message: String) -> Error {
    InputError::Invalid { needed_by: "majority".into(), message }.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn maps(values: &[Value]) -> Vec<Map<String, Value>> {
        values.iter().map(|v| v.as_object().unwrap().clone()).collect()
    }

    #[test]
    fn ties_go_to_the_first_seen_value() {
        let c = maps(&[json!({"answer": "B"}), json!({"answer": "A"}), json!({"answer": "A"}), json!({"answer": "B"})]);
        assert_eq!(majority(&c).unwrap().get_str("answer"), Some("B"));
        let c = maps(&[json!({"answer": "x"}), json!({"answer": "y"})]);
        assert_eq!(majority(&c).unwrap().get_str("answer"), Some("x"));
    }

    #[test]
    fn returns_the_first_completion_with_the_winning_value() {
        let c = maps(&[
            json!({"r": "1", "answer": "Lyon"}),
            json!({"r": "2", "answer": "The Paris"}),
            json!({"r": "3", "answer": "paris."}),
        ]);
        let p = majority(&c).unwrap();
        assert_eq!(p.get_str("r"), Some("2"));
        assert_eq!(p.completions().len(), 1);
    }

    #[test]
    fn empty_normalized_values_do_not_vote_unless_all_are_empty() {
        let c = maps(&[json!({"answer": "!!"}), json!({"answer": "the"}), json!({"answer": "Rome"})]);
        assert_eq!(majority(&c).unwrap().get_str("answer"), Some("Rome"));
        let c = maps(&[json!({"answer": "?"}), json!({"answer": "a"})]);
        assert_eq!(majority(&c).unwrap().get_str("answer"), Some("?"));
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(majority(&[]), Err(Error::Input(_))));
        let c = maps(&[json!({"answer": "x"})]);
        assert!(matches!(majority_by(&c, Some("nope"), None), Err(Error::Input(_))));
    }
}
