//! A generator of etcd-API histories (docs/formats.md §2.1) that are linearizable by
//! construction, or broken on purpose, for property tests and benchmarks of the etcd checker
//! (`examples/genetcd.rs` writes them to a file; `tests/it/etcd_props.rs` holds the checker and
//! the brute force to them). The register model's generator is [`crate::checker::gen`]; this
//! one follows it.
//!
//! It models a run of the `etcd` workload against a correct etcd: `clients` closed-loop
//! client slots, each doing one operation at a time with a random duration, so that the
//! slots' operations overlap. The operations ([`Kind`], shares in [`Mix`]): gets of one key,
//! ranges over every key (`[k, l)`, some with a limit, some at a past revision), gets at a
//! past revision (some below the compaction the slot knows of, which etcd refuses, some just
//! above the newest revision it saw, which etcd may refuse as a future revision), puts, deletes
//! of one key or of a range, transactions (compare the key's value, mod, version or create
//! revision with what the slot last saw of it — `mod = 0` when it saw none — then one or two
//! puts or deletes, else a get of the key), lease grants (ids chosen here, unique), puts with a
//! lease (the slot's own, or one another slot was granted) and revokes, compactions a few
//! revisions behind the newest the slot saw. Values are unique; keys are `k0..k{keys-1}`; the
//! store starts empty at revision 1.
//!
//! Every operation gets a *linearization point* strictly inside its window; the responses
//! come from running [`State::apply`] in the order of the points, so an order consistent with
//! real time exists by construction. A request is built at its invocation from what its slot
//! has seen by then. The errors the model judges (`compacted`, `future revision`, `lease not
//! found`) are `fail` lines with that error. About `info_pct` % of the writers (put, delete,
//! txn, revoke, compact, and grants drawn as such) end `info` (`"error":"timeout"`): a coin
//! decides whether each took effect — at a point inside its window or (a quarter of them) up
//! to 20 operation lengths after it — and the slot goes on under a new client number. About
//! half as many reads time out (`fail`, `"error":"timeout"`: no effect, as the workload records
//! them).
//!
//! [`Plant`] breaks one operation near the middle so that no order explains the history,
//! whatever the rest of it is; each variant says why. The changed response stays well formed.

use super::model::{cut, ErrorKind, State};
use crate::etcd_api::{
    self as api, CmpOp, CmpTarget, CompactReq, Compare, DeleteOp, GrantReq, Kv, OpRes, PutOp, RangeReq, RangeRes, Request, Response, RevokeReq, TxnOp, TxnReq,
};
use crate::history::{Entry, EntryType, OpKind, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// The kinds of operation the generator draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A get of one key, now.
    Get,
    /// A range over every key (some with a limit, some at a past revision).
    Range,
    /// A get at a past revision (some below the compaction, a few in the future).
    PastGet,
    /// A put.
    Put,
    /// A delete of one key, or of a range.
    Delete,
    /// A transaction with a compare.
    Txn,
    /// A lease grant.
    Grant,
    /// A put with a lease.
    LeasePut,
    /// A lease revoke.
    Revoke,
    /// A compaction.
    Compact,
}

impl Kind {
    /// Every kind, in [`Mix`]'s order.
    pub const ALL: [Kind; 10] =
        [Kind::Get, Kind::Range, Kind::PastGet, Kind::Put, Kind::Delete, Kind::Txn, Kind::Grant, Kind::LeasePut, Kind::Revoke, Kind::Compact];

    /// The kind of a history's operation (its `f` and request).
    pub fn of(f: OpKind, req: &Request) -> Option<Kind> {
        Some(match (f, req) {
            (OpKind::Get, Request::Range(r)) if r.rev.is_some() => Kind::PastGet,
            (OpKind::Get, _) => Kind::Get,
            (OpKind::Range, _) => Kind::Range,
            (OpKind::Put, Request::Txn(t)) if t.then.iter().any(|o| matches!(o, TxnOp::Put(p) if p.lease.is_some())) => Kind::LeasePut,
            (OpKind::Put, _) => Kind::Put,
            (OpKind::Delete, _) => Kind::Delete,
            (OpKind::Txn, _) => Kind::Txn,
            (OpKind::Grant, _) => Kind::Grant,
            (OpKind::Revoke, _) => Kind::Revoke,
            (OpKind::Compact, _) => Kind::Compact,
            _ => return None,
        })
    }

    /// A writer: may end `info` (a read that times out is `fail`).
    fn writes(self) -> bool {
        !matches!(self, Kind::Get | Kind::Range | Kind::PastGet)
    }
}

/// The shares of each [`Kind`] (weights; normalised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Gets now.
    pub get: f64,
    /// Ranges.
    pub range: f64,
    /// Gets at a past revision.
    pub past: f64,
    /// Puts.
    pub put: f64,
    /// Deletes.
    pub delete: f64,
    /// Transactions.
    pub txn: f64,
    /// Lease grants.
    pub grant: f64,
    /// Puts with a lease.
    pub lease_put: f64,
    /// Revokes.
    pub revoke: f64,
    /// Compactions.
    pub compact: f64,
}

