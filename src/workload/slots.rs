//! What every workload's client slots share: the pacing, the pause gate, a connection per
//! slot that follows the roster, backoff after errors, the recorder that keeps the history's
//! `t` in order, the live counters, the renumbering after an `info` (as Jepsen's processes
//! do). A workload supplies one [`Slot`] per client slot: what its next operation is, and how
//! it is sent and recorded.

use super::{LiveStats, PauseGate, WorkloadReport};
use crate::client::{self, Endpoint, Roster};
use crate::history::{Clock, Entry, EntryType};
use crate::scenario::WorkloadSpec;
use etcd_client::Client;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// First pause after a failed operation (or connection); doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(20);
/// Longest pause between a failed operation and the next: short, so that the end of an
/// outage shows in the history within a fraction of a second.
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// Writes history entries in the order they happen: the time is taken and the entry sent
/// under one lock, so `t` never goes backwards in the sink.
pub(super) struct Recorder {
    clock: Clock,
    sink: Mutex<UnboundedSender<Entry>>,
}

impl Recorder {
    /// Stamp `entry` with now and send it.
    pub(super) fn record(&self, mut entry: Entry) {
        let sink = self.sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entry.t = self.clock.now_ns();
        // A closed sink means the runner stopped listening; the operation still ran.
        let _ = sink.send(entry);
    }
}

/// What every client slot shares.
pub(super) struct Shared {
    /// Each request's bound: past it a write is `info`, a read `fail`.
    pub op_timeout: Duration,
    /// The history's writer.
    pub recorder: Recorder,
    next_id: AtomicU64,
    next_client: AtomicU32,
    stats: Arc<LiveStats>,
    /// Passed before each invocation; closed while the runner holds the workload still.
    gate: Arc<PauseGate>,
    stop: CancellationToken,
    deadline: Instant,
    /// Put in front of every key sent to etcd (not in the history).
    pub prefix: String,
}

impl Shared {
    fn ended(&self) -> bool {
        self.stop.is_cancelled() || Instant::now() >= self.deadline
    }

    /// Wait for `until`; false when the workload ended first.
    async fn wait(&self, until: impl Future<Output = ()>) -> bool {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
            _ = tokio::time::sleep_until(self.deadline) => false,
            _ = until => true,
        }
    }

    fn count(&self, kind: EntryType) {
        let counter = match kind {
            EntryType::Ok => &self.stats.ok,
            EntryType::Fail => &self.stats.fail,
            EntryType::Info => &self.stats.info,
            EntryType::Invoke => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The next operation id.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// One operation's turn: the slot's connection and who it is in the history.
pub(super) struct Turn<'a> {
    /// The slot's connection (cheap to clone).
    pub conn: Client,
    /// The slot's client number in the history.
    pub process: u32,
    /// The member the connection goes to.
    pub member: &'a str,
    /// What every slot shares.
    pub shared: &'a Shared,
}

/// How an operation ended, for the driver.
pub(super) struct Done {
    /// The completion recorded.
    pub outcome: EntryType,
    /// etcd answered (an `ok`, or a refusal it gave — a failed compare, a compacted read):
    /// the slot goes on at once; anything else slows it down.
    pub answered: bool,
    /// The connection is suspect: open another before the next operation.
    pub reconnect: bool,
}

/// A workload's client slot: the operations it sends, one at a time.
pub(super) trait Slot: Send + 'static {
    /// Draw the next operation, record its invocation, send it, record its completion.
    fn step(&mut self, turn: Turn<'_>) -> impl Future<Output = Done> + Send;
}

/// What a workload runs with: the runner's side of [`super::run`].
pub(super) struct Setup<'a> {
    pub spec: &'a WorkloadSpec,
    pub prefix: &'a str,
    pub roster: &'a Roster,
    pub clock: Clock,
    pub sink: UnboundedSender<Entry>,
    pub stats: Arc<LiveStats>,
    pub gate: Arc<PauseGate>,
    pub stop: CancellationToken,
}

/// Unique values for a slot's writes: `slot * 10^9 + seq`, so that a read names the write it
/// saw.
#[derive(Debug, Clone)]
pub(super) struct Values {
    slot: u32,
    seq: u64,
}

impl Values {
    /// The values of slot `slot`.
    pub(super) fn new(slot: u32) -> Self {
        Self { slot, seq: 0 }
    }

    /// The next one.
    pub(super) fn fresh(&mut self) -> String {
        let v = u64::from(self.slot) * VALUES_PER_SLOT + self.seq;
        self.seq += 1;
        v.to_string()
    }
}

