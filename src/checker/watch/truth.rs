//! What happened at each revision, as far as anyone can tell: the history's acknowledged
//! writes first (each fixes what its revision holds), then what the streams delivered.
//!
//! - a register history (`write`/`cas`): an `ok` with `rev` r fixes revision r to its key and
//!   (new) value;
//! - an etcd-API history (docs/formats.md §2.1): an `ok` transaction whose branch changed the
//!   store fixes its response revision r to the branch's puts (key and value) and deletes (a
//!   single key when etcd counted it deleted; a range's keys are not known). A branch of only
//!   deletes that deleted nothing made no revision and fixes nothing. Every put of every
//!   operation is indexed by (key, value) — values are unique — so that an event at a
//!   revision no acknowledged op has can be traced to the (unknown, failed or acknowledged
//!   elsewhere) operation that wrote it. Lease revocations and expiries fix nothing (their
//!   keys are not known): only the streams say what they deleted.

use super::streams::{Event, Stream};
use crate::checker::etcd::{ops_from_entries, EtcdOp};
use crate::etcd_api::{OpRes, Request, TxnOp};
use crate::history::{Entry, EntryType, OpKind, Value};
use std::collections::{BTreeMap, HashMap};

/// A change of one key at one revision (`value` `None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change<'a> {
    pub value: Option<&'a str>,
    pub create_revision: Option<i64>,
    pub version: Option<i64>,
}

impl std::fmt::Display for Change<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.value {
            Some(v) => write!(f, "= \"{v}\""),
            None => write!(f, "deleted"),
        }
    }
}

/// Who says a change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source<'a> {
    /// An acknowledged operation of the history: its id and completion time.
    Op { id: u64, t: u64 },
    /// The first stream (by watcher name) that delivered it.
    Stream(&'a str),
}

impl std::fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Op { id, t } => write!(f, "the acknowledged write (op {id} at {:.2} s)", *t as f64 / 1e9),
            Source::Stream(w) => write!(f, "{w}'s stream"),
        }
    }
}

/// One write an acknowledged operation made at its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Write<'a> {
    Put {
        key: &'a str,
        value: &'a str,
    },
    /// One key, or `[key, end)`.
    Delete {
        key: &'a str,
        end: Option<&'a str>,
    },
}

impl Write<'_> {
    /// The event is this write.
    pub fn is(&self, e: &Event) -> bool {
        match (self, e.value) {
            (Write::Put { key, value }, Some(v)) => *key == e.key && *value == v,
            (Write::Delete { key, end: None }, None) => *key == e.key,
            (Write::Delete { key, end: Some(end) }, None) => *key <= e.key && e.key < *end,
            _ => false,
        }
    }
}

impl std::fmt::Display for Write<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Write::Put { key, value } => write!(f, "{key} = \"{value}\""),
            Write::Delete { key, end: None } => write!(f, "{key} deleted"),
            Write::Delete { key, end: Some(end) } => write!(f, "[{key}, {end}) deleted"),
        }
    }
}

/// What an acknowledged operation fixes at its revision.
#[derive(Debug, Clone)]
pub(super) struct Fixed<'a> {
    pub id: u64,
    pub t: u64,
    pub writes: Vec<Write<'a>>,
}

impl Fixed<'_> {
    pub fn describe(&self) -> String {
        let w: Vec<String> = self.writes.iter().map(ToString::to_string).collect();
        format!("op {} (acknowledged at {:.2} s) wrote {} there", self.id, self.t as f64 / 1e9, w.join(", "))
    }
}

/// The operation that put a (key, value), whatever its outcome.
#[derive(Debug, Clone, Copy)]
pub(super) struct Putter {
    pub id: u64,
    pub outcome: EntryType,
    /// Its response revision (`ok` only).
    pub rev: Option<i64>,
}

/// Everything known of what happened.
#[derive(Debug, Default)]
pub(super) struct Truth<'a> {
    /// Revisions an acknowledged operation fixes.
    pub fixed: BTreeMap<i64, Fixed<'a>>,
    /// Every known change, by key and revision, and who says so.
    pub changes: BTreeMap<&'a str, BTreeMap<i64, (Change<'a>, Source<'a>)>>,
    /// Per revision, the order of its keys in the first stream (by watcher name) that
    /// delivered it, and that stream's watcher.
    pub order: HashMap<i64, (&'a str, Vec<&'a str>)>,
    /// etcd-API histories: every put's operation, by (key, value).
    pub putters: Option<HashMap<(&'a str, &'a str), Putter>>,
}

