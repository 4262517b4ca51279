//! The operation history (docs/formats.md §2): typed operations, the streaming `history.jsonl`
//! writer, and a reader for finished runs.
//!
//! Every client operation is two entries: an `invoke`, then exactly one completion (`ok`,
//! `fail` or `info`) with the same `id`. `t` is nanoseconds on the run's monotonic clock.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What kind of entry a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    /// The operation was sent.
    Invoke,
    /// It took effect.
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// Unknown: it may take effect at any time after its invocation, or never.
    Info,
}

/// The operation (`f`): the register workload's three, then the `etcd` workload's
/// (docs/formats.md §2.1), whose request and response are in the entry's `req` and `res`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Linearizable (or serializable) range of one key.
    Read,
    /// Put.
    Write,
    /// Txn: compare value == from, then put to.
    Cas,
    /// etcd: a range of one key.
    Get,
    /// etcd: a range of keys (a prefix, maybe with a limit or at a past revision).
    Range,
    /// etcd: a put (a transaction with no compare).
    Put,
    /// etcd: a delete of a key or a range (a transaction with no compare).
    Delete,
    /// etcd: a transaction with compares.
    Txn,
    /// etcd: a lease grant.
    Grant,
    /// etcd: a lease revoke.
    Revoke,
    /// etcd: a compaction.
    Compact,
}

impl OpKind {
    /// The register kinds, in report order (the summary's latency rows).
    pub const ALL: [OpKind; 3] = [OpKind::Read, OpKind::Write, OpKind::Cas];

    /// The kind's name as in the history.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::Cas => "cas",
            OpKind::Get => "get",
            OpKind::Range => "range",
            OpKind::Put => "put",
            OpKind::Delete => "delete",
            OpKind::Txn => "txn",
            OpKind::Grant => "grant",
            OpKind::Revoke => "revoke",
            OpKind::Compact => "compact",
        }
    }

    /// The summary's latency row it counts in: reads (read, get, range), writes (write, put,
    /// delete), compare-and-sets (cas, txn); lease and compaction calls only in `all`.
    pub fn row(self) -> Option<OpKind> {
        match self {
            OpKind::Read | OpKind::Get | OpKind::Range => Some(OpKind::Read),
            OpKind::Write | OpKind::Put | OpKind::Delete => Some(OpKind::Write),
            OpKind::Cas | OpKind::Txn => Some(OpKind::Cas),
            OpKind::Grant | OpKind::Revoke | OpKind::Compact => None,
        }
    }

    /// Whether it is one of the `etcd` workload's (with `req` and `res`).
    pub fn is_etcd(self) -> bool {
        !matches!(self, OpKind::Read | OpKind::Write | OpKind::Cas)
    }
}

/// The register workload's operations: the first three kinds of `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegisterOp {
    /// A range of one key.
    Read,
    /// A put.
    Write,
    /// A compare-and-set transaction.
    Cas,
}

impl From<RegisterOp> for OpKind {
    fn from(r: RegisterOp) -> OpKind {
        match r {
            RegisterOp::Read => OpKind::Read,
            RegisterOp::Write => OpKind::Write,
            RegisterOp::Cas => OpKind::Cas,
        }
    }
}

/// An operation's value: `null`, a string, or `[from, to]` for a cas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// No value: a read's invocation, or a read of an absent key.
    #[default]
    None,
    /// A read's result or a write's value.
    One(String),
    /// A cas's `[from, to]`.
    Pair(String, String),
}

// By hand rather than `#[serde(untagged)]`, which buffers every value first: reading a
// history of a million operations is twice as fast this way.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("null, a string, or [from, to]")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::None)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::None)
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::One(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::One(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                use serde::de::Error;
                let from: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let to: String = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(Value::Pair(from, to))
            }
        }
        d.deserialize_any(V)
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// invoke / ok / fail / info.
    #[serde(rename = "type")]
    pub kind: EntryType,
    /// Operation id, shared by an invocation and its completion.
    pub id: u64,
    /// Logical client (process); a client that got `info` continues under a new number.
    pub client: u32,
    /// Nanoseconds since the run started (monotonic).
    pub t: u64,
    /// The operation.
    pub f: OpKind,
    /// The key.
    pub key: String,
    /// The value (see [`Value`]).
    #[serde(default)]
    pub value: Value,
    /// etcd revision of the response header.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rev: Option<i64>,
    /// Why it failed or is unknown.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The member the client was connected to (an extension of docs/formats.md §2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub member: Option<String>,
    /// `etcd` workload, on the invocation: what was asked (docs/formats.md §2.1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub req: Option<crate::etcd_api::Request>,
    /// `etcd` workload, on an `ok` completion: what etcd answered.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub res: Option<crate::etcd_api::Response>,
}

