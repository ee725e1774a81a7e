//! The AWS services whose calls `deployer enable --aws-services` sends through the dependency
//! proxy's TLS origination: each one's endpoint prefix (the host's first label, and the name in
//! the `aws-<service>` flag) and the SDK `serviceId` that names its `AWS_ENDPOINT_URL_<SERVICE>`
//! variable (the AWS SDKs and Tools Reference Guide, "Identifiers for service-specific
//! endpoints": the serviceId upper-cased, spaces as underscores).

/// Endpoint prefix and SDK serviceId of each service faultline wires, in the order `all` lists.
pub const SERVICES: [(&str, &str); 17] = [
    ("dynamodb", "DynamoDB"),
    ("s3", "S3"),
    ("sqs", "SQS"),
    ("sns", "SNS"),
    ("kinesis", "Kinesis"),
    ("events", "EventBridge"),
    ("lambda", "Lambda"),
    ("secretsmanager", "Secrets Manager"),
    ("states", "SFN"),
    ("ssm", "SSM"),
    ("sts", "STS"),
    ("firehose", "Firehose"),
    ("bedrock-runtime", "Bedrock Runtime"),
    ("monitoring", "CloudWatch"),
    ("logs", "CloudWatch Logs"),
    ("kms", "KMS"),
    ("streams.dynamodb", "DynamoDB Streams"),
];

/// The word `--aws-services` takes for every service in [`SERVICES`].
pub const ALL: &str = "all";

/// One service as the deployer wires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The endpoint prefix: `dynamodb`, `states`, `monitoring`.
    pub prefix: &'static str,
    /// The SDK serviceId: `DynamoDB`, `SFN`, `CloudWatch`.
    pub service_id: &'static str,
}

impl Service {
    /// The variable the SDKs read the service's endpoint from: `AWS_ENDPOINT_URL_DYNAMODB`.
    pub fn endpoint_variable(&self) -> String {
        format!(
            "AWS_ENDPOINT_URL_{}",
            self.service_id.to_ascii_uppercase().replace(' ', "_")
        )
    }

    /// The origination endpoint for `region`: plain HTTP to the regional host on port 443,
    /// `http://dynamodb.us-east-1.amazonaws.com:443` (`.amazonaws.com.cn` in China).
    pub fn origination_url(&self, region: &str) -> String {
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("http://{}.{region}.{domain}:443", self.prefix)
    }
}

/// The services named in a comma-separated list of endpoint prefixes or serviceIds (any case,
/// spaces or dashes for underscores), or `all`; an unknown name is an error naming it and
/// the known ones.
pub fn parse_list(text: &str) -> Result<Vec<Service>, String> {
    let mut services: Vec<Service> = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let found: Vec<Service> = if word.eq_ignore_ascii_case(ALL) {
            SERVICES.iter().map(|&(p, s)| service(p, s)).collect()
        } else {
            let key = normalized(word);
            let one = SERVICES
                .iter()
                .find(|(prefix, id)| normalized(prefix) == key || normalized(id) == key)
                .map(|&(p, s)| service(p, s))
                .ok_or_else(|| {
                    format!(
                        "`{word}` is not an AWS service faultline wires; known: {}, or {ALL}",
                        SERVICES.map(|(prefix, _)| prefix).join(", ")
                    )
                })?;
            vec![one]
        };
        for service in found {
            if !services.contains(&service) {
                services.push(service);
            }
        }
    }
    Ok(services)
}

fn service(prefix: &'static str, service_id: &'static str) -> Service {
    Service { prefix, service_id }
}

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_named_by_prefix_or_service_id() {
        let services = parse_list("dynamodb, SFN,secrets-manager,Bedrock Runtime").unwrap();
        let variables: Vec<String> = services.iter().map(Service::endpoint_variable).collect();
        assert_eq!(
            variables,
            [
                "AWS_ENDPOINT_URL_DYNAMODB",
                "AWS_ENDPOINT_URL_SFN",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
            ]
        );
        assert_eq!(
            services[1].origination_url("eu-west-1"),
            "http://states.eu-west-1.amazonaws.com:443"
        );
        assert_eq!(
            services[0].origination_url("cn-north-1"),
            "http://dynamodb.cn-north-1.amazonaws.com.cn:443"
        );
        assert_eq!(parse_list("all,sqs").unwrap().len(), SERVICES.len());
        let err = parse_list("dynamodb,dynamo").unwrap_err();
        assert!(
            err.contains("`dynamo`") && err.contains("dynamodb, s3"),
            "{err}"
        );
    }
}
