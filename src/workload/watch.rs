//! The watch workload (`workload.watch: true`): one watcher per member, each on its own
//! connection to that one member, watching the workload's keys from the revision current at
//! workload start, recording every event and the stream's life in `watch.jsonl`
//! ([`crate::watchlog`]).
//!
//! A watcher behaves as a careful client does: when its stream breaks (the member killed,
//! paused past the keep-alive, or without a leader — the connection asks etcd to require
//! one), it opens a new stream from the last revision it saw + 1, with backoff; when etcd
//! answers that this revision is compacted, it records the compact revision etcd reported
//! and resumes from there — the revisions in between are lost to it, and the log says so.
//! The register workload writes; the watchers only read.
//!
//! At the end of the run [`Watchers::finish`] reads the newest revision of the watched
//! range, gives every stream a bounded time to deliver it, and stops them; each stream's
//! last line (`stopped`) carries both figures, so the checker can tell a stream that
//! caught up from one that fell behind.

use crate::client::{self, Endpoint};
use crate::history::Clock;
use crate::watchlog::{WatchLine, WatchRecord};
use etcd_client::{Client, EventType, GetOptions, SortOrder, SortTarget, WatchOptions, WatchStream};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Bound on connecting and opening a stream (and on each request of the set-up and the end).
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);
/// First pause before re-opening a stream that failed to open; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause between two attempts: a member that comes back is watched again within it.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// "Not known" for the target revision shared with the watchers.
const UNKNOWN: i64 = i64::MIN;

/// The key every workload key starts with (`k0`, `k1`, ...): the watched range is every key
/// under `prefix` + this.
const KEY_STEM: &str = "k";

/// The running watchers of a run.
pub struct Watchers {
    tasks: Vec<JoinHandle<()>>,
    /// The last revision each stream delivered, by member index.
    last: Arc<Vec<AtomicI64>>,
    /// The newest revision of the watched range at the end ([`UNKNOWN`] until read).
    target: Arc<AtomicI64>,
    stop: CancellationToken,
    endpoints: Vec<Endpoint>,
    prefix: String,
}

/// The revision to watch from: the cluster's current revision + 1, read through the first
/// member that answers.
pub async fn start_revision(endpoints: &[Endpoint], prefix: &str) -> Result<i64, String> {
    let mut last = String::from("no member to ask");
    let key = format!("{prefix}{KEY_STEM}");
    for ep in endpoints {
        let attempt = async {
            let mut c = client::connect(ep, OPEN_TIMEOUT).await?;
            c.get(key.as_str(), Some(GetOptions::new().with_prefix().with_count_only())).await
        };
        match tokio::time::timeout(OPEN_TIMEOUT * 2, attempt).await {
            Ok(Ok(r)) => match r.header() {
                Some(h) => return Ok(h.revision() + 1),
                None => last = format!("{}: the response had no header", ep.member),
            },
            Ok(Err(e)) => last = format!("{}: {}", ep.member, client::classify(&e).1),
            Err(_) => last = format!("{}: timed out", ep.member),
        }
    }
    Err(last)
}

/// The newest modification revision in the watched range, through the first member that
/// answers (`None`: no key, or no member answered).
async fn range_revision(endpoints: &[Endpoint], prefix: &str) -> Option<i64> {
    let key = format!("{prefix}{KEY_STEM}");
    for ep in endpoints {
        let attempt = async {
            let mut c = client::connect(ep, OPEN_TIMEOUT).await?;
            let opts = GetOptions::new().with_prefix().with_keys_only().with_sort(SortTarget::Mod, SortOrder::Descend).with_limit(1);
            c.get(key.as_str(), Some(opts)).await
        };
        if let Ok(Ok(r)) = tokio::time::timeout(OPEN_TIMEOUT * 2, attempt).await {
            return r.kvs().first().map(|kv| kv.mod_revision());
        }
    }
    None
}

impl Watchers {
    /// Start one watcher per endpoint on `rt` (the client runtime, inside the client
    /// namespace), each watching every key under `prefix` + `k` from `from`. Records go to
    /// `sink` as they arrive.
    pub fn start(rt: &tokio::runtime::Handle, endpoints: &[Endpoint], prefix: &str, from: i64, clock: Clock, sink: UnboundedSender<WatchRecord>) -> Watchers {
        let last: Arc<Vec<AtomicI64>> = Arc::new(endpoints.iter().map(|_| AtomicI64::new(from - 1)).collect());
        let target = Arc::new(AtomicI64::new(UNKNOWN));
        let stop = CancellationToken::new();
        let tasks = endpoints
            .iter()
            .enumerate()
            .map(|(i, ep)| {
                let w = Watcher {
                    endpoint: ep.clone(),
                    key: format!("{prefix}{KEY_STEM}"),
                    prefix_len: prefix.len(),
                    clock,
                    sink: sink.clone(),
                    last: last.clone(),
                    index: i,
                    target: target.clone(),
                    stop: stop.clone(),
                };
                rt.spawn(w.run(from))
            })
            .collect();
        Watchers { tasks, last, target, stop, endpoints: endpoints.to_vec(), prefix: prefix.to_string() }
    }

