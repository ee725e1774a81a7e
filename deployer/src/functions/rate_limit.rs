//! A shared pace for AWS calls: at most N requests per second in one account and Region (AWS's
//! API quotas are per account and Region), optionally within a pace for a whole fleet run, and a
//! count of the calls made (the benchmarks report calls per function).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub struct RateLimit {
    interval: Duration,
    next: Mutex<Instant>,
    calls: AtomicU64,
    /// The pace of the whole run, when this one is a target's within it.
    within: Option<Arc<RateLimit>>,
}

impl RateLimit {
    pub fn per_second(rate: u32) -> RateLimit {
        RateLimit {
            interval: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(Instant::now()),
            calls: AtomicU64::new(0),
            within: None,
        }
    }

    /// A pace of `rate` per second for one target whose calls also keep to `whole`'s pace.
    pub fn within(whole: &Arc<RateLimit>, rate: u32) -> RateLimit {
        RateLimit {
            within: Some(Arc::clone(whole)),
            ..RateLimit::per_second(rate)
        }
    }

    /// Takes the first slot free at or after `not_before`.
    fn reserve(&self, not_before: Instant) -> Instant {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let slot = (*next).max(not_before);
        *next = slot + self.interval;
        slot
    }

    /// Waits for the next slot (of this pace, and then of the whole run's).
    pub async fn acquire(&self) {
        let mut slot = self.reserve(Instant::now());
        if let Some(whole) = &self.within {
            slot = whole.reserve(slot);
        }
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

    #[tokio::test(start_paused = true)]
    async fn targets_keep_their_own_pace_and_the_whole_runs() {
        // Two targets at 10/s each within 15/s: 30 calls take 2 s, not 1.5 s (each target's
        // own 15 calls need 1.4 s) nor 3 s (one after the other).
        let whole = Arc::new(RateLimit::per_second(15));
        let a = Arc::new(RateLimit::within(&whole, 10));
        let b = Arc::new(RateLimit::within(&whole, 10));
        let started = Instant::now();
        let run = |limit: Arc<RateLimit>| async move {
            for _ in 0..15 {
                limit.acquire().await;
            }
        };
        tokio::join!(run(Arc::clone(&a)), run(Arc::clone(&b)));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(1900), "{took:?}");
        assert!(took <= Duration::from_millis(2100), "{took:?}");
        assert_eq!((a.calls(), b.calls(), whole.calls()), (15, 15, 30));
        // Alone, a target is held to its own pace only.
        let whole = Arc::new(RateLimit::per_second(100));
        let alone = RateLimit::within(&whole, 10);
        let started = Instant::now();
        for _ in 0..11 {
            alone.acquire().await;
        }
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
