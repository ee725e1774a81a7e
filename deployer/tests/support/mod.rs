//! The harness shared by the deployer's tests: moto server started per test on a free loopback
//! port, the `deployer` binary run as a user runs it, and AWS state read through the AWS SDK.
#![allow(dead_code)]

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use faultline_testkit::MotoServer;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

/// A team key that must never appear in any output.
pub const SECRET_MARKER: &str = "TOPSECRET-7a1e0c";
/// The smallest valid zip (an empty archive).
pub const EMPTY_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// The config bucket of the default install (`--name faultline`) in moto's account and Region.
pub const DEFAULT_BUCKET: &str = "faultline-config-123456789012-us-east-1";

/// A Lambda execution role made with `iam` (any account's client); its ARN.
pub async fn lambda_role(iam: &aws_sdk_iam::Client, name: &str) -> String {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("create role")
        .role
        .map(|r| r.arn)
        .expect("role arn")
}

pub struct Env {
    pub moto: MotoServer,
    pub dir: tempfile::TempDir,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The access key the deployer runs with unless a test says otherwise.
    pub keys: Keys,
}

/// Another moto account, reached by assuming a role there (moto serves each account apart): its
/// keys and session token for the deployer, and the SDK acting as it.
pub struct Assumed {
    pub keys: Keys,
    pub token: String,
    pub sdk: aws_config::SdkConfig,
}

impl Assumed {
    /// The SDK acting as this account, in `region`.
    pub fn config(&self, region: &str) -> aws_config::SdkConfig {
        self.sdk
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build()
    }
}

/// An access key id and its secret.
#[derive(Debug, Clone)]
pub struct Keys {
    pub id: String,
    pub secret: String,
}

impl Keys {
    /// The first account's root key in moto.
    pub fn testing() -> Keys {
        Keys {
            id: "testing".into(),
            secret: "testing".into(),
        }
    }
}

impl Env {
    pub async fn start() -> Env {
        Env::with(MotoServer::start().await, Keys::testing()).await
    }

    /// moto keeping its request log (`env.moto.requests()`).
    pub async fn start_logged() -> Env {
        Env::with(MotoServer::start_logged().await, Keys::testing()).await
    }

