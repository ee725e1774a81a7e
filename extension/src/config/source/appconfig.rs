//! The config as an AppConfig configuration, read through the AppConfig data plane: one
//! `StartConfigurationSession`, then `GetLatestConfiguration` with the token the previous call
//! returned. AppConfig answers an empty body when this session already got the latest
//! version: nothing is parsed, and each environment pays only for the changes it receives.
//!
//! It is named `appconfig:APPLICATION/ENVIRONMENT/PROFILE` (names or ids, in the function's
//! Region): an AppConfig profile's ARN names no environment. A poll sooner than AppConfig's
//! `Next-Poll-Interval-In-Seconds` is refused by AppConfig, so one is not made (a refresh
//! interval under 15 s reads every 15 s), and the read counts as not made for the dead-man. A token AppConfig no longer takes (unused for 24
//! hours, as in an environment frozen for a day) starts a new session.

use super::signed::{Call, SignedClient, encode_query};
use super::{FetchError, Fetched, Read};
use std::time::{Duration, Instant};

/// The poll interval faultline asks for (AppConfig's minimum): the refresh interval decides.
const MIN_POLL_SECONDS: u64 = 15;

/// An AppConfig configuration profile in an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfigProfile {
    pub application: String,
    pub environment: String,
    pub profile: String,
}

impl AppConfigProfile {
    /// `APPLICATION/ENVIRONMENT/PROFILE`, each part non-empty.
    pub fn parse(path: &str) -> Option<AppConfigProfile> {
        let mut parts = path.split('/');
        let (Some(application), Some(environment), Some(profile), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        [application, environment, profile]
            .iter()
            .all(|p| !p.trim().is_empty())
            .then(|| AppConfigProfile {
                application: application.to_string(),
                environment: environment.to_string(),
                profile: profile.to_string(),
            })
    }

    pub fn describe(&self) -> String {
        format!(
            "AppConfig {}/{}/{}",
            self.application, self.environment, self.profile
        )
    }
}

/// The session in use: the token for the next poll, and when AppConfig allows it.
#[derive(Debug)]
pub struct Session {
    token: String,
    poll_after: Instant,
}

fn endpoint(region: &str, custom: Option<&str>) -> String {
    match custom {
        Some(custom) => custom.trim_end_matches('/').to_string(),
        None if region.starts_with("cn-") => {
            format!("https://appconfigdata.{region}.amazonaws.com.cn")
        }
        None => format!("https://appconfigdata.{region}.amazonaws.com"),
    }
}

async fn start_session(
    client: &SignedClient,
    profile: &AppConfigProfile,
    region: &str,
    what: &str,
) -> Result<String, FetchError> {
    let what = ("AppConfig", "StartConfigurationSession", what);
    let body = serde_json::json!({
        "ApplicationIdentifier": profile.application,
        "EnvironmentIdentifier": profile.environment,
        "ConfigurationProfileIdentifier": profile.profile,
        "RequiredMinimumPollIntervalInSeconds": MIN_POLL_SECONDS,
    });
    let answer = client
        .send(Call {
            method: "POST",
            url: format!(
                "{}/configurationsessions",
                endpoint(region, client.endpoint_override())
            ),
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string().into_bytes(),
            service: "appconfig",
            region,
            what,
        })
        .await?;
    if !(200..300).contains(&answer.status) {
        return Err(answer.error(what));
    }
    #[derive(serde::Deserialize)]
    struct Started {
        #[serde(rename = "InitialConfigurationToken")]
        token: String,
    }
    serde_json::from_slice::<Started>(&answer.body)
        .map(|started| started.token)
        .map_err(|err| FetchError::Aws {
            service: what.0,
            operation: what.1,
            arn: what.2.to_string(),
            code: "MalformedAnswer".into(),
            message: format!("no InitialConfigurationToken: {err}"),
        })
}

/// Reads the latest configuration: Unchanged when this session already has it (or may not poll
/// yet), else its text with AppConfig's version label. With no `known` version (nothing in
/// force, or it was refused) a new session is started, which answers the configuration whole.
pub async fn read(
    client: &SignedClient,
    profile: &AppConfigProfile,
    region: &str,
    known: Option<&str>,
    session: &std::sync::Mutex<Option<Session>>,
) -> Result<Read, FetchError> {
    let describe = profile.describe();
    let kept = {
        let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
        if known.is_none() {
            *session = None;
        }
        match session.as_ref() {
            Some(s) if Instant::now() < s.poll_after => return Ok(Read::Deferred),
            Some(s) => Some(s.token.clone()),
            None => None,
        }
    };
    let what = ("AppConfig", "GetLatestConfiguration", describe.as_str());
    let (mut token, mut fresh) = match kept {
        Some(token) => (token, false),
        None => (
            start_session(client, profile, region, &describe).await?,
            true,
        ),
    };
    loop {
        let answer = client
            .send(Call {
                method: "GET",
                url: format!(
                    "{}/configuration?configuration_token={}",
                    endpoint(region, client.endpoint_override()),
                    encode_query(&token)
                ),
                headers: Vec::new(),
                body: Vec::new(),
                service: "appconfig",
                region,
                what,
            })
            .await?;
        if answer.status == 400 && !fresh {
            // The token expired (or the session is gone): start again.
            tracing::info!("{describe}: the session's token was refused; starting a new session");
            token = start_session(client, profile, region, &describe).await?;
            fresh = true;
            continue;
        }
        if answer.status != 200 {
            *session.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Err(answer.error(what));
        }
        let next = answer
            .header("next-poll-configuration-token")
            .map(str::to_string);
        let interval = answer
            .header("next-poll-interval-in-seconds")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(MIN_POLL_SECONDS);
        *session.lock().unwrap_or_else(|p| p.into_inner()) = next.map(|token| Session {
            token,
            poll_after: Instant::now() + Duration::from_secs(interval),
        });
        let version = answer.header("version-label").map(str::to_string);
        if answer.body.is_empty() && !fresh {
            return Ok(Read::Unchanged);
        }
        if version.is_some() && version.as_deref() == known {
            return Ok(Read::Unchanged);
        }
        let text = String::from_utf8(answer.body.to_vec()).map_err(|_| FetchError::NotText {
            arn: describe.clone(),
        })?;
        return Ok(Read::Changed(Fetched { text, version }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_three_names() {
        assert_eq!(
            AppConfigProfile::parse("orders/prod/faultline"),
            Some(AppConfigProfile {
                application: "orders".into(),
                environment: "prod".into(),
                profile: "faultline".into()
            })
        );
        for bad in ["orders/prod", "orders//faultline", "a/b/c/d", ""] {
            assert_eq!(AppConfigProfile::parse(bad), None, "{bad}");
        }
        assert_eq!(
            endpoint("cn-north-1", None),
            "https://appconfigdata.cn-north-1.amazonaws.com.cn"
        );
    }
}
