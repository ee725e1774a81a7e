//! The dependency proxy with real clients (curl, Python urllib and requests, boto3) through
//! HTTP_PROXY/HTTPS_PROXY, against a local HTTP server, a local HTTPS server with a certificate
//! generated here, and moto server.

use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::{LambdaEnv, Moto, Proc, free_port, functions_dir, venv_bin};
use axum::Router;
use axum::routing::get;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// A plain HTTP server on a free loopback port; answers `hello from upstream <path>`.
pub(crate) async fn http_upstream() -> u16 {
    let app = Router::new().fallback(get(|uri: http::Uri| async move {
        format!("hello from upstream {}", uri.path())
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A self-signed certificate for localhost and 127.0.0.1, made with openssl.
pub(crate) fn certificate(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl could not make a certificate");
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

/// The local HTTPS server (Python's http.server behind ssl).
pub(crate) async fn https_upstream(port: u16, cert: &str, key: &str) -> Proc {
    let mut command = Command::new(venv_bin("python"));
    command
        .arg(functions_dir().join("https_server.py"))
        .arg(port.to_string())
        .args([cert, key]);
    let server = Proc::spawn(command);
    server.wait_port(port, "https server").await;
    server
}

fn proxy_env(command: &mut Command, proxy: &str) {
    command
        .env("HTTP_PROXY", proxy)
        .env("HTTPS_PROXY", proxy)
        .env("http_proxy", proxy)
        .env("https_proxy", proxy)
        .env("NO_PROXY", "")
        .env("no_proxy", "")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

async fn curl(proxy: &str, args: &[&str]) -> (Output, Duration) {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--max-time", "20", "--proxy", proxy])
        .args(args);
    proxy_env(&mut command, proxy);
    let started = Instant::now();
    let output = command.output().await.expect("run curl");
    (output, started.elapsed())
}

/// Runs tests/functions/clients.py and returns its JSON line.
async fn python_client(proxy: &str, args: &[&str]) -> Value {
    let mut command = Command::new(venv_bin("python"));
    command.arg(functions_dir().join("clients.py")).args(args);
    proxy_env(&mut command, proxy);
    let output = command.output().await.expect("run python client");
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "client printed no JSON: {text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn real_clients_through_the_dependency_proxy() {
    let http_port = http_upstream().await;
    let tls_port = free_port();
    let moto = Moto::start().await;
    let moto_port = moto
        .endpoint
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let (cert, key) = certificate(env.dir.path());
    let _tls = https_upstream(tls_port, &cert, &key).await;
    env.config_file(&format!(
        r#"
experiments:
  - name: slow-everything
    flag: egress
    selector: {{path: /slow}}
    effect: {{latency: 300}}
  - name: upstream-down
    flag: dependency-127.0.0.1
    selector: {{path: /down}}
    effect: {{exception: {{message: "upstream down", errorType: UpstreamDown}}}}
  - name: upstream-reset
    flag: dependency-127.0.0.1
    selector: {{path: /reset}}
    effect: {{exception: {{message: reset, errorType: ConnectionReset}}}}
  - name: throttled
    flag: dependency-127.0.0.1
    selector: {{path: /forged, method: GET}}
    effect: {{httpResponse: {{code: 429, body: c2xvdyBkb3du, headers: {{retry-after: "3"}}}}}}
  - name: tls-refused
    flag: dependency-127.0.0.1
    selector: {{scheme: https, port: "{tls_port}"}}
    effect: {{httpResponse: {{code: 503}}}}
  - name: slow-aws
    flag: dependency-127.0.0.1
    selector: {{port: "{moto_port}"}}
    effect: {{latency: 300}}
"#
    ));
    let extension = start_extension(&env, &emulator).await;
    let proxy = env.dependency_proxy_url();
    let upstream = format!("http://127.0.0.1:{http_port}");

    // Untouched traffic: curl, urllib and requests get the upstream's answer.
    let (out, _) = curl(&proxy, &[&format!("{upstream}/hello")]).await;
    assert_eq!(text(&out), "hello from upstream /hello", "{out:?}");
    let answer = python_client(&proxy, &["urllib", &format!("{upstream}/hello")]).await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["body"], "hello from upstream /hello");
    let answer = python_client(&proxy, &["requests", &format!("{upstream}/hello")]).await;
    assert_eq!(answer["body"], "hello from upstream /hello", "{answer}");

    // HTTPS through CONNECT, verified end to end against our certificate (no interception).
    let tls_url = format!("https://localhost:{tls_port}/secure");
    let (out, _) = curl(&proxy, &["--cacert", &cert, &tls_url]).await;
    assert_eq!(text(&out), "hello over tls /secure", "{out:?}");
    let answer = python_client(&proxy, &["requests", &tls_url, &cert]).await;
    assert_eq!(answer["body"], "hello over tls /secure", "{answer}");

    // egress latency before connecting.
    let (out, took) = curl(&proxy, &[&format!("{upstream}/slow")]).await;
    assert_eq!(text(&out), "hello from upstream /slow");
    assert!(took >= Duration::from_millis(300), "{took:?}");

    // exception: 502 with the message.
    let answer = python_client(&proxy, &["urllib", &format!("{upstream}/down")]).await;
    assert_eq!(answer["status"], 502, "{answer}");
    assert_eq!(answer["body"], "upstream down");

    // exception with errorType ConnectionReset: the connection is reset, no answer.
    let (out, _) = curl(&proxy, &[&format!("{upstream}/reset")]).await;
    assert!(
        matches!(out.status.code(), Some(52 | 56)),
        "curl should see a reset: {out:?}"
    );
    let answer = python_client(&proxy, &["requests", &format!("{upstream}/reset")]).await;
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("Connection")),
        "{answer}"
    );

    // httpResponse on plain HTTP: answered directly.
    let answer = python_client(&proxy, &["requests", &format!("{upstream}/forged")]).await;
    assert_eq!(answer["status"], 429, "{answer}");
    assert_eq!(answer["body"], "slow down");
    let (out, _) = curl(&proxy, &["-i", &format!("{upstream}/forged")]).await;
    assert!(
        text(&out).to_ascii_lowercase().contains("retry-after: 3"),
        "{out:?}"
    );

    // httpResponse on HTTPS: the CONNECT is refused with the code.
    let (out, _) = curl(
        &proxy,
        &["--cacert", &cert, &format!("https://127.0.0.1:{tls_port}/")],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("503"),
        "{out:?}"
    );

    // boto3 calling moto through the proxy is matched by dependency-127.0.0.1.
    moto.create_secret("through-the-proxy", "x").await;
    let answer = python_client(&proxy, &["boto3", &moto.endpoint]).await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(
        answer["body"]
            .as_str()
            .is_some_and(|b| b.contains("through-the-proxy")),
        "{answer}"
    );
    assert!(
        answer["elapsed_ms"].as_f64().unwrap_or(0.0) >= 300.0,
        "{answer}"
    );

    // Audit: one JSON line per injected fault, with the dependency's labels.
    let audit: Vec<Value> = extension
        .logs()
        .iter()
        .filter(|l| l.contains("\"fault-injected\""))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let aws = audit
        .iter()
        .find(|line| line["experiment"] == "slow-aws")
        .unwrap_or_else(|| panic!("no audit line for slow-aws: {audit:?}"));
    assert_eq!(aws["flag"], "dependency-127.0.0.1");
    assert_eq!(aws["labels"]["host"], "127.0.0.1");
    assert_eq!(aws["labels"]["port"], moto_port.as_str());
    assert_eq!(aws["labels"]["scheme"], "http");
    assert_eq!(aws["labels"]["method"], "POST");
    let refused = audit
        .iter()
        .find(|line| line["experiment"] == "tls-refused")
        .expect("tls-refused audited");
    assert_eq!(refused["labels"]["scheme"], "https");
    assert_eq!(refused["effect"]["code"], 503);
}

#[tokio::test]
async fn the_proxy_answers_unreachable_targets_and_bad_requests_clearly() {
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let _extension = start_extension(&env, &emulator).await;
    let proxy = env.dependency_proxy_url();
    let dead = free_port();
    let (out, _) = curl(&proxy, &["-i", &format!("http://127.0.0.1:{dead}/")]).await;
    let answer = text(&out);
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(answer.contains("cannot reach 127.0.0.1"), "{answer}");
    // Not a proxy request: said so.
    let direct = proxy.replace("http://", "");
    let (out, _) = curl("", &["-i", "--noproxy", "*", &format!("http://{direct}/")]).await;
    assert!(text(&out).starts_with("HTTP/1.1 400"), "{out:?}");
    // An oversized request head is refused, not buffered without bound.
    let big = format!("x-big: {}", "a".repeat(100 * 1024));
    let (out, _) = curl(
        &proxy,
        &["-i", "-H", &big, &format!("http://127.0.0.1:{dead}/")],
    )
    .await;
    assert!(text(&out).starts_with("HTTP/1.1 431"), "{out:?}");
}

/// The config's `https_proxy` (a corporate proxy) with a password holding `@` and `:`, written
/// percent-encoded as URLs require: plain HTTP and CONNECT both go through it, each with the
/// decoded credentials.
#[tokio::test]
async fn a_corporate_proxy_with_a_percent_encoded_password_carries_all_traffic() {
    let http_port = http_upstream().await;
    let tls_port = free_port();
    let corporate = faultline_testkit::forward_proxy::ForwardProxy::start().await;
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let (cert, key) = certificate(env.dir.path());
    let _tls = https_upstream(tls_port, &cert, &key).await;
    let corporate_at = corporate.url.trim_start_matches("http://");
    env.config_file(&format!(
        "https_proxy: http://svc:p%40ss%3Aw0rd@{corporate_at}\nexperiments: []\n"
    ));
    let _extension = start_extension(&env, &emulator).await;
    let proxy = env.dependency_proxy_url();

    let (out, _) = curl(&proxy, &[&format!("http://127.0.0.1:{http_port}/corp")]).await;
    assert_eq!(text(&out), "hello from upstream /corp", "{out:?}");
    let tls_url = format!("https://localhost:{tls_port}/secure");
    let (out, _) = curl(&proxy, &["--cacert", &cert, &tls_url]).await;
    assert_eq!(text(&out), "hello over tls /secure", "{out:?}");

    assert_eq!(corporate.carried(), 2, "one plain request and one CONNECT");
    // base64("svc:p@ss:w0rd")
    assert_eq!(
        corporate.authorizations(),
        vec!["Basic c3ZjOnBAc3M6dzByZA=="; 2]
    );
}
