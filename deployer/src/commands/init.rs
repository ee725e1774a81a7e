//! `deployer init`: the config store (a secret, or with `--store s3` an S3 object in a bucket of
//! its own), the managed policy that reads it, and the layer versions.
//!
//! Every input is checked before anything is changed: a config the schema refuses, or a layer
//! zip that is missing, fails with exit code 2 and nothing created. Running it twice changes
//! nothing: the secret is rewritten only when its text differs, the policy only when its document
//! differs, and a layer version is published only when the zip's SHA-256 (kept in the layer
//! description) differs from the newest version's.

use crate::aws::Aws;
use crate::error::DeployError;
use crate::global::Global;
use crate::install::store::{Store, StoreKind};
use crate::install::zips::{self, LayerZip, ZipSource};
use crate::install::{
    appconfig, config_object, layer, names, policy, read_policy, reader_role, secret,
};
use crate::output::{self, Report};
use faultline_schema::config::Config;
use serde::Serialize;
use std::fmt;
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
    /// Accounts whose functions read this config (12-digit ids, comma-separated): creates the
    /// role <name>-config-reader they assume to read it
    #[arg(long, value_delimiter = ',')]
    pub reader_accounts: Vec<String>,
    /// The config kept in another account (its ARN), read through --config-role: no store is
    /// made here, and the read policy allows assuming that role only
    #[arg(long, requires = "config_role", conflicts_with_all = ["config", "reader_accounts"])]
    pub config_arn: Option<String>,
    /// The role in the config's account to read --config-arn with (what `init
    /// --reader-accounts` made there)
    #[arg(long, requires = "config_arn")]
    pub config_role: Option<String>,
}