impl Mix {
    /// The default: every kind, reads and writes about half and half.
    pub const DEFAULT: Mix =
        Mix { get: 0.16, range: 0.1, past: 0.08, put: 0.2, delete: 0.08, txn: 0.2, grant: 0.04, lease_put: 0.06, revoke: 0.04, compact: 0.04 };

    /// The share of one kind.
    pub fn weight(&self, k: Kind) -> f64 {
        match k {
            Kind::Get => self.get,
            Kind::Range => self.range,
            Kind::PastGet => self.past,
            Kind::Put => self.put,
            Kind::Delete => self.delete,
            Kind::Txn => self.txn,
            Kind::Grant => self.grant,
            Kind::LeasePut => self.lease_put,
            Kind::Revoke => self.revoke,
            Kind::Compact => self.compact,
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Kind {
        let total: f64 = Kind::ALL.iter().map(|&k| self.weight(k).max(0.0)).sum();
        if total <= 0.0 {
            return Kind::Get;
        }
        let mut x = rng.random::<f64>() * total;
        for k in Kind::ALL {
            x -= self.weight(k).max(0.0);
            if x < 0.0 {
                return k;
            }
        }
        Kind::Compact
    }
}

impl Default for Mix {
    fn default() -> Self {
        Mix::DEFAULT
    }
}

/// What to break. Each variant changes one operation near the middle of the history so that
/// it is not linearizable whatever the rest is (the reason is given for each). "Pinned": an
/// `ok` put, or an `ok` transaction whose branch puts the key, modified the key at the
/// revision its response carries, in every order; a key's `mod` never goes down, and a read
/// at revision `R` sees each key as of `R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plant {
    /// Nothing: the history is linearizable.
    None,
    /// An `ok` get at revision `R` (its `rev`, or its header's) shows its key as it was before
    /// a pinned write of it at a revision ≤ `R`: a `mod` below that write's.
    MissedWrite,
    /// An `ok` read (now) invoked after an operation completed with revision `R` answers the
    /// store as it was at a lower revision, with that revision in its header: the revision
    /// never goes back.
    RevisionBack,
    /// An `ok` transaction put two keys; a read at or after its revision shows the first and
    /// the second's older version (a `mod` below the transaction's, pinned).
    TxnHalf,
    /// An `ok` delete removed a key at revision `D` (pinned: it says it deleted 1); a get at or
    /// after `D` still shows the key as it was before (a `mod` below `D`).
    DeletedStillRead,
    /// A get invoked after an `ok` revoke returned shows a key attached to the revoked lease:
    /// once revoked, a lease has no keys and never comes back (ids are unique).
    OutlivesRevokedLease,
    /// A get at a revision below a compaction that completed before it was invoked answers
    /// `ok`: compactions never go back.
    CompactedServed,
    /// An `ok` range that `limit` did not cut (`more` false) counts one key more than it
    /// returns: in the model such a range's count is its number of keys.
    WrongCount,
}

impl Plant {
    /// Every bug.
    pub const ALL: [Plant; 7] = [
        Plant::MissedWrite,
        Plant::RevisionBack,
        Plant::TxnHalf,
        Plant::DeletedStillRead,
        Plant::OutlivesRevokedLease,
        Plant::CompactedServed,
        Plant::WrongCount,
    ];

    /// Its name on a command line (`missed-write`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Plant::None => "none",
            Plant::MissedWrite => "missed-write",
            Plant::RevisionBack => "revision-back",
            Plant::TxnHalf => "txn-half",
            Plant::DeletedStillRead => "deleted-still-read",
            Plant::OutlivesRevokedLease => "outlives-revoked-lease",
            Plant::CompactedServed => "compacted-served",
            Plant::WrongCount => "wrong-count",
        }
    }

    /// The bug of a name ([`Plant::name`]).
    pub fn from_name(s: &str) -> Option<Plant> {
        std::iter::once(Plant::None).chain(Plant::ALL).find(|p| p.name() == s)
    }
}

/// The shape of a generated history.
#[derive(Debug, Clone)]
pub struct Params {
    /// Operations in all.
    pub ops: usize,
    /// Client slots running at once.
    pub clients: u32,
    /// Keys `k0`..`k{keys-1}`.
    pub keys: u32,
    /// Percent of writers whose outcome is unknown (`info`).
    pub info_pct: f64,
    /// The shares of the kinds.
    pub mix: Mix,
    /// Shortest operation, ns (an `info` one lasts 2–5 times the longest).
    pub min_ns: u64,
    /// Longest operation, ns.
    pub max_ns: u64,
    /// The seed: the same parameters give the same history.
    pub seed: u64,
    /// What to break.
    pub plant: Plant,
}

