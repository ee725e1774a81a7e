//! The invocation in flight, as the Runtime API proxy last saw it: shared with the dependency
//! proxy, whose faults name it in their audit lines. Neither proxy depends on the other; both
//! depend on this.

use std::sync::{Arc, RwLock};

/// The request id of the invocation last handed to the runtime. Dependency faults carry it in
/// their audit lines; with more than one invocation in flight it names the latest.
#[derive(Debug, Clone, Default)]
pub struct CurrentInvocation(Arc<RwLock<Option<Arc<str>>>>);

impl CurrentInvocation {
    /// Records the invocation just handed to the runtime.
    pub fn set(&self, request_id: Option<&str>) {
        let mut current = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.as_deref() != request_id {
            *current = request_id.map(Arc::from);
        }
    }

    /// The request id of the latest invocation, if any.
    pub fn get(&self) -> Option<Arc<str>> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
