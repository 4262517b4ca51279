//! The register workload (Jepsen's `etcd/register.clj`): reads, writes and
//! compare-and-sets on a few independent keys, each key a linearizable register.
//!
//! `clients` logical clients run at once; client slot `i` talks only to
//! `endpoints[i % len]`, over its own connection. What each slot does next — the kind of
//! operation and its key — comes from an [`OpGenerator`] seeded from the run's seed and the
//! slot, so the same seed gives every slot the same sequence. Values are unique decimal
//! strings, so the checker can tell every write apart.
//!
//! Each operation is an `invoke` entry just before the request leaves and exactly one
//! completion after: `ok` (took effect), `fail` (certainly did not: a definite error, a cas
//! whose compare failed, or any error on a read, which has no effect) or `info` (unknown:
//! an indefinite error or `op_timeout` on a write or cas). After an `info` the slot goes on
//! under a new client number, as Jepsen's processes do.

use super::{LiveStats, PauseGate, WorkloadReport};
use crate::client::{self, Classified, Endpoint, ErrorClass, Roster};
use crate::history::{Clock, Entry, EntryType, RegisterOp, Value};
use crate::scenario::{Mix, ReadMode, WorkloadSpec};
use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Values a slot writes are `slot * VALUES_PER_SLOT + seq`: unique across the run.
const VALUES_PER_SLOT: u64 = 1_000_000_000;
/// First pause after a failed operation (or connection); doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(20);
/// Longest pause between a failed operation and the next: short, so that the end of an
/// outage shows in the history within a fraction of a second.
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// The error of a cas whose compare failed.
pub const COMPARE_FAILED: &str = "compare failed";

/// The pure, seeded part of a client slot: which operation comes next, on which key.
#[derive(Debug, Clone)]
pub struct OpGenerator {
    rng: ChaCha8Rng,
    mix: Mix,
    keys: u32,
}

impl OpGenerator {
    /// The generator of client slot `slot` in a run seeded with `seed`: ChaCha8 seeded
    /// from `seed`, on stream `slot`.
    pub fn new(seed: u64, slot: u32, mix: Mix, keys: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(slot));
        Self { rng, mix, keys: keys.max(1) }
    }

    /// The next operation's kind, drawn from the mix, and its key, `k0`..`k{keys-1}`
    /// uniformly.
    #[allow(clippy::should_implement_trait)] // never ends; an Iterator would suggest it could
    pub fn next(&mut self) -> (RegisterOp, String) {
        let x: f64 = self.rng.random();
        let kind = if x < self.mix.read {
            RegisterOp::Read
        } else if x < self.mix.read + self.mix.write {
            RegisterOp::Write
        } else {
            RegisterOp::Cas
        };
        let key = self.rng.random_range(0..self.keys);
        (kind, format!("k{key}"))
    }
}

/// Writes history entries in the order they happen: the time is taken and the entry sent
/// under one lock, so `t` never goes backwards in the sink.
struct Recorder {
    clock: Clock,
    sink: Mutex<UnboundedSender<Entry>>,
}

impl Recorder {
    fn record(&self, mut entry: Entry) {
        let sink = self.sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entry.t = self.clock.now_ns();
        // A closed sink means the runner stopped listening; the operation still ran.
        let _ = sink.send(entry);
    }
}

/// What every client slot shares.
struct Shared {
    op_timeout: Duration,
    reads: ReadMode,
    recorder: Recorder,
    next_id: AtomicU64,
    next_client: AtomicU32,
    stats: Arc<LiveStats>,
    /// Passed before each invocation; closed while the runner holds the workload still.
    gate: Arc<PauseGate>,
    stop: CancellationToken,
    deadline: Instant,
    /// Put in front of every key sent to etcd (not in the history).
    prefix: String,
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
}

