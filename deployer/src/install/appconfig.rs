//! The config as an AppConfig hosted configuration (`--store appconfig`): the application
//! `<name>`, its environment and freeform profile, and a deployment strategy that deploys at
//! once (no duration, no bake time). The config is the latest hosted version; an edit creates
//! the next one with AppConfig's locking token (`LatestVersionNumber`: refused with a conflict
//! when somebody else created one first), then deploys it. Functions read it through the data
//! plane as `appconfig:APPLICATION_ID/ENVIRONMENT_ID/PROFILE_ID`.

use super::config_object::ObjectOutcome;
use super::names;
use super::secret::DEFAULT_CONFIG;
use super::store::{self, Store, Written};
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use aws_sdk_appconfig::error::ProvideErrorMetadata as _;
use aws_sdk_appconfig::primitives::Blob;
use aws_sdk_appconfig::types::ReplicateTo;
use std::time::Duration;

/// The ids of an install's application, environment and profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub application: String,
    pub environment: String,
    pub profile: String,
}

impl Ids {
    /// GREMLIN_CONFIG_ARN for these ids.
    pub fn config_arn(&self) -> String {
        format!(
            "appconfig:{}/{}/{}",
            self.application, self.environment, self.profile
        )
    }
}

/// The content type of every version faultline writes.
const CONTENT_TYPE: &str = "application/x-yaml";

/// Tries of a deployment while another one to the environment is in progress.
const DEPLOY_ATTEMPTS: u32 = 60;

fn context(name: &str) -> String {
    format!(
        "AppConfig application {}",
        names::appconfig_application(name)
    )
}

/// The id of the application named `name`, if it exists.
async fn application(aws_: &Aws, name: &str) -> Result<Option<String>, DeployError> {
    let wanted = names::appconfig_application(name);
    let mut pages = aws_
        .appconfig
        .list_applications()
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|err| aws(format!("listing {}", context(name)), err))?;
        if item.name() == Some(wanted.as_str()) {
            return Ok(item.id().map(str::to_string));
        }
    }
    Ok(None)
}

/// The ids of the install's application, environment and profile, when all three exist.
pub async fn ids(aws_: &Aws, name: &str) -> Result<Option<Ids>, DeployError> {
    let Some(app) = application(aws_, name).await? else {
        return Ok(None);
    };
    let environments = aws_
        .appconfig
        .list_environments()
        .application_id(&app)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| {
            aws(
                format!("listing the environments of {}", context(name)),
                err,
            )
        })?;
    let profiles = aws_
        .appconfig
        .list_configuration_profiles()
        .application_id(&app)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| aws(format!("listing the profiles of {}", context(name)), err))?;
    let environment = environments
        .iter()
        .find(|e| e.name() == Some(names::APPCONFIG_ENVIRONMENT))
        .and_then(|e| e.id());
    let profile = profiles
        .iter()
        .find(|p| p.name() == Some(names::APPCONFIG_PROFILE))
        .and_then(|p| p.id());
    Ok(match (environment, profile) {
        (Some(environment), Some(profile)) => Some(Ids {
            application: app,
            environment: environment.to_string(),
            profile: profile.to_string(),
        }),
        _ => None,
    })
}

/// The install's ids (found with [`ids`]), or an input error that says to run init.
pub fn require<'a>(name: &str, ids: Option<&'a Ids>) -> Result<&'a Ids, DeployError> {
    ids.ok_or_else(|| {
        DeployError::Input(format!(
            "{} (environment {}, profile {}) not found: run `deployer init --store appconfig` \
             first",
            context(name),
            names::APPCONFIG_ENVIRONMENT,
            names::APPCONFIG_PROFILE
        ))
    })
}

/// The latest hosted version's number (0: none yet).
async fn latest(aws_: &Aws, ids: &Ids) -> Result<i32, DeployError> {
    let versions = aws_
        .appconfig
        .list_hosted_configuration_versions()
        .application_id(&ids.application)
        .configuration_profile_id(&ids.profile)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| aws("listing the config's AppConfig versions", err))?;
    Ok(versions
        .iter()
        .map(|v| v.version_number())
        .max()
        .unwrap_or(0))
}

