//! The config as an S3 object (`arn:aws:s3:::BUCKET/KEY`), read with a conditional GET: the
//! ETag of the config in force goes in `If-None-Match`, so an unchanged object costs a 304 with
//! no body and nothing is parsed.
//!
//! The ARN names no Region: the function's is tried first, and a bucket elsewhere is found from
//! the `x-amz-bucket-region` header of S3's redirect, then kept.
//!
//! A missing object (S3's `NoSuchKey`, which needs `s3:ListBucket` on the bucket: without it S3
//! answers 403) is an empty config: no experiments until somebody writes it, as with AWS FIS,
//! whose Lambda extension finds its experiments in S3 only while one runs. A setup template can
//! make the bucket without writing the object, and deleting the object stops everything. A
//! missing bucket stays an error: the dead-man sees it.

use super::signed::{Call, SignedClient, encode_path};
use super::{FetchError, Fetched, Read};

/// An S3 object holding the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub arn: String,
    pub partition: String,
    pub bucket: String,
    pub key: String,
}

impl S3Object {
    /// The object of an ARN's resource part (`BUCKET/KEY`), when it names one.
    pub fn from_resource(arn: &str, partition: &str, resource: &str) -> Option<S3Object> {
        let (bucket, key) = resource.split_once('/')?;
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        (valid_bucket && !key.is_empty()).then(|| S3Object {
            arn: arn.to_string(),
            partition: partition.to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The object's URL in `region`: path-style on an endpoint given by `AWS_ENDPOINT_URL` and
    /// for buckets with dots (their names break virtual-hosted TLS), virtual-hosted otherwise.
    pub fn url(&self, region: &str, endpoint: Option<&str>) -> String {
        let key = encode_path(&self.key);
        if let Some(endpoint) = endpoint {
            return format!("{}/{}/{key}", endpoint.trim_end_matches('/'), self.bucket);
        }
        let suffix = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        if self.bucket.contains('.') {
            format!("https://s3.{region}.{suffix}/{}/{key}", self.bucket)
        } else {
            format!("https://{}.s3.{region}.{suffix}/{key}", self.bucket)
        }
    }
}

/// The version of a config object that does not exist (ETags are quoted, so none equals it).
const ABSENT: &str = "absent";

/// Reads `object` in `region` (updated to the bucket's when S3 redirects): its text and ETag,
/// or Unchanged when its ETag is still `known`.
pub async fn read(
    client: &SignedClient,
    object: &S3Object,
    region: &mut String,
    known: Option<&str>,
) -> Result<Read, FetchError> {
    let what = ("S3", "GetObject", object.arn.as_str());
    for _ in 0..2 {
        let mut headers = Vec::new();
        if let Some(etag) = known.filter(|k| *k != ABSENT) {
            headers.push(("if-none-match", etag.to_string()));
        }
        let answer = client
            .send(Call {
                method: "GET",
                url: object.url(region, client.endpoint_override()),
                headers,
                body: Vec::new(),
                service: "s3",
                region,
                what,
            })
            .await?;
        match answer.status {
            200 => {
                let text =
                    String::from_utf8(answer.body.to_vec()).map_err(|_| FetchError::NotText {
                        arn: object.arn.clone(),
                    })?;
                return Ok(Read::Changed(Fetched {
                    text,
                    version: answer.header("etag").map(str::to_string),
                }));
            }
            304 => return Ok(Read::Unchanged),
            404 => {
                let error = answer.error(what);
                if !matches!(&error, FetchError::Aws { code, .. } if code == "NoSuchKey") {
                    return Err(error);
                }
                if known == Some(ABSENT) {
                    return Ok(Read::Unchanged);
                }
                tracing::info!(
                    "S3 object {} does not exist (NoSuchKey): no experiments until it is written",
                    object.arn
                );
                return Ok(Read::Changed(Fetched {
                    text: String::new(),
                    version: Some(ABSENT.to_string()),
                }));
            }
            // The bucket lives in another Region: ask there.
            301 | 400 => match answer.header("x-amz-bucket-region") {
                Some(theirs) if theirs != region.as_str() => {
                    tracing::info!(
                        "config bucket {} is in {theirs}, not {region}: reading it there",
                        object.bucket
                    );
                    *region = theirs.to_string();
                }
                _ => return Err(answer.error(what)),
            },
            _ => return Err(answer.error(what)),
        }
    }
    Err(FetchError::Aws {
        service: what.0,
        operation: what.1,
        arn: object.arn.clone(),
        code: "PermanentRedirect".into(),
        message: "S3 kept redirecting to another Region".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_virtual_hosted_unless_an_endpoint_or_dots_say_otherwise() {
        let object = S3Object::from_resource(
            "arn:aws:s3:::chaos-config/faultline/config.yaml",
            "aws",
            "chaos-config/faultline/config.yaml",
        )
        .expect("an object");
        assert_eq!(
            object.url("eu-west-1", None),
            "https://chaos-config.s3.eu-west-1.amazonaws.com/faultline/config.yaml"
        );
        assert_eq!(
            object.url("eu-west-1", Some("http://127.0.0.1:5000/")),
            "http://127.0.0.1:5000/chaos-config/faultline/config.yaml"
        );
        let dotted = S3Object::from_resource("arn", "aws-cn", "a.b.c/k").expect("an object");
        assert_eq!(
            dotted.url("cn-north-1", None),
            "https://s3.cn-north-1.amazonaws.com.cn/a.b.c/k"
        );
        for bad in ["bucket", "bucket/", "Upper/key", "ab/key", "/key"] {
            assert_eq!(S3Object::from_resource("arn", "aws", bad), None, "{bad}");
        }
    }
}
