//! The config as an S3 object (`--store s3`): the bucket `init` creates for it (versioning on,
//! every kind of public access blocked, encrypted at rest with S3-managed keys), the object read
//! with its ETag, and written only over the ETag read (`If-Match`, S3's conditional write).

use super::secret::DEFAULT_CONFIG;
use super::store::{self, Store, Written};
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

/// What an S3 error means for the object: missing (bucket or key), or something else.
fn missing(code: Option<&str>) -> bool {
    matches!(code, Some("NoSuchKey" | "NoSuchBucket" | "NotFound"))
}

/// The version of an object that does not exist yet, in a bucket that does: an empty config,
/// as the extension reads it; written with `If-None-Match: *`.
pub const ABSENT: &str = "absent";

/// Whether the bucket exists: a listing of the config's key alone (s3:ListBucket, which is
/// also what HeadBucket needs; moto checks HeadBucket against an action AWS does not have).
pub async fn bucket_exists(aws_: &Aws, bucket: &str) -> Result<bool, DeployError> {
    let listed = aws_
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(super::names::CONFIG_KEY)
        .max_keys(1)
        .send()
        .await;
    match listed {
        Ok(_) => Ok(true),
        Err(err) if missing(err.code()) => Ok(false),
        Err(err) => Err(aws(format!("reading bucket {bucket}"), err)),
    }
}

/// The object's text and ETag. A missing object in an existing bucket (a setup template makes
/// the bucket, not the object) is an empty config, of version [`ABSENT`].
pub async fn read(aws_: &Aws, bucket: &str, key: &str) -> Result<(String, String), DeployError> {
    let object = match aws_.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => object,
        Err(err) if err.code() == Some("NoSuchKey") => {
            return Ok((String::new(), ABSENT.to_string()));
        }
        Err(err) if missing(err.code()) => {
            return Err(DeployError::Input(format!(
                "S3 bucket {bucket} not found: run `deployer init` first"
            )));
        }
        Err(err) => return Err(aws(format!("reading S3 object s3://{bucket}/{key}"), err)),
    };
    let etag = object
        .e_tag()
        .map(str::to_string)
        .ok_or_else(|| DeployError::Failed(format!("s3://{bucket}/{key}: no ETag returned")))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|err| DeployError::Failed(format!("reading s3://{bucket}/{key}: {err}")))?
        .into_bytes();
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| DeployError::Failed(format!("s3://{bucket}/{key} is not UTF-8 text")))?;
    Ok((text, etag))
}

/// Writes `text` if the object's ETag is still `etag`.
pub async fn write_if(
    aws_: &Aws,
    bucket: &str,
    key: &str,
    text: &str,
    etag: &str,
) -> Result<Written, DeployError> {
    let put = aws_
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/x-yaml");
    // An object that did not exist is created only if it still does not.
    let put = if etag == ABSENT {
        put.if_none_match("*")
    } else {
        put.if_match(etag)
    };
    let put = put.body(text.as_bytes().to_vec().into()).send().await;
    match put {
        Ok(_) => Ok(Written::Won),
        // 412: the object changed since it was read; 409: a concurrent conditional write.
        Err(err)
            if matches!(
                err.code(),
                Some("PreconditionFailed" | "ConditionalRequestConflict")
            ) =>
        {
            Ok(Written::Lost)
        }
        Err(err) => Err(aws(format!("writing S3 object s3://{bucket}/{key}"), err)),
    }
}

/// What `init` did (or, with --dry-run, would do) to the bucket and object.
pub struct ObjectOutcome {
    pub arn: String,
    pub action: String,
    pub removed: Vec<String>,
}

/// Creates the bucket and its settings when missing, then the object (with `text`, else an
/// empty config); an existing object keeps its text unless `text` differs, when it is replaced
/// through the same compare-and-swap as `experiment`.
pub async fn ensure(
    aws_: &Aws,
    store: &Store,
    text: Option<&str>,
    dry_run: bool,
) -> Result<ObjectOutcome, DeployError> {
    let (Store::Object { bucket, key, .. }, Some(arn)) = (store, store.object_arn()) else {
        return Err(DeployError::Failed("not an S3 store".into()));
    };
    let outcome = |action: &str, removed: Vec<String>| ObjectOutcome {
        arn: arn.clone(),
        action: action.to_string(),
        removed,
    };
    if !bucket_exists(aws_, bucket).await? {
        if dry_run {
            return Ok(outcome("would be created, with its bucket", Vec::new()));
        }
        create_bucket(aws_, bucket).await?;
    }
    let current = match read(aws_, bucket, key).await? {
        (_, version) if version == ABSENT => None,
        (text, _) => Some(text),
    };
    match (current.as_deref(), text) {
        (Some(_), None) => Ok(outcome(
            "kept: its experiments and settings are left as they are (--config replaces them)",
            Vec::new(),
        )),
        (Some(current), Some(text)) if current == text => Ok(outcome("unchanged", Vec::new())),
        (Some(current), Some(text)) => {
            let removed = faultline_schema::config::removed_experiments(current, text);
            if dry_run {
                return Ok(outcome("would be replaced by --config", removed));
            }
            store::edit(aws_, store, |now| {
                Ok((now != text).then(|| text.to_string()))
            })
            .await?;
            Ok(outcome("replaced by --config", removed))
        }
        (None, text) => {
            if dry_run {
                return Ok(outcome("would be created", Vec::new()));
            }
            // If-None-Match: a concurrent init's object is never overwritten.
            let created = aws_
                .s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/x-yaml")
                .if_none_match("*")
                .body(text.unwrap_or(DEFAULT_CONFIG).as_bytes().to_vec().into())
                .send()
                .await;
            match created {
                Ok(_) => Ok(outcome("created", Vec::new())),
                Err(err) if err.code() == Some("PreconditionFailed") => Ok(outcome(
                    "kept: created meanwhile by another init",
                    Vec::new(),
                )),
                Err(err) => Err(aws(format!("creating S3 object s3://{bucket}/{key}"), err)),
            }
        }
    }
}

/// The bucket, private and versioned (every config ever written can be restored), encrypted
/// with S3-managed keys (no KMS key to grant to every function).
async fn create_bucket(aws_: &Aws, bucket: &str) -> Result<(), DeployError> {
    let mut create = aws_.s3.create_bucket().bucket(bucket);
    // us-east-1 takes no location constraint.
    if aws_.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(aws_.region.as_str()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => {}
        Err(err) => return Err(aws(format!("creating bucket {bucket}"), err)),
    }
    aws_.s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|err| aws(format!("blocking public access to bucket {bucket}"), err))?;
    aws_.s3
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|err| aws(format!("turning versioning on for bucket {bucket}"), err))?;
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|err| DeployError::Failed(format!("bucket {bucket} encryption: {err}")))?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .map_err(|err| DeployError::Failed(format!("bucket {bucket} encryption: {err}")))?;
    aws_.s3
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|err| aws(format!("encrypting bucket {bucket}"), err))?;
    Ok(())
}