/// Streams history records to their file (see [`crate::jsonl::Writer`]).
pub type HistoryWriter = crate::jsonl::Writer<Entry>;

/// Read a `history.jsonl`; a malformed line is reported as `file:line: what was expected`.
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    crate::jsonl::read(path, "a history entry (docs/formats.md §2)")
}

/// An operation with its invocation and completion paired up.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// Operation id.
    pub id: u64,
    /// Logical client.
    pub client: u32,
    /// The operation.
    pub f: OpKind,
    /// The key.
    pub key: String,
    /// Invocation time, ns.
    pub invoke_t: u64,
    /// Completion time, ns; `None` when the history ended first (treated as `info`).
    pub complete_t: Option<u64>,
    /// ok / fail / info (an unfinished operation is `info`).
    pub outcome: EntryType,
    /// The invocation's value.
    pub input: Value,
    /// The completion's value.
    pub output: Value,
    /// Revision of the response, when ok.
    pub rev: Option<i64>,
    /// `etcd` workload: the request (from the invocation).
    pub req: Option<crate::etcd_api::Request>,
    /// `etcd` workload: the response (from an `ok` completion).
    pub res: Option<crate::etcd_api::Response>,
    /// Why it failed or is unknown (from the completion).
    pub error: Option<String>,
}

impl Op {
    /// Latency in nanoseconds, for completed operations.
    pub fn latency_ns(&self) -> Option<u64> {
        self.complete_t.map(|c| c.saturating_sub(self.invoke_t))
    }
}

/// Pair invocations with completions, in invocation order.
pub fn pair(entries: &[Entry]) -> Vec<Op> {
    use std::collections::HashMap;
    let mut open: HashMap<u64, usize> = HashMap::new();
    let mut ops: Vec<Op> = Vec::new();
    for e in entries {
        match e.kind {
            EntryType::Invoke => {
                open.insert(e.id, ops.len());
                ops.push(Op {
                    id: e.id,
                    client: e.client,
                    f: e.f,
                    key: e.key.clone(),
                    invoke_t: e.t,
                    complete_t: None,
                    outcome: EntryType::Info,
                    input: e.value.clone(),
                    output: Value::None,
                    rev: None,
                    req: e.req.clone(),
                    res: None,
                    error: None,
                });
            }
            kind => {
                if let Some(i) = open.remove(&e.id) {
                    let op = &mut ops[i];
                    op.complete_t = Some(e.t);
                    op.outcome = kind;
                    op.output = e.value.clone();
                    op.rev = e.rev;
                    op.res = e.res.clone();
                    op.error = e.error.clone();
                }
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_in_the_design_format() {
        let lines = [
            r#"{"type":"invoke","id":17,"client":3,"t":1534000123,"f":"cas","key":"k7","value":["3","5"]}"#,
            r#"{"type":"ok","id":17,"client":3,"t":1535100456,"f":"cas","key":"k7","value":["3","5"],"rev":88}"#,
            r#"{"type":"invoke","id":18,"client":4,"t":1536000000,"f":"read","key":"k2","value":null}"#,
            r#"{"type":"ok","id":18,"client":4,"t":1536900000,"f":"read","key":"k2","value":"9","rev":90}"#,
            r#"{"type":"info","id":20,"client":6,"t":1538000000,"f":"write","key":"k3","value":"1","error":"timeout"}"#,
        ];
        for l in lines {
            let e: Entry = serde_json::from_str(l).unwrap();
            assert_eq!(serde_json::to_string(&e).unwrap(), l);
        }
        let entries: Vec<Entry> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let ops = pair(&entries);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].latency_ns(), Some(1535100456 - 1534000123));
        assert_eq!(ops[1].output, Value::One("9".into()));
    }
}

/// The run's monotonic clock: `t` of every history entry and event.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Self { start: std::time::Instant::now() }
    }

    /// Nanoseconds since zero.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// The instant of zero.
    pub fn zero(&self) -> std::time::Instant {
        self.start
    }
}
