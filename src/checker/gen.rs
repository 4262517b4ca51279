//! A generator of register histories (docs/formats.md §2) that are linearizable by construction, for
//! property tests and benchmarks of the checker (`examples/genhist.rs` writes them to a file).
//!
//! It models a `faultline run` of the register workload: `clients` closed-loop client slots,
//! each doing read / write / cas (half reads, a quarter each of writes and cas, as the default
//! mix; both adjustable) on a random key out of `keys`, one operation at a time, with random durations so that
//! operations of different clients overlap. Every operation gets a *linearization point*
//! strictly inside its `[invoke, complete]` window; the results come from running the
//! register model sequentially in the order of those points, so a legal order consistent with
//! real time exists by construction.
//!
//! About `info_pct` % of writes and cas end `info` (outcome unknown): a coin decides whether
//! each actually took effect — at a point inside its window, or (a quarter of them) up to
//! 20 operation lengths after its `info` line, as a write that was applied once a partition
//! healed. The slot then goes on under a new client number, as faultline does. Values are
//! unique decimal strings; a cas asks for the value its slot last saw on the key (a fresh,
//! never-written value when it saw none, as the workload does) and is `fail` with
//! `"error":"compare failed"` when the compare was false.
//!
//! [`Plant`] breaks the history on purpose: one `ok` read in the middle is changed to return
//! a value overwritten long before (a stale read), or a value never written. Both are not
//! linearizable whatever the rest of the history: the stale value's write, `depth` definite
//! overwrites and the read form a chain in real time, and values are never written twice.

use crate::history::{Entry, EntryType, RegisterOp, Value};
use crate::workload::register::COMPARE_FAILED;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// What to break in the generated history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    /// Nothing: the history is linearizable.
    None,
    /// One `ok` read returns a value overwritten by `depth` (≥ 1) chained definite writes
    /// that all completed before the read was invoked.
    StaleRead {
        /// How many real-time-ordered overwrites lie between the stale value and the read.
        depth: usize,
    },
    /// One `ok` read returns a value that no operation ever wrote.
    NeverWritten,
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
    /// Percent of writes and cas whose outcome is unknown (`info`).
    pub info_pct: f64,
    /// Fraction of reads.
    pub read_frac: f64,
    /// Fraction of cas (the rest are writes).
    pub cas_frac: f64,
    /// Shortest and longest operation, ns (an `info` one lasts 2–5 times the longest).
    pub min_ns: u64,
    /// Longest operation, ns.
    pub max_ns: u64,
    /// Write an `info` line for an operation with unknown outcome (as faultline does); when
    /// false the operation never completes in the file.
    pub info_line: bool,
    /// What to break.
    pub plant: Plant,
    /// The seed: the same parameters give the same history.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            ops: 1000,
            clients: 8,
            keys: 4,
            info_pct: 2.0,
            read_frac: 0.5,
            cas_frac: 0.25,
            min_ns: 1_000_000,
            max_ns: 5_000_000,
            info_line: true,
            plant: Plant::None,
            seed: 1,
        }
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
    /// The op id of the read that was changed, if one was.
    pub planted: Option<u64>,
    /// What that read returned originally and what it returns now (`None` = absent).
    pub planted_change: Option<(Option<String>, Option<String>)>,
}

/// One operation while generating.
#[derive(Debug, Clone)]
struct GenOp {
    slot: usize,
    client: u32,
    f: RegisterOp,
    key: u32,
    call: u64,
    ret: u64,
    /// Linearization point (where it takes effect, if it does).
    lp: u64,
    info: bool,
    /// For an `info` operation: whether it took effect.
    took: bool,
    /// Write: the value; cas: `to`.
    value: u64,
    /// Cas: `from` (decided when it is processed).
    from: Option<u64>,
    outcome: EntryType,
    /// Read: what it returned (`None` = absent).
    read: Option<u64>,
}

