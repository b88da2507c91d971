//! `KNNFewShot` (DSPy's `dspy.KNNFewShot`, with the `dspy.KNN` retriever as [`Knn`]): on
//! every call, the `k` training examples nearest to the inputs (by an [`Embedder`]) are
//! bootstrapped into demos with [`BootstrapFewShot`], and the student answers with them. The
//! demos thus fit each input, at the price of a small bootstrap per call.
//!
//! Its result is not a copy of the student but a wrapper program, [`KNNFewShotProgram`], so it
//! has its own [`KNNFewShot::compile`] rather than the [`Optimizer`](crate::Optimizer) trait.

use std::fmt;
use std::sync::Arc;

use dspy_core::evaluate::{IntoMetric, Metric, Scores};
use dspy_core::retrieve::{Embedder, RetrieveError};
use dspy_core::{Example, InputError, Module, Prediction, Predictor, Result, TypedExample, python};

use crate::bootstrap::{BootstrapFewShot, check_same_structure};
use crate::engine::{RunConfig, cleared_copy};

/// DSPy's text for an example: `key: value` pairs of the given fields, in the example's order,
/// joined by ` | ` (strings as they are, other values as Python prints them).
pub(crate) fn knn_text(fields: &Example) -> String {
    fields.data().iter().map(|(k, v)| format!("{k}: {}", python::py_str(v))).collect::<Vec<_>>().join(" | ")
}

/// DSPy's `KNN`: a trainset embedded once (its input fields only), searched by dot product.
///
/// As DSPy, scores are raw dot products (not cosine): with an embedder that does not return
/// unit vectors, longer vectors rank higher. Ties keep trainset order.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::Example;
/// use dspy_core::retrieve::FnEmbedder;
/// use dspy_optimizers::knn_few_shot::Knn;
/// // A toy embedder: is the text about cats, about dogs?
/// let embedder = FnEmbedder::new(|texts: &[String]| {
///     Ok(texts.iter().map(|t| vec![t.contains("cat") as u8 as f32, t.contains("dog") as u8 as f32]).collect())
/// });
/// let ex = |q: &str| Example::new().with("q", q).with("a", "x").with_inputs(["q"]);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let knn = Knn::new(1, vec![ex("a dog"), ex("a cat")], Arc::new(embedder)).await.unwrap();
/// let nearest = knn.nearest(&Example::new().with("q", "my cat")).await.unwrap();
/// assert_eq!(nearest[0].get_str("q"), Some("a cat"));
/// # });
/// ```
pub struct Knn {
    k: usize,
    trainset: Vec<Example>,
    vectors: Vec<Vec<f32>>,
    embedder: Arc<dyn Embedder>,
}

impl fmt::Debug for Knn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Knn").field("k", &self.k).field("trainset", &self.trainset.len()).field("embedder", &self.embedder).finish()
    }
}

impl Knn {
    /// Embeds the input fields of every training example (one embedder call, batched by the
    /// embedder). Errors on `k = 0`, an empty trainset, an example without marked inputs
    /// (its labels would leak into the search), or unusable vectors.
    pub async fn new(k: usize, trainset: Vec<Example>, embedder: Arc<dyn Embedder>) -> Result<Self> {
        if k == 0 {
            return Err(InputError::Invalid { needed_by: "KNNFewShot".into(), message: "needs k >= 1".into() }.into());
        }
        if trainset.is_empty() {
            return Err(InputError::Dataset { needed_by: "KNNFewShot".into(), message: "needs a non-empty trainset".into() }.into());
        }
        let mut texts = Vec::with_capacity(trainset.len());
        for (i, ex) in trainset.iter().enumerate() {
            if ex.input_keys().is_none() {
                return Err(InputError::Dataset { needed_by: "KNNFewShot".into(), message: format!("training example {i} has no input keys; mark them with `with_inputs`") }.into());
            }
            texts.push(knn_text(&ex.inputs()));
        }
        let vectors = embedder.embed(&texts).await?;
        if vectors.len() != trainset.len() {
            return Err(RetrieveError::Embedding(format!("{} vector(s) for {} example(s)", vectors.len(), trainset.len())).into());
        }
        let dim = vectors[0].len();
        if let Some(other) = vectors.iter().map(Vec::len).find(|l| *l != dim) {
            return Err(RetrieveError::Embedding(format!("vectors of different sizes ({dim} and {other})")).into());
        }
        Ok(Knn { k, trainset, vectors, embedder })
    }

    /// How many neighbours a search returns.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The searched examples, in their original order.
    pub fn trainset(&self) -> &[Example] {
        &self.trainset
    }

