//! faultline's published layers: the newest version of one, for `init` (publish only when the
//! zip changed), `enable` (the version to attach) and `render --from-aws`.

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use crate::plan::Arch;
use std::io::Read;

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
