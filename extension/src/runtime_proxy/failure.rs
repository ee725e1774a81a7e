//! Why an exchange on a runtime connection could not complete, and the one place that decides
//! what the runtime is answered for each reason.

use super::wire::WireError;
use super::wire::head::HeadError;
use thiserror::Error;

/// Why an exchange could not complete.
#[derive(Debug, Error)]
pub(super) enum Failure {
    /// The runtime's request cannot be read (a bad head, or a body whose framing breaks): 400,
    /// as Lambda answers. Whatever of it went upstream is dropped with the Runtime API
    /// connection.
    #[error("{0}")]
    BadRequest(String),
    /// The request's head is larger than Lambda takes: 431.
    #[error("{0}")]
    TooLarge(String),
    /// The Runtime API could not be reached, or broke before its answer was relayed: 502 with a
    /// JSON error.
    #[error("{0}")]
    Upstream(String),
    /// A connection broke, or the runtime went away: nothing can be answered, the connection
    /// closes.
    #[error("{0}")]
    Broken(String),
}

impl Failure {
    /// The status faultline answers the runtime with, if any: the only place it is chosen.
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Failure::BadRequest(_) => Some(400),
            Failure::TooLarge(_) => Some(431),
            Failure::Upstream(_) => Some(502),
            Failure::Broken(_) => None,
        }
    }

    /// A failure reading the runtime's request, head or body.
    pub(super) fn in_request(err: WireError) -> Failure {
        let reason = format!("reading the function's request: {err}");
        match err {
            WireError::Head(HeadError::Invalid(_)) | WireError::Framing(_) => {
                Failure::BadRequest(reason)
            }
            WireError::Head(HeadError::TooManyFields) | WireError::HeadTooLarge => {
                Failure::TooLarge(reason)
            }
            WireError::Io(_) | WireError::Write(_) | WireError::Closed => Failure::Broken(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_proxy::wire::framing::FramingError;

    #[test]
    fn each_request_failure_has_its_status() {
        let cases = [
            (WireError::Head(HeadError::Invalid("x".into())), Some(400)),
            (WireError::Framing(FramingError::for_tests()), Some(400)),
            (WireError::Head(HeadError::TooManyFields), Some(431)),
            (WireError::HeadTooLarge, Some(431)),
            (WireError::Closed, None),
        ];
        for (err, status) in cases {
            assert_eq!(Failure::in_request(err).status(), status);
        }
        assert_eq!(Failure::Upstream("x".into()).status(), Some(502));
    }
}
