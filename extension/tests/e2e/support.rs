//! Processes the tests start: the extension, runtimes (through the wrapper or not), moto server
//! and cargo-lambda's emulator. Every process is killed when its handle is dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::Command;

pub use faultline_testkit::process::Proc;
pub use faultline_testkit::{free_port, repo_root, venv_bin};

pub fn extension_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_faultline"))
}

pub fn wrapper() -> PathBuf {
    repo_root().join("extension/layer/faultline-wrapper")
}

pub fn functions_dir() -> PathBuf {
    repo_root().join("extension/tests/functions")
}

/// One invocation through `emulator`, within `timeout`; with none, the test fails showing the
/// logs of the runtime and the extension.
pub async fn invoke_or_show(
    emulator: &faultline_testkit::lambda_emulator::Emulator,
    runtime: &Proc,
    extension: &Proc,
    payload: String,
    timeout: Duration,
) -> faultline_testkit::lambda_emulator::Outcome {
    emulator
        .try_invoke(payload, timeout)
        .await
        .unwrap_or_else(|| {
            panic!(
                "no answer within {timeout:?}:\n{}\n{}",
                runtime.log_text(),
                extension.log_text()
            )
        })
}

/// The `test_function` example (a lambda_runtime function), built by `cargo test`.
pub fn rust_function_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join("examples/test_function");
    assert!(
        path.exists(),
        "{} not built: run `cargo build --examples` (make test does)",
        path.display()
    );
    path
}

/// The environment Lambda gives both the extension and the runtime.
#[derive(Clone)]
pub struct LambdaEnv {
    pub vars: BTreeMap<String, String>,
    pub dir: Arc<tempfile::TempDir>,
}

impl LambdaEnv {
    pub fn new(runtime_api: &str) -> LambdaEnv {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let ready = dir.path().join("ready");
        let dependency_port = free_port().to_string();
        let sdk_port = free_port().to_string();
        let mut vars = BTreeMap::new();
        for (key, value) in [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api),
            ("AWS_LAMBDA_FUNCTION_NAME", "test-fn"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test-fn"),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/12/05/[$LATEST]0123456789abcdef0123456789abcdef",
            ),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("LAMBDA_TASK_ROOT", &functions_dir().to_string_lossy()),
            ("GREMLIN_LAMBDA_ENABLED", "true"),
            // Port 0: every test gets its own free port, learned from the ready file.
            ("GREMLIN_LAMBDA_API_PROXY_PORT", "127.0.0.1:0"),
            ("FAULTLINE_READY_FILE", &ready.to_string_lossy()),
            // The dependency proxy and the SDK endpoint get free ports too.
            (
                "FAULTLINE_DEPENDENCY_PROXY_PORT",
                &format!("127.0.0.1:{dependency_port}"),
            ),
            ("GREMLIN_SIDECAR_PORT", &sdk_port),
            ("FAILURE_FLAGS_ENABLED", "true"),
        ] {
            vars.insert(key.to_string(), value.to_string());
        }
        LambdaEnv { vars, dir }
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.vars.insert(key.to_string(), value.into());
        self
    }

    /// The dependency proxy's URL, for HTTP_PROXY/HTTPS_PROXY.
    pub fn dependency_proxy_url(&self) -> String {
        format!("http://{}", self.vars["FAULTLINE_DEPENDENCY_PROXY_PORT"])
    }

    /// Writes `yaml` as the config file and points GREMLIN_CONFIG_FILE at it.
    pub fn config_file(&mut self, yaml: &str) -> &mut Self {
        let path = self.dir.path().join("faultline.yaml");
        std::fs::write(&path, yaml).expect("write config file");
        self.set("GREMLIN_CONFIG_FILE", path.to_string_lossy())
    }

    /// A path in the test's temporary directory.
    pub fn temp_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits for the ready file an extension writes after binding (cargo-lambda's emulator does
    /// not tell us about registrations).
    pub async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.ready_file().exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "extension never became ready"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn ready_file(&self) -> PathBuf {
        PathBuf::from(&self.vars["FAULTLINE_READY_FILE"])
    }

    fn command(&self, program: &Path) -> Command {
        faultline_testkit::lambda_command(program, &self.vars, &functions_dir())
    }

    /// Starts the extension as Lambda would (its own process, same environment).
    pub fn extension(&self) -> Proc {
        Proc::spawn(self.command(&extension_bin()))
    }

    /// Starts a runtime command, through `faultline-wrapper` when `wrapped`.
    pub fn runtime(&self, wrapped: bool, program: &Path, args: &[&str]) -> Proc {
        let mut command = if wrapped {
            let mut c = self.command(&wrapper());
            c.arg(program);
            c
        } else {
            self.command(program)
        };
        command.args(args);
        Proc::spawn(command)
    }

    /// The Python handler on awslambdaric.
    pub fn python(&self, wrapped: bool) -> Proc {
        let python = venv_bin("python");
        self.runtime(
            wrapped,
            &python,
            &["-m", "awslambdaric", "handler.dispatch"],
        )
    }

    /// The Node.js handler (`functions/node_handler.mjs`) on Node 24 with aws-lambda-ric, as the
    /// nodejs24.x runtime runs it.
    pub fn node(&self, wrapped: bool) -> Proc {
        let client = faultline_testkit::node_runtime("node_modules/aws-lambda-ric/index.mjs");
        // aws-lambda-ric 4 reads the handler from `_HANDLER`, as Lambda sets it.
        let mut env = self.clone();
        env.set("_HANDLER", "node_handler.handler")
            // As Lambda sets it; the wrapper reads it.
            .set("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs24.x")
            .set(
                "FAULTLINE_TEST_NODE_MODULES",
                faultline_testkit::node_runtime("node_modules").to_string_lossy(),
            );
        env.runtime(
            wrapped,
            &faultline_testkit::node_runtime("bin/node"),
            &[&client.to_string_lossy()],
        )
    }

    /// The Rust function on lambda_runtime.
    pub fn rust(&self, wrapped: bool) -> Proc {
        self.runtime(wrapped, &rust_function_bin(), &[])
    }
}

