//! TLS origination benchmark, one run, ratios against a baseline measured in the same run.
//!
//! A 1 KiB DynamoDB-shaped PutItem (awsJson 1.0) on one kept-alive connection each:
//!
//! * direct: the client does TLS itself to a local TLS server (rustls, RSA 2048 certificate from
//!   a CA the bench makes, as an AWS SDK does to the real endpoint);
//! * originated: the client sends plain HTTP to faultline's dependency proxy
//!   (`http://dynamodb.us-east-1.amazonaws.com:443`, as `AWS_ENDPOINT_URL_DYNAMODB` makes an SDK
//!   do), and faultline opens TLS to the same server (`FAULTLINE_CONNECT_TO`), verifying its
//!   certificate (`FAULTLINE_CA_FILE`).
//!
//! faultline runs with one experiment on another service (`aws-sqs`), so every call is named
//! (its body read) and looked at, as in a rehearsal of something else. Blocks of each path are
//! interleaved and their order rotated. CPU per call is the client's thread plus the faultline
//! process (the server's work is the same in both and left out), from /proc schedstat.
//! `cargo bench --bench origination` writes target/bench-origination.md; without `--bench` (cargo
//! test) it does a quick smoke pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: a failure is the report

mod support;

use bytes::Bytes;
use chrono::Utc;
use faultline_extension::net::client::full_body;
use faultline_testkit::{free_port, wait_port};
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Upstream, cpu_time_ns, micros, percentile, repo_root, start_extension};
use tokio::net::TcpStream;

const HOST: &str = "dynamodb.us-east-1.amazonaws.com";

