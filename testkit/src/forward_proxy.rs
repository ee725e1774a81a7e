//! An HTTP forward proxy on loopback that counts what it carries: a stand-in for a corporate
//! proxy in the deployer's and the extension's tests. Plain requests come in absolute form
//! (`GET http://host:port/path`) and are sent on as they are, with a direct client; a CONNECT
//! opens a TCP tunnel. The `Proxy-Authorization` of every request is recorded.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

type Body = http_body_util::combinators::BoxBody<hyper::body::Bytes, hyper::Error>;

/// What a test runs while the proxy holds back the request it answers with a conflict.
pub type Meanwhile =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// One request answered with Lambda's 409 `ResourceConflictException` instead of being sent on:
/// the first whose method and path match, after `meanwhile` ran (the concurrent change).
struct Conflict {
    method: String,
    path: String,
    meanwhile: Meanwhile,
    fired: std::sync::atomic::AtomicBool,
}

impl Conflict {
    fn matches(&self, request: &hyper::Request<Incoming>) -> bool {
        request.method().as_str() == self.method
            && request.uri().path() == self.path
            && !self.fired.swap(true, Ordering::SeqCst)
    }
}

fn conflict_answer() -> hyper::Response<Body> {
    let body = r#"{"Type":"User","message":"The operation cannot be performed at this time. An update is in progress for resource"}"#;
    hyper::Response::builder()
        .status(409)
        .header("x-amzn-errortype", "ResourceConflictException")
        .header("content-type", "application/json")
        .body(
            http_body_util::Full::new(hyper::body::Bytes::from(body))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a 409")
}

/// The proxy, running until dropped.
pub struct ForwardProxy {
    /// `http://127.0.0.1:PORT`, for HTTPS_PROXY.
    pub url: String,
    carried: Arc<AtomicUsize>,
    authorizations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ForwardProxy {
    pub async fn start() -> ForwardProxy {
        ForwardProxy::run(None).await
    }

    /// Like [`ForwardProxy::start`], but the first `method` request for `path` runs `meanwhile`
    /// and is then answered 409 `ResourceConflictException`, as Lambda answers an update that
    /// races another.
    pub async fn start_with_conflict(
        method: &str,
        path: &str,
        meanwhile: Meanwhile,
    ) -> ForwardProxy {
        ForwardProxy::run(Some(Arc::new(Conflict {
            method: method.to_string(),
            path: path.to_string(),
            meanwhile,
            fired: std::sync::atomic::AtomicBool::new(false),
        })))
        .await
    }

    async fn run(conflict: Option<Arc<Conflict>>) -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let carried = Arc::new(AtomicUsize::new(0));
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let (counter, seen) = (Arc::clone(&carried), Arc::clone(&authorizations));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (client, counter, seen, conflict) = (
                    client.clone(),
                    Arc::clone(&counter),
                    Arc::clone(&seen),
                    conflict.clone(),
                );
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<Incoming>| {
                        let (client, counter, seen, conflict) = (
                            client.clone(),
                            Arc::clone(&counter),
                            Arc::clone(&seen),
                            conflict.clone(),
                        );
                        async move {
                            counter.fetch_add(1, Ordering::SeqCst);
                            if let Some(conflict) = conflict.filter(|c| c.matches(&request)) {
                                (conflict.meanwhile)().await;
                                return Ok::<_, Infallible>(conflict_answer());
                            }
                            if let Some(auth) = request
                                .headers()
                                .get(hyper::header::PROXY_AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                            {
                                seen.lock().expect("lock").push(auth.to_string());
                            }
                            if request.method() == hyper::Method::CONNECT {
                                return Ok::<_, Infallible>(tunnel(request));
                            }
                            let response: hyper::Response<Body> =
                                match client.request(request).await {
                                    Ok(response) => response.map(|b| b.boxed()),
                                    Err(err) => hyper::Response::builder()
                                        .status(502)
                                        .body(
                                            http_body_util::Full::new(hyper::body::Bytes::from(
                                                err.to_string(),
                                            ))
                                            .map_err(|never| match never {})
                                            .boxed(),
                                        )
                                        .expect("a 502"),
                                };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        ForwardProxy {
            url,
            carried,
            authorizations,
            task,
        }
    }

    /// The `Proxy-Authorization` values received so far, in order.
    pub fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().expect("lock").clone()
    }

    /// Requests carried so far.
    pub fn carried(&self) -> usize {
        self.carried.load(Ordering::SeqCst)
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers a CONNECT with 200 and copies bytes between the client and the target.
fn tunnel(request: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let empty = || {
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed()
    };
    let Some(authority) = request.uri().authority().map(|a| a.to_string()) else {
        return hyper::Response::builder()
            .status(400)
            .body(empty())
            .expect("a 400");
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        let Ok(mut target) = tokio::net::TcpStream::connect(authority).await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut target).await;
    });
    hyper::Response::new(empty())
}
