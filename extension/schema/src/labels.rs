//! Labels that experiments select on: the function's facts, the config's labels and, per
//! invocation, the event's source, method and path.
//!
//! Event sources are recognised by the shape of the event, as AWS documents each payload:
//! API Gateway REST (v1 proxy), API Gateway HTTP (payload 2.0), ALB, function URLs, SQS, SNS, S3,
//! EventBridge (scheduled or not), DynamoDB and Kinesis streams. Anything else is `direct`.

use crate::config::Config;
use serde_json::Value;
use std::collections::BTreeMap;

/// Labels describing one request: `function-name`, `event-source`, `host`, ... plus config labels.
pub type Labels = BTreeMap<String, String>;

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

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Classifies an event by its shape.
pub fn classify(event: &Value) -> EventFacts {
    let direct = EventFacts {
        source: EventSource::Direct,
        method: None,
        path: None,
    };
    let Some(object) = event.as_object() else {
        return direct;
    };
    let owned = |s: Option<&str>| s.map(str::to_string);

    if object.contains_key("requestContext") {
        if event.pointer("/requestContext/elb").is_some() {
            return EventFacts {
                source: EventSource::Alb,
                method: owned(text(event, "/httpMethod")),
                path: owned(text(event, "/path")),
            };
        }
        if text(event, "/version") == Some("2.0") {
            let url_domain = text(event, "/requestContext/domainName")
                .is_some_and(|domain| domain.contains(".lambda-url."));
            return EventFacts {
                source: if url_domain {
                    EventSource::FunctionUrl
                } else {
                    EventSource::ApiGatewayHttp
                },
                method: owned(text(event, "/requestContext/http/method")),
                path: owned(text(event, "/rawPath").or(text(event, "/requestContext/http/path"))),
            };
        }
        if object.contains_key("httpMethod") {
            return EventFacts {
                source: EventSource::ApiGatewayRest,
                method: owned(text(event, "/httpMethod")),
                path: owned(text(event, "/path")),
            };
        }
    }

    if let Some(first) = event.pointer("/Records/0") {
        let source = text(first, "/eventSource").or(text(first, "/EventSource"));
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

    if object.contains_key("detail-type") && object.contains_key("source") {
        let scheduled = text(event, "/source") == Some("aws.events")
            && text(event, "/detail-type") == Some("Scheduled Event");
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

/// The function's own facts, read once from its environment.
#[derive(Debug, Clone, Default)]
pub struct FunctionFacts {
    /// AWS_LAMBDA_FUNCTION_NAME.
    pub function_name: Option<String>,
    /// AWS_LAMBDA_FUNCTION_VERSION.
    pub function_version: Option<String>,
    /// AWS_REGION (or AWS_DEFAULT_REGION).
    pub region: Option<String>,
}

impl FunctionFacts {
    /// Reads the facts through `lookup` (the environment, in the extension).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> FunctionFacts {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        FunctionFacts {
            function_name: get("AWS_LAMBDA_FUNCTION_NAME"),
            function_version: get("AWS_LAMBDA_FUNCTION_VERSION"),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
        }
    }

    /// Labels every flag carries: the config's labels, then the function's facts (which win on a
    /// clash, since they are facts) and `service` (`service_name`, else the function name).
    pub fn base_labels(&self, config: &Config) -> Labels {
        let mut labels = config.labels.clone();
        let mut put = |key: &str, value: Option<&String>| {
            if let Some(value) = value {
                labels.insert(key.to_string(), value.clone());
            }
        };
        put("function-name", self.function_name.as_ref());
        put("function-version", self.function_version.as_ref());
        put("region", self.region.as_ref());
        put(
            "service",
            config.service_name.as_ref().or(self.function_name.as_ref()),
        );
        labels
    }

    /// Labels for one invocation: the base labels plus event-source, method and path.
    pub fn invocation_labels(&self, config: &Config, facts: &EventFacts) -> Labels {
        let mut labels = self.base_labels(config);
        labels.insert("event-source".into(), facts.source.as_str().into());
        if let Some(method) = &facts.method {
            labels.insert("method".into(), method.clone());
        }
        if let Some(path) = &facts.path {
            labels.insert("path".into(), path.clone());
        }
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            let facts = classify(&event);
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
            let facts = classify(&event);
            assert_eq!(facts.source.as_str(), expected, "{event}");
            assert!(!facts.source.is_http());
        }
    }

    #[test]
    fn facts_win_over_config_labels() {
        let config = Config::parse("labels: {team: payments, region: nowhere}").expect("valid");
        let facts = FunctionFacts {
            function_name: Some("checkout".into()),
            function_version: Some("$LATEST".into()),
            region: Some("eu-west-1".into()),
        };
        let labels = facts.invocation_labels(
            &config,
            &EventFacts {
                source: EventSource::Direct,
                method: None,
                path: None,
            },
        );
        assert_eq!(labels["team"], "payments");
        assert_eq!(labels["region"], "eu-west-1");
        assert_eq!(labels["service"], "checkout");
        assert_eq!(labels["event-source"], "direct");
        assert!(!labels.contains_key("method"));
    }
}
