//! The AppConfig control plane (`appconfig`) the deployer installs and edits an AppConfig store
//! with, beside the data plane of the stand-in ([`super`]). moto 5.2.5
//! keeps applications, profiles and hosted versions, but has no environments, deployment
//! strategies or deployments, and no data plane to read a deployment from: this is written from
//! the AppConfig API reference, for the operations the deployer calls.
//!
//! - Applications, environments, configuration profiles and deployment strategies: created
//!   (`POST`, 201 with the resource, `Id` a 7-character id) and listed (`GET`, `Items`).
//! - `CreateHostedConfigurationVersion` (`POST .../hostedconfigurationversions`, the content as
//!   the body): 201 with `Version-Number`; with `Latest-Version-Number`, a version other than
//!   the latest is 409 `ConflictException` (AppConfig's locking token). Versions are listed
//!   (`Items`, newest first) and read back (`GET .../{VersionNumber}`, the content as the body).
//! - `StartDeployment` (`POST .../environments/{E}/deployments`): 409 `ConflictException` while
//!   another deployment to the environment is in progress; the configuration is served by the
//!   data plane from then on, and the deployment is `COMPLETE` after the strategy's duration
//!   and bake time (at once for the immediate strategy). `GetDeployment` reads it.
//!
//! An unknown application, environment, profile, strategy or version is 404
//! `ResourceNotFoundException`; a malformed body 400 `BadRequestException`.

use super::{Data, Deployed, error, refused};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Named {
    id: String,
    name: String,
    /// The application it belongs to ("" for an application or a strategy).
    application: String,
    /// Deployment strategy: minutes of deployment and of bake time.
    minutes: u64,
}

#[derive(Debug, Clone)]
struct Version {
    application: String,
    profile: String,
    number: u64,
    content: String,
    content_type: String,
}

#[derive(Debug, Clone)]
struct Deployment {
    application: String,
    environment: String,
    number: u64,
    profile: String,
    version: u64,
    strategy: String,
    done_at: Instant,
}

/// The control plane's resources.
#[derive(Debug, Default)]
pub(crate) struct Control {
    next_id: u64,
    applications: Vec<Named>,
    environments: Vec<Named>,
    profiles: Vec<Named>,
    strategies: Vec<Named>,
    versions: Vec<Version>,
    deployments: Vec<Deployment>,
}

type Shared = Arc<Mutex<Data>>;

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("{what} not found"),
    )
}

fn bad(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, body.to_string()).into_response()
}

fn items(list: Vec<Value>) -> Response {
    (StatusCode::OK, json!({ "Items": list }).to_string()).into_response()
}

/// Runs `answer` on the data under the lock, refusing unsigned requests and outages, and logs
/// `OPERATION status`.
fn handle(
    shared: &Shared,
    headers: &HeaderMap,
    operation: &str,
    answer: impl FnOnce(&mut Data) -> Response,
) -> Response {
    let mut data = shared.lock().unwrap_or_else(|p| p.into_inner());
    let response = match refused(&data, headers) {
        Some(refused) => refused,
        None => answer(&mut data),
    };
    data.log
        .push(format!("{operation} {}", response.status().as_u16()));
    response
}

fn json_body(body: &Bytes) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or_default()
}

impl Control {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{:07x}", 0x0a1b2c3 + self.next_id * 4099)
    }

    fn application(&self, id: &str) -> Option<&Named> {
        self.applications.iter().find(|a| a.id == id)
    }

    fn child<'a>(list: &'a [Named], application: &str, id: &str) -> Option<&'a Named> {
        list.iter()
            .find(|n| n.application == application && n.id == id)
    }

    fn latest(&self, application: &str, profile: &str) -> u64 {
        self.versions
            .iter()
            .filter(|v| v.application == application && v.profile == profile)
            .map(|v| v.number)
            .max()
            .unwrap_or(0)
    }
}

fn deployment_json(d: &Deployment) -> Value {
    let state = if Instant::now() >= d.done_at {
        "COMPLETE"
    } else {
        "DEPLOYING"
    };
    json!({
        "ApplicationId": d.application,
        "EnvironmentId": d.environment,
        "DeploymentNumber": d.number,
        "ConfigurationProfileId": d.profile,
        "ConfigurationVersion": d.version.to_string(),
        "DeploymentStrategyId": d.strategy,
        "State": state,
    })
}

async fn create_application(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, "CreateApplication", |data| {
        let Some(body) = json_body(&body) else {
            return bad("body is not JSON");
        };
        let name = field(&body, "Name").to_string();
        if name.is_empty() {
            return bad("Name is required");
        }
        let id = data.control.id();
        data.control.applications.push(Named {
            id: id.clone(),
            name: name.clone(),
            application: String::new(),
            minutes: 0,
        });
        created(json!({"Id": id, "Name": name}))
    })
}

async fn list_applications(State(s): State<Shared>, headers: HeaderMap) -> Response {
    handle(&s, &headers, "ListApplications", |data| {
        items(
            data.control
                .applications
                .iter()
                .map(|a| json!({"Id": a.id, "Name": a.name}))
                .collect(),
        )
    })
}

