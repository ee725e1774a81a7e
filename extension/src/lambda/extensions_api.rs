//! Client of the Lambda Extensions API: register, then wait for lifecycle events.
//!
//! See the AWS Lambda documentation, "Lambda Extensions API" (2020-01-01).

use crate::lambda::endpoint::ApiEndpoint;
use crate::net::client::{HttpClient, full_body};
use http_body_util::BodyExt;
use serde::Deserialize;
use thiserror::Error;

const REGISTER_PATH: &str = "/2020-01-01/extension/register";
const NEXT_EVENT_PATH: &str = "/2020-01-01/extension/event/next";
const INIT_ERROR_PATH: &str = "/2020-01-01/extension/init/error";
const ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";
const EXTENSION_NAME_HEADER: &str = "lambda-extension-name";
const EXTENSION_ID_HEADER: &str = "lambda-extension-identifier";

#[derive(Debug, Error)]
pub enum ExtensionsApiError {
    #[error("Extensions API {path}: {source}")]
    Transport {
        path: &'static str,
        source: hyper_util::client::legacy::Error,
    },
    #[error("Extensions API {path}: reading the answer failed: {source}")]
    Body {
        path: &'static str,
        source: hyper::Error,
    },
    #[error("Extensions API {path} answered {status}: {body}")]
    Status {
        path: &'static str,
        status: http::StatusCode,
        body: String,
    },
    #[error("Extensions API {path}: cannot build the request: {source}")]
    Request {
        path: &'static str,
        source: http::Error,
    },
    #[error("Extensions API register answered without a Lambda-Extension-Identifier")]
    NoIdentifier,
    #[error("Extensions API {path}: unexpected answer: {source}")]
    Decode {
        path: &'static str,
        source: serde_json::Error,
    },
}

/// What the register call tells about the function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    #[serde(default)]
    pub function_name: Option<String>,
    #[serde(default)]
    pub function_version: Option<String>,
    #[serde(default)]
    pub handler: Option<String>,
}

/// A lifecycle event from `/event/next`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    pub event_type: String,
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    #[serde(default)]
    pub shutdown_reason: Option<String>,
}

impl LifecycleEvent {
    pub fn is_shutdown(&self) -> bool {
        self.event_type.eq_ignore_ascii_case("SHUTDOWN")
    }
}

/// A registered extension.
pub struct Registration {
    pub identifier: String,
    pub info: RegisterResponse,
}

pub struct ExtensionsApi {
    client: HttpClient,
    endpoint: ApiEndpoint,
}

impl ExtensionsApi {
    pub fn new(client: HttpClient, endpoint: ApiEndpoint) -> Self {
        ExtensionsApi { client, endpoint }
    }

    /// Registers `name` (the extension's file name) for `events`.
    pub async fn register(
        &self,
        name: &str,
        events: &[&str],
    ) -> Result<Registration, ExtensionsApiError> {
        let body = serde_json::json!({ "events": events }).to_string();
        let request = http::Request::post(self.endpoint.path_uri(REGISTER_PATH))
            .header(EXTENSION_NAME_HEADER, name)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(full_body(body));
        let (headers, bytes) = self.call(REGISTER_PATH, request).await?;
        let identifier = headers
            .get(EXTENSION_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or(ExtensionsApiError::NoIdentifier)?;
        // The body is informative only; an emulator answering `{}` or nothing is fine.
        let info = serde_json::from_slice(&bytes).unwrap_or_default();
        Ok(Registration { identifier, info })
    }

    /// Blocks until the next lifecycle event.
    pub async fn next_event(&self, identifier: &str) -> Result<LifecycleEvent, ExtensionsApiError> {
        let request = http::Request::get(self.endpoint.path_uri(NEXT_EVENT_PATH))
            .header(EXTENSION_ID_HEADER, identifier)
            .body(full_body(bytes::Bytes::new()));
        let (_, bytes) = self.call(NEXT_EVENT_PATH, request).await?;
        serde_json::from_slice(&bytes).map_err(|source| ExtensionsApiError::Decode {
            path: NEXT_EVENT_PATH,
            source,
        })
    }

    /// Reports that INIT failed (`/extension/init/error`): Lambda then fails the INIT phase and
    /// answers no further call of this extension, which must exit. `error_type` goes in
    /// `Lambda-Extension-Function-Error-Type` and in the body with `message`.
    pub async fn init_error(
        &self,
        identifier: &str,
        error_type: &str,
        message: &str,
    ) -> Result<(), ExtensionsApiError> {
        let body = serde_json::json!({
            "errorMessage": message,
            "errorType": error_type,
            "stackTrace": [],
        })
        .to_string();
        let request = http::Request::post(self.endpoint.path_uri(INIT_ERROR_PATH))
            .header(EXTENSION_ID_HEADER, identifier)
            .header(ERROR_TYPE_HEADER, error_type)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(full_body(body));
        self.call(INIT_ERROR_PATH, request).await.map(|_| ())
    }

    /// Sends one request; a non-2xx answer is an error carrying the body.
    async fn call(
        &self,
        path: &'static str,
        request: Result<http::Request<crate::net::client::ProxyBody>, http::Error>,
    ) -> Result<(http::HeaderMap, bytes::Bytes), ExtensionsApiError> {
        let mut request = request.map_err(|source| ExtensionsApiError::Request { path, source })?;
        request
            .headers_mut()
            .insert(http::header::HOST, self.endpoint.host_header().clone());
        let response = self
            .client
            .request(request)
            .await
            .map_err(|source| ExtensionsApiError::Transport { path, source })?;
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|source| ExtensionsApiError::Body { path, source })?
            .to_bytes();
        if !parts.status.is_success() {
            return Err(ExtensionsApiError::Status {
                path,
                status: parts.status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok((parts.headers, bytes))
    }
}
