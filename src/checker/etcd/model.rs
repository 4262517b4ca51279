//! The etcd model: etcd 3.4/3.5's key-value store and leases as a sequential specification
//! (docs/formats.md §2.1). A [`State`] is a revisioned map — every key's versions, so a read
//! at a past revision sees the store as it was — with the leases and their keys, the current
//! revision (1 on a new cluster) and the compaction revision (0).
//!
//! [`State::apply`] runs one request in place and returns what etcd answers and an [`Undo`]
//! that puts the state back (the fast checker walks revisions forwards and backwards);
//! [`step`] is the same on a copy (the brute force). Errors are the ones the model judges:
//! `compacted`, `future revision`, `lease not found`; a request that fails leaves the state
//! as it was, as in etcd.
//!
//! The rules, as etcd applies them:
//! - a `txn` evaluates its compares on the current state (a missing key has `mod`, `create`
//!   and `ver` 0, and a `value` compare on it is false whatever the operator), checks that
//!   every lease its branch puts with exists (else `lease not found`, nothing applied), then
//!   runs the branch's ops in order — a range inside it sees the puts and deletes before it —
//!   and, if any op changed a key, takes one new revision for all of them;
//! - a delete of nothing changes nothing and takes no revision;
//! - a `range` reads at `rev` (0 or none: now): above the current revision `future revision`,
//!   below the compaction `compacted`; `count` is every key of the range, `kvs` the first
//!   `limit` of them in byte order, `more` whether `limit` cut them; `res.rev` is the current
//!   revision, whatever revision was read;
//! - `grant` makes a lease (its id is what etcd answered); `revoke` deletes the lease's keys at
//!   one new revision (none if it had none) and the lease; a put with a lease attaches the key
//!   (and detaches it from the lease it had), a put without one detaches it;
//! - `compact` at or below the compaction is `compacted`, above the current revision `future
//!   revision`; it takes no revision.
//!
//! etcd refuses a transaction that puts one key twice or puts and deletes it (`duplicate key`)
//! before it reaches the store; the model applies such a branch in order.

use crate::etcd_api::{CmpOp, CmpTarget, Compare, Kv, OpRes, RangeReq, RangeRes, Request, Response, TxnOp, TxnRes};
use std::collections::{BTreeMap, BTreeSet};

/// One key as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyState {
    /// Its value.
    pub value: String,
    /// The revision of its last modification.
    pub mod_rev: i64,
    /// The revision it was created at.
    pub create: i64,
    /// Puts since its creation.
    pub ver: i64,
    /// Its lease.
    pub lease: Option<i64>,
}

impl KeyState {
    /// As etcd returns it.
    pub fn kv(&self, key: &str) -> Kv {
        Kv { key: key.to_string(), value: self.value.clone(), mod_rev: self.mod_rev, create: self.create, ver: self.ver, lease: self.lease }
    }
}

/// The errors the model judges (docs/formats.md §2.1), and one etcd never answers a grant with
/// when it picks the id itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A read or a compaction below (or, for a compaction, at) the compaction revision.
    Compacted,
    /// A read or a compaction above the current revision.
    FutureRev,
    /// A put with, or a revoke of, a lease that does not exist.
    LeaseNotFound,
    /// A grant answered with the id of a lease that exists.
    LeaseExists,
}

impl ErrorKind {
    /// The `error` of a `fail` line (`etcd_api`'s strings).
    pub fn message(self) -> &'static str {
        match self {
            ErrorKind::Compacted => crate::etcd_api::COMPACTED,
            ErrorKind::FutureRev => crate::etcd_api::FUTURE_REV,
            ErrorKind::LeaseNotFound => crate::etcd_api::LEASE_NOT_FOUND,
            ErrorKind::LeaseExists => "lease already exists",
        }
    }

    /// The judged error a `fail` line names, if it names one.
    pub fn judged(error: &str) -> Option<ErrorKind> {
        [ErrorKind::Compacted, ErrorKind::FutureRev, ErrorKind::LeaseNotFound].into_iter().find(|e| e.message() == error)
    }
}

/// What [`State::apply`] changed, to put it back with [`State::undo`].
#[derive(Debug, Clone, Default)]
pub struct Undo {
    /// Keys that got a new version, in order.
    pushed: Vec<String>,
    /// Leases changed, with what they were (`None`: did not exist).
    leases: Vec<(i64, Option<BTreeSet<String>>)>,
    rev: i64,
    compact: i64,
}

