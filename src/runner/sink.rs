//! The run's one event stream. Every event of a run — members, leaders, faults, ops, notes,
//! and the observer's — goes through the [`EventSink`], which feeds its three readers:
//! `events.jsonl` (each line flushed: events are few), the progress display (the lines
//! above the bar), and the list the summary reads when the run is done. A failed write to
//! `events.jsonl` is kept ([`EventSink::write_error`]); the list stays complete.

use crate::events::{Event, EventKind};
use crate::history::Clock;
use crate::jsonl::Record;
use crate::report::progress::Progress;
use std::path::Path;
use std::sync::Mutex;

/// The sink of the run's events; shared by reference (`Arc`) between the runner's tasks.
pub(super) struct EventSink {
    file: Mutex<Record<Event>>,
    all: Mutex<Vec<Event>>,
    clock: Mutex<Option<Clock>>,
    progress: Progress,
}

impl EventSink {
    /// Create `events.jsonl` at `path`; lines go to `progress`.
    pub(super) fn create(path: &Path, progress: Progress) -> std::io::Result<Self> {
        Ok(EventSink { file: Mutex::new(Record::create(path)?), all: Mutex::new(Vec::new()), clock: Mutex::new(None), progress })
    }

    /// From now on, events carry the time on the history's clock (set-up events carry 0).
    pub(super) fn start_clock(&self, clock: Clock) {
        if let Ok(mut c) = self.clock.lock() {
            *c = Some(clock);
        }
    }

    /// Seconds on the history's clock (0 before it started), for the progress lines.
    pub(super) fn now_s(&self) -> f64 {
        self.now_ns() as f64 / 1e9
    }

    fn now_ns(&self) -> u64 {
        self.clock.lock().map(|c| c.map_or(0, |c| c.now_ns())).unwrap_or(0)
    }

    /// An event that happens now.
    pub(super) fn emit(&self, what: EventKind) {
        self.record(Event { t: self.now_ns(), what });
    }

    /// An event with its own time (the observer's).
    pub(super) fn record(&self, e: Event) {
        if let Ok(mut f) = self.file.lock() {
            f.append(&e);
            f.flush();
        }
        if let Ok(mut a) = self.all.lock() {
            a.push(e);
        }
    }

    /// A line on the progress display only.
    pub(super) fn say(&self, line: &str) {
        self.progress.println(line);
    }

    /// A line on the progress display that is also a `note` event.
    pub(super) fn note(&self, message: String) {
        self.progress.println(&message);
        self.emit(EventKind::Note { message });
    }

    /// The first error writing `events.jsonl` (`could not write events.jsonl: ...`).
    pub(super) fn write_error(&self) -> Option<String> {
        self.file.lock().ok().and_then(|f| f.error().map(str::to_string))
    }

    /// Every event so far, in order.
    pub(super) fn events(&self) -> Vec<Event> {
        self.all.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The progress display (for the workload meter).
    pub(super) fn progress(&self) -> &Progress {
        &self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn events_that_cannot_be_written_leave_one_error_and_a_complete_list() {
        let sink = EventSink::create(Path::new("/dev/full"), Progress::silent(Duration::from_secs(1))).expect("/dev/full opens");
        for i in 0..5 {
            sink.emit(EventKind::Note { message: format!("note {i}") });
        }
        let e = sink.write_error().expect("the first write fails");
        assert!(e.starts_with("could not write full: ") && e.contains("No space left on device"), "{e}");
        assert_eq!(sink.events().len(), 5, "the summary still reads every event");
    }
}
