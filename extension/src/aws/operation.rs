//! The operation and resource of an AWS call, per protocol.

use super::Request;
use http::Method;

/// How a service encodes its calls and errors (Smithy's protocol traits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsJson 1.0 or 1.1: `X-Amz-Target` names the operation (DynamoDB, SQS, Kinesis, ...).
    AwsJson,
    /// awsQuery: a form body with `Action=` (SNS, STS, ...).
    AwsQuery,
    /// restXml (S3).
    RestXml,
    /// restJson1 (Lambda, API Gateway, ...).
    RestJson,
    /// Smithy RPC v2 CBOR (CloudWatch in current SDKs).
    RpcV2Cbor,
}

const FORM: &str = "application/x-www-form-urlencoded";

fn header<'a>(request: &'a Request<'_>, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request is in a protocol that names its operation or resource in the body.
pub(super) fn body_protocol(headers: &http::HeaderMap) -> bool {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    headers.contains_key("x-amz-target") || content_type.starts_with(FORM)
}

/// The fields that name a call's resource in JSON and query bodies, by service.
fn resource_field(service: &str) -> &'static [&'static str] {
    match service {
        "dynamodb" => &["TableName"],
        "sqs" => &["QueueUrl", "QueueName"],
        "kinesis" => &["StreamName", "StreamARN"],
        "sns" => &["TopicArn", "TargetArn"],
        "lambda" => &["FunctionName"],
        "secretsmanager" => &["SecretId", "Name"],
        "states" => &["stateMachineArn", "executionArn"],
        "events" => &["EventBusName"],
        "firehose" => &["DeliveryStreamName"],
        "ssm" => &["Name"],
        _ => &[],
    }
}

/// (protocol, operation, resource) of the call.
pub(super) fn name(
    service: &str,
    request: &Request<'_>,
) -> (Protocol, Option<String>, Option<String>) {
    if let Some(target) = header(request, "x-amz-target") {
        let operation = target.rsplit('.').next().map(str::to_string);
        let resource = request.body.and_then(|body| {
            let json: serde_json::Value = serde_json::from_slice(body).ok()?;
            resource_field(service)
                .iter()
                .find_map(|field| json.get(*field)?.as_str().map(str::to_string))
        });
        return (Protocol::AwsJson, operation, resource);
    }
    if header(request, "content-type").is_some_and(|t| t.starts_with(FORM)) {
        let form: Vec<(String, String)> = request.body.map(form_pairs).unwrap_or_default();
        let field = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        let resource = resource_field(service).iter().find_map(|f| field(f));
        return (Protocol::AwsQuery, field("Action"), resource);
    }
    if let Some(rest) = request.path.strip_prefix("/service/")
        && let Some((_, operation)) = rest.split_once("/operation/")
    {
        return (Protocol::RpcV2Cbor, Some(operation.to_string()), None);
    }
    match service {
        "s3" => {
            let (operation, bucket) = s3(request);
            (Protocol::RestXml, operation, bucket)
        }
        "lambda" => {
            let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
            match segments.as_slice() {
                [_, "functions", name, "invocations"] if request.method == Method::POST => (
                    Protocol::RestJson,
                    Some("Invoke".into()),
                    Some(percent_decode(name)),
                ),
                [_, "functions", name, ..] => {
                    (Protocol::RestJson, None, Some(percent_decode(name)))
                }
                _ => (Protocol::RestJson, None, None),
            }
        }
        _ => (Protocol::RestJson, None, None),
    }
}

/// The S3 operation and bucket of a REST request (virtual-hosted or path style).
fn s3(request: &Request<'_>) -> (Option<String>, Option<String>) {
    let host = request.host;
    let virtual_bucket = host
        .find(".s3.")
        .or_else(|| host.find(".s3-"))
        .map(|at| host[..at].to_string());
    let path = request.path.trim_start_matches('/');
    let (bucket, key) = match virtual_bucket {
        Some(bucket) => (Some(bucket), (!path.is_empty()).then_some(path)),
        None => {
            let mut parts = path.splitn(2, '/');
            let bucket = parts.next().filter(|b| !b.is_empty()).map(str::to_string);
            (bucket, parts.next().filter(|k| !k.is_empty()))
        }
    };
    let query: Vec<&str> = request
        .query
        .unwrap_or_default()
        .split('&')
        .map(|pair| pair.split('=').next().unwrap_or_default())
        .collect();
    let has = |name: &str| query.contains(&name);
    let copy = request.headers.contains_key("x-amz-copy-source");
    let method = request.method;
    let operation = match (key.is_some(), bucket.is_some()) {
        (true, _) => match *method {
            Method::PUT if has("partNumber") && copy => "UploadPartCopy",
            Method::PUT if has("partNumber") => "UploadPart",
            Method::PUT if copy => "CopyObject",
            Method::PUT => "PutObject",
            Method::GET if has("uploadId") => "ListParts",
            Method::GET => "GetObject",
            Method::HEAD => "HeadObject",
            Method::DELETE if has("uploadId") => "AbortMultipartUpload",
            Method::DELETE => "DeleteObject",
            Method::POST if has("uploads") => "CreateMultipartUpload",
            Method::POST if has("uploadId") => "CompleteMultipartUpload",
            _ => return (None, bucket),
        },
        (false, true) => match *method {
            Method::GET if has("list-type") => "ListObjectsV2",
            Method::GET if has("uploads") => "ListMultipartUploads",
            Method::GET if query.iter().all(|q| q.is_empty()) => "ListObjects",
            Method::PUT if query.iter().all(|q| q.is_empty()) => "CreateBucket",
            Method::DELETE if query.iter().all(|q| q.is_empty()) => "DeleteBucket",
            Method::HEAD => "HeadBucket",
            Method::POST if has("delete") => "DeleteObjects",
            _ => return (None, bucket),
        },
        (false, false) if *method == Method::GET => "ListBuckets",
        (false, false) => return (None, None),
    };
    (Some(operation.to_string()), bucket)
}

