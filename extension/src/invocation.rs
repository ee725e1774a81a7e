//! The invocation in flight, as the Runtime API proxy last saw it: shared with the dependency
//! proxy, whose faults name it in their audit lines. Neither proxy depends on the other; both
//! depend on this.
//!
//! In a classic execution environment one invocation runs at a time, so the latest handed to the
//! runtime is the one a dependency call belongs to. On Lambda Managed Instances several run at
//! once (`AWS_LAMBDA_MAX_CONCURRENCY`), and a dependency call cannot be told apart by invocation:
//! there the id is named only while exactly one invocation is in flight, never a wrong one.

use std::sync::{Arc, RwLock};

/// More invocations than this in flight means answers were lost (a runtime that crashed without
/// answering): the list is then cleared.
const MAX_TRACKED: usize = 256;

#[derive(Debug, Default)]
struct InFlight {
    /// Several invocations may run at once.
    concurrent: bool,
    /// Classic: the latest invocation only. Concurrent: every one handed to the runtime and not
    /// yet answered.
    ids: Vec<Current>,
}

/// One invocation handed to the runtime: its request id, with tenant isolation its tenant, and
/// with tracing its trace header.
#[derive(Debug)]
struct Current {
    id: Arc<str>,
    tenant: Option<Arc<str>>,
    trace: Option<Arc<str>>,
}

/// The request id of the invocation a dependency call belongs to, when it can be known.
#[derive(Debug, Clone, Default)]
pub struct CurrentInvocation(Arc<RwLock<InFlight>>);

impl CurrentInvocation {
    /// For an environment that runs several invocations at once when `concurrent`.
    pub fn new(concurrent: bool) -> CurrentInvocation {
        CurrentInvocation(Arc::new(RwLock::new(InFlight {
            concurrent,
            ids: Vec::new(),
        })))
    }

    /// Records the invocation just handed to the runtime, with its tenant and trace header when
    /// it has them.
    pub fn set(&self, request_id: Option<&str>, tenant: Option<&str>, trace: Option<&str>) {
        let mut in_flight = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = request_id.map(|id| Current {
            id: Arc::from(id),
            tenant: tenant.map(Arc::from),
            trace: trace.map(Arc::from),
        });
        if !in_flight.concurrent {
            let same = in_flight.ids.first().map(|c| &*c.id) == request_id
                && in_flight.ids.first().and_then(|c| c.tenant.as_deref()) == tenant;
            if !same {
                in_flight.ids = current.into_iter().collect();
            }
            return;
        }
        let Some(current) = current else {
            return;
        };
        if in_flight.ids.len() >= MAX_TRACKED {
            in_flight.ids.clear();
        }
        in_flight.ids.push(current);
    }

    /// Records that the runtime answered `request_id`. A classic environment keeps naming it
    /// until the next invocation (background work after the answer still belongs to it).
    pub fn finish(&self, request_id: &str) {
        let mut in_flight = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if in_flight.concurrent {
            in_flight.ids.retain(|current| &*current.id != request_id);
        }
    }

    /// The request id of the invocation in flight: the latest in a classic environment, the
    /// only one on Managed Instances, None when that cannot be known.
    pub fn get(&self) -> Option<Arc<str>> {
        let in_flight = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match in_flight.ids.as_slice() {
            [only] => Some(Arc::clone(&only.id)),
            _ => None,
        }
    }

    /// The trace header of the invocation in flight, known as the request id is.
    pub fn trace(&self) -> Option<Arc<str>> {
        let in_flight = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match in_flight.ids.as_slice() {
            [only] => only.trace.clone(),
            _ => None,
        }
    }

    /// The trace header of invocation `request_id`, while it is tracked.
    pub fn trace_of(&self, request_id: &str) -> Option<Arc<str>> {
        let in_flight = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        in_flight
            .ids
            .iter()
            .find(|current| &*current.id == request_id)
            .and_then(|current| current.trace.clone())
    }

    /// The tenant of the invocation in flight (`Lambda-Runtime-Aws-Tenant-Id`), known as the
    /// request id is: None without tenant isolation, or when the invocation cannot be known.
    pub fn tenant(&self) -> Option<Arc<str>> {
        let in_flight = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match in_flight.ids.as_slice() {
            [only] => only.tenant.clone(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_classic_environment_names_the_latest_invocation() {
        let current = CurrentInvocation::new(false);
        assert_eq!(current.get(), None);
        current.set(Some("a"), None, None);
        current.set(Some("b"), Some("gold"), None);
        assert_eq!(current.get().as_deref(), Some("b"));
        assert_eq!(current.tenant().as_deref(), Some("gold"));
        current.finish("b");
        assert_eq!(current.get().as_deref(), Some("b"));
        current.set(None, None, None);
        assert_eq!(current.get(), None);
    }

    #[test]
    fn concurrent_invocations_are_named_only_when_one_is_in_flight() {
        let current = CurrentInvocation::new(true);
        current.set(Some("a"), None, None);
        assert_eq!(current.get().as_deref(), Some("a"));
        current.set(Some("b"), Some("gold"), None);
        assert_eq!(current.get(), None, "two in flight: neither is named");
        current.finish("a");
        assert_eq!(current.get().as_deref(), Some("b"));
        current.finish("b");
        assert_eq!(current.get(), None);
        for i in 0..=MAX_TRACKED {
            current.set(Some(&i.to_string()), None, None);
        }
        assert!(current.0.read().unwrap().ids.len() <= MAX_TRACKED);
    }
}
