//! Config from Secrets Manager (moto server) and from a file, and every way loading can fail:
//! the function always answers, the extension says why in one line, and no secret leaks.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::{LambdaEnv, Moto, Proc};
use std::time::Duration;

/// A team key that must never appear in any output.
const SECRET_MARKER: &str = "TOPSECRET-4f1d9c";

fn config_with_secret(extra: &str) -> String {
    format!(
        "team_id: team-1\nteam_private_key: \"{SECRET_MARKER}\"\nrequest_timeout: 300ms\n{extra}"
    )
}

const TWO_EXPERIMENTS: &str = "experiments:
  - name: slow-orders
    flag: dependency-orders.example.com
    rate: 0.5
    effect: {latency: 100}
  - name: broken-ingress
    flag: ingress
    selector: {event-source: sqs}
    effect: {exception: down}
";

/// Runs one echo invocation through the wrapped Python runtime and returns the extension, and
/// the emulator (which sends SHUTDOWN when dropped: kept so that a config read still under way
/// can finish).
async fn invoke_through(env: &LambdaEnv) -> (Outcome, Proc, Emulator) {
    let emulator = Emulator::start().await;
    let mut env = env.clone();
    env.set("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api());
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let outcome = emulator
        .try_invoke(r#"{"op":"echo","ok":true}"#, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| {
            panic!(
                "no answer: {}\n{}",
                runtime.log_text(),
                extension.log_text()
            )
        });
    (outcome, extension, emulator)
}

fn assert_answered(outcome: &Outcome) {
    assert_eq!(outcome.json(), serde_json::json!({"op":"echo","ok":true}));
}

/// The extension logged that it loaded `source` with `experiments` valid experiments.
async fn assert_loaded(extension: &Proc, source: &str, experiments: usize) {
    let line = format!("config loaded from {source}: {experiments} experiment(s)");
    assert!(
        extension.wait_log(&line, Duration::from_secs(10)).await,
        "expected `{line}` in: {}",
        extension.log_text()
    );
}

fn assert_no_secret(extension: &Proc) {
    assert!(
        !extension.log_text().contains(SECRET_MARKER),
        "secret material in logs: {}",
        extension.log_text()
    );
}

fn error_lines(extension: &Proc) -> Vec<String> {
    extension
        .logs()
        .into_iter()
        .filter(|l| l.contains(" ERROR "))
        .collect()
}

#[tokio::test]
async fn config_from_secrets_manager_in_moto() {
    let moto = Moto::start().await;
    let arn = moto
        .create_secret("faultline-config", &config_with_secret(TWO_EXPERIMENTS))
        .await;
    let mut env = LambdaEnv::new("127.0.0.1:1");
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint)
        .set("GREMLIN_DEBUG", "true")
        // The function's proxy settings must not catch the extension's own AWS calls.
        .set("HTTP_PROXY", "http://127.0.0.1:9")
        .set("HTTPS_PROXY", "http://127.0.0.1:9")
        // Nor the origination endpoint `deployer enable --aws-services` gives the function's SDK
        // (plain HTTP to port 443: only the dependency proxy can carry it).
        .set(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "http://secretsmanager.us-east-1.amazonaws.com:443",
        );
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert_loaded(&extension, &format!("secret {arn}"), 2).await;
    assert!(
        error_lines(&extension).is_empty(),
        "{}",
        extension.log_text()
    );
    assert_no_secret(&extension);
}

#[tokio::test]
async fn config_from_an_ssm_parameter_in_moto() {
    let moto = Moto::start().await;
    let arn = moto
        .put_parameter("/faultline/config", &config_with_secret(TWO_EXPERIMENTS))
        .await;
    let mut env = LambdaEnv::new("127.0.0.1:1");
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint)
        .set(
            "AWS_ENDPOINT_URL_SSM",
            "http://ssm.us-east-1.amazonaws.com:443",
        );
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert_loaded(&extension, &format!("parameter {arn}"), 2).await;
    assert_no_secret(&extension);
}

