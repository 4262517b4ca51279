//! The recorders of a run: `history.jsonl` and `watch.jsonl` written as the run goes (and
//! kept in memory for the checks and the summary), and the observer's events pumped into the
//! run's one event stream ([`EventSink`]). A write that fails is not lost silently: the
//! first error of each file comes back in [`Recorded`], and the run is invalid.

use super::sink::EventSink;
use crate::error::Error;
use crate::events::{Event, EventKind};
use crate::history::Entry;
use crate::jsonl::Record;
use crate::watchlog::WatchRecord;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// The recorders while they run: the senders the workload, the watchers and the observer
/// write to, and the tasks that write the files.
pub(super) struct Recorders {
    /// The workload's history entries (taken by the workload, which drops it when done).
    pub history_tx: Option<UnboundedSender<Entry>>,
    /// The watchers' records, when the watch workload runs.
    pub watch_tx: Option<UnboundedSender<WatchRecord>>,
    /// The observer's events.
    pub events_tx: UnboundedSender<Event>,
    history: JoinHandle<Written<Entry>>,
    watch: Option<JoinHandle<Written<WatchRecord>>>,
    events: JoinHandle<()>,
}

/// What the recorders kept when the streams closed.
pub(super) struct Recorded {
    /// The history, in order.
    pub history: Vec<Entry>,
    /// The watch records; `None` when no watcher ran (every watcher that starts writes at
    /// least its `started`/`broken` and `stopped` lines).
    pub watch: Option<Vec<WatchRecord>>,
    /// The first error writing `history.jsonl` (`could not write history.jsonl: ...`).
    pub history_error: Option<String>,
    /// The first error writing `watch.jsonl`.
    pub watch_error: Option<String>,
}

/// What one recorder kept: every record, and its file's first write error.
struct Written<T> {
    records: Vec<T>,
    error: Option<String>,
}

impl Recorders {
    /// Create `history.jsonl` (and `watch.jsonl` when `watch`) in `run_dir` and start writing.
    pub(super) fn start(run_dir: &Path, watch: bool, sink: Arc<EventSink>) -> Result<Self, Error> {
        let (history_tx, history_rx) = mpsc::unbounded_channel::<Entry>();
        let history = tokio::spawn(write_as_it_comes(Record::create(&run_dir.join("history.jsonl"))?, history_rx));
        let (watch_tx, watch) = if watch {
            let (tx, rx) = mpsc::unbounded_channel::<WatchRecord>();
            (Some(tx), Some(tokio::spawn(write_as_it_comes(Record::create(&run_dir.join("watch.jsonl"))?, rx))))
        } else {
            (None, None)
        };
        let (events_tx, mut events_rx) = mpsc::unbounded_channel::<Event>();
        let events = tokio::spawn(async move {
            while let Some(e) = events_rx.recv().await {
                if let Some(line) = on_terminal(&e) {
                    sink.say(&line);
                }
                sink.record(e);
            }
        });
        Ok(Recorders { history_tx: Some(history_tx), watch_tx, events_tx, history, watch, events })
    }

    /// Close the streams (every other sender must be gone) and collect what was recorded.
    pub(super) async fn close(self) -> Result<Recorded, Error> {
        let Recorders { history_tx, watch_tx, events_tx, history, watch, events } = self;
        drop((history_tx, watch_tx, events_tx));
        let (watch, watch_error) = match watch {
            Some(h) => {
                let w = h.await.map_err(Error::harness)?;
                (Some(w.records).filter(|r| !r.is_empty()), w.error)
            }
            None => (None, None),
        };
        let _ = events.await;
        let history = history.await.map_err(Error::harness)?;
        Ok(Recorded { history: history.records, watch, history_error: history.error, watch_error })
    }
}

/// The observer's events worth a line on the terminal: a version that changed (an upgrade
/// going on); versions first seen are in the summary.
fn on_terminal(e: &Event) -> Option<String> {
    let t = e.t as f64 / 1e9;
    match &e.what {
        EventKind::MemberVersion { member, version, from: Some(from) } => Some(format!("{t:>7.2}s  {member} now runs etcd {version} (was {from})")),
        EventKind::ClusterVersion { version, from: Some(from) } => Some(format!("{t:>7.2}s  cluster version {from} → {version}")),
        _ => None,
    }
}

/// Write records to their file as they come, flushing whenever the stream is idle; return
/// them all, with the file's first write error, when every sender is gone.
async fn write_as_it_comes<T: Serialize>(mut file: Record<T>, mut rx: UnboundedReceiver<T>) -> Written<T> {
    let mut records = Vec::new();
    let mut said = false;
    while let Some(r) = rx.recv().await {
        file.append(&r);
        records.push(r);
        if rx.is_empty() {
            file.flush();
        }
        if let (Some(e), false) = (file.error(), said) {
            // Once per file: the run goes on, and will be invalid.
            eprintln!("{}", crate::markup::terminal(&format!("faultline: {e}; the run goes on, and will be invalid")));
            said = true;
        }
    }
    Written { records, error: file.finish() }
}