/// The latest version's text and number ("0" and an empty config when there is none).
pub async fn read(aws_: &Aws, ids: &Ids) -> Result<(String, String), DeployError> {
    let number = latest(aws_, ids).await?;
    if number == 0 {
        return Ok((String::new(), "0".into()));
    }
    let version = aws_
        .appconfig
        .get_hosted_configuration_version()
        .application_id(&ids.application)
        .configuration_profile_id(&ids.profile)
        .version_number(number)
        .send()
        .await
        .map_err(|err| aws(format!("reading AppConfig version {number}"), err))?;
    let bytes = version
        .content()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let text = String::from_utf8(bytes)
        .map_err(|_| DeployError::Failed(format!("AppConfig version {number} is not UTF-8")))?;
    Ok((text, number.to_string()))
}

/// Creates the next version if `version` is still the latest, then deploys it.
pub async fn write_if(
    aws_: &Aws,
    name: &str,
    ids: &Ids,
    text: &str,
    version: &str,
) -> Result<Written, DeployError> {
    let mut create = aws_
        .appconfig
        .create_hosted_configuration_version()
        .application_id(&ids.application)
        .configuration_profile_id(&ids.profile)
        .content_type(CONTENT_TYPE)
        .description("written by deployer")
        .content(Blob::new(text.as_bytes()));
    if let Ok(latest) = version.parse::<i32>()
        && latest > 0
    {
        create = create.latest_version_number(latest);
    }
    let created = match create.send().await {
        Ok(created) => created.version_number(),
        Err(err) if err.code() == Some("ConflictException") => return Ok(Written::Lost),
        Err(err) => return Err(aws("writing the config to AppConfig", err)),
    };
    deploy(aws_, name, ids, created).await?;
    Ok(Written::Won)
}

/// Deploys `version` with the immediate strategy, unless a newer version exists (its writer
/// deploys it), waiting out a deployment in progress; then makes sure no newer version was
/// deployed before it (two writers racing), deploying the latest if one was.
async fn deploy(aws_: &Aws, name: &str, ids: &Ids, version: i32) -> Result<(), DeployError> {
    let strategy = strategy(aws_, name).await?;
    let mut version = version;
    loop {
        if latest(aws_, ids).await? != version {
            return Ok(());
        }
        start_deployment(aws_, ids, &strategy, version).await?;
        let now = latest(aws_, ids).await?;
        if now == version {
            return Ok(());
        }
        version = now;
    }
}

async fn start_deployment(
    aws_: &Aws,
    ids: &Ids,
    strategy: &str,
    version: i32,
) -> Result<(), DeployError> {
    for _ in 0..DEPLOY_ATTEMPTS {
        let started = aws_
            .appconfig
            .start_deployment()
            .application_id(&ids.application)
            .environment_id(&ids.environment)
            .configuration_profile_id(&ids.profile)
            .deployment_strategy_id(strategy)
            .configuration_version(version.to_string())
            .description("faultline: deployer experiment")
            .send()
            .await;
        match started {
            Ok(_) => return Ok(()),
            // Another deployment to the environment is in progress.
            Err(err) if err.code() == Some("ConflictException") => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => {
                return Err(aws(format!("deploying AppConfig version {version}"), err));
            }
        }
    }
    Err(DeployError::Failed(format!(
        "AppConfig version {version} could not be deployed: another deployment kept the \
         environment busy for {} s",
        DEPLOY_ATTEMPTS / 2
    )))
}

/// The id of the install's deployment strategy.
async fn strategy(aws_: &Aws, name: &str) -> Result<String, DeployError> {
    let wanted = names::appconfig_strategy(name);
    let strategies = aws_
        .appconfig
        .list_deployment_strategies()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| aws("listing AppConfig deployment strategies", err))?;
    strategies
        .iter()
        .find(|s| s.name() == Some(wanted.as_str()))
        .and_then(|s| s.id())
        .map(str::to_string)
        .ok_or_else(|| {
            DeployError::Input(format!(
                "AppConfig deployment strategy {wanted} not found: run `deployer init --store \
                 appconfig` first"
            ))
        })
}