/// A CA and, signed by it, an RSA 2048 certificate for the DynamoDB host: (CA, cert, key).
fn tls_material(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let certs = faultline_testkit::tls::test_certs(dir, "bench", &[&format!("DNS:{HOST}")]);
    (certs.ca, certs.cert, certs.key)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server on its own thread answering every PutItem as DynamoDB does (`{}`).
fn start_tls_server(cert: &Path, key: &Path) -> SocketAddr {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("cert")
        .map(|c| c.expect("cert"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    support::serve_on_thread(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = service_fn(|request: http::Request<hyper::body::Incoming>| async move {
                let _ = request.into_body().collect().await;
                Ok::<_, Infallible>(
                    http::Response::builder()
                        .header("content-type", "application/x-amz-json-1.0")
                        .header("x-amzn-requestid", "bench")
                        .body(full_body("{}"))
                        .unwrap_or_default(),
                )
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        }
    })
}

type Sender = hyper::client::conn::http1::SendRequest<faultline_extension::net::client::ProxyBody>;

/// A kept-alive connection doing TLS itself to `server`, verifying against `ca`.
async fn direct_connection(server: SocketAddr, ca: &Path) -> Sender {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(cert.expect("ca")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let stream = TcpStream::connect(server).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(HOST).expect("name"), stream)
        .await
        .expect("TLS handshake");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// A kept-alive plain connection to the dependency proxy.
async fn proxied_connection(proxy: SocketAddr) -> Sender {
    let stream = TcpStream::connect(proxy).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// A PutItem with a 1 KiB body: origin form direct, absolute form (`http://…:443`) proxied.
fn put_item(
    body: &Bytes,
    originated: bool,
) -> http::Request<faultline_extension::net::client::ProxyBody> {
    let (uri, host) = if originated {
        (format!("http://{HOST}:443/"), format!("{HOST}:443"))
    } else {
        ("/".to_string(), HOST.to_string())
    };
    http::Request::post(uri)
        .header("host", host)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .body(full_body(body.clone()))
        .expect("request")
}

/// `n` calls on `sender`: their times, and the CPU the client thread spent on them.
async fn calls(
    sender: &mut Sender,
    body: &Bytes,
    originated: bool,
    n: usize,
) -> (Vec<Duration>, Duration) {
    let mut times = Vec::with_capacity(n);
    let cpu_before = thread_cpu();
    for _ in 0..n {
        let started = Instant::now();
        let response = sender
            .send_request(put_item(body, originated))
            .await
            .expect("response");
        assert_eq!(response.status(), 200, "PutItem answered");
        let _ = response.into_body().collect().await.expect("body");
        times.push(started.elapsed());
    }
    (times, thread_cpu().saturating_sub(cpu_before))
}

/// CPU time of the calling thread (the client's runtime), from /proc/thread-self/schedstat.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// A 1 KiB PutItem body.
fn body() -> Bytes {
    let padding = "x".repeat(1024 - 120);
    let json = format!(
        r#"{{"TableName":"orders","Item":{{"id":{{"S":"order-1"}},"note":{{"S":"{padding}"}}}}}}"#
    );
    Bytes::from(json)
}

fn main() {
    support::floor::run_if_floor();
    let full = std::env::args().any(|a| a == "--bench");
    let (total, block) = if full { (6_000, 500) } else { (60, 30) };

    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = tls_material(dir.path());
    let server = start_tls_server(&cert, &key);
    let config = dir.path().join("faultline.yaml");
    std::fs::write(
        &config,
        "experiments:\n  - {name: other, flag: aws-sqs, selector: {operation: SendMessage}, effect: {latency: 100}}\n",
    )
    .expect("config");
    let dependency_port = free_port();
    let runtime_api = support::start_upstream(Arc::new(Upstream::with_payload(16)));
    let (extension, _) = start_extension(
        runtime_api,
        &[
            ("GREMLIN_CONFIG_FILE", config.to_string_lossy().into_owned()),
            (
                "FAULTLINE_DEPENDENCY_PROXY_PORT",
                format!("127.0.0.1:{dependency_port}"),
            ),
            ("FAULTLINE_CA_FILE", ca.to_string_lossy().into_owned()),
            (
                "FAULTLINE_CONNECT_TO",
                format!("{HOST}:443:127.0.0.1:{}", server.port()),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", "orders".to_string()),
        ],
    );
    let pid = extension.child.id();
    let proxy: SocketAddr = format!("127.0.0.1:{dependency_port}")
        .parse()
        .expect("proxy");
    let body = body();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(async {
        wait_port(dependency_port, "dependency proxy").await;
        let mut direct = direct_connection(server, &ca).await;
        let mut originated = proxied_connection(proxy).await;
        // Warm-up: handshakes, pools, allocator.
        calls(&mut direct, &body, false, 100).await;
        calls(&mut originated, &body, true, 100).await;

        let (mut direct_times, mut originated_times) = (Vec::new(), Vec::new());
        let (mut direct_cpu, mut originated_client_cpu, mut faultline_cpu, mut faultline_idle) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for round in 0..total / block {
            for leg in 0..2 {
                let is_originated = (leg + round) % 2 == 1;
                let before = cpu_time_ns(pid).unwrap_or_default();
                if is_originated {
                    let (times, cpu) = calls(&mut originated, &body, true, block).await;
                    originated_times.extend(times);
                    originated_client_cpu += cpu;
                    faultline_cpu += cpu_time_ns(pid).unwrap_or_default().saturating_sub(before);
                } else {
                    let (times, cpu) = calls(&mut direct, &body, false, block).await;
                    direct_times.extend(times);
                    direct_cpu += cpu;
                    faultline_idle += cpu_time_ns(pid).unwrap_or_default().saturating_sub(before);
                }
            }
        }
        direct_times.sort();
        originated_times.sort();
        let n = direct_times.len() as f64;
        let per_call = |cpu: Duration| cpu.as_secs_f64() * 1e6 / n;
        let (d50, d99) = (percentile(&direct_times, 0.5), percentile(&direct_times, 0.99));
        let (o50, o99) = (
            percentile(&originated_times, 0.5),
            percentile(&originated_times, 0.99),
        );
        let direct_total = per_call(direct_cpu);
        let originated_total = per_call(originated_client_cpu) + per_call(faultline_cpu);
        let mut out = String::from("# faultline TLS origination benchmark\n\n");
        let _ = writeln!(
            out,
            "Run: {} on {} cores. A 1 KiB DynamoDB PutItem on one kept-alive connection, {} calls \
             each, blocks of {block} interleaved and rotated.\n",
            Utc::now().format("%Y-%m-%d %H:%M UTC"),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            direct_times.len(),
        );
        let _ = writeln!(
            out,
            "| path | p50 µs | p99 µs | client CPU µs/call | faultline CPU µs/call | total CPU µs/call |\n\
             |---|---|---|---|---|---|\n\
             | direct TLS from the client | {:.0} | {:.0} | {:.1} | ({:.1} idle) | {:.1} |\n\
             | plain HTTP, TLS originated by faultline | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} |\n",
            micros(d50),
            micros(d99),
            direct_total,
            per_call(faultline_idle),
            direct_total,
            micros(o50),
            micros(o99),
            per_call(originated_client_cpu),
            per_call(faultline_cpu),
            originated_total,
        );
        let _ = writeln!(
            out,
            "Added p50: **{:.0} µs** (goal ≤ 150), added p99: {:.0} µs. Total CPU per call: \
             **{:.2} ×** direct (goal ≤ 1.1).\n",
            micros(o50.saturating_sub(d50)),
            micros(o99.saturating_sub(d99)),
            originated_total / direct_total.max(1e-9),
        );
        out
    });
    drop(extension);
    print!("{report}");
    if full {
        let out = repo_root().join("target/bench-origination.md");
        std::fs::write(&out, &report).expect("write report");
        println!("report written to {}", out.display());
    }
}
