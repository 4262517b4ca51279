//! The recorders of a run: `history.jsonl` and `watch.jsonl` written as the run goes (and
//! kept in memory for the checks and the summary), and the observer's events pumped into the
//! run's one event stream ([`EventSink`]).

use super::sink::EventSink;
use crate::error::Error;
use crate::events::Event;
use crate::history::{Entry, HistoryWriter};
use crate::jsonl;
use crate::watchlog::{WatchRecord, WatchWriter};
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
    history: JoinHandle<Vec<Entry>>,
    watch: Option<JoinHandle<Vec<WatchRecord>>>,
    events: JoinHandle<()>,
}

/// What the recorders kept when the streams closed.
pub(super) struct Recorded {
    /// The history, in order.
    pub history: Vec<Entry>,
    /// The watch records; `None` when no watcher ran (every watcher that starts writes at
    /// least its `started`/`broken` and `stopped` lines).
    pub watch: Option<Vec<WatchRecord>>,
}

impl Recorders {
    /// Create `history.jsonl` (and `watch.jsonl` when `watch`) in `run_dir` and start writing.
    pub(super) fn start(run_dir: &Path, watch: bool, sink: Arc<EventSink>) -> Result<Self, Error> {
        let (history_tx, history_rx) = mpsc::unbounded_channel::<Entry>();
        let history = tokio::spawn(write_as_it_comes(HistoryWriter::create(&run_dir.join("history.jsonl"))?, history_rx));
        let (watch_tx, watch) = if watch {
            let (tx, rx) = mpsc::unbounded_channel::<WatchRecord>();
            (Some(tx), Some(tokio::spawn(write_as_it_comes(WatchWriter::create(&run_dir.join("watch.jsonl"))?, rx))))
        } else {
            (None, None)
        };
        let (events_tx, mut events_rx) = mpsc::unbounded_channel::<Event>();
        let events = tokio::spawn(async move {
            while let Some(e) = events_rx.recv().await {
                sink.record(e);
            }
        });
        Ok(Recorders { history_tx: Some(history_tx), watch_tx, events_tx, history, watch, events })
    }

    /// Close the streams (every other sender must be gone) and collect what was recorded.
    pub(super) async fn close(self) -> Result<Recorded, Error> {
        let Recorders { history_tx, watch_tx, events_tx, history, watch, events } = self;
        drop((history_tx, watch_tx, events_tx));
        let watch = match watch {
            Some(h) => Some(h.await.map_err(Error::harness)?).filter(|r: &Vec<WatchRecord>| !r.is_empty()),
            None => None,
        };
        let _ = events.await;
        let history = history.await.map_err(Error::harness)?;
        Ok(Recorded { history, watch })
    }
}

/// Write records to their file as they come, flushing whenever the stream is idle; return
/// them all when every sender is gone.
async fn write_as_it_comes<T: Serialize>(mut writer: jsonl::Writer<T>, mut rx: UnboundedReceiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(r) = rx.recv().await {
        let _ = writer.append(&r);
        all.push(r);
        if rx.is_empty() {
            let _ = writer.flush();
        }
    }
    let _ = writer.flush();
    all
}
