//! The IaC templates (`deployer render`) and the committed cfn/, sam-templates/, terraform/:
//! drift, real linters (cfn-lint, aws-sam-translator, python-hcl2, checkov), a deploy of the
//! CloudFormation stacks to moto, and the wiring they produce compared with `deployer enable`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use faultline_testkit::{checkov_bin, repo_root, venv_bin};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::Env;

/// The example function's own configuration before faultline (as in the templates).
const OWN_ENV: [(&str, &str); 2] = [("LOG_LEVEL", "INFO"), ("NO_PROXY", "internal.example.com")];
const FOLDERS: [(&str, &str); 3] = [
    ("cfn", "cfn"),
    ("sam", "sam-templates"),
    ("terraform", "terraform"),
];

/// Runs a command; its stdout, or a failure showing both streams.
fn run(command: &mut Command) -> String {
    let output = command.output().expect("start command");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

fn helper(script: &str) -> Command {
    let mut command = Command::new(venv_bin("python"));
    command
        .arg(repo_root().join("deployer/tests/iac").join(script))
        .env("AWS_DEFAULT_REGION", "us-east-1");
    command
}

fn render(kind: &str, out: &Path, extra: &[&str], env: Option<&Env>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deployer"));
    command.args(["render", kind, "--out"]).arg(out).args(extra);
    if let Some(env) = env {
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &env.moto.endpoint);
    }
    run(&mut command);
}

/// Every file under `dir`, by path relative to it.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, String>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let text = std::fs::read_to_string(&path).expect("read file");
                let relative = path.strip_prefix(root).expect("under root").to_path_buf();
                into.insert(relative, text);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

fn templates(folder: &str, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = files_under(&repo_root().join(folder))
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| repo_root().join(folder).join(p))
        .collect();
    found.sort();
    found
}

#[test]
fn committed_folders_equal_render_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (kind, folder) in FOLDERS {
        let out = dir.path().join(folder);
        render(kind, &out, &[], None);
        let rendered = files_under(&out);
        let committed = files_under(&repo_root().join(folder));
        assert_eq!(
            rendered.keys().collect::<Vec<_>>(),
            committed.keys().collect::<Vec<_>>(),
            "{folder}/ has other files than `deployer render {kind}` writes: run `make render`"
        );
        for (path, text) in &rendered {
            assert!(
                committed.get(path) == Some(text),
                "{folder}/{} differs from `deployer render {kind}`: run `make render`",
                path.display()
            );
        }
    }
}

#[test]
fn cfn_lint_passes_on_every_template_and_on_the_translated_sam() {
    let mut all = templates("cfn", "yaml");
    let sam = templates("sam-templates", "yaml");
    assert!(all.len() >= 2 && sam.len() >= 2);
    all.extend(sam.iter().cloned());
    run(Command::new(venv_bin("cfn-lint")).args(&all));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut translated = Vec::new();
    for template in &sam {
        let name = template.file_stem().expect("file name");
        let out = dir.path().join(name).with_extension("json");
        run(helper("cfn_json.py")
            .arg(template)
            .arg(&out)
            .arg("--transform"));
        let text = std::fs::read_to_string(&out).expect("translated");
        assert!(!text.contains("AWS::Serverless::"), "{}", out.display());
        translated.push(out);
    }
    run(Command::new(venv_bin("cfn-lint")).args(&translated));
}

#[test]
fn terraform_parses_and_documents_every_variable_and_output() {
    let parsed: Value = serde_json::from_str(&run(
        helper("check_terraform.py").arg(repo_root().join("terraform"))
    ))
    .expect("json");
    let module = &parsed["modules/function/main.tf"]["locals"];
    for key in ["layers", "environment", "faultline_environment", "chained"] {
        assert!(
            module.get(key).is_some(),
            "modules/function has no local {key}"
        );
    }
}

#[test]
fn checkov_finds_no_failing_check() {
    let out = run(Command::new(checkov_bin())
        .current_dir(repo_root())
        .args([
            "-d",
            "cfn",
            "-d",
            "sam-templates",
            "-d",
            "terraform",
            "--skip-download",
            "--compact",
            "--quiet",
        ])
        .env("BC_SKIP_MAPPING", "TRUE"));
    assert!(out.contains("Failed checks: 0"), "{out}");
    assert!(
        !out.contains("Passed checks: 0,"),
        "nothing was checked:\n{out}"
    );
}