/// moto server on a free loopback port, for Secrets Manager, SSM and IAM.
pub struct Moto {
    pub endpoint: String,
    _server: faultline_testkit::MotoServer,
}

impl Moto {
    pub async fn start() -> Moto {
        Moto::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Moto {
        let server = faultline_testkit::MotoServer::start_with(env).await;
        Moto {
            endpoint: server.endpoint.clone(),
            _server: server,
        }
    }

    /// moto keeping its request log ([`Moto::requests`]).
    pub async fn start_logged() -> Moto {
        let server = faultline_testkit::MotoServer::start_logged().await;
        Moto {
            endpoint: server.endpoint.clone(),
            _server: server,
        }
    }

    /// The requests moto served (`"GET /bucket/key HTTP/1.1" 304 -`), when started logged.
    pub fn requests(&self) -> Vec<String> {
        self._server.requests()
    }

    /// An S3 client of moto (path-style: moto's address has no bucket hosts).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk_config("testing", "testing").await)
                .force_path_style(true)
                .build(),
        )
    }

    /// Puts `text` as object `key` of `bucket` (created if needed); returns the object's ARN.
    pub async fn put_object(&self, bucket: &str, key: &str, text: &str) -> String {
        let client = self.s3().await;
        let _ = client.create_bucket().bucket(bucket).send().await;
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .expect("put object in moto");
        format!("arn:aws:s3:::{bucket}/{key}")
    }

    pub async fn sdk_config(&self, key: &str, secret: &str) -> aws_config::SdkConfig {
        faultline_testkit::aws_config(&self.endpoint, key, secret).await
    }

    /// Stores a new value in an existing secret.
    pub async fn update_secret(&self, arn: &str, value: &str) {
        let client =
            aws_sdk_secretsmanager::Client::new(&self.sdk_config("testing", "testing").await);
        client
            .put_secret_value()
            .secret_id(arn)
            .secret_string(value)
            .send()
            .await
            .expect("put secret value in moto");
    }

    /// Creates a secret and returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        let client =
            aws_sdk_secretsmanager::Client::new(&self.sdk_config("testing", "testing").await);
        let out = client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create secret in moto");
        out.arn().expect("secret arn").to_string()
    }
}

impl Moto {
    /// Creates a SecureString parameter and returns its ARN.
    /// Stores a new version of an existing parameter (by name or ARN).
    pub async fn put_parameter_overwrite(&self, name: &str, value: &str) {
        let client = aws_sdk_ssm::Client::new(&self.sdk_config("testing", "testing").await);
        client
            .put_parameter()
            .name(name)
            .value(value)
            .overwrite(true)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("overwrite parameter in moto");
    }

