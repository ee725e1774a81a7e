//! The answers faultline writes itself: HTTP-shaped Lambda answers (API Gateway, ALB and
//! function URL proxy integrations: `{statusCode, headers, body, isBase64Encoded}`), the error
//! body of a failed invocation, and faultline's own errors (502 when the Runtime API is
//! unreachable, 400 and 431 for requests it cannot read, 503 over the connection limit).

use base64::Engine as _;
use faultline_schema::config::{CorruptEffect, ExceptionEffect, HttpResponseEffect};
use faultline_schema::event::EventSource;
use http::StatusCode;
use serde_json::{Map, Value, json};

/// The body as the integrations expect it: text when it is UTF-8, else base64 with
/// `isBase64Encoded: true`.
fn body_field(body: &[u8]) -> (Value, bool) {
    match std::str::from_utf8(body) {
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    }
}

fn headers_object(effect: &HttpResponseEffect) -> Map<String, Value> {
    effect
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect()
}

/// The answer to an HTTP event when `http-ingress` forges a response (the handler does not run).
pub(super) fn forged_answer(source: EventSource, effect: &HttpResponseEffect) -> Vec<u8> {
    let (body, is_base64) = body_field(&effect.body);
    let mut answer = json!({
        "statusCode": effect.code,
        "headers": headers_object(effect),
        "body": body,
        "isBase64Encoded": is_base64,
    });
    if source == EventSource::Alb {
        // ALB wants the status line text too.
        let reason = http::StatusCode::from_u16(effect.code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        answer["statusDescription"] = Value::String(format!("{} {reason}", effect.code));
    }
    answer.to_string().into_bytes()
}

/// An answer (`raw`, its head `head_len` bytes long) with the field `name` set to `value`:
/// every line of that name goes, one new line ends the head; the body is unchanged.
pub(super) fn with_field(raw: &[u8], head_len: usize, name: &str, value: &str) -> Vec<u8> {
    let head = &raw[..head_len.min(raw.len())];
    let body = &raw[head.len()..];
    let mut out = Vec::with_capacity(raw.len() + name.len() + value.len() + 4);
    // The head ends with an empty line; its other lines are the start line and the fields.
    let lines = head.strip_suffix(b"\r\n\r\n").unwrap_or(head);
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let named = line.iter().position(|&b| b == b':').is_some_and(|colon| {
            line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
        });
        if !named {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// The runtime's answer to a batch with records reported failed: each of `record_ids` with
/// probability `rate` (one `draw()` in `0..1` per record), merged with the `batchItemFailures`
/// the handler returned (its own kept, none twice). An answer that is not a JSON object (a
/// handler that returned nothing among them) becomes `{"batchItemFailures": [...]}`.
pub(super) fn with_batch_failures(
    original: &[u8],
    record_ids: &[String],
    rate: f64,
    mut draw: impl FnMut() -> f64,
) -> Vec<u8> {
    let mut answer = match serde_json::from_slice::<Value>(original) {
        Ok(Value::Object(answer)) => answer,
        _ => Map::new(),
    };
    let mut failures: Vec<Value> = answer
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for id in record_ids {
        let listed = failures
            .iter()
            .any(|failure| failure.get("itemIdentifier").and_then(Value::as_str) == Some(id));
        if draw() < rate && !listed {
            failures.push(json!({"itemIdentifier": id}));
        }
    }
    answer.insert("batchItemFailures".into(), Value::Array(failures));
    Value::Object(answer).to_string().into_bytes()
}

/// The runtime's response body corrupted: cut to the fraction kept, or with bytes flipped so
/// that it is neither JSON nor UTF-8 any more (the first byte, then every 64th, gets its high bit
/// flipped; an empty body becomes one byte no parser takes).
pub(super) fn corrupted(original: &[u8], effect: CorruptEffect) -> Vec<u8> {
    match effect {
        CorruptEffect::Truncate(fraction) => {
            // The fraction is in 0..1 (the schema's check), so the cut is within the body.
            let keep = (original.len() as f64 * fraction.clamp(0.0, 1.0)).floor() as usize;
            original[..keep.min(original.len())].to_vec()
        }
        CorruptEffect::Mangle => {
            if original.is_empty() {
                return vec![0xff];
            }
            let mut mangled = original.to_vec();
            for byte in mangled.iter_mut().step_by(64) {
                *byte ^= 0x80;
            }
            mangled
        }
    }
}

/// The runtime's response with statusCode and body replaced and the effect's headers merged in.
/// Anything that is not a JSON object becomes a whole HTTP-shaped answer.
pub(super) fn replace_status_and_body(original: &[u8], effect: &HttpResponseEffect) -> Vec<u8> {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(original) else {
        return forged_answer(EventSource::Direct, effect);
    };
    let (body, is_base64) = body_field(&effect.body);
    answer.insert("statusCode".into(), json!(effect.code));
    answer.insert("body".into(), body);
    answer.insert("isBase64Encoded".into(), Value::Bool(is_base64));
    if !effect.headers.is_empty() {
        let headers = answer
            .entry("headers")
            .or_insert_with(|| Value::Object(Map::new()));
        if !headers.is_object() {
            *headers = Value::Object(Map::new());
        }
        if let Value::Object(headers) = headers {
            // Header names are case-insensitive: drop any spelling of the ones we set.
            headers.retain(|name, _| !effect.headers.contains_key(&name.to_ascii_lowercase()));
            headers.extend(headers_object(effect));
        }
    }
    Value::Object(answer).to_string().into_bytes()
}

/// The body Lambda records for a failed invocation.
pub(super) fn error_body(exception: &ExceptionEffect) -> Vec<u8> {
    serde_json::json!({
        "errorMessage": exception.message,
        "errorType": exception.error_type,
        "stackTrace": [],
    })
    .to_string()
    .into_bytes()
}

/// The header that marks an answer faultline wrote itself, so that it can be told from Lambda's.
pub(super) const PROXY_ERROR: &str = "x-faultline: proxy-error";

/// faultline's own answer to a runtime request it could not relay (`status` from
/// [`super::failure::Failure::status`]): a JSON error as Lambda's own errors are shaped, marked
/// with [`PROXY_ERROR`], after which the connection closes (the request may have been half
/// read or half sent).
pub(super) fn proxy_error(status: u16, reason: &str) -> Vec<u8> {
    let (error_type, message) = match status {
        502 => (
            "Faultline.UpstreamUnavailable",
            format!("faultline: Runtime API upstream unreachable: {reason}"),
        ),
        503 => (
            "Faultline.TooManyConnections",
            format!("faultline: {reason}"),
        ),
        431 => ("Faultline.HeadTooLarge", format!("faultline: {reason}")),
        _ => ("Faultline.BadRequest", format!("faultline: {reason}")),
    };
    let body = serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string();
    let reason_phrase = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut answer = format!(
        "HTTP/1.1 {status} {reason_phrase}\r\n{PROXY_ERROR}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body.as_bytes());
    answer
}

/// Lambda's answer to a `/response` or `/error` for an invocation that already timed out, or
/// that carries another invocation's `Lambda-Runtime-Invocation-Id` (`ErrorRuntimeInvokeTimeout`).
pub(super) const GONE: u16 = 410;

/// The interim answer faultline gives a runtime waiting to send a body it is going to read.
pub(super) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn effect(body: &[u8]) -> HttpResponseEffect {
        HttpResponseEffect {
            code: 503,
            body: body.to_vec(),
            headers: BTreeMap::from([("content-type".to_string(), "text/plain".to_string())]),
        }
    }

    #[test]
    fn batch_failures_merge_with_the_handlers_own() {
        let ids: Vec<String> = ["m1", "m2", "m3"].map(String::from).to_vec();
        let own = br#"{"batchItemFailures": [{"itemIdentifier": "m2"}], "note": "kept"}"#;
        let all = with_batch_failures(own, &ids, 1.0, || 0.5);
        let all: Value = serde_json::from_slice(&all).unwrap();
        assert_eq!(
            all,
            json!({"note": "kept", "batchItemFailures": [
                {"itemIdentifier": "m2"}, {"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}
            ]})
        );
        let none = with_batch_failures(b"null", &ids, 0.0, || 0.0);
        assert_eq!(none, br#"{"batchItemFailures":[]}"#);
        let mut draws = [0.1, 0.9, 0.1].into_iter();
        let some = with_batch_failures(b"", &ids, 0.5, || draws.next().unwrap_or(1.0));
        let some: Value = serde_json::from_slice(&some).unwrap();
        assert_eq!(
            some["batchItemFailures"],
            json!([{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}])
        );
    }

    #[test]
    fn a_field_is_set_and_the_rest_kept() {
        let raw =
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Deadline-Ms: 99\r\nContent-Length: 2\r\n\r\n{}";
        let head_len = raw.len() - 2;
        let set = with_field(raw, head_len, "lambda-runtime-deadline-ms", "1234");
        assert_eq!(
            set,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nlambda-runtime-deadline-ms: 1234\r\n\r\n{}"
        );
    }

    #[test]
    fn corrupted_answers_are_cut_or_no_longer_parse() {
        let answer = br#"{"statusCode": 200, "body": "an order of forty-two items"}"#;
        let cut = corrupted(answer, CorruptEffect::Truncate(0.5));
        assert_eq!(cut.len(), answer.len() / 2);
        assert!(answer.starts_with(&cut));
        assert!(corrupted(answer, CorruptEffect::Truncate(0.0)).is_empty());
        for body in [&answer[..], b"", b"\"x\"", b"{}"] {
            let mangled = corrupted(body, CorruptEffect::Mangle);
            assert!(
                serde_json::from_slice::<Value>(&mangled).is_err(),
                "{body:?} still parses"
            );
            assert_eq!(mangled.len(), body.len().max(1));
        }
    }

    #[test]
    fn forged_answers_follow_the_integration_shape() {
        let answer: Value =
            serde_json::from_slice(&forged_answer(EventSource::Alb, &effect(b"down"))).unwrap();
        assert_eq!(answer["statusCode"], 503);
        assert_eq!(answer["body"], "down");
        assert_eq!(answer["isBase64Encoded"], false);
        assert_eq!(answer["headers"]["content-type"], "text/plain");
        assert_eq!(answer["statusDescription"], "503 Service Unavailable");
        let binary: Value = serde_json::from_slice(&forged_answer(
            EventSource::FunctionUrl,
            &effect(&[0xff, 0]),
        ))
        .unwrap();
        assert_eq!(binary["isBase64Encoded"], true);
        assert_eq!(binary["body"], "/wA=");
        assert!(binary.get("statusDescription").is_none());
    }

    #[test]
    fn replacement_keeps_the_rest_of_the_answer() {
        let original = br#"{"statusCode":200,"body":"ok","headers":{"Content-Type":"application/json","x-id":"1"},"cookies":["a=b"]}"#;
        let replaced: Value =
            serde_json::from_slice(&replace_status_and_body(original, &effect(b"down"))).unwrap();
        assert_eq!(replaced["statusCode"], 503);
        assert_eq!(replaced["body"], "down");
        assert_eq!(replaced["cookies"][0], "a=b");
        assert_eq!(replaced["headers"]["x-id"], "1");
        assert_eq!(replaced["headers"]["content-type"], "text/plain");
        assert!(replaced["headers"].get("Content-Type").is_none());
        let from_text: Value =
            serde_json::from_slice(&replace_status_and_body(b"\"plain\"", &effect(b"x"))).unwrap();
        assert_eq!(from_text["statusCode"], 503);
    }
}
