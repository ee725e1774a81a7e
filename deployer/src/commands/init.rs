//! `deployer init`: the config secret, the managed policy that reads it, and the layer versions.
//!
//! Every input is checked before anything is changed: a config the schema refuses, or a layer
//! zip that is missing, fails with exit code 2 and nothing created. Running it twice changes
//! nothing: the secret is rewritten only when its text differs, the policy only when its document
//! differs, and a layer version is published only when the zip's SHA-256 (kept in the layer
//! description) differs from the newest version's.

use crate::aws::Aws;
use crate::cli::Global;
use crate::error::{DeployError, aws};
use crate::install::layer::latest_layer_version;
use crate::install::policy::{self, policy_document};
use crate::install::secret;
use crate::install::{embedded, layer, names};
use crate::output;
use crate::plan::Arch;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, LayerVersionContentInput};
use faultline_schema::config::Config;
use percent_encoding::percent_decode_str;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `deployer init`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The YAML config to store in the secret (default: an empty config)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Architectures to publish layers for (default: x86_64,arm64; with --layer-zip, the zip's
    /// own, read from its extension binary)
    #[arg(long, value_delimiter = ',')]
    pub arch: Vec<String>,
    /// A layer zip built elsewhere; its architecture is read from the binary inside
    #[arg(long)]
    pub layer_zip: Option<PathBuf>,
    /// Where `make layer` put the zips (default: ./dist when it holds them, else the zips
    /// embedded in this deployer when installed from the wheel)
    #[arg(long)]
    pub dist: Option<PathBuf>,
    /// Show what would be created or changed, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// The config stored when `init` is given none.
const DEFAULT_CONFIG: &str =
    "# faultline config: see the README's configuration reference\nexperiments: []\n";

/// A validated layer zip for one architecture.
struct LayerZip {
    arch: Arch,
    /// Where it came from: a path, or this deployer.
    origin: String,
    bytes: Vec<u8>,
    sha256: String,
}

/// The config text of `--config`, refused with its key path and reason if the schema says no.
fn read_config(path: Option<&Path>) -> Result<Option<String>, DeployError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| DeployError::Input(format!("cannot read {}: {err}", path.display())))?;
    Config::parse_strict(&text).map_err(|err| {
        DeployError::Input(format!("{}: {err}; nothing was uploaded", path.display()))
    })?;
    Ok(Some(text))
}

/// The experiments of `before` that `after` no longer has, by name.
fn removed_experiments(before: &str, after: &str) -> Vec<String> {
    let names = |text: &str| -> Vec<String> {
        Config::parse(text)
            .map(|c| c.experiments.into_iter().map(|e| e.name).collect())
            .unwrap_or_default()
    };
    let kept = names(after);
    names(before)
        .into_iter()
        .filter(|name| !kept.contains(name))
        .collect()
}

/// What `init` did (or, with --dry-run, would do) to the secret.
struct SecretOutcome {
    arn: String,
    kms_key: Option<String>,
    action: String,
    removed: Vec<String>,
}