/// Generate a history.
pub fn generate(p: &Params) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let clients = p.clients.max(1) as usize;
    let keys = p.keys.max(1);
    let (min_ns, max_ns) = (p.min_ns.max(4), p.max_ns.max(p.min_ns.max(4)));
    let mut next_value: u64 = 1;
    let mut fresh = || {
        let v = next_value;
        next_value += 1;
        v
    };

    // 1. Timing: slots in a closed loop, the earliest free slot invokes next.
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = (0..clients).map(|s| Reverse((rng.random_range(0..max_ns), s))).collect();
    let mut client_of: Vec<u32> = (0..clients as u32).collect();
    let mut next_client = clients as u32;
    let mut ops: Vec<GenOp> = Vec::with_capacity(p.ops);
    while ops.len() < p.ops {
        let Reverse((call, slot)) = heap.pop().expect("slots");
        let x: f64 = rng.random();
        let f = if x < p.read_frac {
            RegisterOp::Read
        } else if x < p.read_frac + p.cas_frac {
            RegisterOp::Cas
        } else {
            RegisterOp::Write
        };
        let key = rng.random_range(0..keys);
        let info = f != RegisterOp::Read && rng.random_bool((p.info_pct / 100.0).clamp(0.0, 1.0));
        let dur = if info { rng.random_range(2 * max_ns..=5 * max_ns) } else { rng.random_range(min_ns..=max_ns) };
        let ret = call + dur;
        let took = info && rng.random_bool(0.5);
        let lp = if info && took && rng.random_bool(0.25) { ret + rng.random_range(1..=20 * max_ns) } else { rng.random_range(call + 1..ret) };
        let value = if f == RegisterOp::Read { 0 } else { fresh() };
        ops.push(GenOp { slot, client: client_of[slot], f, key, call, ret, lp, info, took, value, from: None, outcome: EntryType::Ok, read: None });
        if info {
            client_of[slot] = next_client;
            next_client += 1;
        }
        let gap = rng.random_range(0..=max_ns / 8);
        heap.push(Reverse((ret + gap, slot)));
    }

    // 2. Results: the register model, run in the order of the linearization points. A slot's
    // earlier operations all took their points before its next invocation (an info one may
    // take effect later, but its client never learns of it), so what the slot has seen when
    // an operation is processed is what it had seen when it invoked it.
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].lp, i));
    let mut cur: Vec<Option<u64>> = vec![None; keys as usize];
    let mut seen: Vec<HashMap<u32, u64>> = vec![HashMap::new(); clients];
    for &i in &order {
        let op = &mut ops[i];
        let k = op.key as usize;
        let effective = !op.info || op.took;
        match op.f {
            RegisterOp::Read => {
                op.read = cur[k];
                match cur[k] {
                    Some(v) => seen[op.slot].insert(op.key, v),
                    None => seen[op.slot].remove(&op.key),
                };
            }
            RegisterOp::Write => {
                if effective {
                    cur[k] = Some(op.value);
                }
                if !op.info {
                    seen[op.slot].insert(op.key, op.value);
                }
            }
            RegisterOp::Cas => {
                let from = match seen[op.slot].get(&op.key) {
                    Some(&v) => v,
                    None => fresh(),
                };
                op.from = Some(from);
                let matches = cur[k] == Some(from);
                if effective && matches {
                    cur[k] = Some(op.value);
                }
                if !op.info {
                    if matches {
                        seen[op.slot].insert(op.key, op.value);
                    } else {
                        op.outcome = EntryType::Fail;
                        match cur[k] {
                            Some(v) => seen[op.slot].insert(op.key, v),
                            None => seen[op.slot].remove(&op.key),
                        };
                    }
                }
            }
        }
        if op.info {
            op.outcome = EntryType::Info;
        }
    }

    // Op ids in invocation order, as the workload assigns them.
    ops.sort_by_key(|o| o.call);

    // 3. Plant.
    let mut planted = None;
    let mut planted_change = None;
    if let Some((i, v)) = plant(&ops, p.plant, &mut fresh) {
        planted_change = Some((ops[i].read.map(|x| x.to_string()), v.map(|x| x.to_string())));
        ops[i].read = v;
        planted = Some(i as u64);
    }

    // 4. Entries, in time order with t strictly increasing.
    let mut entries: Vec<Entry> = Vec::with_capacity(ops.len() * 2);
    let mut info = 0;
    for (id, op) in ops.iter().enumerate() {
        let input = match op.f {
            RegisterOp::Read => Value::None,
            RegisterOp::Write => Value::One(op.value.to_string()),
            RegisterOp::Cas => Value::Pair(op.from.unwrap_or(0).to_string(), op.value.to_string()),
        };
        let base = Entry {
            kind: EntryType::Invoke,
            id: id as u64,
            client: op.client,
            t: op.call,
            f: op.f.into(),
            key: format!("k{}", op.key),
            value: input.clone(),
            rev: None,
            error: None,
            member: None,
            req: None,
            res: None,
        };
        let mut done = base.clone();
        done.kind = op.outcome;
        done.t = op.ret;
        match (op.outcome, op.f) {
            (EntryType::Ok, RegisterOp::Read) => done.value = op.read.map_or(Value::None, |v| Value::One(v.to_string())),
            (EntryType::Fail, _) => done.error = Some(COMPARE_FAILED.to_string()),
            (EntryType::Info, _) => {
                info += 1;
                done.error = Some("timeout".into());
            }
            _ => {}
        }
        entries.push(base);
        if op.outcome != EntryType::Info || p.info_line {
            entries.push(done);
        }
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
    History { entries, ops: ops.len(), info, planted, planted_change }
}

