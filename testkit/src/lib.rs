//! Test support shared by the extension's and the deployer's tests: tools from the project's
//! Python venv, free loopback ports, and moto server (the AWS API emulator) started on one of
//! them and stopped when its handle is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

pub mod appconfig;
pub mod cloudwatch_feed;
pub mod forward_proxy;
pub mod lambda_emulator;
pub mod process;
pub mod tls;

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `program` in a folder of the PATH, if there.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A tool from the project's Python venv (FAULTLINE_VENV, default `.venv`), set up by
/// `make venv`. Missing tools fail the test: CI installs them, so a skip would hide a gap.
pub fn venv_bin(name: &str) -> PathBuf {
    tool_in_venv("FAULTLINE_VENV", ".venv", name)
}

/// checkov, which lives in a venv of its own (FAULTLINE_CHECKOV_VENV, default `.venv-checkov`)
/// because its pins clash with moto's; set up by `make venv`.
pub fn checkov_bin() -> PathBuf {
    tool_in_venv("FAULTLINE_CHECKOV_VENV", ".venv-checkov", "checkov")
}

/// A tool of the Node.js 24 runtime (FAULTLINE_NODE_RUNTIME, default `.node-runtime`): `bin/node`
/// or `node_modules/aws-lambda-ric/index.mjs`; set up by `make venv`.
pub fn node_runtime(path: &str) -> PathBuf {
    let dir = std::env::var_os("FAULTLINE_NODE_RUNTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".node-runtime"));
    let path = dir.join(path);
    assert!(
        path.exists(),
        "{} not found: run `make venv` (scripts/node-runtime.sh) first",
        path.display()
    );
    path
}

fn tool_in_venv(variable: &str, default: &str, name: &str) -> PathBuf {
    let venv = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(default));
    let path = venv.join("bin").join(name);
    assert!(
        path.exists(),
        "{} not found: run `make venv` (or set {variable}) first",
        path.display()
    );
    path
}

/// A command with only the environment Lambda gives a process: `vars`, plus PATH, HOME and
/// LANG of this one (to find the tools), in `dir`.
pub fn lambda_command<'a>(
    program: &Path,
    vars: impl IntoIterator<Item = (&'a String, &'a String)>,
    dir: &Path,
) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for key in ["PATH", "HOME", "LANG"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command.envs(vars).current_dir(dir);
    command
}

/// A function's layer version ARNs (in order) and environment, as Lambda (or moto) holds them.
pub async fn function_wiring(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<(Vec<String>, std::collections::BTreeMap<String, String>), String> {
    let config = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|err| {
            format!(
                "reading function {name}: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&err)
            )
        })?;
    let layers = config
        .layers()
        .iter()
        .filter_map(|l| l.arn().map(str::to_string))
        .collect();
    let env = config
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok((layers, env))
}

/// Resident set size of a process in KiB, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A port free on 127.0.0.1 right now, for a server the test starts later. It is drawn below
/// the kernel's ephemeral range (32768 and up on Linux): a port the kernel handed out for
/// `:0` would be free again once tested, and the next `:0` bind or outgoing connection could
/// take it before the server binds it (seen: the dependency proxy's port taken by the Runtime
/// API proxy's own `:0` bind, with many tests running at once).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Each process walks its own stretch of 20000..32000, from a point set by its pid, so two
    // test binaries running side by side rarely meet; a port in use is skipped.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let start = (std::process::id().wrapping_mul(7919) % SPAN) as u16;
    for _ in 0..SPAN {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (u32::from(start) + u32::from(offset)) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub async fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// moto server on a free loopback port.
pub struct MotoServer {
    pub endpoint: String,
    pub port: u16,
    _child: Child,
    /// Where moto writes its request log, when kept ([`MotoServer::start_logged`]).
    log: Option<tempfile::NamedTempFile>,
}

/// moto server through `moto/moto_server.py`, which makes S3's conditional writes atomic as S3
/// documents them (moto 5.2.5 checks the ETag, then writes) and, when IAM is enforced, skips the
/// signature comparison moto gets wrong.
fn launcher() -> Command {
    let mut command = Command::new(venv_bin("python"));
    command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("moto/moto_server.py"));
    command
}

impl MotoServer {
    pub async fn start() -> MotoServer {
        MotoServer::start_with(&[]).await
    }

