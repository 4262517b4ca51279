//! One watcher's life: its first revision chosen as its plan says, its stream opened on its
//! member, every response recorded (events with their revisions and previous values,
//! progress notifications, each numbered), progress requested and reading paused when the
//! plan says so, and the stream resumed after a break or a compaction.

use super::plan::Plan;
use super::{compact_revision, current_revision, informer, Notes, OPEN_TIMEOUT, UNKNOWN};
use crate::client::{self, Endpoint};
use crate::history::Clock;
use crate::watchlog::{Filter, PrevKv, StartRevision, WatchLine, WatchRecord};
use etcd_client::{Client, EventType, KeyValue, WatchFilterType, WatchOptions, WatchRequestSender, WatchResponse, WatchResponseStream};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// First pause before re-opening a stream that failed to open; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest pause between two attempts: a member that comes back is watched again within it.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One running watcher.
pub(super) struct Watcher {
    pub plan: Plan,
    pub endpoints: Vec<Endpoint>,
    /// The watched key or prefix in etcd (with the run's prefix).
    pub key: String,
    /// Bytes of the run's prefix, cut from keys before recording.
    pub prefix_len: usize,
    /// The run's prefix.
    pub run_prefix: String,
    pub clock: Clock,
    pub sink: UnboundedSender<WatchRecord>,
    pub notes: Notes,
    pub last: Arc<Vec<AtomicI64>>,
    pub targets: Arc<Vec<AtomicI64>>,
    pub index: usize,
    pub stop: CancellationToken,
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

/// A watcher's state across its streams.
struct Progress {
    /// The member it watches now.
    member: usize,
    /// The revision to open the next stream from.
    next: i64,
    /// Responses received so far (events and progress notifications), numbered from 1.
    responses: u64,
}

impl Watcher {
    /// Record a line as delivered by `member`.
    pub(super) fn record(&self, member: usize, what: WatchLine) {
        let member = self.endpoints[member].member.clone();
        // A closed sink means the runner stopped listening: nothing more to record.
        let _ = self.sink.send(WatchRecord { member, watcher: Some(self.plan.id.clone()), t: self.clock.now_ns(), what });
    }

