//! `cpu`: a thread that burns a share of one CPU in slices of 10 ms (busy for the share, asleep
//! for the rest), taking it from the function as a noisy neighbour would; stopped when the
//! experiment ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One slice: busy for `percent` of it, then asleep.
const SLICE: Duration = Duration::from_millis(10);

/// The burning thread, stopped (and joined) when dropped.
#[derive(Debug)]
pub struct Burner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    percent: u8,
}

impl Burner {
    /// Starts a thread burning `percent` of one CPU; None when no thread can be started.
    pub fn start(percent: u8) -> Option<Burner> {
        let stop = Arc::new(AtomicBool::new(false));
        let busy = SLICE.mul_f64(f64::from(percent.min(100)) / 100.0);
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("faultline-cpu".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        while started.elapsed() < busy {
                            std::hint::spin_loop();
                        }
                        let rest = SLICE.saturating_sub(busy);
                        if !rest.is_zero() {
                            std::thread::sleep(rest);
                        }
                    }
                })
                .ok()?
        };
        Some(Burner {
            stop,
            thread: Some(thread),
            percent,
        })
    }

    /// The share burnt, in percent.
    pub fn percent(&self) -> u8 {
        self.percent
    }
}

impl Drop for Burner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
