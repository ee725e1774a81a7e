//! AWS calls as the dependency proxy sees them once it originates TLS for them: which service,
//! which operation, which resource, and in which protocol the service answers errors.
//!
//! Everything is read from the request itself, cheaply: the host names the service (its
//! endpoint prefix) and Region, `X-Amz-Target` or the `Action=` of a form body names the
//! operation of the JSON and query protocols, the path names it for S3 and Lambda's REST routes
//! and for Smithy RPC v2 CBOR. A call that cannot be named is `unknown`, never an error.

pub mod errors;
mod operation;

pub use operation::Protocol;

/// One AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCall {
    /// The endpoint prefix: `dynamodb`, `s3`, `sqs`, ... (the flag is `aws-<service>`).
    pub service: String,
    /// The Region in the endpoint host, when it names one.
    pub region: Option<String>,
    /// The API operation (`PutItem`), or `unknown`.
    pub operation: String,
    /// The table, queue, bucket, stream, topic or function, where the request names it.
    pub resource: Option<String>,
    /// How the service answers errors.
    pub protocol: Protocol,
}

/// What the request looks like: enough to name the call.
pub struct Request<'a> {
    pub host: &'a str,
    pub method: &'a http::Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// The body, when it was read (JSON and query protocols, small bodies).
    pub body: Option<&'a [u8]>,
}

/// Host suffixes of AWS endpoints, longest first.
const SUFFIXES: [&str; 3] = [".amazonaws.com.cn", ".amazonaws.com", ".api.aws"];

/// Whether `host` is an AWS endpoint (`*.amazonaws.com`, `*.amazonaws.com.cn`, `*.api.aws`).
pub fn is_endpoint(host: &str) -> bool {
    SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
}

/// The service and Region named by an AWS endpoint host; None for another host.
pub fn service_of(host: &str) -> Option<(String, Option<String>)> {
    let stem = SUFFIXES.iter().find_map(|s| host.strip_suffix(s))?;
    let labels: Vec<&str> = stem.split('.').collect();
    // S3 names buckets in the host (virtual-hosted style) and has variants such as
    // s3-accelerate and s3.dualstack: the label that is s3 names the service.
    let (at, service) = match labels
        .iter()
        .position(|l| *l == "s3" || l.starts_with("s3-"))
    {
        Some(at) => (at, "s3".to_string()),
        None => (0, labels.first()?.to_string()),
    };
    let region = labels[at + 1..]
        .iter()
        .find(|l| l.contains('-') && l.ends_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.to_string());
    (!service.is_empty()).then_some((service, region))
}

/// Names the call `request` makes; None when its host is not an AWS endpoint.
pub fn identify(request: &Request<'_>) -> Option<AwsCall> {
    let (service, region) = service_of(request.host)?;
    let (protocol, operation, resource) = operation::name(&service, request);
    Some(AwsCall {
        service,
        region,
        operation: operation.unwrap_or_else(|| "unknown".to_string()),
        resource,
        protocol,
    })
}

/// Whether naming the call needs its body (the JSON and query protocols carry the operation or
/// the resource there).
pub fn wants_body(headers: &http::HeaderMap) -> bool {
    operation::body_protocol(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_names_the_service_and_region() {
        for (host, service, region) in [
            (
                "dynamodb.us-east-1.amazonaws.com",
                "dynamodb",
                Some("us-east-1"),
            ),
            ("s3.eu-west-1.amazonaws.com", "s3", Some("eu-west-1")),
            (
                "my.bucket.s3.eu-west-1.amazonaws.com",
                "s3",
                Some("eu-west-1"),
            ),
            ("bucket.s3-accelerate.amazonaws.com", "s3", None),
            ("sqs.cn-north-1.amazonaws.com.cn", "sqs", Some("cn-north-1")),
            (
                "bedrock-runtime.us-west-2.amazonaws.com",
                "bedrock-runtime",
                Some("us-west-2"),
            ),
            ("dynamodb.us-east-1.api.aws", "dynamodb", Some("us-east-1")),
            ("sts.amazonaws.com", "sts", None),
        ] {
            assert_eq!(
                service_of(host),
                Some((service.to_string(), region.map(str::to_string))),
                "{host}"
            );
        }
        assert_eq!(service_of("api.example.com"), None);
    }
}