#[tokio::test]
async fn config_from_a_file() {
    let env = LambdaEnv::new("127.0.0.1:1");
    let path = env.dir.path().join("faultline.yaml");
    std::fs::write(&path, config_with_secret(TWO_EXPERIMENTS)).expect("write config");
    let mut env = env.clone();
    env.set("GREMLIN_CONFIG_FILE", path.to_string_lossy());
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert_loaded(&extension, &format!("file {}", path.display()), 2).await;
    assert_no_secret(&extension);
}

#[tokio::test]
async fn malformed_config_is_refused_in_one_line_and_traffic_passes() {
    let moto = Moto::start().await;
    let arn = moto
        .create_secret(
            "faultline-bad",
            &config_with_secret("experiments:\n  - name: x\n    flag: ingress\n    effect: {latency: {ms: fast}}\nrefresh_interval: [\n"),
        )
        .await;
    let mut env = LambdaEnv::new("127.0.0.1:1");
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint)
        .set("GREMLIN_DEBUG", "true");
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert!(extension.wait_log("refused", Duration::from_secs(10)).await);
    let errors = error_lines(&extension);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("passing traffic through untouched"),
        "{}",
        errors[0]
    );
    assert_no_secret(&extension);
}

#[tokio::test]
async fn invalid_experiment_is_dropped_and_the_others_kept() {
    let env = LambdaEnv::new("127.0.0.1:1");
    let path = env.dir.path().join("faultline.yaml");
    std::fs::write(
        &path,
        format!("{TWO_EXPERIMENTS}  - name: bad\n    flag: ingress\n    rate: 300\n    effect: {{latency: 1}}\n"),
    )
    .expect("write config");
    let mut env = env.clone();
    env.set("GREMLIN_CONFIG_FILE", path.to_string_lossy());
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    let logs = extension.log_text();
    assert!(
        logs.contains("experiment `bad` (experiments[2].rate)"),
        "{logs}"
    );
    assert_loaded(&extension, &format!("file {}", path.display()), 2).await;
}

#[tokio::test]
async fn missing_secret_is_reported_with_its_aws_error_code() {
    let moto = Moto::start().await;
    let mut env = LambdaEnv::new("127.0.0.1:1");
    env.set(
        "GREMLIN_CONFIG_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf",
    )
    .set("AWS_ENDPOINT_URL", &moto.endpoint);
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert!(
        extension
            .wait_log("ResourceNotFoundException", Duration::from_secs(10))
            .await,
        "{}",
        extension.log_text()
    );
    assert_eq!(error_lines(&extension).len(), 1, "{}", extension.log_text());
}

#[tokio::test]
async fn access_denied_is_reported_and_traffic_passes() {
    // moto enforces IAM after its first 3 calls: create the secret, a user and its key, then
    // read the secret as that user, who has no policy.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]).await;
    let arn = moto
        .create_secret("faultline-denied", &config_with_secret(""))
        .await;
    let (key, secret) = create_user_without_rights(&moto).await;
    let mut env = LambdaEnv::new("127.0.0.1:1");
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint)
        .set("AWS_ACCESS_KEY_ID", key)
        .set("AWS_SECRET_ACCESS_KEY", secret);
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert!(
        extension
            .wait_log("AccessDenied", Duration::from_secs(10))
            .await,
        "{}",
        extension.log_text()
    );
    assert_no_secret(&extension);
}

/// Creates an IAM user without policies and an access key for it, through moto's IAM API.
async fn create_user_without_rights(moto: &Moto) -> (String, String) {
    let endpoint = &moto.endpoint;
    {
        let python = crate::support::venv_bin("python");
        let script = format!(
            "import boto3\n\
             iam = boto3.client('iam', endpoint_url='{endpoint}', region_name='us-east-1', \
               aws_access_key_id='testing', aws_secret_access_key='testing')\n\
             iam.create_user(UserName='no-rights')\n\
             k = iam.create_access_key(UserName='no-rights')['AccessKey']\n\
             print(k['AccessKeyId'], k['SecretAccessKey'])\n"
        );
        let output = tokio::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .output()
            .await
            .expect("run boto3");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let mut parts = text.split_whitespace();
        (
            parts.next().expect("key id").to_string(),
            parts.next().expect("secret key").to_string(),
        )
    }
}

