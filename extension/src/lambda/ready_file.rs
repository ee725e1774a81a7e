//! The ready file tells `faultline-wrapper` which of faultline's listeners are up.
//!
//! It holds one line, `RUNTIME PID DEPENDENCY SDK`: the Runtime API proxy's address, the
//! extension's pid, the dependency proxy's and the SDK endpoint's addresses, `-` for a listener
//! that is not up. It is written only when faultline is enabled with usable settings. The wrapper
//! acts on it only when the process `pid` is alive, so a stale file from a crashed extension is
//! ignored: it points the runtime at RUNTIME, and keeps HTTP(S)_PROXY on the dependency proxy
//! only when DEPENDENCY is up (otherwise it restores the function's own proxy).

use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// The listeners that are up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listeners {
    /// The Runtime API proxy.
    pub runtime: Option<SocketAddr>,
    /// The dependency proxy (HTTP_PROXY/HTTPS_PROXY).
    pub dependency: Option<SocketAddr>,
    /// The Failure Flags SDK endpoint.
    pub sdk: Option<SocketAddr>,
}

impl Listeners {
    /// The file's line for the process `pid`.
    pub fn line(&self, pid: u32) -> String {
        let show =
            |addr: Option<SocketAddr>| addr.map_or_else(|| "-".to_string(), |a| a.to_string());
        format!(
            "{} {pid} {} {}\n",
            show(self.runtime),
            show(self.dependency),
            show(self.sdk)
        )
    }
}

/// Writes the file atomically (temporary file, then rename).
pub fn write(path: &Path, listeners: &Listeners) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, listeners.line(std::process::id()))?;
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
        let listeners = Listeners {
            runtime: Some("127.0.0.1:5033".parse().expect("addr")),
            dependency: None,
            sdk: Some("127.0.0.1:5032".parse().expect("addr")),
        };
        write(&path, &listeners).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            format!("127.0.0.1:5033 {} - 127.0.0.1:5032\n", std::process::id())
        );
        remove(&path);
        assert!(!path.exists());
        remove(&path);
    }
}
