//! Terraform for real: the rendered modules and examples pass `terraform fmt -check` and
//! `validate`, and `examples/complete` is applied to moto, wires its function exactly as
//! `deployer enable` wires one, and is destroyed again. terraform and the hashicorp/aws provider
//! come from the machine (a filesystem mirror, `terraform init -plugin-dir`): where either is
//! missing, each test says so on stderr and checks nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the report

mod support;

use faultline_testkit::repo_root;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{EMPTY_ZIP, Env};

/// The provider mirror: FAULTLINE_TF_PLUGIN_DIR, else the machine image's /opt/tf-plugins.
fn plugin_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FAULTLINE_TF_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    dir.join("registry.terraform.io/hashicorp/aws")
        .is_dir()
        .then_some(dir)
}

/// terraform and the mirror, or why the test cannot run.
fn tools() -> Result<(PathBuf, PathBuf), String> {
    let terraform = faultline_testkit::on_path("terraform").ok_or("no terraform binary on PATH")?;
    let plugins = plugin_dir().ok_or(
        "no hashicorp/aws provider mirror (set FAULTLINE_TF_PLUGIN_DIR or provide /opt/tf-plugins)",
    )?;
    Ok((terraform, plugins))
}

fn terraform(binary: &Path, dir: &Path, args: &[&str]) -> String {
    let output = Command::new(binary)
        .current_dir(dir)
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("run terraform");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "terraform {args:?} in {} failed:\n{stdout}\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A copy of the committed terraform/ tree (state and .terraform stay out of the repository).
fn copy_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("terraform"))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(status.success());
    dir
}

const FOLDERS: [&str; 5] = [
    "modules/setup",
    "modules/function",
    "modules/dashboard",
    "examples/complete",
    "examples/existing-install",
];

#[test]
fn every_module_and_example_is_formatted_and_valid() {
    let (binary, plugins) = match tools() {
        Ok(tools) => tools,
        Err(missing) => {
            eprintln!("SKIPPED terraform fmt/validate: {missing}");
            return;
        }
    };
    let copy = copy_tree();
    let root = copy.path().join("terraform");
    terraform(&binary, &root, &["fmt", "-check", "-recursive", "-diff"]);
    let plugin_arg = format!("-plugin-dir={}", plugins.display());
    for folder in FOLDERS {
        let dir = root.join(folder);
        terraform(&binary, &dir, &["init", "-backend=false", &plugin_arg]);
        let out = terraform(&binary, &dir, &["validate", "-no-color"]);
        assert!(
            out.contains("The configuration is valid"),
            "{folder}: {out}"
        );
    }
}

