//! Progress bars for the calibration passes: drawn on stderr with
//! `indicatif` when it is a terminal and the caller asks for them, hidden
//! otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// One bar over the samples of a pass.
pub(crate) struct Bar(ProgressBar);

impl Bar {
    /// A bar of `len` steps titled `label`.
    pub(crate) fn new(show: bool, len: usize, label: &str) -> Bar {
        if !show || !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(len as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{msg:<36} [{bar:30}] {pos}/{len} samples {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        Bar(bar)
    }

    /// One sample done.
    pub(crate) fn inc(&self) {
        self.0.inc(1);
    }

    /// The pass is over.
    pub(crate) fn finish(&self) {
        self.0.finish();
    }
}