/// Values a slot writes are `slot * VALUES_PER_SLOT + seq`: unique across the run.
const VALUES_PER_SLOT: u64 = 1_000_000_000;

/// Run `spec.clients` slots made by `make` (see [`super::run`]): each paced at
/// rate/clients ops/s, their ticks spread over one period, until the duration has passed
/// or `stop` is cancelled; the operations in flight then finish.
pub(super) async fn run<S: Slot>(setup: Setup<'_>, mut make: impl FnMut(u32) -> S) -> WorkloadReport {
    let Setup { spec, prefix, roster, clock, sink, stats, gate, stop } = setup;
    let started = Instant::now();
    let endpoints = roster.current();
    if endpoints.is_empty() || spec.clients == 0 {
        return WorkloadReport { clients_started: 0, ops_invoked: 0, elapsed: started.elapsed() };
    }
    let shared = Arc::new(Shared {
        prefix: prefix.to_string(),
        op_timeout: spec.op_timeout.0,
        recorder: Recorder { clock, sink: Mutex::new(sink) },
        next_id: AtomicU64::new(0),
        next_client: AtomicU32::new(spec.clients),
        stats,
        gate,
        stop,
        deadline: started + spec.duration.0,
    });
    let period = spec.rate.as_ref().map(|r| Duration::from_secs_f64(f64::from(spec.clients) / r.0).max(Duration::from_micros(1)));
    let mut tasks = JoinSet::new();
    for slot in 0..spec.clients {
        let endpoint = endpoints[slot as usize % endpoints.len()].clone();
        let pacing = period.map(|p| {
            let first = started + p.mul_f64(f64::from(slot) / f64::from(spec.clients));
            let mut ticks = tokio::time::interval_at(first, p);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        let driver = Driver {
            slot,
            process: slot,
            endpoint,
            roster: roster.clone(),
            shared: shared.clone(),
            connection: None,
            backoff: Duration::ZERO,
            ops: make(slot),
        };
        tasks.spawn(driver.drive(pacing));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    WorkloadReport { clients_started: spec.clients, ops_invoked: shared.next_id.load(Ordering::Relaxed), elapsed: started.elapsed() }
}

/// One client slot as the driver runs it.
struct Driver<S> {
    slot: u32,
    /// The client number in the history; changes after an `info`.
    process: u32,
    endpoint: Endpoint,
    /// Where `endpoint` comes from: a slot whose connection broke picks again, so that it
    /// follows membership changes (a removed member's slots move to the members left).
    roster: Roster,
    shared: Arc<Shared>,
    connection: Option<Client>,
    backoff: Duration,
    ops: S,
}

impl<S: Slot> Driver<S> {
    async fn drive(mut self, mut pacing: Option<tokio::time::Interval>) {
        let shared = self.shared.clone();
        while !shared.ended() {
            if !self.backoff.is_zero() && !shared.wait(tokio::time::sleep(self.backoff)).await {
                break;
            }
            if let Some(ticks) = pacing.as_mut() {
                if !shared
                    .wait(async {
                        ticks.tick().await;
                    })
                    .await
                {
                    break;
                }
            }
            let Some(conn) = self.connection().await else {
                self.failed();
                continue;
            };
            // Held here while the runner pauses the workload; counted in flight until the
            // operation has completed.
            let gate = shared.gate.clone();
            let mut passed = None;
            if !shared.wait(async { passed = Some(gate.pass().await) }).await {
                break;
            }
            let member = self.endpoint.member.clone();
            let done = self.ops.step(Turn { conn, process: self.process, member: &member, shared: &shared }).await;
            drop(passed);
            shared.count(done.outcome);
            if done.reconnect {
                self.connection = None;
            }
            if done.answered {
                self.backoff = Duration::ZERO;
            } else {
                self.failed();
            }
            if done.outcome == EntryType::Info {
                self.process = shared.next_client.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The slot's connection, opened if there is none (connecting is lazy and cheap).
    async fn connection(&mut self) -> Option<Client> {
        if self.connection.is_none() {
            let eps = self.roster.current();
            if !eps.is_empty() {
                self.endpoint = eps[self.slot as usize % eps.len()].clone();
            }
            let timeout = self.shared.op_timeout;
            if let Ok(Ok(c)) = tokio::time::timeout(timeout, client::connect(&self.endpoint, timeout)).await {
                self.connection = Some(c);
            }
        }
        self.connection.clone()
    }

    fn failed(&mut self) {
        self.backoff = (self.backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
    }
}
