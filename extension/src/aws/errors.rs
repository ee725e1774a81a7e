//! The `awsError` effect: a service error in the shape the service's protocol gives it, so that
//! the SDK parses it as it would the real one (its code, its retry policy).
//!
//! - awsJson: `x-amzn-ErrorType` and `{"__type", "message"}`;
//! - awsQuery: an XML `ErrorResponse` with `Sender` or `Receiver`;
//! - restXml (S3): `<Error><Code/><Message/><RequestId/></Error>`;
//! - restJson1: `x-amzn-ErrorType` and a JSON body;
//!
//! each with an `x-amzn-RequestId`. Smithy RPC v2 CBOR is answered in the restJson1 shape (see
//! the README's limits).

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
        Protocol::RestJson | Protocol::RpcV2Cbor => {
            headers.push(("content-type", "application/json".into()));
            headers.push(("x-amzn-errortype", error.code.clone()));
            serde_json::json!({"message": error.message, "Message": error.message}).to_string()
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
    }
}
