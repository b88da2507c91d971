//! Any model goes where a model is wanted, by value or shared: `with_lm(lm)`,
//! `Settings::new().lm(lm)`, with a user's own `LanguageModel`, an `Arc` of it, or an
//! `Arc<dyn LanguageModel>`; a shared model is kept as the same allocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use dspy::prelude::*;
use dspy::{LmError, LmRequest, LmResponse};

signature! { pub QA = "question -> answer" }

/// A user's own model: answers in ChatAdapter's format and counts its calls.
#[derive(Debug, Default)]
struct Counting {
    calls: AtomicUsize,
}

#[async_trait]
impl LanguageModel for Counting {
    fn model(&self) -> &str {
        "counting"
    }

    async fn complete(&self, _request: LmRequest) -> Result<LmResponse, LmError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(LmResponse::from_texts("counting", [format!("[[ ## answer ## ]]\ncall {n}\n\n[[ ## completed ## ]]")]))
    }
}

#[test]
fn a_model_by_value() {
    let qa = Predict::typed(QA).with_lm(Counting::default());
    assert_eq!(qa.call_blocking(("Hi?".to_string(),)).unwrap().answer, "call 1");
    assert_eq!(qa.lm().unwrap().model(), "counting");
}

#[test]
fn a_shared_model_is_the_same_allocation() {
    let shared = Arc::new(Counting::default());
    let first = Predict::typed(QA).with_lm(shared.clone());
    let second = ChainOfThought::<QA>::new().with_lm(shared.clone());
    let as_dyn: Arc<dyn LanguageModel> = shared.clone();
    assert!(Arc::ptr_eq(&first.lm().unwrap(), &as_dyn), "an Arc is kept, not wrapped again");
    assert!(Arc::ptr_eq(&second.predict.lm().unwrap(), &as_dyn));
    first.call_blocking(("a".to_string(),)).unwrap();
    assert_eq!(shared.calls.load(Ordering::SeqCst), 1);

    // An `Arc<dyn LanguageModel>` (e.g. from the settings) goes in as it is too.
    let third = Predict::typed(QA).with_lm(as_dyn.clone());
    assert!(Arc::ptr_eq(&third.lm().unwrap(), &as_dyn));
}

#[tokio::test]
async fn settings_take_a_model_by_value() {
    let qa = Predict::typed(QA);
    let out = dspy::settings::context(Settings::new().lm(Counting::default()), qa.call(("Hi?".to_string(),))).await.unwrap();
    assert_eq!(out.answer, "call 1");
}
