//! The watch traffic (`workload.watch`, [`crate::scenario::watch`]): watchers on the
//! workload's keys, each on its own connection to one member, recording every response and
//! the stream's life in `watch.jsonl` ([`crate::watchlog`]). `watch: true` is one watcher per
//! member, a prefix watch with require_leader from the revision current at workload start;
//! a scenario can ask for more watchers, on one member or following their client from member
//! to member, on one key, without require_leader, with previous values, a filter, periodic or
//! requested progress notifications, a past, compaction or future start, slow reading, or
//! list-then-watch as a Kubernetes informer does ([`plan`] makes each watcher concrete from
//! the run's seed; [`stream`] runs one; [`informer`] lists).
//!
//! A watcher behaves as a careful client does: when its stream breaks it opens a new one
//! from the last revision it saw + 1, with backoff; when etcd answers that this revision is
//! compacted, it records the compact revision etcd reported and resumes from there (an
//! informer lists again and watches from the list's revision + 1). The workload writes; the
//! watchers only read.
//!
//! At the end of the run [`Watchers::finish`] reads the newest revision of each watched
//! range, gives every stream a bounded time to deliver it, and stops them; each stream's
//! last line (`stopped`) carries both figures, so the checker can tell a stream that caught
//! up from one that fell behind.

mod informer;
pub mod plan;
mod stream;

use crate::client::{self, Endpoint};
use crate::history::Clock;
use crate::scenario::watch::WatchGroup;
use crate::scenario::Load;
use crate::watchlog::{Filter, WatchRecord};
use etcd_client::{GetOptions, SortOrder, SortTarget, WatchOptions};
use plan::{Plan, KEY_STEM};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Bound on connecting and opening a stream (and on each request of the set-up and the end).
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);
/// "Not known" for the target revision shared with the watchers.
const UNKNOWN: i64 = i64::MIN;

/// Where a watcher says something the run's event list should show (a start it could not
/// take as asked, for one).
pub type Notes = Arc<dyn Fn(String) + Send + Sync>;

/// What the watchers are started with.
pub struct Setup<'a> {
    /// The scenario's groups of watchers.
    pub groups: &'a [WatchGroup],
    /// The workload kind (which keys it writes).
    pub load: &'a Load,
    /// The members, by index.
    pub endpoints: &'a [Endpoint],
    /// The run's key prefix in etcd (empty on a cluster of the run's own).
    pub prefix: &'a str,
    /// The revision current at workload start + 1: where `start: current` watchers begin.
    pub from: i64,
    /// The run's seed.
    pub seed: u64,
    /// The workload's duration (delayed watchers start within its first half).
    pub duration: Duration,
    /// The run clock.
    pub clock: Clock,
    /// Where records go.
    pub sink: UnboundedSender<WatchRecord>,
    /// Where notes go.
    pub notes: Notes,
}

/// The running watchers of a run.
pub struct Watchers {
    tasks: Vec<JoinHandle<()>>,
    plans: Vec<Plan>,
    /// The last revision each watcher's stream delivered, by watcher.
    last: Arc<Vec<AtomicI64>>,
    /// The newest revision of each watcher's range at the end ([`UNKNOWN`] until read).
    targets: Arc<Vec<AtomicI64>>,
    stop: CancellationToken,
    endpoints: Vec<Endpoint>,
    prefix: String,
}

