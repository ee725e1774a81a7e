//! AWS service errors through TLS origination, with boto3 in a Python function on awslambdaric
//! (through the wrapper and the extension) and moto server over TLS with a certificate from a CA
//! the test makes. boto3 is pointed at `http://<service>.us-east-1.amazonaws.com:443` by
//! `AWS_ENDPOINT_URL_<SERVICE>` and at the dependency proxy by `HTTP_PROXY`; faultline opens
//! TLS to moto (`FAULTLINE_CONNECT_TO`) and verifies its certificate (`FAULTLINE_CA_FILE`).

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Proc, invoke_or_show};
use faultline_testkit::MotoServer;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The services boto3 reaches through faultline, as `deployer enable --aws-services` names them.
const SERVICES: &str = "dynamodb,sqs,s3,monitoring";
const BUCKET: &str = "orders-bucket";

/// A CA named `name` and, signed by it, a server certificate for the AWS hosts of us-east-1,
/// the third-party API of the tests and 127.0.0.1: (CA, certificate, key) in `dir`.
fn tls_material(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let certs = faultline_testkit::tls::test_certs(
        dir,
        name,
        &[
            "DNS:*.us-east-1.amazonaws.com",
            "DNS:*.s3.us-east-1.amazonaws.com",
            "DNS:api.payments.test",
            "IP:127.0.0.1",
        ],
    );
    (certs.ca, certs.cert, certs.key)
}

/// The function's and the extension's environment for boto3 through faultline to `moto`, with
/// `ca` trusted by the extension.
fn aws_env(env: &mut LambdaEnv, moto: &MotoServer, ca: &Path) {
    let services = faultline_schema::aws_services::parse_list(SERVICES).expect("services");
    let mut hosts: Vec<String> = services
        .iter()
        .map(|s| format!("{}.us-east-1.amazonaws.com", s.prefix))
        .collect();
    hosts.push(format!("{BUCKET}.s3.us-east-1.amazonaws.com"));
    let connect_to: Vec<String> = hosts
        .iter()
        .map(|host| format!("{host}:443:127.0.0.1:{}", moto.port))
        .collect();
    env.set("FAULTLINE_CA_FILE", ca.to_string_lossy())
        .set("FAULTLINE_CONNECT_TO", connect_to.join(","));
    let proxy = env.dependency_proxy_url();
    env.set("HTTP_PROXY", proxy.clone())
        .set("HTTPS_PROXY", proxy);
    // The variables and URLs `deployer enable --aws-services` sets.
    for service in &services {
        env.set(
            &service.endpoint_variable(),
            service.origination_url("us-east-1"),
        );
    }
}

/// Moto over TLS with a certificate from the CA `server_ca`, the extension trusting the CA
/// `trusted_ca` (the same one, or another), `config` as its config, and the Python runtime.
struct Setup {
    emulator: Emulator,
    moto: MotoServer,
    /// The CA of moto's certificate.
    ca: PathBuf,
    extension: Proc,
    runtime: Proc,
    _env: LambdaEnv,
}

/// The function's runtime and SDK.
#[derive(Clone, Copy)]
enum Function {
    /// boto3 on awslambdaric.
    Python,
    /// The AWS SDK for JavaScript v3 on aws-lambda-ric (Node.js 24).
    Node,
}

impl Setup {
    async fn start(config: &str, server_ca: &str, trusted_ca: &str) -> Setup {
        Setup::start_with(config, server_ca, trusted_ca, Function::Python).await
    }