impl Default for Params {
    fn default() -> Self {
        Params { ops: 1000, clients: 8, keys: 4, info_pct: 2.0, mix: Mix::DEFAULT, min_ns: 1_000_000, max_ns: 5_000_000, seed: 1, plant: Plant::None }
    }
}

/// A generated history.
#[derive(Debug, Clone)]
pub struct History {
    /// The entries in time order (`t` strictly increasing), as `history.jsonl` holds them.
    pub entries: Vec<Entry>,
    /// Operations in all.
    pub ops: usize,
    /// Operations with unknown outcome.
    pub info: usize,
    /// The op id of the operation the plant changed (`None`: no plant, or nothing to plant on).
    pub planted: Option<u64>,
}

/// A lease's time to live in the requests (the model has no clock).
const LEASE_TTL_S: i64 = 24 * 3600;
/// The first lease id granted.
const FIRST_LEASE: i64 = 7001;

/// What a slot has seen of the store.
#[derive(Debug, Default, Clone)]
struct Seen {
    keys: HashMap<String, Kv>,
    rev: i64,
    compacted: i64,
    lease: Option<i64>,
}

/// One operation while generating.
#[derive(Debug, Clone)]
struct GenOp {
    slot: usize,
    client: u32,
    kind: Kind,
    call: u64,
    ret: u64,
    /// Linearization point (where it takes effect, if it does).
    lp: u64,
    info: bool,
    /// For an `info` operation: whether it took effect.
    took: bool,
    /// A read that times out (`fail`, no effect).
    timeout: bool,
    f: OpKind,
    key: String,
    req: Request,
    outcome: EntryType,
    res: Option<Response>,
    error: Option<String>,
    /// The store's revision just after its point.
    at_rev: i64,
    /// The keys it changed.
    changed: Vec<String>,
}

/// Generate a history's entries.
pub fn generate(p: &Params) -> Vec<Entry> {
    generate_history(p).entries
}

/// Generate a history, with what was planted.
pub fn generate_history(p: &Params) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let clients = p.clients.max(1) as usize;
    let keys = p.keys.max(1);
    let (min_ns, max_ns) = (p.min_ns.max(4), p.max_ns.max(p.min_ns.max(4)));
    let info_p = (p.info_pct / 100.0).clamp(0.0, 1.0);

    // 1. Timing: slots in a closed loop, the earliest free slot invokes next.
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = (0..clients).map(|s| Reverse((rng.random_range(0..max_ns), s))).collect();
    let mut client_of: Vec<u32> = (0..clients as u32).collect();
    let mut next_client = clients as u32;
    let mut ops: Vec<GenOp> = Vec::with_capacity(p.ops);
    while ops.len() < p.ops {
        let Some(Reverse((call, slot))) = heap.pop() else { break };
        let kind = p.mix.draw(&mut rng);
        let info = kind.writes() && rng.random_bool(info_p);
        let timeout = !kind.writes() && rng.random_bool(info_p / 2.0);
        let dur = if info { rng.random_range(2 * max_ns..=5 * max_ns) } else { rng.random_range(min_ns..=max_ns) };
        let ret = call + dur;
        let took = info && rng.random_bool(0.5);
        let lp = if took && rng.random_bool(0.25) { ret + rng.random_range(1..=20 * max_ns) } else { rng.random_range(call + 1..ret) };
        ops.push(GenOp {
            slot,
            client: client_of[slot],
            kind,
            call,
            ret,
            lp,
            info,
            took,
            timeout,
            f: OpKind::Get,
            key: String::new(),
            req: Request::Grant(GrantReq { ttl: LEASE_TTL_S }),
            outcome: EntryType::Info,
            res: None,
            error: None,
            at_rev: 0,
            changed: Vec::new(),
        });
        if info {
            client_of[slot] = next_client;
            next_client += 1;
        }
        let gap = rng.random_range(0..=max_ns / 8);
        heap.push(Reverse((ret + gap, slot)));
    }

    // 2. Requests at the invocations, responses at the points, in time order. A slot's
    // earlier operations took their points before its next invocation (an info one may take
    // effect later, but its slot never learns of it), so a request is built from what its
    // slot had seen when it was sent.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.call, false, i));
        events.push((op.lp, true, i));
    }
    events.sort_unstable();
    let mut state = State::new();
    let mut seen: Vec<Seen> = vec![Seen { rev: 1, ..Seen::default() }; clients];
    let mut granted: Vec<i64> = Vec::new();
    let mut next_lease = FIRST_LEASE;
    let mut next_value: u64 = 1;
    for (_, point, i) in events {
        let op = &mut ops[i];
        let s = &mut seen[op.slot];
        if !point {
            let (f, key, req) = request(&mut rng, op.kind, s, &granted, keys, &mut next_value);
            (op.f, op.key, op.req) = (f, key, req);
            continue;
        }
        if op.timeout {
            op.outcome = EntryType::Fail;
            op.error = Some("timeout".into());
        } else if op.info && !op.took {
            // Never took effect.
        } else {
            let lease = matches!(op.req, Request::Grant(_)).then(|| {
                next_lease += 1;
                next_lease - 1
            });
            match state.apply(&op.req, lease) {
                Ok((res, undo)) => {
                    op.changed = undo.keys().to_vec();
                    if !op.info {
                        learn(s, &op.req, &res, &op.changed, &state);
                        if let Some(l) = res.lease {
                            granted.push(l);
                        }
                        op.outcome = EntryType::Ok;
                        op.res = Some(res);
                    }
                }
                Err(e) => {
                    if !op.info {
                        op.outcome = EntryType::Fail;
                        op.error = Some(e.message().to_string());
                        match (&op.req, e) {
                            (Request::Compact(c), ErrorKind::Compacted) => s.compacted = s.compacted.max(c.rev),
                            (Request::Revoke(r), _) if s.lease == Some(r.lease) => s.lease = None,
                            (Request::Txn(_), ErrorKind::LeaseNotFound) => s.lease = None,
                            _ => {}
                        }
                    }
                }
            }
        }
        if op.info {
            op.outcome = EntryType::Info;
            op.error = Some("timeout".into());
        }
        op.at_rev = state.rev();
    }

    // 3. Plant (ops are in invocation order: op id = index).
    let planted = plant(&mut ops, &state, p.plant).map(|i| i as u64);

    // 4. Entries, in time order with t strictly increasing.
    let mut entries: Vec<Entry> = Vec::with_capacity(ops.len() * 2);
    let mut info = 0;
    for (id, op) in ops.iter().enumerate() {
        let invoke = Entry {
            kind: EntryType::Invoke,
            id: id as u64,
            client: op.client,
            t: op.call,
            f: op.f,
            key: op.key.clone(),
            value: Value::None,
            rev: None,
            error: None,
            member: None,
            req: Some(op.req.clone()),
            res: None,
        };
        let mut done = Entry { kind: op.outcome, t: op.ret, req: None, ..invoke.clone() };
        match op.outcome {
            EntryType::Ok => {
                done.rev = op.res.as_ref().map(|r| r.rev);
                done.res = op.res.clone();
            }
            _ => done.error = op.error.clone(),
        }
        if op.outcome == EntryType::Info {
            info += 1;
        }
        entries.push(invoke);
        entries.push(done);
    }
    // Same time: completions first (any order is consistent, as every linearization point
    // lies strictly inside its window).
    entries.sort_by_key(|e| (e.t, e.kind == EntryType::Invoke, e.id));
    let mut last = 0;
    for e in &mut entries {
        if e.t <= last && last > 0 {
            e.t = last + 1;
        }
        last = e.t;
    }
    History { entries, ops: ops.len(), info, planted }
}

