//! A Tree-structured Parzen Estimator (TPE): the Bayesian sampler MIPROv2 searches with (DSPy
//! runs Optuna's `TPESampler(seed=seed, multivariate=True)`; this is the same algorithm).
//!
//! After `n_startup_trials` random trials, every new trial is chosen like this:
//!
//! 1. the trials so far are split into the best `gamma(n)` ("below", `γ(n) = min(⌈0.1·n⌉, 25)`)
//!    and the rest ("above");
//! 2. each group becomes a Parzen estimator: a mixture with one kernel per trial (weighted by
//!    recency once there are more than 25 trials) plus a prior kernel. A categorical kernel puts
//!    `1 + prior_weight / k` on its trial's choice and `prior_weight / k` on every choice (then
//!    normalised); a numeric kernel is a normal truncated to the range, centred on its trial's
//!    value, whose width shrinks as trials accumulate;
//! 3. `n_ei_candidates` points are drawn from the "below" mixture `l(x)`, and the one with the
//!    largest `log l(x) − log g(x)` (the expected-improvement criterion) is returned.
//!
//! With `multivariate` on (the default, as DSPy), the kernels are joint over all parameters, so
//! the sampler learns combinations (this instruction *with* that demo set), not only marginals.
//! Randomness comes from a [`SeededRng`]: the same seed and the same
//! history give the same suggestions.

// A whole port of Optuna's sampler: MIPROv2 uses its categorical part; the unit tests check the
// numeric kernels and the accessors too, so those stay although the crate does not call them.
#![cfg_attr(not(test), allow(dead_code))]

use std::collections::BTreeMap;
use std::f64::consts::{PI, SQRT_2};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::engine::{SeededRng, seeded_rng};

/// The range of one parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Distribution {
    /// One of `choices` unordered options, identified by their index `0..choices`.
    Categorical {
        /// How many options there are (at least 1).
        choices: usize,
    },
    /// A real number in `[low, high]`, optionally searched on a log scale.
    Float {
        /// The lower bound.
        low: f64,
        /// The upper bound.
        high: f64,
        /// Search `ln(x)` instead of `x` (both bounds must then be positive).
        log: bool,
    },
    /// An integer in `[low, high]`.
    Int {
        /// The lower bound.
        low: i64,
        /// The upper bound.
        high: i64,
    },
}

impl Distribution {
    /// Whether `value` is a valid value of this distribution.
    pub fn contains(&self, value: &ParamValue) -> bool {
        match (self, value) {
            (Distribution::Categorical { choices }, ParamValue::Index(i)) => i < choices,
            (Distribution::Float { low, high, .. }, ParamValue::Float(x)) => x.is_finite() && *x >= *low && *x <= *high,
            (Distribution::Int { low, high }, ParamValue::Int(x)) => x >= low && x <= high,
            _ => false,
        }
    }

    /// The numeric range searched (internal scale), for numeric distributions.
    fn internal_range(&self) -> Option<(f64, f64)> {
        match *self {
            Distribution::Float { low, high, log: true } => Some((low.ln(), high.ln())),
            Distribution::Float { low, high, log: false } => Some((low, high)),
            // As Optuna: integers are searched as reals in [low - 0.5, high + 0.5] and rounded.
            Distribution::Int { low, high } => Some((low as f64 - 0.5, high as f64 + 0.5)),
            Distribution::Categorical { .. } => None,
        }
    }

    fn to_internal(&self, value: &ParamValue) -> f64 {
        match (self, value) {
            (Distribution::Float { log: true, .. }, ParamValue::Float(x)) => x.ln(),
            (_, ParamValue::Float(x)) => *x,
            (_, ParamValue::Int(x)) => *x as f64,
            (_, ParamValue::Index(i)) => *i as f64,
        }
    }

    fn value_at(&self, x: f64) -> ParamValue {
        match *self {
            Distribution::Categorical { choices } => ParamValue::Index((x.max(0.0) as usize).min(choices.saturating_sub(1))),
            Distribution::Float { low, high, log } => {
                let v = if log { x.exp() } else { x };
                ParamValue::Float(v.max(low).min(high))
            }
            Distribution::Int { low, high } => ParamValue::Int((x.round() as i64).max(low).min(high)),
        }
    }
}

