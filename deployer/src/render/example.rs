//! The example function of the CloudFormation function template and the SAM application: what
//! it had before faultline (one shared layer, two variables of its own). The tests enable the
//! same function with `deployer enable` and compare.

/// The template parameter naming the layer the function already had.
pub const SHARED_LAYER_PARAMETER: &str = "SharedLayerArn";

/// The function's own variables.
pub const OWN_ENV: [(&str, &str); 2] =
    [("LOG_LEVEL", "INFO"), ("NO_PROXY", "internal.example.com")];