impl Undo {
    /// Whether the request changed a key (and so took a revision).
    pub fn wrote(&self) -> bool {
        !self.pushed.is_empty()
    }

    /// The keys it changed.
    pub fn keys(&self) -> &[String] {
        &self.pushed
    }

    /// The leases it made, changed or removed.
    pub fn leases(&self) -> impl Iterator<Item = i64> + '_ {
        self.leases.iter().map(|(l, _)| *l)
    }
}

/// The store: every key's versions, the leases, the revision, the compaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// Per key, `(revision, the key after it)` in revision order; `None` = deleted.
    keys: BTreeMap<String, Vec<(i64, Option<KeyState>)>>,
    /// Lease id → the keys attached to it.
    leases: BTreeMap<i64, BTreeSet<String>>,
    rev: i64,
    compact: i64,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// Whether `k` is in etcd's range `[key, end)` (`None`: the key alone; `"\0"`: every key from
/// `key` on).
pub fn in_range(k: &str, key: &str, end: Option<&str>) -> bool {
    match end {
        None => k == key,
        Some("\0") => k >= key,
        Some(end) => k >= key && k < end,
    }
}

impl State {
    /// A new cluster: revision 1, nothing in it.
    pub fn new() -> State {
        State { keys: BTreeMap::new(), leases: BTreeMap::new(), rev: 1, compact: 0 }
    }

    /// The current revision.
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// The compaction revision.
    pub fn compact_rev(&self) -> i64 {
        self.compact
    }

    /// Whether a lease exists.
    pub fn has_lease(&self, lease: i64) -> bool {
        self.leases.contains_key(&lease)
    }

    /// The keys attached to a lease (`None`: no such lease).
    pub fn lease_keys(&self, lease: i64) -> Option<&BTreeSet<String>> {
        self.leases.get(&lease)
    }

    /// A key as it was at revision `at` (`None`: absent).
    pub fn get_at(&self, key: &str, at: i64) -> Option<&KeyState> {
        let versions = self.keys.get(key)?;
        let n = versions.partition_point(|(r, _)| *r <= at);
        versions.get(n.checked_sub(1)?)?.1.as_ref()
    }

    /// A key now.
    pub fn get(&self, key: &str) -> Option<&KeyState> {
        self.keys.get(key)?.last()?.1.as_ref()
    }