fn deploy_stack(env: &Env, stack: &str, template: &Path, args: &[String]) -> Value {
    let out = run(helper("deploy_stack.py")
        .arg(&env.moto.endpoint)
        .arg(stack)
        .arg(template)
        .args(args));
    serde_json::from_str(&out).expect("stack json")
}

fn physical_id(stack: &Value, logical: &str) -> String {
    stack["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["logical"] == logical)
        .and_then(|r| r["physical"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The setup template rendered with `--name name`, deployed as `stack` on an existing secret
/// (moto's CloudFormation has no AWS::SecretsManager::Secret), with a customer key when given.
fn deploy_setup_stack(
    env: &Env,
    stack: &str,
    name: &str,
    secret_arn: &str,
    key_arn: Option<&str>,
) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    render("cfn", dir.path(), &["--name", name], None);
    let zip = env.dist().join("faultline-layer-x86_64.zip");
    let zip = zip.to_string_lossy();
    let mut args = vec![
        "ConfigStore=secretsmanager".into(),
        format!("ExistingSecretArn={secret_arn}"),
        "LayerCodeBucket=layers".into(),
        "--upload".into(),
        format!("layers/faultline-layer-x86_64.zip={zip}"),
        "--upload".into(),
        format!("layers/faultline-layer-arm64.zip={zip}"),
    ];
    if let Some(key_arn) = key_arn {
        args.push(format!("KmsKeyArn={key_arn}"));
    }
    deploy_stack(env, stack, &dir.path().join("faultline-setup.yaml"), &args)
}

/// The dashboard template deploys to moto's CloudFormation, and the dashboard CloudWatch keeps
/// is the one source's body with the stack's Region: five graphs of SEARCH expressions.
#[tokio::test]
async fn the_dashboard_deploys_to_moto_with_every_graph() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    render("cfn", dir.path(), &["--name", "rehearse"], None);
    let stack = deploy_stack(
        &env,
        "faultline-dashboard",
        &dir.path().join("faultline-dashboard.yaml"),
        &[],
    );
    assert_eq!(
        stack["outputs"]["DashboardName"], "rehearse-rehearsals-us-east-1",
        "{stack}"
    );
    let dashboard = env
        .cloudwatch
        .get_dashboard()
        .dashboard_name("rehearse-rehearsals-us-east-1")
        .send()
        .await
        .expect("the dashboard");
    let body: Value =
        serde_json::from_str(dashboard.dashboard_body().unwrap_or_default()).expect("JSON body");
    let widgets = body["widgets"].as_array().cloned().unwrap_or_default();
    assert_eq!(widgets.len(), 5, "{body}");
    let expressions: Vec<String> = widgets
        .iter()
        .flat_map(|w| {
            w["properties"]["metrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|m| m[0]["expression"].as_str().map(str::to_string))
        .collect();
    for metric in [
        "FaultsInjected",
        "ExperimentHalted",
        "ExperimentsSuspended",
        "ExperimentGuardTripped",
        "Errors",
        "Duration",
    ] {
        assert!(
            expressions
                .iter()
                .any(|e| e.contains(&format!("MetricName=\"{metric}\""))),
            "{metric} in {expressions:?}"
        );
    }
    assert!(
        widgets
            .iter()
            .all(|w| w["properties"]["region"] == "us-east-1")
    );
}

#[tokio::test]
async fn cfn_setup_stack_deploys_to_moto() {
    // moto's CloudFormation has no AWS::SecretsManager::Secret: the stack takes an existing
    // secret (its ExistingSecretArn path) and creates the policy and both layer versions.
    let env = Env::start().await;
    let secret_arn = env
        .secrets
        .create_secret()
        .name("stacktest-config")
        .secret_string("experiments: []\n")
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("arn");
    let stack = deploy_setup_stack(&env, "faultline-setup", "stacktest", &secret_arn, None);
    assert_eq!(stack["outputs"]["ConfigArn"], secret_arn.as_str());
    let policy_arn = "arn:aws:iam::123456789012:policy/stacktest-read-config-us-east-1";
    assert_eq!(stack["outputs"]["ReadConfigPolicyArn"], policy_arn);
    assert_eq!(physical_id(&stack, "ReadConfigPolicy"), policy_arn);

    let document = env.policy_document(policy_arn, "v1").await;
    let statements = document["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 2, "no KMS key given: {document}");
    assert_eq!(statements[0]["Action"], "secretsmanager:GetSecretValue");
    assert_eq!(statements[0]["Resource"], secret_arn.as_str());
    // The stop conditions' statement, as `deployer init` writes it.
    assert_eq!(statements[1]["Sid"], "ReadStopAlarms");
    assert_eq!(statements[1]["Action"], "cloudwatch:DescribeAlarms");
    assert_eq!(
        statements[1]["Resource"],
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"
    );

    // moto names a stack's layers after the stack and ignores CompatibleArchitectures: find
    // each by its logical id and check the description that names the architecture.
    let layers = env.lambda.list_layers().send().await.expect("list layers");
    for (logical, arch) in [("LayerX8664", "x86_64"), ("LayerArm64", "arm64")] {
        let layer = layers
            .layers()
            .iter()
            .find(|l| {
                l.layer_name()
                    .is_some_and(|n| n.contains(&format!("faultline-setup-{logical}")))
            })
            .unwrap_or_else(|| panic!("no layer for {logical}"));
        let description = layer
            .latest_matching_version()
            .and_then(|v| v.description())
            .unwrap_or_default();
        assert_eq!(
            description,
            format!("faultline extension and exec wrapper ({arch})")
        );
    }
}

/// The default setup stack keeps the config in S3: a private, versioned, encrypted bucket named
/// as `deployer init` names it, the policy init writes for it (GetObject on the object, ListBucket
/// on the bucket, so that a missing object reads as "no experiments"), and with ReaderAccounts
/// the role other accounts assume, with the store's statements only. The stack writes no object:
/// `deployer experiment` finds the bucket and creates it.
#[tokio::test]
async fn cfn_s3_setup_stack_equals_init_and_takes_experiments() {
    let env = Env::start().await;
    let dist = env.dist().to_string_lossy().into_owned();
    let (code, out, err) = env.deployer(&[
        "init",
        "--name",
        "s3init",
        "--reader-accounts",
        "222222222222",
        "--dist",
        &dist,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    render("cfn", dir.path(), &["--name", "s3stack"], None);
    let zip = env.dist().join("faultline-layer-x86_64.zip");
    let zip = zip.to_string_lossy();
    let stack = deploy_stack(
        &env,
        "faultline-s3",
        &dir.path().join("faultline-setup.yaml"),
        &[
            "ReaderAccounts=222222222222".into(),
            "LayerCodeBucket=layers".into(),
            "--upload".into(),
            format!("layers/faultline-layer-x86_64.zip={zip}"),
            "--upload".into(),
            format!("layers/faultline-layer-arm64.zip={zip}"),
        ],
    );
    let bucket = "s3stack-config-123456789012-us-east-1";
    assert_eq!(
        stack["outputs"]["ConfigArn"],
        format!("arn:aws:s3:::{bucket}/faultline.yaml"),
        "{stack}"
    );
    assert_eq!(
        stack["outputs"]["ReaderRoleArn"],
        "arn:aws:iam::123456789012:role/s3stack-config-reader"
    );
    // moto's CloudFormation applies a bucket's encryption and tags, not its versioning or
    // public access block: those are read from the template (cfn-lint and checkov check them
    // too), the encryption from the bucket.
    let template = template_json(
        &dir.path().join("faultline-setup.yaml"),
        &dir.path().join("setup.json"),
        false,
    );
    let properties = &template["Resources"]["ConfigBucket"]["Properties"];
    assert_eq!(properties["VersioningConfiguration"]["Status"], "Enabled");
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            properties["PublicAccessBlockConfiguration"][setting], true,
            "{setting}"
        );
    }
    env.assert_encrypted(bucket).await;

    // The read policy: init's, for this bucket.
    let by_init = env
        .policy_document(
            "arn:aws:iam::123456789012:policy/s3init-read-config-us-east-1",
            "v1",
        )
        .await;
    let by_stack = env
        .policy_document(
            "arn:aws:iam::123456789012:policy/s3stack-read-config-us-east-1",
            "v1",
        )
        .await;
    assert_eq!(
        by_stack.to_string(),
        by_init
            .to_string()
            .replace("s3init-config-", "s3stack-config-")
    );
    assert_eq!(
        by_stack["Statement"][1]["Action"], "s3:ListBucket",
        "{by_stack}"
    );
    // The reader role: the same statements as init's, trusted by the account given.
    let reader = |name: &'static str| {
        let iam = env.iam.clone();
        async move {
            let policy = iam
                .get_role_policy()
                .role_name(name)
                .policy_name("read-faultline-config")
                .send()
                .await
                .expect("the role's policy")
                .policy_document;
            let trust = iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .expect("the role")
                .role
                .and_then(|r| r.assume_role_policy_document)
                .unwrap_or_default();
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(text)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            // moto's CloudFormation keeps a role's inline policy as Python prints a dict.
            let policy = decode(&policy);
            let policy: Value = serde_json::from_str(&policy)
                .or_else(|_| serde_json::from_str(&policy.replace('\'', "\"")))
                .unwrap_or_else(|err| panic!("{err}: {policy}"));
            (policy, decode(&trust))
        }
    };
    let (stack_reads, stack_trust) = reader("s3stack-config-reader").await;
    let (init_reads, _) = reader("s3init-config-reader").await;
    assert_eq!(
        stack_reads.to_string(),
        init_reads
            .to_string()
            .replace("s3init-config-", "s3stack-config-")
    );
    assert!(stack_trust.contains("222222222222"), "{stack_trust}");
    assert!(!stack_reads.to_string().contains("DescribeAlarms"));

    // No object yet: no experiments, and `experiment start` creates it.
    let (code, out, err) = env.deployer(&["experiment", "list", "--name", "s3stack"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = env.deployer(&[
        "experiment",
        "start",
        "--name",
        "s3stack",
        "--flag",
        "ingress",
        "--latency",
        "100",
        "--experiment",
        "first",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let text = env
        .s3()
        .await
        .get_object()
        .bucket(bucket)
        .key("faultline.yaml")
        .send()
        .await
        .expect("the object experiment start wrote")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert!(String::from_utf8_lossy(&text).contains("first"));
}

/// The read policy is defined once: the setup stack given a customer managed key grants exactly
/// what `deployer init` grants for the same secret and key, `kms:ViaService` included (the
/// template once granted kms:Decrypt through any service).
#[tokio::test]
async fn cfn_setup_policy_with_a_customer_key_equals_inits() {
    let env = Env::start().await;
    let config = faultline_testkit::aws_config(&env.moto.endpoint, "testing", "testing").await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key_arn = kms
        .create_key()
        .send()
        .await
        .expect("key")
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("key arn")
        .to_string();
    let secret_arn = env
        .secrets
        .create_secret()
        .name("inittest-config")
        .kms_key_id(&key_arn)
        .secret_string("experiments: []\n")
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("arn");
    let dist = env.dist().to_string_lossy().into_owned();
    let (code, out, err) = env.deployer(&["init", "--name", "inittest", "--dist", &dist]);
    assert_eq!(code, 0, "{out}\n{err}");
    let by_init = env
        .policy_document(
            "arn:aws:iam::123456789012:policy/inittest-read-config-us-east-1",
            "v1",
        )
        .await;

    deploy_setup_stack(
        &env,
        "faultline-setup-kms",
        "kmstest",
        &secret_arn,
        Some(&key_arn),
    );
    let by_stack = env
        .policy_document(
            "arn:aws:iam::123456789012:policy/kmstest-read-config-us-east-1",
            "v1",
        )
        .await;
    assert_eq!(by_stack, by_init);
    assert_eq!(
        by_stack["Statement"][2]["Condition"]["StringEquals"]["kms:ViaService"],
        "secretsmanager.us-east-1.amazonaws.com"
    );
}

/// A template as JSON (`--transform`: a SAM template transformed to CloudFormation).
fn template_json(template: &Path, out: &Path, transform: bool) -> Value {
    let mut command = helper("cfn_json.py");
    command.arg(template).arg(out);
    if transform {
        command.arg("--transform");
    }
    run(&mut command);
    serde_json::from_str(&std::fs::read_to_string(out).expect("read")).expect("json")
}

/// The template's parameter defaults, plus `given`.
fn parameters(template: &Value, given: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = template["Parameters"]
        .as_object()
        .expect("parameters")
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.get("Default")?.as_str()?.to_string())))
        .collect();
    for (k, v) in given {
        params.insert(k.to_string(), v.to_string());
    }
    params
}

/// The layers, environment and role policies of the template's function, parameters resolved.
fn function_wiring(
    template: &Value,
    params: &BTreeMap<String, String>,
) -> (Vec<String>, BTreeMap<String, String>, Vec<String>) {
    let resources = template["Resources"].as_object().expect("resources");
    let function = resources
        .values()
        .find(|r| r["Type"] == "AWS::Lambda::Function")
        .expect("a function");
    let layers = function["Properties"]["Layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| resolve(l, params))
        .collect();
    let env = function["Properties"]["Environment"]["Variables"]
        .as_object()
        .expect("variables")
        .iter()
        .map(|(k, v)| (k.clone(), resolve(v, params)))
        .collect();
    let role = resources
        .values()
        .find(|r| r["Type"] == "AWS::IAM::Role")
        .expect("a role");
    let policies = role["Properties"]["ManagedPolicyArns"]
        .as_array()
        .expect("managed policies")
        .iter()
        .filter(|p| p.get("Fn::Sub").is_none())
        .map(|p| resolve(p, params))
        .collect();
    (layers, env, policies)
}

/// A CloudFormation value with `Ref`s to parameters replaced by their values.
fn resolve(value: &Value, params: &BTreeMap<String, String>) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(map) => {
            let name = map.get("Ref").and_then(Value::as_str).expect("a Ref");
            params
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("no parameter {name}"))
        }
        other => panic!("unexpected value {other}"),
    }
}

#[tokio::test]
async fn iac_wiring_equals_deployer_enable() {
    let env = Env::start().await;
    env.init();
    let shared = env.layer("shared-tools").await;
    let role = env.role("orders-plain-role").await;
    env.function(
        "orders-plain",
        &role,
        std::slice::from_ref(&shared),
        &OWN_ENV,
    )
    .await;
    let (code, out, err) = env.deployer(&["enable", "orders-plain", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (enabled_layers, mut enabled_env) = env.state("orders-plain").await;
    assert!(enabled_env.remove("FAULTLINE_SAVED").is_some());
    let secret_arn = enabled_env["GREMLIN_CONFIG_ARN"].clone();
    let policy_arn = "arn:aws:iam::123456789012:policy/faultline-read-config-us-east-1";

    // CloudFormation: the function template, its defaults filled in by --from-aws.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfn = dir.path().join("cfn");
    render("cfn", &cfn, &["--from-aws"], Some(&env));
    let stack = deploy_stack(
        &env,
        "orders",
        &cfn.join("faultline-function.yaml"),
        &[format!("SharedLayerArn={shared}")],
    );
    let function = stack["outputs"]["FunctionName"]
        .as_str()
        .expect("function name")
        .to_string();
    // moto's CloudFormation keeps a function's Environment but drops its Layers, and a role's
    // ManagedPolicyArns: the deployed environment is compared, the layers and the role's
    // policies as the template gives them.
    let (_, deployed_env) = env.state(&function).await;
    assert_eq!(
        deployed_env, enabled_env,
        "environment: CloudFormation vs enable"
    );
    let template = template_json(
        &cfn.join("faultline-function.yaml"),
        &dir.path().join("function.json"),
        false,
    );
    let params = parameters(&template, &[("SharedLayerArn", &shared)]);
    let (cfn_layers, cfn_env, cfn_policies) = function_wiring(&template, &params);
    assert_eq!(
        cfn_layers, enabled_layers,
        "layers: CloudFormation vs enable"
    );
    assert_eq!(cfn_env, enabled_env);
    assert_eq!(cfn_policies, [policy_arn]);
    // SAM: the example application, transformed offline, with the same parameters.
    let sam = dir.path().join("sam");
    render("sam", &sam, &["--from-aws"], Some(&env));
    let template = template_json(
        &sam.join("example-app.yaml"),
        &dir.path().join("example-app.json"),
        true,
    );
    let params = parameters(&template, &[("SharedLayerArn", &shared)]);
    let (sam_layers, sam_env, sam_policies) = function_wiring(&template, &params);
    assert_eq!(sam_layers, enabled_layers, "layers: SAM vs enable");
    assert_eq!(sam_env, enabled_env, "environment: SAM vs enable");
    assert!(
        sam_policies.iter().any(|p| p == policy_arn),
        "{sam_policies:?}"
    );

    // Terraform (no terraform binary here): the variables the function module sets are the
    // ones enable sets, with the same literal values.
    let parsed: Value = serde_json::from_str(&run(
        helper("check_terraform.py").arg(repo_root().join("terraform"))
    ))
    .expect("json");
    let wiring = parsed["modules/function/main.tf"]["locals"]["faultline_environment"]
        .as_object()
        .expect("faultline_environment");
    let mut keys: Vec<&str> = wiring.keys().map(String::as_str).collect();
    keys.extend(OWN_ENV.iter().map(|(k, _)| *k));
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(
        keys,
        enabled_env.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for (key, expression) in wiring {
        let expression = expression.as_str().expect("expression");
        let wanted = &enabled_env[key];
        match expression {
            "${var.config_arn}" => assert_eq!(wanted, &secret_arn),
            "${tostring(var.enabled)}" => assert_eq!(wanted, "true"),
            "${local.no_proxy}" => {
                assert!(wanted.ends_with(",localhost,127.0.0.1,169.254.169.254"))
            }
            literal => assert_eq!(&format!("\"{wanted}\""), literal, "{key}"),
        }
    }
}

/// Node.js 22/24 and Java functions: the Terraform module sets what `enable` sets
/// (NODE_USE_ENV_PROXY, faultline's options in JAVA_TOOL_OPTIONS), and the CloudFormation and
/// SAM templates give the same values to copy.
#[tokio::test]
async fn per_runtime_variables_in_the_templates_equal_deployer_enable() {
    use aws_sdk_lambda::types::Runtime;
    let env = Env::start().await;
    env.init();
    let role = env.role("runtimes-role").await;
    env.function_on(Runtime::Nodejs22x, "orders-node", &role, &[], &[])
        .await;
    env.function_on(Runtime::Java21, "orders-java", &role, &[], &[])
        .await;
    env.function_on(
        Runtime::Java21,
        "orders-java-own",
        &role,
        &[],
        &[(
            "JAVA_TOOL_OPTIONS",
            "-Xshare:off -Dhttps.proxyHost=old.corp",
        )],
    )
    .await;
    let (code, out, err) = env.deployer(&[
        "enable",
        "orders-node",
        "orders-java",
        "orders-java-own",
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, node) = env.state("orders-node").await;
    assert_eq!(node["NODE_USE_ENV_PROXY"], "1");
    let (_, java) = env.state("orders-java").await;
    let java_options = java["JAVA_TOOL_OPTIONS"].clone();
    let (_, java_own) = env.state("orders-java-own").await;
    assert_eq!(
        java_own["JAVA_TOOL_OPTIONS"],
        format!("-Xshare:off {java_options}"),
        "the function's own options first, its proxy option replaced"
    );

    // CloudFormation and SAM: the value to copy is the one enable sets.
    for template in [
        "cfn/faultline-function.yaml",
        "sam-templates/faultline-function-snippet.yaml",
    ] {
        let text = std::fs::read_to_string(repo_root().join(template)).expect("template");
        assert!(
            text.contains(&format!("JAVA_TOOL_OPTIONS: \"{java_options}\"")),
            "{template} gives another JAVA_TOOL_OPTIONS than enable's {java_options}"
        );
        assert!(
            text.contains("nodejs22.x, nodejs24.x") && text.contains("NODE_USE_ENV_PROXY: \"1\"")
        );
    }

    // Terraform: the module's runtime_environment has enable's options, in enable's order, and
    // drops the function's own options with the same prefixes.
    let parsed: Value = serde_json::from_str(&run(
        helper("check_terraform.py").arg(repo_root().join("terraform"))
    ))
    .expect("json");
    let locals = &parsed["modules/function/main.tf"]["locals"];
    let runtime_environment = locals["runtime_environment"].as_str().expect("expression");
    let quoted: Vec<String> = java_options
        .split(' ')
        .map(|option| format!("\"{option}\""))
        .collect();
    assert!(
        runtime_environment.contains(&quoted.join(", ")),
        "{runtime_environment}"
    );
    assert!(
        runtime_environment.contains("[\"nodejs22.x\", \"nodejs24.x\"]")
            && runtime_environment.contains("NODE_USE_ENV_PROXY = \"1\""),
        "{runtime_environment}"
    );
    let own = locals["own_java_options"].as_str().expect("expression");
    assert!(own.contains("\"-Dhttps.proxyHost=\""), "{own}");
}

/// `deployer stackset plan` prints the calls that set faultline up across organisational units
/// and Regions, and writes the StackSet template they read (the committed one); with `--apply`
/// moto's CloudFormation makes a service-managed StackSet with an instance in every account of
/// the unit in every Region, each deployed from the layer bucket of its Region. A second run
/// keeps the StackSet and adds no instance.
#[tokio::test]
async fn a_stackset_sets_up_every_account_of_an_ou_in_every_region() {
    let env = Env::start().await;
    let org: Value = serde_json::from_str(&run(helper("organization.py")
        .arg(&env.moto.endpoint)
        .args(["create", "workloads", "2"])))
    .expect("json");
    let ou = org["ou"].as_str().expect("ou").to_string();
    // The organisation's layer bucket in each Region (bucket names are global, in moto too).
    let zip = env.dist().join("faultline-layer-x86_64.zip");
    for region in ["us-east-1", "eu-west-1"] {
        run(helper("organization.py")
            .arg(&env.moto.endpoint)
            .args(["upload", &format!("org-layers-{region}")])
            .arg(format!("faultline-layer-x86_64.zip={}", zip.display()))
            .arg(format!("faultline-layer-arm64.zip={}", zip.display())));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let template = dir.path().join("stackset.yaml");
    let template_arg = template.to_string_lossy().into_owned();
    let plan = |apply: bool| {
        let mut args = vec![
            "stackset",
            "plan",
            "--ous",
            &ou,
            "--regions",
            "us-east-1,eu-west-1",
            "--layer-bucket",
            "org-layers",
            "--template-out",
            &template_arg,
        ];
        if apply {
            args.push("--apply");
        }
        env.deployer(&args)
    };

    let (code, out, err) = plan(false);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "aws cloudformation create-stack-set",
        "--stack-set-name faultline-setup",
        "--permission-model SERVICE_MANAGED",
        "--auto-deployment Enabled=true,RetainStacksOnAccountRemoval=true",
        "ParameterKey=LayerCodeBucket,ParameterValue=org-layers",
        "ParameterKey=ConfigStore,ParameterValue=s3",
        "aws cloudformation create-stack-instances",
        &format!("--deployment-targets OrganizationalUnitIds={ou}"),
        "--regions us-east-1 eu-west-1",
    ] {
        assert!(out.contains(line), "{line} in:\n{out}");
    }
    let written = std::fs::read_to_string(&template).expect("the template");
    let committed = std::fs::read_to_string(repo_root().join("cfn/faultline-setup-stackset.yaml"))
        .expect("committed");
    assert_eq!(written, committed);
    let instances = || -> Vec<Value> {
        serde_json::from_str(&run(helper("organization.py")
            .arg(&env.moto.endpoint)
            .args(["instances", "faultline-setup"])))
        .expect("json")
    };

    for (run_number, stack_set) in [(1, "created"), (2, "kept")] {
        let (code, out, err) = plan(true);
        assert_eq!(code, 0, "run {run_number}: {out}\n{err}");
        assert!(
            out.contains(&format!("StackSet faultline-setup ({stack_set}")),
            "{out}"
        );
        assert!(out.contains("SUCCEEDED"), "{out}");
        let mut targets: Vec<(String, String)> = instances()
            .iter()
            .map(|i| {
                (
                    i["account"].as_str().unwrap_or_default().to_string(),
                    i["region"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        targets.sort();
        let mut wanted: Vec<(String, String)> = org["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .flat_map(|a| ["eu-west-1", "us-east-1"].map(|r| (a.to_string(), r.to_string())))
            .collect();
        wanted.sort();
        assert_eq!(targets, wanted, "run {run_number}");
    }

    // Bad input: named, exit 2, nothing made.
    let (code, _, err) = env.deployer(&[
        "stackset",
        "plan",
        "--ous",
        "123456789012",
        "--regions",
        "us-east-1",
        "--layer-bucket",
        "x",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--ous"), "{err}");
}