/// Choose the read to change and its new value: the `ok` read nearest the middle (in
/// invocation order) that has a value to go stale at the depth asked.
fn plant(ops: &[GenOp], plant: Plant, fresh: &mut impl FnMut() -> u64) -> Option<(usize, Option<u64>)> {
    if plant == Plant::None {
        return None;
    }
    // Definite writers per key (ok writes, ok cas), sorted by return.
    let mut writers: HashMap<u32, Vec<(u64, u64, u64)>> = HashMap::new(); // key → (ret, call, value)
    for op in ops {
        if op.outcome == EntryType::Ok && op.f != RegisterOp::Read {
            writers.entry(op.key).or_default().push((op.ret, op.call, op.value));
        }
    }
    for w in writers.values_mut() {
        w.sort_unstable();
    }
    let reads: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].f == RegisterOp::Read && ops[i].outcome == EntryType::Ok).collect();
    if reads.is_empty() {
        return None;
    }
    let mid = reads.len() / 2;
    // Middle first, then alternately later and earlier.
    let candidates = (0..reads.len()).map(|d| if d % 2 == 0 { mid + d / 2 } else { mid.wrapping_sub(d / 2 + 1) }).filter(|&j| j < reads.len());
    for j in candidates {
        let r = &ops[reads[j]];
        match plant {
            Plant::None => return None,
            Plant::NeverWritten => return Some((reads[j], Some(fresh()))),
            Plant::StaleRead { depth } => {
                let Some(w) = writers.get(&r.key) else {
                    continue;
                };
                // Latest writer that returned before `t`.
                let before = |t: u64| -> Option<usize> {
                    let n = w.partition_point(|&(ret, _, _)| ret < t);
                    n.checked_sub(1)
                };
                let mut t = r.call;
                let mut ok = true;
                for _ in 0..depth.max(1) {
                    match before(t) {
                        Some(x) => t = w[x].1,
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    continue;
                }
                if let Some(x) = before(t) {
                    return Some((reads[j], Some(w[x].2)));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_determinism() {
        let p = Params { ops: 500, clients: 6, keys: 3, info_pct: 10.0, seed: 7, ..Params::default() };
        let a = generate(&p);
        let b = generate(&p);
        assert_eq!(a.entries, b.entries);
        assert_eq!(a.ops, 500);
        assert_eq!(a.entries.len(), 1000);
        assert!(a.entries.windows(2).all(|w| w[0].t < w[1].t));
        assert!(a.info > 0);
        // Each client's operations are sequential.
        let mut open: HashMap<u32, u64> = HashMap::new();
        for e in &a.entries {
            if e.kind == EntryType::Invoke {
                assert!(open.insert(e.client, e.id).is_none(), "client {} has two operations open", e.client);
            } else {
                assert_eq!(open.remove(&e.client), Some(e.id));
            }
        }
    }

    #[test]
    fn plants_change_one_read() {
        for plant in [Plant::StaleRead { depth: 3 }, Plant::NeverWritten] {
            let p = Params { ops: 400, clients: 4, keys: 2, plant, seed: 3, ..Params::default() };
            let h = generate(&p);
            let clean = generate(&Params { plant: Plant::None, ..p.clone() });
            let id = h.planted.expect("a read to plant");
            let diff: Vec<(&Entry, &Entry)> = h.entries.iter().zip(&clean.entries).filter(|(a, b)| a != b).collect();
            assert_eq!(diff.len(), 1);
            assert_eq!(diff[0].0.id, id);
            assert_eq!(diff[0].0.f, crate::history::OpKind::Read);
        }
    }
}