/// A value of one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// The index of a categorical choice.
    Index(usize),
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
}

/// Named parameters and their distributions, in a fixed order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SearchSpace {
    params: Vec<(String, Distribution)>,
}

impl SearchSpace {
    /// An empty space.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a parameter.
    pub(crate) fn param(mut self, name: impl Into<String>, distribution: Distribution) -> Self {
        let name = name.into();
        match self.params.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = distribution,
            None => self.params.push((name, distribution)),
        }
        self
    }

    /// Adds a categorical parameter with `choices` options (indices `0..choices`).
    pub(crate) fn categorical(self, name: impl Into<String>, choices: usize) -> Self {
        self.param(name, Distribution::Categorical { choices: choices.max(1) })
    }

    /// Adds a real parameter in `[low, high]`.
    pub(crate) fn float(self, name: impl Into<String>, low: f64, high: f64) -> Self {
        self.param(name, Distribution::Float { low, high, log: false })
    }

    /// Adds an integer parameter in `[low, high]`.
    pub(crate) fn int(self, name: impl Into<String>, low: i64, high: i64) -> Self {
        self.param(name, Distribution::Int { low, high })
    }

    /// The parameters in order.
    pub(crate) fn params(&self) -> &[(String, Distribution)] {
        &self.params
    }

    /// How many parameters there are.
    pub(crate) fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Checks the bounds of every parameter.
    pub(crate) fn validate(&self) -> Result<(), TpeError> {
        for (name, d) in &self.params {
            let ok = match *d {
                Distribution::Categorical { choices } => choices >= 1,
                Distribution::Float { low, high, log } => low.is_finite() && high.is_finite() && low <= high && (!log || low > 0.0),
                Distribution::Int { low, high } => low <= high,
            };
            if !ok {
                return Err(TpeError::InvalidDistribution { name: name.clone(), distribution: d.clone() });
            }
        }
        Ok(())
    }
}

/// One assignment of values to parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Params(pub BTreeMap<String, ParamValue>);

impl Params {
    /// No values.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Sets a value.
    pub(crate) fn with(mut self, name: impl Into<String>, value: ParamValue) -> Self {
        self.0.insert(name.into(), value);
        self
    }

    /// The value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<ParamValue> {
        self.0.get(name).copied()
    }

    /// The choice index of a categorical parameter.
    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        match self.0.get(name) {
            Some(ParamValue::Index(i)) => Some(*i),
            _ => None,
        }
    }

    /// The value of a real parameter.
    pub(crate) fn float(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(ParamValue::Float(x)) => Some(*x),
            _ => None,
        }
    }

    /// The value of an integer parameter.
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(ParamValue::Int(x)) => Some(*x),
            _ => None,
        }
    }
}

/// Why the sampler refused an observation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TpeError {
    /// A parameter's bounds are invalid.
    #[error("parameter `{name}` has an invalid distribution: {distribution:?}")]
    InvalidDistribution {
        /// The parameter.
        name: String,
        /// Its distribution.
        distribution: Distribution,
    },
    /// The observed parameters do not match the search space.
    #[error("parameter `{name}` is missing or out of range in the observed trial")]
    InvalidParams {
        /// The offending parameter.
        name: String,
    },
    /// The observed value is not a finite number.
    #[error("the observed value {0} is not finite")]
    NonFiniteValue(f64),
}

impl From<TpeError> for dspy_core::Error {
    fn from(e: TpeError) -> Self {
        dspy_core::Error::custom(e)
    }
}