    /// The indices and scores of the `k` training examples nearest to `inputs` (their marked
    /// input fields, or all fields when none are marked), best first.
    pub async fn nearest_indices(&self, inputs: &Example) -> Result<Vec<(usize, f32)>> {
        let text = knn_text(&inputs.inputs());
        let query = self
            .embedder
            .embed(&[text])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| RetrieveError::Embedding("no vector for the query".into()))?;
        let dim = self.vectors[0].len();
        if query.len() != dim {
            return Err(RetrieveError::Embedding(format!("query vector has {} dimensions, trainset vectors {dim}", query.len())).into());
        }
        let mut scored: Vec<(usize, f32)> =
            self.vectors.iter().enumerate().map(|(i, v)| (i, v.iter().zip(&query).map(|(a, b)| a * b).sum())).collect();
        // Stable: equal scores keep trainset order.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(self.k);
        Ok(scored)
    }

    /// The `k` training examples nearest to `inputs`, best first (DSPy's `KNN.__call__`).
    pub async fn nearest(&self, inputs: &Example) -> Result<Vec<Example>> {
        Ok(self.nearest_indices(inputs).await?.into_iter().map(|(i, _)| self.trainset[i].clone()).collect())
    }
}

/// Chooses demos per input: the `k` nearest training examples, bootstrapped with
/// [`BootstrapFewShot`] (its `bootstrap` configuration: demo counts, rounds, threshold,
/// teacher LM, seed).
///
/// [`KNNFewShot::compile`] embeds the trainset once; every call of the resulting
/// [`KNNFewShotProgram`] then embeds its inputs (one embedder call), runs the teacher on the
/// `k` neighbours (up to `k × max_rounds` program runs and metric calls, fewer once
/// `max_bootstrapped_demos` passed), and runs the student once with the demos. The
/// bootstrap's budgets (`max_lm_calls`...) apply per call; its progress bars are off.
///
/// Differences from DSPy: the trainset and metric are given to `compile` (DSPy takes the
/// trainset in the constructor and the metric among the bootstrap arguments; without one
/// every run passes, which `|_, _, _| true` reproduces); ties between equally near examples
/// keep trainset order.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{DummyLM, Example, Module, Predict, Prediction};
/// use dspy_core::retrieve::FnEmbedder;
/// use dspy_optimizers::{BootstrapFewShot, KNNFewShot};
/// // Embeds a text by whether it mentions "capital" or "plus".
/// let embedder = FnEmbedder::new(|texts: &[String]| {
///     Ok(texts.iter().map(|t| vec![t.contains("capital") as u8 as f32, t.contains("plus") as u8 as f32]).collect())
/// });
/// let ex = |q: &str, a: &str| Example::new().with("question", q).with("answer", a).with_inputs(["question"]);
/// let trainset = vec![ex("capital of France?", "Paris"), ex("1 plus 1?", "2"), ex("capital of Peru?", "Lima")];
/// let lm = Arc::new(DummyLM::follow_examples());
/// let student = Predict::parse("question -> answer").unwrap().with_lm(lm);
/// let metric = |ex: &Example, p: &Prediction, _t: Option<&[dspy_core::trace::TraceEntry]>| ex.get("answer") == p.get("answer");
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let knn = KNNFewShot::new(2, Arc::new(embedder)).bootstrap(BootstrapFewShot::new().seed(7));
/// let program = knn.compile(&student, &trainset, metric).await.unwrap();
/// let inputs = Example::new().with("question", "capital of Peru?");
/// // The demos for this input are the two capital questions, not the sum.
/// let chosen = program.program_for(&inputs).await.unwrap();
/// use dspy_core::Predictor;
/// let mut questions: Vec<_> = chosen.demos().iter().map(|d| d.get_str("question").unwrap().to_string()).collect();
/// questions.sort();
/// assert_eq!(questions, ["capital of France?", "capital of Peru?"]);
/// // The LM copies the matching demo's answer.
/// assert_eq!(program.forward(&inputs).await.unwrap().get_str("answer"), Some("Lima"));
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct KNNFewShot {
    /// Neighbours per call (the bootstrap's trainset size).
    pub k: usize,
    /// Embeds the trainset's and each call's input fields.
    pub embedder: Arc<dyn Embedder>,
    /// The per-call bootstrap (DSPy's `**few_shot_bootstrap_args`).
    pub bootstrap: BootstrapFewShot,
}

impl KNNFewShot {
    /// `k` neighbours by `embedder`, bootstrapped with DSPy's `BootstrapFewShot` defaults.
    pub fn new(k: usize, embedder: impl Embedder + 'static) -> Self {
        KNNFewShot { k, embedder: embedder.into_shared(), bootstrap: BootstrapFewShot::new() }
    }

    /// Sets the per-call bootstrap configuration.
    pub fn bootstrap(mut self, config: BootstrapFewShot) -> Self {
        self.bootstrap = config;
        self
    }

