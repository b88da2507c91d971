//! GEPA's merge ("system-aware crossover"): two frontier candidates that descend from a common
//! ancestor, each having changed different predictors, are combined into one that takes each
//! predictor's instruction from the descendant that changed it.

use std::collections::BTreeSet;

use rand::RngExt;
use rand::seq::IndexedRandom;

use crate::engine::SeededRng;
use crate::tpe::weighted_index;

/// A candidate: one instruction per component (predictor), in program order.
pub(crate) type Candidate = Vec<String>;

/// Merges tried so far: `(i, j, ancestor)` triplets, and `(i, j, description)` of merged
/// programs (which descendant each component came from).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct MergeLog {
    /// Triplets merged.
    pub triplets: Vec<(usize, usize, usize)>,
    /// Merged programs, as the parents and the source of each component.
    pub descriptions: Vec<(usize, usize, Vec<usize>)>,
}

/// Every ancestor of `node` (parents, their parents...).
pub(crate) fn ancestors(parents: &[Vec<Option<usize>>], node: usize) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        for p in parents.get(n).into_iter().flatten().flatten() {
            if found.insert(*p) {
                stack.push(*p);
            }
        }
    }
    found
}

/// Whether some component equals the ancestor's in one descendant and differs in the other
/// (GEPA's `does_triplet_have_desirable_predictors`).
pub(crate) fn has_desirable_predictors(candidates: &[Candidate], ancestor: usize, i: usize, j: usize) -> bool {
    let (a, x, y) = (&candidates[ancestor], &candidates[i], &candidates[j]);
    a.iter().zip(x).zip(y).any(|((a, x), y)| (a == x || a == y) && x != y)
}

/// Picks two candidates among `merge_candidates` with a common ancestor that both outscore, not
/// yet merged, and that changed different components (GEPA's `find_common_ancestor_pair`).
pub(crate) fn find_common_ancestor_pair(
    rng: &mut SeededRng,
    parents: &[Vec<Option<usize>>],
    merge_candidates: &[usize],
    log: &MergeLog,
    agg_scores: &[f64],
    candidates: &[Candidate],
    max_attempts: usize,
) -> Option<(usize, usize, usize)> {
    for _ in 0..max_attempts {
        if merge_candidates.len() < 2 {
            return None;
        }
        let picked: Vec<usize> = merge_candidates.sample(rng, 2).copied().collect();
        let (mut i, mut j) = (picked[0], picked[1]);
        if i == j {
            continue;
        }
        if j < i {
            std::mem::swap(&mut i, &mut j);
        }
        let (ai, aj) = (ancestors(parents, i), ancestors(parents, j));
        if ai.contains(&j) || aj.contains(&i) {
            continue;
        }
        let common: Vec<usize> = ai
            .intersection(&aj)
            .copied()
            .filter(|&a| !log.triplets.contains(&(i, j, a)))
            .filter(|&a| agg_scores[a] <= agg_scores[i] && agg_scores[a] <= agg_scores[j])
            .filter(|&a| has_desirable_predictors(candidates, a, i, j))
            .collect();
        if !common.is_empty() {
            let weights: Vec<f64> = common.iter().map(|&a| agg_scores[a]).collect();
            return Some((i, j, common[weighted_index(&weights, rng)]));
        }
    }
    None
}

/// GEPA's `sample_and_attempt_merge_programs_by_common_predictors`: a merged candidate and
/// `(id1, id2, ancestor)`, or `None` when no new merge is found in `max_attempts`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attempt_merge(
    rng: &mut SeededRng,
    agg_scores: &[f64],
    merge_candidates: &[usize],
    log: &mut MergeLog,
    candidates: &[Candidate],
    parents: &[Vec<Option<usize>>],
    overlap_ok: &dyn Fn(usize, usize) -> bool,
    max_attempts: usize,
) -> Option<(Candidate, usize, usize, usize)> {
    if merge_candidates.len() < 2 || parents.len() < 3 {
        return None;
    }
    for _ in 0..max_attempts {
        let Some((id1, id2, ancestor)) = find_common_ancestor_pair(rng, parents, merge_candidates, log, agg_scores, candidates, max_attempts) else {
            continue;
        };
        if log.triplets.contains(&(id1, id2, ancestor)) {
            continue;
        }
        let mut merged = candidates[ancestor].clone();
        let mut description = Vec::with_capacity(merged.len());
        for c in 0..merged.len() {
            let (a, x, y) = (&candidates[ancestor][c], &candidates[id1][c], &candidates[id2][c]);
            let source = if (a == x || a == y) && x != y {
                // One descendant kept the ancestor's text: take the other's change.
                if a == x { id2 } else { id1 }
            } else if a != x && a != y {
                // Both changed it: take the better descendant's (a coin flip on ties).
                if agg_scores[id1] > agg_scores[id2] {
                    id1
                } else if agg_scores[id2] > agg_scores[id1] {
                    id2
                } else {
                    *[id1, id2].choose(rng).unwrap_or(&id1)
                }
            } else {
                id1
            };
            merged[c] = candidates[source][c].clone();
            description.push(source);
        }
        if log.descriptions.contains(&(id1, id2, description.clone())) {
            continue;
        }
        if !overlap_ok(id1, id2) {
            continue;
        }
        log.descriptions.push((id1, id2, description));
        return Some((merged, id1, id2, ancestor));
    }
    None
}