/// Without the cold-start opt-in, neither INIT nor the first invocation waits for the config: a
/// store that never answers (the first read takes the whole fetch timeout, 10 s) holds nothing
/// up. The extension asks for its next event (the end of
/// its INIT) while the read is still under way, and the invocation passes through untouched.
#[tokio::test]
async fn a_config_store_that_never_answers_holds_up_neither_init_nor_the_first_invocation() {
    let (endpoint, holder) = black_hole().await;
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set(
        "GREMLIN_CONFIG_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:slow-AbCdEf",
    )
    .set("AWS_ENDPOINT_URL", &endpoint);
    let extension = start_extension(&env, &emulator).await;
    assert!(
        emulator
            .wait_extensions_asked(1, Duration::from_secs(5))
            .await,
        "the extension asks for its next event: {}",
        extension.log_text()
    );
    assert!(
        !extension.log_text().contains("took longer"),
        "it did so before the read ended: {}",
        extension.log_text()
    );
    // Before, it waited the request timeout (500 ms by default) between the two; asking takes
    // milliseconds.
    let name = emulator.registrations()[0].name.clone();
    let init = emulator.extension_init_time(&name).expect("asked");
    assert!(
        init < Duration::from_millis(250),
        "{init:?} from registering to asking for the next event"
    );
    let runtime = env.python(true);
    let outcome = emulator
        .try_invoke(r#"{"op":"echo","ok":true}"#, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()));
    assert_answered(&outcome);
    assert_eq!(waits_for_config(&extension), 0, "{}", extension.log_text());
    holder.abort();
}

/// An experiment whose window ends 300,000 years on: refused with its key, never a crash.
const HUGE_DURATION: &str = "refresh_interval: 1s
experiments:
  - name: forever
    flag: ingress
    start: '2026-01-01T00:00:00Z'
    duration: 300000y
    effect: {latency: 2000}
";

/// An endpoint that accepts connections and never answers: its URL, and the task holding them.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (endpoint, holder)
}

fn waits_for_config(extension: &Proc) -> usize {
    extension
        .logs()
        .iter()
        .filter(|line| line.contains("config not loaded within"))
        .count()
}

#[tokio::test]
async fn a_huge_duration_in_a_file_is_refused_by_key_and_the_function_answers() {
    let env = LambdaEnv::new("127.0.0.1:1");
    let path = env.dir.path().join("faultline.yaml");
    std::fs::write(&path, HUGE_DURATION).expect("write config");
    let mut env = env.clone();
    env.set("GREMLIN_CONFIG_FILE", path.to_string_lossy());
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert!(
        extension
            .wait_log("experiments[0].duration", Duration::from_secs(5))
            .await,
        "{}",
        extension.log_text()
    );
    assert_loaded(&extension, &format!("file {}", path.display()), 0).await;
}

#[tokio::test]
async fn a_huge_duration_in_a_secret_never_leaves_invocations_waiting() {
    let moto = Moto::start().await;
    let arn = moto.create_secret("faultline-config", HUGE_DURATION).await;
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint);
    let extension = start_extension(&env, &emulator).await;
    let runtime = env.python(true);
    let echo = r#"{"op":"echo","ok":true}"#;
    let invoke = || async {
        emulator
            .try_invoke(echo, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| {
                panic!(
                    "no answer: {}\n{}",
                    runtime.log_text(),
                    extension.log_text()
                )
            })
    };
    assert_answered(&invoke().await);
    assert!(
        extension
            .wait_log("experiments[0].duration", Duration::from_secs(5))
            .await,
        "the refused key is named: {}",
        extension.log_text()
    );
    // The secret fixed: the next refresh loads it, and no invocation waits for the config.
    moto.update_secret(&arn, "refresh_interval: 1s\nexperiments: []\n")
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_answered(&invoke().await);
    assert!(
        extension
            .wait_log("experiment(s)", Duration::from_secs(5))
            .await,
        "{}",
        extension.log_text()
    );
    for _ in 0..3 {
        assert_answered(&invoke().await);
    }
    assert_eq!(waits_for_config(&extension), 0, "{}", extension.log_text());
}

