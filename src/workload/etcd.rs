//! The `etcd` workload: etcd's own API over a key space, recorded request and response in
//! full (docs/formats.md §2.1) for the checker's etcd model — gets (some at a past revision,
//! some below the compaction, which etcd must refuse), ranges over the whole key space with
//! and without a limit, puts, deletes of one key and of a range, transactions that compare a
//! key's value, mod, create revision or version with what the slot last saw and then put and
//! delete on several keys (else read the compared key), lease grants, puts with a lease and
//! revokes, and compactions a few revisions behind the newest one seen.
//!
//! What a slot does next is drawn from its own ChaCha8 stream (the run's seed, the slot),
//! shaped by what the slot has seen (the revisions its compares name). Values are unique
//! (`slot * 10^9 + seq`), so a read names the put it saw. Keys are `k0`..`k{keys-1}` in the
//! history, `prefix` + key in etcd.

use super::slots::{self, Done, Setup, Slot, Turn, Values};
use super::WorkloadReport;
use crate::client::{self, ErrorClass};
use crate::etcd_api::{
    self as api, CmpOp, CmpTarget, CompactReq, Compare, DeleteOp, GrantReq, Kv, OpRes, PutOp, RangeReq, RangeRes, Request, Response, RevokeReq, TxnOp, TxnReq,
    TxnRes,
};
use crate::history::{Entry, EntryType, OpKind, Value};
use crate::scenario::{EtcdMix, ReadMode};
use etcd_client::{Client, DeleteOptions, GetOptions, PutOptions, TxnOpResponse};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// A lease's time to live: longer than any run, so that no lease expires in one (the model
/// has no clock).
pub const LEASE_TTL_S: i64 = 24 * 3600;
/// How far behind the newest revision seen a compaction goes.
const COMPACT_BEHIND: i64 = 40;
/// How far back a read at a past revision looks.
const PAST_WINDOW: i64 = 60;

/// Run the etcd workload (see [`super::run`]).
pub(super) async fn run(setup: Setup<'_>, mix: EtcdMix, seed: u64) -> WorkloadReport {
    let (keys, serializable) = (setup.spec.keys, setup.spec.reads == ReadMode::Serializable);
    slots::run(setup, |slot| EtcdSlot { draw: Draw::new(seed, slot, mix, keys), serializable, seen: Seen::default() }).await
}

/// What a slot has seen of the store: each key as last read or written, the newest revision,
/// the compaction it knows of, and its lease.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    keys: HashMap<String, Kv>,
    rev: i64,
    compacted: i64,
    lease: Option<i64>,
}

impl Seen {
    /// The newest revision seen.
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// The key as last seen (absent: never seen, or seen absent).
    pub fn key(&self, key: &str) -> Option<&Kv> {
        self.keys.get(key)
    }

    /// Learn from an answer to `req`.
    fn learn(&mut self, req: &Request, res: &Response) {
        self.rev = self.rev.max(res.rev);
        match req {
            Request::Range(r) => {
                if let Some(range) = &res.range {
                    self.learn_range(r, range);
                }
            }
            Request::Txn(t) => {
                let Some(txn) = &res.txn else { return };
                let ops = if txn.ok { &t.then } else { &t.otherwise };
                for (op, result) in ops.iter().zip(&txn.results) {
                    match (op, result) {
                        (TxnOp::Range(r), OpRes::Range(range)) => self.learn_range(r, range),
                        (TxnOp::Put(p), OpRes::Put {}) => {
                            let before = self.keys.get(&p.key);
                            let kv = Kv {
                                key: p.key.clone(),
                                value: p.value.clone(),
                                mod_rev: res.rev,
                                create: before.map_or(res.rev, |b| b.create),
                                ver: before.map_or(1, |b| b.ver + 1),
                                lease: p.lease,
                            };
                            self.keys.insert(p.key.clone(), kv);
                        }
                        (TxnOp::Delete(d), OpRes::Delete { .. }) if d.end.is_none() => {
                            self.keys.remove(&d.key);
                        }
                        _ => {}
                    }
                }
            }
            Request::Grant(_) => self.lease = res.lease,
            Request::Revoke(_) => self.lease = None,
            Request::Compact(c) => self.compacted = self.compacted.max(c.rev),
        }
    }

