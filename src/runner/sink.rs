//! The run's one event stream. Every event of a run — members, leaders, faults, ops, notes,
//! and the observer's — goes through the [`EventSink`], which feeds its three readers:
//! `events.jsonl`, the progress display (the lines above the bar), and the list the summary
//! reads when the run is done.

use crate::events::{Event, EventKind, EventWriter};
use crate::history::Clock;
use crate::report::progress::Progress;
use std::path::Path;
use std::sync::Mutex;

/// The sink of the run's events; shared by reference (`Arc`) between the runner's tasks.
pub(super) struct EventSink {
    writer: Mutex<EventWriter>,
    all: Mutex<Vec<Event>>,
    clock: Mutex<Option<Clock>>,
    progress: Progress,
}

impl EventSink {
    /// Create `events.jsonl` at `path`; lines go to `progress`.
    pub(super) fn create(path: &Path, progress: Progress) -> std::io::Result<Self> {
        Ok(EventSink { writer: Mutex::new(EventWriter::create(path)?), all: Mutex::new(Vec::new()), clock: Mutex::new(None), progress })
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
        if let Ok(mut w) = self.writer.lock() {
            let _ = w.append(&e);
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

    /// Every event so far, in order.
    pub(super) fn events(&self) -> Vec<Event> {
        self.all.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The progress display (for the workload meter).
    pub(super) fn progress(&self) -> &Progress {
        &self.progress
    }
}