    /// An S3 client for moto (path-style).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let config =
            faultline_testkit::aws_config(&self.moto.endpoint, &self.keys.id, &self.keys.secret)
                .await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        )
    }

    /// moto started with extra environment (`MOTO_IAM_LOAD_MANAGED_POLICIES`, say).
    pub async fn start_with(moto_env: &[(&str, &str)]) -> Env {
        Env::with(MotoServer::start_with(moto_env).await, Keys::testing()).await
    }

    /// moto enforcing IAM from its fourth call on: the first three make an administrator
    /// (`*` on `*`), whose key every later setup call and the deployer (unless told otherwise)
    /// use.
    pub async fn start_enforcing_iam() -> Env {
        let moto = MotoServer::enforcing_iam_after(3).await;
        let config = faultline_testkit::aws_config(&moto.endpoint, "testing", "testing").await;
        let iam = aws_sdk_iam::Client::new(&config);
        iam.create_user()
            .user_name("admin")
            .send()
            .await
            .expect("create admin");
        iam.put_user_policy()
            .user_name("admin")
            .policy_name("everything")
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            )
            .send()
            .await
            .expect("admin policy");
        let key = iam
            .create_access_key()
            .user_name("admin")
            .send()
            .await
            .expect("admin key")
            .access_key
            .expect("a key");
        let keys = Keys {
            id: key.access_key_id,
            secret: key.secret_access_key,
        };
        Env::with(moto, keys).await
    }

    /// A user holding exactly `policy` (inline), and its access key; made by the administrator.
    pub async fn user(&self, name: &str, policy: &serde_json::Value) -> Keys {
        self.iam
            .create_user()
            .user_name(name)
            .send()
            .await
            .expect("create user");
        self.iam
            .put_user_policy()
            .user_name(name)
            .policy_name("deployer")
            .policy_document(policy.to_string())
            .send()
            .await
            .expect("user policy");
        let key = self
            .iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("user key")
            .access_key
            .expect("a key");
        Keys {
            id: key.access_key_id,
            secret: key.secret_access_key,
        }
    }

    async fn with(moto: MotoServer, keys: Keys) -> Env {
        let config = faultline_testkit::aws_config(&moto.endpoint, &keys.id, &keys.secret).await;
        let dir = tempfile::tempdir().expect("tempdir");
        for arch in ["x86_64", "arm64"] {
            std::fs::write(
                dir.path().join(format!("faultline-layer-{arch}.zip")),
                EMPTY_ZIP,
            )
            .expect("zip");
        }
        Env {
            lambda: aws_sdk_lambda::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            moto,
            dir,
            keys,
        }
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path.to_string_lossy().into_owned()
    }

    pub fn dist(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the deployer; returns (exit code, stdout, stderr).
    pub fn deployer(&self, args: &[&str]) -> (i32, String, String) {
        self.deployer_with(args, &[])
    }

    /// Runs the deployer with extra environment variables (a proxy, say).
    pub fn deployer_with(&self, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
        self.deployer_as(&self.keys, args, vars)
    }

    /// `role_arn` assumed through STS as the administrator of the first account.
    pub async fn assume(&self, role_arn: &str) -> Assumed {
        let sdk = faultline_testkit::aws_config(&self.moto.endpoint, "testing", "testing").await;
        let credentials = faultline_testkit::assume_role(&sdk, role_arn)
            .await
            .expect("credentials in the other account");
        Assumed {
            keys: Keys {
                id: credentials.access_key_id().to_string(),
                secret: credentials.secret_access_key().to_string(),
            },
            token: credentials.session_token().unwrap_or_default().to_string(),
            sdk: faultline_testkit::acting_as(&sdk, &credentials),
        }
    }

    /// Runs the deployer as the role `assumed` holds in its account.
    pub fn deployer_in(&self, assumed: &Assumed, args: &[&str]) -> (i32, String, String) {
        self.deployer_as(
            &assumed.keys,
            args,
            &[("AWS_SESSION_TOKEN", assumed.token.as_str())],
        )
    }

    /// `program` in the environment the deployer runs in here: PATH, `vars`, then `keys` and
    /// moto's endpoint in us-east-1, nothing else.
    pub fn command_as(
        &self,
        program: &str,
        keys: &Keys,
        vars: &[(&str, &str)],
    ) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        command
            .env_clear()
            .envs(vars.iter().copied())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", &keys.id)
            .env("AWS_SECRET_ACCESS_KEY", &keys.secret)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    }

    /// Runs the deployer with another user's access key.
    pub fn deployer_as(
        &self,
        keys: &Keys,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> (i32, String, String) {
        let output: Output = self
            .command_as(env!("CARGO_BIN_EXE_deployer"), keys, vars)
            .args(args)
            .output()
            .expect("run deployer");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stdout.contains(SECRET_MARKER) && !stderr.contains(SECRET_MARKER),
            "secret material in output:\n{stdout}\n{stderr}"
        );
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    /// The bucket is versioned, blocks every kind of public access and encrypts with S3's keys.
    pub async fn assert_private_versioned_bucket(&self, bucket: &str) {
        let s3 = self.s3().await;
        // moto 5.2.5 names the answer's root GetBucketVersioningResponse, which the SDK refuses:
        // the status is read from the body it kept.
        let versioning = match s3.get_bucket_versioning().bucket(bucket).send().await {
            Ok(answer) => format!("{:?}", answer.status()),
            Err(err) => err
                .raw_response()
                .and_then(|r| r.body().bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        };
        assert!(versioning.contains("Enabled"), "{bucket}: {versioning}");
        let block = s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .expect("public access block");
        let block = block.public_access_block_configuration().expect("a block");
        assert_eq!(
            (
                block.block_public_acls(),
                block.ignore_public_acls(),
                block.block_public_policy(),
                block.restrict_public_buckets()
            ),
            (Some(true), Some(true), Some(true), Some(true)),
            "{bucket}"
        );
        self.assert_encrypted(bucket).await;
    }

    /// The bucket encrypts with S3's keys.
    pub async fn assert_encrypted(&self, bucket: &str) {
        let encryption = self
            .s3()
            .await
            .get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await
            .expect("encryption");
        assert!(
            format!("{encryption:?}").contains("sse_algorithm: Aes256"),
            "{bucket}: {encryption:?}"
        );
    }

    /// The read policy `deployer init --name install` wrote (its first version), as text.
    pub async fn read_policy_text(&self, install: &str) -> String {
        self.policy_document(
            &format!("arn:aws:iam::123456789012:policy/{install}-read-config-us-east-1"),
            "v1",
        )
        .await
        .to_string()
    }

    /// The config's text, as the extension reads it: the default install's S3 object, else
    /// its secret.
    pub async fn config_text(&self) -> String {
        let object = self
            .s3()
            .await
            .get_object()
            .bucket(DEFAULT_BUCKET)
            .key("faultline.yaml")
            .send()
            .await;
        match object {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .expect("object body")
                    .into_bytes();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Err(_) => self.secret_text().await,
        }
    }

    /// The config secret's text, as the extension reads it (AWSCURRENT: moto's default version
    /// lags a moved label).
    pub async fn secret_text(&self) -> String {
        self.secrets
            .get_secret_value()
            .secret_id("faultline-config")
            .version_stage("AWSCURRENT")
            .send()
            .await
            .expect("secret")
            .secret_string()
            .unwrap_or_default()
            .to_string()
    }

    /// A version of a managed policy's document, decoded (IAM returns it URL-encoded).
    pub async fn policy_document(&self, arn: &str, version: &str) -> serde_json::Value {
        let document = self
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .expect("policy version")
            .policy_version
            .and_then(|v| v.document)
            .expect("document");
        let document = percent_encoding::percent_decode_str(&document).decode_utf8_lossy();
        serde_json::from_str(&document).expect("policy json")
    }

    pub fn init(&self) {
        let config = self.write(
            "faultline.yaml",
            &format!("team_private_key: \"{SECRET_MARKER}\"\nexperiments: []\n"),
        );
        let dist = self.dist().to_string_lossy().into_owned();
        let (code, out, err) = self.deployer(&["init", "--config", &config, "--dist", &dist]);
        assert_eq!(code, 0, "{out}\n{err}");
    }

    pub async fn role(&self, name: &str) -> String {
        lambda_role(&self.iam, name).await
    }

    pub async fn layer(&self, name: &str) -> String {
        self.lambda
            .publish_layer_version()
            .layer_name(name)
            .content(
                aws_sdk_lambda::types::LayerVersionContentInput::builder()
                    .zip_file(Blob::new(EMPTY_ZIP))
                    .build(),
            )
            .send()
            .await
            .expect("publish layer")
            .layer_version_arn
            .expect("layer arn")
    }

    pub async fn function(&self, name: &str, role: &str, layers: &[String], env: &[(&str, &str)]) {
        self.function_on(Runtime::Python312, name, role, layers, env)
            .await;
    }

    /// A function on `runtime` (the code is an empty zip: the deployer never runs it).
    pub async fn function_on(
        &self,
        runtime: Runtime,
        name: &str,
        role: &str,
        layers: &[String],
        env: &[(&str, &str)],
    ) {
        self.lambda
            .create_function()
            .function_name(name)
            .runtime(runtime)
            .role(role)
            .handler("handler.handler")
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(EMPTY_ZIP))
                    .build(),
            )
            .set_layers(Some(layers.to_vec()))
            .environment(
                Environment::builder()
                    .set_variables(Some(
                        env.iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    ))
                    .build(),
            )
            .send()
            .await
            .expect("create function");
    }

    /// A function's layers and environment.
    pub async fn state(&self, name: &str) -> (Vec<String>, BTreeMap<String, String>) {
        faultline_testkit::function_wiring(&self.lambda, name)
            .await
            .expect("get function")
    }

    pub async fn policy_attached(&self, role: &str) -> bool {
        self.iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .expect("list attached")
            .attached_policies()
            .iter()
            .any(|p| p.policy_name() == Some("faultline-read-config-us-east-1"))
    }
}
