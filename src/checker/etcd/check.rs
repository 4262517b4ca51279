//! The whole-history checker of the etcd model: is there one order of the history's
//! operations, consistent with real time, in which the model ([`super::model`]) answers every
//! acknowledged request exactly as etcd did — values, revisions, versions, counts, branches —
//! and refuses every judged refusal (`compacted`, `future revision`, `lease not found`)?
//!
//! How it stays exact and fast (docs/checker.md, "The etcd model"):
//!
//! 1. **Revisions order the writers.** Every `ok` response carries the header revision; a
//!    request that changed the store is the one request at its revision, so the acknowledged
//!    writers are totally ordered, and every other acknowledged request (a read, a
//!    transaction whose branch wrote nothing, a grant, a compaction) observes the store at
//!    its revision: it sits between the writer of its revision and the next. The order is
//!    built revision by revision, `1..=max`, and every answer is checked on the model as it
//!    goes.
//! 2. **Revisions no acknowledged writer took** were taken by a request whose outcome is
//!    unknown (`info`): a cluster of the run's own has no other writer. Values are unique, so
//!    a read that shows a key with `mod == R` names the writer of `R` (exact: any other
//!    choice makes that read wrong). The others — unobserved deletes, revokes, transactions —
//!    are searched depth first, the likeliest first (invoked just before the point in time
//!    the order has reached), each choice checked at once against the reads of its revision;
//!    a wrong one is undone ([`State::undo`]) when a later answer contradicts it. When every
//!    option of a revision fails, the search goes back to the latest choice that bears on
//!    why (conflict-directed backjumping: a choice bears on a contradiction when one of its
//!    options writes a key the contradicting answer depends on, or is the request whose
//!    invocation forced the time); when no choice does, the contradiction is the violation.
//!    Past a bound on the backtracks, the answer is unknown, with the cause — never a guess.
//! 3. **Real time** is one pass along that order: each request's point is as early as its
//!    invocation and the points before it allow (earliest is best for everything after), and
//!    must not be after its return. Inside a revision, the order only matters for the
//!    requests that change something without taking a revision (compactions, grants, revokes
//!    of empty leases); their orders are tried, and the reads placed where they delay nothing.
//! 4. **Refusals** (`fail` with a judged error) took no revision and changed nothing: each
//!    is placed afterwards at a gap of the order, inside its own window, where the model
//!    refuses it the same way. A `compacted` refusal that only a compaction of unknown outcome
//!    explains is accepted only when that compaction, taking effect there, contradicts
//!    nothing after it.
//!
//! Operations that failed with another error took no effect and are left out; unknown
//! reads and grants cannot matter (a grant's id is known only from its answer).
//!
//! Assumptions, from the workloads that record these histories: the store starts empty at
//! revision 1 and nothing else writes to it; leases never expire during a run (the workload's
//! leases live a day); a transaction refused with `lease not found` is judged on the leases
//! of its branches (the workload's puts with a lease have no compare).

// A failure is the search's slow path (one per option that fails), its size does not matter.
#![allow(clippy::result_large_err)]

use super::model::{ErrorKind, State, Undo};
use super::{EtcdCheck, EtcdOp, OpView, Stats, Violation};
use crate::checker::Verdict;
use crate::etcd_api::{OpRes, Request, Response, TxnOp};
use crate::history::EntryType;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Backtracks before the search gives up (unknown).
const MAX_BACKTRACKS: u64 = 500_000;
/// Requests of one revision that change something without taking a revision, whose other
/// orders are tried too when the one that delays nothing fails (a safety net: nothing else
/// among them depends on the order).
const MAX_ACTOR_PERMUTATIONS: usize = 4;

/// Check a history of etcd's API against the model: linearizable, not (with the violation),
/// or unknown (with the cause). Stops at `timeout`, or soon after `cancel` is set.
pub fn check(ops: &[EtcdOp], timeout: Duration, cancel: &AtomicBool) -> EtcdCheck {
    let started = Instant::now();
    let mut c = Checker::new(ops, started + timeout, cancel);
    let outcome = c.run();
    let mut stats = c.stats.clone();
    stats.ops = ops.len();
    let (verdict, violation, cause, interrupted) = match outcome {
        Outcome::Linearizable => (Verdict::Linearizable, None, None, false),
        Outcome::Violation(f) => (Verdict::NotLinearizable, Some(c.violation(&f)), None, false),
        Outcome::Unknown(cause) => (Verdict::Unknown, None, Some(cause), false),
        Outcome::Stopped { cancelled } => {
            let cause = if cancelled {
                "the check was cancelled before it finished".to_string()
            } else {
                format!("the check hit its time limit ({:.0} s) at revision {} of {}", timeout.as_secs_f64(), c.reached, c.max_rev)
            };
            (Verdict::Unknown, None, Some(cause), cancelled)
        }
    };
    EtcdCheck { verdict, violation, cause, interrupted, seconds: started.elapsed().as_secs_f64(), stats }
}

/// Where the order broke.
#[derive(Debug, Clone)]
struct Fail {
    /// How far the order had got (the deepest failure is the one reported).
    depth: (i64, usize),
    culprit: usize,
    other: Option<usize>,
    revision: Option<i64>,
    keys: Vec<String>,
    expected: String,
    got: String,
    why: String,
    /// What an earlier choice would have to change for it not to happen.
    conflict: Conflict,
}

/// A part of the key space.
#[derive(Debug, Clone, PartialEq)]
enum Span {
    /// `[key, end)`; `end` `None`: the key alone; `"\0"`: to the end of the key space.
    Keys(String, Option<String>),
    /// Every key (a revoke deletes keys the request does not name).
    All,
}

impl Span {
    fn overlaps(&self, other: &Span) -> bool {
        match (self, other) {
            (Span::All, _) | (_, Span::All) => true,
            (Span::Keys(a, ae), Span::Keys(b, be)) => {
                // Each starts before the other ends ("\0": no end).
                let starts_before = |x: &str, end: &str| end == "\0" || x < end;
                match (ae.as_deref(), be.as_deref()) {
                    (None, None) => a == b,
                    (None, end) => super::model::in_range(a, b, end),
                    (end, None) => super::model::in_range(b, a, end),
                    (Some(ae), Some(be)) => starts_before(a, be) && starts_before(b, ae),
                }
            }
        }
    }
}

/// The cause of a failure, as far as the search's choices go: the parts of the key space
/// whose state it depends on, the unknown-outcome requests whose place in time it depends
/// on, or anything.
#[derive(Debug, Clone, Default, PartialEq)]
struct Conflict {
    any: bool,
    spans: Vec<Span>,
    ops: Vec<usize>,
}

impl Conflict {
    fn any() -> Conflict {
        Conflict { any: true, ..Conflict::default() }
    }

    fn merge(&mut self, other: &Conflict) {
        self.any |= other.any;
        for s in &other.spans {
            if !self.spans.contains(s) {
                self.spans.push(s.clone());
            }
        }
        for o in &other.ops {
            if !self.ops.contains(o) {
                self.ops.push(*o);
            }
        }
        if self.spans.len() > 64 {
            self.any = true;
            self.spans.clear();
        }
    }
}

/// The parts of the key space a request's answer depends on.
fn reads_of(req: &Request) -> Vec<Span> {
    match req {
        Request::Range(r) => vec![Span::Keys(r.key.clone(), r.end.clone())],
        Request::Txn(t) => {
            let mut v: Vec<Span> = t.compare.iter().map(|c| Span::Keys(c.key.clone(), None)).collect();
            for o in t.then.iter().chain(&t.otherwise) {
                v.push(match o {
                    TxnOp::Range(r) => Span::Keys(r.key.clone(), r.end.clone()),
                    TxnOp::Put(p) => {
                        if p.lease.is_some() {
                            return vec![Span::All];
                        }
                        Span::Keys(p.key.clone(), None)
                    }
                    TxnOp::Delete(d) => Span::Keys(d.key.clone(), d.end.clone()),
                });
            }
            v
        }
        Request::Revoke(_) | Request::Grant(_) => vec![Span::All],
        Request::Compact(_) => Vec::new(),
    }
}

/// The parts of the key space a request may change.
fn writes_of(req: &Request) -> Vec<Span> {
    match req {
        Request::Txn(t) => t
            .then
            .iter()
            .chain(&t.otherwise)
            .filter_map(|o| match o {
                TxnOp::Range(_) => None,
                TxnOp::Put(p) => Some(Span::Keys(p.key.clone(), None)),
                TxnOp::Delete(d) => Some(Span::Keys(d.key.clone(), d.end.clone())),
            })
            .collect(),
        Request::Revoke(_) => vec![Span::All],
        _ => Vec::new(),
    }
}

enum Outcome {
    Linearizable,
    Violation(Fail),
    Unknown(String),
    Stopped { cancelled: bool },
}

/// A request placed in the order.
#[derive(Debug, Clone, Copy)]
struct Placed {
    op: usize,
    /// Its point in time: as early as its invocation and the points before allow.
    t: u64,
    /// The store's revision and compaction after it.
    rev: i64,
    compact: i64,
}