    /// Every key that ever existed in `[key, end)`, in byte order.
    fn names<'a>(&'a self, key: &'a str, end: Option<&'a str>) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        match end {
            None => Box::new(self.keys.get_key_value(key).map(|(k, _)| k).into_iter()),
            Some("\0") => Box::new(self.keys.range::<str, _>((Included(key), Unbounded)).map(|(k, _)| k)),
            Some(end) if end > key => Box::new(self.keys.range::<str, _>((Included(key), Excluded(end))).map(|(k, _)| k)),
            Some(_) => Box::new(std::iter::empty()),
        }
    }

    /// The keys of `[key, end)` at revision `at`, in byte order.
    pub fn range_at(&self, key: &str, end: Option<&str>, at: i64) -> Vec<Kv> {
        self.names(key, end).filter_map(|k| self.get_at(k, at).map(|s| s.kv(k))).collect()
    }

    /// Run a request. `lease_id` is a grant's lease (what etcd answered); other requests
    /// ignore it. On an error nothing changed.
    pub fn apply(&mut self, req: &Request, lease_id: Option<i64>) -> Result<(Response, Undo), ErrorKind> {
        let mut undo = Undo { rev: self.rev, compact: self.compact, ..Undo::default() };
        match req {
            Request::Range(r) => {
                let range = self.range(r)?;
                Ok((Response { rev: self.rev, range: Some(range), ..Response::default() }, undo))
            }
            Request::Txn(t) => {
                let ok = t.compare.iter().all(|c| self.holds(c));
                let ops = if ok { &t.then } else { &t.otherwise };
                for op in ops {
                    if let TxnOp::Put(p) = op {
                        if let Some(l) = p.lease {
                            if !self.leases.contains_key(&l) {
                                return Err(ErrorKind::LeaseNotFound);
                            }
                        }
                    }
                }
                let new_rev = self.rev + 1;
                // The branch's writes, seen by its own later reads, committed at the end.
                let mut overlay: BTreeMap<String, Option<KeyState>> = BTreeMap::new();
                let mut results = Vec::with_capacity(ops.len());
                for op in ops {
                    match op {
                        TxnOp::Range(r) => results.push(OpRes::Range(self.view_range(&overlay, r))),
                        TxnOp::Put(p) => {
                            let before = overlay.get(&p.key).cloned().unwrap_or_else(|| self.get(&p.key).cloned());
                            let state = KeyState {
                                value: p.value.clone(),
                                mod_rev: new_rev,
                                create: before.as_ref().map_or(new_rev, |b| b.create),
                                ver: before.as_ref().map_or(1, |b| b.ver + 1),
                                lease: p.lease,
                            };
                            overlay.insert(p.key.clone(), Some(state));
                            results.push(OpRes::Put {});
                        }
                        TxnOp::Delete(d) => {
                            let doomed: Vec<String> =
                                self.view_names(&overlay, &d.key, d.end.as_deref()).into_iter().filter(|k| self.view_get(&overlay, k).is_some()).collect();
                            for k in &doomed {
                                overlay.insert(k.clone(), None);
                            }
                            results.push(OpRes::Delete { deleted: doomed.len() as i64 });
                        }
                    }
                }
                // A key deleted that did not exist before the transaction did not change.
                overlay.retain(|k, v| v.is_some() || self.get(k).is_some());
                if !overlay.is_empty() {
                    self.rev = new_rev;
                    for (k, v) in overlay {
                        let old_lease = self.get(&k).and_then(|s| s.lease);
                        let new_lease = v.as_ref().and_then(|s| s.lease);
                        if old_lease != new_lease || v.is_none() {
                            if let Some(l) = old_lease {
                                self.lease_edit(&mut undo, l, |keys| {
                                    keys.remove(&k);
                                });
                            }
                        }
                        if let Some(l) = new_lease {
                            self.lease_edit(&mut undo, l, |keys| {
                                keys.insert(k.clone());
                            });
                        }
                        self.keys.entry(k.clone()).or_default().push((new_rev, v));
                        undo.pushed.push(k);
                    }
                }
                Ok((Response { rev: self.rev, txn: Some(TxnRes { ok, results }), ..Response::default() }, undo))
            }
            Request::Grant(_) => {
                if let Some(l) = lease_id {
                    if self.leases.contains_key(&l) {
                        return Err(ErrorKind::LeaseExists);
                    }
                    undo.leases.push((l, None));
                    self.leases.insert(l, BTreeSet::new());
                }
                Ok((Response { rev: self.rev, lease: lease_id, ..Response::default() }, undo))
            }
            Request::Revoke(r) => {
                let Some(keys) = self.leases.get(&r.lease).cloned() else {
                    return Err(ErrorKind::LeaseNotFound);
                };
                undo.leases.push((r.lease, Some(keys.clone())));
                self.leases.remove(&r.lease);
                if !keys.is_empty() {
                    self.rev += 1;
                    for k in keys {
                        self.keys.entry(k.clone()).or_default().push((self.rev, None));
                        undo.pushed.push(k);
                    }
                }
                Ok((Response { rev: self.rev, ..Response::default() }, undo))
            }
            Request::Compact(c) => {
                if c.rev <= self.compact {
                    return Err(ErrorKind::Compacted);
                }
                if c.rev > self.rev {
                    return Err(ErrorKind::FutureRev);
                }
                self.compact = c.rev;
                Ok((Response { rev: self.rev, ..Response::default() }, undo))
            }
        }
    }

    /// Put back what [`State::apply`] changed (undos in the reverse order of the applies).
    pub fn undo(&mut self, u: Undo) {
        for k in u.pushed.iter().rev() {
            if let Some(v) = self.keys.get_mut(k) {
                v.pop();
                if v.is_empty() {
                    self.keys.remove(k);
                }
            }
        }
        for (l, before) in u.leases.into_iter().rev() {
            match before {
                Some(keys) => {
                    self.leases.insert(l, keys);
                }
                None => {
                    self.leases.remove(&l);
                }
            }
        }
        self.rev = u.rev;
        self.compact = u.compact;
    }

    /// Change a lease's key set, remembering it first (once per apply).
    fn lease_edit(&mut self, undo: &mut Undo, lease: i64, f: impl FnOnce(&mut BTreeSet<String>)) {
        let Some(keys) = self.leases.get_mut(&lease) else { return };
        if !undo.leases.iter().any(|(l, _)| *l == lease) {
            undo.leases.push((lease, Some(keys.clone())));
        }
        f(keys);
    }

    /// A top-level range.
    fn range(&self, r: &RangeReq) -> Result<RangeRes, ErrorKind> {
        let at = match r.rev {
            Some(q) if q > self.rev => return Err(ErrorKind::FutureRev),
            Some(q) if q > 0 => q,
            _ => self.rev,
        };
        if at < self.compact {
            return Err(ErrorKind::Compacted);
        }
        Ok(cut(self.range_at(&r.key, r.end.as_deref(), at), r.limit))
    }

    /// Whether a compare holds now.
    fn holds(&self, c: &Compare) -> bool {
        compare(self.get(&c.key), c)
    }

    fn view_get<'a>(&'a self, overlay: &'a BTreeMap<String, Option<KeyState>>, k: &str) -> Option<&'a KeyState> {
        match overlay.get(k) {
            Some(v) => v.as_ref(),
            None => self.get(k),
        }
    }

    fn view_names(&self, overlay: &BTreeMap<String, Option<KeyState>>, key: &str, end: Option<&str>) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.names(key, end).cloned().collect();
        names.extend(overlay.keys().filter(|k| in_range(k, key, end)).cloned());
        names
    }

    fn view_range(&self, overlay: &BTreeMap<String, Option<KeyState>>, r: &RangeReq) -> RangeRes {
        let kvs = self.view_names(overlay, &r.key, r.end.as_deref()).into_iter().filter_map(|k| self.view_get(overlay, &k).map(|s| s.kv(&k))).collect();
        cut(kvs, r.limit)
    }
}

