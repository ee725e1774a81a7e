//! A shared pace for AWS calls: at most N requests per second per region, and a count of the
//! calls made (the enable benchmark reports calls per function).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

pub struct RateLimit {
    interval: Duration,
    next: Mutex<Instant>,
    calls: AtomicU64,
}

impl RateLimit {
    pub fn per_second(rate: u32) -> RateLimit {
        RateLimit {
            interval: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(Instant::now()),
            calls: AtomicU64::new(0),
        }
    }

    /// Waits for the next slot.
    pub async fn acquire(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced() {
        let limit = RateLimit::per_second(10);
        let started = Instant::now();
        for _ in 0..11 {
            limit.acquire().await;
        }
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(limit.calls(), 11);
    }
}