    async fn start_with(
        config: &str,
        server_ca: &str,
        trusted_ca: &str,
        function: Function,
    ) -> Setup {
        let emulator = Emulator::start().await;
        let mut env = LambdaEnv::new(&emulator.runtime_api());
        let (moto_ca, cert, key) = tls_material(env.dir.path(), server_ca);
        let ca = if trusted_ca == server_ca {
            moto_ca.clone()
        } else {
            tls_material(env.dir.path(), trusted_ca).0
        };
        let moto = MotoServer::start_tls(&cert, &key).await;
        aws_env(&mut env, &moto, &ca);
        env.config_file(config);
        let extension = start_extension(&env, &emulator).await;
        let runtime = match function {
            Function::Python => env.python(true),
            Function::Node => {
                // aws-lambda-ric 4.0.2 does not echo the invocation id (node_runtime.rs).
                emulator.accept_answers_without_invocation_id();
                env.node(true)
            }
        };
        Setup {
            emulator,
            moto,
            ca: moto_ca,
            extension,
            runtime,
            _env: env,
        }
    }

    async fn run(&self, calls: Value) -> Vec<Value> {
        run(&self.emulator, &self.runtime, &self.extension, calls).await
    }
}

/// A DynamoDB table keyed by `id`.
fn table(name: &str) -> Value {
    json!({
        "TableName": name,
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST"
    })
}

async fn run(emulator: &Emulator, runtime: &Proc, extension: &Proc, calls: Value) -> Vec<Value> {
    let payload = json!({"op": "aws", "calls": calls}).to_string();
    let outcome = invoke_or_show(
        emulator,
        runtime,
        extension,
        payload,
        Duration::from_secs(60),
    )
    .await;
    match outcome {
        Outcome::Response { body, .. } => {
            let answer: Value = serde_json::from_slice(&body).expect("JSON");
            answer["results"].as_array().cloned().expect("results")
        }
        other => panic!("the handler failed: {other:?}\n{}", runtime.log_text()),
    }
}

fn call(service: &str, op: &str, args: Value) -> Value {
    json!({"service": service, "op": op, "args": args})
}

const EXPERIMENTS: &str = r#"
experiments:
  - name: throttle-orders
    flag: aws-dynamodb
    selector: {operation: PutItem, resource: orders}
    effect: {awsError: {code: ProvisionedThroughputExceededException, message: "slow down, orders"}}
  - name: slow-reads
    flag: aws-dynamodb
    selector: {operation: GetItem}
    effect: {latency: 400}
  - name: s3-slow-down
    flag: aws-s3
    selector: {operation: PutObject}
    effect: {awsError: {code: SlowDown}}
  - name: queue-gone
    flag: aws-sqs
    selector: {operation: SendMessage}
    effect: {awsError: {code: QueueDoesNotExist, message: "no such queue"}}
  - name: metrics-throttled
    flag: aws-monitoring
    selector: {operation: PutMetricData}
    effect: {awsError: {code: ThrottlingException}}
"#;

/// The SDK parsed the throttling error, retried it three times (its standard mode's default
/// of four attempts, as the handlers configure it) and raised it; faultline saw every attempt.
fn assert_throttled_four_times(put: &Value, extension: &Proc) {
    assert_eq!(
        put["error"], "ProvisionedThroughputExceededException",
        "{put}"
    );
    assert_eq!(put["status"], 400);
    assert_eq!(put["retries"], 3, "{put}");
    assert_eq!(
        audited(extension, "throttle-orders").len(),
        4,
        "faultline saw exactly the SDK's four attempts"
    );
}

fn audited(extension: &Proc, experiment: &str) -> Vec<Value> {
    extension
        .logs()
        .iter()
        .filter(|line| line.contains("\"fault-injected\""))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["experiment"] == experiment)
        .collect()
}