/// One revision's step of the search: the writer options, the one in use, what to undo,
/// and why the options tried so far failed.
struct Frame {
    rev: i64,
    options: Vec<usize>,
    next: usize,
    undos: Vec<Undo>,
    used: Option<usize>,
    /// The unknown-outcome writers used by the frames of one option folded into this one.
    folded_used: Vec<usize>,
    time_before: (u64, Option<usize>),
    placed_before: usize,
    leases_before: usize,
    /// The union of the causes of its options' failures (and of later frames that jumped
    /// back to it).
    conflict: Conflict,
    /// The deepest failure under it.
    fail: Option<Fail>,
}

struct Checker<'a> {
    ops: &'a [EtcdOp],
    deadline: Instant,
    cancel: &'a AtomicBool,
    max_rev: i64,
    reached: i64,
    /// The acknowledged writer of each revision (index = revision).
    writer: Vec<Option<usize>>,
    /// Acknowledged revokes answered at each revision (they wrote it, or not).
    revokes: Vec<Vec<usize>>,
    /// Acknowledged requests that wrote nothing, by revision.
    group: Vec<Vec<usize>>,
    /// The op whose put a read saw with `mod == revision`.
    named: Vec<Option<usize>>,
    /// Unknown-outcome writers not used yet, by (invocation, index).
    unused: BTreeSet<(u64, usize)>,
    /// Refusals the model judges, placed after the order is built.
    refusals: Vec<usize>,
    /// Compactions of unknown outcome.
    info_compacts: Vec<usize>,
    /// The least return of an acknowledged request at each revision and after.
    horizon: Vec<u64>,
    state: State,
    /// The order's time and the op that set it.
    time: (u64, Option<usize>),
    placed: Vec<Placed>,
    /// (position in `placed` after which it holds, lease, exists).
    lease_events: Vec<(usize, i64, bool)>,
    /// Unknown-outcome writers a read named: each can only take the revision it was seen at.
    named_ops: HashSet<usize>,
    /// Each value's writer.
    owner: HashMap<String, usize>,
    /// Per key, the revisions (and requests) at which an acknowledged request certainly
    /// wrote it, in order.
    wrote_key: HashMap<String, Vec<(i64, usize)>>,
    /// Per lease, the revisions of its acknowledged revokes.
    revoked: HashMap<i64, Vec<(i64, usize)>>,
    /// Per key, the revisions at which an acknowledged read shows it untouched: a read of
    /// the store at revision `R` returning it with `mod == m` says no request changed it in
    /// `(m, R]` (merged, sorted windows `[from, to]`).
    unchanged: HashMap<String, Vec<(i64, i64)>>,
    /// Per unknown-outcome writer, the keys it changes whenever it takes a revision.
    certain: HashMap<usize, Vec<String>>,
    /// Some orders were not tried (more actors in one revision than are permuted).
    pruned: bool,
    stats: Stats,
    steps: u64,
}

/// What an ok transaction's answer says it did: wrote (a put ran, or a delete deleted).
fn wrote_by_answer(req: &Request, res: &Response) -> bool {
    match (req, &res.txn) {
        (Request::Txn(t), Some(txn)) => {
            let branch = if txn.ok { &t.then } else { &t.otherwise };
            branch.iter().any(|o| matches!(o, TxnOp::Put(_))) || txn.results.iter().any(|r| matches!(r, OpRes::Delete { deleted } if *deleted > 0))
        }
        _ => false,
    }
}

/// The revision by which each acknowledged compaction took effect. etcd answers a
/// compaction with the store's revision when it *answers* (`s.kv.Rev()` after the apply, in
/// `EtcdServer.Compact`), not when it applied it: a later write may come between. Acknowledged
/// compactions were applied in the order of their revisions (a lower one after a higher one
/// is refused as compacted), so each took effect by the least answer of itself and of every
/// compaction to a higher revision.
fn compactions_applied_by(ops: &[EtcdOp]) -> HashMap<usize, i64> {
    let mut acked: Vec<(i64, usize, i64)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match (&op.req, op.outcome, &op.res) {
            (Request::Compact(c), EntryType::Ok, Some(res)) => Some((c.rev, i, res.rev)),
            _ => None,
        })
        .collect();
    acked.sort_unstable();
    let mut by = i64::MAX;
    let mut out = HashMap::new();
    for &(target, i, answered) in acked.iter().rev() {
        by = by.min(answered);
        // Never below its own target (etcd refuses a compaction of a future revision).
        out.insert(i, by.max(target));
    }
    out
}

