//! The demo optimizers (LabeledFewShot, BootstrapFewShot, BootstrapFewShotWithRandomSearch,
//! KNNFewShot) and Ensemble raise held-out accuracy on the simulated task, reproducibly; and
//! DSPy's candidate schedule has the shape random search and MIPROv2 rely on.
//!
//! The simulated LM answers right when a demo of the question's category is in the prompt
//! (or by luck, 25%), so these numbers measure which demos each optimizer picks.

use std::sync::Arc;

use dspy_core::retrieve::FnEmbedder;
use dspy_core::{Example, Module, Predict, Predictor};
use dspy_optimizers::ensemble::majority_vote;
use dspy_optimizers::{BootstrapFewShot, BootstrapFewShotWithRandomSearch, Ensemble, KNNFewShot, LabeledFewShot, Optimizer};
use dspy_sim::{AnswerMatch, CATEGORIES, SimLm, accuracy, dataset};

fn student(lm: &Arc<SimLm>) -> Predict {
    Predict::parse("question -> answer").unwrap().with_lm(lm.clone())
}

/// The category tag of a question (`alpha` in `[alpha] What is...`).
fn tag(ex: &Example) -> String {
    let q = ex.get_str("question").unwrap();
    q[q.find('[').unwrap() + 1..q.find(']').unwrap()].to_string()
}

/// The answers a program gives, in order (errors as `None`), to compare two runs exactly.
async fn answers<M: Module + ?Sized>(program: &M, examples: &[Example]) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(examples.len());
    for ex in examples {
        out.push(program.forward(&ex.inputs()).await.ok().and_then(|p| p.get_str("answer").map(str::to_string)));
    }
    out
}

