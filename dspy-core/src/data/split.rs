//! Seeded shuffle and train/test split, drawing exactly as Python's `random` does.

use super::DataError;
use super::pyrandom::PyRandom;

/// Shuffles `rows` in place into the order `random.Random(seed).shuffle(rows)` gives in Python,
/// so a split made with a seed in a DSPy script comes out the same here.
///
/// ```
/// let mut rows: Vec<u32> = (0..10).collect();
/// dspy_core::data::shuffle(&mut rows, 0);
/// // Python: r = list(range(10)); random.Random(0).shuffle(r) -> [7, 8, 1, 5, 3, 4, 2, 0, 9, 6]
/// assert_eq!(rows, [7, 8, 1, 5, 3, 4, 2, 0, 9, 6]);
/// ```
pub fn shuffle<T>(rows: &mut [T], seed: u64) {
    let mut rng = PyRandom::new(seed);
    for i in (1..rows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        rows.swap(i, j);
    }
}

/// How many rows go to the training side of a split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Size {
    /// A share of the rows, strictly between 0 and 1 (rounded down, as DSPy's `int(n * share)`).
    Fraction(f64),
    /// A number of rows.
    Count(usize),
}

impl From<f64> for Size {
    fn from(share: f64) -> Self {
        Size::Fraction(share)
    }
}

impl From<usize> for Size {
    fn from(count: usize) -> Self {
        Size::Count(count)
    }
}

/// Shuffles with `seed` (as [`shuffle`]), then cuts: the first `train` rows train, the rest are
/// the test (dev) set. This is DSPy's `DataLoader().train_test_split(rows, train_size,
/// random_state=seed)`; for its `test_size`, keep a prefix of the second set (`dev.truncate(n)`).
///
/// ```
/// let rows: Vec<u32> = (0..10).collect();
/// let (train, dev) = dspy_core::data::train_test_split(rows, 0.75, 0).unwrap();
/// assert_eq!((train.len(), dev.len()), (7, 3));
/// assert_eq!(dev, [0, 9, 6]);
/// ```
pub fn train_test_split<T>(mut rows: Vec<T>, train: impl Into<Size>, seed: u64) -> Result<(Vec<T>, Vec<T>), DataError> {
    let train_end = match train.into() {
        Size::Fraction(share) if share > 0.0 && share < 1.0 => (rows.len() as f64 * share) as usize,
        Size::Fraction(share) => {
            return Err(DataError::Split(format!("a train share must be strictly between 0 and 1, got {share}")));
        }
        Size::Count(n) if n <= rows.len() => n,
        Size::Count(n) => {
            return Err(DataError::Split(format!("{n} training rows asked for, but the dataset has {}", rows.len())));
        }
    };
    shuffle(&mut rows, seed);
    let test = rows.split_off(train_end);
    Ok((rows, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orders printed by CPython 3.11 for `random.Random(seed).shuffle(list(range(n)))`.
    #[test]
    fn shuffles_like_cpython() {
        let cases: [(u64, usize, &[usize]); 4] = [
            (0, 10, &[7, 8, 1, 5, 3, 4, 2, 0, 9, 6]),
            (42, 7, &PY_42_7),
            (2024, 1, &[0]),
            (1 << 35, 12, &PY_BIG_12),
        ];
        for (seed, n, want) in cases {
            let mut rows: Vec<usize> = (0..n).collect();
            shuffle(&mut rows, seed);
            assert_eq!(rows, want, "seed {seed}, n {n}");
        }
    }

    const PY_42_7: [usize; 7] = [1, 3, 4, 2, 6, 0, 5];
    const PY_BIG_12: [usize; 12] = [9, 2, 1, 8, 10, 3, 0, 7, 5, 4, 11, 6];

    #[test]
    fn splits_like_dspy() {
        let rows: Vec<usize> = (0..10).collect();
        let (train, dev) = train_test_split(rows.clone(), 4usize, 0).unwrap();
        assert_eq!(train, [7, 8, 1, 5]);
        assert_eq!(dev, [3, 4, 2, 0, 9, 6]);
        let (train, dev) = train_test_split(rows.clone(), 0.5, 0).unwrap();
        assert_eq!((train.len(), dev.len()), (5, 5));
        assert!(matches!(train_test_split(rows.clone(), 11usize, 0), Err(DataError::Split(m)) if m.contains("11 training rows")));
        assert!(matches!(train_test_split(rows.clone(), 1.0, 0), Err(DataError::Split(_))));
        assert!(matches!(train_test_split(rows, 0.0, 0), Err(DataError::Split(_))));
        let (train, dev) = train_test_split(Vec::<u8>::new(), 0.75, 0).unwrap();
        assert!(train.is_empty() && dev.is_empty());
    }
}