/// The request of an operation of `kind`, from what its slot has seen: its `f`, its key and
/// the request.
fn request(rng: &mut ChaCha8Rng, kind: Kind, seen: &Seen, granted: &[i64], keys: u32, next_value: &mut u64) -> (OpKind, String, Request) {
    let mut key = || format!("k{}", rng.random_range(0..keys));
    let k = key();
    let other = key();
    let mut fresh = || {
        *next_value += 1;
        (*next_value - 1).to_string()
    };
    let get = |key: &str, rev: Option<i64>| Request::Range(RangeReq { key: key.to_string(), end: None, limit: None, rev, serializable: false });
    let put =
        |key: String, value: String, lease: Option<i64>| Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key, value, lease })], ..TxnReq::default() });
    let grant = (OpKind::Grant, String::new(), Request::Grant(GrantReq { ttl: LEASE_TTL_S }));
    // A lease to use: the slot's own mostly, else one granted to anyone.
    let lease = |rng: &mut ChaCha8Rng, own: f64| match seen.lease {
        Some(l) if granted.is_empty() || rng.random_bool(own) => Some(l),
        _ if !granted.is_empty() => Some(granted[rng.random_range(0..granted.len())]),
        _ => None,
    };
    match kind {
        Kind::Get => (OpKind::Get, k.clone(), get(&k, None)),
        Kind::PastGet => {
            let rev = past(rng, seen);
            (OpKind::Get, k.clone(), get(&k, Some(rev)))
        }
        Kind::Range => {
            let limit = rng.random_bool(0.4).then(|| rng.random_range(1..=i64::from(keys)));
            let rev = rng.random_bool(0.15).then(|| past(rng, seen));
            (OpKind::Range, "k".into(), Request::Range(RangeReq { key: "k".into(), end: Some(api::prefix_end("k")), limit, rev, serializable: false }))
        }
        Kind::Put => (OpKind::Put, k.clone(), put(k, fresh(), None)),
        Kind::LeasePut => match lease(rng, 0.8) {
            Some(l) => (OpKind::Put, k.clone(), put(k, fresh(), Some(l))),
            None => grant,
        },
        Kind::Delete => {
            let end = (rng.random_bool(0.2) && other > k).then(|| other.clone());
            (OpKind::Delete, k.clone(), Request::Txn(TxnReq { then: vec![TxnOp::Delete(DeleteOp { key: k, end })], ..TxnReq::default() }))
        }
        Kind::Txn => {
            let target = match seen.keys.get(&k) {
                // Never seen (or seen absent): create it if it is absent.
                None => CmpTarget::Mod { n: 0 },
                Some(kv) => match rng.random_range(0..4) {
                    0 => CmpTarget::Value { value: kv.value.clone() },
                    1 => CmpTarget::Mod { n: kv.mod_rev },
                    2 => CmpTarget::Version { n: kv.ver },
                    _ => CmpTarget::Create { n: kv.create },
                },
            };
            let mut then = vec![if rng.random_bool(0.85) {
                TxnOp::Put(PutOp { key: k.clone(), value: fresh(), lease: None })
            } else {
                TxnOp::Delete(DeleteOp { key: k.clone(), end: None })
            }];
            if other != k && rng.random_bool(0.6) {
                then.push(if rng.random_bool(0.7) {
                    TxnOp::Put(PutOp { key: other, value: fresh(), lease: None })
                } else {
                    TxnOp::Delete(DeleteOp { key: other, end: None })
                });
            }
            let otherwise = vec![TxnOp::Range(RangeReq { key: k.clone(), end: None, limit: None, rev: None, serializable: false })];
            (OpKind::Txn, k.clone(), Request::Txn(TxnReq { compare: vec![Compare { key: k, op: CmpOp::Equal, target }], then, otherwise }))
        }
        Kind::Grant => grant,
        Kind::Revoke => match lease(rng, 0.7) {
            Some(l) => (OpKind::Revoke, String::new(), Request::Revoke(RevokeReq { lease: l })),
            None => grant,
        },
        Kind::Compact => {
            let rev = (seen.rev - rng.random_range(0..=3)).max(1);
            (OpKind::Compact, String::new(), Request::Compact(CompactReq { rev }))
        }
    }
}