/// Creates an environment or a configuration profile of application `app`.
fn create_child(data: &mut Data, app: &str, body: &Bytes, profile: bool) -> Response {
    if data.control.application(app).is_none() {
        return not_found("application");
    }
    let Some(body) = json_body(body) else {
        return bad("body is not JSON");
    };
    let name = field(&body, "Name").to_string();
    if name.is_empty() {
        return bad("Name is required");
    }
    let id = data.control.id();
    let named = Named {
        id: id.clone(),
        name: name.clone(),
        application: app.to_string(),
        minutes: 0,
    };
    if profile {
        data.control.profiles.push(named);
        let location = field(&body, "LocationUri").to_string();
        let kind = field(&body, "Type").to_string();
        created(json!({"ApplicationId": app, "Id": id, "Name": name,
                        "LocationUri": location, "Type": kind}))
    } else {
        data.control.environments.push(named);
        created(json!({"ApplicationId": app, "Id": id, "Name": name,
                        "State": "READY_FOR_DEPLOYMENT"}))
    }
}

fn list_children(data: &Data, app: &str, profile: bool) -> Response {
    if data.control.application(app).is_none() {
        return not_found("application");
    }
    let list = if profile {
        &data.control.profiles
    } else {
        &data.control.environments
    };
    items(
        list.iter()
            .filter(|n| n.application == app)
            .map(|n| json!({"ApplicationId": app, "Id": n.id, "Name": n.name}))
            .collect(),
    )
}

async fn create_environment(
    State(s): State<Shared>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&s, &headers, "CreateEnvironment", |data| {
        create_child(data, &app, &body, false)
    })
}

async fn list_environments(
    State(s): State<Shared>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Response {
    handle(&s, &headers, "ListEnvironments", |data| {
        list_children(data, &app, false)
    })
}

async fn create_profile(
    State(s): State<Shared>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&s, &headers, "CreateConfigurationProfile", |data| {
        create_child(data, &app, &body, true)
    })
}

async fn list_profiles(
    State(s): State<Shared>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Response {
    handle(&s, &headers, "ListConfigurationProfiles", |data| {
        list_children(data, &app, true)
    })
}

async fn create_strategy(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, "CreateDeploymentStrategy", |data| {
        let Some(body) = json_body(&body) else {
            return bad("body is not JSON");
        };
        let name = field(&body, "Name").to_string();
        let minutes = |key: &str| body.get(key).and_then(Value::as_u64);
        let (Some(duration), Some(growth)) = (
            minutes("DeploymentDurationInMinutes"),
            body.get("GrowthFactor").and_then(Value::as_f64),
        ) else {
            return bad("DeploymentDurationInMinutes and GrowthFactor are required");
        };
        let bake = minutes("FinalBakeTimeInMinutes").unwrap_or(0);
        if name.is_empty() || field(&body, "ReplicateTo").is_empty() {
            return bad("Name and ReplicateTo are required");
        }
        let id = data.control.id();
        data.control.strategies.push(Named {
            id: id.clone(),
            name: name.clone(),
            application: String::new(),
            minutes: duration + bake,
        });
        created(
            json!({"Id": id, "Name": name, "DeploymentDurationInMinutes": duration,
                        "FinalBakeTimeInMinutes": bake, "GrowthFactor": growth,
                        "ReplicateTo": field(&body, "ReplicateTo")}),
        )
    })
}

async fn list_strategies(State(s): State<Shared>, headers: HeaderMap) -> Response {
    handle(&s, &headers, "ListDeploymentStrategies", |data| {
        items(
            data.control
                .strategies
                .iter()
                .map(|n| json!({"Id": n.id, "Name": n.name}))
                .collect(),
        )
    })
}

