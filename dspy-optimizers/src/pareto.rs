//! Pareto-frontier utilities of GEPA: which candidates are the best on each validation
//! instance, which of those are dominated, and how a parent is drawn from the frontier.
//!
//! GEPA keeps, per validation instance, the best score any candidate reached and the set of
//! candidates that reached it. A candidate on no instance's set is off the frontier. Among
//! frontier members, a candidate is *dominated* when every instance it is best on also has
//! another (non-dominated) best candidate; dominated candidates are removed lowest-score first,
//! one at a time, until none is. The parent of the next mutation is then drawn with probability
//! proportional to the number of instances each remaining candidate is best on — so a candidate
//! that alone solves a rare kind of example stays in play even with a low average.

// GEPA calls part of the frontier's API; the unit tests check the rest (its accessors).
#![cfg_attr(not(test), allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::engine::SeededRng;
use crate::tpe::weighted_index;

/// The per-instance Pareto frontier over validation instances (GEPA's `frontier_type="instance"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ParetoFrontier {
    /// Per instance, the best score reached (`-inf` before any candidate).
    best: Vec<f64>,
    /// Per instance, the candidates that reached it.
    programs: Vec<BTreeSet<usize>>,
}

impl ParetoFrontier {
    /// An empty frontier over `instances` validation instances.
    pub(crate) fn new(instances: usize) -> Self {
        ParetoFrontier { best: vec![f64::NEG_INFINITY; instances], programs: vec![BTreeSet::new(); instances] }
    }

    /// Adds candidate `program` with its score on each instance (a candidate evaluated on fewer
    /// instances passes only those). Returns whether the frontier changed.
    pub(crate) fn add(&mut self, program: usize, scores: &[f64]) -> bool {
        let mut changed = false;
        for (i, &s) in scores.iter().enumerate().take(self.best.len()) {
            changed |= self.add_one(i, program, s);
        }
        changed
    }

    /// Adds one instance's score of `program` (GEPA's `_update_pareto_front_for_val_id`).
    pub(crate) fn add_one(&mut self, instance: usize, program: usize, score: f64) -> bool {
        let Some(best) = self.best.get_mut(instance) else { return false };
        if score > *best {
            *best = score;
            self.programs[instance] = BTreeSet::from([program]);
            true
        } else if score == *best {
            self.programs[instance].insert(program)
        } else {
            false
        }
    }

    /// The best score per instance.
    pub(crate) fn best_scores(&self) -> &[f64] {
        &self.best
    }

    /// The candidates best on each instance.
    pub(crate) fn fronts(&self) -> &[BTreeSet<usize>] {
        &self.programs
    }

    /// The mean of the best scores: what an oracle picking the best candidate per instance
    /// would reach (GEPA's `valset_pareto_front_agg`).
    pub(crate) fn aggregate(&self) -> f64 {
        let seen: Vec<f64> = self.best.iter().copied().filter(|s| s.is_finite()).collect();
        if seen.is_empty() { 0.0 } else { seen.iter().sum::<f64>() / seen.len() as f64 }
    }

    /// Every candidate on the frontier (best on at least one instance).
    pub(crate) fn members(&self) -> BTreeSet<usize> {
        self.programs.iter().flatten().copied().collect()
    }

    /// How many instances each candidate is best on.
    pub(crate) fn frequencies(&self) -> BTreeMap<usize, usize> {
        frequencies(&self.programs)
    }

    /// The frontier members left after removing dominated ones (see [`remove_dominated`]).
    pub(crate) fn dominators(&self, agg_scores: &[f64]) -> Vec<usize> {
        find_dominators(&self.programs, agg_scores)
    }

    /// Draws a parent (see [`select_from_frontier`]); `None` when the frontier is empty.
    pub(crate) fn select(&self, agg_scores: &[f64], rng: &mut SeededRng) -> Option<usize> {
        select_from_frontier(&self.programs, agg_scores, rng)
    }
}