/// The sampler's settings; the defaults are Optuna's (which DSPy's MIPROv2 uses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TpeConfig {
    /// Random trials before the estimator is used (10).
    pub n_startup_trials: usize,
    /// Points drawn from `l(x)` per suggestion (24).
    pub n_ei_candidates: usize,
    /// The weight of the prior kernel (1.0).
    pub prior_weight: f64,
    /// Joint kernels over all parameters (true, as DSPy's `multivariate=True`).
    pub multivariate: bool,
    /// Maximise (true, as MIPROv2) or minimise the observed values.
    pub maximize: bool,
}

impl Default for TpeConfig {
    fn default() -> Self {
        TpeConfig { n_startup_trials: 10, n_ei_candidates: 24, prior_weight: 1.0, multivariate: true, maximize: true }
    }
}

/// Optuna's default `gamma`: how many of `n` trials are "good", `min(⌈0.1·n⌉, 25)`.
pub(crate) fn default_gamma(n: usize) -> usize {
    (n.div_ceil(10)).min(25)
}

/// Optuna's default kernel weights for `n` trials in trial order: all 1 up to 25 trials, then a
/// ramp from `1/n` to 1 for the oldest `n − 25` and 1 for the newest 25.
pub(crate) fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp_len = n - 25;
    let mut w: Vec<f64> = (0..ramp_len)
        .map(|i| if ramp_len == 1 { 1.0 / n as f64 } else { 1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp_len - 1) as f64 })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// A TPE sampler over a [`SearchSpace`]: [`ask`](TpeSampler::ask) for parameters,
/// [`tell`](TpeSampler::tell) their observed value.
#[derive(Debug)]
pub(crate) struct TpeSampler {
    space: SearchSpace,
    config: TpeConfig,
    rng: SeededRng,
    trials: Vec<(Params, f64)>,
}

/// One component of a mixture for one parameter.
#[derive(Clone, Debug)]
enum Kernel {
    /// Probabilities per choice.
    Categorical(Vec<f64>),
    /// A normal truncated to `[low, high]` (internal scale).
    Numeric { mu: f64, sigma: f64, low: f64, high: f64 },
}

/// A Parzen estimator: mixture weights and, per kernel, one kernel per parameter.
#[derive(Clone, Debug)]
struct Parzen {
    weights: Vec<f64>,
    /// `kernels[k][p]`: kernel `k`'s distribution of parameter `p`.
    kernels: Vec<Vec<Kernel>>,
}

impl TpeSampler {
    /// A sampler with Optuna's defaults, seeded with `seed`.
    pub(crate) fn new(space: SearchSpace, seed: u64) -> Self {
        Self::with_config(space, seed, TpeConfig::default())
    }

    /// A sampler with these settings.
    pub(crate) fn with_config(space: SearchSpace, seed: u64, config: TpeConfig) -> Self {
        TpeSampler { space, config, rng: seeded_rng(seed), trials: Vec::new() }
    }

    /// Every observed trial, in order.
    pub(crate) fn trials(&self) -> &[(Params, f64)] {
        &self.trials
    }

    /// The generator at its current position (with [`TpeSampler::trials`], all a checkpoint
    /// needs to continue the same suggestions).
    pub(crate) fn rng(&self) -> &SeededRng {
        &self.rng
    }

    /// Continues from a checkpoint: the generator's position and the trials observed.
    pub(crate) fn restore(&mut self, rng: SeededRng, trials: Vec<(Params, f64)>) {
        self.rng = rng;
        self.trials = trials;
    }

    /// The best observed trial (the earliest on ties).
    pub(crate) fn best(&self) -> Option<&(Params, f64)> {
        let better = |a: f64, b: f64| if self.config.maximize { a > b } else { a < b };
        self.trials.iter().fold(None, |best: Option<&(Params, f64)>, t| match best {
            Some(b) if !better(t.1, b.1) => Some(b),
            _ => Some(t),
        })
    }

    /// Records the value observed for `params` (also for parameters this sampler did not
    /// suggest, such as a baseline added up front, as DSPy adds the default program).
    pub(crate) fn tell(&mut self, params: Params, value: f64) -> Result<(), TpeError> {
        if !value.is_finite() {
            return Err(TpeError::NonFiniteValue(value));
        }
        for (name, d) in self.space.params() {
            match params.get(name) {
                Some(v) if d.contains(&v) => {}
                _ => return Err(TpeError::InvalidParams { name: name.clone() }),
            }
        }
        self.trials.push((params, value));
        Ok(())
    }

