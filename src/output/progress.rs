//! The progress bar of an apply: shown on a terminal's stderr for more than a handful of
//! changes. Result lines are printed through it, so that the bar stays below them.

use std::sync::Mutex;

use super::stream::Streams;

/// Applies with more changes than this show a progress bar (on a terminal).
pub const PROGRESS_MIN_CHANGES: usize = 5;

/// Where the streams keep the bar of the apply under way, if it shows one.
#[derive(Default)]
pub(super) struct Slot(Mutex<Option<indicatif::ProgressBar>>);

impl Slot {
    /// The bar shown, if any.
    pub(super) fn bar(&self) -> Option<indicatif::ProgressBar> {
        self.0.lock().ok().and_then(|bar| bar.clone())
    }

    fn show(&self, bar: indicatif::ProgressBar) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bar);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.0.lock().ok().and_then(|mut bar| bar.take()) {
            bar.finish_and_clear();
        }
    }
}

/// Shows a bar of `count` changes on the streams' stderr (which is a terminal).
pub(super) fn start(streams: &Streams, count: usize, color: bool) -> ApplyProgress {
    let bar = indicatif::ProgressBar::new(count as u64);
    let template = if color {
        "{spinner:.cyan} [{bar:30.cyan/blue}] {pos}/{len} changes {elapsed}"
    } else {
        "{spinner} [{bar:30}] {pos}/{len} changes {elapsed}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.tick();
    streams.progress().show(bar);
    ApplyProgress(Some(streams.clone()))
}

/// Ends the apply's progress bar when dropped (also on an early return).
#[must_use = "the progress bar ends when this is dropped"]
pub struct ApplyProgress(Option<Streams>);

impl ApplyProgress {
    /// An apply that shows no bar.
    pub(super) fn none() -> Self {
        ApplyProgress(None)
    }
}

impl Drop for ApplyProgress {
    fn drop(&mut self) {
        if let Some(streams) = &self.0 {
            streams.progress().finish();
        }
    }
}