impl<'a> Truth<'a> {
    /// What the history and every stream say.
    pub fn of(history: &'a [Entry], streams: &BTreeMap<&'a str, Stream<'a>>) -> Truth<'a> {
        let mut t = Truth::default();
        if history.iter().any(|e| e.kind == EntryType::Invoke && e.f.is_etcd()) {
            t.etcd(history);
        } else {
            t.register(history);
        }
        for s in streams.values() {
            for (rev, keys) in s.keys_by_revision() {
                t.order.entry(rev).or_insert((s.watcher, keys));
            }
            for e in &s.events {
                let c = Change { value: e.value, create_revision: e.create_revision, version: e.version };
                t.changes.entry(e.key).or_default().entry(e.revision).or_insert((c, Source::Stream(s.watcher)));
            }
        }
        t
    }

    fn register(&mut self, history: &'a [Entry]) {
        for e in history {
            if e.kind != EntryType::Ok || !matches!(e.f, OpKind::Write | OpKind::Cas) {
                continue;
            }
            let (Some(rev), value) = (e.rev, &e.value) else { continue };
            let value = match value {
                Value::One(v) => v.as_str(),
                Value::Pair(_, to) => to.as_str(),
                Value::None => continue,
            };
            if self.fixed.contains_key(&rev) {
                continue;
            }
            self.fixed.insert(rev, Fixed { id: e.id, t: e.t, writes: vec![Write::Put { key: &e.key, value }] });
            let c = Change { value: Some(value), create_revision: None, version: None };
            self.changes.entry(&e.key).or_default().insert(rev, (c, Source::Op { id: e.id, t: e.t }));
        }
    }

    fn etcd(&mut self, history: &'a [Entry]) {
        // A history the pairing refuses is reported by the linearizability check; here it
        // only says nothing.
        let Ok(ops) = ops_from_entries(history) else { return };
        // The ops borrow from `history` through their requests: index them by position.
        let reqs: HashMap<u64, &'a Entry> = history.iter().filter(|e| e.kind == EntryType::Invoke).map(|e| (e.id, e)).collect();
        let mut putters = HashMap::new();
        for op in &ops {
            let Some(Request::Txn(txn)) = reqs.get(&op.id).and_then(|e| e.req.as_ref()) else { continue };
            let rev = op.res.as_ref().map(|r| r.rev).filter(|_| op.outcome == EntryType::Ok);
            for o in txn.then.iter().chain(&txn.otherwise) {
                if let TxnOp::Put(p) = o {
                    putters.entry((p.key.as_str(), p.value.as_str())).or_insert(Putter { id: op.id, outcome: op.outcome, rev });
                }
            }
            self.fix(op, txn);
        }
        self.putters = Some(putters);
    }

    /// An acknowledged transaction's branch: the writes it made at its revision. A delete
    /// etcd counted as deleting nothing is no write; one it did not count may be.
    fn fix(&mut self, op: &EtcdOp, txn: &'a crate::etcd_api::TxnReq) {
        let (EntryType::Ok, Some(res), Some(done)) = (op.outcome, op.res.as_ref(), op.complete) else { return };
        let Some(result) = res.txn.as_ref() else { return };
        let branch = if result.ok { &txn.then } else { &txn.otherwise };
        let mut writes = Vec::new();
        // The changes certain to be at this revision: (key, value).
        let mut certain = Vec::new();
        for (i, o) in branch.iter().enumerate() {
            let deleted = match result.results.get(i) {
                Some(OpRes::Delete { deleted }) => Some(*deleted),
                _ => None,
            };
            match o {
                TxnOp::Put(p) => {
                    writes.push(Write::Put { key: &p.key, value: &p.value });
                    certain.push((p.key.as_str(), Some(p.value.as_str())));
                }
                TxnOp::Delete(d) if deleted != Some(0) => {
                    writes.push(Write::Delete { key: &d.key, end: d.end.as_deref() });
                    if d.end.is_none() && deleted.is_some() {
                        certain.push((d.key.as_str(), None));
                    }
                }
                TxnOp::Delete(_) | TxnOp::Range(_) => {}
            }
        }
        // No write: the branch made no revision, and its header revision is another's.
        if writes.is_empty() || self.fixed.contains_key(&res.rev) {
            return;
        }
        let source = Source::Op { id: op.id, t: done };
        for (key, value) in certain {
            self.changes.entry(key).or_default().insert(res.rev, (Change { value, create_revision: None, version: None }, source));
        }
        self.fixed.insert(res.rev, Fixed { id: op.id, t: done, writes });
    }

    /// The newest revision below `revision` at which `key` changed, and the change.
    pub fn before(&self, key: &str, revision: i64) -> Option<(i64, &(Change<'a>, Source<'a>))> {
        self.changes.get(key)?.range(..revision).next_back().map(|(r, c)| (*r, c))
    }

    /// The change of `key` at `revision`, when known.
    pub fn at(&self, revision: i64, key: &str) -> Option<&(Change<'a>, Source<'a>)> {
        self.changes.get(key)?.get(&revision)
    }
}
