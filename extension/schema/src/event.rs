//! What an invocation's event says about itself: its source, and for HTTP events the method and
//! path. Event sources are recognised by the shape of the event, as AWS documents each payload:
//! API Gateway REST (v1 proxy), API Gateway HTTP (payload 2.0), ALB, function URLs, SQS, SNS, S3,
//! EventBridge (scheduled or not), DynamoDB and Kinesis streams. Anything else is `direct`.
//!
//! The event is read with a typed probe: the few fields that tell the shape are borrowed from the
//! bytes, everything else is skipped without being built ([`IgnoredAny`]), so a 6 MB event costs
//! one pass and no tree of values.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Where an invocation's event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    /// API Gateway REST API (proxy integration, payload 1.0).
    ApiGatewayRest,
    /// API Gateway HTTP API (payload 2.0).
    ApiGatewayHttp,
    /// Application Load Balancer.
    Alb,
    /// Lambda function URL.
    FunctionUrl,
    /// SQS queue.
    Sqs,
    /// SNS topic.
    Sns,
    /// S3 event notification.
    S3,
    /// EventBridge event.
    EventBridge,
    /// DynamoDB stream.
    DynamoDb,
    /// Kinesis stream.
    Kinesis,
    /// EventBridge scheduled event.
    Schedule,
    /// Anything else (a direct invoke).
    Direct,
}

impl EventSource {
    /// The `event-source` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::ApiGatewayRest => "apigw-rest",
            EventSource::ApiGatewayHttp => "apigw-http",
            EventSource::Alb => "alb",
            EventSource::FunctionUrl => "function-url",
            EventSource::Sqs => "sqs",
            EventSource::Sns => "sns",
            EventSource::S3 => "s3",
            EventSource::EventBridge => "eventbridge",
            EventSource::DynamoDb => "dynamodb",
            EventSource::Kinesis => "kinesis",
            EventSource::Schedule => "schedule",
            EventSource::Direct => "direct",
        }
    }

    /// Events that carry an HTTP request and expect an HTTP-shaped answer (`http-ingress`).
    pub fn is_http(self) -> bool {
        matches!(
            self,
            EventSource::ApiGatewayRest
                | EventSource::ApiGatewayHttp
                | EventSource::Alb
                | EventSource::FunctionUrl
        )
    }

    /// Batches whose records Lambda redelivers from a partial batch response
    /// (`batchItemFailures`): SQS, Kinesis and DynamoDB streams.
    pub fn is_batch(self) -> bool {
        matches!(
            self,
            EventSource::Sqs | EventSource::Kinesis | EventSource::DynamoDb
        )
    }
}

/// What the event says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts {
    /// Where the event came from.
    pub source: EventSource,
    /// The HTTP method of an HTTP event.
    pub method: Option<String>,
    /// The HTTP path of an HTTP event.
    pub path: Option<String>,
}