    /// Starts moto with extra environment (e.g. `INITIAL_NO_AUTH_ACTION_COUNT` to enforce IAM).
    pub async fn start_with(env: &[(&str, &str)]) -> MotoServer {
        MotoServer::spawn(launcher(), env).await
    }

    /// moto keeping its request log (one line per request: method, path, status), read with
    /// [`MotoServer::requests`].
    pub async fn start_logged() -> MotoServer {
        let log = tempfile::NamedTempFile::new().expect("moto log file");
        let file = log.reopen().expect("moto log file");
        let command = launcher();
        let mut server = MotoServer::spawn_logging(command, &[], Stdio::from(file)).await;
        server.log = Some(log);
        server
    }

    /// The requests moto logged (`"GET /bucket/key HTTP/1.1" 304 -`), when started logged.
    pub fn requests(&self) -> Vec<String> {
        let Some(log) = &self.log else {
            return Vec::new();
        };
        std::fs::read_to_string(log.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once("] ").map(|(_, rest)| rest.to_string()))
            .collect()
    }

    /// moto enforcing IAM policies after its first `free_calls` requests, through
    /// `moto/moto_server.py`: moto 5.2.5 cannot recompute the signature of a Lambda GET or of a
    /// form body the Rust SDK encoded, so that launcher skips the signature comparison only.
    pub async fn enforcing_iam_after(free_calls: u32) -> MotoServer {
        let count = free_calls.to_string();
        MotoServer::spawn(launcher(), &[("INITIAL_NO_AUTH_ACTION_COUNT", &count)]).await
    }

    /// moto over TLS with the given certificate and key (PEM): `endpoint` is `https://`.
    pub async fn start_tls(cert: &Path, key: &Path) -> MotoServer {
        let mut command = launcher();
        command
            .arg("--ssl-cert")
            .arg(cert)
            .arg("--ssl-key")
            .arg(key);
        let mut server = MotoServer::spawn(command, &[]).await;
        server.endpoint = format!("https://127.0.0.1:{}", server.port);
        server
    }

    async fn spawn(command: Command, env: &[(&str, &str)]) -> MotoServer {
        MotoServer::spawn_logging(command, env, Stdio::null()).await
    }

    /// Starts moto with its request log (stderr) going to `log`.
    async fn spawn_logging(mut command: Command, env: &[(&str, &str)], log: Stdio) -> MotoServer {
        let port = free_port();
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start moto_server");
        wait_port(port, "moto server").await;
        MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            _child: child,
            log: None,
        }
    }
}

/// An AWS SDK config for moto at `endpoint` (region us-east-1, the given keys), with a plain
/// rustls client that ignores HTTP(S)_PROXY.
pub async fn aws_config(endpoint: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            key, secret, None, None, "test",
        ))
        .http_client(http)
        .load()
        .await
}

/// Credentials in another account of moto (which serves each account apart): `role_arn`
/// assumed through STS as `sdk`'s credentials.
pub async fn assume_role(
    sdk: &aws_config::SdkConfig,
    role_arn: &str,
) -> anyhow::Result<aws_credential_types::Credentials> {
    let assumed = aws_sdk_sts::Client::new(sdk)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("faultline-test")
        .send()
        .await
        .with_context(|| format!("assuming {role_arn}"))?
        .credentials
        .with_context(|| format!("sts:AssumeRole on {role_arn} returned no credentials"))?;
    Ok(aws_credential_types::Credentials::new(
        assumed.access_key_id,
        assumed.secret_access_key,
        Some(assumed.session_token),
        None,
        "assumed",
    ))
}

/// `sdk` acting as `credentials` (from [`assume_role`]).
pub fn acting_as(
    sdk: &aws_config::SdkConfig,
    credentials: &aws_credential_types::Credentials,
) -> aws_config::SdkConfig {
    sdk.to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials.clone()),
        )
        .build()
}

/// A CloudWatch metric alarm `name` in moto (created if needed), set to `state`: a stop
/// condition for the tests and the demo.
pub async fn put_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    name: &str,
    state: aws_sdk_cloudwatch::types::StateValue,
) -> anyhow::Result<()> {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("faultline-tests")
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .map_err(|err| anyhow::anyhow!("put alarm {name} in moto: {err:?}"))?;
    cloudwatch
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason("set-by-faultline-tests")
        .send()
        .await
        .map_err(|err| anyhow::anyhow!("set alarm {name} in moto: {err:?}"))?;
    Ok(())
}
