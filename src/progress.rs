//! Progress bars on stderr, shown only on a terminal and never with `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress bars are drawn.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Bars when stderr is a terminal and `quiet` is off.
    pub fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// No bars at all.
    pub fn hidden() -> Self {
        Self { enabled: false }
    }

    /// A bar counting `len` files for `stage`.
    pub fn files(&self, stage: &str, len: u64) -> ProgressBar {
        self.bar(
            stage,
            Some(len),
            "{prefix:>8} [{bar:30}] {pos}/{len} files {msg} {elapsed}",
        )
    }

    /// A count of the files done for `stage`, for files read as they are listed (their number is
    /// not known ahead).
    pub fn counter(&self, stage: &str) -> ProgressBar {
        self.bar(stage, None, "{prefix:>8} {pos} files {msg} {elapsed}")
    }

    /// A bar for one window of a windowed run, counting the run's log files: `done` of `total`
    /// are behind it, so that its estimate of the time left covers the windows still to come.
    pub fn window(&self, label: &str, done: usize, total: usize) -> ProgressBar {
        let bar = self.bar(
            label,
            Some(total as u64),
            "{prefix:>12} [{bar:30}] {pos}/{len} files {msg} {elapsed}, ETA {eta}",
        );
        bar.set_position(done as u64);
        bar.reset_eta();
        bar
    }

    fn bar(&self, stage: &str, len: Option<u64>, template: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden());
        }
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(template)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(stage.to_string());
        bar
    }
}