fn frequencies(fronts: &[BTreeSet<usize>]) -> BTreeMap<usize, usize> {
    let mut freq = BTreeMap::new();
    for front in fronts {
        for &p in front {
            *freq.entry(p).or_insert(0) += 1;
        }
    }
    freq
}

/// The candidates in order of first appearance over the fronts (as GEPA's frequency dict).
fn in_appearance_order(fronts: &[BTreeSet<usize>]) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for front in fronts {
        for &p in front {
            if seen.insert(p) {
                out.push(p);
            }
        }
    }
    out
}

/// Whether `y` is dominated by `others`: every front that contains `y` also contains one of
/// `others` (GEPA's `is_dominated`).
pub(crate) fn is_dominated(y: usize, others: &BTreeSet<usize>, fronts: &[BTreeSet<usize>]) -> bool {
    fronts.iter().filter(|f| f.contains(&y)).all(|f| f.iter().any(|p| others.contains(p)))
}

/// The fronts without dominated candidates (GEPA's `remove_dominated_programs`): candidates are
/// considered from the lowest aggregate score up (`agg_scores[p]`, ties in order of appearance),
/// and the first dominated one is removed, until none is. Every non-empty front keeps at least
/// one candidate.
pub(crate) fn remove_dominated(fronts: &[BTreeSet<usize>], agg_scores: &[f64]) -> Vec<BTreeSet<usize>> {
    let score = |p: usize| agg_scores.get(p).copied().unwrap_or(1.0);
    let mut programs = in_appearance_order(fronts);
    programs.sort_by(|&a, &b| score(a).total_cmp(&score(b)));
    let mut dominated: BTreeSet<usize> = BTreeSet::new();
    loop {
        let mut removed = false;
        for &y in &programs {
            if dominated.contains(&y) {
                continue;
            }
            let others: BTreeSet<usize> = programs.iter().copied().filter(|&p| p != y && !dominated.contains(&p)).collect();
            if is_dominated(y, &others, fronts) {
                dominated.insert(y);
                removed = true;
                break;
            }
        }
        if !removed {
            break;
        }
    }
    fronts.iter().map(|f| f.iter().copied().filter(|p| !dominated.contains(p)).collect()).collect()
}

/// The candidates that survive [`remove_dominated`] (GEPA's `find_dominator_programs`), sorted.
pub(crate) fn find_dominators(fronts: &[BTreeSet<usize>], agg_scores: &[f64]) -> Vec<usize> {
    let kept = remove_dominated(fronts, agg_scores);
    kept.iter().flatten().copied().collect::<BTreeSet<_>>().into_iter().collect()
}

