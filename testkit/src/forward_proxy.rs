//! A plain HTTP forward proxy on loopback that counts what it carries: a stand-in for a
//! corporate proxy in the deployer's tests. Requests come in absolute form
//! (`GET http://host:port/path`) and are sent on as they are, with a direct client.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;

type Body = http_body_util::combinators::BoxBody<hyper::body::Bytes, hyper::Error>;

/// The proxy, running until dropped.
pub struct ForwardProxy {
    /// `http://127.0.0.1:PORT`, for HTTPS_PROXY.
    pub url: String,
    carried: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ForwardProxy {
    pub async fn start() -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let carried = Arc::new(AtomicUsize::new(0));
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let counter = Arc::clone(&carried);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (client, counter) = (client.clone(), Arc::clone(&counter));
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<Incoming>| {
                        let (client, counter) = (client.clone(), Arc::clone(&counter));
                        async move {
                            counter.fetch_add(1, Ordering::SeqCst);
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
                        .await;
                });
            }
        });
        ForwardProxy { url, carried, task }
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
