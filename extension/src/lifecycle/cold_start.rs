//! Cold-start faults (flag `init`), applied once per execution environment during INIT, and only
//! when the function opted in (FAULTLINE_INIT_FAULTS, set by `deployer enable --init-faults`).
//!
//! Lambda ends INIT when the runtime and every extension have asked for their next event. A
//! latency therefore holds faultline's first `/extension/event/next`: INIT ends that much later,
//! as a slow cold start does, and the first invocation waits for it. An exception reports
//! `/extension/init/error`: Lambda fails the INIT, as a crashing cold start does, and the
//! extension exits, as the Extensions API asks. Both need the config during INIT, so with the
//! opt-in faultline waits for the first read, bounded by the request timeout; a read that fails
//! or times out applies nothing.

use crate::audit;
use crate::config::state::ConfigState;
use crate::inject;
use crate::lambda::extensions_api::ExtensionsApi;
use faultline_schema::fault::{Answers, Terminal};
use faultline_schema::flags::INIT;

/// What INIT does after the cold-start faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColdStart {
    /// INIT goes on (delayed or not).
    Proceed,
    /// INIT was reported failed: the extension must exit.
    Failed,
}

/// Waits for the first config read (the request timeout at most), then applies the `init`
/// experiments that select this environment: their latencies, then the first exception.
pub async fn apply(state: &ConfigState, api: &ExtensionsApi, identifier: &str) -> ColdStart {
    let timeout = state.request_timeout();
    if !state.wait_first_attempt(timeout).await {
        tracing::warn!(
            "config not loaded within {timeout:?} during INIT: no cold-start fault applies"
        );
        return ColdStart::Proceed;
    }
    let Some(active) = state.in_force() else {
        return ColdStart::Proceed;
    };
    let labels = &active.base_labels;
    let Some(fault) = inject::decide(&active.experiments, INIT, labels) else {
        return ColdStart::Proceed;
    };
    inject::delay(&fault, audit::Invocation::default(), labels).await;
    // The schema lets an `init` experiment have a latency and an exception only.
    let Some(Terminal::Exception(exception)) = inject::terminal(
        &fault,
        Answers::Exception,
        audit::Invocation::default(),
        labels,
    ) else {
        return ColdStart::Proceed;
    };
    let error_type = extension_error_type(&exception.error_type);
    match api
        .init_error(identifier, &error_type, &exception.message)
        .await
    {
        Ok(()) => {
            tracing::warn!("INIT failed on purpose ({error_type}): the extension exits");
            ColdStart::Failed
        }
        Err(err) => {
            tracing::error!("cannot report the cold-start exception ({err}); INIT goes on");
            ColdStart::Proceed
        }
    }
}

/// The error type as Lambda recommends it for an extension, `Extension.<reason>`: a type without
/// a category gets `Extension.` in front.
fn extension_error_type(error_type: &str) -> String {
    if error_type.contains('.') {
        error_type.to_string()
    } else {
        format!("Extension.{error_type}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_type_gets_the_extension_category_unless_it_has_one() {
        assert_eq!(
            extension_error_type("FailureFlagException"),
            "Extension.FailureFlagException"
        );
        assert_eq!(extension_error_type("Extension.Crash"), "Extension.Crash");
    }
}
