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

use super::slots::{self, Done, Setup, Slot, Turn, Values};
use super::WorkloadReport;
use crate::client::{self, Classified, ErrorClass};
use crate::history::{Entry, EntryType, RegisterOp, Value};
use crate::scenario::{Mix, ReadMode};
use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

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

/// Run the register workload (see [`super::run`]).
pub(super) async fn run(setup: Setup<'_>, mix: Mix, seed: u64) -> WorkloadReport {
    let (keys, reads) = (setup.spec.keys, setup.spec.reads);
    slots::run(setup, |slot| RegisterSlot { generator: OpGenerator::new(seed, slot, mix, keys), reads, values: Values::new(slot), seen: HashMap::new() }).await
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

/// One register client slot: its generator and what it has seen.
struct RegisterSlot {
    generator: OpGenerator,
    reads: ReadMode,
    values: Values,
    /// The last value this slot saw for each key (absent = none seen, or the key was absent).
    seen: HashMap<String, String>,
}

impl Slot for RegisterSlot {
    async fn step(&mut self, turn: Turn<'_>) -> Done {
        self.op(turn).await
    }
}

impl RegisterSlot {
    fn fresh_value(&mut self) -> String {
        self.values.fresh()
    }

    /// One operation: draw it, record the invocation, send it, record the completion.
    async fn op(&mut self, turn: Turn<'_>) -> Done {
        let Turn { mut conn, process, member, shared } = turn;
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
        let id = shared.next_id();
        let entry = |kind_: EntryType, value: Value| Entry {
            kind: kind_,
            id,
            client: process,
            t: 0,
            f: kind.into(),
            key: key.clone(),
            value,
            rev: None,
            error: None,
            member: Some(member.to_string()),
            req: None,
            res: None,
        };
        shared.recorder.record(entry(EntryType::Invoke, input.clone()));
        let etcd_key = format!("{}{key}", shared.prefix);
        let sent = tokio::time::timeout(shared.op_timeout, execute(&mut conn, self.reads, &etcd_key, &input));
        let result = sent.await;
        let completion = match result {
            Ok(Ok(answer)) => {
                if let Some(now) = &answer.observed {
                    match now {
                        Value::One(v) => self.seen.insert(key.clone(), v.clone()),
                        _ => self.seen.remove(&key),
                    };
                }
                let mut e = entry(if answer.succeeded { EntryType::Ok } else { EntryType::Fail }, answer.value);
                e.rev = answer.rev;
                if !answer.succeeded {
                    e.error = Some(COMPARE_FAILED.to_string());
                }
                (e, false)
            }
            Ok(Err(err)) => error_entry(&entry, client::classify_full(&err), kind, input),
            Err(_elapsed) => error_entry(&entry, client::timeout(), kind, input),
        };
        let (outcome, reconnect) = completion;
        let compare_failed = outcome.error.as_deref() == Some(COMPARE_FAILED) && outcome.kind == EntryType::Fail;
        let kind = outcome.kind;
        shared.recorder.record(outcome);
        // A failed compare is an answer like any other: only errors slow the slot down.
        Done { outcome: kind, answered: kind == EntryType::Ok || compare_failed, reconnect }
    }
}

/// The completion of a request that failed, and whether the connection is suspect.
fn error_entry(entry: &impl Fn(EntryType, Value) -> Entry, how: Classified, kind: RegisterOp, input: Value) -> (Entry, bool) {
    let outcome = match (how.class, kind) {
        (ErrorClass::Definite, _) | (ErrorClass::Indefinite, RegisterOp::Read) => EntryType::Fail,
        (ErrorClass::Indefinite, _) => EntryType::Info,
    };
    let value = if kind == RegisterOp::Read { Value::None } else { input };
    let mut e = entry(outcome, value);
    e.error = Some(how.message);
    (e, how.reconnect)
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
    use crate::client::Endpoint;
    use crate::history::Clock;
    use crate::scenario::units::{Rate, Span};
    use crate::scenario::Load;
    use crate::scenario::WorkloadSpec;
    use crate::workload::{LiveStats, PauseGate};
    use std::collections::HashSet;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

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
            load: Load::Register(Mix { read: 0.5, write: 0.25, cas: 0.25 }),
            keys: 16,
            clients: 8,
            rate,
            duration: Span(Duration::from_secs_f64(env_secs("FAULTLINE_LIVE_SECS", 5.0))),
            op_timeout: Span(Duration::from_secs(1)),
            reads: ReadMode::Linearizable,
            watch: Vec::new(),
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