fn read_zips(args: &Args) -> Result<Vec<LayerZip>, DeployError> {
    let given = Arch::parse_list(&args.arch).map_err(DeployError::Input)?;
    if let Some(path) = &args.layer_zip {
        let bytes = std::fs::read(path)
            .map_err(|err| DeployError::Input(format!("--layer-zip {}: {err}", path.display())))?;
        let found = layer::zip_arch(&bytes).map_err(|reason| {
            DeployError::Input(format!("--layer-zip {}: {reason}", path.display()))
        })?;
        let arch = match (found, given.as_slice()) {
            (Some(found), []) => found,
            (Some(found), [arch]) if *arch == found => found,
            (Some(found), _) => {
                return Err(DeployError::Input(format!(
                    "--layer-zip {}: its extension is built for {found}, not --arch {}",
                    path.display(),
                    args.arch.join(",")
                )));
            }
            (None, [arch]) => *arch,
            (None, _) => {
                return Err(DeployError::Input(format!(
                    "--layer-zip {}: no extension binary tells its architecture: give one --arch",
                    path.display()
                )));
            }
        };
        let sha256 = hex(&Sha256::digest(&bytes));
        return Ok(vec![LayerZip {
            arch,
            origin: path.display().to_string(),
            bytes,
            sha256,
        }]);
    }
    let arches = if given.is_empty() {
        vec![Arch::X86_64, Arch::Arm64]
    } else {
        given
    };
    let zip_in = |dir: &Path, arch: Arch| dir.join(format!("faultline-layer-{arch}.zip"));
    // A source checkout's dist/ wins over the embedded zips; an explicit --dist must hold them.
    let dist = match &args.dist {
        Some(dir) => Some(dir.clone()),
        None => {
            let default = PathBuf::from("dist");
            arches
                .iter()
                .all(|&arch| zip_in(&default, arch).is_file())
                .then_some(default)
        }
    };
    arches
        .into_iter()
        .map(|arch| {
            if let Some(dir) = &dist {
                let path = zip_in(dir, arch);
                let bytes = std::fs::read(&path).map_err(|err| {
                    DeployError::Input(format!(
                        "layer zip {} for {arch}: {err}; run `make layer` (or `deployer layer build`) or pass --layer-zip",
                        path.display()
                    ))
                })?;
                let sha256 = hex(&Sha256::digest(&bytes));
                return Ok(LayerZip {
                    arch,
                    origin: path.display().to_string(),
                    bytes,
                    sha256,
                });
            }
            let layer = embedded::layer(arch).ok_or_else(|| {
                DeployError::Input(format!(
                    "no layer zip for {arch}: this deployer embeds none (installed from source) \
                     and there is no dist/faultline-layer-{arch}.zip; run `make layer` or pass \
                     --layer-zip or --dist"
                ))
            })?;
            Ok(LayerZip {
                arch,
                origin: format!("embedded in this deployer {}", env!("CARGO_PKG_VERSION")),
                bytes: layer.zip.to_vec(),
                sha256: layer.sha256.to_string(),
            })
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the secret, or leaves an existing one's text alone unless `--config` gave another
/// (then it is replaced through the same compare-and-swap edit as `experiment`, so a concurrent
/// edit is never lost, and the experiments that go are named).
async fn ensure_secret(
    aws_: &Aws,
    name: &str,
    text: Option<&str>,
    dry_run: bool,
) -> Result<SecretOutcome, DeployError> {
    let context = format!("secret {name}");
    match aws_.secrets.describe_secret().secret_id(name).send().await {
        Ok(described) => {
            let arn = described
                .arn
                .ok_or_else(|| DeployError::Failed(format!("{context}: no ARN returned")))?;
            // A secret without a current value (created empty elsewhere) gets one.
            let current = match aws_
                .secrets
                .get_secret_value()
                .secret_id(&arn)
                .version_stage("AWSCURRENT")
                .send()
                .await
            {
                Ok(value) => value.secret_string,
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    None
                }
                Err(err) => return Err(aws(format!("reading {context}"), err)),
            };
            let outcome = |action: &str, removed: Vec<String>| SecretOutcome {
                arn: arn.clone(),
                kms_key: described.kms_key_id.clone(),
                action: action.to_string(),
                removed,
            };
            match (current.as_deref(), text) {
                (Some(_), None) => Ok(outcome(
                    "kept: its experiments and settings are left as they are (--config replaces them)",
                    Vec::new(),
                )),
                (Some(current), Some(text)) if current == text => {
                    Ok(outcome("unchanged", Vec::new()))
                }
                (Some(current), Some(text)) => {
                    let removed = removed_experiments(current, text);
                    if dry_run {
                        return Ok(outcome("would be replaced by --config", removed));
                    }
                    secret::edit(
                        aws_,
                        &arn,
                        |now| Ok((now != text).then(|| text.to_string())),
                    )
                    .await?;
                    Ok(outcome("replaced by --config", removed))
                }
                (None, text) => {
                    if dry_run {
                        return Ok(outcome("would get a value", Vec::new()));
                    }
                    aws_.secrets
                        .put_secret_value()
                        .secret_id(&arn)
                        .secret_string(text.unwrap_or(DEFAULT_CONFIG))
                        .send()
                        .await
                        .map_err(|err| aws(format!("updating {context}"), err))?;
                    Ok(outcome("given a value", Vec::new()))
                }
            }
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            if dry_run {
                return Ok(SecretOutcome {
                    arn: format!("(new secret {name})"),
                    kms_key: None,
                    action: "would be created".into(),
                    removed: Vec::new(),
                });
            }
            // Secrets Manager keeps no value for an empty string: store a valid, empty config.
            let created = aws_
                .secrets
                .create_secret()
                .name(name)
                .description("faultline config: experiments and settings (YAML)")
                .secret_string(text.unwrap_or(DEFAULT_CONFIG))
                .send()
                .await
                .map_err(|err| aws(format!("creating {context}"), err))?;
            let arn = created
                .arn
                .ok_or_else(|| DeployError::Failed(format!("{context}: no ARN returned")))?;
            Ok(SecretOutcome {
                arn,
                kms_key: None,
                action: "created".into(),
                removed: Vec::new(),
            })
        }
        Err(err) => Err(aws(format!("reading {context}"), err)),
    }
}

async fn ensure_policy(
    aws_: &Aws,
    policy_arn: &str,
    policy_name: &str,
    document: &serde_json::Value,
    dry_run: bool,
) -> Result<&'static str, DeployError> {
    let text = document.to_string();
    let context = format!("policy {policy_name}");
    match aws_.iam.get_policy().policy_arn(policy_arn).send().await {
        Ok(found) => {
            let default_version = found
                .policy
                .and_then(|p| p.default_version_id)
                .unwrap_or_default();
            let version = aws_
                .iam
                .get_policy_version()
                .policy_arn(policy_arn)
                .version_id(&default_version)
                .send()
                .await
                .map_err(|err| aws(format!("reading {context}"), err))?;
            let current = version
                .policy_version
                .and_then(|v| v.document)
                // IAM returns policy documents URL-encoded.
                .map(|d| percent_decode_str(&d).decode_utf8_lossy().into_owned())
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok());
            if current.as_ref() == Some(document) {
                return Ok("unchanged");
            }
            if dry_run {
                return Ok("would be updated");
            }
            // IAM keeps five versions: drop the oldest non-default one first.
            let versions = aws_
                .iam
                .list_policy_versions()
                .policy_arn(policy_arn)
                .send()
                .await
                .map_err(|err| aws(format!("listing versions of {context}"), err))?;
            let versions = versions.versions.unwrap_or_default();
            if versions.len() >= 5
                && let Some(oldest) = versions
                    .iter()
                    .filter(|v| !v.is_default_version)
                    .filter_map(|v| v.version_id.clone())
                    // Version ids are v1, v2, ...: the lowest number is the oldest.
                    .min_by_key(|id| id.trim_start_matches('v').parse::<u64>().unwrap_or(0))
            {
                aws_.iam
                    .delete_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(oldest)
                    .send()
                    .await
                    .map_err(|err| aws(format!("pruning {context}"), err))?;
            }
            aws_.iam
                .create_policy_version()
                .policy_arn(policy_arn)
                .policy_document(text)
                .set_as_default(true)
                .send()
                .await
                .map_err(|err| aws(format!("updating {context}"), err))?;
            Ok("updated")
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            if dry_run {
                return Ok("would be created");
            }
            aws_.iam
                .create_policy()
                .policy_name(policy_name)
                .description("Lets faultline read its config secret")
                .policy_document(text)
                .send()
                .await
                .map_err(|err| aws(format!("creating {context}"), err))?;
            Ok("created")
        }
        Err(err) => Err(aws(format!("reading {context}"), err)),
    }
}