/// Run the register workload (see [`super::run`]).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    spec: &WorkloadSpec,
    seed: u64,
    prefix: &str,
    roster: &Roster,
    clock: Clock,
    sink: UnboundedSender<Entry>,
    stats: Arc<LiveStats>,
    gate: Arc<PauseGate>,
    stop: CancellationToken,
) -> WorkloadReport {
    let started = Instant::now();
    let endpoints = roster.current();
    if endpoints.is_empty() || spec.clients == 0 {
        return WorkloadReport { clients_started: 0, ops_invoked: 0, elapsed: started.elapsed() };
    }
    let shared = Arc::new(Shared {
        prefix: prefix.to_string(),
        op_timeout: spec.op_timeout.0,
        reads: spec.reads,
        recorder: Recorder { clock, sink: Mutex::new(sink) },
        next_id: AtomicU64::new(0),
        next_client: AtomicU32::new(spec.clients),
        stats,
        gate,
        stop,
        deadline: started + spec.duration.0,
    });
    // Each slot paces at rate/clients ops/s, the slots' ticks spread over one period.
    let period = spec.rate.as_ref().map(|r| Duration::from_secs_f64(f64::from(spec.clients) / r.0).max(Duration::from_micros(1)));
    let mut tasks = JoinSet::new();
    for slot in 0..spec.clients {
        let endpoint = endpoints[slot as usize % endpoints.len()].clone();
        let generator = OpGenerator::new(seed, slot, spec.mix, spec.keys);
        let pacing = period.map(|p| {
            let first = started + p.mul_f64(f64::from(slot) / f64::from(spec.clients));
            let mut ticks = tokio::time::interval_at(first, p);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        let slot_client = SlotClient::new(slot, endpoint, roster.clone(), generator, shared.clone());
        tasks.spawn(slot_client.drive(pacing));
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

/// What a request returned, before it becomes a completion.
struct Answer {
    /// The value read (read, or a failed cas's current value), the value written, or the pair.
    value: Value,
    rev: Option<i64>,
    /// False for a cas whose compare failed.
    succeeded: bool,
    /// What the key holds now, as far as this answer tells.
    observed: Option<Value>,
}

/// One logical client slot: its connection, its generator and what it has seen.
struct SlotClient {
    slot: u32,
    /// The client number in the history; changes after an `info`.
    process: u32,
    endpoint: Endpoint,
    /// Where `endpoint` comes from: a slot whose connection broke picks again, so that it
    /// follows membership changes (a removed member's slots move to the members left).
    roster: Roster,
    generator: OpGenerator,
    shared: Arc<Shared>,
    connection: Option<Client>,
    /// Next sequence number for a unique value.
    seq: u64,
    /// The last value this slot saw for each key (absent = none seen, or the key was absent).
    seen: HashMap<String, String>,
    backoff: Duration,
}

impl SlotClient {
    fn new(slot: u32, endpoint: Endpoint, roster: Roster, generator: OpGenerator, shared: Arc<Shared>) -> Self {
        Self { slot, process: slot, endpoint, roster, generator, shared, connection: None, seq: 0, seen: HashMap::new(), backoff: Duration::ZERO }
    }

    fn fresh_value(&mut self) -> String {
        let v = u64::from(self.slot) * VALUES_PER_SLOT + self.seq;
        self.seq += 1;
        v.to_string()
    }

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
            self.step(conn).await;
            drop(passed);
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

    /// One operation: draw it, record the invocation, send it, record the completion.
    async fn step(&mut self, mut conn: Client) {
        let (kind, key) = self.generator.next();
        let input = match kind {
            RegisterOp::Read => Value::None,
            RegisterOp::Write => Value::One(self.fresh_value()),
            RegisterOp::Cas => {
                // Two values drawn whatever the slot has seen, so that the values a slot writes
                // depend only on the seed (a replay writes the same ones); the first is the
                // expected value only when the slot has seen none (then the cas fails).
                let unseen = self.fresh_value();
                let to = self.fresh_value();
                let from = self.seen.get(&key).cloned().unwrap_or(unseen);
                Value::Pair(from, to)
            }
        };
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let member = self.endpoint.member.clone();
        let entry = |kind_: EntryType, process: u32, value: Value| Entry {
            kind: kind_,
            id,
            client: process,
            t: 0,
            f: kind.into(),
            key: key.clone(),
            value,
            rev: None,
            error: None,
            member: Some(member.clone()),
            req: None,
            res: None,
        };
        self.shared.recorder.record(entry(EntryType::Invoke, self.process, input.clone()));
        let etcd_key = format!("{}{key}", self.shared.prefix);
        let sent = tokio::time::timeout(self.shared.op_timeout, execute(&mut conn, self.shared.reads, &etcd_key, &input));
        let result = sent.await;
        let completion = match result {
            Ok(Ok(answer)) => {
                if let Some(now) = &answer.observed {
                    match now {
                        Value::One(v) => self.seen.insert(key.clone(), v.clone()),
                        _ => self.seen.remove(&key),
                    };
                }
                let mut e = entry(if answer.succeeded { EntryType::Ok } else { EntryType::Fail }, self.process, answer.value);
                e.rev = answer.rev;
                if !answer.succeeded {
                    e.error = Some(COMPARE_FAILED.to_string());
                }
                e
            }
            Ok(Err(err)) => self.error_entry(&entry, client::classify_full(&err), kind, input),
            Err(_elapsed) => self.error_entry(&entry, client::timeout(), kind, input),
        };
        let outcome = completion.kind;
        let compare_failed = completion.error.as_deref() == Some(COMPARE_FAILED) && outcome == EntryType::Fail;
        self.shared.recorder.record(completion);
        self.shared.count(outcome);
        // A failed compare is an answer like any other: only errors slow the slot down.
        if outcome == EntryType::Ok || compare_failed {
            self.backoff = Duration::ZERO;
        } else {
            self.failed();
        }
        if outcome == EntryType::Info {
            self.process = self.shared.next_client.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The completion of a request that failed; drops the connection when it is suspect.
    fn error_entry(&mut self, entry: &impl Fn(EntryType, u32, Value) -> Entry, how: Classified, kind: RegisterOp, input: Value) -> Entry {
        if how.reconnect {
            self.connection = None;
        }
        let outcome = match (how.class, kind) {
            (ErrorClass::Definite, _) | (ErrorClass::Indefinite, RegisterOp::Read) => EntryType::Fail,
            (ErrorClass::Indefinite, _) => EntryType::Info,
        };
        let value = if kind == RegisterOp::Read { Value::None } else { input };
        let mut e = entry(outcome, self.process, value);
        e.error = Some(how.message);
        e
    }
}

/// Send one operation and read its answer.
async fn execute(conn: &mut Client, reads: ReadMode, key: &str, input: &Value) -> Result<Answer, etcd_client::Error> {
    match input {
        Value::None => {
            let options = match reads {
                ReadMode::Linearizable => GetOptions::new(),
                ReadMode::Serializable => GetOptions::new().with_serializable(),
            };
            let resp = conn.get(key, Some(options)).await?;
            let value = first_value(resp.kvs());
            Ok(Answer { observed: Some(value.clone()), value, rev: resp.header().map(|h| h.revision()), succeeded: true })
        }
        Value::One(v) => {
            let resp = conn.put(key, v.as_str(), None).await?;
            Ok(Answer { value: input.clone(), observed: Some(input.clone()), rev: resp.header().map(|h| h.revision()), succeeded: true })
        }
        Value::Pair(from, to) => {
            // On a failed compare the txn reads the key, so the next cas knows what to expect.
            let txn = Txn::new()
                .when([Compare::value(key, CompareOp::Equal, from.as_str())])
                .and_then([TxnOp::put(key, to.as_str(), None)])
                .or_else([TxnOp::get(key, None)]);
            let resp = conn.txn(txn).await?;
            let succeeded = resp.succeeded();
            let observed = if succeeded {
                Some(Value::One(to.clone()))
            } else {
                resp.op_responses().into_iter().find_map(|r| match r {
                    TxnOpResponse::Get(g) => Some(first_value(g.kvs())),
                    _ => None,
                })
            };
            Ok(Answer { value: input.clone(), observed, rev: resp.header().map(|h| h.revision()), succeeded })
        }
    }
}

fn first_value(kvs: &[etcd_client::KeyValue]) -> Value {
    match kvs.first() {
        Some(kv) => Value::One(String::from_utf8_lossy(kv.value()).into_owned()),
        None => Value::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix() -> Mix {
        Mix { read: 0.5, write: 0.25, cas: 0.25 }
    }

    fn draws(seed: u64, slot: u32, n: usize) -> Vec<(RegisterOp, String)> {
        let mut g = OpGenerator::new(seed, slot, mix(), 16);
        (0..n).map(|_| g.next()).collect()
    }

    #[test]
    fn the_same_seed_gives_each_slot_the_same_sequence() {
        for slot in 0..8 {
            assert_eq!(draws(42, slot, 500), draws(42, slot, 500), "slot {slot}");
        }
    }

    #[test]
    fn slots_and_seeds_give_different_sequences() {
        assert_ne!(draws(42, 0, 100), draws(42, 1, 100));
        assert_ne!(draws(42, 0, 100), draws(43, 0, 100));
    }

    #[test]
    fn draws_follow_the_mix_and_cover_the_keys() {
        let all = draws(7, 3, 20_000);
        let share = |k: RegisterOp| all.iter().filter(|(kind, _)| *kind == k).count() as f64 / all.len() as f64;
        assert!((share(RegisterOp::Read) - 0.5).abs() < 0.02, "{}", share(RegisterOp::Read));
        assert!((share(RegisterOp::Write) - 0.25).abs() < 0.02);
        assert!((share(RegisterOp::Cas) - 0.25).abs() < 0.02);
        let keys: std::collections::BTreeSet<_> = all.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys.len(), 16);
        assert!(keys.contains("k0") && keys.contains("k15") && !keys.contains("k16"));
    }

    #[test]
    fn a_pure_mix_gives_one_kind() {
        let mut g = OpGenerator::new(1, 0, Mix { read: 0.0, write: 1.0, cas: 0.0 }, 1);
        for _ in 0..100 {
            assert_eq!(g.next(), (RegisterOp::Write, "k0".to_string()));
        }
    }
}

/// Manual checks against a running cluster, not part of the default test run: start one
/// (see `FAULTLINE_LIVE_ENDPOINTS` below) and run
/// `cargo test --lib -- --ignored live --nocapture`.
#[cfg(test)]
pub(crate) mod live {
    use super::*;
    use crate::scenario::units::{Rate, Span};
    use crate::scenario::WorkloadKind;
    use std::collections::HashSet;

    /// `n1=http://127.0.0.1:24371,n2=...` from `FAULTLINE_LIVE_ENDPOINTS`.
    pub(crate) fn endpoints() -> Vec<Endpoint> {
        let spec = std::env::var("FAULTLINE_LIVE_ENDPOINTS")
            .unwrap_or_else(|_| "n1=http://127.0.0.1:24371,n2=http://127.0.0.1:24372,n3=http://127.0.0.1:24373".into());
        spec.split(',').filter_map(|p| p.split_once('=')).map(|(m, u)| Endpoint { member: m.into(), url: u.into() }).collect()
    }

    fn env_secs(name: &str, default: f64) -> f64 {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs a running etcd cluster"]
    async fn live_workload() {
        let rate = std::env::var("FAULTLINE_LIVE_RATE").ok().and_then(|r| r.parse().ok()).map(Rate);
        let spec = WorkloadSpec {
            kind: WorkloadKind::Register,
            keys: 16,
            clients: 8,
            rate,
            duration: Span(Duration::from_secs_f64(env_secs("FAULTLINE_LIVE_SECS", 5.0))),
            op_timeout: Span(Duration::from_secs(1)),
            mix: Mix { read: 0.5, write: 0.25, cas: 0.25 },
            reads: ReadMode::Linearizable,
            watch: false,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stats = Arc::new(LiveStats::default());
        let gate = Arc::new(PauseGate::default());
        let report =
            super::super::run(&spec, 42, "", &crate::client::Roster::fixed(endpoints()), Clock::start(), tx, stats.clone(), gate, CancellationToken::new())
                .await;
        let mut entries = Vec::new();
        while let Ok(e) = rx.try_recv() {
            entries.push(e);
        }
        let (ok, fail, info) = (stats.ok.load(Ordering::Relaxed), stats.fail.load(Ordering::Relaxed), stats.info.load(Ordering::Relaxed));
        println!("{report:?}");
        println!("ok {ok} fail {fail} info {info}; {:.0} ok/s", ok as f64 / report.elapsed.as_secs_f64());
        let mut errors: HashMap<String, usize> = HashMap::new();
        for e in &entries {
            if let Some(err) = &e.error {
                *errors.entry(format!("{:?} {} {err}", e.kind, e.f.name())).or_default() += 1;
            }
        }
        println!("errors: {errors:?}");
        // Every invocation has exactly one completion, same client, later; t never goes back.
        let mut open: HashMap<u64, &Entry> = HashMap::new();
        let mut written = HashSet::new();
        let mut last_t = 0;
        for e in &entries {
            assert!(e.t >= last_t, "t went back at {e:?}");
            last_t = e.t;
            if e.kind == EntryType::Invoke {
                assert!(open.insert(e.id, e).is_none());
                if let Value::One(v) | Value::Pair(_, v) = &e.value {
                    assert!(written.insert(v.clone()), "value {v} written twice");
                }
            } else {
                let inv = open.remove(&e.id).expect("completion without invocation");
                assert_eq!((inv.client, inv.f, &inv.key), (e.client, e.f, &e.key));
            }
        }
        assert!(open.is_empty(), "{} operations without completion", open.len());
        assert_eq!(report.ops_invoked, ok + fail + info);
        if let Some(path) = std::env::var_os("FAULTLINE_LIVE_HISTORY") {
            let mut w = crate::history::HistoryWriter::create(std::path::Path::new(&path)).unwrap();
            for e in &entries {
                w.append(e).unwrap();
            }
            w.flush().unwrap();
        }
    }
}