fn demo_questions(p: &Predict) -> Vec<String> {
    p.demos().iter().map(|d| d.get_str("question").unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn labeled_few_shot_raises_held_out_accuracy_and_is_reproducible() {
    let lm = SimLm::new();
    let (trainset, holdout) = (dataset(24, 0), dataset(60, 500));
    let student = student(&lm);
    let baseline = accuracy(&student, &holdout).await;
    let optimizer = LabeledFewShot::new(8).seed(3);
    let first = optimizer.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    println!("LabeledFewShot(8): baseline {baseline:.3} -> {after:.3}");
    assert_eq!(first.program.demos().len(), 8);
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");
    // One labeled demo covers one category of four: far less lift than eight.
    let one = LabeledFewShot::new(1).seed(3).compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let after_one = accuracy(&one.program, &holdout).await;
    println!("LabeledFewShot(1): {after_one:.3}");
    assert!(after_one + 0.2 <= after, "k=1 {after_one}, k=8 {after}");

    let second = optimizer.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert_eq!(second.program.demos(), first.program.demos());
    assert_eq!(answers(&second.program, &holdout).await, answers(&first.program, &holdout).await);
}

#[tokio::test]
async fn bootstrap_few_shot_raises_held_out_accuracy_and_is_reproducible() {
    let lm = SimLm::new();
    let (trainset, holdout) = (dataset(24, 0), dataset(60, 500));
    let student = student(&lm);
    let baseline = accuracy(&student, &holdout).await;
    let optimizer = BootstrapFewShot::new().max_bootstrapped_demos(4).max_labeled_demos(4).seed(0).progress(false);
    let first = optimizer.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    println!("BootstrapFewShot: baseline {baseline:.3} -> {after:.3}; {}", first.report.extra);
    // Four demos, all bootstrapped from teacher runs that passed the metric: each carries the
    // gold answer of its training question. (The teacher's own four labeled demos do not cover
    // every category, so some of its runs fail and are skipped: more attempts than demos.)
    let demos = first.program.demos();
    assert_eq!(demos.len(), 4);
    assert!(demos.iter().all(|d| d.get("augmented") == Some(&serde_json::json!(true))), "{demos:?}");
    for d in demos {
        let source = trainset.iter().find(|e| e.get("question") == d.get("question")).unwrap();
        assert_eq!(d.get("answer"), source.get("answer"), "{d:?}");
    }
    assert_eq!(first.report.extra["bootstrapped"], 4);
    assert!(first.report.extra["attempts"].as_u64().unwrap() > 4, "{}", first.report.extra);
    let covered: std::collections::BTreeSet<String> = demos.iter().map(tag).collect();
    assert!(covered.len() >= 3, "{covered:?}");
    assert!(after >= baseline + 0.4, "baseline {baseline}, after {after}");

    let second = optimizer.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert_eq!(second.program.demos(), first.program.demos());
    assert_eq!(answers(&second.program, &holdout).await, answers(&first.program, &holdout).await);
}

#[tokio::test]
async fn random_search_picks_the_best_candidate_and_is_reproducible() {
    let lm = SimLm::new();
    let (trainset, valset, holdout) = (dataset(24, 0), dataset(40, 300), dataset(60, 500));
    let student = student(&lm);
    let baseline = accuracy(&student, &holdout).await;
    // Two demos per candidate: no candidate covers every category, so they differ and the
    // search has something to choose.
    let optimizer = BootstrapFewShotWithRandomSearch::new()
        .num_candidate_programs(6)
        .max_bootstrapped_demos(2)
        .max_labeled_demos(2)
        .seed(0)
        .progress(false);
    let first = optimizer.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    let after = accuracy(&first.program, &holdout).await;
    let scores: Vec<f64> = first.report.trials.iter().map(|t| t.score).collect();
    println!("RandomSearch: baseline {baseline:.3} -> {after:.3}; val scores {scores:?}");
    assert_eq!(scores.len(), 9, "zero-shot, labeled-only, unshuffled, 6 shuffled");
    let best = scores.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(first.report.best_score, Some(best));
    assert_eq!(first.report.best_trial, scores.iter().position(|s| *s == best));
    // The search chose: the best candidate is clearly above the zero-shot one and the worst.
    assert!(best >= scores[0] + 0.25, "{scores:?}");
    assert!(best > scores.iter().cloned().fold(f64::MAX, f64::min), "{scores:?}");
    assert!(after >= baseline + 0.25, "baseline {baseline}, after {after}");

    let second = optimizer.compile(&student, &trainset, &AnswerMatch).valset(&valset).await.unwrap();
    let second_scores: Vec<f64> = second.report.trials.iter().map(|t| t.score).collect();
    assert_eq!(second_scores, scores);
    assert_eq!(second.program.demos(), first.program.demos());
}

/// Bag-of-words hashing: each word adds 1 to one of 64 buckets; unit length. Questions of one
/// category share their tag word, so they are nearer each other than to other categories.
fn bag_of_words() -> FnEmbedder {
    FnEmbedder::new(|texts: &[String]| {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 64];
                for word in t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                    let h = word.to_lowercase().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
                    v[(h % 64) as usize] += 1.0;
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter().map(|x| x / norm).collect()
            })
            .collect())
    })
}

#[tokio::test]
async fn knn_few_shot_picks_same_category_demos_and_is_reproducible() {
    let lm = SimLm::new();
    let (trainset, holdout) = (dataset(24, 0), dataset(60, 500));
    let student = student(&lm);
    let baseline = accuracy(&student, &holdout).await;
    let knn = KNNFewShot::new(3, Arc::new(bag_of_words())).bootstrap(BootstrapFewShot::new().seed(0));
    let first = knn.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert!(first.student().demos().is_empty());

    // The neighbours of a question are mostly of its category, and become its demos.
    let mut same = 0;
    for ex in &holdout[..8] {
        let nearest = first.knn().nearest(&ex.inputs()).await.unwrap();
        assert_eq!(nearest.len(), 3);
        same += nearest.iter().filter(|n| tag(n) == tag(ex)).count();
        let program = first.program_for(&ex.inputs()).await.unwrap();
        let mut demo_qs = demo_questions(&program);
        let mut near_qs: Vec<String> = nearest.iter().map(|n| n.get_str("question").unwrap().to_string()).collect();
        demo_qs.sort();
        near_qs.sort();
        assert_eq!(demo_qs, near_qs);
    }
    assert!(same >= 20, "{same} of 24 neighbours share the category");

    let calls_before = lm.calls();
    let after = accuracy(&first, &holdout).await;
    let calls = lm.calls() - calls_before;
    println!("KNNFewShot(k=3): baseline {baseline:.3} -> {after:.3}; {calls} LM calls for {} questions", holdout.len());
    assert!(after >= baseline + 0.5, "baseline {baseline}, after {after}");
    // Per call: at most k teacher runs, then the student's run.
    assert!(calls <= 4 * holdout.len() as u64 && calls >= 2 * holdout.len() as u64, "{calls}");

    let second = knn.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert_eq!(answers(&second, &holdout).await, answers(&first, &holdout).await);
    let ex = holdout[5].inputs();
    assert_eq!(first.program_for(&ex).await.unwrap().demos(), second.program_for(&ex).await.unwrap().demos());
}