    /// Sleep `d`, or less when asked to stop (then `false`).
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.stop.cancelled() => false,
        }
    }

    pub(super) async fn run(self, from: i64) {
        let mut at = Progress { member: self.plan.member, next: from, responses: 0 };
        let mut spec = self.plan.spec.clone();
        if self.plan.delay.is_zero() || self.pause(self.plan.delay).await {
            if let Some(first) = self.first_revision(&mut at, &mut spec, from).await {
                at.next = first;
                self.last[self.index].store(first - 1, Ordering::SeqCst);
                self.watch(&mut at, spec).await;
            }
        }
        let target = self.targets[self.index].load(Ordering::SeqCst);
        self.record(at.member, WatchLine::Stopped { last_revision: at.next - 1, target: (target != UNKNOWN).then_some(target) });
    }

    /// The first revision to watch from, as the plan's start says; retried (moving member
    /// when following) until a member answers or the watcher is stopped (`None`).
    async fn first_revision(&self, at: &mut Progress, spec: &mut crate::watchlog::WatchSpec, from: i64) -> Option<i64> {
        if self.plan.delay.is_zero() && spec.start == StartRevision::Current {
            return Some(from);
        }
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.choose(at, spec).await {
                Ok(r) => return Some(r),
                Err(_) if self.stop.is_cancelled() => return None,
                Err(_) => {
                    self.move_on(at);
                    if !self.pause(backoff).await {
                        return None;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn choose(&self, at: &mut Progress, spec: &mut crate::watchlog::WatchSpec) -> Result<i64, String> {
        let ep = &self.endpoints[at.member];
        if self.plan.informer {
            return informer::list(self, at.member, ep).await.map(|r| r + 1);
        }
        let now = current_revision(ep, &self.key).await?;
        Ok(match spec.start {
            StartRevision::Current | StartRevision::AfterList => now + 1,
            StartRevision::Future => now + 1 + self.plan.offset,
            StartRevision::Past => {
                let compacted = compact_revision(ep, &self.run_prefix).await?;
                (now - self.plan.offset).max(compacted + 1).clamp(1, now.max(1))
            }
            StartRevision::Compaction => match compact_revision(ep, &self.run_prefix).await? {
                0 => {
                    (self.notes)(format!(
                        "watcher {} was to start at the compaction revision, but nothing was compacted yet: it starts at the current revision",
                        self.plan.id
                    ));
                    spec.start = StartRevision::Current;
                    now + 1
                }
                c => c,
            },
        })
    }

    /// A following watcher moves to the next member.
    fn move_on(&self, at: &mut Progress) {
        if self.plan.follows {
            at.member = (at.member + 1) % self.endpoints.len();
        }
    }

    /// Open, follow and resume streams until stopped.
    async fn watch(&self, at: &mut Progress, spec: crate::watchlog::WatchSpec) {
        let mut spec = Some(spec);
        // A `broken` line is written once per outage, not once per refused attempt.
        let mut down = false;
        let mut attempts: u32 = 0;
        let mut backoff = Duration::ZERO;
        loop {
            if !backoff.is_zero() && !self.pause(backoff).await {
                break;
            }
            if self.stop.is_cancelled() {
                break;
            }
            attempts += 1;
            let opened = tokio::select! {
                r = tokio::time::timeout(OPEN_TIMEOUT, self.open(at.member, at.next)) => r.unwrap_or_else(|_| Err("timed out opening the stream".to_string())),
                _ = self.stop.cancelled() => break,
            };
            let (connection, sender, stream, header) = match opened {
                Ok(s) => s,
                Err(why) => {
                    if !down {
                        self.record(at.member, WatchLine::Broken { why: format!("could not open the stream: {why}") });
                        down = true;
                    }
                    self.move_on(at);
                    backoff = (backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
                    continue;
                }
            };
            self.record(
                at.member,
                match spec.take() {
                    Some(spec) => WatchLine::Started { revision: at.next, spec: Some(spec), header },
                    None => WatchLine::Resumed { revision: at.next, attempts },
                },
            );
            down = false;
            attempts = 0;
            backoff = Duration::ZERO;
            let ended = self.follow(sender, stream, at).await;
            drop(connection);
            match ended {
                Ended::Stopped => break,
                Ended::Compacted(c) => {
                    if !self.after_compaction(at, c).await {
                        down = true;
                        backoff = MIN_BACKOFF;
                    }
                }
                Ended::Broken(why) => {
                    self.record(at.member, WatchLine::Broken { why });
                    self.move_on(at);
                    down = true;
                    backoff = MIN_BACKOFF;
                }
            }
        }
    }

    /// etcd refused `at.next` as compacted at `c`: record it and resume from the compact
    /// revision — or, an informer, list again and watch from after the new list. `false`
    /// when that list failed (the stream is then resumed from the compact revision, after a
    /// pause).
    async fn after_compaction(&self, at: &mut Progress, c: i64) -> bool {
        self.record(at.member, WatchLine::Compacted { requested: at.next, compact_revision: c });
        // Never backwards: a compact revision below what was asked is no skip.
        let resume = at.next.max(c);
        if !self.plan.informer {
            at.next = resume;
            return true;
        }
        match informer::list(self, at.member, &self.endpoints[at.member]).await {
            Ok(r) => {
                at.next = r + 1;
                true
            }
            Err(why) => {
                self.record(at.member, WatchLine::Broken { why: format!("could not list again: {why}") });
                at.next = resume;
                false
            }
        }
    }

    /// Connect (a fresh connection each time: an old one may be stalled) and open a stream
    /// from `from` on `member`; wait for etcd to confirm it was created. The client is
    /// returned with the stream, to be kept as long as the stream is read, and the header
    /// revision of the confirmation.
    async fn open(&self, member: usize, from: i64) -> Result<(Client, WatchRequestSender, WatchResponseStream, Option<i64>), String> {
        let spec = &self.plan.spec;
        let ep = &self.endpoints[member];
        let mut c: Client = client::connect_watch(ep, OPEN_TIMEOUT, spec.require_leader).await.map_err(|e| client::classify(&e).1)?;
        let mut opts = WatchOptions::new().with_start_revision(from);
        if spec.prefix {
            opts = opts.with_prefix();
        }
        if spec.prev_kv {
            opts = opts.with_prev_key();
        }
        if spec.progress_notify {
            opts = opts.with_progress_notify();
        }
        match spec.filter {
            Filter::None => {}
            Filter::NoPut => opts = opts.with_filters([WatchFilterType::NoPut]),
            Filter::NoDelete => opts = opts.with_filters([WatchFilterType::NoDelete]),
        }
        let stream = c.watch(self.key.as_str(), Some(opts)).await.map_err(|e| client::classify(&e).1)?;
        let (sender, mut stream) = stream.split();
        match stream.message().await {
            Ok(Some(r)) if r.created() && !r.canceled() => {
                let header = r.header().map(|h| h.revision());
                Ok((c, sender, stream, header))
            }
            Ok(Some(r)) if r.canceled() => Err(cancel_reason(r.cancel_reason())),
            Ok(Some(_)) => Err("the first response did not confirm the watch".to_string()),
            Ok(None) => Err("the server closed the stream".to_string()),
            Err(e) => Err(client::classify(&e).1),
        }
    }

    /// Record the stream's responses until it ends; `at.next` follows the last revision + 1.
    /// Progress is requested and reading paused as the plan says.
    async fn follow(&self, mut sender: WatchRequestSender, mut stream: WatchResponseStream, at: &mut Progress) -> Ended {
        let mut progress = ticker(self.plan.progress_every);
        let mut slow = ticker(self.plan.slow.map(|(every, _)| every));
        loop {
            tokio::select! {
                m = stream.message() => {
                    let resp = match m {
                        Ok(Some(r)) => r,
                        Ok(None) => return Ended::Broken("the server closed the stream".to_string()),
                        Err(e) => return Ended::Broken(client::classify(&e).1),
                    };
                    if resp.compact_revision() != 0 {
                        return Ended::Compacted(resp.compact_revision());
                    }
                    self.response(&resp, at);
                    if resp.canceled() {
                        return Ended::Broken(cancel_reason(resp.cancel_reason()));
                    }
                }
                _ = tick(&mut progress) => {
                    if let Err(e) = sender.request_progress().await {
                        return Ended::Broken(format!("could not request progress: {e}"));
                    }
                    self.record(at.member, WatchLine::ProgressRequested {});
                }
                _ = tick(&mut slow) => {
                    let pause = self.plan.slow.map_or(Duration::ZERO, |(_, p)| p);
                    self.record(at.member, WatchLine::Slow { ms: pause.as_millis() as u64 });
                    if !self.pause(pause).await {
                        return Ended::Stopped;
                    }
                }
                _ = self.stop.cancelled() => return Ended::Stopped,
            }
        }
    }

    /// One response: its events, or a progress notification when it has none.
    fn response(&self, resp: &WatchResponse, at: &mut Progress) {
        if resp.created() && resp.events().is_empty() {
            return;
        }
        at.responses += 1;
        let n = Some(at.responses);
        if resp.events().is_empty() {
            if !resp.canceled() {
                let revision = resp.header().map_or(0, |h| h.revision());
                self.record(at.member, WatchLine::Progress { revision, response: n });
            }
            return;
        }
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            let key = self.unprefixed(kv);
            let rev = kv.mod_revision();
            let prev = self.plan.spec.prev_kv.then(|| ev.prev_kv().map(prev_kv));
            self.record(
                at.member,
                match ev.event_type() {
                    EventType::Put => WatchLine::Put {
                        key,
                        value: String::from_utf8_lossy(kv.value()).into_owned(),
                        mod_revision: rev,
                        create_revision: Some(kv.create_revision()),
                        version: Some(kv.version()),
                        prev,
                        response: n,
                    },
                    EventType::Delete => WatchLine::Delete { key, mod_revision: rev, prev, response: n },
                },
            );
            at.next = at.next.max(rev + 1);
            self.last[self.index].store(at.next - 1, Ordering::SeqCst);
        }
    }

    fn unprefixed(&self, kv: &KeyValue) -> String {
        String::from_utf8_lossy(kv.key().get(self.prefix_len..).unwrap_or(kv.key())).into_owned()
    }
}

fn prev_kv(kv: &KeyValue) -> PrevKv {
    PrevKv {
        value: String::from_utf8_lossy(kv.value()).into_owned(),
        mod_revision: kv.mod_revision(),
        create_revision: kv.create_revision(),
        version: kv.version(),
    }
}

/// A ticker every `every` (first tick one period from now), or none.
fn ticker(every: Option<Duration>) -> Option<Interval> {
    every.map(|d| {
        let mut i = interval_at(Instant::now() + d, d);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    })
}

/// The next tick, or never without a ticker.
async fn tick(t: &mut Option<Interval>) {
    match t {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn cancel_reason(reason: &str) -> String {
    if reason.is_empty() {
        "the server cancelled the watch".to_string()
    } else {
        format!("the server cancelled the watch: {reason}")
    }
}