/// A compare on a key's state (`None`: missing).
pub fn compare(state: Option<&KeyState>, c: &Compare) -> bool {
    use std::cmp::Ordering;
    let ord = match (&c.target, state) {
        // etcd: a value compare on a missing key fails whatever the operator.
        (CmpTarget::Value { .. }, None) => return false,
        (CmpTarget::Value { value }, Some(s)) => s.value.as_bytes().cmp(value.as_bytes()),
        (CmpTarget::Mod { n }, s) => s.map_or(0, |s| s.mod_rev).cmp(n),
        (CmpTarget::Create { n }, s) => s.map_or(0, |s| s.create).cmp(n),
        (CmpTarget::Version { n }, s) => s.map_or(0, |s| s.ver).cmp(n),
    };
    match c.op {
        CmpOp::Equal => ord == Ordering::Equal,
        CmpOp::NotEqual => ord != Ordering::Equal,
        CmpOp::Less => ord == Ordering::Less,
        CmpOp::Greater => ord == Ordering::Greater,
    }
}

/// `count` all, `kvs` cut to `limit` (0 or none: all), `more` when cut.
pub fn cut(mut kvs: Vec<Kv>, limit: Option<i64>) -> RangeRes {
    let count = kvs.len() as i64;
    let mut more = false;
    if let Some(l) = limit.filter(|l| *l > 0) {
        if count > l {
            kvs.truncate(l as usize);
            more = true;
        }
    }
    RangeRes { kvs, count, more }
}

/// Run a request on a copy of the state: etcd's answer and the state after it.
pub fn step(state: &State, req: &Request, lease_id: Option<i64>) -> Result<(Response, State), ErrorKind> {
    let mut s = state.clone();
    let (res, _) = s.apply(req, lease_id)?;
    Ok((res, s))
}