#[tokio::test]
async fn knn_neighbours_beat_random_labeled_demos_of_the_same_count() {
    let lm = SimLm::new();
    let (trainset, holdout) = (dataset(24, 0), dataset(60, 500));
    let student = student(&lm);
    let labeled = LabeledFewShot::new(1).seed(0).compile(&student, &trainset, &AnswerMatch).await.unwrap();
    let labeled_acc = accuracy(&labeled.program, &holdout).await;
    let knn = KNNFewShot::new(1, Arc::new(bag_of_words())).bootstrap(BootstrapFewShot::new().seed(0));
    let knn_acc = accuracy(&knn.compile(&student, &trainset, &AnswerMatch).await.unwrap(), &holdout).await;
    // A constant embedder makes every example equally near: always the first one (alpha).
    let flat = KNNFewShot::new(1, Arc::new(FnEmbedder::new(|t: &[String]| Ok(vec![vec![1.0, 0.0]; t.len()]))));
    let flat_program = flat.compile(&student, &trainset, &AnswerMatch).await.unwrap();
    assert_eq!(flat_program.knn().nearest(&holdout[1].inputs()).await.unwrap()[0], trainset[0]);
    let flat_acc = accuracy(&flat_program, &holdout).await;
    println!("one demo: labeled {labeled_acc:.3}, constant-embedder KNN {flat_acc:.3}, bag-of-words KNN {knn_acc:.3}");
    assert!(knn_acc >= labeled_acc + 0.3, "labeled {labeled_acc}, knn {knn_acc}");
    assert!(knn_acc >= flat_acc + 0.3, "flat {flat_acc}, knn {knn_acc}");
}

#[tokio::test]
async fn knn_few_shot_rejects_bad_configurations() {
    let lm = SimLm::new();
    let student = student(&lm);
    let trainset = dataset(8, 0);
    let knn = |k| KNNFewShot::new(k, Arc::new(bag_of_words()));
    let err = knn(0).compile(&student, &trainset, &AnswerMatch).await.unwrap_err();
    assert!(err.to_string().contains("k >= 1"), "{err}");
    let err = knn(2).compile(&student, &[] as &[Example], &AnswerMatch).await.unwrap_err();
    assert!(err.to_string().contains("non-empty"), "{err}");
    let unmarked = vec![Example::new().with("question", "[alpha] What is the transform of code 12?").with("answer", "24")];
    let err = knn(2).compile(&student, &unmarked, &AnswerMatch).await.unwrap_err();
    assert!(err.to_string().contains("with_inputs"), "{err}");
    // An embedder returning vectors of different sizes.
    let ragged = FnEmbedder::new(|t: &[String]| Ok(t.iter().enumerate().map(|(i, _)| vec![1.0; 1 + i % 2]).collect()));
    let err = KNNFewShot::new(2, Arc::new(ragged)).compile(&student, &trainset, &AnswerMatch).await.unwrap_err();
    assert!(matches!(err, dspy_core::Error::Retrieve(_)), "{err}");
}