/// GEPA's `select_eval_subsample_for_merged_program`: up to `n` validation instances, about a
/// third where the first parent wins, a third where the second wins, a third ties.
pub(crate) fn merge_subsample(scores1: &[f64], scores2: &[f64], n: usize, rng: &mut SeededRng) -> Vec<usize> {
    let common: Vec<usize> = (0..scores1.len().min(scores2.len())).collect();
    let p1: Vec<usize> = common.iter().copied().filter(|&i| scores1[i] > scores2[i]).collect();
    let p2: Vec<usize> = common.iter().copied().filter(|&i| scores2[i] > scores1[i]).collect();
    let p3: Vec<usize> = common.iter().copied().filter(|i| !p1.contains(i) && !p2.contains(i)).collect();
    let n_each = n.div_ceil(3).max(1);
    let mut selected: Vec<usize> = Vec::new();
    for bucket in [&p1, &p2, &p3] {
        if selected.len() >= n {
            break;
        }
        let available: Vec<usize> = bucket.iter().copied().filter(|i| !selected.contains(i)).collect();
        let take = available.len().min(n_each).min(n - selected.len());
        selected.extend(available.sample(rng, take).copied());
    }
    let remaining = n.saturating_sub(selected.len());
    if remaining > 0 {
        let unused: Vec<usize> = common.iter().copied().filter(|i| !selected.contains(i)).collect();
        if unused.len() >= remaining {
            selected.extend(unused.sample(rng, remaining).copied());
        } else if !common.is_empty() {
            for _ in 0..remaining {
                selected.push(common[rng.random_range(0..common.len())]);
            }
        }
    }
    selected.truncate(n);
    selected
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::seeded_rng;

    fn cands() -> Vec<Candidate> {
        vec![
            vec!["a0".into(), "b0".into()], // 0: seed
            vec!["a1".into(), "b0".into()], // 1: changed a
            vec!["a0".into(), "b2".into()], // 2: changed b
        ]
    }

    #[test]
    fn merges_take_each_descendants_change() {
        let parents = vec![vec![None], vec![Some(0)], vec![Some(0)]];
        let agg = [0.2, 0.5, 0.6];
        let mut log = MergeLog::default();
        let mut rng = seeded_rng(0);
        let (merged, i, j, anc) = attempt_merge(&mut rng, &agg, &[1, 2], &mut log, &cands(), &parents, &|_, _| true, 10).unwrap();
        assert_eq!((i, j, anc), (1, 2, 0));
        assert_eq!(merged, vec!["a1".to_string(), "b2".to_string()]);
        // The same merge is not proposed twice.
        log.triplets.push((1, 2, 0));
        assert!(attempt_merge(&mut rng, &agg, &[1, 2], &mut log, &cands(), &parents, &|_, _| true, 10).is_none());
    }

    #[test]
    fn no_merge_of_a_line_of_descent_or_a_worse_ancestor() {
        // 2 descends from 1: not mergeable.
        let parents = vec![vec![None], vec![Some(0)], vec![Some(1)]];
        let mut rng = seeded_rng(0);
        assert!(find_common_ancestor_pair(&mut rng, &parents, &[1, 2], &MergeLog::default(), &[0.1, 0.5, 0.6], &cands(), 10).is_none());
        // The ancestor outscoring a descendant is no base for a merge.
        let parents = vec![vec![None], vec![Some(0)], vec![Some(0)]];
        assert!(find_common_ancestor_pair(&mut rng, &parents, &[1, 2], &MergeLog::default(), &[0.9, 0.5, 0.6], &cands(), 10).is_none());
        assert_eq!(ancestors(&[vec![None], vec![Some(0)], vec![Some(1)], vec![Some(2), Some(1)]], 3), BTreeSet::from([0, 1, 2]));
    }

    #[test]
    fn subsample_balances_wins_and_ties() {
        let s1 = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        let s2 = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0];
        let mut rng = seeded_rng(3);
        let picked = merge_subsample(&s1, &s2, 5, &mut rng);
        assert_eq!(picked.len(), 5);
        assert_eq!(picked.iter().filter(|&&i| s1[i] > s2[i]).count(), 2);
        assert_eq!(picked.iter().filter(|&&i| s2[i] > s1[i]).count(), 2);
        assert_eq!(picked.iter().collect::<BTreeSet<_>>().len(), 5);
        assert_eq!(merge_subsample(&[1.0, 0.0], &[0.0, 1.0], 5, &mut rng).len(), 5);
    }
}
