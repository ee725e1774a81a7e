//! Child processes whose output is collected line by line, killed when their handle is dropped.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A child process whose stdout and stderr lines are collected.
pub struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn spawn(mut command: Command) -> Proc {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn process");
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            collect(BufReader::new(out), Arc::clone(&lines));
        }
        if let Some(err) = child.stderr.take() {
            collect(BufReader::new(err), Arc::clone(&lines));
        }
        Proc { child, lines }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running process")
    }

    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }

    pub fn log_text(&self) -> String {
        self.logs().join("\n")
    }

    pub async fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.logs().iter().any(|l| l.contains(needle)) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Waits until the process accepts connections on `port`.
    pub async fn wait_port(&self, port: u16, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "{what} did not start: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()?
            .ok()
    }

    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: BufReader<R>,
    lines: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut reader = reader.lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if std::env::var_os("FAULTLINE_TEST_ECHO").is_some() {
                eprintln!("  | {line}");
            }
            lines.lock().expect("lock").push(line);
        }
    });
}
