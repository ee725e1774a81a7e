//! `disk`: one file in the temporary directory (`/tmp` in Lambda, `TMPDIR` when set), allocated
//! with fallocate (not written), never larger than the free space less 1 MiB, removed when the
//! experiment ends.

use faultline_schema::config::DiskEffect;
use std::fs::File;
use std::path::{Path, PathBuf};

const MIB: u64 = 1024 * 1024;
/// Always left free.
const MARGIN: u64 = MIB;

/// The size the file should have: `effect` given `free` bytes, the file's own allocation counted
/// as free (it is the file being sized).
pub fn target_size(effect: DiskEffect, free: u64) -> u64 {
    let most = free.saturating_sub(MARGIN);
    match effect {
        DiskEffect::Fill(mb) => mb.saturating_mul(MIB).min(most),
        DiskEffect::LeaveFree(mb) => free.saturating_sub(mb.saturating_mul(MIB)).min(most),
    }
}

/// The file, removed when dropped.
#[derive(Debug)]
pub struct Fill {
    path: PathBuf,
    file: File,
    size: u64,
}

impl Fill {
    /// Creates (or resizes) the file at `path` for `effect`.
    pub fn start(path: PathBuf, effect: DiskEffect) -> std::io::Result<Fill> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut fill = Fill {
            path,
            file,
            size: 0,
        };
        fill.resize(effect)?;
        Ok(fill)
    }

    /// Sizes the file for `effect` now: grown with fallocate, or cut.
    pub fn resize(&mut self, effect: DiskEffect) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        let stats = rustix::fs::statvfs(dir)?;
        let available = stats.f_bavail.saturating_mul(stats.f_frsize);
        let own = allocated(&self.file)?;
        let size = target_size(effect, available.saturating_add(own));
        if size < self.file.metadata()?.len() {
            self.file.set_len(size)?;
        }
        if size > 0 {
            rustix::fs::fallocate(&self.file, rustix::fs::FallocateFlags::empty(), 0, size)?;
        }
        self.size = size;
        Ok(())
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The bytes a file holds on disk.
fn allocated(file: &File) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.blocks().saturating_mul(512))
}

impl Drop for Fill {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.path) {
            tracing::warn!("cannot remove {}: {err}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_leaves_a_mebibyte_free_whatever_is_asked() {
        let gib = 1024 * MIB;
        assert_eq!(target_size(DiskEffect::Fill(400), gib), 400 * MIB);
        assert_eq!(target_size(DiskEffect::Fill(4096), gib), gib - MIB);
        assert_eq!(target_size(DiskEffect::LeaveFree(10), gib), gib - 10 * MIB);
        assert_eq!(target_size(DiskEffect::LeaveFree(0), gib), gib - MIB);
        assert_eq!(target_size(DiskEffect::LeaveFree(2048), gib), 0);
        assert_eq!(target_size(DiskEffect::Fill(1), 0), 0);
    }

    #[test]
    fn the_file_is_allocated_resized_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fill");
        let mut fill = Fill::start(path.clone(), DiskEffect::Fill(3)).expect("start");
        let on_disk = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(p).expect("metadata");
            (m.len(), m.blocks() * 512)
        };
        let (len, blocks) = on_disk(&path);
        assert_eq!(len, 3 * MIB);
        assert!(blocks >= 3 * MIB, "allocated, not sparse: {blocks}");
        fill.resize(DiskEffect::Fill(1)).expect("shrink");
        assert_eq!(on_disk(&path).0, MIB);
        fill.resize(DiskEffect::Fill(2)).expect("grow");
        assert_eq!(on_disk(&path).0, 2 * MIB);
        drop(fill);
        assert!(!path.exists());
    }
}