/// The revisions at which acknowledged reads show each key untouched (see
/// `Checker::unchanged`): reads of the store as it was — a range at its answer's revision or
/// at the revision it asked, a transaction's ranges when its branch wrote nothing.
fn unchanged_windows(ops: &[EtcdOp]) -> HashMap<String, Vec<(i64, i64)>> {
    let mut out: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for op in ops {
        let (EntryType::Ok, Some(res)) = (op.outcome, &op.res) else { continue };
        let reads: Vec<(&crate::etcd_api::RangeRes, i64)> = match (&op.req, &res.range, &res.txn) {
            (Request::Range(r), Some(range), _) => vec![(range, r.rev.filter(|q| *q > 0).unwrap_or(res.rev))],
            (Request::Txn(_), _, Some(txn)) if !wrote_by_answer(&op.req, res) => txn
                .results
                .iter()
                .filter_map(|x| match x {
                    OpRes::Range(r) => Some((r, res.rev)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for (range, at) in reads {
            for kv in range.kvs.iter().filter(|kv| kv.mod_rev <= at) {
                if kv.mod_rev < at {
                    out.entry(kv.key.clone()).or_default().push((kv.mod_rev + 1, at));
                }
                // Version 2: written at its creation and at `mod`, never in between.
                if kv.ver == 2 && kv.create + 1 < kv.mod_rev {
                    out.entry(kv.key.clone()).or_default().push((kv.create + 1, kv.mod_rev - 1));
                }
            }
        }
    }
    for w in out.values_mut() {
        w.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(w.len());
        for &(from, to) in w.iter() {
            match merged.last_mut() {
                Some(last) if from <= last.1 + 1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        *w = merged;
    }
    out
}

/// The keys a writing request changes whenever it takes a revision: the puts of every
/// branch that can write, and a branch's delete of one key when it is the branch's only
/// write (it took the revision, so it deleted the key).
fn certainly_changes(req: &Request) -> Vec<String> {
    let Request::Txn(t) = req else { return Vec::new() };
    let of = |branch: &[TxnOp]| -> Option<Vec<String>> {
        let writes: Vec<&TxnOp> = branch.iter().filter(|o| !matches!(o, TxnOp::Range(_))).collect();
        if writes.is_empty() {
            return None;
        }
        let mut keys: Vec<String> = writes
            .iter()
            .filter_map(|o| match o {
                TxnOp::Put(p) => Some(p.key.clone()),
                _ => None,
            })
            .collect();
        if let [TxnOp::Delete(d)] = writes.as_slice() {
            if d.end.is_none() {
                keys.push(d.key.clone());
            }
        }
        Some(keys)
    };
    let branches: Vec<Vec<String>> =
        if t.compare.is_empty() { of(&t.then).into_iter().collect() } else { [of(&t.then), of(&t.otherwise)].into_iter().flatten().collect() };
    match branches.split_first() {
        Some((first, rest)) => first.iter().filter(|k| rest.iter().all(|b| b.contains(k))).cloned().collect(),
        None => Vec::new(),
    }
}

/// The keys a request is about (for the violation).
fn keys_of(req: &Request) -> Vec<String> {
    let mut keys = Vec::new();
    match req {
        Request::Range(r) => keys.push(r.key.clone()),
        Request::Txn(t) => {
            for c in &t.compare {
                keys.push(c.key.clone());
            }
            for o in t.then.iter().chain(&t.otherwise) {
                keys.push(match o {
                    TxnOp::Range(r) => r.key.clone(),
                    TxnOp::Put(p) => p.key.clone(),
                    TxnOp::Delete(d) => d.key.clone(),
                });
            }
        }
        _ => {}
    }
    keys.dedup();
    keys
}

fn ms(t: u64) -> String {
    format!("{:.1} ms", t as f64 / 1e6)
}

impl<'a> Checker<'a> {
    fn new(ops: &'a [EtcdOp], deadline: Instant, cancel: &'a AtomicBool) -> Self {
        let max_rev = ops.iter().filter(|o| o.outcome == EntryType::Ok).filter_map(|o| o.res.as_ref().map(|r| r.rev)).max().unwrap_or(1).max(1);
        let n = max_rev as usize + 2;
        let mut c = Checker {
            ops,
            deadline,
            cancel,
            max_rev,
            reached: 0,
            writer: vec![None; n],
            revokes: vec![Vec::new(); n],
            group: vec![Vec::new(); n],
            named: vec![None; n],
            unused: BTreeSet::new(),
            refusals: Vec::new(),
            info_compacts: Vec::new(),
            horizon: vec![u64::MAX; n + 1],
            state: State::new(),
            time: (0, None),
            placed: Vec::with_capacity(ops.len()),
            lease_events: Vec::new(),
            named_ops: HashSet::new(),
            owner: HashMap::new(),
            wrote_key: HashMap::new(),
            revoked: HashMap::new(),
            unchanged: HashMap::new(),
            certain: HashMap::new(),
            pruned: false,
            stats: Stats::default(),
            steps: 0,
        };
        let mut keys = HashSet::new();
        let mut owner: HashMap<&str, usize> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            keys.extend(keys_of(&op.req));
            if let Request::Txn(t) = &op.req {
                for o in t.then.iter().chain(&t.otherwise) {
                    if let TxnOp::Put(p) = o {
                        owner.insert(p.value.as_str(), i);
                    }
                }
            }
        }
        c.stats.keys = keys.len();
        c.stats.revisions = max_rev;
        let applied_by = compactions_applied_by(ops);
        for (i, op) in ops.iter().enumerate() {
            match (op.outcome, &op.res) {
                (EntryType::Ok, Some(res)) => {
                    let r = applied_by.get(&i).copied().unwrap_or(res.rev).clamp(1, max_rev) as usize;
                    c.stats.definite += 1;
                    if let Request::Revoke(_) = op.req {
                        c.revokes[r].push(i);
                    } else if wrote_by_answer(&op.req, res) && c.writer[r].is_none() && r >= 2 {
                        c.writer[r] = Some(i);
                    } else {
                        // A second writer at one revision lands here: the model answers it at
                        // a revision it cannot have, which is the violation.
                        c.group[r].push(i);
                    }
                    c.horizon[r] = c.horizon[r].min(op.ret());
                    // Every key a read returned names the writer of its mod revision.
                    let ranges = res.range.iter().chain(res.txn.iter().flat_map(|t| t.results.iter()).filter_map(|x| match x {
                        OpRes::Range(r) => Some(r),
                        _ => None,
                    }));
                    for range in ranges {
                        for kv in &range.kvs {
                            if kv.mod_rev >= 2 && kv.mod_rev <= max_rev {
                                if let Some(&w) = owner.get(kv.value.as_str()) {
                                    c.named[kv.mod_rev as usize].get_or_insert(w);
                                }
                            }
                        }
                    }
                }
                (EntryType::Fail, _) if op.error.as_deref().and_then(ErrorKind::judged).is_some() => {
                    c.stats.definite += 1;
                    c.refusals.push(i);
                }
                (EntryType::Fail, _) | (EntryType::Ok, None) => {}
                (_, _) => match op.req {
                    Request::Txn(_) | Request::Revoke(_) => {
                        c.stats.info += 1;
                        c.unused.insert((op.invoke, i));
                    }
                    Request::Compact(_) => {
                        c.stats.info += 1;
                        c.info_compacts.push(i);
                    }
                    _ => {}
                },
            }
        }
        for r in (0..n).rev() {
            c.horizon[r] = c.horizon[r].min(c.horizon[r + 1]);
        }
        c.named_ops = c.named.iter().flatten().copied().filter(|&w| ops[w].outcome != EntryType::Ok).collect();
        c.owner = owner.into_iter().map(|(v, w)| (v.to_string(), w)).collect();
        for (i, op) in ops.iter().enumerate() {
            let (EntryType::Ok, Some(res)) = (op.outcome, &op.res) else { continue };
            match (&op.req, &res.txn) {
                (Request::Txn(t), Some(txn)) => {
                    let branch = if txn.ok { &t.then } else { &t.otherwise };
                    for (x, result) in branch.iter().zip(&txn.results) {
                        let key = match (x, result) {
                            (TxnOp::Put(p), _) => &p.key,
                            (TxnOp::Delete(d), OpRes::Delete { deleted }) if d.end.is_none() && *deleted > 0 => &d.key,
                            _ => continue,
                        };
                        c.wrote_key.entry(key.clone()).or_default().push((res.rev, i));
                    }
                }
                (Request::Revoke(r), _) => c.revoked.entry(r.lease).or_default().push((res.rev, i)),
                _ => {}
            }
        }
        for v in c.wrote_key.values_mut().chain(c.revoked.values_mut()) {
            v.sort();
        }
        c.unchanged = unchanged_windows(ops);
        c.certain = c.unused.iter().map(|&(_, i)| (i, certainly_changes(&ops[i].req))).filter(|(_, k)| !k.is_empty()).collect();
        c
    }

    /// Whether an acknowledged read shows `key` untouched at revision `r`.
    fn untouched_at(&self, key: &str, r: i64) -> bool {
        self.unchanged.get(key).is_some_and(|w| {
            let i = w.partition_point(|(from, _)| *from <= r);
            i > 0 && w[i - 1].1 >= r
        })
    }

    fn stopped(&mut self) -> Option<Outcome> {
        self.steps += 1;
        if self.steps % 1024 == 0 {
            if self.cancel.load(Ordering::Relaxed) {
                return Some(Outcome::Stopped { cancelled: true });
            }
            if Instant::now() >= self.deadline {
                return Some(Outcome::Stopped { cancelled: false });
            }
        }
        None
    }

    fn depth(&self) -> (i64, usize) {
        (self.state.rev(), self.placed.len())
    }

    /// Place `op` at the order's time: true when it fits before its return.
    fn place_time(&mut self, op: usize) -> Result<u64, Fail> {
        let o = &self.ops[op];
        let t = self.time.0.max(o.invoke);
        if t > o.ret() {
            let pusher = self.time.1;
            let p = pusher.map(|p| &self.ops[p]);
            let why = match p {
                Some(p) => format!(
                    "op {} returned at {}, but it can only come after op {} in any order the answers allow (op {} was invoked at {}, after op {} had returned): an answer reflects a store older than one an operation that had already finished showed — a stale or out-of-order answer",
                    o.id,
                    ms(o.ret()),
                    p.id,
                    p.id,
                    ms(p.invoke),
                    o.id
                ),
                None => format!("op {} returned at {}, before the order could reach it", o.id, ms(o.ret())),
            };
            return Err(Fail {
                depth: self.depth(),
                culprit: pusher.unwrap_or(op),
                other: pusher.map(|_| op),
                revision: p.and_then(|p| p.res.as_ref().map(|r| r.rev)),
                keys: keys_of(&o.req),
                expected: format!("op {} placed by its return at {}", o.id, ms(o.ret())),
                got: format!("its place in the revision order is after {}", ms(t)),
                why,
                // An acknowledged request's place is fixed by its revision: no choice moves it.
                conflict: match pusher {
                    Some(p) if self.ops[p].outcome != EntryType::Ok => Conflict { ops: vec![p], ..Conflict::default() },
                    Some(_) => Conflict::default(),
                    None => Conflict::any(),
                },
            });
        }
        if o.invoke > self.time.0 {
            self.time = (o.invoke, Some(op));
        }
        Ok(t)
    }

    /// Apply `op` on the model, its answer checked against etcd's when it has one; the undo.
    fn apply(&mut self, op: usize) -> Result<Undo, Fail> {
        let o = &self.ops[op];
        let lease = o.res.as_ref().and_then(|r| r.lease);
        let before_rev = self.state.rev();
        match (self.state.apply(&o.req, lease), &o.res) {
            (Ok((got, undo)), Some(answer)) if &got == answer => Ok(undo),
            // A compaction's answer carries the revision when etcd answered, which later
            // writes may have raised (see `compactions_applied_by`).
            (Ok((got, undo)), Some(answer))
                if matches!(o.req, Request::Compact(_)) && answer.rev > got.rev && Response { rev: got.rev, ..answer.clone() } == got =>
            {
                Ok(undo)
            }
            (Ok((model, undo)), Some(answer)) => {
                self.state.undo(undo);
                let (conflict, other) = self.mismatch(op, &model, answer);
                Err(Fail {
                    depth: self.depth(),
                    culprit: op,
                    other: other.or_else(|| self.writer_of(answer.rev)),
                    revision: Some(answer.rev),
                    keys: keys_of(&o.req),
                    expected: super::model::describe_response(&model),
                    got: super::model::describe_response(answer),
                    why: format!("{} at revision {}: {}", super::model::describe(&o.req), answer.rev.max(before_rev), super::model::difference(&model, answer)),
                    conflict,
                })
            }
            (Ok((_, undo)), None) => Ok(undo),
            (Err(e), Some(answer)) => Err(Fail {
                depth: self.depth(),
                culprit: op,
                other: None,
                revision: Some(answer.rev),
                keys: keys_of(&o.req),
                expected: format!("refused: {}", e.message()),
                got: super::model::describe_response(answer),
                why: format!("at revision {before_rev} the model refuses {} ({}), etcd answered it", super::model::describe(&o.req), e.message()),
                // The compaction and the revision are where they are whatever the choices;
                // a lease depends on the revokes chosen.
                conflict: match e {
                    ErrorKind::Compacted | ErrorKind::FutureRev => Conflict::default(),
                    _ => Conflict { spans: reads_of(&o.req), ..Conflict::default() },
                },
            }),
            (Err(_), None) => Err(Fail {
                depth: self.depth(),
                culprit: op,
                other: None,
                revision: None,
                keys: Vec::new(),
                expected: String::new(),
                got: String::new(),
                why: String::new(),
                conflict: Conflict::any(),
            }),
        }
    }

    /// Why a request's answer differs from the model's, as far as the search's choices go:
    /// the one key where the two first differ (its state depends on the writes to it alone),
    /// or nothing when the answer contradicts acknowledged requests whatever the choices — a
    /// key returned with `mod == m` at a read of revision `r` while an acknowledged request
    /// certainly wrote it (or revoked its lease) at a revision in `(m, r]`, or the value's own
    /// writer answered another revision. With it, the acknowledged request it contradicts.
    fn mismatch(&self, op: usize, model: &Response, answer: &Response) -> (Conflict, Option<usize>) {
        use crate::etcd_api::{RangeReq, RangeRes};
        let o = &self.ops[op];
        let spans = |v: Vec<Span>| Conflict { spans: v, ..Conflict::default() };
        // The ranges of the request: etcd's result, the model's, and the revision read when
        // it is the store as it was (a range inside a writing transaction also sees its own
        // writes).
        let mut pairs: Vec<(&RangeReq, &RangeRes, &RangeRes, Option<i64>)> = Vec::new();
        match &o.req {
            Request::Range(r) => {
                if let (Some(m), Some(e)) = (&model.range, &answer.range) {
                    pairs.push((r, m, e, Some(r.rev.filter(|q| *q > 0).unwrap_or(answer.rev))));
                }
            }
            Request::Txn(t) => match (&model.txn, &answer.txn) {
                (Some(m), Some(e)) if m.ok == e.ok => {
                    let branch = if e.ok { &t.then } else { &t.otherwise };
                    let read_only = !wrote_by_answer(&o.req, answer);
                    for ((x, mr), er) in branch.iter().zip(&m.results).zip(&e.results) {
                        if let (TxnOp::Range(r), OpRes::Range(mr), OpRes::Range(er)) = (x, mr, er) {
                            pairs.push((r, mr, er, read_only.then_some(answer.rev)));
                        }
                    }
                }
                (Some(_), Some(_)) => return (spans(t.compare.iter().map(|c| Span::Keys(c.key.clone(), None)).collect()), None),
                _ => {}
            },
            _ => {}
        }
        for (r, m, e, at) in pairs {
            if m == e {
                continue;
            }
            // An answer that contradicts itself is wrong in every order.
            let n = e.kvs.len() as i64;
            let sorted = e.kvs.windows(2).all(|w| w[0].key < w[1].key);
            let cut = r.limit.filter(|l| *l > 0).is_some_and(|l| n > l);
            if !sorted || cut || e.count < n || (e.more && e.count <= n) || (!e.more && e.count != n) {
                return (Conflict::default(), None);
            }
            let first = (0..m.kvs.len().max(e.kvs.len())).find(|&i| m.kvs.get(i) != e.kvs.get(i));
            let Some(i) = first else {
                return (spans(vec![Span::Keys(r.key.clone(), r.end.clone())]), None);
            };
            let key = match (m.kvs.get(i), e.kvs.get(i)) {
                (Some(a), Some(b)) => a.key.clone().min(b.key.clone()),
                (Some(a), None) => a.key.clone(),
                (None, Some(b)) => b.key.clone(),
                (None, None) => r.key.clone(),
            };
            if let (Some(kv), Some(at)) = (e.kvs.iter().find(|kv| kv.key == key), at) {
                if let Some(w) = self.certainly_changed(kv, at) {
                    return (Conflict::default(), w);
                }
            }
            return (spans(vec![Span::Keys(key, None)]), None);
        }
        (spans(reads_of(&o.req)), None)
    }

    /// Whether `kv`, as a read at revision `at` returned it, contradicts acknowledged
    /// requests whatever the choices (and the request it contradicts, when there is one).
    fn certainly_changed(&self, kv: &crate::etcd_api::Kv, at: i64) -> Option<Option<usize>> {
        if kv.mod_rev > at {
            return Some(self.writer_of(kv.mod_rev));
        }
        if let Some(&w) = self.owner.get(&kv.value) {
            if let (EntryType::Ok, Some(res)) = (self.ops[w].outcome, &self.ops[w].res) {
                if res.rev != kv.mod_rev {
                    return Some(Some(w));
                }
            }
        }
        let after = |revs: &Vec<(i64, usize)>| {
            let i = revs.partition_point(|(r, _)| *r <= kv.mod_rev);
            revs.get(i).filter(|(r, _)| *r <= at).map(|(_, w)| *w)
        };
        if let Some(w) = self.wrote_key.get(&kv.key).and_then(after) {
            return Some(Some(w));
        }
        kv.lease.and_then(|l| self.revoked.get(&l)).and_then(after).map(Some)
    }

    fn writer_of(&self, rev: i64) -> Option<usize> {
        usize::try_from(rev).ok().and_then(|r| self.writer.get(r).copied().flatten())
    }

    fn push_placed(&mut self, op: usize, t: u64) {
        self.placed.push(Placed { op, t, rev: self.state.rev(), compact: self.state.compact_rev() });
        let pos = self.placed.len();
        match &self.ops[op].req {
            Request::Grant(_) => {
                if let Some(l) = self.ops[op].res.as_ref().and_then(|r| r.lease) {
                    self.lease_events.push((pos, l, true));
                }
            }
            Request::Revoke(r) => self.lease_events.push((pos, r.lease, false)),
            _ => {}
        }
    }

    /// The writer options of revision `r` (≥ 2): its acknowledged writer alone; else the
    /// request a read named; else the acknowledged revokes answered at it, then every
    /// unknown-outcome writer invoked in time, the likeliest first (invoked just before the
    /// point the order has reached, then just after).
    fn options(&self, r: i64) -> Vec<usize> {
        let ri = r as usize;
        if let Some(w) = self.writer[ri] {
            return vec![w];
        }
        if let Some(w) = self.named[ri] {
            // Values are unique: the writer of r put the value a read saw with mod r.
            if self.ops[w].outcome != EntryType::Ok && self.unused.contains(&(self.ops[w].invoke, w)) {
                return vec![w];
            }
            return Vec::new();
        }
        let mut options: Vec<usize> = self.revokes[ri].clone();
        let horizon = self.horizon[ri];
        let now = self.time.0.saturating_add(1);
        // Not one a read shows could not have taken `r`: it would change a key that read
        // shows untouched at `r`.
        let free =
            |&&(_, i): &&(u64, usize)| !self.named_ops.contains(&i) && !self.certain.get(&i).is_some_and(|keys| keys.iter().any(|k| self.untouched_at(k, r)));
        // The nearest to now first, from both sides: a write invoked long before took
        // effect then or never (most unknown writes never do), one invoked after cannot
        // have taken an earlier revision.
        let mut before = self.unused.range(..(now, 0)).rev().filter(free).peekable();
        let mut after = self.unused.range((now, 0)..).take_while(|(inv, _)| *inv <= horizon).filter(free).peekable();
        loop {
            let next = match (before.peek(), after.peek()) {
                (Some(b), Some(a)) => {
                    if now - b.0 <= a.0 - now {
                        before.next()
                    } else {
                        after.next()
                    }
                }
                (Some(_), None) => before.next(),
                (None, Some(_)) => after.next(),
                (None, None) => break,
            };
            options.extend(next.map(|(_, i)| *i));
        }
        options
    }

    /// Whether a frame's choice can bear on a conflict: another of its options would change
    /// what the conflict depends on.
    fn relevant(&self, f: &Frame, c: &Conflict) -> bool {
        if f.options.len() < 2 {
            return false;
        }
        if c.any {
            return true;
        }
        f.options.iter().any(|&o| self.bears_on(o, c))
    }

    /// Whether choosing `option` changes what the conflict depends on.
    fn bears_on(&self, option: usize, c: &Conflict) -> bool {
        c.any || c.ops.contains(&option) || writes_of(&self.ops[option].req).iter().any(|w| c.spans.iter().any(|s| s.overlaps(w)))
    }

    /// The whole search: revision by revision, each frame's options tried in turn; when every
    /// option of a frame fails, back to the latest frame whose choice bears on why (the
    /// conflict), or — when none does — the violation.
    fn run(&mut self) -> Outcome {
        let mut frames: Vec<Frame> = Vec::new();
        let mut r: i64 = 1;
        while r <= self.max_rev {
            if let Some(stop) = self.stopped() {
                return stop;
            }
            let first_visit = r > self.reached;
            self.reached = self.reached.max(r);
            let options = if r == 1 { vec![usize::MAX] } else { self.options(r) };
            let mut frame = Frame {
                rev: r,
                options,
                next: 0,
                undos: Vec::new(),
                used: None,
                folded_used: Vec::new(),
                time_before: self.time,
                placed_before: self.placed.len(),
                leases_before: self.lease_events.len(),
                conflict: Conflict::default(),
                fail: None,
            };
            if r >= 2 && self.writer[r as usize].is_none() {
                if first_visit {
                    self.stats.unacknowledged += 1;
                    if self.named[r as usize].is_some() {
                        self.stats.named_by_values += 1;
                    }
                    if frame.options.len() > 1 {
                        self.stats.choices += 1;
                    }
                }
                if frame.options.is_empty() {
                    let f = self.no_writer(r);
                    frame.conflict = f.conflict.clone();
                    frame.fail = Some(f);
                }
            }
            frames.push(frame);
            loop {
                let top = frames.last_mut().expect("a frame");
                if top.next < top.options.len() {
                    let (rev, option) = (top.rev, top.options[top.next]);
                    top.next += 1;
                    match self.step(rev, option) {
                        Ok((undos, used)) => {
                            let top = frames.last_mut().expect("a frame");
                            top.undos = undos;
                            top.used = used;
                            r = rev + 1;
                            // A frame of one option is never gone back to, only unwound with
                            // the one before it: fold it into that one (memory: one frame per
                            // choice, not per revision).
                            if top.options.len() < 2 && frames.len() >= 2 {
                                let done = frames.pop().expect("a frame");
                                let prev = frames.last_mut().expect("a frame");
                                prev.undos.extend(done.undos);
                                prev.folded_used.extend(done.used.into_iter().chain(done.folded_used));
                            }
                            break;
                        }
                        Err(f) => {
                            let top = frames.last_mut().expect("a frame");
                            top.conflict.merge(&f.conflict);
                            if top.fail.as_ref().is_none_or(|d| f.depth >= d.depth) {
                                top.fail = Some(f);
                            }
                            continue;
                        }
                    }
                }
                // Every option failed: back to the latest frame whose choice bears on why.
                let done = frames.pop().expect("a frame");
                self.unwind(&done);
                let Some(j) = frames.iter().rposition(|f| self.relevant(f, &done.conflict)) else {
                    let fail = done.fail.expect("a failure");
                    return if self.pruned {
                        Outcome::Unknown(format!(
                            "no order was found, but some orders of requests within one revision were not tried; the contradiction: {}",
                            fail.why
                        ))
                    } else {
                        Outcome::Violation(fail)
                    };
                };
                self.stats.backtracks += 1;
                if self.stats.backtracks > MAX_BACKTRACKS {
                    return Outcome::Unknown(format!(
                        "the search for which unacknowledged writes took which revisions went back more than {MAX_BACKTRACKS} times (last from revision {} to {})",
                        done.rev, frames[j].rev
                    ));
                }
                while frames.len() > j + 1 {
                    let f = frames.pop().expect("a frame");
                    self.unwind(&f);
                }
                let target = frames.last().expect("the target");
                self.unwind(target);
                let target = frames.last_mut().expect("the target");
                target.undos.clear();
                target.used = None;
                target.folded_used.clear();
                target.conflict.merge(&done.conflict);
                if let Some(f) = done.fail {
                    if target.fail.as_ref().is_none_or(|d| f.depth >= d.depth) {
                        target.fail = Some(f);
                    }
                }
            }
            // Frames with no option left can never be gone back to: drop them (and their
            // undos) while the search has no open choice, so memory stays flat.
            if frames.iter().all(|f| f.next >= f.options.len()) {
                frames.clear();
            }
        }
        self.refusals_placed(self.stats.choices > 0)
    }

    /// The failure of a revision no request can have taken.
    fn no_writer(&self, rev: i64) -> Fail {
        let shown = (rev as usize..self.group.len()).find_map(|r| self.group[r].first().or(self.writer[r].as_ref()).copied()).unwrap_or(0);
        let named = self.named[rev as usize];
        let why = match named {
            Some(w) => format!(
                "a read shows the value op {} put with mod revision {rev}, but op {} {}",
                self.ops[w].id,
                self.ops[w].id,
                match (self.ops[w].outcome, &self.ops[w].res) {
                    (EntryType::Ok, Some(res)) => format!("answered revision {}", res.rev),
                    (EntryType::Fail, _) => "failed (it took no effect)".to_string(),
                    _ => "took another revision in every order tried".to_string(),
                }
            ),
            None => format!("revision {rev} was taken by no operation: no acknowledged write answered it, and no write of unknown outcome can have taken it (none was invoked in time, or each contradicts the answers at that revision)"),
        };
        Fail {
            depth: (rev - 1, self.placed.len()),
            culprit: shown,
            other: named,
            revision: Some(rev),
            keys: Vec::new(),
            expected: format!("a write at revision {rev}"),
            got: "none".into(),
            why,
            // A named writer is the only one possible; otherwise a write used elsewhere might
            // have taken it.
            conflict: if named.is_some() { Conflict::default() } else { Conflict::any() },
        }
    }

    /// Put back what a frame did.
    fn unwind(&mut self, f: &Frame) {
        for u in f.undos.iter().rev() {
            self.state.undo(u.clone());
        }
        for &w in f.used.iter().chain(&f.folded_used) {
            self.unused.insert((self.ops[w].invoke, w));
        }
        self.time = f.time_before;
        self.placed.truncate(f.placed_before);
        self.lease_events.truncate(f.leases_before);
    }

    /// Revision `rev`: its writer (`option`; `usize::MAX` for revision 1, which has none),
    /// then the requests answered at it. On failure, the state is as before.
    fn step(&mut self, rev: i64, option: usize) -> Result<(Vec<Undo>, Option<usize>), Fail> {
        let time_before = self.time;
        let placed_before = self.placed.len();
        let leases_before = self.lease_events.len();
        let mut undos = Vec::new();
        let mut used = None;
        let undo_all = |c: &mut Self, undos: Vec<Undo>, used: Option<usize>| {
            for u in undos.into_iter().rev() {
                c.state.undo(u);
            }
            if let Some(w) = used {
                c.unused.insert((c.ops[w].invoke, w));
            }
            c.time = time_before;
            c.placed.truncate(placed_before);
            c.lease_events.truncate(leases_before);
        };
        let mut revoke_writer = None;
        if option != usize::MAX {
            let o = &self.ops[option];
            let t = match self.place_time(option) {
                Ok(t) => t,
                Err(f) => {
                    undo_all(self, undos, used);
                    return Err(f);
                }
            };
            let acknowledged = o.outcome == EntryType::Ok;
            if acknowledged {
                match self.apply(option) {
                    Ok(u) => undos.push(u),
                    Err(f) => {
                        undo_all(self, undos, used);
                        return Err(f);
                    }
                }
            } else {
                match self.state.apply(&o.req, None) {
                    Ok((_, u)) if u.wrote() => {
                        undos.push(u);
                        self.unused.remove(&(o.invoke, option));
                        used = Some(option);
                    }
                    other => {
                        // It would write nothing here, or be refused: not this revision's writer.
                        let (got, why) = match other {
                            Ok((_, u)) => {
                                self.state.undo(u);
                                (
                                    "no change".to_string(),
                                    format!("op {} ({}) would change nothing at revision {}", o.id, super::model::describe(&o.req), rev - 1),
                                )
                            }
                            Err(e) => (e.message().to_string(), format!("op {} would be refused ({}) at revision {}", o.id, e.message(), rev - 1)),
                        };
                        undo_all(self, undos, used);
                        return Err(Fail {
                            depth: self.depth(),
                            culprit: option,
                            other: None,
                            revision: Some(rev),
                            keys: keys_of(&o.req),
                            expected: format!("a write at revision {rev}"),
                            got,
                            why,
                            conflict: Conflict { spans: reads_of(&o.req), ..Conflict::default() },
                        });
                    }
                }
            }
            if let Request::Revoke(_) = o.req {
                revoke_writer = Some(option);
            }
            self.push_placed(option, t);
        }
        // The requests answered at this revision that did not write it.
        let ri = rev as usize;
        let mut items: Vec<usize> = self.group[ri].clone();
        items.extend(self.revokes[ri].iter().copied().filter(|&i| Some(i) != revoke_writer));
        match self.place_group(&items) {
            Ok(mut u) => {
                undos.append(&mut u);
                Ok((undos, used))
            }
            Err(f) => {
                undo_all(self, undos, used);
                Err(f)
            }
        }
    }

    /// The requests of one revision that took none: the ones that change something (grants,
    /// compactions, revokes of empty leases) in every order up to [`MAX_ACTOR_PERMUTATIONS`],
    /// the reads where they delay nothing.
    fn place_group(&mut self, items: &[usize]) -> Result<Vec<Undo>, Fail> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (actors, reads): (Vec<usize>, Vec<usize>) =
            items.iter().partition(|&&i| matches!(self.ops[i].req, Request::Grant(_) | Request::Compact(_) | Request::Revoke(_)));
        if actors.is_empty() {
            // Reads only: in invocation order each gets its own earliest point.
            let mut reads = reads;
            reads.sort_by_key(|&i| self.ops[i].invoke);
            let time_before = self.time;
            let placed_before = self.placed.len();
            for &i in &reads {
                let res = self.place_time(i).and_then(|t| self.apply(i).map(|u| (t, u)));
                match res {
                    Ok((t, u)) => {
                        debug_assert!(!u.wrote());
                        self.push_placed(i, t);
                    }
                    Err(f) => {
                        self.time = time_before;
                        self.placed.truncate(placed_before);
                        return Err(f);
                    }
                }
            }
            return Ok(Vec::new());
        }
        let canonical = self.canonical_order(&actors);
        let mut orders = vec![canonical.clone()];
        if actors.len() <= MAX_ACTOR_PERMUTATIONS {
            orders.extend(permutations(&canonical).into_iter().filter(|o| *o != canonical));
        }
        let mut first_fail: Option<Fail> = None;
        for order in orders {
            match self.try_actor_order(&order, &reads) {
                Ok(u) => return Ok(u),
                Err(f) => match &mut first_fail {
                    Some(first) => first.conflict.merge(&f.conflict),
                    None => first_fail = Some(f),
                },
            }
        }
        Err(first_fail.expect("at least one order"))
    }

    /// The order of a revision's actors that delays nothing it need not: each as early as
    /// its invocation and what must come before it allow — compactions in the order of their
    /// revisions (a compaction at or below the last one is refused), a lease's grant before
    /// its revoke; nothing else among them depends on the order.
    fn canonical_order(&self, actors: &[usize]) -> Vec<usize> {
        let before = |a: usize, b: usize| -> bool {
            match (&self.ops[a].req, &self.ops[b].req) {
                (Request::Compact(x), Request::Compact(y)) => x.rev < y.rev,
                (Request::Grant(_), Request::Revoke(r)) => self.ops[a].res.as_ref().and_then(|x| x.lease) == Some(r.lease),
                _ => false,
            }
        };
        // Release times: the invocation, or a predecessor's release if later.
        let mut release: Vec<(u64, usize)> = actors.iter().map(|&a| (self.ops[a].invoke, a)).collect();
        for _ in 0..actors.len() {
            for i in 0..release.len() {
                for j in 0..release.len() {
                    if before(release[j].1, release[i].1) && release[j].0 > release[i].0 {
                        release[i].0 = release[j].0;
                    }
                }
            }
        }
        let mut order: Vec<usize> = Vec::with_capacity(actors.len());
        let mut left = release;
        left.sort();
        while !left.is_empty() {
            // The earliest released whose predecessors are all placed.
            let k = left.iter().position(|&(_, a)| !left.iter().any(|&(_, b)| b != a && before(b, a))).unwrap_or(0);
            order.push(left.remove(k).1);
        }
        order
    }

    /// One order of a revision's actors, the reads put between them as late as they can
    /// be without delaying anything: a read goes before an actor when it is free there (it
    /// was invoked by then), when it must (its return comes before the actor's point), or
    /// when it is its last chance (a read at a past revision before a compaction past it).
    fn try_actor_order(&mut self, order: &[usize], reads: &[usize]) -> Result<Vec<Undo>, Fail> {
        let time_before = self.time;
        let placed_before = self.placed.len();
        let leases_before = self.lease_events.len();
        // The compaction after each actor, and so the last segment each read may go in.
        let mut compact = vec![self.state.compact_rev()];
        for &a in order {
            let last = *compact.last().expect("a level");
            compact.push(match &self.ops[a].req {
                Request::Compact(c) => c.rev.max(last),
                _ => last,
            });
        }
        let mut pending: Vec<(usize, usize)> = reads
            .iter()
            .map(|&i| {
                let q = match &self.ops[i].req {
                    Request::Range(r) => r.rev.filter(|q| *q > 0),
                    _ => None,
                };
                let allowed = (0..=order.len()).rev().find(|&s| q.is_none_or(|q| q >= compact[s])).unwrap_or(0);
                (allowed, i)
            })
            .collect();
        pending.sort_by_key(|&(_, i)| self.ops[i].invoke);
        let mut undos = Vec::new();
        let undo_all = |c: &mut Self, undos: Vec<Undo>| {
            for u in undos.into_iter().rev() {
                c.state.undo(u);
            }
            c.time = time_before;
            c.placed.truncate(placed_before);
            c.lease_events.truncate(leases_before);
        };
        for s in 0..=order.len() {
            // The actor's point: after the reads that must come before it.
            let forced = pending.iter().filter(|&&(allowed, _)| allowed <= s).map(|&(_, i)| self.ops[i].invoke).max().unwrap_or(0);
            let next = order.get(s).map(|&a| self.time.0.max(self.ops[a].invoke).max(forced));
            let (now, rest): (Pending, Pending) = pending.into_iter().partition(|&(allowed, i)| {
                let o = &self.ops[i];
                next.is_none() || allowed <= s || o.invoke <= self.time.0 || next.is_some_and(|t| o.ret() < t)
            });
            pending = rest;
            let mut place = now.into_iter().map(|(_, i)| i).collect::<Vec<_>>();
            if let Some(&a) = order.get(s) {
                place.push(a);
            }
            for i in place {
                match self.place_time(i).and_then(|t| self.apply(i).map(|u| (t, u))) {
                    Ok((t, u)) => {
                        undos.push(u);
                        self.push_placed(i, t);
                    }
                    Err(f) => {
                        undo_all(self, undos);
                        return Err(f);
                    }
                }
            }
        }
        Ok(undos)
    }

    /// Every judged refusal placed at a gap of the order inside its window where the model
    /// refuses it the same way. `choices`: the order was one of several (a refusal that fits
    /// nowhere then makes the answer unknown rather than a violation).
    fn refusals_placed(&mut self, choices: bool) -> Outcome {
        let n = self.placed.len();
        // Latest times: each placed request by its own return and every later one's.
        let mut latest = vec![u64::MAX; n + 1];
        for k in (0..n).rev() {
            latest[k] = latest[k + 1].min(self.ops[self.placed[k].op].ret());
        }
        let mut refusals = self.refusals.clone();
        refusals.sort_by_key(|&i| self.ops[i].invoke);
        let mut delayed: Vec<(usize, usize)> = Vec::new();
        for f in refusals {
            if let Some(stop) = self.stopped() {
                return stop;
            }
            let o = &self.ops[f];
            let (inv, ret) = (o.invoke, o.ret());
            let kind = o.error.as_deref().and_then(ErrorKind::judged).expect("a judged refusal");
            // Gaps g (after g placed requests) whose window meets [inv, ret] without delaying
            // anything: earliest(g) <= ret and the next point >= inv.
            let lo = self.placed.partition_point(|p| p.t < inv);
            let hi = self.placed.partition_point(|p| p.t <= ret);
            let fits = |c: &Self, g: usize| c.refused_at(f, kind, g);
            if (lo..=hi.min(n)).any(|g| fits(self, g)) {
                continue;
            }
            // Gaps where it fits only by delaying the requests after it.
            // The latest such gap delays the fewest.
            let start = (0..lo).rev().take_while(|&g| latest[g] >= inv).last();
            if let Some(start) = start {
                if let Some(g) = (start..lo).rev().find(|&g| (g == 0 || self.placed[g - 1].t <= ret) && fits(self, g)) {
                    delayed.push((g, f));
                    continue;
                }
            }
            // A compaction or a revoke of unknown outcome may explain the refusal.
            if kind == ErrorKind::Compacted && self.info_compact_explains(f) {
                continue;
            }
            if kind == ErrorKind::LeaseNotFound && self.info_revoke_explains(f) {
                continue;
            }
            let why = self.refusal_why(f, kind, lo.min(n));
            let fail = Fail {
                depth: (self.max_rev, n),
                culprit: f,
                other: None,
                revision: None,
                keys: keys_of(&o.req),
                expected: format!("{} answered, not refused", super::model::describe(&o.req)),
                got: format!("refused: {}", kind.message()),
                why,
                conflict: Conflict::default(),
            };
            if choices {
                return Outcome::Unknown(format!("a refusal fits nowhere in the order found, which was one of several (an order with other unacknowledged writes was not searched for it): {}", fail.why));
            }
            return Outcome::Violation(fail);
        }
        if !delayed.is_empty() && !self.delays_fit(&delayed) {
            return Outcome::Unknown(format!(
                "{} refusal(s) fit only by delaying the requests after them, and together they do not fit: the placement of refusals is not searched further",
                delayed.len()
            ));
        }
        Outcome::Linearizable
    }

    /// Whether, after `g` placed requests, the model refuses refusal `f` with `kind`.
    fn refused_at(&self, f: usize, kind: ErrorKind, g: usize) -> bool {
        let (rev, compact) = if g == 0 { (1, 0) } else { (self.placed[g - 1].rev, self.placed[g - 1].compact) };
        let o = &self.ops[f];
        match (kind, &o.req) {
            (ErrorKind::Compacted, Request::Range(r)) => r.rev.is_some_and(|q| q > 0 && q < compact && q <= rev),
            (ErrorKind::Compacted, Request::Compact(c)) => c.rev <= compact,
            (ErrorKind::FutureRev, Request::Range(r)) => r.rev.is_some_and(|q| q > rev),
            (ErrorKind::FutureRev, Request::Compact(c)) => c.rev > rev && c.rev > compact,
            (ErrorKind::LeaseNotFound, Request::Revoke(r)) => !self.lease_exists(r.lease, g),
            (ErrorKind::LeaseNotFound, Request::Txn(t)) => {
                let branch: Vec<&TxnOp> = if t.compare.is_empty() { t.then.iter().collect() } else { t.then.iter().chain(&t.otherwise).collect() };
                branch.iter().any(|op| matches!(op, TxnOp::Put(p) if p.lease.is_some_and(|l| !self.lease_exists(l, g))))
            }
            _ => false,
        }
    }

    /// Whether lease `l` exists after `g` placed requests.
    fn lease_exists(&self, l: i64, g: usize) -> bool {
        self.lease_events.iter().rev().find(|(pos, lease, _)| *pos <= g && *lease == l).is_some_and(|(_, _, exists)| *exists)
    }

    /// A `compacted` refusal that a compaction explains when it takes effect earlier than
    /// the order placed it: one of unknown outcome, or an acknowledged one placed after the
    /// refusal (its answer's header revision is read when etcd answered, so the order may
    /// place it late: see `compactions_applied_by`). The compaction was invoked before the
    /// refusal returned, compacts past the revision refused, the store had reached its
    /// revision by then, and taking effect just before the refusal's point contradicts
    /// nothing that comes after it in every timing (no read below it, no compaction at or
    /// below it).
    fn info_compact_explains(&self, f: usize) -> bool {
        let o = &self.ops[f];
        let q = match &o.req {
            Request::Range(r) => r.rev.unwrap_or(0),
            Request::Compact(c) => c.rev - 1,
            _ => return false,
        };
        // Placed just before the refusal's point, at the latest its return: what comes after
        // that in every timing (its earliest point is later) must not contradict it.
        let from = self.placed.partition_point(|p| p.t <= o.ret());
        let reached = if from == 0 { 1 } else { self.placed[from - 1].rev };
        let acknowledged = self.placed[from..].iter().map(|p| p.op).filter(|&c| matches!(self.ops[c].req, Request::Compact(_)));
        self.info_compacts.iter().copied().chain(acknowledged).any(|c| {
            let Request::Compact(cr) = &self.ops[c].req else { return false };
            if cr.rev <= q || self.ops[c].invoke > o.ret() || cr.rev > reached {
                return false;
            }
            self.placed[from..].iter().filter(|p| p.op != c).all(|p| match &self.ops[p.op].req {
                Request::Range(r) => r.rev.is_none_or(|x| x == 0 || x >= cr.rev),
                Request::Compact(x) => x.rev > cr.rev,
                _ => true,
            })
        })
    }

    /// A `lease not found` refusal that a revoke of unknown outcome explains: invoked before
    /// the refusal returned, of a lease the refused request names, and no request placed
    /// after it uses that lease.
    fn info_revoke_explains(&self, f: usize) -> bool {
        let o = &self.ops[f];
        let leases: Vec<i64> = match &o.req {
            Request::Revoke(r) => vec![r.lease],
            Request::Txn(t) => t.then.iter().chain(&t.otherwise).filter_map(|x| if let TxnOp::Put(p) = x { p.lease } else { None }).collect(),
            _ => return false,
        };
        let uses = |req: &Request, l: i64| match req {
            Request::Revoke(r) => r.lease == l,
            Request::Txn(t) => t.then.iter().chain(&t.otherwise).any(|x| matches!(x, TxnOp::Put(p) if p.lease == Some(l))),
            _ => false,
        };
        self.unused.iter().any(|&(inv, r)| {
            let Request::Revoke(rv) = &self.ops[r].req else { return false };
            if inv > o.ret() || !leases.contains(&rv.lease) {
                return false;
            }
            let from = self.placed.partition_point(|p| p.t <= o.ret());
            self.placed[from..].iter().all(|p| !uses(&self.ops[p.op].req, rv.lease))
        })
    }

    /// Whether the order still fits in real time with the refusals that delay it put at
    /// their gaps (after `g` placed requests).
    fn delays_fit(&self, delayed: &[(usize, usize)]) -> bool {
        let mut items: Vec<(usize, u8, usize)> = self.placed.iter().enumerate().map(|(k, p)| (k + 1, 1, p.op)).collect();
        items.extend(delayed.iter().map(|&(g, f)| (g, 0, f)));
        // A refusal at gap g comes after the g-th placed request and before the next.
        items.sort_by_key(|&(g, kind, op)| (g, if kind == 1 { 0 } else { 1 }, self.ops[op].invoke));
        let mut t = 0u64;
        for (_, _, op) in items {
            t = t.max(self.ops[op].invoke);
            if t > self.ops[op].ret() {
                return false;
            }
        }
        true
    }

    /// Why a refusal fits nowhere, in words.
    fn refusal_why(&self, f: usize, kind: ErrorKind, g: usize) -> String {
        let o = &self.ops[f];
        let (rev, compact) = if g == 0 { (1, 0) } else { (self.placed[g - 1].rev, self.placed[g - 1].compact) };
        let what = super::model::describe(&o.req);
        match kind {
            ErrorKind::Compacted => format!(
                "etcd refused {what} as compacted, but while it ran (from {} to {}) the store was compacted only up to revision {compact}: no compaction that had taken effect covers it",
                ms(o.invoke),
                ms(o.ret())
            ),
            ErrorKind::FutureRev => format!("etcd refused {what} as a future revision, but the store had reached revision {rev} by the time it ran"),
            ErrorKind::LeaseNotFound => format!("etcd refused {what} with `lease not found`, but the lease existed all the while it ran"),
            ErrorKind::LeaseExists => format!("etcd refused {what}"),
        }
    }

    /// The violation in full, for the report.
    fn violation(&self, f: &Fail) -> Violation {
        let culprit = &self.ops[f.culprit];
        let (from, to) = (culprit.invoke, culprit.ret().min(culprit.invoke.saturating_add(2_000_000_000)));
        // The requests that ran beside it (of unknown outcome only those invoked close by:
        // every one of them overlaps everything after it).
        let beside = |i: usize| {
            let o = &self.ops[i];
            o.invoke <= to && o.ret() >= from && (o.outcome != EntryType::Info || o.invoke.abs_diff(from) < 1_000_000_000)
        };
        let mut near: Vec<usize> = (0..self.ops.len()).filter(|&i| i == f.culprit || Some(i) == f.other || beside(i)).collect();
        near.sort_by_key(|&i| (i != f.culprit && Some(i) != f.other, self.ops[i].invoke.abs_diff(from)));
        near.truncate(12);
        near.sort_by_key(|&i| self.ops[i].invoke);
        let culprit_pos = near.iter().position(|&i| i == f.culprit).unwrap_or(0);
        let other_pos = f.other.and_then(|o| near.iter().position(|&i| i == o));
        Violation {
            culprit: culprit_pos,
            other: other_pos,
            revision: f.revision,
            keys: f.keys.clone(),
            expected: f.expected.clone(),
            got: f.got.clone(),
            why: f.why.clone(),
            ops: near.iter().map(|&i| OpView::of(&self.ops[i])).collect(),
        }
    }
}

/// Reads waiting for their place in a revision: (the last segment allowed, the op).
type Pending = Vec<(usize, usize)>;

/// Every order of a few items.
fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let x = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, x);
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd_api::{CompactReq, DeleteOp, GrantReq, Kv, PutOp, RangeReq, RangeRes, RevokeReq, TxnReq, TxnRes};
    use crate::history::OpKind;

    const MS: u64 = 1_000_000;

    fn op(id: u64, call: u64, ret: Option<u64>, outcome: EntryType, req: Request, res: Option<Response>, error: Option<&str>) -> EtcdOp {
        EtcdOp {
            id,
            client: id as u32,
            f: OpKind::Txn,
            invoke: call * MS,
            complete: ret.map(|r| r * MS),
            outcome,
            req,
            res,
            error: error.map(str::to_string),
            line: 0,
        }
    }
    fn put(k: &str, v: &str) -> Request {
        Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key: k.into(), value: v.into(), lease: None })], ..TxnReq::default() })
    }
    fn put_lease(k: &str, v: &str, l: i64) -> Request {
        Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key: k.into(), value: v.into(), lease: Some(l) })], ..TxnReq::default() })
    }
    fn del(k: &str) -> Request {
        Request::Txn(TxnReq { then: vec![TxnOp::Delete(DeleteOp { key: k.into(), end: None })], ..TxnReq::default() })
    }
    fn get(k: &str, rev: Option<i64>) -> Request {
        Request::Range(RangeReq { key: k.into(), end: None, limit: None, rev, serializable: false })
    }
    fn wrote(rev: i64, deleted: Option<i64>) -> Response {
        let results = vec![match deleted {
            Some(d) => OpRes::Delete { deleted: d },
            None => OpRes::Put {},
        }];
        Response { rev, txn: Some(TxnRes { ok: true, results }), ..Response::default() }
    }
    fn kv(k: &str, v: &str, m: i64, c: i64, ver: i64) -> Kv {
        Kv { key: k.into(), value: v.into(), mod_rev: m, create: c, ver, lease: None }
    }
    fn read(rev: i64, kvs: Vec<Kv>) -> Response {
        let count = kvs.len() as i64;
        Response { rev, range: Some(RangeRes { kvs, count, more: false }), ..Response::default() }
    }
    fn ok(id: u64, call: u64, ret: u64, req: Request, res: Response) -> EtcdOp {
        op(id, call, Some(ret), EntryType::Ok, req, Some(res), None)
    }
    fn info(id: u64, call: u64, req: Request) -> EtcdOp {
        op(id, call, None, EntryType::Info, req, None, Some("timed out"))
    }
    fn verdict(ops: &[EtcdOp]) -> EtcdCheck {
        check(ops, Duration::from_secs(10), &AtomicBool::new(false))
    }

    #[test]
    fn writes_and_reads_at_their_revisions_are_linearizable() {
        let h = vec![
            ok(1, 0, 10, put("a", "1"), wrote(2, None)),
            ok(2, 5, 15, put("b", "2"), wrote(3, None)),
            ok(3, 20, 30, get("a", None), read(3, vec![kv("a", "1", 2, 2, 1)])),
            ok(4, 1, 12, get("b", None), read(2, vec![])),
            ok(5, 21, 31, get("a", Some(1)), read(3, vec![])),
        ];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::Linearizable, "{c:?}");
        assert_eq!(c.stats.revisions, 3);
    }

    #[test]
    fn a_read_at_an_older_revision_after_a_newer_write_finished_is_stale() {
        let h = vec![
            ok(1, 0, 10, put("a", "1"), wrote(2, None)),
            ok(2, 20, 30, put("a", "2"), wrote(3, None)),
            ok(3, 40, 50, get("a", None), read(2, vec![kv("a", "1", 2, 2, 1)])),
        ];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::NotLinearizable, "{c:?}");
        let v = c.violation.unwrap();
        assert_eq!(v.ops[v.culprit].id, 3, "{v:?}");
        assert_eq!(v.other.map(|o| v.ops[o].id), Some(2), "{v:?}");
    }

    #[test]
    fn a_write_of_unknown_outcome_a_read_saw_took_the_revision_it_showed() {
        let h = vec![info(1, 0, put("a", "1")), ok(2, 50, 60, get("a", None), read(2, vec![kv("a", "1", 2, 2, 1)]))];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::Linearizable, "{c:?}");
        assert_eq!((c.stats.unacknowledged, c.stats.named_by_values), (1, 1));
        // Unless it was invoked after the read returned.
        let h = vec![info(1, 70, put("a", "1")), ok(2, 50, 60, get("a", None), read(2, vec![kv("a", "1", 2, 2, 1)]))];
        assert_eq!(verdict(&h).verdict, Verdict::NotLinearizable);
    }

    #[test]
    fn the_search_finds_which_unknown_write_took_an_unseen_revision() {
        // Two deletes of unknown outcome; the read at revision 4 shows b gone and a still
        // there, untouched since revision 2: only "delete b" can have taken revision 4 — and
        // "delete a" is no option at all (no choice is left to search).
        let h = vec![
            ok(1, 0, 5, put("a", "1"), wrote(2, None)),
            ok(2, 6, 9, put("b", "2"), wrote(3, None)),
            info(3, 10, del("b")),
            info(4, 11, del("a")),
            ok(
                5,
                30,
                40,
                Request::Range(RangeReq { key: "a".into(), end: Some("c".into()), limit: None, rev: None, serializable: false }),
                read(4, vec![kv("a", "1", 2, 2, 1)]),
            ),
        ];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::Linearizable, "{c:?}");
        assert_eq!((c.stats.unacknowledged, c.stats.choices), (1, 0));
        // Without that read, both are options, and the search finds the one that fits.
        let mut h = h;
        h[4] = ok(5, 30, 40, get("b", None), read(4, vec![]));
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::Linearizable, "{c:?}");
        assert_eq!(c.stats.choices, 1);
    }

    #[test]
    fn a_revision_nobody_can_have_taken_is_a_violation() {
        let h = vec![ok(1, 0, 5, put("a", "1"), wrote(2, None)), ok(2, 10, 20, get("a", None), read(3, vec![kv("a", "1", 2, 2, 1)]))];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::NotLinearizable, "{c:?}");
        assert!(c.violation.unwrap().why.contains("revision 3 was taken by no operation"));
    }

    #[test]
    fn a_read_below_a_finished_compaction_must_be_refused_and_a_refusal_needs_one() {
        let compact = |n| Request::Compact(CompactReq { rev: n });
        let base = vec![
            ok(1, 0, 5, put("a", "1"), wrote(2, None)),
            ok(2, 6, 9, put("a", "2"), wrote(3, None)),
            ok(3, 10, 12, compact(3), Response { rev: 3, ..Response::default() }),
        ];
        let mut served = base.clone();
        served.push(ok(4, 20, 25, get("a", Some(2)), read(3, vec![kv("a", "1", 2, 2, 1)])));
        assert_eq!(verdict(&served).verdict, Verdict::NotLinearizable);
        let mut refused = base.clone();
        refused.push(op(4, 20, Some(25), EntryType::Fail, get("a", Some(2)), None, Some("compacted")));
        assert_eq!(verdict(&refused).verdict, Verdict::Linearizable);
        // Refused before the compaction was even sent: no point explains it.
        let mut early = base;
        early.push(op(4, 1, Some(4), EntryType::Fail, get("a", Some(2)), None, Some("compacted")));
        let c = verdict(&early);
        assert_eq!(c.verdict, Verdict::NotLinearizable, "{c:?}");
    }

    #[test]
    fn a_compaction_answers_with_the_revision_when_etcd_answered_not_when_it_applied() {
        // Seen on etcd 3.4.23 (scenarios/watch-guarantees.yaml): compact 2 answered at
        // revision 4, compact 3 at revision 3 — both acknowledged, so compact 2 was applied
        // first, and the put of revision 4 came before its answer.
        let compact = |n| Request::Compact(CompactReq { rev: n });
        let h = vec![
            ok(1, 0, 5, put("a", "1"), wrote(2, None)),
            ok(2, 6, 9, put("a", "2"), wrote(3, None)),
            ok(3, 10, 30, compact(2), Response { rev: 4, ..Response::default() }),
            ok(4, 11, 20, compact(3), Response { rev: 3, ..Response::default() }),
            ok(5, 12, 25, put("b", "3"), wrote(4, None)),
        ];
        assert_eq!(verdict(&h).verdict, Verdict::Linearizable);
        // An answer below the store's revision when it was applied is still wrong.
        let mut low = h.clone();
        low[3] = ok(4, 26, 28, compact(3), Response { rev: 3, ..Response::default() });
        assert_eq!(verdict(&low).verdict, Verdict::NotLinearizable);
    }

    #[test]
    fn a_refusal_is_explained_by_an_acknowledged_compaction_applied_before_its_late_answer() {
        // Seen on etcd 3.4.23 (scenarios/snapshot-needed.yaml): compact 3 sent at 10, answered
        // at 30 with the header of revision 5; a read at revision 2 refused as compacted by 20,
        // when the store was at revision 4 — the compaction was applied before its answer.
        let compact = |n| Request::Compact(CompactReq { rev: n });
        let h = vec![
            ok(1, 0, 5, put("a", "1"), wrote(2, None)),
            ok(2, 6, 9, put("a", "2"), wrote(3, None)),
            ok(3, 10, 30, compact(3), Response { rev: 5, ..Response::default() }),
            ok(4, 12, 14, put("b", "1"), wrote(4, None)),
            op(5, 11, Some(20), EntryType::Fail, get("a", Some(2)), None, Some("compacted")),
            ok(6, 22, 24, put("b", "2"), wrote(5, None)),
        ];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::Linearizable, "{c:?}");
        // Not when a read served at revision 2 after the refusal needs it applied later.
        let mut served = h.clone();
        served.push(ok(7, 25, 26, get("a", Some(2)), read(5, vec![kv("a", "1", 2, 2, 1)])));
        assert_ne!(verdict(&served).verdict, Verdict::Linearizable);
    }

    #[test]
    fn a_transaction_applied_halfway_is_caught() {
        let txn = Request::Txn(TxnReq {
            then: vec![
                TxnOp::Put(PutOp { key: "a".into(), value: "1".into(), lease: None }),
                TxnOp::Put(PutOp { key: "b".into(), value: "2".into(), lease: None }),
            ],
            ..TxnReq::default()
        });
        let res = Response { rev: 2, txn: Some(TxnRes { ok: true, results: vec![OpRes::Put {}, OpRes::Put {}] }), ..Response::default() };
        let range = Request::Range(RangeReq { key: "a".into(), end: Some("c".into()), limit: None, rev: None, serializable: false });
        let h = vec![ok(1, 0, 5, txn.clone(), res.clone()), ok(2, 10, 20, range.clone(), read(2, vec![kv("a", "1", 2, 2, 1)]))];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::NotLinearizable, "{c:?}");
        let h = vec![ok(1, 0, 5, txn, res), ok(2, 10, 20, range, read(2, vec![kv("a", "1", 2, 2, 1), kv("b", "2", 2, 2, 1)]))];
        assert_eq!(verdict(&h).verdict, Verdict::Linearizable);
    }

    #[test]
    fn a_key_does_not_outlive_its_revoked_lease() {
        let grant = ok(1, 0, 5, Request::Grant(GrantReq { ttl: 60 }), Response { rev: 1, lease: Some(7), ..Response::default() });
        let attach = ok(2, 6, 9, put_lease("a", "1", 7), wrote(2, None));
        let revoke = ok(3, 10, 12, Request::Revoke(RevokeReq { lease: 7 }), Response { rev: 3, ..Response::default() });
        let mut lives = kv("a", "1", 2, 2, 1);
        lives.lease = Some(7);
        let h = vec![grant.clone(), attach.clone(), revoke.clone(), ok(4, 20, 25, get("a", None), read(3, vec![lives]))];
        assert_eq!(verdict(&h).verdict, Verdict::NotLinearizable);
        let h = vec![grant, attach, revoke, ok(4, 20, 25, get("a", None), read(3, vec![]))];
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::Linearizable, "{c:?}");
    }

    #[test]
    fn a_deleted_key_is_not_read_and_a_conflict_no_choice_bears_on_is_found_at_once() {
        // Many writes of unknown outcome on other keys: the contradiction on `a` does not
        // depend on them, so the search does not go back through their choices.
        let mut h = vec![ok(1, 0, 5, put("a", "1"), wrote(2, None)), ok(2, 6, 9, del("a"), wrote(3, Some(1)))];
        for i in 0..8 {
            h.push(info(10 + i, 10 + i, put(&format!("x{i}"), &format!("v{i}"))));
        }
        // Revisions 4..=11 were taken by the unknown puts (unseen), then the stale read.
        h.push(ok(30, 100, 110, get("a", None), read(11, vec![kv("a", "1", 2, 2, 1)])));
        let c = verdict(&h);
        assert_eq!(c.verdict, Verdict::NotLinearizable, "{c:?}");
        assert!(c.stats.backtracks < 50, "{:?}", c.stats);
    }
}