/// A request in words: `put k1=v7`, `txn if k3 mod = 41 then put k3=v7, delete k5 else get k3`,
/// `range k..l limit 2 at rev 5`.
pub fn describe(req: &Request) -> String {
    fn range(r: &RangeReq) -> String {
        let mut s = match &r.end {
            None => format!("get {}", r.key),
            Some(e) => format!("range {}..{}", r.key, e),
        };
        if let Some(l) = r.limit {
            s.push_str(&format!(" limit {l}"));
        }
        if let Some(q) = r.rev {
            s.push_str(&format!(" at rev {q}"));
        }
        if r.serializable {
            s.push_str(" (serializable)");
        }
        s
    }
    fn op(o: &TxnOp) -> String {
        match o {
            TxnOp::Range(r) => range(r),
            TxnOp::Put(p) => match p.lease {
                Some(l) => format!("put {}={} lease {l}", p.key, p.value),
                None => format!("put {}={}", p.key, p.value),
            },
            TxnOp::Delete(d) => match &d.end {
                None => format!("delete {}", d.key),
                Some(e) => format!("delete {}..{}", d.key, e),
            },
        }
    }
    fn cmp(c: &Compare) -> String {
        let op = match c.op {
            CmpOp::Equal => "=",
            CmpOp::NotEqual => "!=",
            CmpOp::Less => "<",
            CmpOp::Greater => ">",
        };
        match &c.target {
            CmpTarget::Value { value } => format!("{} value {op} {value:?}", c.key),
            CmpTarget::Mod { n } => format!("{} mod {op} {n}", c.key),
            CmpTarget::Create { n } => format!("{} create {op} {n}", c.key),
            CmpTarget::Version { n } => format!("{} version {op} {n}", c.key),
        }
    }
    let list = |ops: &[TxnOp]| ops.iter().map(op).collect::<Vec<_>>().join(", ");
    match req {
        Request::Range(r) => range(r),
        Request::Txn(t) if t.compare.is_empty() && t.otherwise.is_empty() => list(&t.then),
        Request::Txn(t) => {
            let mut s = format!("txn if {}", t.compare.iter().map(cmp).collect::<Vec<_>>().join(" and "));
            if !t.then.is_empty() {
                s.push_str(&format!(" then {}", list(&t.then)));
            }
            if !t.otherwise.is_empty() {
                s.push_str(&format!(" else {}", list(&t.otherwise)));
            }
            s
        }
        Request::Grant(g) => format!("grant (ttl {} s)", g.ttl),
        Request::Revoke(r) => format!("revoke lease {}", r.lease),
        Request::Compact(c) => format!("compact {}", c.rev),
    }
}

/// A key in words: `k1="v7" (mod 8, create 3, ver 2)`.
pub fn describe_kv(kv: &Kv) -> String {
    let lease = kv.lease.map(|l| format!(", lease {l}")).unwrap_or_default();
    format!("{}={:?} (mod {}, create {}, ver {}{lease})", kv.key, kv.value, kv.mod_rev, kv.create, kv.ver)
}

/// A range result in words.
pub fn describe_range(r: &RangeRes) -> String {
    let kvs = if r.kvs.is_empty() { "nothing".to_string() } else { r.kvs.iter().map(describe_kv).collect::<Vec<_>>().join(", ") };
    format!("{kvs}; count {}{}", r.count, if r.more { ", more" } else { "" })
}

/// A response in words: `rev 9: k1="v7" (mod 8, ...); count 1`, `rev 57: txn ok: put, deleted 1`.
pub fn describe_response(res: &Response) -> String {
    let mut s = format!("rev {}", res.rev);
    if let Some(r) = &res.range {
        s.push_str(&format!(": {}", describe_range(r)));
    }
    if let Some(t) = &res.txn {
        let results: Vec<String> = t
            .results
            .iter()
            .map(|r| match r {
                OpRes::Range(r) => format!("[{}]", describe_range(r)),
                OpRes::Put {} => "put".to_string(),
                OpRes::Delete { deleted } => format!("deleted {deleted}"),
            })
            .collect();
        s.push_str(&format!(
            ": txn {}{}",
            if t.ok { "then" } else { "else" },
            if results.is_empty() { String::new() } else { format!(": {}", results.join(", ")) }
        ));
    }
    if let Some(l) = res.lease {
        s.push_str(&format!(": lease {l}"));
    }
    s
}

