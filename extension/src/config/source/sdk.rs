//! The AWS SDK set-up of faultline's own calls: the direct HTTPS client, no per-service
//! settings, the assumed role, and errors named after the call.

use super::FetchError;

/// No per-service settings for faultline's own clients: a function's
/// `AWS_ENDPOINT_URL_<SERVICE>` (and a profile's `services` section) never reach them. The
/// global `AWS_ENDPOINT_URL` is read by the loader itself and still applies (tests).
#[derive(Debug)]
struct NoServiceSettings;

impl aws_types::service_config::LoadServiceConfig for NoServiceSettings {
    fn load_config(&self, _key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        None
    }
}

/// An AWS SDK config for `region` with the direct (no proxy) HTTPS client and no per-service
/// settings.
pub(super) async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .http_client(direct_https_client())
        .load()
        .await
        .into_builder()
        .service_config(NoServiceSettings)
        .build()
}

/// `config` with the credentials of `role`, assumed with `config`'s own (the function's) and
/// cached by the SDK, which renews them before they expire.
pub(super) async fn assuming(
    config: aws_config::SdkConfig,
    role: &str,
    region: &str,
) -> aws_config::SdkConfig {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("faultline-config")
        .region(aws_config::Region::new(region.to_string()))
        .configure(&config)
        .build()
        .await;
    config
        .into_builder()
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            provider,
        ))
        .build()
}

/// An HTTPS client for AWS APIs that connects directly, ignoring HTTP(S)_PROXY: the function's
/// proxy variables point at faultline's own dependency proxy. A smithy client given no proxy
/// config uses none (e2e `config_from_secrets_manager_in_moto` runs with both variables set to a
/// dead port).
pub fn direct_https_client() -> aws_sdk_secretsmanager::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

pub(super) fn aws_error<E>(
    service: &'static str,
    operation: &'static str,
    arn: &str,
    err: aws_sdk_secretsmanager::error::SdkError<
        E,
        aws_sdk_secretsmanager::config::http::HttpResponse,
    >,
) -> FetchError
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
    let (code, message) = match &err {
        SdkError::ServiceError(service_err) => {
            let inner = service_err.err();
            let raw = service_err.raw();
            let code = inner
                .code()
                .map_or_else(|| format!("HTTP {}", raw.status().as_u16()), str::to_string);
            // Without a parsed message, a short excerpt of the error body says what happened.
            let message = inner.message().map_or_else(
                || {
                    let body = raw.body().bytes().unwrap_or_default();
                    let text = String::from_utf8_lossy(body);
                    text.chars().take(300).collect::<String>()
                },
                str::to_string,
            );
            (code, message)
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), DisplayErrorContext(&err).to_string()),
        SdkError::DispatchFailure(_) => (
            "DispatchFailure".into(),
            DisplayErrorContext(&err).to_string(),
        ),
        _ => ("Error".into(), DisplayErrorContext(&err).to_string()),
    };
    FetchError::Aws {
        service,
        operation,
        arn: arn.to_string(),
        code,
        message,
    }
}