#[tokio::test]
async fn aws_errors_reach_boto3_in_each_protocol_through_tls_origination() {
    let setup = Setup::start(EXPERIMENTS, "trusted", "trusted").await;
    let extension = &setup.extension;
    let results = setup
        .run(json!([
            call("dynamodb", "create_table", table("orders")),
            call("dynamodb", "put_item", json!({"TableName": "orders", "Item": {"id": {"S": "1"}}})),
            call("dynamodb", "get_item", json!({"TableName": "orders", "Key": {"id": {"S": "1"}}})),
            call("sqs", "create_queue", json!({"QueueName": "orders"})),
            call("sqs", "send_message", json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/orders", "MessageBody": "x"})),
            call("s3", "create_bucket", json!({"Bucket": BUCKET})),
            call("s3", "put_object", json!({"Bucket": BUCKET, "Key": "k", "Body": "v"})),
            call("s3", "get_object", json!({"Bucket": BUCKET, "Key": "k"})),
            call("cloudwatch", "put_metric_data", json!({"Namespace": "shop", "MetricData": [{"MetricName": "orders", "Value": 1.0}]})),
        ]))
        .await;
    let [
        create,
        put,
        get,
        queue,
        send,
        bucket,
        put_object,
        get_object,
        metrics,
    ] = results.as_slice()
    else {
        panic!("nine results: {results:?}");
    };
    // Untouched calls reach moto through the originated TLS connection.
    assert!(create.get("ok").is_some(), "{create}");
    assert!(queue.get("ok").is_some(), "{queue}");
    assert!(bucket.get("ok").is_some(), "{bucket}");
    // awsJson (DynamoDB): boto3 parses the code, retries it as throttling, then raises it.
    // `retries: {max_attempts: 3}` in a botocore Config counts retries: four attempts.
    assert_throttled_four_times(put, extension);
    // GetItem is untouched but for its latency (the item never arrived: PutItem failed).
    assert!(get.get("ok").is_some(), "{get}");
    assert!(get["ms"].as_f64().unwrap() >= 400.0, "{get}");
    // SQS in its JSON protocol.
    assert_eq!(send["error"], "QueueDoesNotExist", "{send}");
    // restXml (S3): SlowDown, a 503.
    assert_eq!(put_object["error"], "SlowDown", "{put_object}");
    assert_eq!(put_object["status"], 503);
    assert_eq!(get_object["error"], "NoSuchKey", "{get_object}");
    // Smithy RPC v2 CBOR (CloudWatch, as this botocore speaks it): the CBOR error body.
    assert_eq!(metrics["error"], "ThrottlingException", "{metrics}");
    let line = &audited(extension, "metrics-throttled")[0];
    assert_eq!(line["operation"], "PutMetricData", "{line}");
    // The audit line names the AWS call.
    let line = &audited(extension, "s3-slow-down")[0];
    assert_eq!(line["labels"]["aws_service"], "s3");
    assert_eq!(line["aws_service"], "s3");
    assert_eq!(line["operation"], "PutObject");
    let dimensions = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
    assert!(
        dimensions
            .as_array()
            .is_some_and(|sets| sets.contains(&json!(["aws_service", "operation"]))),
        "{dimensions}"
    );
    assert_eq!(line["effect"]["type"], "awsError");
    assert_eq!(line["effect"]["code"], "SlowDown");
}

/// With no experiment, calls go through the originated TLS connection and come back as moto
/// answered them: a round trip of an item.
#[tokio::test]
async fn with_no_experiment_aws_calls_round_trip_through_tls_origination() {
    let setup = Setup::start("experiments: []\n", "trusted", "trusted").await;
    let calls = |table_name: &str| {
        json!([
            call("dynamodb", "create_table", table(table_name)),
            call(
                "dynamodb",
                "put_item",
                json!({"TableName": table_name, "Item": {"id": {"S": "7"}, "v": {"S": "seven"}}})
            ),
            call(
                "dynamodb",
                "get_item",
                json!({"TableName": table_name, "Key": {"id": {"S": "7"}}})
            ),
        ])
    };
    let originated = setup.run(calls("plain")).await;
    assert_eq!(
        originated[2]["ok"]["Item"],
        json!({"id": {"S": "7"}, "v": {"S": "seven"}}),
        "{originated:?}"
    );

    // The same calls from boto3 doing HTTPS itself to the same moto (its global endpoint, the
    // CA trusted through AWS_CA_BUNDLE), no faultline: the same answers.
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set(
        "AWS_ENDPOINT_URL",
        format!("https://127.0.0.1:{}", setup.moto.port),
    )
    .set("AWS_CA_BUNDLE", setup.ca.to_string_lossy());
    let runtime = env.python(false);
    let payload = json!({"op": "aws", "calls": calls("direct")}).to_string();
    let outcome = emulator
        .try_invoke(payload, Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()));
    let direct = outcome.json()["results"].clone();
    for step in [1, 2] {
        assert_eq!(
            originated[step]["ok"], direct[step]["ok"],
            "call {step}: through origination {originated:?}, direct {direct}"
        );
    }
    let status = |table: &Value| table["ok"]["TableDescription"]["TableStatus"].clone();
    assert_eq!(status(&originated[0]), status(&direct[0]));
}