    fn learn_range(&mut self, r: &RangeReq, range: &RangeRes) {
        // Only a read of the present says what a key holds now.
        if r.rev.is_some() {
            return;
        }
        if r.end.is_none() && range.kvs.is_empty() {
            self.keys.remove(&r.key);
        }
        for kv in &range.kvs {
            self.keys.insert(kv.key.clone(), kv.clone());
        }
    }
}

/// The pure, seeded part of a slot: what it asks next, given what it has seen.
#[derive(Debug, Clone)]
pub struct Draw {
    rng: ChaCha8Rng,
    mix: EtcdMix,
    keys: u32,
    values: Values,
}

impl Draw {
    /// The draws of slot `slot` in a run seeded with `seed` (ChaCha8 on stream `slot`).
    pub fn new(seed: u64, slot: u32, mix: EtcdMix, keys: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(slot));
        Self { rng, mix, keys: keys.max(1), values: Values::new(slot) }
    }

    fn key(&mut self) -> String {
        format!("k{}", self.rng.random_range(0..self.keys))
    }

    fn value(&mut self) -> String {
        self.values.fresh()
    }

    /// A past revision to read at: mostly within the window behind the newest seen, now and
    /// then below the compaction the slot knows of (which etcd must refuse).
    fn past(&mut self, seen: &Seen) -> Option<i64> {
        if seen.rev < 2 {
            return None;
        }
        if seen.compacted > 1 && self.rng.random_bool(0.3) {
            return Some(self.rng.random_range(1..seen.compacted));
        }
        Some((seen.rev - self.rng.random_range(0..PAST_WINDOW)).max(1))
    }

    /// The next operation: its kind, its main key and the request.
    pub fn next(&mut self, seen: &Seen, serializable: bool) -> (OpKind, String, Request) {
        let m = self.mix;
        let x: f64 = self.rng.random();
        let mut edge = 0.0;
        let mut pick = |w: f64| {
            edge += w;
            x < edge
        };
        if pick(m.get) {
            let key = self.key();
            let rev = if self.rng.random_bool(0.25) { self.past(seen) } else { None };
            let req = RangeReq { key: key.clone(), end: None, limit: None, rev, serializable };
            (OpKind::Get, key, Request::Range(req))
        } else if pick(m.range) {
            let limit = self.rng.random_bool(0.5).then(|| self.rng.random_range(1..=4));
            let rev = if self.rng.random_bool(0.2) { self.past(seen) } else { None };
            let req = RangeReq { key: "k".into(), end: Some(api::prefix_end("k")), limit, rev, serializable };
            (OpKind::Range, "k".into(), Request::Range(req))
        } else if pick(m.put) {
            let (key, value) = (self.key(), self.value());
            (OpKind::Put, key.clone(), Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key, value, lease: None })], ..Default::default() }))
        } else if pick(m.delete) {
            let key = self.key();
            let end = if self.rng.random_bool(0.2) {
                let other = self.key();
                (other > key).then_some(other)
            } else {
                None
            };
            (OpKind::Delete, key.clone(), Request::Txn(TxnReq { then: vec![TxnOp::Delete(DeleteOp { key, end })], ..Default::default() }))
        } else if pick(m.txn) {
            let key = self.key();
            let target = match seen.keys.get(&key) {
                // Never seen (or seen absent): create it if it is absent, as Kubernetes does.
                None => CmpTarget::Mod { n: 0 },
                Some(kv) => match self.rng.random_range(0..4) {
                    0 => CmpTarget::Value { value: kv.value.clone() },
                    1 => CmpTarget::Mod { n: kv.mod_rev },
                    2 => CmpTarget::Version { n: kv.ver },
                    _ => CmpTarget::Create { n: kv.create },
                },
            };
            let mut then = vec![TxnOp::Put(PutOp { key: key.clone(), value: self.value(), lease: None })];
            let other = self.key();
            if other != key && self.rng.random_bool(0.5) {
                then.push(if self.rng.random_bool(0.5) {
                    TxnOp::Delete(DeleteOp { key: other, end: None })
                } else {
                    TxnOp::Put(PutOp { key: other, value: self.value(), lease: None })
                });
            }
            let otherwise = vec![TxnOp::Range(RangeReq { key: key.clone(), end: None, limit: None, rev: None, serializable: false })];
            (OpKind::Txn, key.clone(), Request::Txn(TxnReq { compare: vec![Compare { key, op: CmpOp::Equal, target }], then, otherwise }))
        } else if pick(m.lease) {
            match seen.lease {
                None => (OpKind::Grant, String::new(), Request::Grant(GrantReq { ttl: LEASE_TTL_S })),
                Some(lease) if self.rng.random_bool(0.65) => {
                    let (key, value) = (self.key(), self.value());
                    (OpKind::Put, key.clone(), Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key, value, lease: Some(lease) })], ..Default::default() }))
                }
                Some(lease) => (OpKind::Revoke, String::new(), Request::Revoke(RevokeReq { lease })),
            }
        } else {
            let rev = (seen.rev - COMPACT_BEHIND).max(1);
            (OpKind::Compact, String::new(), Request::Compact(CompactReq { rev }))
        }
    }
}

