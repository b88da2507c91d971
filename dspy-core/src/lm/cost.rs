//! Cost: US dollars per call from token counts and a price table (per 1M tokens). Built-in
//! prices cover a few well-known models; [`set_price`] and `LM::builder(..).price(..)` override
//! them. Unknown models have no cost (`None`) rather than a wrong zero; local servers cost 0.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use serde::{Deserialize, Serialize};

use super::Usage;

/// A model's price in US dollars per million tokens.
///
/// ```
/// use dspy_core::lm::Price;
/// let p = Price::per_million(0.15, 0.60);
/// let usage = dspy_core::Usage { prompt_tokens: 1_000_000, completion_tokens: 500_000, total_tokens: 1_500_000, cost: None };
/// assert!((p.cost(&usage) - 0.45).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Dollars per 1M prompt (input) tokens.
    pub input_per_million: f64,
    /// Dollars per 1M completion (output) tokens.
    pub output_per_million: f64,
}

impl Price {
    /// A price from its two per-million rates.
    pub const fn per_million(input: f64, output: f64) -> Self {
        Price { input_per_million: input, output_per_million: output }
    }

    /// Nothing (local models).
    pub const FREE: Price = Price::per_million(0.0, 0.0);

    /// The cost of `usage` at this price.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.input_per_million + usage.completion_tokens as f64 * self.output_per_million) / 1e6
    }
}

/// Published list prices (USD per 1M tokens, standard tier, mid-2025), matched by the longest
/// prefix of the model id (so dated versions like `gpt-4o-mini-2024-07-18` are covered).
static BUILT_IN: &[(&str, Price)] = &[
    ("gpt-4o", Price::per_million(2.50, 10.00)),
    ("gpt-4o-mini", Price::per_million(0.15, 0.60)),
    ("gpt-4.1", Price::per_million(2.00, 8.00)),
    ("gpt-4.1-mini", Price::per_million(0.40, 1.60)),
    ("gpt-4.1-nano", Price::per_million(0.10, 0.40)),
    ("gpt-5", Price::per_million(1.25, 10.00)),
    ("gpt-5-mini", Price::per_million(0.25, 2.00)),
    ("gpt-5-nano", Price::per_million(0.05, 0.40)),
    ("o3", Price::per_million(2.00, 8.00)),
    ("o3-mini", Price::per_million(1.10, 4.40)),
    ("o4-mini", Price::per_million(1.10, 4.40)),
    ("gpt-3.5-turbo", Price::per_million(0.50, 1.50)),
    ("claude-opus-4", Price::per_million(15.00, 75.00)),
    ("claude-sonnet-4", Price::per_million(3.00, 15.00)),
    ("claude-3-7-sonnet", Price::per_million(3.00, 15.00)),
    ("claude-3-5-sonnet", Price::per_million(3.00, 15.00)),
    ("claude-haiku-4-5", Price::per_million(1.00, 5.00)),
    ("claude-3-5-haiku", Price::per_million(0.80, 4.00)),
    ("gemini-2.5-pro", Price::per_million(1.25, 10.00)),
    ("gemini-2.5-flash", Price::per_million(0.30, 2.50)),
    ("gemini-2.0-flash", Price::per_million(0.10, 0.40)),
];

static OVERRIDES: LazyLock<RwLock<HashMap<String, Price>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// Sets (or replaces) the price of a model for the whole process. `model` is the id with or
/// without its provider prefix (`"openai/gpt-4o"` matches only that provider, `"gpt-4o"` any);
/// dated versions of it are covered too.
///
/// ```
/// use dspy_core::lm::{Price, price_of, set_price};
/// set_price("my-finetune", Price::per_million(1.0, 2.0));
/// assert_eq!(price_of("openai/my-finetune-v2"), Some(Price::per_million(1.0, 2.0)));
/// ```
pub fn set_price(model: &str, price: Price) {
    OVERRIDES.write().unwrap_or_else(|p| p.into_inner()).insert(model.to_string(), price);
}

fn longest_prefix<'a>(id: &str, entries: impl Iterator<Item = (&'a str, Price)>) -> Option<Price> {
    entries
        .filter(|(k, _)| id.starts_with(k) && id[k.len()..].chars().next().is_none_or(|c| c == '-' || c == ':' || c == '@'))
        .max_by_key(|(k, _)| k.len())
        .map(|(_, p)| p)
}

/// The price of `provider/model`: process overrides first, then the built-in table.
pub fn price_of(model: &str) -> Option<Price> {
    let id = model.split_once('/').map_or(model, |(_, id)| id);
    {
        let o = OVERRIDES.read().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = longest_prefix(model, o.iter().map(|(k, v)| (k.as_str(), *v)))
            .or_else(|| longest_prefix(id, o.iter().filter(|(k, _)| !k.contains('/')).map(|(k, v)| (k.as_str(), *v))))
        {
            return Some(p);
        }
    }
    longest_prefix(id, BUILT_IN.iter().map(|(k, v)| (*k, *v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_suffixes_must_be_versions() {
        assert_eq!(price_of("openai/gpt-4o-mini-2024-07-18"), Some(Price::per_million(0.15, 0.60)));
        assert_eq!(price_of("openai/gpt-4o"), Some(Price::per_million(2.50, 10.00)));
        assert_eq!(price_of("anthropic/claude-sonnet-4-5-20250929"), Some(Price::per_million(3.00, 15.00)));
        assert_eq!(price_of("openai/gpt-4omega"), None);
        assert_eq!(price_of("openai/smollm2"), None);
    }
}
