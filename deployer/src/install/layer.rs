//! faultline's published layers: the newest version of one, for `init` (publish only when the
//! zip changed), `enable` (the version to attach) and `render --from-aws`.

use crate::aws::Aws;
use crate::error::{DeployError, aws};

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