/// One etcd-workload client slot.
struct EtcdSlot {
    draw: Draw,
    serializable: bool,
    seen: Seen,
}

impl Slot for EtcdSlot {
    async fn step(&mut self, turn: Turn<'_>) -> Done {
        let (f, key, req) = self.draw.next(&self.seen, self.serializable);
        call(turn, f, key, req, &mut self.seen).await.0
    }
}

/// Send one request of etcd's API as a slot's operation: record its invocation, send it,
/// learn from the answer, record the completion. The response, when etcd answered `ok`.
pub(super) async fn call(turn: Turn<'_>, f: OpKind, key: String, req: Request, seen: &mut Seen) -> (Done, Option<Response>) {
    let Turn { mut conn, process, member, shared } = turn;
    let id = shared.next_id();
    let entry = |kind: EntryType| Entry {
        kind,
        id,
        client: process,
        t: 0,
        f,
        key: key.clone(),
        value: Value::None,
        rev: None,
        error: None,
        member: Some(member.to_string()),
        req: None,
        res: None,
    };
    let mut invoke = entry(EntryType::Invoke);
    invoke.req = Some(req.clone());
    shared.recorder.record(invoke);
    let sent = tokio::time::timeout(shared.op_timeout, execute(&mut conn, &shared.prefix, &req)).await;
    let mut answer = None;
    let (done, reconnect) = match sent {
        Ok(Ok(res)) => {
            seen.learn(&req, &res);
            let mut e = entry(EntryType::Ok);
            e.rev = Some(res.rev);
            e.res = Some(res.clone());
            answer = Some(res);
            (e, false)
        }
        Ok(Err(err)) => {
            let judged = judged_error(&err);
            let how = client::classify_full(&err);
            let mut e = entry(match (judged, how.class, &req) {
                (Some(_), _, _) | (None, ErrorClass::Definite, _) | (None, ErrorClass::Indefinite, Request::Range(_)) => EntryType::Fail,
                (None, ErrorClass::Indefinite, _) => EntryType::Info,
            });
            if judged == Some(api::COMPACTED) {
                if let Request::Compact(c) = &req {
                    seen.compacted = seen.compacted.max(c.rev);
                }
            }
            if judged == Some(api::LEASE_NOT_FOUND) {
                seen.lease = None;
            }
            e.error = Some(judged.map_or(how.message, str::to_string));
            (e, how.reconnect && judged.is_none())
        }
        Err(_elapsed) => {
            let how = client::timeout();
            let mut e = entry(if matches!(req, Request::Range(_)) { EntryType::Fail } else { EntryType::Info });
            e.error = Some(how.message);
            (e, how.reconnect)
        }
    };
    let outcome = done.kind;
    let answered = outcome == EntryType::Ok || done.error.as_deref().is_some_and(|e| [api::COMPACTED, api::FUTURE_REV, api::LEASE_NOT_FOUND].contains(&e));
    shared.recorder.record(done);
    (Done { outcome, answered, reconnect }, answer)
}