    pub async fn put_parameter(&self, name: &str, value: &str) -> String {
        let client = aws_sdk_ssm::Client::new(&self.sdk_config("testing", "testing").await);
        client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("put parameter in moto");
        let out = client
            .get_parameter()
            .name(name)
            .send()
            .await
            .expect("get parameter from moto");
        out.parameter()
            .and_then(|p| p.arn())
            .expect("parameter arn")
            .to_string()
    }
}

/// cargo-lambda's Runtime + Extensions API emulator (`cargo-lambda lambda watch
/// --only-lambda-apis`). Its runtime endpoint is `http://127.0.0.1:PORT/.rt`.
pub struct CargoLambda {
    port: u16,
    _proc: Proc,
    _dir: tempfile::TempDir,
}

impl CargoLambda {
    pub async fn start() -> CargoLambda {
        // It insists on a Cargo.toml in its working directory; give it an empty package.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"fn\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[[bin]]\nname = \"fn\"\npath = \"main.rs\"\n",
        )
        .expect("Cargo.toml");
        std::fs::write(dir.path().join("main.rs"), "fn main() {}\n").expect("main.rs");
        let port = free_port();
        let mut command = Command::new(venv_bin("cargo-lambda"));
        command
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(dir.path());
        let proc = Proc::spawn(command);
        proc.wait_port(port, "cargo-lambda").await;
        CargoLambda {
            port,
            _proc: proc,
            _dir: dir,
        }
    }

    pub fn runtime_api(&self) -> String {
        format!("http://127.0.0.1:{}/.rt", self.port)
    }

    /// Invokes the function; returns the HTTP status, the function-error header and the body.
    pub async fn invoke(&self, payload: &str) -> (u16, Option<String>, Vec<u8>) {
        let client = faultline_extension::net::client::new_client();
        let request = http::Request::post(format!(
            "http://127.0.0.1:{}/2015-03-31/functions/_/invocations",
            self.port
        ))
        .header("content-type", "application/json")
        .body(faultline_extension::net::client::full_body(
            payload.to_string(),
        ))
        .expect("request");
        let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
            .await
            .expect("invocation finished in time")
            .expect("invoke cargo-lambda");
        let status = response.status().as_u16();
        let error = response
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        use http_body_util::BodyExt;
        let body = response
            .into_body()
            .collect()
            .await
            .expect("invoke body")
            .to_bytes()
            .to_vec();
        (status, error, body)
    }
}

/// A running function (the Python handler through the wrapper) with its extension.
pub struct Function {
    pub emulator: crate::emulator::Emulator,
    pub extension: Proc,
    _runtime: Proc,
    /// Holds the temporary folder with the ready file the wrapper reads.
    _env: LambdaEnv,
}

impl Function {
    /// Reads its config from `config_arn` at the AWS endpoint `endpoint` (moto, or a stand-in).
    pub async fn start(endpoint: &str, config_arn: &str) -> Function {
        let emulator = crate::emulator::Emulator::start().await;
        let mut env = LambdaEnv::new(&emulator.runtime_api());
        env.set("GREMLIN_CONFIG_ARN", config_arn)
            .set("AWS_ENDPOINT_URL", endpoint);
        let extension = crate::start_extension(&env, &emulator).await;
        let runtime = env.python(true);
        Function {
            emulator,
            extension,
            _runtime: runtime,
            _env: env,
        }
    }

    /// The audit lines so far.
    pub fn faults(&self) -> Vec<String> {
        self.extension
            .logs()
            .into_iter()
            .filter(|line| line.contains("\"fault-injected\""))
            .collect()
    }

    /// Invokes once; whether a fault was injected into that invocation.
    pub async fn faulted(&self) -> bool {
        let before = self.faults().len();
        self.emulator
            .try_invoke(r#"{"op":"echo"}"#, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no answer: {}", self.extension.log_text()));
        self.faults().len() > before
    }

    /// Invokes every 200 ms until an invocation is (or is not) faulted; how long that took.
    pub async fn until(&self, faulted: bool, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.faulted().await == faulted {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "still {} after {within:?}: {}",
                if faulted { "clean" } else { "faulted" },
                self.extension.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