fn version_response(status: StatusCode, version: &Version) -> Response {
    let mut response = (status, version.content.clone()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("application-id", version.application.clone()),
        ("configuration-profile-id", version.profile.clone()),
        ("version-number", version.number.to_string()),
        ("content-type", version.content_type.clone()),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

async fn create_version(
    State(s): State<Shared>,
    Path((app, profile)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header("content-type").unwrap_or_default().to_string();
    let locking = header("latest-version-number").map(str::parse::<u64>);
    handle(&s, &headers, "CreateHostedConfigurationVersion", |data| {
        if Control::child(&data.control.profiles, &app, &profile).is_none() {
            return not_found("configuration profile");
        }
        if content_type.is_empty() {
            return bad("Content-Type is required");
        }
        let Ok(content) = String::from_utf8(body.to_vec()) else {
            return bad("the content is not UTF-8");
        };
        let latest = data.control.latest(&app, &profile);
        match locking {
            Some(Ok(given)) if given != latest => {
                return error(
                    StatusCode::CONFLICT,
                    "ConflictException",
                    &format!("LatestVersionNumber {given} is not the latest version ({latest})"),
                );
            }
            Some(Err(_)) => return bad("Latest-Version-Number is not a number"),
            _ => {}
        }
        let version = Version {
            application: app.clone(),
            profile: profile.clone(),
            number: latest + 1,
            content,
            content_type: content_type.clone(),
        };
        data.control.versions.push(version.clone());
        version_response(StatusCode::CREATED, &version)
    })
}

async fn list_versions(
    State(s): State<Shared>,
    Path((app, profile)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    handle(&s, &headers, "ListHostedConfigurationVersions", |data| {
        if Control::child(&data.control.profiles, &app, &profile).is_none() {
            return not_found("configuration profile");
        }
        let mut versions: Vec<&Version> = data
            .control
            .versions
            .iter()
            .filter(|v| v.application == app && v.profile == profile)
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.number));
        items(
            versions
                .into_iter()
                .map(|v| {
                    json!({"ApplicationId": app, "ConfigurationProfileId": profile,
                           "VersionNumber": v.number, "ContentType": v.content_type})
                })
                .collect(),
        )
    })
}

async fn get_version(
    State(s): State<Shared>,
    Path((app, profile, number)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    handle(&s, &headers, "GetHostedConfigurationVersion", |data| {
        let number: u64 = number.parse().unwrap_or(0);
        match data
            .control
            .versions
            .iter()
            .find(|v| v.application == app && v.profile == profile && v.number == number)
        {
            Some(version) => version_response(StatusCode::OK, version),
            None => not_found("hosted configuration version"),
        }
    })
}

async fn start_deployment(
    State(s): State<Shared>,
    Path((app, environment)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&s, &headers, "StartDeployment", |data| {
        let Some(body) = json_body(&body) else {
            return bad("body is not JSON");
        };
        let control = &data.control;
        let (Some(app_named), Some(env_named)) = (
            control.application(&app).cloned(),
            Control::child(&control.environments, &app, &environment).cloned(),
        ) else {
            return not_found("application or environment");
        };
        let profile = field(&body, "ConfigurationProfileId").to_string();
        let Some(profile_named) = Control::child(&control.profiles, &app, &profile).cloned() else {
            return not_found("configuration profile");
        };
        let Some(strategy) = control
            .strategies
            .iter()
            .find(|n| n.id == field(&body, "DeploymentStrategyId"))
            .cloned()
        else {
            return not_found("deployment strategy");
        };
        let number: u64 = field(&body, "ConfigurationVersion").parse().unwrap_or(0);
        let Some(version) = control
            .versions
            .iter()
            .find(|v| v.application == app && v.profile == profile && v.number == number)
            .cloned()
        else {
            return not_found("hosted configuration version");
        };
        let now = Instant::now();
        if control
            .deployments
            .iter()
            .any(|d| d.application == app && d.environment == environment && d.done_at > now)
        {
            return error(
                StatusCode::CONFLICT,
                "ConflictException",
                "a deployment to this environment is in progress",
            );
        }
        let deployment = Deployment {
            application: app.clone(),
            environment: environment.clone(),
            number: control
                .deployments
                .iter()
                .filter(|d| d.application == app && d.environment == environment)
                .count() as u64
                + 1,
            profile: profile.clone(),
            version: number,
            strategy: strategy.id.clone(),
            done_at: now + Duration::from_secs(strategy.minutes * 60),
        };
        let answer = deployment_json(&deployment);
        data.control.deployments.push(deployment);
        // The data plane serves it by ids and by names.
        for key in [
            format!("{app}/{environment}/{profile}"),
            format!(
                "{}/{}/{}",
                app_named.name, env_named.name, profile_named.name
            ),
        ] {
            let served = data.deployed.get(&key).map_or(1, |d| d.version + 1);
            data.deployed.insert(
                key,
                Deployed {
                    content: version.content.clone(),
                    version: served,
                },
            );
        }
        created(answer)
    })
}

async fn get_deployment(
    State(s): State<Shared>,
    Path((app, environment, number)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    handle(&s, &headers, "GetDeployment", |data| {
        let number: u64 = number.parse().unwrap_or(0);
        match data
            .control
            .deployments
            .iter()
            .find(|d| d.application == app && d.environment == environment && d.number == number)
        {
            Some(deployment) => {
                (StatusCode::OK, deployment_json(deployment).to_string()).into_response()
            }
            None => not_found("deployment"),
        }
    })
}

/// The control plane's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/applications",
            get(list_applications).post(create_application),
        )
        .route(
            "/applications/{app}/environments",
            get(list_environments).post(create_environment),
        )
        .route(
            "/applications/{app}/configurationprofiles",
            get(list_profiles).post(create_profile),
        )
        .route(
            "/applications/{app}/configurationprofiles/{profile}/hostedconfigurationversions",
            get(list_versions).post(create_version),
        )
        .route(
            "/applications/{app}/configurationprofiles/{profile}/hostedconfigurationversions/{number}",
            get(get_version),
        )
        .route(
            "/applications/{app}/environments/{environment}/deployments",
            axum::routing::post(start_deployment),
        )
        .route(
            "/applications/{app}/environments/{environment}/deployments/{number}",
            get(get_deployment),
        )
        .route(
            "/deploymentstrategies",
            get(list_strategies).post(create_strategy),
        )
}