/// A server whose certificate the extension cannot verify is never sent the request: the SDK
/// gets faultline's 502 naming the verification failure, and the failure is logged.
#[tokio::test]
async fn an_unverifiable_certificate_stops_the_call_with_a_502() {
    let setup = Setup::start("experiments: []\n", "untrusted", "trusted").await;
    let extension = &setup.extension;
    let results = setup
        .run(json!([call("dynamodb", "list_tables", json!({}))]))
        .await;
    let text = results[0].to_string();
    assert!(
        text.contains("502") || text.contains("BadGateway"),
        "{text}"
    );
    assert!(
        extension
            .log_text()
            .contains("TLS origination to dynamodb.us-east-1.amazonaws.com:443 failed")
            && extension.log_text().contains("UnknownIssuer"),
        "{}",
        extension.log_text()
    );
}

/// The AWS SDK for JavaScript v3 in a Node.js 24 function: the wrapper preloads faultline's
/// agent patch, so the SDK's own agent sends `http://dynamodb…:443` through the dependency
/// proxy, and the same experiments act on it as on boto3.
#[tokio::test]
async fn aws_errors_reach_the_javascript_sdk_through_tls_origination() {
    let setup = Setup::start_with(EXPERIMENTS, "trusted", "trusted", Function::Node).await;
    let extension = &setup.extension;
    let calls = json!([
        {"op": "create_table", "args": table("orders")},
        {"op": "put_item", "args": {"TableName": "orders", "Item": {"id": {"S": "1"}}}},
        {"op": "create_table", "args": table("plain")},
        {"op": "put_item", "args": {"TableName": "plain", "Item": {"id": {"S": "7"}}}},
        {"op": "get_item", "args": {"TableName": "plain", "Key": {"id": {"S": "7"}}}},
    ]);
    let results = setup.run(calls).await;
    let [create, put, _, plain_put, get] = results.as_slice() else {
        panic!("five results: {results:?}");
    };
    assert!(create.get("ok").is_some(), "{create}");
    assert_throttled_four_times(put, extension);
    assert!(plain_put.get("ok").is_some(), "{plain_put}");
    assert_eq!(get["ok"]["Item"], json!({"id": {"S": "7"}}), "{get}");
    assert!(get["ms"].as_f64().unwrap() >= 400.0, "{get}");
}