/// `--config-arn` and `--config-role`, checked.
fn central(args: &Args) -> Result<Option<(String, String)>, DeployError> {
    let (Some(arn), Some(role)) = (&args.config_arn, &args.config_role) else {
        return Ok(None);
    };
    Ok(Some((
        reader_role::config_arn(arn)?,
        reader_role::config_role(role)?,
    )))
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

pub async fn run(global: &Global, args: &Args) -> Result<(), DeployError> {
    // Inputs first: nothing is created when one of them is wrong.
    let config = read_config(args.config.as_deref())?;
    let readers = reader_role::parse_accounts(&args.reader_accounts)?;
    let central = central(args)?;
    let zips = zips::read(&ZipSource {
        arch: &args.arch,
        layer_zip: args.layer_zip.as_deref(),
        dist: args.dist.as_deref(),
    })?;
    let aws_ = Aws::connect(&global.aws).await?;
    let account = aws_.account().await?;

    let dry_run = args.dry_run;
    // Here, or (Err) kept in another account and read through a role there.
    let store = match &central {
        Some(elsewhere) => Err(elsewhere),
        None => Ok(Store::of(&aws_, global.store, &global.name).await?),
    };
    let (config_store, kms_key) = match &store {
        Err((arn, role)) => (
            StoreReport {
                store: None,
                arn: arn.clone(),
                action: format!("kept in another account, read through role {role}"),
                removed_experiments: Vec::new(),
            },
            None,
        ),
        Ok(Store::Secret(name)) => {
            let secret = secret::ensure(&aws_, name, config.as_deref(), dry_run).await?;
            let report = StoreReport {
                store: Some(StoreKind::Secretsmanager),
                arn: secret.arn,
                action: secret.action,
                removed_experiments: secret.removed,
            };
            (report, secret.kms_key)
        }
        Ok(store @ Store::Object { .. }) => {
            let object = config_object::ensure(&aws_, store, config.as_deref(), dry_run).await?;
            let report = StoreReport {
                store: Some(StoreKind::S3),
                arn: object.arn,
                action: object.action,
                removed_experiments: object.removed,
            };
            (report, None)
        }
        Ok(Store::AppConfig { name, ids }) => {
            let config =
                appconfig::ensure(&aws_, name, ids.as_ref(), config.as_deref(), dry_run).await?;
            let report = StoreReport {
                store: Some(StoreKind::Appconfig),
                arn: config.arn,
                action: config.action,
                removed_experiments: config.removed,
            };
            (report, None)
        }
    };
    let policy_name = names::policy(&global.name, &aws_.region);
    let policy_arn = names::policy_arn(&account, &global.name, &aws_.region);
    let key_arn = policy::customer_key_arn(&aws_, kms_key.as_deref()).await?;
    let home = read_policy::ArnHome {
        partition: &account.partition,
        region: &aws_.region,
        account: &account.id,
    };
    let role = central.as_ref().map(|(_, role)| role.as_str());
    let document = read_policy::document(&config_store.arn, key_arn.as_deref(), home, role);
    let reader = if readers.is_empty() {
        None
    } else {
        let reads = read_policy::store_statements(&config_store.arn, key_arn.as_deref(), home);
        let (arn, action) =
            reader_role::ensure(&aws_, &account, &global.name, &readers, &reads, dry_run).await?;
        Some(ReaderReport {
            arn,
            action,
            accounts: readers,
        })
    };
    let policy_action =
        policy::ensure(&aws_, &policy_arn, &policy_name, &document, dry_run).await?;

    let mut layers = Vec::new();
    for zip in &zips {
        let (arn, action) = layer::ensure(&aws_, &global.name, zip, dry_run).await?;
        layers.push(LayerReport::new(zip, arn, action));
    }
    let report = InitReport {
        dry_run,
        config_store,
        policy: PolicyReport {
            arn: policy_arn,
            action: policy_action,
        },
        reader_role: reader,
        layers,
    };
    output::print(global.output, &report);
    Ok(())
}

/// What `init` did, or with `--dry-run` would do.
#[derive(Debug, Serialize)]
struct InitReport {
    dry_run: bool,
    /// The config store (named `secret` in the JSON before stores could differ).
    #[serde(rename = "secret")]
    config_store: StoreReport,
    policy: PolicyReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    reader_role: Option<ReaderReport>,
    layers: Vec<LayerReport>,
}

#[derive(Debug, Serialize)]
struct StoreReport {
    /// None: the config is kept in another account.
    store: Option<StoreKind>,
    arn: String,
    action: String,
    removed_experiments: Vec<String>,
}

/// The role other accounts assume to read this config.
#[derive(Debug, Serialize)]
struct ReaderReport {
    arn: String,
    action: &'static str,
    accounts: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PolicyReport {
    arn: String,
    action: &'static str,
}

#[derive(Debug, Serialize)]
struct LayerReport {
    arch: &'static str,
    arn: String,
    action: &'static str,
    /// Where the zip came from.
    zip: String,
    sha256: String,
}

impl LayerReport {
    fn new(zip: &LayerZip, arn: String, action: &'static str) -> LayerReport {
        LayerReport {
            arch: zip.arch.as_str(),
            arn,
            action,
            zip: zip.origin.clone(),
            sha256: zip.sha256.clone(),
        }
    }
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "dry run: nothing was changed")?;
        }
        let label = match self.config_store.store {
            Some(StoreKind::Secretsmanager) => "secret",
            _ => "config",
        };
        write!(
            f,
            "{label:<7} {} ({})\npolicy  {} ({})",
            self.config_store.arn, self.config_store.action, self.policy.arn, self.policy.action
        )?;
        if !self.config_store.removed_experiments.is_empty() {
            write!(
                f,
                "\nexperiments removed by --config: {}",
                self.config_store.removed_experiments.join(", ")
            )?;
        }
        if let Some(reader) = &self.reader_role {
            write!(
                f,
                "\nrole    {} ({}; assumed by accounts {} to read the config: enable their \
                 functions with --config-arn {} --config-role {})",
                reader.arn,
                reader.action,
                reader.accounts.join(", "),
                self.config_store.arn,
                reader.arn
            )?;
        }
        for layer in &self.layers {
            write!(
                f,
                "\nlayer   {} ({}, {}; zip {}, SHA-256 {})",
                layer.arn, layer.arch, layer.action, layer.zip, layer.sha256
            )?;
        }
        Ok(())
    }
}

impl Report for InitReport {}