    /// Suggests the next parameters: uniformly at random during the first `n_startup_trials`,
    /// then by the TPE criterion.
    pub(crate) fn ask(&mut self) -> Params {
        if self.space.is_empty() {
            return Params::new();
        }
        if self.trials.len() < self.config.n_startup_trials.max(1) {
            return self.sample_random();
        }
        if self.config.multivariate {
            self.sample_tpe(&(0..self.space.len()).collect::<Vec<_>>())
        } else {
            // Independent sampling: one estimator per parameter.
            let mut out = Params::new();
            for p in 0..self.space.len() {
                let one = self.sample_tpe(&[p]);
                out.0.extend(one.0);
            }
            out
        }
    }

    fn sample_random(&mut self) -> Params {
        let mut out = Params::new();
        for (name, d) in self.space.params() {
            let v = match *d {
                // Invalid ranges (see `SearchSpace::validate`) give their lower bound, never a panic.
                Distribution::Categorical { choices } => ParamValue::Index(if choices == 0 { 0 } else { self.rng.random_range(0..choices) }),
                Distribution::Int { low, high } => ParamValue::Int(if low > high { low } else { self.rng.random_range(low..=high) }),
                Distribution::Float { .. } => {
                    let (lo, hi) = d.internal_range().unwrap_or((0.0, 0.0));
                    d.value_at(lo + (hi - lo) * self.rng.random::<f64>())
                }
            };
            out.0.insert(name.clone(), v);
        }
        out
    }

    /// The trials split into (below, above), each in trial order.
    fn split(&self) -> (Vec<usize>, Vec<usize>) {
        let n = self.trials.len();
        let n_below = default_gamma(n);
        let mut order: Vec<usize> = (0..n).collect();
        // Stable sort: earlier trials win ties, as Optuna's sort by (value, number).
        order.sort_by(|&a, &b| {
            let (va, vb) = (self.trials[a].1, self.trials[b].1);
            let ord = if self.config.maximize { vb.total_cmp(&va) } else { va.total_cmp(&vb) };
            ord.then(a.cmp(&b))
        });
        let mut below: Vec<usize> = order[..n_below].to_vec();
        let mut above: Vec<usize> = order[n_below..].to_vec();
        below.sort_unstable();
        above.sort_unstable();
        (below, above)
    }

    fn build_parzen(&self, trials: &[usize], params: &[usize]) -> Parzen {
        let n = trials.len();
        let prior = self.config.prior_weight;
        let mut weights = default_weights(n);
        weights.push(prior);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let n_kernels = n + 1;
        let dims = params.len();
        let mut kernels: Vec<Vec<Kernel>> = (0..n_kernels).map(|_| Vec::with_capacity(dims)).collect();
        for &p in params {
            let (name, d) = &self.space.params()[p];
            match *d {
                Distribution::Categorical { choices } => {
                    for (k, slot) in kernels.iter_mut().enumerate() {
                        let mut probs = vec![prior / n_kernels as f64; choices];
                        if k < n
                            && let Some(i) = self.trials[trials[k]].0.index(name)
                            && i < choices
                        {
                            probs[i] += 1.0;
                        }
                        let sum: f64 = probs.iter().sum();
                        probs.iter_mut().for_each(|q| *q /= sum);
                        slot.push(Kernel::Categorical(probs));
                    }
                }
                _ => {
                    let (low, high) = d.internal_range().unwrap_or((0.0, 1.0));
                    let width = (high - low).max(f64::MIN_POSITIVE);
                    // Scott-style bandwidth of Optuna's multivariate TPE, in the range's units.
                    let sigma = (0.2 * (n.max(1) as f64).powf(-1.0 / (dims as f64 + 4.0)) * width).max(width * 1e-3);
                    for (k, slot) in kernels.iter_mut().enumerate() {
                        let kernel = if k < n {
                            let value = self.trials[trials[k]].0.get(name).map(|v| d.to_internal(&v)).unwrap_or((low + high) / 2.0);
                            Kernel::Numeric { mu: value, sigma, low, high }
                        } else {
                            Kernel::Numeric { mu: (low + high) / 2.0, sigma: width, low, high }
                        };
                        slot.push(kernel);
                    }
                }
            }
        }
        Parzen { weights, kernels }
    }

