//! The invocations in flight: their labels and invocation id, kept from `/next` until the
//! runtime answers so that the `response` flag selects on the same labels as `ingress`, and an
//! answer faultline writes carries the id of the invocation it answers.

use faultline_schema::labels::Labels;
use std::collections::HashMap;
use std::sync::Mutex;

/// More invocations than this in flight means answers were lost (a runtime that crashed without
/// answering); the oldest entries are then of no use and the map is cleared.
const MAX_IN_FLIGHT: usize = 4096;

/// What is kept of one invocation in flight.
#[derive(Debug, Clone)]
pub(super) struct InFlight {
    pub labels: Labels,
    /// `Lambda-Runtime-Invocation-Id` from `/next`, when Lambda sent one.
    pub invocation_id: Option<String>,
    /// The ids of the batch's records (SQS `messageId`, a stream record's sequence number),
    /// read only when a `batchItemFailures` experiment could apply.
    pub record_ids: Vec<String>,
    /// `Lambda-Runtime-Trace-Id` from `/next`, when tracing is on.
    pub trace: Option<String>,
}

#[derive(Default)]
pub(super) struct Invocations {
    labels: Mutex<HashMap<String, InFlight>>,
}

impl Invocations {
    pub(super) fn insert(&self, request_id: String, invocation: InFlight) {
        let mut map = self
            .labels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= MAX_IN_FLIGHT {
            map.clear();
        }
        map.insert(request_id, invocation);
    }

    pub(super) fn take(&self, request_id: &str) -> Option<InFlight> {
        self.labels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> InFlight {
        InFlight {
            labels: Labels::new(),
            invocation_id: Some("inv".into()),
            record_ids: Vec::new(),
            trace: None,
        }
    }

    #[test]
    fn taken_once_and_bounded() {
        let invocations = Invocations::default();
        invocations.insert("a".into(), entry());
        let taken = invocations.take("a").unwrap();
        assert_eq!(taken.invocation_id.as_deref(), Some("inv"));
        assert!(invocations.take("a").is_none());
        for i in 0..=MAX_IN_FLIGHT {
            invocations.insert(i.to_string(), entry());
        }
        assert!(invocations.labels.lock().unwrap().len() <= MAX_IN_FLIGHT);
    }
}
