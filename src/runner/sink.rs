//! The run's one event stream. Every event of a run — members, leaders, faults, ops, notes,
//! and the observer's — goes through the [`EventSink`], which feeds its three readers:
//! `events.jsonl` (each line flushed: events are few), the progress display (the lines
//! above the bar), and the list the summary reads when the run is done. A failed write to
//! `events.jsonl` is kept ([`EventSink::write_error`]); the list stays complete.
//!
//! Events before the history's clock starts (the members' set-up) are held, with the instant
//! they happened, until it starts: then they are written with their real, negative offsets
//! from clock zero. When a run never reaches clock zero, they are written when the events
//! are first read back (or the sink is dropped), measured back from that moment.

use crate::events::{Event, EventKind};
use crate::history::Clock;
use crate::jsonl::Record;
use crate::report::progress::Progress;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// The sink of the run's events; shared by reference (`Arc`) between the runner's tasks.
pub(super) struct EventSink {
    file: Mutex<Record<Event>>,
    all: Mutex<Vec<Event>>,
    clock: Mutex<Option<Clock>>,
    /// Events before clock zero, with when they happened.
    early: Mutex<Vec<(Instant, EventKind)>>,
    progress: Progress,
}

/// `at`'s offset from `zero`, ns: negative when `at` is earlier.
fn offset_ns(at: Instant, zero: Instant) -> i64 {
    match at.checked_duration_since(zero) {
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        None => -i64::try_from(zero.duration_since(at).as_nanos()).unwrap_or(i64::MAX),
    }
}

impl EventSink {
    /// Create `events.jsonl` at `path`; lines go to `progress`.
    pub(super) fn create(path: &Path, progress: Progress) -> std::io::Result<Self> {
        Ok(EventSink { file: Mutex::new(Record::create(path)?), all: Mutex::new(Vec::new()), clock: Mutex::new(None), early: Mutex::new(Vec::new()), progress })
    }

    /// From now on, events carry the time on the history's clock; the set-up events held so
    /// far are written with their (negative) offsets from its zero.
    pub(super) fn start_clock(&self, clock: Clock) {
        if let Ok(mut c) = self.clock.lock() {
            *c = Some(clock);
        }
        self.write_early(clock.zero());
    }

    /// Write the events held before clock zero, timed from `zero`.
    fn write_early(&self, zero: Instant) {
        let early = self.early.lock().map(|mut e| std::mem::take(&mut *e)).unwrap_or_default();
        for (at, what) in early {
            self.record(Event { t: offset_ns(at, zero), what });
        }
    }

    /// The events held when the clock never started, timed back from now.
    fn write_early_unclocked(&self) {
        let started = self.clock.lock().map(|c| c.is_some()).unwrap_or(true);
        if !started {
            self.write_early(Instant::now());
        }
    }

    /// Seconds on the history's clock (0 before it started), for the progress lines.
    pub(super) fn now_s(&self) -> f64 {
        self.now_t().unwrap_or(0) as f64 / 1e9
    }

    /// Now on the history's clock, ns; `None` before it started.
    pub(super) fn now_t(&self) -> Option<i64> {
        self.clock.lock().ok().and_then(|c| c.map(|c| offset_ns(Instant::now(), c.zero())))
    }

    /// An event that happens now (held until clock zero when it is set-up).
    pub(super) fn emit(&self, what: EventKind) {
        match self.now_t() {
            Some(t) => self.record(Event { t, what }),
            None => {
                if let Ok(mut e) = self.early.lock() {
                    e.push((Instant::now(), what));
                }
            }
        }
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
        self.write_early_unclocked();
        self.file.lock().ok().and_then(|f| f.error().map(str::to_string))
    }

    /// Every event so far, in order.
    pub(super) fn events(&self) -> Vec<Event> {
        self.write_early_unclocked();
        self.all.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The progress display (for the workload meter).
    pub(super) fn progress(&self) -> &Progress {
        &self.progress
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        self.write_early_unclocked();
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

    #[test]
    fn set_up_events_get_their_negative_offsets_from_clock_zero() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.jsonl");
        let sink = EventSink::create(&path, Progress::silent(Duration::from_secs(1))).expect("events.jsonl");
        sink.emit(EventKind::MemberStart { member: "n1".into(), pid: Some(1) });
        std::thread::sleep(Duration::from_millis(30));
        sink.start_clock(Clock::start());
        sink.emit(EventKind::WorkloadStart { clients: 1 });
        let evs = sink.events();
        assert_eq!(evs.len(), 2);
        assert!(evs[0].t <= -30_000_000, "member-start 30 ms before clock zero: {:?}", evs[0]);
        assert!(evs[1].t >= 0, "{:?}", evs[1]);
        drop(sink);
        let on_file = crate::events::read(&path).expect("events.jsonl reads back");
        assert_eq!(on_file, evs, "the file has the same times");
    }
}