/// `key=value&...` pairs of a form body, percent-decoded.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((percent_decode(key), percent_decode(value)))
        })
        .collect()
}

/// `%XX` and `+` decoded; anything malformed is kept as it came.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' if at + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[at + 1..at + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        at += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        host: &str,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (Protocol, Option<String>, Option<String>) {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let (service, _) = super::super::service_of(host).unwrap();
        name(
            &service,
            &Request {
                host,
                method: &method,
                path,
                query,
                headers: &map,
                body: Some(body.as_bytes()),
            },
        )
    }

    fn named(
        protocol: Protocol,
        op: &str,
        resource: Option<&str>,
    ) -> (Protocol, Option<String>, Option<String>) {
        (protocol, Some(op.to_string()), resource.map(str::to_string))
    }

    #[test]
    fn json_and_query_protocols_name_the_operation_in_the_request() {
        assert_eq!(
            call(
                "dynamodb.us-east-1.amazonaws.com",
                Method::POST,
                "/",
                &[("x-amz-target", "DynamoDB_20120810.PutItem")],
                r#"{"TableName":"orders","Item":{}}"#
            ),
            named(Protocol::AwsJson, "PutItem", Some("orders"))
        );
        assert_eq!(
            call(
                "sqs.us-east-1.amazonaws.com",
                Method::POST,
                "/",
                &[("x-amz-target", "AmazonSQS.SendMessage")],
                r#"{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/1/q","MessageBody":"x"}"#
            ),
            named(
                Protocol::AwsJson,
                "SendMessage",
                Some("https://sqs.us-east-1.amazonaws.com/1/q")
            )
        );
        assert_eq!(
            call(
                "sns.us-east-1.amazonaws.com",
                Method::POST,
                "/",
                &[(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8"
                )],
                "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi+there"
            ),
            named(
                Protocol::AwsQuery,
                "Publish",
                Some("arn:aws:sns:us-east-1:1:t")
            )
        );
        assert_eq!(
            call(
                "monitoring.us-east-1.amazonaws.com",
                Method::POST,
                "/service/GraniteServiceVersion20100801/operation/PutMetricData",
                &[("smithy-protocol", "rpc-v2-cbor")],
                ""
            ),
            named(Protocol::RpcV2Cbor, "PutMetricData", None)
        );
    }

    #[test]
    fn rest_routes_name_s3_and_lambda_operations() {
        let s3 = |method: Method, target: &str, headers: &[(&str, &str)]| {
            call("s3.us-east-1.amazonaws.com", method, target, headers, "")
        };
        for (method, target, headers, op, bucket) in [
            (Method::PUT, "/b/k", &[][..], "PutObject", "b"),
            (
                Method::PUT,
                "/b/k",
                &[("x-amz-copy-source", "/b/j")][..],
                "CopyObject",
                "b",
            ),
            (Method::GET, "/b/dir/k.txt", &[][..], "GetObject", "b"),
            (Method::HEAD, "/b/k", &[][..], "HeadObject", "b"),
            (Method::DELETE, "/b/k", &[][..], "DeleteObject", "b"),
            (
                Method::GET,
                "/b?list-type=2&prefix=x",
                &[][..],
                "ListObjectsV2",
                "b",
            ),
            (
                Method::POST,
                "/b/k?uploads",
                &[][..],
                "CreateMultipartUpload",
                "b",
            ),
            (
                Method::PUT,
                "/b/k?partNumber=1&uploadId=u",
                &[][..],
                "UploadPart",
                "b",
            ),
            (
                Method::POST,
                "/b/k?uploadId=u",
                &[][..],
                "CompleteMultipartUpload",
                "b",
            ),
            (
                Method::DELETE,
                "/b/k?uploadId=u",
                &[][..],
                "AbortMultipartUpload",
                "b",
            ),
        ] {
            assert_eq!(
                s3(method, target, headers),
                named(Protocol::RestXml, op, Some(bucket)),
                "{target}"
            );
        }
        assert_eq!(
            call(
                "photos.s3.us-east-1.amazonaws.com",
                Method::GET,
                "/k",
                &[],
                ""
            ),
            named(Protocol::RestXml, "GetObject", Some("photos"))
        );
        assert_eq!(
            s3(Method::GET, "/", &[]),
            (Protocol::RestXml, Some("ListBuckets".into()), None)
        );
        assert_eq!(
            call(
                "lambda.us-east-1.amazonaws.com",
                Method::POST,
                "/2015-03-31/functions/orders-fn/invocations",
                &[],
                "{}"
            ),
            named(Protocol::RestJson, "Invoke", Some("orders-fn"))
        );
        assert_eq!(
            call(
                "apigateway.us-east-1.amazonaws.com",
                Method::GET,
                "/restapis",
                &[],
                ""
            ),
            (Protocol::RestJson, None, None)
        );
    }
}
