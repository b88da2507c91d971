//! Built-in metrics with DSPy's normalisation (`dspy.evaluate.metrics` and `dsp.utils`):
//! exact match, token F1, HotPotQA F1, and passage match with DPR tokenisation.

use std::collections::HashMap;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::example::Example;
use crate::prediction::Prediction;
use crate::trace::TraceEntry;

/// Python's `string.punctuation`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `re.sub(r"\b(a|an|the)\b", " ", text)`: whole words `a`, `an`, `the` become a space.
fn remove_articles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if matches!(word.as_str(), "a" | "an" | "the") {
            out.push(' ');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// DSPy's `normalize_text`: Unicode NFD, lowercase, ASCII punctuation removed, the articles
/// `a`/`an`/`the` removed, whitespace collapsed.
///
/// ```
/// use dspy_core::evaluate::normalize_text;
/// assert_eq!(normalize_text("The,  Eiffel  Tower!"), "eiffel tower");
/// ```
pub fn normalize_text(s: &str) -> String {
    let lowered = s.nfd().collect::<String>().to_lowercase();
    let no_punct: String = lowered.chars().filter(|c| !PUNCTUATION.contains(*c)).collect();
    remove_articles(&no_punct).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the normalised strings are equal (DSPy's `em_score`).
///
/// ```
/// assert!(dspy_core::evaluate::em_score("Paris", "paris"));
/// ```
pub fn em_score(prediction: &str, ground_truth: &str) -> bool {
    normalize_text(prediction) == normalize_text(ground_truth)
}

fn token_f1(prediction: &[&str], truth: &[&str]) -> f64 {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in truth {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0usize;
    for p in prediction {
        if let Some(c) = counts.get_mut(p)
            && *c > 0
        {
            *c -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / prediction.len() as f64;
    let recall = same as f64 / truth.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Token-level F1 of the normalised strings (DSPy's `f1_score`).
///
/// ```
/// let f1 = dspy_core::evaluate::f1_score("Eiffel Tower is in Paris", "Paris");
/// assert!((f1 - 1.0 / 3.0).abs() < 1e-9);
/// ```
pub fn f1_score(prediction: &str, ground_truth: &str) -> f64 {
    let (p, t) = (normalize_text(prediction), normalize_text(ground_truth));
    let (p, t): (Vec<&str>, Vec<&str>) = (p.split_whitespace().collect(), t.split_whitespace().collect());
    if p.is_empty() && t.is_empty() {
        tracing::debug!("F1 Metric: Rare edge case of len(prediction_tokens) == len(ground_truth_tokens) == 0.");
    }
    token_f1(&p, &t)
}

/// HotPotQA's F1: 0 when either side is `yes`/`no`/`noanswer` and they differ (DSPy's
/// `hotpot_f1_score`).
///
/// ```
/// assert_eq!(dspy_core::evaluate::hotpot_f1_score("yes", "no"), 0.0);
/// ```
pub fn hotpot_f1_score(prediction: &str, ground_truth: &str) -> f64 {
    let (p, t) = (normalize_text(prediction), normalize_text(ground_truth));
    let special = ["yes", "no", "noanswer"];
    if (special.contains(&p.as_str()) || special.contains(&t.as_str())) && p != t {
        return 0.0;
    }
    let (p, t): (Vec<&str>, Vec<&str>) = (p.split_whitespace().collect(), t.split_whitespace().collect());
    token_f1(&p, &t)
}

/// Whether any reference matches exactly after normalisation (DSPy's `EM`).
///
/// ```
/// assert!(dspy_core::evaluate::exact_match("The Eiffel Tower", &["Eiffel Tower", "Louvre"]));
/// ```
pub fn exact_match<S: AsRef<str>>(prediction: &str, answers: &[S]) -> bool {
    answers.iter().any(|a| em_score(prediction, a.as_ref()))
}

/// The best F1 against any reference (DSPy's `F1`); 0 without references.
///
/// ```
/// assert_eq!(dspy_core::evaluate::max_f1("Paris", &["paris", "Lyon"]), 1.0);
/// ```
pub fn max_f1<S: AsRef<str>>(prediction: &str, answers: &[S]) -> f64 {
    answers.iter().map(|a| f1_score(prediction, a.as_ref())).fold(0.0, f64::max)
}

/// The best HotPotQA F1 against any reference (DSPy's `HotPotF1`).
pub fn max_hotpot_f1<S: AsRef<str>>(prediction: &str, answers: &[S]) -> f64 {
    answers.iter().map(|a| hotpot_f1_score(prediction, a.as_ref())).fold(0.0, f64::max)
}

/// The example's `answer` as a list of references (a string is one reference).
fn references(example: &Example) -> Option<Vec<String>> {
    match example.get("answer")? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => Some(items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()),
        _ => None,
    }
}

fn predicted_answer(prediction: &Prediction) -> String {
    match prediction.get("answer") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// DSPy's `answer_exact_match`: the prediction's `answer` equals the example's `answer` (a
/// string, or any of a list) after normalisation. Use [`answer_match`] for DSPy's `frac < 1`.
///
/// ```
/// use dspy_core::evaluate::{IntoMetric, answer_exact_match};
/// use dspy_core::{Example, Prediction};
/// let ex = Example::new().with("answer", serde_json::json!(["Eiffel Tower", "Louvre"]));
/// let pred = Prediction::new(serde_json::json!({"answer": "The Eiffel Tower"}).as_object().unwrap().clone());
/// assert!(answer_exact_match(&ex, &pred, None));
/// assert_eq!(IntoMetric::<Example, _>::into_metric(answer_exact_match).name(), "answer_exact_match");
/// ```
pub fn answer_exact_match(example: &Example, prediction: &Prediction, _trace: Option<&[TraceEntry]>) -> bool {
    answer_match(example, prediction, 1.0)
}

/// DSPy's `answer_exact_match(..., frac=frac)`: exact match when `frac >= 1`, else whether the
/// best token F1 reaches `frac`. An example without a string or list `answer` never matches.
///
/// ```
/// use dspy_core::evaluate::answer_match;
/// use dspy_core::{Example, Prediction};
/// let ex = Example::new().with("answer", "Eiffel Tower");
/// let pred = Prediction::new(serde_json::json!({"answer": "The Eiffel Tower in Paris"}).as_object().unwrap().clone());
/// assert!(answer_match(&ex, &pred, 0.5));
/// assert!(!answer_match(&ex, &pred, 1.0));
/// ```
pub fn answer_match(example: &Example, prediction: &Prediction, frac: f64) -> bool {
    let Some(answers) = references(example) else {
        tracing::warn!("answer_exact_match: the example's `answer` is neither a string nor a list");
        return false;
    };
    let predicted = predicted_answer(prediction);
    if frac >= 1.0 { exact_match(&predicted, &answers) } else { max_f1(&predicted, &answers) >= frac }
}

/// Token F1 of the prediction's `answer` against the example's `answer`(s), as a metric.
///
/// ```
/// use dspy_core::evaluate::answer_f1;
/// use dspy_core::{Example, Prediction};
/// let ex = Example::new().with("answer", "Paris");
/// let pred = Prediction::new(serde_json::json!({"answer": "Paris, France"}).as_object().unwrap().clone());
/// assert!((answer_f1(&ex, &pred, None) - 2.0 / 3.0).abs() < 1e-9);
/// ```
pub fn answer_f1(example: &Example, prediction: &Prediction, _trace: Option<&[TraceEntry]>) -> f64 {
    references(example).map_or(0.0, |answers| max_f1(&predicted_answer(prediction), &answers))
}

/// DSPy's `answer_passage_match`: some passage of the prediction's `context` contains some
/// reference answer, compared as DPR token sequences of the normalised texts.
///
/// ```
/// use dspy_core::evaluate::answer_passage_match;
/// use dspy_core::{Example, Prediction};
/// let ex = Example::new().with("answer", "Eiffel Tower");
/// let pred = Prediction::new(serde_json::json!({"context": ["The Eiffel Tower is in Paris.", "..."]}).as_object().unwrap().clone());
/// assert!(answer_passage_match(&ex, &pred, None));
/// ```
pub fn answer_passage_match(example: &Example, prediction: &Prediction, _trace: Option<&[TraceEntry]>) -> bool {
    let Some(answers) = references(example) else {
        tracing::warn!("answer_passage_match: the example's `answer` is neither a string nor a list");
        return false;
    };
    let passages: Vec<String> = match prediction.get("context") {
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    passage_match(&passages, &answers)
}

/// Whether any passage contains any answer (DSPy's `_passage_match` / `has_answer`).
///
/// ```
/// assert!(dspy_core::evaluate::passage_match(&["Paris is big."], &["paris"]));
/// ```
pub fn passage_match<P: AsRef<str>, A: AsRef<str>>(passages: &[P], answers: &[A]) -> bool {
    let answers: Vec<Vec<String>> = answers.iter().map(|a| dpr_normalize(&normalize_text(a.as_ref()))).collect();
    passages.iter().any(|p| {
        let text = dpr_normalize(&normalize_text(p.as_ref()));
        answers.iter().any(|a| a.is_empty() || text.windows(a.len()).any(|w| w == a.as_slice()))
    })
}

fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}')
}

/// DPR's `SimpleTokenizer` words, lowercased: runs of letters, digits and marks, or any other
/// single visible character (`(\p{L}|\p{N}|\p{M})+|[^\p{Z}\p{C}]`), after NFD.
///
/// ```
/// assert_eq!(dspy_core::evaluate::dpr_normalize("Hello, World!"), ["hello", ",", "world", "!"]);
/// ```
pub fn dpr_normalize(text: &str) -> Vec<String> {
    let is_alnum = |c: char| c.is_alphanumeric() || is_combining_mark(c);
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.nfd() {
        if is_alnum(c) {
            current.push(c);
            continue;
        }
        if !current.is_empty() {
            tokens.push(std::mem::take(&mut current).to_lowercase());
        }
        if !(c.is_whitespace() || c.is_control() || is_format_char(c)) {
            tokens.push(c.to_lowercase().collect());
        }
    }
    if !current.is_empty() {
        tokens.push(current.to_lowercase());
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_dspy() {
        // Values computed with DSPy 3.4.1's `normalize_text`.
        assert_eq!(normalize_text("The,  Eiffel  Tower!"), "eiffel tower");
        assert_eq!(normalize_text("An apple a day"), "apple day");
        assert_eq!(normalize_text("theatre_the"), "theatrethe");
        assert_eq!(normalize_text("the\u{301} x"), "\u{301} x");
        assert_eq!(normalize_text("Café"), "cafe\u{301}");
        assert_eq!(normalize_text("A-B c.d"), "ab cd");
    }

    #[test]
    fn f1_and_em() {
        assert!((f1_score("the Eiffel Tower", "Eiffel Tower") - 1.0).abs() < 1e-12);
        assert_eq!(f1_score("", ""), 0.0);
        assert!(!em_score("paris", "Paris, France"));
        assert_eq!(max_f1::<&str>("x", &[]), 0.0);
        assert!((hotpot_f1_score("no idea", "no") - 0.0).abs() < 1e-12);
    }

    #[test]
    fn passage_match_uses_token_boundaries() {
        assert_eq!(dpr_normalize("Hello, World! naïve 3.5"), ["hello", ",", "world", "!", "nai\u{308}ve", "3", ".", "5"]);
        assert!(passage_match(&["The answer is 42."], &["42"]));
        assert!(!passage_match(&["The answer is 420."], &["42"]));
        assert!(passage_match(&["anything"], &[""]));
    }
}
