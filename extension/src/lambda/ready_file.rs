//! The ready file tells `faultline-wrapper` that the Runtime API proxy is listening.
//!
//! It holds one line, `host:port pid`. The wrapper redirects the runtime only when the file exists
//! and the process `pid` is alive, so a stale file from a crashed extension is ignored.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// Writes the file atomically (temporary file, then rename).
pub fn write(path: &Path, addr: SocketAddr) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, format!("{addr} {}\n", std::process::id()))?;
    std::fs::rename(&tmp, path)
}

/// Removes the file; a missing file is fine.
pub fn remove(path: &Path) {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove ready file {}: {err}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_address_and_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/ready");
        write(&path, "127.0.0.1:5033".parse().expect("addr")).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("127.0.0.1:5033 {}\n", std::process::id()));
        remove(&path);
        assert!(!path.exists());
        remove(&path);
    }
}
