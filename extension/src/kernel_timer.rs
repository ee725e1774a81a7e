//! A timer the kernel keeps (a timerfd), waited on as I/O: for the long waits of an extension
//! that must cost nothing while they run.
//!
//! While a timer of the runtime's own is pending, each of the runtime's parks reads the clock
//! and walks the timer wheel: the config's periodic refresh, always pending, cost the Runtime
//! API relay about 1,000 instructions an invocation (four parks), in every environment with a
//! config. A timerfd is one more descriptor in the runtime's epoll set, read only when it
//! fires. A thread sleeping instead would cost as much in another way: with a second thread,
//! every system call goes through glibc's cancellation wrappers.

use rustix::fd::OwnedFd;
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use std::time::Duration;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A one-shot timer on the monotonic clock. Where no timerfd can be made (or one fails), the
/// runtime's own timer stands in, with a warning: a wait is never lost.
pub struct KernelTimer {
    fd: Option<AsyncFd<OwnedFd>>,
    /// What the timer is for, in its warnings.
    what: &'static str,
}

impl KernelTimer {
    pub fn new(what: &'static str) -> KernelTimer {
        let fd = match Self::timerfd() {
            Ok(fd) => Some(fd),
            Err(err) => {
                tracing::warn!("no kernel timer for {what} ({err}); using the runtime's");
                None
            }
        };
        KernelTimer { fd, what }
    }

    fn timerfd() -> std::io::Result<AsyncFd<OwnedFd>> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // tokio deprecated its safe constructors (tokio#8587) because a type's `as_raw_fd` could
        // name another descriptor later, and made the replacement `unsafe`, which this workspace
        // forbids. An `OwnedFd`, owned here for the timer's life, always names the same one: the
        // condition the replacement asks its caller to uphold holds.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(fd, Interest::READABLE)?;
        Ok(fd)
    }

    /// Waits for `wait`.
    pub async fn sleep(&mut self, wait: Duration) {
        if let Some(fd) = &self.fd {
            match Self::wait_on(fd, wait).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(
                        "the kernel timer for {} failed ({err}); using the runtime's",
                        self.what
                    );
                    self.fd = None;
                }
            }
        }
        tokio::time::sleep(wait).await;
    }

    /// Arms the timerfd for `wait` (a zero wait is taken as one nanosecond: zero would disarm
    /// it) and waits until it fires.
    async fn wait_on(fd: &AsyncFd<OwnedFd>, wait: Duration) -> std::io::Result<()> {
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let value = Timespec {
            tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: if wait.is_zero() {
                1
            } else {
                i64::from(wait.subsec_nanos())
            },
        };
        timerfd_settime(
            fd.get_ref(),
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: zero,
                it_value: value,
            },
        )?;
        loop {
            let mut ready = fd.readable().await?;
            // The count of expirations (8 bytes): reading it resets the descriptor.
            let mut expirations = [0u8; 8];
            match ready.try_io(|fd| {
                rustix::io::read(fd.get_ref(), &mut expirations).map_err(std::io::Error::from)
            }) {
                Ok(read) => return read.map(|_| ()),
                // Woken without an expiration to read: wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn fires_after_its_wait_and_again_when_rearmed() {
        let mut timer = KernelTimer::new("a test");
        for wait in [
            Duration::from_millis(30),
            Duration::ZERO,
            Duration::from_millis(10),
        ] {
            let started = Instant::now();
            timer.sleep(wait).await;
            assert!(started.elapsed() >= wait, "{wait:?}");
            assert!(
                timer.fd.is_some(),
                "the timerfd waited, not the runtime's timer"
            );
        }
    }
}
