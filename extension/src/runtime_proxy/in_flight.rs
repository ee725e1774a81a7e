//! The invocations in flight: their labels, kept from `/next` until the runtime answers so that
//! the `response` flag selects on the same labels as `ingress`.

use faultline_schema::labels::Labels;
use std::collections::HashMap;
use std::sync::Mutex;

/// More invocations than this in flight means answers were lost (a runtime that crashed without
/// answering); the oldest entries are then of no use and the map is cleared.
const MAX_IN_FLIGHT: usize = 4096;

#[derive(Default)]
pub(super) struct Invocations {
    labels: Mutex<HashMap<String, Labels>>,
}

impl Invocations {
    pub(super) fn insert(&self, request_id: String, labels: Labels) {
        let mut map = self
            .labels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= MAX_IN_FLIGHT {
            map.clear();
        }
        map.insert(request_id, labels);
    }

    pub(super) fn take(&self, request_id: &str) -> Option<Labels> {
        self.labels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_once_and_bounded() {
        let invocations = Invocations::default();
        invocations.insert("a".into(), Labels::new());
        assert!(invocations.take("a").is_some());
        assert!(invocations.take("a").is_none());
        for i in 0..=MAX_IN_FLIGHT {
            invocations.insert(i.to_string(), Labels::new());
        }
        assert!(invocations.labels.lock().unwrap().len() <= MAX_IN_FLIGHT);
    }
}
