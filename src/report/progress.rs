//! The live progress bar of `faultline run` (indicatif): elapsed and remaining workload
//! time, the current rate of successful operations and the fault in force.
//!
//! The caller decides whether to show it: off with `--quiet` or when stdout is not a
//! terminal ([`stdout_is_terminal`]). Disabled, [`Progress::println`] is a plain
//! `println!`, so the lines a run prints are the same either way. The bar draws on
//! stdout, like the lines printed above it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Whether stdout is a terminal (the bar is for people, not for logs).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// The progress bar; cheap to share by reference between tasks (`&self` everywhere), and
/// to clone (the bar is shared).
#[derive(Debug, Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: Duration,
    quiet: bool,
}

/// Whole seconds, or `1m05s` past a minute.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    /// A bar for a workload of `total`; hidden (and free) when `enabled` is false.
    pub fn new(total: Duration, enabled: bool) -> Self {
        if !enabled {
            return Progress { bar: None, total, quiet: false };
        }
        let len = (total.as_millis() as u64).max(1);
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stdout());
        let style = ProgressStyle::default_bar().template("{spinner} [{bar:30}] {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        let p = Progress { bar: Some(bar), total, quiet: false };
        p.update(Duration::ZERO, 0.0, "none");
        p
    }

    /// No bar and no lines at all (`--quiet`).
    pub fn silent(total: Duration) -> Self {
        Progress { bar: None, total, quiet: true }
    }

    /// The message shown next to the bar.
    fn message(&self, elapsed: Duration, ok_per_s: f64, fault_in_force: &str) -> String {
        let remaining = self.total.saturating_sub(elapsed);
        let fault = if fault_in_force.is_empty() { "none" } else { fault_in_force };
        format!("{} / {} ({} left) · {:.0} ok/s · fault: {fault}", short(elapsed), short(self.total), short(remaining), ok_per_s.max(0.0))
    }

    /// Show `elapsed` of the workload, the current rate of successful operations and the
    /// fault in force (`"none"` or empty when there is none). Past the total, the bar
    /// stays full.
    pub fn update(&self, elapsed: Duration, ok_per_s: f64, fault_in_force: &str) {
        if let Some(bar) = &self.bar {
            let len = bar.length().unwrap_or(1);
            bar.set_position((elapsed.as_millis() as u64).min(len));
            bar.set_message(self.message(elapsed, ok_per_s, fault_in_force));
        }
    }

    /// Print a line above the bar (a plain `println!` when the bar is disabled).
    pub fn println(&self, line: &str) {
        // Proofs and notes quote what etcd and the files said: shown, never obeyed.
        let line = &crate::markup::terminal(line);
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) if !bar.is_finished() && !bar.is_hidden() => bar.println(line),
            _ => println!("{line}"),
        }
    }

    /// Remove the bar (the report follows it). Further calls are harmless.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }

    /// Whether the bar is shown.
    pub fn enabled(&self) -> bool {
        self.bar.is_some()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_progress_does_nothing_and_prints_plainly() {
        let p = Progress::new(Duration::from_secs(60), false);
        assert!(!p.enabled());
        p.update(Duration::from_secs(10), 400.0, "partition n1");
        p.println("a line");
        p.finish();
        p.finish();
    }

    #[test]
    fn message_shows_elapsed_remaining_rate_and_fault() {
        let p = Progress::new(Duration::from_secs(90), false);
        assert_eq!(p.message(Duration::from_secs(30), 396.6, "partition (isolate) n1"), "30s / 1m30s (1m00s left) · 397 ok/s · fault: partition (isolate) n1");
        assert_eq!(p.message(Duration::from_secs(120), 0.0, ""), "2m00s / 1m30s (0s left) · 0 ok/s · fault: none");
    }

    #[test]
    fn enabled_progress_clamps_past_the_end() {
        // Draws to stdout only when it is a terminal; under `cargo test` it is not.
        let p = Progress::new(Duration::from_secs(1), true);
        assert!(p.enabled());
        p.update(Duration::from_secs(5), 10.0, "none");
        if let Some(bar) = &p.bar {
            assert_eq!(bar.position(), 1000);
        }
        p.println("above the bar");
        p.finish();
        p.println("after the bar");
    }
}