/// A past revision to read at: mostly a few behind the newest the slot saw, now and then below
/// the compaction it knows of (refused), a few times just past the newest (maybe refused).
fn past(rng: &mut ChaCha8Rng, seen: &Seen) -> i64 {
    if seen.compacted > 1 && rng.random_bool(0.3) {
        return rng.random_range(1..seen.compacted);
    }
    if rng.random_bool(0.1) {
        return seen.rev + rng.random_range(1..=2);
    }
    (seen.rev - rng.random_range(0..6)).max(1)
}

/// What a slot learns from an `ok` answer (the store `after` it, `changed` its keys).
fn learn(s: &mut Seen, req: &Request, res: &Response, changed: &[String], after: &State) {
    s.rev = s.rev.max(res.rev);
    let range = |s: &mut Seen, r: &RangeReq, got: &RangeRes| {
        if r.rev.is_some() {
            return;
        }
        if r.end.is_none() && got.kvs.is_empty() {
            s.keys.remove(&r.key);
        }
        for kv in &got.kvs {
            s.keys.insert(kv.key.clone(), kv.clone());
        }
    };
    match req {
        Request::Range(r) => {
            if let Some(got) = &res.range {
                range(s, r, got);
            }
        }
        Request::Txn(t) => {
            let Some(txn) = &res.txn else { return };
            let branch = if txn.ok { &t.then } else { &t.otherwise };
            for (op, result) in branch.iter().zip(&txn.results) {
                if let (TxnOp::Range(r), OpRes::Range(got)) = (op, result) {
                    range(s, r, got);
                }
            }
            for k in changed {
                match after.get(k) {
                    Some(ks) => s.keys.insert(k.clone(), ks.kv(k)),
                    None => s.keys.remove(k),
                };
            }
        }
        Request::Grant(_) => s.lease = res.lease,
        Request::Revoke(r) => {
            if s.lease == Some(r.lease) {
                s.lease = None;
            }
            for k in changed {
                s.keys.remove(k);
            }
        }
        Request::Compact(c) => s.compacted = s.compacted.max(c.rev),
    }
}

/// Indices of `ops` that pass `f`, the nearest the middle first.
fn middle_first(ops: &[GenOp], f: impl Fn(&GenOp) -> bool) -> Vec<usize> {
    let mid = ops.len() / 2;
    let mut c: Vec<usize> = (0..ops.len()).filter(|&i| f(&ops[i])).collect();
    c.sort_by_key(|&i| (i.abs_diff(mid), i));
    c
}

fn ok(op: &GenOp) -> bool {
    op.outcome == EntryType::Ok && op.res.is_some()
}

fn range_req(op: &GenOp) -> Option<&RangeReq> {
    match &op.req {
        Request::Range(r) => Some(r),
        _ => None,
    }
}

