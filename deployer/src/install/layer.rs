//! faultline's published layers: publishing a zip's version (`init`, only when the zip changed),
//! and the newest version of one, for `enable` (the version to attach) and `render --from-aws`.

use super::names;
use super::zips::LayerZip;
use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::plan::Arch;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, LayerVersionContentInput};

/// The newest version of a layer, if any: (version ARN, description).
pub async fn latest_layer_version(
    aws_: &Aws,
    layer_name: &str,
) -> Result<Option<(String, String)>, DeployError> {
    let listed = aws_
        .lambda
        .list_layer_versions()
        .layer_name(layer_name)
        .max_items(1)
        .send()
        .await;
    match listed {
        Ok(listed) => Ok(listed
            .layer_versions
            .unwrap_or_default()
            .into_iter()
            .max_by_key(|v| v.version)
            .and_then(|v| Some((v.layer_version_arn?, v.description.unwrap_or_default())))),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws(format!("listing layer {layer_name}"), err)),
    }
}

/// Publishes a version of the layer for `zip`'s architecture unless the newest version already
/// carries the zip's SHA-256 in its description: (version ARN, what was done).
pub async fn ensure(
    aws_: &Aws,
    name: &str,
    zip: &LayerZip,
    dry_run: bool,
) -> Result<(String, &'static str), DeployError> {
    let layer_name = names::layer(name, zip.arch);
    let marker = format!("sha256:{}", zip.sha256);
    if let Some((arn, description)) = latest_layer_version(aws_, &layer_name).await?
        && description.contains(&marker)
    {
        return Ok((arn, "unchanged"));
    }
    if dry_run {
        return Ok((
            format!("(new version of {layer_name})"),
            "would be published",
        ));
    }
    let architecture = match zip.arch {
        Arch::X86_64 => Architecture::X8664,
        Arch::Arm64 => Architecture::Arm64,
    };
    let published = aws_
        .lambda
        .publish_layer_version()
        .layer_name(&layer_name)
        .description(format!("faultline {} {marker}", env!("CARGO_PKG_VERSION")))
        .content(
            LayerVersionContentInput::builder()
                .zip_file(Blob::new(zip.bytes.clone()))
                .build(),
        )
        .compatible_architectures(architecture)
        .license_info("Apache-2.0")
        .send()
        .await
        .map_err(|err| {
            aws(
                format!("publishing layer {layer_name} from {}", zip.origin),
                err,
            )
        })?;
    let arn = published
        .layer_version_arn
        .ok_or_else(|| DeployError::Failed(format!("layer {layer_name}: no ARN returned")))?;
    Ok((arn, "published"))
}
