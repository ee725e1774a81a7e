//! The layer zips built into this deployer by `make wheel` (see build.rs), for `init` when
//! neither `--layer-zip` nor a `dist/` holds any.

use crate::plan::Arch;

/// One embedded zip: exactly the bytes `make layer` built.
pub struct EmbeddedLayer {
    pub arch: &'static str,
    /// SHA-256 of `zip`, hex.
    pub sha256: &'static str,
    pub zip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded_layers.rs"));

/// The embedded zip for `arch`, if this deployer carries one.
pub fn layer(arch: Arch) -> Option<&'static EmbeddedLayer> {
    EMBEDDED.iter().find(|layer| layer.arch == arch.as_str())
}