/// Four programs, each given labeled demos of three categories (a different one missing):
/// for every question three of four know the rule.
async fn members(lm: &Arc<SimLm>, trainset: &[Example]) -> Vec<Predict> {
    let mut out = Vec::new();
    for missing in CATEGORIES {
        let subset: Vec<Example> = trainset.iter().filter(|e| tag(e) != missing).cloned().collect();
        let c = LabeledFewShot::new(3).sample(false).compile(&student(lm), &subset, &AnswerMatch).await.unwrap();
        out.push(c.program);
    }
    out
}

#[tokio::test]
async fn ensemble_majority_beats_its_members_and_is_reproducible() {
    let lm = SimLm::new();
    let (trainset, holdout) = (dataset(24, 0), dataset(60, 500));
    let baseline = accuracy(&student(&lm), &holdout).await;
    let programs = members(&lm, &trainset).await;
    let mut member_accs = Vec::new();
    for p in &programs {
        member_accs.push(accuracy(p, &holdout).await);
    }
    let best_member = member_accs.iter().cloned().fold(0.0, f64::max);

    let all = Ensemble::new().reduce_fn(majority_vote).compile(programs.clone()).unwrap();
    let after = accuracy(&all, &holdout).await;
    println!("Ensemble(majority of 4): baseline {baseline:.3}, members {member_accs:?} -> {after:.3}");
    assert!(after >= baseline + 0.5, "baseline {baseline}, after {after}");
    assert!(after >= best_member + 0.1, "best member {best_member}, ensemble {after}");
    assert_eq!(all.named_predictors().len(), 4);
    assert_eq!(all.named_predictors()[2].0, "programs[2]");

    // A random 3 of 4 per call: still a majority that knows. Same seed, same samples.
    let sampled = Ensemble::new().reduce_fn(majority_vote).size(3).seed(11);
    let a = sampled.compile(programs.clone()).unwrap();
    let b = sampled.compile(programs.clone()).unwrap();
    let after3 = accuracy(&a, &holdout).await;
    println!("Ensemble(majority of a random 3): {after3:.3}");
    assert!(after3 >= baseline + 0.5, "baseline {baseline}, after {after3}");
    let selections = |e: &dspy_optimizers::EnsembledProgram<Predict>| (0..20).map(|_| e.next_selection()).collect::<Vec<_>>();
    let (sa, sb) = (selections(&a.clone()), selections(&b.clone()));
    assert_eq!(sa, sb);
    assert!(sa.iter().all(|s| s.len() == 3));
    assert!(sa.iter().any(|s| s != &sa[0]), "the sample varies per call");
    let a2 = sampled.compile(programs.clone()).unwrap();
    let b2 = sampled.compile(programs.clone()).unwrap();
    assert_eq!(answers(&a2, &holdout).await, answers(&b2, &holdout).await);

    // Without a reduce function every member's outputs are kept, in program order.
    let raw = Ensemble::new().compile(programs).unwrap();
    let out = raw.forward(&holdout[0].inputs()).await.unwrap();
    assert_eq!(out.completions().len(), 4);
}

#[test]
fn ensemble_rejects_empty_and_oversized() {
    assert!(Ensemble::new().compile(Vec::<Predict>::new()).is_err());
    let p = Predict::parse("question -> answer").unwrap();
    let err = Ensemble::new().size(3).compile(vec![p.clone(), p.clone()]).unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
    // Size 0 means all, as in DSPy.
    let e = Ensemble::new().size(0).compile(vec![p.clone(), p]).unwrap();
    assert_eq!(e.next_selection(), [0, 1]);
}

#[test]
fn random_search_schedule_respects_restrict() {
    let search = BootstrapFewShotWithRandomSearch::new().num_candidate_programs(4).seed(2);
    assert_eq!(search.schedule(8).len(), 7);
    let restricted = search.clone().restrict([-1, 2]);
    let seeds: Vec<i64> = restricted.schedule(8).iter().map(|c| c.seed).collect();
    assert_eq!(seeds, [-1, 2]);
    assert_eq!(restricted.schedule(8)[1], search.schedule(8)[5]);
}