/// The refusals the etcd model judges (docs/formats.md §2.1), from etcd's error message.
fn judged_error(err: &etcd_client::Error) -> Option<&'static str> {
    let m = err.to_string();
    if m.contains("required revision has been compacted") {
        Some(api::COMPACTED)
    } else if m.contains("required revision is a future revision") {
        Some(api::FUTURE_REV)
    } else if m.contains("requested lease not found") {
        Some(api::LEASE_NOT_FOUND)
    } else {
        None
    }
}

/// Send `req` (its keys under `prefix` in etcd) and turn the answer into a [`Response`]
/// (keys without the prefix).
async fn execute(conn: &mut Client, prefix: &str, req: &Request) -> Result<Response, etcd_client::Error> {
    let k = |key: &str| format!("{prefix}{key}");
    match req {
        Request::Range(r) => {
            let resp = conn.get(k(&r.key), Some(get_options(prefix, r))).await?;
            Ok(Response { rev: header_rev(resp.header()), range: Some(range_res(prefix, &resp)), ..Default::default() })
        }
        Request::Txn(t) => {
            let txn = etcd_client::Txn::new()
                .when(t.compare.iter().map(|c| compare(prefix, c)).collect::<Vec<_>>())
                .and_then(t.then.iter().map(|o| txn_op(prefix, o)).collect::<Vec<_>>())
                .or_else(t.otherwise.iter().map(|o| txn_op(prefix, o)).collect::<Vec<_>>());
            let resp = conn.txn(txn).await?;
            let results = resp
                .op_responses()
                .into_iter()
                .map(|r| match r {
                    TxnOpResponse::Get(g) => OpRes::Range(range_res(prefix, &g)),
                    TxnOpResponse::Put(_) => OpRes::Put {},
                    TxnOpResponse::Delete(d) => OpRes::Delete { deleted: d.deleted() },
                    // The workload sends no nested transactions.
                    TxnOpResponse::Txn(_) => OpRes::Put {},
                })
                .collect();
            Ok(Response { rev: header_rev(resp.header()), txn: Some(TxnRes { ok: resp.succeeded(), results }), ..Default::default() })
        }
        Request::Grant(g) => {
            let resp = conn.lease_grant(g.ttl, None).await?;
            Ok(Response { rev: header_rev(resp.header()), lease: Some(resp.id()), ..Default::default() })
        }
        Request::Revoke(r) => {
            let resp = conn.lease_revoke(r.lease).await?;
            Ok(Response { rev: header_rev(resp.header()), ..Default::default() })
        }
        Request::Compact(c) => {
            let resp = conn.compact(c.rev, None).await?;
            Ok(Response { rev: header_rev(resp.header()), ..Default::default() })
        }
    }
}

fn header_rev(h: Option<&etcd_client::ResponseHeader>) -> i64 {
    h.map_or(0, |h| h.revision())
}

fn get_options(prefix: &str, r: &RangeReq) -> GetOptions {
    let mut o = GetOptions::new();
    if let Some(end) = &r.end {
        o = o.with_range(format!("{prefix}{end}"));
    }
    if let Some(l) = r.limit {
        o = o.with_limit(l);
    }
    if let Some(rev) = r.rev {
        o = o.with_revision(rev);
    }
    if r.serializable {
        o = o.with_serializable();
    }
    o
}

fn range_res(prefix: &str, resp: &etcd_client::GetResponse) -> RangeRes {
    let kvs = resp
        .kvs()
        .iter()
        .map(|kv| Kv {
            key: String::from_utf8_lossy(kv.key()).strip_prefix(prefix).map(str::to_string).unwrap_or_else(|| String::from_utf8_lossy(kv.key()).into_owned()),
            value: String::from_utf8_lossy(kv.value()).into_owned(),
            mod_rev: kv.mod_revision(),
            create: kv.create_revision(),
            ver: kv.version(),
            lease: (kv.lease() != 0).then_some(kv.lease()),
        })
        .collect();
    RangeRes { kvs, count: resp.count(), more: resp.more() }
}

