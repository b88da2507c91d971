//! Evaluation: metrics that score a prediction against an example, DSPy's built-in metrics,
//! [`Evaluate`], which runs a program over a devset, and the [`Engine`] it (and every
//! optimizer) runs on.

mod engine;
mod evaluator;
mod metric;
mod metrics;
mod progress;
mod semantic_f1;

pub use engine::{Budget, BudgetReport, Engine, EvalRun, ExampleOutcome, Traces, percentage};
pub use evaluator::{Evaluate, EvaluationResult, EvaluationRow};
pub use progress::Progress;
pub use metric::{AsMetric, ByRef, Dynamic, DynamicForm, IntoMetric, Metric, MetricKind, OutputRead, PredictorCall, Reads, Score, Scores, Shared, Trace, TracedForm, TypedForm};
pub use metrics::{
    answer_exact_match, answer_f1, answer_match, answer_passage_match, dpr_normalize, em_score, exact_match, f1_score,
    hotpot_f1_score, max_f1, max_hotpot_f1, normalize_text, passage_match,
};
pub use semantic_f1::{SemanticF1, semantic_f1_score, semantic_recall_precision};