/// Where two responses differ, in words ("expected …, etcd said …"), the first difference.
pub fn difference(expected: &Response, got: &Response) -> String {
    if let (Some(a), Some(b)) = (&expected.range, &got.range) {
        if let Some(d) = range_difference(a, b) {
            return d;
        }
    }
    if let (Some(a), Some(b)) = (&expected.txn, &got.txn) {
        if a.ok != b.ok {
            return format!(
                "the model's compares {} (the {} branch), etcd ran the {} branch",
                if a.ok { "hold" } else { "fail" },
                if a.ok { "then" } else { "else" },
                if b.ok { "then" } else { "else" }
            );
        }
        for (i, (x, y)) in a.results.iter().zip(&b.results).enumerate() {
            let d = match (x, y) {
                (OpRes::Range(x), OpRes::Range(y)) => range_difference(x, y),
                (x, y) if x != y => Some(format!("the model gives {x:?}, etcd {y:?}")),
                _ => None,
            };
            if let Some(d) = d {
                return format!("op {} of the branch: {d}", i + 1);
            }
        }
    }
    if expected.rev != got.rev {
        return format!("the model answers at revision {}, etcd at revision {}", expected.rev, got.rev);
    }
    format!("the model answers {}, etcd {}", describe_response(expected), describe_response(got))
}

