//! The `awsError` effect: a service error in the shape the service's protocol gives it, so that
//! the SDK parses it as it would the real one (its code, its retry policy).
//!
//! - awsJson: `x-amzn-ErrorType` and `{"__type", "message"}`;
//! - awsQuery: an XML `ErrorResponse` with `Sender` or `Receiver`;
//! - restXml (S3): `<Error><Code/><Message/><RequestId/></Error>`;
//! - restJson1: `x-amzn-ErrorType` and a JSON body;
//! - Smithy RPC v2 CBOR: `smithy-protocol: rpc-v2-cbor` and a CBOR map `{"__type", "message"}`;
//!
//! each with an `x-amzn-RequestId`.

use super::Protocol;
use faultline_schema::config::AwsErrorEffect;

/// An answer: status, headers, body.
pub struct ErrorAnswer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// A request id in the shape AWS gives them (a UUID), unique enough for a forged answer.
pub fn request_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The answer for `error` in `protocol` (`json_version`: the request's awsJson content type).
pub fn answer(protocol: Protocol, error: &AwsErrorEffect, json_type: Option<&str>) -> ErrorAnswer {
    let id = request_id();
    let mut headers = vec![("x-amzn-requestid", id.clone())];
    let body = match protocol {
        Protocol::AwsJson => {
            headers.push((
                "content-type",
                json_type
                    .filter(|t| t.starts_with("application/x-amz-json-"))
                    .unwrap_or("application/x-amz-json-1.0")
                    .to_string(),
            ));
            headers.push(("x-amzn-errortype", error.code.clone()));
            serde_json::json!({"__type": error.code, "message": error.message}).to_string()
        }
        Protocol::AwsQuery => {
            headers.push(("content-type", "text/xml".into()));
            let kind = if error.status >= 500 {
                "Receiver"
            } else {
                "Sender"
            };
            format!(
                "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
                 <Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error>\
                 <RequestId>{id}</RequestId></ErrorResponse>",
                xml_escape(&error.code),
                xml_escape(&error.message)
            )
        }
        Protocol::RestXml => {
            headers.push(("content-type", "application/xml".into()));
            headers.push(("x-amz-request-id", id.clone()));
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code>\
                 <Message>{}</Message><RequestId>{id}</RequestId></Error>",
                xml_escape(&error.code),
                xml_escape(&error.message)
            )
        }
        Protocol::RestJson => {
            headers.push(("content-type", "application/json".into()));
            headers.push(("x-amzn-errortype", error.code.clone()));
            serde_json::json!({"message": error.message, "Message": error.message}).to_string()
        }
        Protocol::RpcV2Cbor => {
            headers.push(("content-type", "application/cbor".into()));
            headers.push(("smithy-protocol", "rpc-v2-cbor".into()));
            let map = std::collections::BTreeMap::from([
                ("__type", error.code.as_str()),
                ("message", error.message.as_str()),
            ]);
            let mut body = Vec::new();
            // Writing a map of strings into a Vec cannot fail; an empty body would still be
            // an error answer with its status.
            let _ = ciborium::into_writer(&map, &mut body);
            return ErrorAnswer {
                status: error.status,
                headers,
                body,
            };
        }
    };
    ErrorAnswer {
        status: error.status,
        headers,
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, status: u16) -> AwsErrorEffect {
        AwsErrorEffect {
            code: code.into(),
            message: "a <message> & more".into(),
            status,
        }
    }

    fn header<'a>(answer: &'a ErrorAnswer, name: &str) -> Option<&'a str> {
        answer
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn each_protocol_has_its_shape() {
        let json = answer(
            Protocol::AwsJson,
            &error("ProvisionedThroughputExceededException", 400),
            Some("application/x-amz-json-1.0"),
        );
        assert_eq!(json.status, 400);
        assert_eq!(
            header(&json, "x-amzn-errortype"),
            Some("ProvisionedThroughputExceededException")
        );
        let body: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(body["__type"], "ProvisionedThroughputExceededException");
        assert!(header(&json, "x-amzn-requestid").is_some_and(|id| id.len() == 36));

        let query = answer(Protocol::AwsQuery, &error("Throttling", 400), None);
        let text = String::from_utf8(query.body).unwrap();
        assert!(
            text.contains("<Type>Sender</Type><Code>Throttling</Code>"),
            "{text}"
        );
        assert!(text.contains("a &lt;message&gt; &amp; more"), "{text}");

        let xml = answer(Protocol::RestXml, &error("SlowDown", 503), None);
        assert_eq!(xml.status, 503);
        let text = String::from_utf8(xml.body).unwrap();
        assert!(text.contains("<Error><Code>SlowDown</Code>"), "{text}");

        let rest = answer(
            Protocol::RestJson,
            &error("TooManyRequestsException", 429),
            None,
        );
        assert_eq!(
            header(&rest, "x-amzn-errortype"),
            Some("TooManyRequestsException")
        );

        let cbor = answer(
            Protocol::RpcV2Cbor,
            &error("ThrottlingException", 400),
            None,
        );
        assert_eq!(header(&cbor, "smithy-protocol"), Some("rpc-v2-cbor"));
        let body: std::collections::BTreeMap<String, String> =
            ciborium::from_reader(cbor.body.as_slice()).unwrap();
        assert_eq!(body["__type"], "ThrottlingException");
        assert_eq!(body["message"], "a <message> & more");
    }

    /// A local HTTP server that answers every request with `forged`; its URL.
    async fn answering(forged: ErrorAnswer) -> String {
        use hyper::service::service_fn;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let forged = std::sync::Arc::new(forged);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let forged = std::sync::Arc::clone(&forged);
                let service = service_fn(move |_request| {
                    let mut response = http::Response::new(http_body_util::Full::new(
                        bytes::Bytes::from(forged.body.clone()),
                    ));
                    *response.status_mut() = http::StatusCode::from_u16(forged.status).unwrap();
                    for (name, value) in &forged.headers {
                        response.headers_mut().insert(*name, value.parse().unwrap());
                    }
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        url
    }

    macro_rules! sdk_config {
        ($sdk:ident, $url:expr) => {
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-east-1"))
                .credentials_provider($sdk::config::Credentials::new("a", "b", None, None, "t"))
                .http_client(crate::config::source::direct_https_client())
                .retry_config($sdk::config::retry::RetryConfig::disabled())
                .endpoint_url($url)
                .build()
        };
    }

    /// Each protocol's forged error, parsed by a real SDK client of a service that speaks it,
    /// reports the forged code (and is what the SDK's retry policy then sees).
    #[tokio::test]
    async fn real_sdk_clients_read_the_forged_code() {
        use aws_sdk_cloudwatch::error::ProvideErrorMetadata as _;
        let throttled = error("ProvisionedThroughputExceededException", 400);
        let url = answering(answer(
            Protocol::AwsJson,
            &throttled,
            Some("application/x-amz-json-1.1"),
        ))
        .await;
        let client =
            aws_sdk_secretsmanager::Client::from_conf(sdk_config!(aws_sdk_secretsmanager, url));
        let err = client
            .get_secret_value()
            .secret_id("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some("ProvisionedThroughputExceededException"),
            "{err:?}"
        );

        let url = answering(answer(Protocol::AwsQuery, &error("Throttling", 400), None)).await;
        let client = aws_sdk_cloudwatch::Client::from_conf(sdk_config!(aws_sdk_cloudwatch, url));
        let err = client.describe_alarms().send().await.unwrap_err();
        assert_eq!(err.code(), Some("Throttling"), "{err:?}");
        assert_eq!(err.message(), Some("a <message> & more"));

        let url = answering(answer(
            Protocol::RestJson,
            &error("TooManyRequestsException", 429),
            None,
        ))
        .await;
        let client = aws_sdk_lambda::Client::from_conf(sdk_config!(aws_sdk_lambda, url));
        let err = client.invoke().function_name("f").send().await.unwrap_err();
        assert_eq!(err.code(), Some("TooManyRequestsException"), "{err:?}");
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_too_many_requests_exception()),
            "modelled as the SDK's own error type: {err:?}"
        );
    }
}
