//! The flag names faultline acts on. An experiment's `flag` names one of these (or a glob over
//! them); the Failure Flags SDKs look up flags of their own through the SDK endpoint.

/// An event before the runtime sees it.
pub const INGRESS: &str = "ingress";
/// An HTTP event (API Gateway, ALB, function URL) before the runtime sees it; can be answered
/// with a forged HTTP response.
pub const HTTP_INGRESS: &str = "http-ingress";
/// A cold start: applied once per execution environment during INIT, and only when the function
/// opted in (`FAULTLINE_INIT_FAULTS`). A latency delays the end of INIT; an exception fails it.
pub const INIT: &str = "init";
/// The execution environment itself, while an experiment is active: `disk`, `memory` and `cpu`
/// effects, started when it begins and undone when it ends (never a glob's: named exactly).
pub const ENVIRONMENT: &str = "environment";
/// What the runtime answers for an invocation.
pub const RESPONSE: &str = "response";
/// Every outbound request through the dependency proxy.
pub const EGRESS: &str = "egress";
/// Prefix of the per-host flag of the dependency proxy: `dependency-api.example.com`.
pub const DEPENDENCY_PREFIX: &str = "dependency-";
/// errorType that makes a dependency exception reset the connection instead of answering 502.
pub const CONNECTION_RESET: &str = "ConnectionReset";
/// Prefix of the per-service flag of AWS calls the dependency proxy originates TLS for:
/// `aws-dynamodb`, `aws-s3` (the service's endpoint prefix); `aws-*` covers every service.
pub const AWS_PREFIX: &str = "aws-";