fn compare(prefix: &str, c: &Compare) -> etcd_client::Compare {
    use etcd_client::CompareOp as O;
    let op = match c.op {
        CmpOp::Equal => O::Equal,
        CmpOp::NotEqual => O::NotEqual,
        CmpOp::Less => O::Less,
        CmpOp::Greater => O::Greater,
    };
    let key = format!("{prefix}{}", c.key);
    match &c.target {
        CmpTarget::Value { value } => etcd_client::Compare::value(key, op, value.as_str()),
        CmpTarget::Mod { n } => etcd_client::Compare::mod_revision(key, op, *n),
        CmpTarget::Create { n } => etcd_client::Compare::create_revision(key, op, *n),
        CmpTarget::Version { n } => etcd_client::Compare::version(key, op, *n),
    }
}

fn txn_op(prefix: &str, o: &TxnOp) -> etcd_client::TxnOp {
    match o {
        TxnOp::Range(r) => etcd_client::TxnOp::get(format!("{prefix}{}", r.key), Some(get_options(prefix, r))),
        TxnOp::Put(p) => etcd_client::TxnOp::put(format!("{prefix}{}", p.key), p.value.as_str(), p.lease.map(|l| PutOptions::new().with_lease(l))),
        TxnOp::Delete(d) => {
            let options = d.end.as_ref().map(|end| DeleteOptions::new().with_range(format!("{prefix}{end}")));
            etcd_client::TxnOp::delete(format!("{prefix}{}", d.key), options)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(seed: u64, slot: u32, n: usize) -> Vec<(OpKind, String, Request)> {
        let mut d = Draw::new(seed, slot, EtcdMix::DEFAULT, 16);
        let mut seen = Seen { rev: 100, compacted: 50, ..Default::default() };
        seen.lease = Some(7);
        (0..n).map(|_| d.next(&seen, false)).collect()
    }

    #[test]
    fn the_same_seed_gives_a_slot_the_same_requests_and_the_mix_is_followed() {
        assert_eq!(draws(42, 3, 300), draws(42, 3, 300));
        assert_ne!(draws(42, 3, 50), draws(42, 4, 50));
        let all = draws(7, 1, 20_000);
        let share = |f: OpKind| all.iter().filter(|(k, _, _)| *k == f).count() as f64 / all.len() as f64;
        assert!((share(OpKind::Get) - 0.2).abs() < 0.02, "{}", share(OpKind::Get));
        assert!((share(OpKind::Txn) - 0.22).abs() < 0.02);
        assert!((share(OpKind::Compact) - 0.03).abs() < 0.01);
        // With a lease, the lease share is puts with it and revokes.
        assert!(share(OpKind::Revoke) > 0.01 && share(OpKind::Grant) == 0.0);
        // Some reads go below the compaction (rev < 50), which etcd must refuse.
        assert!(all.iter().any(|(_, _, r)| matches!(r, Request::Range(RangeReq { rev: Some(v), .. }) if *v < 50)));
        // Every value written is unique.
        let mut values = std::collections::HashSet::new();
        for (_, _, r) in &all {
            if let Request::Txn(t) = r {
                for op in &t.then {
                    if let TxnOp::Put(p) = op {
                        assert!(values.insert(p.value.clone()), "{} written twice", p.value);
                    }
                }
            }
        }
    }

    #[test]
    fn a_txn_compares_with_what_the_slot_saw_and_creates_what_it_never_saw() {
        let mut d = Draw::new(1, 0, EtcdMix { get: 0.0, range: 0.0, put: 0.0, delete: 0.0, txn: 1.0, lease: 0.0, compact: 0.0 }, 1);
        let (_, _, r) = d.next(&Seen::default(), false);
        let Request::Txn(t) = r else { panic!("{r:?}") };
        assert_eq!(t.compare[0].target, CmpTarget::Mod { n: 0 });
        let mut seen = Seen::default();
        seen.keys.insert("k0".into(), Kv { key: "k0".into(), value: "5".into(), mod_rev: 9, create: 3, ver: 2, lease: None });
        for _ in 0..20 {
            let (_, _, r) = d.next(&seen, false);
            let Request::Txn(t) = r else { panic!() };
            assert!(
                matches!(&t.compare[0].target, CmpTarget::Value { value } if value == "5")
                    || [CmpTarget::Mod { n: 9 }, CmpTarget::Version { n: 2 }, CmpTarget::Create { n: 3 }].contains(&t.compare[0].target)
            );
        }
    }
}