/// Visitor methods that skip a value of the kinds named, answering `$value`.
macro_rules! skip {
    (scalars => $value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (strings => $value:expr) => {
        fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (lists => $value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
    (objects => $value:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
    (expecting) => {
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
    };
}

/// A field kept only when it is a string; any other value is skipped.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            skip!(expecting);
            skip!(scalars => Text(None));
            skip!(lists => Text(None));
            skip!(objects => Text(None));
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

impl<'a> Text<'a> {
    fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// An object field that may be anything: kept when it is an object of the expected shape.
struct Object<T>(Option<T>);

impl<T> Default for Object<T> {
    fn default() -> Self {
        Object(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            skip!(expecting);
            skip!(scalars => Object(None));
            skip!(strings => Object(None));
            skip!(lists => Object(None));
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Object(Some(t)))
            }
        }
        deserializer.deserialize_any(ObjectVisitor(std::marker::PhantomData))
    }
}

/// The first element of a list that may be anything; the rest is skipped.
struct First<T>(Option<T>);

impl<T> Default for First<T> {
    fn default() -> Self {
        First(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
            type Value = First<T>;
            skip!(expecting);
            skip!(scalars => First(None));
            skip!(strings => First(None));
            skip!(objects => First(None));
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Object<T>>()?.and_then(|o| o.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        deserializer.deserialize_any(FirstVisitor(std::marker::PhantomData))
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HttpContext<'a> {
    #[serde(borrow)]
    method: Text<'a>,
    #[serde(borrow)]
    path: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RequestContext<'a> {
    elb: Option<IgnoredAny>,
    #[serde(rename = "domainName", borrow)]
    domain_name: Text<'a>,
    #[serde(borrow)]
    http: Object<HttpContext<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Record<'a> {
    #[serde(rename = "eventSource", borrow)]
    event_source: Text<'a>,
    #[serde(rename = "EventSource", borrow)]
    event_source_sns: Text<'a>,
}

/// The fields of an event that tell its shape; the rest is skipped.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Probe<'a> {
    #[serde(rename = "requestContext", borrow)]
    request_context: Object<RequestContext<'a>>,
    #[serde(rename = "httpMethod", borrow)]
    http_method: Text<'a>,
    #[serde(borrow)]
    path: Text<'a>,
    #[serde(borrow)]
    version: Text<'a>,
    #[serde(rename = "rawPath", borrow)]
    raw_path: Text<'a>,
    #[serde(rename = "Records", borrow)]
    records: First<Record<'a>>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Text<'a>,
    #[serde(borrow)]
    source: Text<'a>,
}

/// The values at `paths` in the event (each a list of object keys or array indexes), as text:
/// a string as it reads, anything else as its JSON. A path that leads nowhere has no value.
/// Each path is one walk down the event: every level is scanned once, its values skipped
/// without being built, and only the value at the end is read.
pub fn values_at<'p>(event: &[u8], paths: &'p [(String, Vec<String>)]) -> Vec<(&'p str, String)> {
    use serde_json::value::RawValue;
    let Ok(root) = serde_json::from_slice::<&RawValue>(event) else {
        return Vec::new();
    };
    paths
        .iter()
        .filter_map(|(key, segments)| {
            let mut current: &RawValue = root;
            for segment in segments {
                current = step_into(current, segment)?;
            }
            let text = current.get();
            let value = serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string());
            Some((key.as_str(), value))
        })
        .collect()
}

/// The value under `segment` (an object's key, or an array's index) of `raw`, borrowed from
/// the same text.
fn step_into<'a>(
    raw: &'a serde_json::value::RawValue,
    segment: &str,
) -> Option<&'a serde_json::value::RawValue> {
    let text: &'a str = raw.get();
    if text.starts_with('{') {
        let map: std::collections::HashMap<Cow<'a, str>, &'a serde_json::value::RawValue> =
            serde_json::from_str(text).ok()?;
        map.get(segment).copied()
    } else if text.starts_with('[') {
        let index: usize = segment.parse().ok()?;
        let list: Vec<&'a serde_json::value::RawValue> = serde_json::from_str(text).ok()?;
        list.get(index).copied()
    } else {
        None
    }
}

/// The ids of a batch's records, as Lambda's partial batch response names them: SQS
/// `messageId`, Kinesis `kinesis.sequenceNumber`, DynamoDB streams `dynamodb.SequenceNumber`.
/// One pass over the event, without a tree of its values; empty for anything else.
pub fn record_ids(event: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Batch {
        #[serde(rename = "Records", default)]
        records: Vec<BatchRecord>,
    }
    #[derive(serde::Deserialize)]
    struct BatchRecord {
        #[serde(rename = "messageId", default)]
        message_id: Option<String>,
        #[serde(default)]
        kinesis: Option<Sequence>,
        #[serde(default)]
        dynamodb: Option<StreamSequence>,
    }
    #[derive(serde::Deserialize)]
    struct Sequence {
        #[serde(rename = "sequenceNumber", default)]
        sequence_number: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct StreamSequence {
        #[serde(rename = "SequenceNumber", default)]
        sequence_number: Option<String>,
    }
    serde_json::from_slice::<Batch>(event)
        .map(|batch| {
            batch
                .records
                .into_iter()
                .filter_map(|record| {
                    record
                        .message_id
                        .or(record.kinesis.and_then(|k| k.sequence_number))
                        .or(record.dynamodb.and_then(|d| d.sequence_number))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Classifies an event (the JSON bytes `/next` delivered) by its shape. Anything that is not a
/// JSON object, or not one of the known shapes, is `direct`.
pub fn classify(event: &[u8]) -> EventFacts {
    let direct = EventFacts {
        source: EventSource::Direct,
        method: None,
        path: None,
    };
    let Ok(Object(Some(probe))) = serde_json::from_slice::<Object<Probe<'_>>>(event) else {
        return direct;
    };
    let owned = |text: Option<&str>| text.map(str::to_string);

    if let Some(context) = &probe.request_context.0 {
        if context.elb.is_some() {
            return EventFacts {
                source: EventSource::Alb,
                method: owned(probe.http_method.as_str()),
                path: owned(probe.path.as_str()),
            };
        }
        if probe.version.as_str() == Some("2.0") {
            let url_domain = context
                .domain_name
                .as_str()
                .is_some_and(|domain| domain.contains(".lambda-url."));
            let http = context.http.0.as_ref();
            return EventFacts {
                source: if url_domain {
                    EventSource::FunctionUrl
                } else {
                    EventSource::ApiGatewayHttp
                },
                method: owned(http.and_then(|h| h.method.as_str())),
                path: owned(
                    probe
                        .raw_path
                        .as_str()
                        .or_else(|| http.and_then(|h| h.path.as_str())),
                ),
            };
        }
        if probe.http_method.0.is_some() {
            return EventFacts {
                source: EventSource::ApiGatewayRest,
                method: owned(probe.http_method.as_str()),
                path: owned(probe.path.as_str()),
            };
        }
    }

    if let Some(first) = &probe.records.0 {
        let source = first
            .event_source
            .as_str()
            .or_else(|| first.event_source_sns.as_str());
        let source = match source {
            Some("aws:sqs") => Some(EventSource::Sqs),
            Some("aws:sns") => Some(EventSource::Sns),
            Some("aws:s3") => Some(EventSource::S3),
            Some("aws:dynamodb") => Some(EventSource::DynamoDb),
            Some("aws:kinesis") => Some(EventSource::Kinesis),
            _ => None,
        };
        if let Some(source) = source {
            return EventFacts {
                source,
                method: None,
                path: None,
            };
        }
    }

    if probe.detail_type.0.is_some() && probe.source.0.is_some() {
        let scheduled = probe.source.as_str() == Some("aws.events")
            && probe.detail_type.as_str() == Some("Scheduled Event");
        return EventFacts {
            source: if scheduled {
                EventSource::Schedule
            } else {
                EventSource::EventBridge
            },
            method: None,
            path: None,
        };
    }
    direct
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_read_at_event_paths() {
        let event = br#"{"requestContext": {"stage": "prod", "port": 443},
            "headers": {"x-chaos": "on", "x.dotted": "x"}, "Records": [{"eventSource": "aws:sqs"},
            {"body": "{\"a\": 1}"}], "flag": true, "none": null, "esc\u0061ped": "yes"}"#;
        let path = |key: &str| {
            let segments = crate::labels::event_path(key).expect("a path");
            (
                key.to_string(),
                segments.into_iter().map(String::from).collect::<Vec<_>>(),
            )
        };
        let paths: Vec<(String, Vec<String>)> = [
            "event.requestContext.stage",
            "event.requestContext.port",
            "event.headers.x-chaos",
            "event.Records.0.eventSource",
            "event.Records.1.body",
            "event.Records.7.body",
            "event.flag",
            "event.none",
            "event.escaped",
            "event.requestContext",
            "event.missing.deeper",
            "event.flag.deeper",
        ]
        .map(path)
        .to_vec();
        let found: std::collections::BTreeMap<&str, String> =
            values_at(event, &paths).into_iter().collect();
        assert_eq!(found["event.requestContext.stage"], "prod");
        assert_eq!(found["event.requestContext.port"], "443");
        assert_eq!(found["event.headers.x-chaos"], "on");
        assert_eq!(found["event.Records.0.eventSource"], "aws:sqs");
        assert_eq!(found["event.Records.1.body"], r#"{"a": 1}"#);
        assert_eq!(found["event.flag"], "true");
        assert_eq!(found["event.none"], "null");
        assert_eq!(found["event.escaped"], "yes");
        assert!(found["event.requestContext"].contains("\"stage\""));
        for absent in [
            "event.Records.7.body",
            "event.missing.deeper",
            "event.flag.deeper",
        ] {
            assert!(!found.contains_key(absent), "{absent}");
        }
        assert!(values_at(b"not json", &paths).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn no_event_or_path_panics(
            event in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            json in "[\\[\\]{}:,\"a-z0-9 ]{0,64}",
            segments in proptest::collection::vec("[a-z0-9]{1,3}", 1..5),
        ) {
            let paths = vec![(format!("event.{}", segments.join(".")), segments)];
            let _ = values_at(&event, &paths);
            let _ = values_at(json.as_bytes(), &paths);
        }
    }

    #[test]
    fn record_ids_are_read_from_each_kind_of_batch() {
        let sqs = br#"{"Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"},
                                    {"messageId": "m2", "attributes": {"x": [1, 2]}}]}"#;
        assert_eq!(record_ids(sqs), ["m1", "m2"]);
        let kinesis = br#"{"Records": [{"eventSource": "aws:kinesis",
                                        "kinesis": {"sequenceNumber": "4959", "data": "e30="}}]}"#;
        assert_eq!(record_ids(kinesis), ["4959"]);
        let stream = br#"{"Records": [{"eventSource": "aws:dynamodb",
                                       "dynamodb": {"SequenceNumber": "111", "Keys": {}}}]}"#;
        assert_eq!(record_ids(stream), ["111"]);
        for other in [&b"{}"[..], b"[1]", b"not json", br#"{"Records": 3}"#] {
            assert!(record_ids(other).is_empty(), "{other:?}");
        }
    }

    #[test]
    fn http_events_are_told_apart() {
        let rest = json!({"resource": "/orders", "path": "/orders", "httpMethod": "POST",
            "requestContext": {"apiId": "a1", "stage": "prod"}});
        let http = json!({"version": "2.0", "rawPath": "/orders",
            "requestContext": {"domainName": "a1.execute-api.eu-west-1.amazonaws.com",
                "http": {"method": "GET", "path": "/orders"}}});
        let url = json!({"version": "2.0", "rawPath": "/",
            "requestContext": {"domainName": "abc.lambda-url.eu-west-1.on.aws",
                "http": {"method": "PUT"}}});
        let alb = json!({"httpMethod": "DELETE", "path": "/x",
            "requestContext": {"elb": {"targetGroupArn": "arn"}}});
        let cases = [
            (rest, EventSource::ApiGatewayRest, "POST", "/orders"),
            (http, EventSource::ApiGatewayHttp, "GET", "/orders"),
            (url, EventSource::FunctionUrl, "PUT", "/"),
            (alb, EventSource::Alb, "DELETE", "/x"),
        ];
        for (event, source, method, path) in cases {
            let facts = classify(&serde_json::to_vec(&event).unwrap());
            assert_eq!(facts.source, source);
            assert!(facts.source.is_http());
            assert_eq!(facts.method.as_deref(), Some(method));
            assert_eq!(facts.path.as_deref(), Some(path));
        }
    }

    #[test]
    fn record_and_bus_events() {
        let cases = [
            (json!({"Records": [{"eventSource": "aws:sqs"}]}), "sqs"),
            (json!({"Records": [{"EventSource": "aws:sns"}]}), "sns"),
            (json!({"Records": [{"eventSource": "aws:s3"}]}), "s3"),
            (
                json!({"Records": [{"eventSource": "aws:dynamodb"}]}),
                "dynamodb",
            ),
            (
                json!({"Records": [{"eventSource": "aws:kinesis"}]}),
                "kinesis",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
                "schedule",
            ),
            (
                json!({"source": "orders", "detail-type": "OrderPlaced"}),
                "eventbridge",
            ),
            (json!({"op": "echo"}), "direct"),
            (json!("just a string"), "direct"),
            (json!({"Records": "odd"}), "direct"),
        ];
        for (event, expected) in cases {
            let facts = classify(&serde_json::to_vec(&event).unwrap());
            assert_eq!(facts.source.as_str(), expected, "{event}");
            assert!(!facts.source.is_http());
        }
    }

    #[test]
    fn odd_values_are_skipped_not_fatal() {
        let rest = br#"{"httpMethod": "GET", "path": 7, "requestContext": {"http": []},
            "Records": "none", "body": {"deep": [1, {"x": null}]}}"#;
        let facts = classify(rest);
        assert_eq!(facts.source, EventSource::ApiGatewayRest);
        assert_eq!(facts.method.as_deref(), Some("GET"));
        assert_eq!(facts.path, None);
        let escaped = br#"{"Records": [{"eventSource": "aws:s\u0071s", "body": "x"}, 3, "y"]}"#;
        assert_eq!(classify(escaped).source, EventSource::Sqs);
        for not_an_object in [&b"[1,2]"[..], b"\"text\"", b"42", b"", b"{broken"] {
            assert_eq!(classify(not_an_object).source, EventSource::Direct);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_events_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = classify(&bytes);
        }

        #[test]
        fn arbitrary_json_never_panics(text in "[{}\\[\\],:\"a-z0-9 ]{0,200}") {
            let _ = classify(text.as_bytes());
        }
    }
}
