//! An adapter that extends chosen signatures and inputs before formatting: how backtracking
//! adds `past_*` and `feedback` fields to the failing predictor, and `Refine` adds its `hint_`,
//! without touching the predictors (as DSPy does with its wrapper adapter).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::adapter::Adapter;
use crate::error::ParseError;
use crate::example::Example;
use crate::lm::{Capabilities, LmRequest, Message};
use crate::signature::Signature;

/// Given a call's signature and inputs, the extended ones, or `None` to leave the call alone.
pub(crate) type Rewrite = Arc<dyn Fn(&Signature, &Map<String, Value>) -> Option<(Signature, Map<String, Value>)> + Send + Sync>;

/// Wraps an adapter (and, at the same depth, its fallback chain) so every call it formats goes
/// through a [`Rewrite`] first.
pub(crate) struct RewriteAdapter {
    inner: Arc<dyn Adapter>,
    /// How many `fallback()` steps from `inner` this wrapper stands for.
    depth: usize,
    rewrite: Rewrite,
    fallback: Option<Box<RewriteAdapter>>,
}

impl RewriteAdapter {
    pub(crate) fn new(inner: Arc<dyn Adapter>, rewrite: Rewrite) -> Self {
        Self::at_depth(inner, rewrite, 0)
    }

    fn at_depth(inner: Arc<dyn Adapter>, rewrite: Rewrite, depth: usize) -> Self {
        let mut wrapper = RewriteAdapter { inner, depth, rewrite, fallback: None };
        if depth < 8 && wrapper.target().fallback().is_some() {
            wrapper.fallback = Some(Box::new(Self::at_depth(wrapper.inner.clone(), wrapper.rewrite.clone(), depth + 1)));
        }
        wrapper
    }

    fn target(&self) -> &dyn Adapter {
        let mut adapter: &dyn Adapter = &*self.inner;
        for _ in 0..self.depth {
            match adapter.fallback() {
                Some(next) => adapter = next,
                None => break,
            }
        }
        adapter
    }
}

impl fmt::Debug for RewriteAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RewriteAdapter").field("inner", &self.target().name()).finish_non_exhaustive()
    }
}

impl Adapter for RewriteAdapter {
    fn name(&self) -> &'static str {
        self.target().name()
    }

    fn format_system_message(&self, sig: &Signature) -> String {
        self.target().format_system_message(sig)
    }

    fn format_user_message_content(&self, sig: &Signature, inputs: &Map<String, Value>, prefix: &str, main_request: bool) -> String {
        self.target().format_user_message_content(sig, inputs, prefix, main_request)
    }

    fn format_assistant_message_content(&self, sig: &Signature, outputs: &Map<String, Value>, missing: Option<&str>) -> String {
        self.target().format_assistant_message_content(sig, outputs, missing)
    }

    fn parse(&self, sig: &Signature, completion: &str) -> Result<Map<String, Value>, ParseError> {
        self.target().parse(sig, completion)
    }

    fn prepare_request(&self, sig: &Signature, request: &mut LmRequest, capabilities: &Capabilities) {
        self.target().prepare_request(sig, request, capabilities)
    }

    fn fallback(&self) -> Option<&dyn Adapter> {
        self.fallback.as_deref().map(|a| a as &dyn Adapter)
    }

    fn format_demos(&self, sig: &Signature, demos: &[Example]) -> Vec<Message> {
        self.target().format_demos(sig, demos)
    }

    fn format(&self, sig: &Signature, demos: &[Example], inputs: &Map<String, Value>) -> Vec<Message> {
        match (self.rewrite)(sig, inputs) {
            Some((sig, inputs)) => self.target().format(&sig, demos, &inputs),
            None => self.target().format(sig, demos, inputs),
        }
    }
}