/// The provider pointed at moto: written beside the example as an override file, which
/// Terraform merges into the example's own provider block.
fn moto_override(endpoint: &str) -> String {
    format!(
        r#"provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {{
    cloudwatch     = "{endpoint}"
    iam            = "{endpoint}"
    lambda         = "{endpoint}"
    s3             = "{endpoint}"
    secretsmanager = "{endpoint}"
    sts            = "{endpoint}"
  }}
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_complete_example_applies_to_moto_as_enable_wires_and_destroys() {
    let (binary, plugins) = match tools() {
        Ok(tools) => tools,
        Err(missing) => {
            eprintln!("SKIPPED terraform apply against moto: {missing}");
            return;
        }
    };
    // The example attaches AWSLambdaBasicExecutionRole: moto knows AWS managed policies only
    // when told to load them.
    let env = Env::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]).await;

    // `deployer enable` on a function like the example's, under another install name (the
    // example's setup creates faultline-config itself).
    let dist = env.dist().to_string_lossy().into_owned();
    let (code, out, err) = env.deployer(&["init", "--name", "tfinit", "--dist", &dist]);
    assert_eq!(code, 0, "{out}\n{err}");
    let shared = env.layer("shared-tools").await;
    let role = env.role("orders-plain-role").await;
    let own_env = [("LOG_LEVEL", "INFO"), ("NO_PROXY", "internal.example.com")];
    env.function(
        "orders-plain",
        &role,
        std::slice::from_ref(&shared),
        &own_env,
    )
    .await;
    let (code, out, err) = env.deployer(&[
        "enable",
        "orders-plain",
        "--yes",
        "--name",
        "tfinit",
        "--aws-services",
        "dynamodb,sqs",
        "--init-faults",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (enabled_layers, mut enabled_env) = env.state("orders-plain").await;
    assert!(enabled_env.remove("FAULTLINE_SAVED").is_some());
    let init_policy = env
        .policy_document(
            "arn:aws:iam::123456789012:policy/tfinit-read-config-us-east-1",
            "v1",
        )
        .await;

    let copy = copy_tree();
    let example = copy.path().join("terraform/examples/complete");
    std::fs::write(
        example.join("moto_override.tf"),
        moto_override(&env.moto.endpoint),
    )
    .expect("override");
    let function_zip = copy.path().join("function.zip");
    std::fs::write(&function_zip, EMPTY_ZIP).expect("zip");
    let vars = [
        "-var=region=us-east-1".to_string(),
        format!("-var=dist_dir={dist}"),
        format!("-var=function_zip={}", function_zip.display()),
        format!("-var=shared_layer_arn={shared}"),
        r#"-var=aws_services=["dynamodb","sqs"]"#.to_string(),
        "-var=init_faults=true".to_string(),
    ];
    let with_vars = |command: &[&str]| -> Vec<String> {
        command
            .iter()
            .map(|s| s.to_string())
            .chain(vars.iter().cloned())
            .collect()
    };
    let plugin_arg = format!("-plugin-dir={}", plugins.display());
    terraform(&binary, &example, &["init", &plugin_arg]);
    let apply = with_vars(&["apply", "-auto-approve", "-no-color"]);
    terraform(
        &binary,
        &example,
        &apply.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let outputs: serde_json::Value =
        serde_json::from_str(&terraform(&binary, &example, &["output", "-json"])).expect("outputs");
    let config_arn = outputs["config_arn"]["value"].as_str().expect("config arn");
    assert_eq!(
        config_arn,
        "arn:aws:s3:::faultline-config-123456789012-us-east-1/faultline.yaml"
    );

    // The function: faultline's variables as enable sets them, the config its own.
    let (layers, mut tf_env) = env.state("orders-example").await;
    assert_eq!(
        tf_env.remove("GREMLIN_CONFIG_ARN").as_deref(),
        Some(config_arn)
    );
    assert!(enabled_env.remove("GREMLIN_CONFIG_ARN").is_some());
    assert_eq!(tf_env, enabled_env, "environment: Terraform vs enable");
    assert_eq!(
        tf_env["AWS_ENDPOINT_URL_SQS"],
        "http://sqs.us-east-1.amazonaws.com:443"
    );
    assert_eq!(tf_env["FAULTLINE_INIT_FAULTS"], "true");
    // The layers: the function's own, then faultline's (of each install).
    assert_eq!(layers.len(), enabled_layers.len(), "{layers:?}");
    assert_eq!(layers[0], shared);
    assert_eq!(enabled_layers[0], shared);
    assert!(layers[1].contains(":layer:faultline-x86_64:"), "{layers:?}");
    assert!(enabled_layers[1].contains(":layer:tfinit-x86_64:"));
    // The read policy, attached to the role: init's document for this bucket.
    let tf_policy = "arn:aws:iam::123456789012:policy/faultline-read-config-us-east-1";
    let attached = env
        .iam
        .list_attached_role_policies()
        .role_name("orders-example")
        .send()
        .await
        .expect("attached");
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_arn() == Some(tf_policy)),
        "{attached:?}"
    );
    let expected: serde_json::Value = serde_json::from_str(
        &init_policy
            .to_string()
            .replace("tfinit-config-", "faultline-config-"),
    )
    .expect("json");
    assert_eq!(env.policy_document(tf_policy, "v1").await, expected);
    // The object Terraform wrote first is the config `deployer experiment` edits.
    let (code, out, err) = env.deployer(&["experiment", "list", "--output", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // destroy: the function, role, policy and config go; layer versions stay by design
    // (skip_destroy: functions may use them).
    let destroy = with_vars(&["destroy", "-auto-approve", "-no-color"]);
    terraform(
        &binary,
        &example,
        &destroy.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let functions = env.lambda.list_functions().send().await.expect("functions");
    let names: Vec<&str> = functions
        .functions()
        .iter()
        .filter_map(|f| f.function_name())
        .collect();
    assert_eq!(names, ["orders-plain"]);
    let roles = env.iam.list_roles().send().await.expect("roles");
    assert!(
        roles
            .roles()
            .iter()
            .all(|r| r.role_name() != "orders-example")
    );
    let policy = env.iam.get_policy().policy_arn(tf_policy).send().await;
    assert!(policy.is_err(), "{policy:?}");
    let bucket = env
        .s3()
        .await
        .list_objects_v2()
        .bucket("faultline-config-123456789012-us-east-1")
        .send()
        .await;
    assert!(bucket.is_err(), "{bucket:?}");
}

/// Every way the setup module keeps the config plans against moto (which serves the data
/// sources; nothing is created): each store's resources only, and where the policy is known
/// before apply (S3, a config read through a role) exactly the statements `deployer init`
/// writes for it (`deployer/src/install/read_policy.rs` is the one definition).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_module_plans_the_read_policy_of_every_store() {
    let (binary, plugins) = match tools() {
        Ok(tools) => tools,
        Err(missing) => {
            eprintln!("SKIPPED terraform plan against moto: {missing}");
            return;
        }
    };
    let env = Env::start().await;
    let copy = copy_tree();
    let root = copy.path().join("plan");
    std::fs::create_dir_all(&root).expect("dir");
    let zip = copy.path().join("layer.zip");
    std::fs::write(&zip, EMPTY_ZIP).expect("zip");
    std::fs::write(
        root.join("moto_override.tf"),
        moto_override(&env.moto.endpoint),
    )
    .expect("override");
    let plugin_arg = format!("-plugin-dir={}", plugins.display());
    let cases: [(&str, &str, &[&str], &[&str]); 4] = [
        (
            "s3",
            "",
            &["s3:GetObject", "s3:ListBucket", "aws_s3_bucket.config[0]"],
            &["secretsmanager:", "appconfig:"],
        ),
        (
            "secretsmanager",
            "",
            &["aws_secretsmanager_secret.config[0]"],
            &["aws_s3_bucket.config[0]", "aws_appconfig_application"],
        ),
        (
            "appconfig",
            "reader_accounts = [\"222222222222\"]",
            &[
                "aws_appconfig_deployment.config[0]",
                "aws_appconfig_deployment_strategy.config[0]",
                "aws_iam_role.reader[0]",
                "aws_iam_role_policy.reader[0]",
                "arn:aws:iam::222222222222:root",
            ],
            &[
                "aws_s3_bucket.config[0]",
                "aws_secretsmanager_secret.config[0]",
            ],
        ),
        (
            "s3",
            "config_arn = \"arn:aws:s3:::central/faultline.yaml\"\n  config_role_arn = \"arn:aws:iam::222222222222:role/faultline-config-reader\"",
            &["sts:AssumeRole", "faultline-config-reader"],
            &["s3:GetObject", "aws_s3_bucket.config[0]"],
        ),
    ];
    for (store, extra, present, absent) in cases {
        std::fs::write(
            root.join("main.tf"),
            format!(
                "module \"faultline\" {{\n  source = \"../terraform/modules/setup\"\n  \
                 store = \"{store}\"\n  {extra}\n  architectures = [\"x86_64\"]\n  \
                 layer_zip_files = {{ x86_64 = \"{}\" }}\n}}\n\nprovider \"aws\" {{\n  \
                 region = \"us-east-1\"\n}}\n",
                zip.display()
            ),
        )
        .expect("main.tf");
        terraform(&binary, &root, &["init", "-backend=false", &plugin_arg]);
        let plan = terraform(&binary, &root, &["plan", "-no-color"]);
        for wanted in present {
            assert!(
                plan.contains(wanted),
                "{store} {extra}: no {wanted} in\n{plan}"
            );
        }
        for unwanted in absent {
            assert!(
                !plan.contains(unwanted),
                "{store} {extra}: {unwanted} in\n{plan}"
            );
        }
    }
}