fn range_difference(a: &RangeRes, b: &RangeRes) -> Option<String> {
    let len = a.kvs.len().max(b.kvs.len());
    for i in 0..len {
        match (a.kvs.get(i), b.kvs.get(i)) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) if x.key == y.key => return Some(format!("the model has {}, etcd returned {}", describe_kv(x), describe_kv(y))),
            (Some(x), Some(y)) if x.key < y.key => return Some(format!("the model has {}, which etcd did not return", describe_kv(x))),
            (Some(_), Some(y)) | (None, Some(y)) => return Some(format!("etcd returned {}, which the model does not have", describe_kv(y))),
            (Some(x), None) => return Some(format!("the model has {}, which etcd did not return", describe_kv(x))),
            (None, None) => break,
        }
    }
    if a.count != b.count {
        return Some(format!("the model counts {} key(s), etcd {}", a.count, b.count));
    }
    if a.more != b.more {
        return Some(format!("the model says more={}, etcd more={}", a.more, b.more));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd_api::{CompactReq, DeleteOp, GrantReq, PutOp, RevokeReq, TxnReq};

    fn put(k: &str, v: &str) -> Request {
        Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key: k.into(), value: v.into(), lease: None })], ..TxnReq::default() })
    }
    fn put_lease(k: &str, v: &str, l: i64) -> Request {
        Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key: k.into(), value: v.into(), lease: Some(l) })], ..TxnReq::default() })
    }
    fn del(k: &str, end: Option<&str>) -> Request {
        Request::Txn(TxnReq { then: vec![TxnOp::Delete(DeleteOp { key: k.into(), end: end.map(str::to_string) })], ..TxnReq::default() })
    }
    fn rng(k: &str, end: Option<&str>, limit: Option<i64>, rev: Option<i64>) -> Request {
        Request::Range(RangeReq { key: k.into(), end: end.map(str::to_string), limit, rev, serializable: false })
    }
    fn run(s: &mut State, r: &Request) -> Response {
        s.apply(r, None).unwrap().0
    }
    fn kvs(res: &Response) -> Vec<(String, String, i64, i64, i64)> {
        res.range.as_ref().unwrap().kvs.iter().map(|k| (k.key.clone(), k.value.clone(), k.mod_rev, k.create, k.ver)).collect()
    }

    #[test]
    fn puts_take_a_revision_each_and_count_versions() {
        let mut s = State::new();
        assert_eq!(run(&mut s, &put("a", "1")).rev, 2);
        assert_eq!(run(&mut s, &put("a", "2")).rev, 3);
        assert_eq!(run(&mut s, &put("b", "3")).rev, 4);
        let r = run(&mut s, &rng("a", Some("c"), None, None));
        assert_eq!(r.rev, 4);
        assert_eq!(kvs(&r), vec![("a".into(), "2".into(), 3, 2, 2), ("b".into(), "3".into(), 4, 4, 1)]);
    }

    #[test]
    fn a_delete_of_nothing_takes_no_revision_and_a_delete_resets_the_version() {
        let mut s = State::new();
        run(&mut s, &put("a", "1"));
        let r = run(&mut s, &del("x", None));
        assert_eq!(r.rev, 2);
        assert_eq!(r.txn.unwrap().results, vec![OpRes::Delete { deleted: 0 }]);
        let r = run(&mut s, &del("a", Some("z")));
        assert_eq!((r.rev, r.txn.unwrap().results), (3, vec![OpRes::Delete { deleted: 1 }]));
        run(&mut s, &put("a", "2"));
        assert_eq!(kvs(&run(&mut s, &rng("a", None, None, None))), vec![("a".into(), "2".into(), 4, 4, 1)]);
    }

    #[test]
    fn a_txn_with_several_puts_takes_one_revision_and_its_reads_see_its_writes() {
        let mut s = State::new();
        let t = Request::Txn(TxnReq {
            compare: vec![Compare { key: "a".into(), op: CmpOp::Equal, target: CmpTarget::Mod { n: 0 } }],
            then: vec![
                TxnOp::Put(PutOp { key: "a".into(), value: "1".into(), lease: None }),
                TxnOp::Put(PutOp { key: "b".into(), value: "2".into(), lease: None }),
                TxnOp::Range(RangeReq { key: "a".into(), end: Some("c".into()), limit: None, rev: None, serializable: false }),
            ],
            otherwise: vec![],
        });
        let r = run(&mut s, &t);
        assert_eq!(r.rev, 2);
        let txn = r.txn.unwrap();
        assert!(txn.ok);
        let OpRes::Range(seen) = &txn.results[2] else { panic!() };
        assert_eq!(seen.count, 2);
        assert!(seen.kvs.iter().all(|k| k.mod_rev == 2 && k.create == 2 && k.ver == 1));
        // The same compare now fails: the else branch (empty) runs, no revision.
        let r = run(&mut s, &t);
        assert_eq!((r.rev, r.txn.unwrap().ok), (2, false));
    }

    #[test]
    fn compares_on_a_missing_key_see_zeros_and_a_value_compare_is_false() {
        let s = State::new();
        let c = |op, target| compare(s.get("nope"), &Compare { key: "nope".into(), op, target });
        assert!(c(CmpOp::Equal, CmpTarget::Mod { n: 0 }));
        assert!(c(CmpOp::Equal, CmpTarget::Version { n: 0 }));
        assert!(c(CmpOp::Less, CmpTarget::Create { n: 1 }));
        for op in [CmpOp::Equal, CmpOp::NotEqual, CmpOp::Less, CmpOp::Greater] {
            assert!(!c(op, CmpTarget::Value { value: String::new() }));
            assert!(!c(op, CmpTarget::Value { value: "x".into() }));
        }
    }

    #[test]
    fn ranges_with_limit_count_all_and_say_more() {
        let mut s = State::new();
        for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
            run(&mut s, &put(k, v));
        }
        let r = run(&mut s, &rng("a", Some("z"), Some(2), None)).range.unwrap();
        assert_eq!((r.kvs.len(), r.count, r.more), (2, 3, true));
        let r = run(&mut s, &rng("a", Some("z"), Some(3), None)).range.unwrap();
        assert_eq!((r.kvs.len(), r.count, r.more), (3, 3, false));
        let r = run(&mut s, &rng("b", Some("\0"), None, None)).range.unwrap();
        assert_eq!(r.count, 2);
        let r = run(&mut s, &rng("c", Some("a"), None, None)).range.unwrap();
        assert_eq!(r.count, 0);
    }

    #[test]
    fn a_revoke_deletes_its_keys_at_one_revision_and_a_put_with_a_revoked_lease_fails() {
        let mut s = State::new();
        let g = Request::Grant(GrantReq { ttl: 60 });
        assert_eq!(s.apply(&g, Some(7)).unwrap().0.lease, Some(7));
        assert_eq!(s.apply(&g, Some(7)).unwrap_err(), ErrorKind::LeaseExists);
        run(&mut s, &put_lease("a", "1", 7));
        run(&mut s, &put_lease("b", "2", 7));
        run(&mut s, &put("c", "3"));
        // A put without the lease detaches b.
        run(&mut s, &put("b", "4"));
        assert_eq!(s.lease_keys(7).unwrap().len(), 1);
        run(&mut s, &put_lease("b", "5", 7));
        assert_eq!(s.rev(), 6);
        let r = run(&mut s, &Request::Revoke(RevokeReq { lease: 7 }));
        assert_eq!(r.rev, 7);
        assert_eq!(s.get("a"), None);
        assert_eq!(s.get("b"), None);
        assert!(s.get("c").is_some());
        assert_eq!(s.apply(&put_lease("a", "6", 7), None).unwrap_err(), ErrorKind::LeaseNotFound);
        assert_eq!(s.apply(&Request::Revoke(RevokeReq { lease: 7 }), None).unwrap_err(), ErrorKind::LeaseNotFound);
        // A lease without keys is revoked without a revision.
        s.apply(&g, Some(9)).unwrap();
        assert_eq!(run(&mut s, &Request::Revoke(RevokeReq { lease: 9 })).rev, 7);
        // A txn whose branch puts with a missing lease fails entirely.
        let t = Request::Txn(TxnReq {
            then: vec![
                TxnOp::Put(PutOp { key: "z".into(), value: "9".into(), lease: None }),
                TxnOp::Put(PutOp { key: "y".into(), value: "8".into(), lease: Some(7) }),
            ],
            ..TxnReq::default()
        });
        assert_eq!(s.apply(&t, None).unwrap_err(), ErrorKind::LeaseNotFound);
        assert_eq!((s.rev(), s.get("z")), (7, None));
    }

    #[test]
    fn compacted_and_future_revision_reads_and_compactions() {
        let mut s = State::new();
        for i in 0..5 {
            run(&mut s, &put("a", &i.to_string()));
        }
        // Revision 6 now; a at rev 3 held "1".
        assert_eq!(kvs(&run(&mut s, &rng("a", None, None, Some(3))))[0].1, "1");
        assert_eq!(run(&mut s, &rng("a", None, None, Some(3))).rev, 6);
        assert_eq!(s.apply(&rng("a", None, None, Some(7)), None).unwrap_err(), ErrorKind::FutureRev);
        let c = |n| Request::Compact(CompactReq { rev: n });
        assert_eq!(s.apply(&c(7), None).unwrap_err(), ErrorKind::FutureRev);
        assert_eq!(run(&mut s, &c(4)).rev, 6);
        assert_eq!(s.apply(&c(4), None).unwrap_err(), ErrorKind::Compacted);
        assert_eq!(s.apply(&c(3), None).unwrap_err(), ErrorKind::Compacted);
        assert_eq!(s.apply(&rng("a", None, None, Some(3)), None).unwrap_err(), ErrorKind::Compacted);
        // At the compaction itself, and above, reads still work.
        assert_eq!(kvs(&run(&mut s, &rng("a", None, None, Some(4))))[0].1, "2");
        assert!(s.apply(&rng("a", None, None, Some(6)), None).is_ok());
        // A current read is never compacted.
        assert!(s.apply(&rng("a", None, None, None), None).is_ok());
    }

    #[test]
    fn undo_puts_every_change_back() {
        let mut s = State::new();
        s.apply(&Request::Grant(GrantReq { ttl: 60 }), Some(3)).unwrap();
        run(&mut s, &put_lease("a", "1", 3));
        let before = s.clone();
        let mut undos = Vec::new();
        for r in [put("a", "2"), del("a", None), put_lease("b", "3", 3), Request::Revoke(RevokeReq { lease: 3 }), Request::Compact(CompactReq { rev: 2 })] {
            undos.push(s.apply(&r, None).unwrap().1);
        }
        assert_ne!(s, before);
        for u in undos.into_iter().rev() {
            s.undo(u);
        }
        assert_eq!(s, before);
    }

    #[test]
    fn descriptions_read_like_the_requests() {
        assert_eq!(describe(&put("a", "1")), "put a=1");
        assert_eq!(describe(&rng("k", Some("l"), Some(2), Some(5))), "range k..l limit 2 at rev 5");
        let t = Request::Txn(TxnReq {
            compare: vec![Compare { key: "a".into(), op: CmpOp::Equal, target: CmpTarget::Mod { n: 4 } }],
            then: vec![TxnOp::Put(PutOp { key: "a".into(), value: "1".into(), lease: None })],
            otherwise: vec![TxnOp::Range(RangeReq { key: "a".into(), end: None, limit: None, rev: None, serializable: false })],
        });
        assert_eq!(describe(&t), "txn if a mod = 4 then put a=1 else get a");
    }
}