/// An `ok` get: its key and the revision it read at.
fn ok_get(op: &GenOp) -> Option<(&str, i64)> {
    let r = range_req(op).filter(|_| ok(op) && op.f == OpKind::Get)?;
    Some((&r.key, r.rev.unwrap_or(op.res.as_ref()?.rev)))
}

/// Whether `op` is certain to have modified `key` at its response's revision: an `ok` put or
/// transaction whose branch (the one its response says ran) puts the key and deletes nothing.
fn pinned_put(op: &GenOp, key: &str) -> bool {
    let (Request::Txn(t), Some(txn)) = (&op.req, op.res.as_ref().and_then(|r| r.txn.as_ref())) else { return false };
    let branch = if txn.ok { &t.then } else { &t.otherwise };
    ok(op) && branch.iter().any(|o| matches!(o, TxnOp::Put(p) if p.key == key)) && !branch.iter().any(|o| matches!(o, TxnOp::Delete(_)))
}

fn rev_of(op: &GenOp) -> i64 {
    op.res.as_ref().map_or(0, |r| r.rev)
}

/// Make `ops[q]` a get of `key` (now, or at the revision it had) answering `kv`.
fn answer_get(op: &mut GenOp, key: &str, kv: Kv) {
    if let Request::Range(r) = &mut op.req {
        r.key = key.to_string();
    }
    op.key = key.to_string();
    if let Some(res) = &mut op.res {
        res.range = Some(RangeRes { kvs: vec![kv], count: 1, more: false });
    }
}

