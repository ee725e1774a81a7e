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

/// A one-shot timer on the monotonic clock.
pub struct KernelTimer(AsyncFd<OwnedFd>);

impl KernelTimer {
    pub fn new() -> std::io::Result<KernelTimer> {
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
        Ok(KernelTimer(fd))
    }

    /// Waits for `wait` (a zero wait is taken as one nanosecond: zero would disarm the timer).
    pub async fn sleep(&mut self, wait: Duration) -> std::io::Result<()> {
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
            self.0.get_ref(),
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: zero,
                it_value: value,
            },
        )?;
        loop {
            let mut ready = self.0.readable().await?;
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
        let mut timer = KernelTimer::new().expect("timerfd");
        for wait in [
            Duration::from_millis(30),
            Duration::ZERO,
            Duration::from_millis(10),
        ] {
            let started = Instant::now();
            timer.sleep(wait).await.expect("sleep");
            assert!(started.elapsed() >= wait, "{wait:?}");
        }
    }
}
