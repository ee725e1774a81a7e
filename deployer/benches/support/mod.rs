//! What the deployer benchmarks share: the deployer run against moto server with given
//! credentials, empty packages for the layer and the functions.

#![allow(dead_code)]

use std::time::Instant;

/// An empty zip archive: the code of the functions the benchmarks make.
pub const EMPTY_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// A dist folder with a layer zip for each architecture (empty archives): what `init --dist`
/// publishes.
pub fn layer_dist() -> tempfile::TempDir {
    let dist = tempfile::tempdir().expect("tempdir");
    for arch in ["x86_64", "arm64"] {
        std::fs::write(
            dist.path().join(format!("faultline-layer-{arch}.zip")),
            EMPTY_ZIP,
        )
        .expect("zip");
    }
    dist
}

/// Credentials: an access key, and a session token for assumed roles.
#[derive(Clone)]
pub struct Keys {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl Keys {
    /// The first account's root key in moto.
    pub fn testing() -> Keys {
        Keys {
            id: "testing".into(),
            secret: "testing".into(),
            token: None,
        }
    }
}

/// Runs the deployer against moto at `endpoint` as `keys`, in us-east-1 unless `args` say
/// otherwise; its stdout and how long it took. A failure ends the benchmark.
pub fn deployer(endpoint: &str, keys: &Keys, args: &[&str]) -> (String, f64) {
    let started = Instant::now();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_deployer"));
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &keys.id)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("AWS_SESSION_TOKEN");
    if let Some(token) = &keys.token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    let output = command.output().expect("run deployer");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "deployer {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        elapsed,
    )
}