    fn sample_tpe(&mut self, params: &[usize]) -> Params {
        let (below, above) = self.split();
        let l = self.build_parzen(&below, params);
        let g = self.build_parzen(&above, params);
        let mut best: Option<(f64, Vec<f64>)> = None;
        for _ in 0..self.config.n_ei_candidates.max(1) {
            let x = l.sample(&mut self.rng);
            let score = l.log_pdf(&x) - g.log_pdf(&x);
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, x));
            }
        }
        let mut out = Params::new();
        if let Some((_, x)) = best {
            for (j, &p) in params.iter().enumerate() {
                let (name, d) = &self.space.params()[p];
                out.0.insert(name.clone(), d.value_at(x[j]));
            }
        }
        out
    }
}

impl Parzen {
    /// Draws one point (internal values, one per parameter; categorical ones as indices).
    fn sample(&self, rng: &mut SeededRng) -> Vec<f64> {
        let k = weighted_index(&self.weights, rng);
        self.kernels[k]
            .iter()
            .map(|kernel| match kernel {
                Kernel::Categorical(probs) => weighted_index(probs, rng) as f64,
                Kernel::Numeric { mu, sigma, low, high } => sample_truncated_normal(*mu, *sigma, *low, *high, rng),
            })
            .collect()
    }

    /// The log density of a point under the mixture.
    fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = self
            .kernels
            .iter()
            .zip(&self.weights)
            .map(|(kernel, w)| {
                let mut lp = w.ln();
                for (component, &xi) in kernel.iter().zip(x) {
                    lp += match component {
                        Kernel::Categorical(probs) => probs.get(xi as usize).copied().unwrap_or(0.0).ln(),
                        Kernel::Numeric { mu, sigma, low, high } => truncated_normal_log_pdf(xi, *mu, *sigma, *low, *high),
                    };
                }
                lp
            })
            .collect();
        log_sum_exp(&terms)
    }
}

/// An index drawn with probability proportional to `weights` (the last on rounding).
pub(crate) fn weighted_index(weights: &[f64], rng: &mut SeededRng) -> usize {
    let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if weights.is_empty() {
        return 0;
    }
    if total <= 0.0 {
        return rng.random_range(0..weights.len());
    }
    let mut target = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if !(w.is_finite() && *w > 0.0) {
            continue;
        }
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.iter().rposition(|w| w.is_finite() && *w > 0.0).unwrap_or(0)
}

fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// The standard normal CDF.
fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * (-z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
        .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

fn truncated_normal_log_pdf(x: f64, mu: f64, sigma: f64, low: f64, high: f64) -> f64 {
    if x < low || x > high {
        return f64::NEG_INFINITY;
    }
    let z = (x - mu) / sigma;
    let mass = (norm_cdf((high - mu) / sigma) - norm_cdf((low - mu) / sigma)).max(1e-12);
    -0.5 * z * z - 0.5 * (2.0 * PI).ln() - sigma.ln() - mass.ln()
}

/// A draw from a normal truncated to `[low, high]` (rejection, then a uniform fallback).
fn sample_truncated_normal(mu: f64, sigma: f64, low: f64, high: f64, rng: &mut SeededRng) -> f64 {
    for _ in 0..64 {
        // Box–Muller.
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos();
        let x = mu + sigma * z;
        if (low..=high).contains(&x) {
            return x;
        }
    }
    low + (high - low) * rng.random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space2() -> SearchSpace {
        SearchSpace::new().categorical("a", 6).categorical("b", 6)
    }

    /// Only (a=4, b=1) scores 1, (a=4, *) scores 0.5.
    fn objective(p: &Params) -> f64 {
        match (p.index("a"), p.index("b")) {
            (Some(4), Some(1)) => 1.0,
            (Some(4), _) => 0.5,
            (_, Some(1)) => 0.3,
            _ => 0.0,
        }
    }

    fn run(seed: u64, trials: usize, config: TpeConfig) -> Vec<(Params, f64)> {
        let mut tpe = TpeSampler::with_config(space2(), seed, config);
        for _ in 0..trials {
            let p = tpe.ask();
            let v = objective(&p);
            tpe.tell(p, v).unwrap();
        }
        tpe.trials().to_vec()
    }

    #[test]
    fn deterministic_under_seed() {
        let a = run(3, 40, TpeConfig::default());
        let b = run(3, 40, TpeConfig::default());
        assert_eq!(a, b);
        let c = run(4, 40, TpeConfig::default());
        assert_ne!(a, c);
    }

    #[test]
    fn prefers_good_regions_after_startup() {
        // Averaged over seeds, the model-guided phase samples the good region far more often
        // than random sampling would (random: a=4 with probability 1/6).
        let mut guided_hits = 0usize;
        let mut guided_total = 0usize;
        let mut random_hits = 0usize;
        let mut random_total = 0usize;
        for seed in 0..20 {
            let trials = run(seed, 60, TpeConfig::default());
            for (i, (p, _)) in trials.iter().enumerate() {
                let hit = p.index("a") == Some(4);
                if i < 10 {
                    random_hits += hit as usize;
                    random_total += 1;
                } else {
                    guided_hits += hit as usize;
                    guided_total += 1;
                }
            }
        }
        let guided = guided_hits as f64 / guided_total as f64;
        let random = random_hits as f64 / random_total as f64;
        assert!(guided > 0.4, "guided rate {guided}");
        assert!(guided > 2.0 * random, "guided {guided} vs random {random}");
    }

    #[test]
    fn finds_the_best_combination_more_often_than_random_search() {
        let found = |config: TpeConfig| (0..20).filter(|&s| run(s, 30, config.clone()).iter().any(|(_, v)| *v == 1.0)).count();
        let tpe = found(TpeConfig::default());
        let random = found(TpeConfig { n_startup_trials: 1000, ..TpeConfig::default() });
        assert!(tpe > random, "tpe found the optimum in {tpe}/20 runs, random search in {random}/20");
        assert!(tpe >= 15, "tpe found the optimum in only {tpe}/20 runs");
    }

    #[test]
    fn multivariate_learns_combinations() {
        // XOR-like: a good `a` only pays with the matching `b`; marginals alone are useless.
        let space = SearchSpace::new().categorical("a", 4).categorical("b", 4);
        let f = |p: &Params| if p.index("a") == p.index("b") && p.index("a") != Some(0) { 1.0 } else { 0.0 };
        let mut hits = 0;
        for seed in 0..10 {
            let mut tpe = TpeSampler::new(space.clone(), seed);
            for _ in 0..40 {
                let p = tpe.ask();
                let v = f(&p);
                tpe.tell(p, v).unwrap();
            }
            hits += tpe.trials()[20..].iter().filter(|(_, v)| *v == 1.0).count();
        }
        // Random: 3/16 ≈ 19% of the last 20 trials.
        assert!(hits as f64 / 200.0 > 0.35, "hit rate {}", hits as f64 / 200.0);
    }

    #[test]
    fn numeric_parameters_converge_towards_the_optimum() {
        let space = SearchSpace::new().float("x", -5.0, 5.0).int("k", 0, 10);
        let mut tpe = TpeSampler::new(space, 1);
        for _ in 0..80 {
            let p = tpe.ask();
            let x = p.float("x").unwrap();
            let k = p.int("k").unwrap() as f64;
            assert!((-5.0..=5.0).contains(&x) && (0.0..=10.0).contains(&k));
            tpe.tell(p, -((x - 2.0).powi(2)) - (k - 7.0).powi(2)).unwrap();
        }
        let late: Vec<f64> = tpe.trials()[60..].iter().map(|(p, _)| p.float("x").unwrap()).collect();
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        assert!((mean - 2.0).abs() < 1.0, "late mean of x: {mean}");
        let (best, value) = tpe.best().unwrap();
        assert!(*value > -1.0, "best {best:?} = {value}");
    }

    #[test]
    fn minimisation_and_validation() {
        let space = SearchSpace::new().categorical("a", 3);
        let mut tpe = TpeSampler::with_config(space, 0, TpeConfig { maximize: false, n_startup_trials: 3, ..TpeConfig::default() });
        for _ in 0..25 {
            let p = tpe.ask();
            let v = p.index("a").unwrap() as f64;
            tpe.tell(p, v).unwrap();
        }
        assert_eq!(tpe.best().unwrap().1, 0.0);
        let late_zeros = tpe.trials()[10..].iter().filter(|(p, _)| p.index("a") == Some(0)).count();
        assert!(late_zeros > 8, "{late_zeros}");
        assert!(matches!(tpe.tell(Params::new().with("a", ParamValue::Index(7)), 1.0), Err(TpeError::InvalidParams { .. })));
        assert!(matches!(tpe.tell(Params::new().with("a", ParamValue::Index(1)), f64::NAN), Err(TpeError::NonFiniteValue(_))));
        let bad = SearchSpace::new().float("x", 1.0, 0.0);
        assert!(bad.validate().is_err());
    }

    #[test]
    fn estimator_weights_follow_optuna() {
        assert_eq!(default_gamma(0), 0);
        assert_eq!(default_gamma(10), 1);
        assert_eq!(default_gamma(300), 25);
        let w = default_weights(27);
        assert_eq!(w.len(), 27);
        assert!((w[0] - 1.0 / 27.0).abs() < 1e-12 && (w[1] - 1.0).abs() < 1e-12);
        // A categorical kernel puts 1 + prior/k on its observation.
        let mut tpe = TpeSampler::new(SearchSpace::new().categorical("a", 2), 0);
        tpe.tell(Params::new().with("a", ParamValue::Index(1)), 1.0).unwrap();
        let parzen = tpe.build_parzen(&[0], &[0]);
        match &parzen.kernels[0][0] {
            Kernel::Categorical(p) => assert!((p[1] - 1.5 / 2.0).abs() < 1e-12, "{p:?}"),
            other => panic!("{other:?}"),
        }
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7 && (norm_cdf(1.96) - 0.975).abs() < 1e-4);
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn module_overview() {
        use crate::tpe::{Distribution, SearchSpace, TpeSampler};
        let space = SearchSpace::new().categorical("instruction", 4).categorical("demos", 3);
        let mut tpe = TpeSampler::new(space, 0);
        for _ in 0..30 {
            let params = tpe.ask();
            // Instruction 2 with demo set 1 is the best combination.
            let score = (params.index("instruction") == Some(2)) as u8 as f64 + (params.index("demos") == Some(1)) as u8 as f64;
            tpe.tell(params, score).unwrap();
        }
        assert_eq!(tpe.best().unwrap().1, 2.0);
        let _ = Distribution::Categorical { choices: 2 };
    }

    #[test]
    fn search_space() {
        use crate::tpe::SearchSpace;
        let space = SearchSpace::new().categorical("0_predictor_instruction", 3).float("temperature", 0.0, 2.0);
        assert_eq!(space.len(), 2);
    }

    #[test]
    fn default_gamma() {
        assert_eq!(crate::tpe::default_gamma(9), 1);
        assert_eq!(crate::tpe::default_gamma(11), 2);
        assert_eq!(crate::tpe::default_gamma(1000), 25);
    }

    #[test]
    fn default_weights() {
        let w = crate::tpe::default_weights(30);
        assert_eq!(w.len(), 30);
        assert!(w[0] < w[29]);
        assert_eq!(crate::tpe::default_weights(3), vec![1.0; 3]);
    }
}