async fn ensure_layer(
    aws_: &Aws,
    name: &str,
    zip: &LayerZip,
    dry_run: bool,
) -> Result<(String, &'static str), DeployError> {
    let layer_name = names::layer(name, zip.arch);
    let marker = format!("sha256:{}", zip.sha256);
    if let Some((arn, description)) = latest_layer_version(aws_, &layer_name).await?
        && description.contains(&marker)
    {
        return Ok((arn, "unchanged"));
    }
    if dry_run {
        return Ok((
            format!("(new version of {layer_name})"),
            "would be published",
        ));
    }
    let architecture = match zip.arch {
        Arch::X86_64 => Architecture::X8664,
        Arch::Arm64 => Architecture::Arm64,
    };
    let published = aws_
        .lambda
        .publish_layer_version()
        .layer_name(&layer_name)
        .description(format!("faultline {} {marker}", env!("CARGO_PKG_VERSION")))
        .content(
            LayerVersionContentInput::builder()
                .zip_file(Blob::new(zip.bytes.clone()))
                .build(),
        )
        .compatible_architectures(architecture)
        .license_info("Apache-2.0")
        .send()
        .await
        .map_err(|err| {
            aws(
                format!("publishing layer {layer_name} from {}", zip.origin),
                err,
            )
        })?;
    let arn = published
        .layer_version_arn
        .ok_or_else(|| DeployError::Failed(format!("layer {layer_name}: no ARN returned")))?;
    Ok((arn, "published"))
}

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    // Inputs first: nothing is created when one of them is wrong.
    let config = read_config(args.config.as_deref())?;
    let zips = read_zips(args)?;
    let aws_ = Aws::connect(global).await?;
    let account = aws_.account().await?;

    let dry_run = args.dry_run;
    let secret_name = names::secret(&global.name);
    let secret = ensure_secret(&aws_, &secret_name, config.as_deref(), dry_run).await?;
    let policy_name = names::policy(&global.name, &aws_.region);
    let policy_arn = names::policy_arn(&account, &global.name, &aws_.region);
    let key_arn = policy::customer_key_arn(&aws_, secret.kms_key.as_deref()).await?;
    let document = policy_document(&secret.arn, key_arn.as_deref());
    let policy_action = ensure_policy(&aws_, &policy_arn, &policy_name, &document, dry_run).await?;

    let mut layers = Vec::new();
    for zip in &zips {
        let (arn, action) = ensure_layer(&aws_, &global.name, zip, dry_run).await?;
        layers.push((zip, arn, action));
    }

    let (secret_arn, secret_action) = (&secret.arn, &secret.action);
    let mut text = String::new();
    if dry_run {
        text.push_str("dry run: nothing was changed\n");
    }
    text.push_str(&format!(
        "secret  {secret_arn} ({secret_action})\npolicy  {policy_arn} ({policy_action})"
    ));
    if !secret.removed.is_empty() {
        text.push_str(&format!(
            "\nexperiments removed by --config: {}",
            secret.removed.join(", ")
        ));
    }
    for (zip, arn, action) in &layers {
        text.push_str(&format!(
            "\nlayer   {arn} ({}, {action}; zip {}, SHA-256 {})",
            zip.arch, zip.origin, zip.sha256
        ));
    }
    let json = json!({
        "dry_run": dry_run,
        "secret": {"arn": secret_arn, "action": secret_action, "removed_experiments": secret.removed},
        "policy": {"arn": policy_arn, "action": policy_action},
        "layers": layers.iter().map(|(zip, arn, action)| json!({"arch": zip.arch.as_str(), "arn": arn, "action": action, "zip": zip.origin, "sha256": zip.sha256})).collect::<Vec<_>>(),
    });
    output::print(global.output, &text, &json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_exactly_the_secret() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123:secret:faultline-config-AbCdEf";
        let doc = policy_document(arn, None);
        assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["Statement"][0]["Resource"], arn);
        assert_eq!(doc["Statement"][1]["Action"], "cloudwatch:DescribeAlarms");
        assert_eq!(
            doc["Statement"][1]["Resource"],
            "arn:aws:cloudwatch:eu-west-1:123:alarm:*"
        );
        let with_key = policy_document(arn, Some("arn:aws:kms:eu-west-1:123:key/k1"));
        assert_eq!(with_key["Statement"][2]["Action"], "kms:Decrypt");
        assert_eq!(
            with_key["Statement"][2]["Resource"],
            "arn:aws:kms:eu-west-1:123:key/k1"
        );
        assert_eq!(
            with_key["Statement"][2]["Condition"]["StringEquals"]["kms:ViaService"],
            "secretsmanager.eu-west-1.amazonaws.com"
        );
        let china = policy_document(
            "arn:aws-cn:secretsmanager:cn-north-1:123:secret:faultline-config-AbCdEf",
            None,
        );
        assert_eq!(
            china["Statement"][1]["Resource"],
            "arn:aws-cn:cloudwatch:cn-north-1:123:alarm:*"
        );
    }

    #[test]
    fn removed_experiments_are_named() {
        let before = "experiments: [{name: a, flag: x, effect: {latency: 1}}, {name: b, flag: x, effect: {latency: 1}}]";
        let after = "experiments: [{name: b, flag: x, effect: {latency: 2}}]";
        assert_eq!(removed_experiments(before, after), ["a"]);
        assert!(removed_experiments(after, before).is_empty());
    }
}