/// Draws a candidate from the non-dominated frontier, each with probability proportional to
/// the number of instances it is best on (GEPA's `select_program_candidate_from_pareto_front`).
/// `None` when every front is empty.
pub(crate) fn select_from_frontier(fronts: &[BTreeSet<usize>], agg_scores: &[f64], rng: &mut SeededRng) -> Option<usize> {
    let kept = remove_dominated(fronts, agg_scores);
    let order = in_appearance_order(&kept);
    if order.is_empty() {
        return None;
    }
    let freq = frequencies(&kept);
    let weights: Vec<f64> = order.iter().map(|p| freq.get(p).copied().unwrap_or(0) as f64).collect();
    Some(order[weighted_index(&weights, rng)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::seeded_rng;

    fn set(xs: &[usize]) -> BTreeSet<usize> {
        xs.iter().copied().collect()
    }

    #[test]
    fn add_tracks_best_and_ties() {
        let mut f = ParetoFrontier::new(2);
        assert!(f.add(0, &[0.5, 0.0]));
        assert!(f.add(1, &[0.5, 1.0]));
        assert!(!f.add(2, &[0.2, 0.0]));
        assert_eq!(f.fronts(), &[set(&[0, 1]), set(&[1])]);
        assert!(f.add(3, &[0.9, 1.0]));
        assert_eq!(f.fronts(), &[set(&[3]), set(&[1, 3])]);
        assert_eq!(f.best_scores(), &[0.9, 1.0]);
        assert!((f.aggregate() - 0.95).abs() < 1e-12);
        assert_eq!(f.members(), set(&[1, 3]));
        assert_eq!(f.frequencies(), BTreeMap::from([(1, 1), (3, 2)]));
    }

    #[test]
    fn dominated_candidates_are_removed_lowest_first() {
        // 0 is best on {a}, 1 on {a, b}, 2 on {c}: 0 is dominated by 1.
        let fronts = vec![set(&[0, 1]), set(&[1]), set(&[2])];
        let agg = [0.3, 0.6, 0.3];
        let kept = remove_dominated(&fronts, &agg);
        assert_eq!(kept, vec![set(&[1]), set(&[1]), set(&[2])]);
        assert_eq!(find_dominators(&fronts, &agg), vec![1, 2]);
        // Two candidates tied on every instance: the lower-scored one goes, one stays.
        let tied = vec![set(&[0, 1]), set(&[0, 1])];
        assert_eq!(find_dominators(&tied, &[0.9, 0.5]), vec![0]);
        assert_eq!(find_dominators(&tied, &[0.5, 0.9]), vec![1]);
        // Nothing is lost: every non-empty front keeps a candidate.
        let many = vec![set(&[0, 1, 2]), set(&[1, 2]), set(&[2, 3]), set(&[])];
        let kept = remove_dominated(&many, &[0.1, 0.2, 0.3, 0.4]);
        assert!(kept[..3].iter().all(|f| !f.is_empty()));
        assert!(kept[3].is_empty());
    }

    #[test]
    fn selection_is_proportional_to_instances_won_and_seeded() {
        // 1 is best on 3 instances, 2 on 1; 0 is dominated.
        let fronts = vec![set(&[0, 1]), set(&[1]), set(&[1]), set(&[2])];
        let agg = [0.25, 0.75, 0.25];
        let mut rng = seeded_rng(0);
        let mut counts = BTreeMap::new();
        for _ in 0..4000 {
            *counts.entry(select_from_frontier(&fronts, &agg, &mut rng).unwrap()).or_insert(0) += 1;
        }
        assert_eq!(counts.get(&0), None);
        let share = counts[&1] as f64 / 4000.0;
        assert!((share - 0.75).abs() < 0.03, "{counts:?}");
        let draw = |seed| {
            let mut r = seeded_rng(seed);
            (0..20).map(|_| select_from_frontier(&fronts, &agg, &mut r).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_eq!(select_from_frontier(&[set(&[])], &[], &mut rng), None);
    }

    #[test]
    fn a_specialist_with_a_low_average_stays_on_the_frontier() {
        let mut f = ParetoFrontier::new(4);
        f.add(0, &[1.0, 1.0, 1.0, 0.0]); // generalist, 0.75
        f.add(1, &[0.0, 0.0, 0.0, 1.0]); // specialist, 0.25
        assert_eq!(f.dominators(&[0.75, 0.25]), vec![0, 1]);
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn module_overview() {
        use crate::pareto::ParetoFrontier;
        let mut front = ParetoFrontier::new(3);
        front.add(0, &[1.0, 0.0, 0.0]);
        front.add(1, &[1.0, 1.0, 0.0]); // dominates 0
        front.add(2, &[0.0, 0.0, 1.0]);
        let agg = [1.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0];
        assert_eq!(front.dominators(&agg), vec![1, 2]);
        assert_eq!(front.best_scores(), &[1.0, 1.0, 1.0]);
    }

    #[test]
    fn is_dominated() {
        use std::collections::BTreeSet;
        use crate::pareto::is_dominated;
        let fronts = vec![BTreeSet::from([0, 1]), BTreeSet::from([1])];
        assert!(is_dominated(0, &BTreeSet::from([1]), &fronts));
        assert!(!is_dominated(1, &BTreeSet::from([0]), &fronts));
    }
}