/// A third-party HTTPS API whose base URL the function reads from its environment, rewritten
/// as `deployer enable --tls-origination-env PAYMENTS_URL` rewrites it: faultline originates TLS
/// to the TLS-only server (certificate verified) and answers one path with a 429.
#[tokio::test]
async fn a_third_party_api_named_in_the_environment_answers_wrong_through_tls_origination() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let (ca, cert, key) = tls_material(env.dir.path(), "payments");
    let port = crate::support::free_port();
    let _server = crate::dependency_proxy::https_upstream(
        port,
        &cert.to_string_lossy(),
        &key.to_string_lossy(),
    )
    .await;
    let proxy = env.dependency_proxy_url();
    env.set("FAULTLINE_CA_FILE", ca.to_string_lossy())
        .set(
            "FAULTLINE_CONNECT_TO",
            format!("api.payments.test:443:127.0.0.1:{port}"),
        )
        .set("HTTP_PROXY", proxy.clone())
        .set("HTTPS_PROXY", proxy)
        .set("PAYMENTS_URL", "http://api.payments.test:443/v1")
        .set("FAULTLINE_TLS_ORIGINATION_ENV", "PAYMENTS_URL");
    env.config_file(
        r#"
experiments:
  - name: payments-limited
    flag: dependency-api.payments.test
    selector: {path: /v1/limited}
    effect: {httpResponse: {code: 429, headers: {retry-after: "7"}}}
"#,
    );
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let payload =
        json!({"op": "outbound", "url_env": "PAYMENTS_URL", "paths": ["/ok", "/limited"]});
    let outcome = invoke_or_show(
        &emulator,
        &runtime,
        &extension,
        payload.to_string(),
        Duration::from_secs(30),
    )
    .await;
    let results = outcome.json()["results"].clone();
    assert_eq!(
        results[0],
        json!({"status": 200, "body": "hello over tls /v1/ok"}),
        "the TLS-only server answered through origination: {results}"
    );
    assert_eq!(
        results[1],
        json!({"status": 429, "retry_after": "7"}),
        "{results}"
    );
}

/// Idle, the function's SDK reaches AWS over HTTPS itself: disabled, with bad settings, and with
/// no extension at all, the wrapper drops the origination endpoint, so boto3 falls back to its
/// endpoint (here moto's TLS port, as the function's own global `AWS_ENDPOINT_URL`, trusted
/// through `AWS_CA_BUNDLE`). Had the plain-HTTP endpoint stayed, the call would have gone to
/// `dynamodb.us-east-1.amazonaws.com:443`, which does not resolve here, and failed.
#[tokio::test]
async fn idle_functions_reach_aws_over_https_themselves() {
    for case in ["disabled", "bad settings", "no extension"] {
        let emulator = Emulator::start().await;
        let mut env = LambdaEnv::new(&emulator.runtime_api());
        let (ca, cert, key) = tls_material(env.dir.path(), "idle");
        let moto = MotoServer::start_tls(&cert, &key).await;
        aws_env(&mut env, &moto, &ca);
        env.set(
            "AWS_ENDPOINT_URL",
            format!("https://127.0.0.1:{}", moto.port),
        )
        .set("AWS_CA_BUNDLE", ca.to_string_lossy());
        env.config_file(EXPERIMENTS);
        let _extension = match case {
            "disabled" => {
                env.set("GREMLIN_LAMBDA_ENABLED", "false");
                Some(start_extension(&env, &emulator).await)
            }
            "bad settings" => {
                env.set("GREMLIN_LAMBDA_API_PROXY_PORT", "not a port");
                Some(start_extension(&env, &emulator).await)
            }
            _ => None,
        };
        let runtime = env.python(true);
        let calls = json!([
            call("dynamodb", "create_table", table("orders")),
            call(
                "dynamodb",
                "put_item",
                json!({"TableName": "orders", "Item": {"id": {"S": "1"}}})
            ),
            call(
                "dynamodb",
                "get_item",
                json!({"TableName": "orders", "Key": {"id": {"S": "1"}}})
            ),
        ]);
        let outcome = emulator
            .try_invoke(
                json!({"op": "aws", "calls": calls}).to_string(),
                Duration::from_secs(60),
            )
            .await
            .unwrap_or_else(|| panic!("{case}: no answer: {}", runtime.log_text()));
        let results = outcome.json()["results"].clone();
        assert_eq!(
            results[2]["ok"]["Item"],
            json!({"id": {"S": "1"}}),
            "{case}: the throttling experiment does not apply and moto answered over TLS: {results}"
        );
    }
}