/// The revision to watch from: the cluster's current revision + 1, read through the first
/// member that answers.
pub async fn start_revision(endpoints: &[Endpoint], prefix: &str) -> Result<i64, String> {
    let mut last = String::from("no member to ask");
    for ep in endpoints {
        match current_revision(ep, &format!("{prefix}{KEY_STEM}")).await {
            Ok(r) => return Ok(r + 1),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The store's revision, as a count-only range on `key` through `ep` says it.
async fn current_revision(ep: &Endpoint, key: &str) -> Result<i64, String> {
    let attempt = async {
        let mut c = client::connect(ep, OPEN_TIMEOUT).await?;
        c.get(key, Some(GetOptions::new().with_prefix().with_count_only())).await
    };
    match tokio::time::timeout(OPEN_TIMEOUT * 2, attempt).await {
        Ok(Ok(r)) => r.header().map(|h| h.revision()).ok_or_else(|| format!("{}: the response had no header", ep.member)),
        Ok(Err(e)) => Err(format!("{}: {}", ep.member, client::classify(&e).1)),
        Err(_) => Err(format!("{}: timed out", ep.member)),
    }
}

/// The cluster's compact revision through `ep` (0: nothing compacted yet): a watch from
/// revision 1 on a key nobody writes, which etcd refuses with the compact revision when
/// revision 1 is compacted, and otherwise leaves silent.
async fn compact_revision(ep: &Endpoint, prefix: &str) -> Result<i64, String> {
    let probe = format!("{prefix}faultline/compaction-probe");
    let attempt = async {
        let mut c = client::connect_watch(ep, OPEN_TIMEOUT, false).await.map_err(|e| client::classify(&e).1)?;
        let mut s = c.watch(probe.as_str(), Some(WatchOptions::new().with_start_revision(1))).await.map_err(|e| client::classify(&e).1)?;
        loop {
            match tokio::time::timeout(Duration::from_secs(1), s.message()).await {
                Err(_) => return Ok(0),
                Ok(Ok(Some(r))) if r.compact_revision() != 0 => return Ok(r.compact_revision()),
                Ok(Ok(Some(r))) if r.created() => continue,
                Ok(Ok(Some(_))) => return Ok(0),
                Ok(Ok(None)) => return Err("the server closed the stream".to_string()),
                Ok(Err(e)) => return Err(client::classify(&e).1),
            }
        }
    };
    tokio::time::timeout(OPEN_TIMEOUT * 2, attempt).await.unwrap_or_else(|_| Err("timed out".into())).map_err(|e| format!("{}: {e}", ep.member))
}

/// The newest modification revision in a watched range, through the first member that
/// answers (`None`: no key, or no member answered).
async fn range_revision(endpoints: &[Endpoint], key: &str, prefix: bool) -> Option<i64> {
    for ep in endpoints {
        let attempt = async {
            let mut c = client::connect(ep, OPEN_TIMEOUT).await?;
            let mut opts = GetOptions::new().with_keys_only().with_sort(SortTarget::Mod, SortOrder::Descend).with_limit(1);
            if prefix {
                opts = opts.with_prefix();
            }
            c.get(key, Some(opts)).await
        };
        if let Ok(Ok(r)) = tokio::time::timeout(OPEN_TIMEOUT * 2, attempt).await {
            return r.kvs().first().map(|kv| kv.mod_revision());
        }
    }
    None
}

impl Watchers {
    /// Start every planned watcher on `rt` (the client runtime, inside the client
    /// namespace). Records go to `setup.sink` as they arrive.
    pub fn start(rt: &tokio::runtime::Handle, setup: Setup<'_>) -> Watchers {
        let members: Vec<String> = setup.endpoints.iter().map(|e| e.member.clone()).collect();
        let plans = plan::plans(setup.groups, setup.load, &members, setup.seed, setup.duration);
        let last: Arc<Vec<AtomicI64>> = Arc::new(plans.iter().map(|_| AtomicI64::new(setup.from - 1)).collect());
        let targets: Arc<Vec<AtomicI64>> = Arc::new(plans.iter().map(|_| AtomicI64::new(UNKNOWN)).collect());
        let stop = CancellationToken::new();
        let tasks = plans
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let w = stream::Watcher {
                    plan: p.clone(),
                    endpoints: setup.endpoints.to_vec(),
                    key: format!("{}{}", setup.prefix, p.spec.key),
                    prefix_len: setup.prefix.len(),
                    run_prefix: setup.prefix.to_string(),
                    clock: setup.clock,
                    sink: setup.sink.clone(),
                    notes: setup.notes.clone(),
                    last: last.clone(),
                    targets: targets.clone(),
                    index: i,
                    stop: stop.clone(),
                };
                rt.spawn(w.run(setup.from))
            })
            .collect();
        Watchers { tasks, plans, last, targets, stop, endpoints: setup.endpoints.to_vec(), prefix: setup.prefix.to_string() }
    }

    /// How many watchers run.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// End of the run: read the newest revision of each watched range, wait (at most
    /// `catch_up`) until every stream has delivered it, then stop the watchers and wait for
    /// their last lines. Returns the newest target revision, if one could be read. Run it
    /// on the client runtime.
    pub async fn finish(self, catch_up: Duration) -> Option<i64> {
        let mut newest = None;
        if !catch_up.is_zero() {
            let mut read: Vec<((String, bool), Option<i64>)> = Vec::new();
            for (i, p) in self.plans.iter().enumerate() {
                let range = (p.spec.key.clone(), p.spec.prefix);
                let t = match read.iter().find(|(r, _)| *r == range) {
                    Some((_, t)) => *t,
                    None => {
                        let t = range_revision(&self.endpoints, &format!("{}{}", self.prefix, range.0), range.1).await;
                        read.push((range, t));
                        t
                    }
                };
                if let Some(t) = t {
                    self.targets[i].store(t, Ordering::SeqCst);
                    newest = newest.max(Some(t));
                }
            }
            let deadline = tokio::time::Instant::now() + catch_up;
            // A filtered stream need not deliver the range's newest revision: it may be of
            // the filtered type.
            let behind = |i: usize, p: &Plan| {
                let t = self.targets[i].load(Ordering::SeqCst);
                p.spec.filter == Filter::None && t != UNKNOWN && self.last[i].load(Ordering::SeqCst) < t
            };
            while self.plans.iter().enumerate().any(|(i, p)| behind(i, p)) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        newest
    }
}
