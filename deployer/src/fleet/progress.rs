//! One progress line per account and Region of a fleet run (on a terminal only): what the target
//! is doing, its functions done of those selected, and at the end what happened there.

use super::Target;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::time::Duration;

/// The lines of a run; none when hidden (JSON output, or not a terminal).
pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<Vec<(Target, ProgressBar)>>,
}

impl Progress {
    /// Lines on standard error when `show` (indicatif draws nothing when it is not a terminal).
    pub fn new(show: bool) -> Progress {
        Progress {
            multi: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(Vec::new()),
        }
    }

    /// The line of `target` (made on first use), or None when hidden.
    pub fn bar(&self, target: &Target) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, bar)) = bars.iter().find(|(t, _)| t == target) {
            return Some(bar.clone());
        }
        let bar = multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{prefix:<28} {spinner} {msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(format!("{} {}", target.account, target.region));
        bar.enable_steady_tick(Duration::from_millis(120));
        bars.push((target.clone(), bar.clone()));
        Some(bar)
    }

    /// Says what `target` is doing.
    pub fn says(&self, target: &Target, what: &str) {
        if let Some(bar) = self.bar(target) {
            bar.set_message(what.to_string());
        }
    }

    /// Turns `target`'s line into a count of `len` functions.
    pub fn counting(&self, target: &Target, len: usize) -> Option<ProgressBar> {
        let bar = self.bar(target)?;
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:<28} {bar:30} {pos}/{len} functions {msg}")
        {
            bar.set_style(style);
        }
        bar.set_length(len as u64);
        bar.set_position(0);
        bar.set_message("");
        Some(bar)
    }

    /// Ends `target`'s line with what happened there; it stays on the screen.
    pub fn finish(&self, target: &Target, said: &str) {
        if let Some(bar) = self.bar(target) {
            bar.finish_with_message(said.to_string());
        }
    }
}
