//! AWS clients from the global AWS options: profile, region, endpoint (AWS_ENDPOINT_URL is
//! honoured by aws-config itself).

use crate::error::{DeployError, aws};
use crate::install::names::Account;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Where and as whom to reach AWS: the global `--profile`, `--region` and `--endpoint-url`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsOptions {
    /// AWS profile (default: AWS_PROFILE or the default profile)
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's region)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Endpoint for every AWS service (e.g. a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
}

pub struct Aws {
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub kms: aws_sdk_kms::Client,
    pub appconfig: aws_sdk_appconfig::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub region: String,
    /// What the clients were made from ([`Aws::target`] derives other Regions and accounts).
    config: aws_config::SdkConfig,
}

impl Aws {
    pub async fn connect(options: &AwsOptions) -> Result<Aws, DeployError> {
        // rustls with ring, as the extension uses: no C toolchain needed to build the deployer.
        // Adaptive retry: throttling is retried with client-side rate limiting, on top of the
        // deployer's own request rate.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::adaptive())
            .http_client(https_client());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        Aws::from_config(config)
    }

    /// Clients of `config`, in its Region.
    fn from_config(config: aws_config::SdkConfig) -> Result<Aws, DeployError> {
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            DeployError::Input(
                "no AWS region: pass --region or set AWS_REGION (or a region in the profile)"
                    .into(),
            )
        })?;
        Ok(Aws {
            lambda: aws_sdk_lambda::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            appconfig: aws_sdk_appconfig::Client::new(&config),
            cloudformation: aws_sdk_cloudformation::Client::new(&config),
            // Path-style on a given endpoint (an emulator at an IP address has no bucket hosts).
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            region,
            config,
        })
    }

    /// The same AWS in another Region, as these credentials or, given a role ARN, as that role
    /// (assumed for the run: a fleet's target account).
    pub async fn target(&self, region: &str, role: Option<&str>) -> Result<Aws, DeployError> {
        let mut builder = self.config.to_builder();
        builder.set_region(Some(Region::new(region.to_string())));
        if let Some(role) = role {
            let assumed = self
                .sts
                .assume_role()
                .role_arn(role)
                .role_session_name("faultline-deployer")
                .send()
                .await
                .map_err(|err| aws(format!("assuming role {role} (sts:AssumeRole)"), err))?;
            let credentials = assumed.credentials().ok_or_else(|| {
                DeployError::Failed(format!("sts:AssumeRole on {role} returned no credentials"))
            })?;
            builder.set_credentials_provider(Some(
                aws_sdk_sts::config::SharedCredentialsProvider::new(
                    aws_sdk_sts::config::Credentials::new(
                        credentials.access_key_id(),
                        credentials.secret_access_key(),
                        Some(credentials.session_token().to_string()),
                        None,
                        "faultline-fleet",
                    ),
                ),
            ));
        }
        Aws::from_config(builder.build())
    }

    /// An AWS Organizations client (its endpoint is the partition's one Region).
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.config)
    }

    /// An Account API client (Regions enabled in the account).
    pub fn account_api(&self) -> aws_sdk_account::Client {
        aws_sdk_account::Client::new(&self.config)
    }

    /// The partition and account the credentials belong to.
    pub async fn account(&self) -> Result<Account, DeployError> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|err| aws("reading the account id (sts:GetCallerIdentity)", err))?;
        Account::from_identity(
            identity.arn().unwrap_or_default(),
            identity.account().unwrap_or_default(),
        )
        .ok_or_else(|| {
            DeployError::Failed("sts:GetCallerIdentity returned no account or ARN".into())
        })
    }
}

/// The HTTPS client for AWS: rustls with ring (no C toolchain needed to build the deployer), and
/// the corporate proxy of the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY, in
/// either case), as most AWS tools follow it.
fn https_client() -> aws_sdk_lambda::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = aws_smithy_http_client::Connector::builder()
            .proxy_config(ProxyConfig::from_env())
            .tls_provider(Provider::Rustls(CryptoMode::Ring));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.build()
    })
}
