//! The layer zips `init` publishes, read and checked before anything is changed.

use super::embedded;
use crate::error::DeployError;
use crate::plan::Arch;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the zips come from: `init`'s `--arch`, `--layer-zip` and `--dist`.
pub struct ZipSource<'a> {
    pub arch: &'a [String],
    pub layer_zip: Option<&'a Path>,
    pub dist: Option<&'a Path>,
}

/// A validated layer zip for one architecture.
pub struct LayerZip {
    pub arch: Arch,
    /// Where it came from: a path, or this deployer.
    pub origin: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// The layer zips to publish: `--layer-zip` (its architecture read from the binary inside, and
/// checked against `--arch`), or one per architecture from `--dist`, ./dist, or the zips
/// embedded in this deployer, in that order.
pub fn read(source: &ZipSource) -> Result<Vec<LayerZip>, DeployError> {
    let given = Arch::parse_list(source.arch).map_err(DeployError::Input)?;
    if let Some(path) = source.layer_zip {
        let bytes = std::fs::read(path)
            .map_err(|err| DeployError::Input(format!("--layer-zip {}: {err}", path.display())))?;
        let found = zip_arch(&bytes).map_err(|reason| {
            DeployError::Input(format!("--layer-zip {}: {reason}", path.display()))
        })?;
        let arch = match (found, given.as_slice()) {
            (Some(found), []) => found,
            (Some(found), [arch]) if *arch == found => found,
            (Some(found), _) => {
                return Err(DeployError::Input(format!(
                    "--layer-zip {}: its extension is built for {found}, not --arch {}",
                    path.display(),
                    source.arch.join(",")
                )));
            }
            (None, [arch]) => *arch,
            (None, _) => {
                return Err(DeployError::Input(format!(
                    "--layer-zip {}: no extension binary tells its architecture: give one --arch",
                    path.display()
                )));
            }
        };
        let sha256 = hex(&Sha256::digest(&bytes));
        return Ok(vec![LayerZip {
            arch,
            origin: path.display().to_string(),
            bytes,
            sha256,
        }]);
    }
    let arches = if given.is_empty() {
        vec![Arch::X86_64, Arch::Arm64]
    } else {
        given
    };
    let zip_in = |dir: &Path, arch: Arch| dir.join(format!("faultline-layer-{arch}.zip"));
    // A source checkout's dist/ wins over the embedded zips; an explicit --dist must hold them.
    let dist = match source.dist {
        Some(dir) => Some(dir.to_path_buf()),
        None => {
            let default = PathBuf::from("dist");
            arches
                .iter()
                .all(|&arch| zip_in(&default, arch).is_file())
                .then_some(default)
        }
    };
    arches
        .into_iter()
        .map(|arch| {
            if let Some(dir) = &dist {
                let path = zip_in(dir, arch);
                let bytes = std::fs::read(&path).map_err(|err| {
                    DeployError::Input(format!(
                        "layer zip {} for {arch}: {err}; run `make layer` (or `deployer layer build`) or pass --layer-zip",
                        path.display()
                    ))
                })?;
                let sha256 = hex(&Sha256::digest(&bytes));
                return Ok(LayerZip {
                    arch,
                    origin: path.display().to_string(),
                    bytes,
                    sha256,
                });
            }
            let layer = embedded::layer(arch).ok_or_else(|| {
                DeployError::Input(format!(
                    "no layer zip for {arch}: this deployer embeds none (installed from source) \
                     and there is no dist/faultline-layer-{arch}.zip; run `make layer` or pass \
                     --layer-zip or --dist"
                ))
            })?;
            Ok(LayerZip {
                arch,
                origin: format!("embedded in this deployer {}", env!("CARGO_PKG_VERSION")),
                bytes: layer.zip.to_vec(),
                sha256: layer.sha256.to_string(),
            })
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the extension binary sits in a layer zip.
const EXTENSION: &str = "extensions/faultline";

/// The architecture of a layer zip, from the ELF header of its extension binary (`e_machine`:
/// 62 for x86-64, 183 for AArch64). `Ok(None)` when the zip holds no ELF extension to tell by.
pub fn zip_arch(bytes: &[u8]) -> Result<Option<Arch>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|err| format!("not a zip file ({err})"))?;
    let Ok(mut extension) = archive.by_name(EXTENSION) else {
        return Ok(None);
    };
    let mut header = [0u8; 20];
    if extension.read_exact(&mut header).is_err() || &header[..4] != b"\x7fELF" {
        return Ok(None);
    }
    // e_machine follows e_ident (16 bytes) and e_type (2); its byte order is e_ident[5].
    let machine = if header[5] == 2 {
        u16::from_be_bytes([header[18], header[19]])
    } else {
        u16::from_le_bytes([header[18], header[19]])
    };
    match machine {
        62 => Ok(Some(Arch::X86_64)),
        183 => Ok(Some(Arch::Arm64)),
        other => Err(format!(
            "{EXTENSION} is built for ELF machine {other}, neither x86_64 (62) nor arm64 (183)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(extension: &[u8]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        writer
            .start_file(EXTENSION, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(extension).unwrap();
        writer.finish().unwrap();
        out.into_inner()
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        header.resize(18, 0);
        header.extend_from_slice(&machine.to_le_bytes());
        header.resize(64, 0);
        header
    }

    #[test]
    fn the_architecture_comes_from_the_elf_header() {
        assert_eq!(zip_arch(&zip_with(&elf(62))), Ok(Some(Arch::X86_64)));
        assert_eq!(zip_arch(&zip_with(&elf(183))), Ok(Some(Arch::Arm64)));
        assert!(zip_arch(&zip_with(&elf(40))).is_err());
        assert_eq!(zip_arch(&zip_with(b"#!/bin/sh")), Ok(None));
        assert!(zip_arch(b"not a zip").is_err());
    }
}