    /// End of the run: read the newest revision of the watched range, wait (at most
    /// `catch_up`) until every stream has delivered it, then stop the watchers and wait for
    /// their last lines. Returns the target revision, if it could be read. Run it on the
    /// client runtime.
    pub async fn finish(self, catch_up: Duration) -> Option<i64> {
        let target = if catch_up.is_zero() { None } else { range_revision(&self.endpoints, &self.prefix).await };
        if let Some(t) = target {
            self.target.store(t, Ordering::SeqCst);
            let deadline = tokio::time::Instant::now() + catch_up;
            while self.last.iter().any(|l| l.load(Ordering::SeqCst) < t) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        target
    }
}

/// One member's watcher.
struct Watcher {
    endpoint: Endpoint,
    /// The watched prefix in etcd (`<run prefix>k`).
    key: String,
    /// Bytes of the run's prefix, cut from keys before recording.
    prefix_len: usize,
    clock: Clock,
    sink: UnboundedSender<WatchRecord>,
    last: Arc<Vec<AtomicI64>>,
    index: usize,
    target: Arc<AtomicI64>,
    stop: CancellationToken,
}

/// How a stream ended.
enum Ended {
    /// Asked to stop.
    Stopped,
    /// Broken, with the reason.
    Broken(String),
    /// etcd said the start revision is compacted; resume from this one.
    Compacted(i64),
}

impl Watcher {
    fn record(&self, what: WatchLine) {
        // A closed sink means the runner stopped listening: nothing more to record.
        let _ = self.sink.send(WatchRecord { member: self.endpoint.member.clone(), watcher: None, t: self.clock.now_ns(), what });
    }

    async fn run(self, from: i64) {
        let mut next = from;
        let mut opened_before = false;
        // A `broken` line is written once per outage, not once per refused attempt.
        let mut down = false;
        let mut attempts: u32 = 0;
        let mut backoff = Duration::ZERO;
        loop {
            if !backoff.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = self.stop.cancelled() => break,
                }
            }
            if self.stop.is_cancelled() {
                break;
            }
            attempts += 1;
            let opened = tokio::select! {
                r = tokio::time::timeout(OPEN_TIMEOUT, self.open(next)) => r.unwrap_or_else(|_| Err("timed out opening the stream".to_string())),
                _ = self.stop.cancelled() => break,
            };
            let (connection, stream) = match opened {
                Ok(s) => s,
                Err(why) => {
                    if !down {
                        self.record(WatchLine::Broken { why: format!("could not open the stream: {why}") });
                        down = true;
                    }
                    backoff = (backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
                    continue;
                }
            };
            self.record(if opened_before {
                WatchLine::Resumed { revision: next, attempts }
            } else {
                WatchLine::Started { revision: next, spec: None, header: None }
            });
            opened_before = true;
            down = false;
            attempts = 0;
            backoff = Duration::ZERO;
            let ended = self.follow(stream, &mut next).await;
            drop(connection);
            match ended {
                Ended::Stopped => break,
                Ended::Compacted(at) => {
                    self.record(WatchLine::Compacted { requested: next, compact_revision: at });
                    // Never backwards: a compact revision below what was asked is no skip.
                    next = next.max(at);
                }
                Ended::Broken(why) => {
                    self.record(WatchLine::Broken { why });
                    down = true;
                    backoff = MIN_BACKOFF;
                }
            }
        }
        let target = self.target.load(Ordering::SeqCst);
        self.record(WatchLine::Stopped { last_revision: next - 1, target: (target != UNKNOWN).then_some(target) });
    }

    /// Connect (a fresh connection each time: an old one may be stalled) and open a stream
    /// from `from`; wait for etcd to confirm it was created. The client is returned with
    /// the stream, to be kept as long as the stream is read.
    async fn open(&self, from: i64) -> Result<(Client, WatchStream), String> {
        let mut c: Client = client::connect_watch(&self.endpoint, OPEN_TIMEOUT).await.map_err(|e| client::classify(&e).1)?;
        let opts = WatchOptions::new().with_prefix().with_start_revision(from);
        let mut stream = c.watch(self.key.as_str(), Some(opts)).await.map_err(|e| client::classify(&e).1)?;
        match stream.message().await {
            Ok(Some(r)) if r.created() && !r.canceled() => Ok((c, stream)),
            Ok(Some(r)) if r.canceled() => Err(cancel_reason(r.cancel_reason())),
            Ok(Some(_)) => Err("the first response did not confirm the watch".to_string()),
            Ok(None) => Err("the server closed the stream".to_string()),
            Err(e) => Err(client::classify(&e).1),
        }
    }

    /// Record the stream's events until it ends; `next` follows the last revision + 1.
    async fn follow(&self, mut stream: WatchStream, next: &mut i64) -> Ended {
        loop {
            let msg = tokio::select! {
                m = stream.message() => m,
                _ = self.stop.cancelled() => return Ended::Stopped,
            };
            let resp = match msg {
                Ok(Some(r)) => r,
                Ok(None) => return Ended::Broken("the server closed the stream".to_string()),
                Err(e) => return Ended::Broken(client::classify(&e).1),
            };
            if resp.compact_revision() != 0 {
                return Ended::Compacted(resp.compact_revision());
            }
            for ev in resp.events() {
                let Some(kv) = ev.kv() else { continue };
                let key = String::from_utf8_lossy(kv.key().get(self.prefix_len..).unwrap_or(kv.key())).into_owned();
                let rev = kv.mod_revision();
                self.record(match ev.event_type() {
                    EventType::Put => WatchLine::Put {
                        key,
                        value: String::from_utf8_lossy(kv.value()).into_owned(),
                        mod_revision: rev,
                        create_revision: None,
                        version: None,
                        prev: None,
                        response: None,
                    },
                    EventType::Delete => WatchLine::Delete { key, mod_revision: rev, prev: None, response: None },
                });
                *next = (*next).max(rev + 1);
                self.last[self.index].store(*next - 1, Ordering::SeqCst);
            }
            if resp.canceled() {
                return Ended::Broken(cancel_reason(resp.cancel_reason()));
            }
        }
    }
}

fn cancel_reason(reason: &str) -> String {
    if reason.is_empty() {
        "the server cancelled the watch".to_string()
    } else {
        format!("the server cancelled the watch: {reason}")
    }
}