    /// Embeds `trainset` and returns the wrapper program around (a demo-less copy of)
    /// `student`, scoring bootstrapped runs with `metric`.
    /// The trainset and the metric may be typed, as for [`Optimizer::compile`](crate::Optimizer::compile);
    /// the metric is kept by the returned program, so it is passed by value.
    pub async fn compile<P, E, M, F>(&self, student: &P, trainset: &[E], metric: M) -> Result<KNNFewShotProgram<P>>
    where
        P: Module + Clone + 'static,
        E: TypedExample,
        M: IntoMetric<'static, E, F>,
        M::Kind: Scores<P>,
    {
        let trainset: Vec<Example> = trainset.iter().map(TypedExample::to_example).collect();
        self.compile_with_teacher(student, None, &trainset, metric.into_metric()).await
    }

    /// [`compile`](Self::compile) with an explicit teacher (same structure as the student)
    /// and a shared metric.
    pub async fn compile_with_teacher<P>(
        &self,
        student: &P,
        teacher: Option<&P>,
        trainset: &[Example],
        metric: Arc<dyn Metric>,
    ) -> Result<KNNFewShotProgram<P>>
    where
        P: Module + Clone + 'static,
    {
        if let Some(t) = teacher {
            check_same_structure(student, t)?;
        }
        let knn = Knn::new(self.k, trainset.to_vec(), self.embedder.clone()).await?;
        let bootstrap = BootstrapFewShot { run: RunConfig { progress: false, ..self.bootstrap.run.clone() }, ..self.bootstrap.clone() };
        Ok(KNNFewShotProgram { student: cleared_copy(student), teacher: teacher.cloned(), knn: Arc::new(knn), bootstrap, metric })
    }
}

/// The program [`KNNFewShot`] returns: each call bootstraps the student on the inputs'
/// nearest training examples, then runs it. Its predictors are the (demo-less) student's, so
/// instruction optimizers and saving see the student.
///
/// ```
/// use std::sync::Arc;
/// use dspy_core::{Example, Module, Predict, Predictor};
/// use dspy_core::retrieve::FnEmbedder;
/// use dspy_optimizers::KNNFewShot;
/// let embedder = FnEmbedder::new(|texts: &[String]| Ok(vec![vec![1.0]; texts.len()]));
/// let trainset = vec![Example::new().with("q", "a").with("a", "b").with_inputs(["q"])];
/// let student = Predict::parse("q -> a").unwrap().with_demos(trainset.clone());
/// let metric = |_: &Example, _: &dspy_core::Prediction, _: Option<&[dspy_core::trace::TraceEntry]>| true;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let program = KNNFewShot::new(1, Arc::new(embedder)).compile(&student, &trainset, metric).await.unwrap();
/// let names: Vec<String> = program.named_predictors().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["self"]);
/// assert!(program.student().demos().is_empty());
/// assert_eq!(program.knn().k(), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct KNNFewShotProgram<P> {
    student: P,
    teacher: Option<P>,
    knn: Arc<Knn>,
    bootstrap: BootstrapFewShot,
    metric: Arc<dyn Metric>,
}

impl<P> fmt::Debug for KNNFewShotProgram<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KNNFewShotProgram")
            .field("knn", &self.knn)
            .field("bootstrap", &self.bootstrap)
            .field("has_teacher", &self.teacher.is_some())
            .finish_non_exhaustive()
    }
}

impl<P: Module + Clone> KNNFewShotProgram<P> {
    /// The neighbour search.
    pub fn knn(&self) -> &Knn {
        &self.knn
    }

    /// The student every call starts from.
    pub fn student(&self) -> &P {
        &self.student
    }

    /// The student with the demos bootstrapped for `inputs` (what a call runs).
    pub async fn program_for(&self, inputs: &Example) -> Result<P> {
        let neighbours = self.knn.nearest(inputs).await?;
        let engine = self.bootstrap.run.engine();
        let (program, _) =
            self.bootstrap.bootstrap_program(&self.student, self.teacher.as_ref(), &neighbours, self.metric.as_ref(), &engine).await?;
        Ok(program)
    }
}

#[async_trait::async_trait]
impl<P: Module + Clone + 'static> Module for KNNFewShotProgram<P> {
    async fn forward(&self, inputs: &Example) -> Result<Prediction> {
        let program = self.program_for(inputs).await?;
        program.forward(inputs).await
    }

    fn named_predictors(&self) -> Vec<(String, &dyn Predictor)> {
        self.student.named_predictors()
    }

    fn named_predictors_mut(&mut self) -> Vec<(String, &mut dyn Predictor)> {
        self.student.named_predictors_mut()
    }

    fn definition(&self) -> Option<String> {
        self.student.definition()
    }

    fn source_code(&self) -> String {
        self.student.source_code()
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn knn_text() {
        use dspy_core::Example;
        let ex = Example::new().with("question", "2+2?").with("n", 3).with("answer", "4").with_inputs(["question", "n"]);
        assert_eq!(crate::knn_few_shot::knn_text(&ex.inputs()), "question: 2+2? | n: 3");
    }
}
