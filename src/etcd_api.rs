//! etcd's KV and lease API as the `etcd` workload sends it and `history.jsonl` records it
//! (docs/formats.md §2.1): one [`Request`] on an operation's invocation, one [`Response`] on
//! its `ok` completion. The shapes follow etcd's own protobuf messages (`RangeRequest`,
//! `TxnRequest`, `Compare`, `KeyValue`, ...) cut down to what the checker's etcd model needs:
//! every key's value, `mod`/`create` revisions, version and lease, and every response's
//! header revision. A put and a delete are transactions with no compare (as etcd's own
//! robustness model has them); a plain get is a range of one key.

use serde::{Deserialize, Serialize};

/// What an operation asked of etcd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Request {
    /// A read: one key, or `[key, end)`.
    Range(RangeReq),
    /// Compares, then the `then` ops if all hold, else the `else` ops — atomically, at one
    /// revision.
    Txn(TxnReq),
    /// Grant a lease.
    Grant(GrantReq),
    /// Revoke a lease: the keys attached to it are deleted (at one new revision, if any).
    Revoke(RevokeReq),
    /// Compact the key-value history up to `rev`.
    Compact(CompactReq),
}

/// A range read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeReq {
    /// The key, or the range's first key.
    pub key: String,
    /// The range's end, exclusive (`None`: the key alone). A prefix `p` is `[p, p+1)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// At most this many keys (in key order); `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Read the store as it was at this revision; `None`: the current one. Below the
    /// compaction etcd refuses it (`compacted`), above the current one too (`future revision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i64>,
    /// Served from the member's local state without a quorum check (may be stale).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub serializable: bool,
}

/// A transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnReq {
    /// The compares; all must hold for `then` (none: `then` always).
    #[serde(rename = "if", default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<Compare>,
    /// The ops when every compare holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<TxnOp>,
    /// The ops otherwise.
    #[serde(rename = "else", default, skip_serializing_if = "Vec::is_empty")]
    pub otherwise: Vec<TxnOp>,
}

/// One compare of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The key compared.
    pub key: String,
    /// `=`, `!=`, `<`, `>`.
    pub op: CmpOp,
    /// What is compared, and with what.
    #[serde(flatten)]
    pub target: CmpTarget,
}

/// A compare's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// Equal.
    #[serde(rename = "=")]
    Equal,
    /// Not equal.
    #[serde(rename = "!=")]
    NotEqual,
    /// Less.
    #[serde(rename = "<")]
    Less,
    /// Greater.
    #[serde(rename = ">")]
    Greater,
}

/// What a compare looks at. A key that does not exist has revisions and version 0, and a
/// compare of its value is false whatever the operator (etcd's rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "lowercase")]
pub enum CmpTarget {
    /// The value, compared as bytes.
    Value {
        /// The value compared with.
        value: String,
    },
    /// The revision of the key's last modification.
    Mod {
        /// The revision compared with.
        n: i64,
    },
    /// The revision the key was created at.
    Create {
        /// The revision compared with.
        n: i64,
    },
    /// How many times the key was put since its creation.
    Version {
        /// The version compared with.
        n: i64,
    },
}

/// One op inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxnOp {
    /// Read (at the transaction's revision; never with `rev`).
    Range(RangeReq),
    /// Write a value.
    Put(PutOp),
    /// Delete a key or `[key, end)`.
    Delete(DeleteOp),
}

/// A put.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutOp {
    /// The key.
    pub key: String,
    /// The value (unique in a history: what ties a read to the write it saw).
    pub value: String,
    /// Attach the key to this lease (`None`: no lease; a put without one detaches the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<i64>,
}

/// A delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOp {
    /// The key, or the range's first key.
    pub key: String,
    /// The range's end, exclusive; `None`: the key alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// A lease grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantReq {
    /// Time to live, s.
    pub ttl: i64,
}

/// A lease revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeReq {
    /// The lease's id.
    pub lease: i64,
}

/// A compaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactReq {
    /// Revisions below it are gone; reads at it and above still work.
    pub rev: i64,
}

/// What etcd answered (on `ok`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Response {
    /// The header's revision: the store's revision when the request was served (after it, for
    /// a request that wrote).
    pub rev: i64,
    /// A range's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeRes>,
    /// A transaction's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<TxnRes>,
    /// A grant's lease id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<i64>,
}

/// What a range returned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RangeRes {
    /// The keys, in key order (at most `limit`).
    #[serde(default)]
    pub kvs: Vec<Kv>,
    /// How many keys the range holds (not cut by `limit`).
    pub count: i64,
    /// `limit` cut the result short.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

/// A transaction's result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnRes {
    /// Every compare held: the `then` ops ran (else the `else` ops).
    pub ok: bool,
    /// One result per op of the branch that ran, in order.
    #[serde(default)]
    pub results: Vec<OpRes>,
}

/// The result of one op of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpRes {
    /// A range's keys.
    Range(RangeRes),
    /// A put (nothing more: its revision is the header's).
    Put {},
    /// A delete: how many keys it deleted.
    Delete {
        /// Keys deleted.
        deleted: i64,
    },
}

/// A key as etcd returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// The revision of its last modification.
    #[serde(rename = "mod")]
    pub mod_rev: i64,
    /// The revision it was created at.
    pub create: i64,
    /// How many times it was put since its creation.
    pub ver: i64,
    /// Its lease, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<i64>,
}

/// What etcd says when a read below the compaction is refused (`ErrCompacted`).
pub const COMPACTED: &str = "compacted";
/// What etcd says when a read above the current revision is refused (`ErrFutureRev`).
pub const FUTURE_REV: &str = "future revision";
/// What etcd says of a lease it does not know (`ErrLeaseNotFound`).
pub const LEASE_NOT_FOUND: &str = "lease not found";

/// The exclusive end of the range of keys starting with `prefix` (etcd's `GetPrefixRangeEnd`).
pub fn prefix_end(prefix: &str) -> String {
    let mut b = prefix.as_bytes().to_vec();
    while let Some(last) = b.pop() {
        if last < 0xff {
            b.push(last + 1);
            return String::from_utf8_lossy(&b).into_owned();
        }
    }
    // Every byte 0xff: the range has no end ("\0" means the end of the key space).
    "\0".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_read_as_docs_formats_writes_them() {
        let lines = [
            r#"{"range":{"key":"a","end":"b","limit":2,"rev":5}}"#,
            r#"{"txn":{"if":[{"key":"a","op":"=","target":"mod","n":0}],"then":[{"put":{"key":"a","value":"v1","lease":7}}],"else":[{"range":{"key":"a"}}]}}"#,
            r#"{"txn":{"then":[{"delete":{"key":"a","end":"b"}}]}}"#,
            r#"{"txn":{"if":[{"key":"a","op":"!=","target":"value","value":"x"}]}}"#,
            r#"{"grant":{"ttl":3600}}"#,
            r#"{"revoke":{"lease":7}}"#,
            r#"{"compact":{"rev":12}}"#,
        ];
        for l in lines {
            let r: Request = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(serde_json::to_string(&r).unwrap(), l);
        }
        let res = r#"{"rev":9,"txn":{"ok":false,"results":[{"range":{"kvs":[{"key":"a","value":"v1","mod":8,"create":3,"ver":2}],"count":1}},{"put":{}},{"delete":{"deleted":1}}]}}"#;
        let r: Response = serde_json::from_str(res).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), res);
        assert_eq!(prefix_end("/reg/"), "/reg0");
    }
}
