//! AWS calls made without an SDK client of their own: S3's `GetObject` and the AppConfig data
//! plane. Each is one HTTP request, signed with SigV4 by `aws-sigv4` with the credentials of the
//! SDK config (the function's, or the assumed role's), and sent on a direct HTTPS client
//! (rustls, the system's roots, never HTTP(S)_PROXY). An SDK client per service would add about
//! 1 MB to the layer for these two calls (the S3 one alone took the zip to 5.96 MB of its 6).

use super::FetchError;
use crate::net::error_chain;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials as _;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};

/// The largest answer read: a config is a few KiB (AppConfig takes at most 1 MB, a secret 64 KiB).
pub const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// Temporary credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// One request to sign and send.
pub struct Call<'a> {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// The signing name: `s3`, `appconfig`.
    pub service: &'static str,
    pub region: &'a str,
    /// What the call is, for errors: service, operation, and what it reads.
    pub what: (&'static str, &'static str, &'a str),
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The AWS error this answer carries: its code (the XML `<Code>`, the JSON `__type` or
    /// `code`, the `x-amzn-ErrorType` header, else the status) and message.
    pub fn error(&self, what: (&'static str, &'static str, &str)) -> FetchError {
        let text = String::from_utf8_lossy(&self.body);
        let (code, message) = error_of(&text, self.header("x-amzn-errortype"));
        FetchError::Aws {
            service: what.0,
            operation: what.1,
            arn: what.2.to_string(),
            code: code.unwrap_or_else(|| format!("HTTP {}", self.status)),
            message: message.unwrap_or_else(|| text.chars().take(300).collect()),
        }
    }
}

/// The code and message of an AWS error body, XML (S3) or JSON (REST-JSON services).
fn error_of(text: &str, header: Option<&str>) -> (Option<String>, Option<String>) {
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text.get(start..)?.find(&format!("</{name}>"))? + start;
        text.get(start..end).map(str::to_string)
    };
    if text.trim_start().starts_with('<') {
        return (element("Code"), element("Message"));
    }
    let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| json.get(*n).and_then(|v| v.as_str()).map(str::to_string))
    };
    // `x-amzn-ErrorType` may carry a suffix after a colon (`Code:http://...`).
    let code = header
        .map(|h| h.split(':').next().unwrap_or(h).to_string())
        .or_else(|| field(&["__type", "code", "Code"]))
        .map(|c| c.rsplit('#').next().unwrap_or(&c).to_string());
    (code, field(&["Message", "message"]))
}

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Signs and sends [`Call`]s with the credentials of an SDK config, caching them until shortly
/// before they expire.
pub struct SignedClient {
    http: Https,
    sdk: aws_config::SdkConfig,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl SignedClient {
    pub fn new(sdk: aws_config::SdkConfig) -> Result<SignedClient, FetchError> {
        let tls = crate::net::tls::client_config(None).map_err(|message| FetchError::Aws {
            service: "TLS",
            operation: "set-up",
            arn: String::new(),
            code: "TlsSetup".into(),
            message,
        })?;
        let mut plain = HttpConnector::new();
        plain.set_nodelay(true);
        plain.enforce_http(false);
        // Plain HTTP only where the endpoint says so (AWS_ENDPOINT_URL in tests).
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(plain);
        Ok(SignedClient {
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(connector),
            sdk,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The endpoint every call goes to instead of AWS's, when `AWS_ENDPOINT_URL` is set.
    pub fn endpoint_override(&self) -> Option<&str> {
        self.sdk.endpoint_url()
    }

    async fn credentials(
        &self,
        what: (&'static str, &'static str, &str),
    ) -> Result<Credentials, FetchError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref()
            && credentials
                .expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + RENEW_BEFORE)
        {
            return Ok(credentials.clone());
        }
        let failed = |message: String| FetchError::Aws {
            service: what.0,
            operation: what.1,
            arn: what.2.to_string(),
            code: "CredentialsNotLoaded".into(),
            message,
        };
        let provider = self
            .sdk
            .credentials_provider()
            .ok_or_else(|| failed("no credentials provider".into()))?;
        let fresh = provider.provide_credentials().await.map_err(|err| {
            failed(aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string())
        })?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Signs `call` and sends it; the answer whatever its status, or why none came.
    pub async fn send(&self, call: Call<'_>) -> Result<Answer, FetchError> {
        let what = call.what;
        let failed = |code: &str, message: String| FetchError::Aws {
            service: what.0,
            operation: what.1,
            arn: what.2.to_string(),
            code: code.into(),
            message,
        };
        let credentials = self.credentials(what).await?;
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        if call.service == "s3" {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(call.region)
            .name(call.service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|err| failed("SigningFailed", err.to_string()))?
            .into();
        let mut request = http::Request::builder()
            .method(call.method)
            .uri(&call.url)
            .body(Full::new(Bytes::from(call.body.clone())))
            .map_err(|err| failed("BadRequest", format!("{}: {err}", call.url)))?;
        for (name, value) in &call.headers {
            let value = http::HeaderValue::from_str(value)
                .map_err(|err| failed("BadRequest", format!("header {name}: {err}")))?;
            request.headers_mut().insert(*name, value);
        }
        let signable = SignableRequest::new(
            call.method,
            call.url.as_str(),
            call.headers.iter().map(|(n, v)| (*n, v.as_str())),
            SignableBody::Bytes(&call.body),
        )
        .map_err(|err| failed("SigningFailed", err.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|err| failed("SigningFailed", err.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        let response = self
            .http
            .request(request)
            .await
            .map_err(|err| failed("DispatchFailure", error_chain(&err)))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map_err(|err| failed("ResponseRead", err.to_string()))?
            .to_bytes();
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

/// `text` percent-encoded as a URI path (RFC 3986 unreserved characters and `/` kept).
pub fn encode_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `text` percent-encoded as a query value.
pub fn encode_query(text: &str) -> String {
    encode_path(text).replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_code_and_message() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        assert_eq!(
            error_of(xml, None),
            (
                Some("NoSuchKey".into()),
                Some("The specified key does not exist.".into())
            )
        );
        let json = r#"{"Message":"session expired"}"#;
        assert_eq!(
            error_of(
                json,
                Some("BadRequestException:http://internal.amazon.com/")
            ),
            (
                Some("BadRequestException".into()),
                Some("session expired".into())
            )
        );
        let typed = r#"{"__type":"com.amazon#ResourceNotFoundException","message":"no"}"#;
        assert_eq!(
            error_of(typed, None),
            (Some("ResourceNotFoundException".into()), Some("no".into()))
        );
        assert_eq!(error_of("oops", None), (None, None));
    }

    #[test]
    fn paths_and_queries_are_encoded() {
        assert_eq!(
            encode_path("faultline/config v1.yaml"),
            "faultline/config%20v1.yaml"
        );
        assert_eq!(encode_query("a/b+c="), "a%2Fb%2Bc%3D");
    }
}