/// Change one operation so that the history is not linearizable (see [`Plant`]); its index.
fn plant(ops: &mut [GenOp], state: &State, plant: Plant) -> Option<usize> {
    match plant {
        Plant::None => None,
        Plant::MissedWrite => {
            for q in middle_first(ops, |o| ok_get(o).is_some()) {
                let (key, at) = ok_get(&ops[q]).map(|(k, r)| (k.to_string(), r))?;
                // Pinned writers of the key at or below the read's revision, the latest first.
                let mut writers: Vec<i64> = ops.iter().filter(|w| pinned_put(w, &key) && rev_of(w) <= at).map(rev_of).collect();
                writers.sort_unstable_by_key(|&r| Reverse(r));
                if let Some(old) = writers.iter().find_map(|&w| state.get_at(&key, w - 1)) {
                    let kv = old.kv(&key);
                    answer_get(&mut ops[q], &key, kv);
                    return Some(q);
                }
            }
            None
        }
        Plant::RevisionBack => {
            for q in middle_first(ops, |o| ok(o) && range_req(o).is_some_and(|r| r.rev.is_none())) {
                let call = ops[q].call;
                let newest = ops.iter().filter(|x| ok(x) && x.ret < call).map(rev_of).max().unwrap_or(0);
                if newest < 2 {
                    continue;
                }
                let at = newest - 1;
                let Some(r) = range_req(&ops[q]).cloned() else { continue };
                let range = cut(state.range_at(&r.key, r.end.as_deref(), at), r.limit);
                ops[q].res = Some(Response { rev: at, range: Some(range), ..Response::default() });
                return Some(q);
            }
            None
        }
        Plant::TxnHalf => {
            let two_puts = |o: &GenOp| -> Option<(String, String)> {
                let Request::Txn(t) = &o.req else { return None };
                let puts: Vec<&str> = t.then.iter().filter_map(|x| if let TxnOp::Put(p) = x { Some(p.key.as_str()) } else { None }).collect();
                let applied = o.res.as_ref().and_then(|r| r.txn.as_ref()).is_some_and(|x| x.ok);
                (o.f == OpKind::Txn && applied && puts.len() == 2 && puts[0] != puts[1] && pinned_put(o, puts[1]))
                    .then(|| (puts[0].to_string(), puts[1].to_string()))
            };
            for t in middle_first(ops, |o| two_puts(o).is_some()) {
                let Some((_, second)) = two_puts(&ops[t]) else { continue };
                let rev_t = rev_of(&ops[t]);
                let Some(old) = state.get_at(&second, rev_t - 1).map(|s| s.kv(&second)) else { continue };
                // A read at or after the transaction's revision that returned the second key:
                // one invoked after it returned and showing its put first.
                let shows = |o: &GenOp| {
                    let r = range_req(o).filter(|_| ok(o))?;
                    let res = o.res.as_ref()?;
                    let at = r.rev.unwrap_or(res.rev);
                    let pos = res.range.as_ref()?.kvs.iter().position(|kv| kv.key == second)?;
                    (at >= rev_t).then_some(pos)
                };
                let t_ret = ops[t].ret;
                let mut reads = middle_first(ops, |o| shows(o).is_some());
                reads.sort_by_key(|&q| {
                    let o = &ops[q];
                    let saw = o.res.as_ref().and_then(|r| r.range.as_ref()).and_then(|r| shows(o).map(|p| r.kvs[p].mod_rev == rev_t)).unwrap_or(false);
                    (!(o.call > t_ret && saw), q.abs_diff(t))
                });
                if let Some(&q) = reads.first() {
                    let Some(pos) = shows(&ops[q]) else { continue };
                    if let Some(range) = ops[q].res.as_mut().and_then(|r| r.range.as_mut()) {
                        range.kvs[pos] = old;
                    }
                    return Some(q);
                }
                // Else a get now, at or after the revision, made a get of the second key.
                if let Some(&q) = middle_first(ops, |o| ok_get(o).is_some_and(|(_, at)| at >= rev_t) && range_req(o).is_some_and(|r| r.rev.is_none())).first() {
                    answer_get(&mut ops[q], &second, old);
                    return Some(q);
                }
            }
            None
        }
        Plant::DeletedStillRead => {
            let deleted_one = |o: &GenOp| -> Option<String> {
                let (Request::Txn(t), Some(txn)) = (&o.req, o.res.as_ref().and_then(|r| r.txn.as_ref())) else { return None };
                match (t.compare.is_empty(), t.then.as_slice(), txn.results.as_slice()) {
                    (true, [TxnOp::Delete(DeleteOp { key, end: None })], [OpRes::Delete { deleted: 1 }]) if ok(o) => Some(key.clone()),
                    _ => None,
                }
            };
            for d in middle_first(ops, |o| deleted_one(o).is_some()) {
                let Some(key) = deleted_one(&ops[d]) else { continue };
                let rev_d = rev_of(&ops[d]);
                let Some(old) = state.get_at(&key, rev_d - 1).map(|s| s.kv(&key)) else { continue };
                let d_ret = ops[d].ret;
                // A get of the key at or after the delete's revision, one invoked after it
                // returned first; else any get now invoked after it returned, made a get of
                // the key.
                let mut gets = middle_first(ops, |o| ok_get(o).is_some_and(|(k, at)| k == key && at >= rev_d));
                gets.sort_by_key(|&q| (ops[q].call <= d_ret, q.abs_diff(d)));
                let q = gets.first().copied().or_else(|| {
                    let mut any = middle_first(ops, |o| ok_get(o).is_some() && range_req(o).is_some_and(|r| r.rev.is_none()) && o.call > d_ret);
                    any.sort_by_key(|&q| q.abs_diff(d));
                    any.first().copied()
                });
                if let Some(q) = q {
                    answer_get(&mut ops[q], &key, old);
                    return Some(q);
                }
            }
            None
        }
        Plant::OutlivesRevokedLease => {
            for v in middle_first(ops, |o| ok(o) && matches!(o.req, Request::Revoke(_)) && !o.changed.is_empty()) {
                let rev_v = rev_of(&ops[v]);
                let v_ret = ops[v].ret;
                let doomed = ops[v].changed.clone();
                let now_after = |o: &GenOp| ok_get(o).is_some() && range_req(o).is_some_and(|r| r.rev.is_none()) && o.call > v_ret;
                let mut gets = middle_first(ops, now_after);
                gets.sort_by_key(|&q| (!doomed.contains(&ops[q].key), q.abs_diff(v)));
                let Some(&q) = gets.first() else { continue };
                let key = if doomed.contains(&ops[q].key) { ops[q].key.clone() } else { doomed[0].clone() };
                let Some(old) = state.get_at(&key, rev_v - 1).map(|s| s.kv(&key)) else { continue };
                answer_get(&mut ops[q], &key, old);
                return Some(q);
            }
            None
        }
        Plant::CompactedServed => {
            for c in middle_first(ops, |o| ok(o) && matches!(o.req, Request::Compact(CompactReq { rev }) if rev >= 2)) {
                let Request::Compact(CompactReq { rev: compacted }) = ops[c].req else { continue };
                let c_ret = ops[c].ret;
                let get_after = |o: &GenOp| o.f == OpKind::Get && o.outcome != EntryType::Info && o.call > c_ret;
                let refused_below = |o: &GenOp| o.error.as_deref() == Some(api::COMPACTED) && range_req(o).and_then(|r| r.rev).is_some_and(|r| r < compacted);
                let mut gets = middle_first(ops, get_after);
                gets.sort_by_key(|&q| (!refused_below(&ops[q]), q.abs_diff(c)));
                let Some(&q) = gets.first() else { continue };
                let op = &mut ops[q];
                let at = range_req(op).and_then(|r| r.rev).filter(|&r| r >= 1 && r < compacted).unwrap_or(compacted - 1);
                let key = op.key.clone();
                if let Request::Range(r) = &mut op.req {
                    r.rev = Some(at);
                }
                let range = cut(state.range_at(&key, None, at), None);
                op.outcome = EntryType::Ok;
                op.error = None;
                op.res = Some(Response { rev: op.at_rev, range: Some(range), ..Response::default() });
                return Some(q);
            }
            None
        }
        Plant::WrongCount => {
            let q = *middle_first(ops, |o| ok(o) && o.f == OpKind::Range && o.res.as_ref().and_then(|r| r.range.as_ref()).is_some_and(|r| !r.more)).first()?;
            if let Some(r) = ops[q].res.as_mut().and_then(|r| r.range.as_mut()) {
                r.count += 1;
            }
            Some(q)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn values(entries: &[Entry]) -> Vec<String> {
        let mut out = Vec::new();
        for e in entries {
            if let Some(Request::Txn(t)) = &e.req {
                for o in t.then.iter().chain(&t.otherwise) {
                    if let TxnOp::Put(p) = o {
                        out.push(p.value.clone());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn same_seed_same_history_and_its_shape() {
        let p = Params { ops: 600, clients: 6, keys: 3, info_pct: 10.0, seed: 7, ..Params::default() };
        let a = generate_history(&p);
        assert_eq!(a.entries, generate(&p));
        assert_ne!(a.entries, generate(&Params { seed: 8, ..p.clone() }));
        assert_eq!((a.ops, a.entries.len()), (600, 1200));
        assert!(a.entries.windows(2).all(|w| w[0].t < w[1].t));
        // Each client's operations are sequential; a client that got info is never seen again.
        let mut open: HashMap<u32, u64> = HashMap::new();
        let mut gone: HashSet<u32> = HashSet::new();
        for e in &a.entries {
            assert!(!gone.contains(&e.client), "client {} goes on after an info", e.client);
            if e.kind == EntryType::Invoke {
                assert!(e.req.is_some());
                assert!(open.insert(e.client, e.id).is_none(), "client {} has two operations open", e.client);
            } else {
                assert_eq!(open.remove(&e.client), Some(e.id));
                assert_eq!(e.kind == EntryType::Ok, e.res.is_some());
                assert_eq!(e.kind != EntryType::Ok, e.error.is_some());
                if e.kind == EntryType::Info {
                    gone.insert(e.client);
                }
            }
        }
        // Pairs cleanly.
        assert_eq!(super::super::ops_from_entries(&a.entries).map(|o| o.len()), Ok(600));
    }

    #[test]
    fn values_are_unique() {
        let v = values(&generate(&Params { ops: 3000, keys: 2, seed: 3, ..Params::default() }));
        assert!(v.len() > 1000);
        assert_eq!(v.iter().collect::<HashSet<_>>().len(), v.len());
    }

    #[test]
    fn every_kind_and_judged_error_and_info_share() {
        let p = Params { ops: 5000, clients: 8, keys: 3, info_pct: 20.0, seed: 11, ..Params::default() };
        let h = generate_history(&p);
        let ops = super::super::ops_from_entries(&h.entries).unwrap();
        let kinds: HashSet<Kind> = ops.iter().filter_map(|o| Kind::of(o.f, &o.req)).collect();
        for k in Kind::ALL {
            assert!(kinds.contains(&k), "no {k:?} in {kinds:?}");
        }
        let errors: HashSet<&str> = ops.iter().filter(|o| o.outcome == EntryType::Fail).filter_map(|o| o.error.as_deref()).collect();
        for e in [api::COMPACTED, api::FUTURE_REV, api::LEASE_NOT_FOUND, "timeout"] {
            assert!(errors.contains(e), "no `{e}` in {errors:?}");
        }
        // Txns on both branches; ranges cut by a limit.
        assert!(ops.iter().any(|o| o.res.as_ref().and_then(|r| r.txn.as_ref()).is_some_and(|t| !t.ok && o.f == OpKind::Txn)));
        assert!(ops.iter().any(|o| o.res.as_ref().and_then(|r| r.range.as_ref()).is_some_and(|r| r.more)));
        let writers = ops.iter().filter(|o| Kind::of(o.f, &o.req).is_some_and(Kind::writes)).count();
        let share = 100.0 * h.info as f64 / writers as f64;
        assert!((share - 20.0).abs() < 3.0, "info share {share:.1} %, expected about 20 %");
        assert_eq!(h.info, ops.iter().filter(|o| o.outcome == EntryType::Info).count());
    }

    #[test]
    fn each_plant_changes_one_operation() {
        for plant in Plant::ALL {
            let p = Params { ops: 400, clients: 4, keys: 3, info_pct: 5.0, plant, seed: 5, ..Params::default() };
            let h = generate_history(&p);
            let clean = generate_history(&Params { plant: Plant::None, ..p.clone() });
            let id = h.planted.unwrap_or_else(|| panic!("nothing to plant {plant:?} on"));
            let diff: Vec<u64> = h.entries.iter().zip(&clean.entries).filter(|(a, b)| a != b).map(|(a, _)| a.id).collect();
            assert!(!diff.is_empty() && diff.iter().all(|&d| d == id), "{plant:?}: {diff:?} changed, planted {id}");
            assert_eq!(Plant::from_name(plant.name()), Some(plant));
        }
    }
}