/// Creates what is missing (application, environment, freeform profile, immediate strategy),
/// then the first version (with `text`, else an empty config), deployed; an existing config
/// keeps its text unless `text` differs, when it is replaced through the same compare-and-swap
/// as `experiment`.
pub async fn ensure(
    aws_: &Aws,
    name: &str,
    found: Option<&Ids>,
    text: Option<&str>,
    dry_run: bool,
) -> Result<ObjectOutcome, DeployError> {
    let outcome = |arn: String, action: &str, removed: Vec<String>| ObjectOutcome {
        arn,
        action: action.to_string(),
        removed,
    };
    if dry_run && found.is_none() {
        return Ok(outcome(
            format!("appconfig:{}/...", names::appconfig_application(name)),
            "would be created, with its application, environment, profile and strategy",
            Vec::new(),
        ));
    }
    let ids = match found {
        Some(ids) => ids.clone(),
        None => create(aws_, name).await?,
    };
    match strategy(aws_, name).await {
        Ok(_) => {}
        // Missing (an input error says so): made, unless this is a dry run.
        Err(DeployError::Input(_)) if !dry_run => create_strategy(aws_, name).await?,
        Err(DeployError::Input(_)) => {}
        Err(err) => return Err(err),
    }
    let arn = ids.config_arn();
    let store = Store::AppConfig {
        name: name.to_string(),
        ids: Some(ids.clone()),
    };
    let (current, version) = read(aws_, &ids).await?;
    if version == "0" {
        if dry_run {
            return Ok(outcome(arn, "would get its first version", Vec::new()));
        }
        let first = text.unwrap_or(DEFAULT_CONFIG);
        store::edit(aws_, &store, |now| {
            Ok((now != first).then(|| first.to_string()))
        })
        .await?;
        return Ok(outcome(arn, "created", Vec::new()));
    }
    match text {
        None => Ok(outcome(
            arn,
            "kept: its experiments and settings are left as they are (--config replaces them)",
            Vec::new(),
        )),
        Some(text) if text == current => Ok(outcome(arn, "unchanged", Vec::new())),
        Some(text) => {
            let removed = faultline_schema::config::removed_experiments(&current, text);
            if dry_run {
                return Ok(outcome(arn, "would be replaced by --config", removed));
            }
            store::edit(aws_, &store, |now| {
                Ok((now != text).then(|| text.to_string()))
            })
            .await?;
            Ok(outcome(arn, "replaced by --config", removed))
        }
    }
}

/// The application (when missing), its environment and its freeform hosted profile.
async fn create(aws_: &Aws, name: &str) -> Result<Ids, DeployError> {
    let app = match application(aws_, name).await? {
        Some(app) => app,
        None => aws_
            .appconfig
            .create_application()
            .name(names::appconfig_application(name))
            .description("faultline config and experiments (edited by `deployer experiment`)")
            .send()
            .await
            .map_err(|err| aws(format!("creating {}", context(name)), err))?
            .id()
            .map(str::to_string)
            .ok_or_else(|| DeployError::Failed("CreateApplication returned no id".into()))?,
    };
    if let Some(ids) = ids(aws_, name).await? {
        return Ok(ids);
    }
    let environment = aws_
        .appconfig
        .create_environment()
        .application_id(&app)
        .name(names::APPCONFIG_ENVIRONMENT)
        .description("Where faultline's functions read their experiments")
        .send()
        .await
        .map_err(|err| {
            aws(
                format!("creating the environment of {}", context(name)),
                err,
            )
        })?
        .id()
        .map(str::to_string)
        .ok_or_else(|| DeployError::Failed("CreateEnvironment returned no id".into()))?;
    let profile = aws_
        .appconfig
        .create_configuration_profile()
        .application_id(&app)
        .name(names::APPCONFIG_PROFILE)
        .location_uri("hosted")
        .r#type("AWS.Freeform")
        .description("faultline's YAML config")
        .send()
        .await
        .map_err(|err| aws(format!("creating the profile of {}", context(name)), err))?
        .id()
        .map(str::to_string)
        .ok_or_else(|| DeployError::Failed("CreateConfigurationProfile returned no id".into()))?;
    Ok(Ids {
        application: app,
        environment,
        profile,
    })
}

/// A strategy that deploys to every environment at once and bakes for no time: an experiment
/// edit applies at the functions' next refresh, as with the other stores.
async fn create_strategy(aws_: &Aws, name: &str) -> Result<(), DeployError> {
    aws_.appconfig
        .create_deployment_strategy()
        .name(names::appconfig_strategy(name))
        .description("faultline: deploy experiment edits at once")
        .deployment_duration_in_minutes(0)
        .final_bake_time_in_minutes(0)
        .growth_factor(100.0)
        .replicate_to(ReplicateTo::None)
        .send()
        .await
        .map_err(|err| aws("creating the AppConfig deployment strategy", err))?;
    Ok(())
}