/// A refresh that finds the same version of the secret (or parameter) does not parse it again;
/// a new version is parsed and applied.
#[tokio::test]
async fn an_unchanged_version_is_not_parsed_again_and_a_new_one_is() {
    let moto = Moto::start().await;
    let one =
        "refresh_interval: 1s\nexperiments:\n  - {name: a, flag: ingress, effect: {latency: 1}}\n";
    let two = "refresh_interval: 1s\nexperiments:\n  - {name: a, flag: ingress, effect: {latency: 1}}\n  - {name: b, flag: ingress, effect: {latency: 2}}\n";
    let secret = moto.create_secret("faultline-versions", one).await;
    let parameter = moto.put_parameter("/faultline/versions", one).await;
    for arn in [secret, parameter] {
        let emulator = Emulator::start().await;
        let mut env = LambdaEnv::new(&emulator.runtime_api());
        env.set("GREMLIN_CONFIG_ARN", &arn)
            .set("AWS_ENDPOINT_URL", &moto.endpoint)
            .set("GREMLIN_DEBUG", "true");
        let extension = start_extension(&env, &emulator).await;
        assert!(
            extension
                .wait_log("not parsed again", Duration::from_secs(10))
                .await,
            "{}",
            extension.log_text()
        );
        let loaded = |p: &Proc| {
            p.logs()
                .iter()
                .filter(|l| l.contains("config loaded from"))
                .count()
        };
        assert_eq!(loaded(&extension), 1, "{}", extension.log_text());
        if arn.contains(":secret:") {
            moto.update_secret(&arn, two).await;
        } else {
            moto.put_parameter_overwrite("/faultline/versions", two)
                .await;
        }
        assert!(
            extension
                .wait_log("2 experiment(s)", Duration::from_secs(10))
                .await,
            "{}",
            extension.log_text()
        );
        assert_eq!(loaded(&extension), 2);
    }
}

/// The config lives in another account (moto serves each account apart): read with
/// GREMLIN_CONFIG_ARN_ROLE, a role of that account assumed with the function's credentials;
/// without the role the function's own account has no such secret.
#[tokio::test]
async fn a_config_in_another_account_is_read_through_the_role() {
    let moto = Moto::start().await;
    let role = "arn:aws:iam::222222222222:role/faultline-config-reader";
    let own = moto.sdk_config("testing", "testing").await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("test-setup")
        .configure(&own)
        .build()
        .await;
    let other = own
        .into_builder()
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            provider,
        ))
        .build();
    let arn = aws_sdk_secretsmanager::Client::new(&other)
        .create_secret()
        .name("faultline-central")
        .secret_string(config_with_secret(TWO_EXPERIMENTS))
        .send()
        .await
        .expect("secret in the other account")
        .arn()
        .expect("arn")
        .to_string();
    assert!(arn.contains(":222222222222:"), "{arn}");

    let mut env = LambdaEnv::new("127.0.0.1:1");
    env.set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint);
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert!(
        extension
            .wait_log("ResourceNotFoundException", Duration::from_secs(10))
            .await,
        "the function's own account has no such secret: {}",
        extension.log_text()
    );

    env.set("GREMLIN_CONFIG_ARN_ROLE", role);
    let (outcome, extension, _lambda) = invoke_through(&env).await;
    assert_answered(&outcome);
    assert_loaded(&extension, &format!("secret {arn}"), 2).await;
    assert_no_secret(&extension);
}
