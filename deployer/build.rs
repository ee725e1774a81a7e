//! Embeds the layer zips in the deployer when FAULTLINE_EMBED_LAYERS names the directory holding
//! them (`make wheel` sets it to dist/, where `make layer` put them): a deployer installed from
//! the wheel publishes the layer it was built with, with no source tree and no Rust toolchain.
//! Without it (every other build) nothing is embedded and `init` reads dist/ or --layer-zip.

// A build script stops the build with a message by panicking.
#![allow(clippy::panic)]

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::PathBuf;

const ARCHES: [&str; 2] = ["x86_64", "arm64"];

fn main() {
    println!("cargo::rerun-if-env-changed=FAULTLINE_EMBED_LAYERS");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let mut code = String::from(
        "/// The layer zips built into this deployer (empty unless built by `make wheel`).\n\
         pub const EMBEDDED: &[EmbeddedLayer] = &[\n",
    );
    let mut summary = Vec::new();
    if let Some(dir) = std::env::var_os("FAULTLINE_EMBED_LAYERS") {
        let dir = PathBuf::from(dir);
        for arch in ARCHES {
            let path = dir.join(format!("faultline-layer-{arch}.zip"));
            println!("cargo::rerun-if-changed={}", path.display());
            let bytes = std::fs::read(&path).unwrap_or_else(|err| {
                panic!(
                    "FAULTLINE_EMBED_LAYERS: cannot read {}: {err} (run `make layer`)",
                    path.display()
                )
            });
            let sha256 = Sha256::digest(&bytes)
                .iter()
                .fold(String::new(), |mut hex, b| {
                    let _ = write!(hex, "{b:02x}");
                    hex
                });
            let absolute = std::fs::canonicalize(&path).unwrap_or(path);
            let _ = writeln!(
                code,
                "    EmbeddedLayer {{ arch: {arch:?}, sha256: {sha256:?}, zip: include_bytes!({:?}) }},",
                absolute.display().to_string()
            );
            summary.push(format!("{arch} sha256:{}", &sha256[..12]));
        }
    }
    code.push_str("];\n");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let described = if summary.is_empty() {
        format!("{version} (no layer embedded: publishes dist/ or --layer-zip)")
    } else {
        format!(
            "{version} (layer {version} embedded: {})",
            summary.join(", ")
        )
    };
    let _ = writeln!(
        code,
        "/// `deployer --version`: the deployer's version and the embedded layer's.\n\
         pub const VERSION: &str = {described:?};"
    );
    if let Err(err) = std::fs::write(out.join("embedded_layers.rs"), code) {
        panic!("cannot write embedded_layers.rs: {err}");
    }
}
