//! The etcd model and its exact checker (`faultline check --model etcd`, and the
//! `linearizable` gate of a run of the `etcd` workload): histories of etcd's own API
//! (docs/formats.md §2.1) — ranges, puts, deletes, multi-key transactions, leases,
//! compactions — checked against one sequential model of the whole store.
//!
//! - [`model`]: the store as a sequential specification (etcd 3.4/3.5's rules);
//! - [`check`]: the whole-history checker (revisions order the writers, values name the
//!   unknown writes a read saw, a conflict-directed search over the rest);
//! - this module: the history's operations paired ([`Pairer`]), a `history.jsonl` read
//!   into them ([`read_jsonl`]) and told from a register history ([`is_etcd_history`]);
//! - [`explain`]: a violation in words ([`explain::text`]) and drawn ([`explain::html`]);
//! - [`brute`]: the brute-force oracle (the definition, for small histories);
//! - [`gen`]: generated histories, linearizable by construction or with a planted bug, for
//!   the property tests and benchmarks.
//!
//! Revisions tie every key to every other, so unlike the register model the history is not
//! split by key.

pub mod brute;
pub mod check;
pub mod explain;
pub mod gen;
pub mod model;

pub use check::check;

use crate::etcd_api::{Request, Response};
use crate::history::{Entry, EntryType, OpKind};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// One operation of an etcd-workload history, its invocation and completion paired.
#[derive(Debug, Clone, PartialEq)]
pub struct EtcdOp {
    /// Operation id.
    pub id: u64,
    /// Logical client.
    pub client: u32,
    /// The kind (`get`, `txn`, ...).
    pub f: OpKind,
    /// Invocation time, ns.
    pub invoke: u64,
    /// Completion time, ns; `None` for an operation the history never completed.
    pub complete: Option<u64>,
    /// ok / fail / info (never completed: info).
    pub outcome: EntryType,
    /// What was asked.
    pub req: Request,
    /// What etcd answered (`ok` only).
    pub res: Option<Response>,
    /// Why it failed or is unknown.
    pub error: Option<String>,
    /// The invocation's line in the history file (0 when not read from a file).
    pub line: usize,
}

impl EtcdOp {
    /// When it returned; an operation with unknown outcome "returns at infinity".
    pub fn ret(&self) -> u64 {
        match self.outcome {
            EntryType::Info | EntryType::Invoke => u64::MAX,
            _ => self.complete.unwrap_or(u64::MAX),
        }
    }
}

/// Pairs `history.jsonl` entries into [`EtcdOp`]s, refusing what the format forbids (an
/// invocation twice, a completion without its invocation, with another `f` or key, or before
/// it; a register operation; an etcd invocation without `req`, an `ok` without `res` or with
/// a header revision below 1).
#[derive(Default)]
pub struct Pairer {
    open: HashMap<u64, (usize, usize, String)>, // id → (index in ops, line, key)
    completed: HashMap<u64, usize>,
    ops: Vec<EtcdOp>,
}

impl Pairer {
    /// Take one entry (line `n` of its file); the error says what was expected.
    pub fn push(&mut self, e: Entry, n: usize) -> Result<(), String> {
        if !e.f.is_etcd() {
            return Err(format!(
                "`{}` is an operation of the register workload: check this history with the register model (`faultline check --model register`)",
                e.f.name()
            ));
        }
        if e.kind == EntryType::Invoke {
            if self.open.contains_key(&e.id) || self.completed.contains_key(&e.id) {
                return Err(format!("operation {} is invoked twice; expected one invoke line per operation id", e.id));
            }
            let Some(req) = e.req else {
                return Err(format!(
                    "the invocation of operation {} (`{}`) has no `req`; expected the request the etcd workload sent (docs/formats.md §2.1)",
                    e.id,
                    e.f.name()
                ));
            };
            self.open.insert(e.id, (self.ops.len(), n, e.key));
            self.ops.push(EtcdOp {
                id: e.id,
                client: e.client,
                f: e.f,
                invoke: e.t,
                complete: None,
                outcome: EntryType::Info,
                req,
                res: None,
                error: None,
                line: n,
            });
            return Ok(());
        }
        let Some((i, at, key)) = self.open.remove(&e.id) else {
            return Err(match self.completed.get(&e.id) {
                Some(first) => {
                    format!("operation {} completes a second time (its completion is line {first}); expected exactly one completion per invocation", e.id)
                }
                None => format!("a completion of operation {}, which was never invoked; expected its `invoke` line (same id) before its completion", e.id),
            });
        };
        self.completed.insert(e.id, n);
        let op = &mut self.ops[i];
        if e.f != op.f || e.key != key {
            return Err(format!(
                "the completion of operation {} is `{}` on key `{}`, its invocation (line {at}) `{}` on key `{key}`; expected the same f and key as the invocation",
                e.id,
                e.f.name(),
                e.key,
                op.f.name()
            ));
        }
        if e.t < op.invoke {
            return Err(format!(
                "operation {} completes at t={} ns, before its invocation at t={} ns (line {at}); expected a completion's t at or after its invocation's",
                e.id, e.t, op.invoke
            ));
        }
        if e.kind == EntryType::Ok {
            match &e.res {
                None => return Err(format!("the `ok` of operation {} has no `res`; expected etcd's response (docs/formats.md §2.1)", e.id)),
                Some(r) if r.rev < 1 => {
                    return Err(format!(
                        "the `ok` of operation {} has `res.rev` {}; expected etcd's header revision, which is at least 1 (a new cluster is at revision 1)",
                        e.id, r.rev
                    ))
                }
                Some(_) => {}
            }
        }
        op.complete = Some(e.t);
        op.outcome = e.kind;
        op.res = e.res;
        op.error = e.error;
        Ok(())
    }

    /// The operations, in invocation order (those never completed are `info`).
    pub fn finish(self) -> Vec<EtcdOp> {
        self.ops
    }
}

/// Pair entries (a generated history, a test's) without a file.
pub fn ops_from_entries(entries: &[Entry]) -> Result<Vec<EtcdOp>, String> {
    let mut p = Pairer::default();
    for (n, e) in entries.iter().enumerate() {
        p.push(e.clone(), n + 1).map_err(|m| format!("entry {}: {m}", n + 1))?;
    }
    Ok(p.finish())
}

/// Read faultline's `history.jsonl` of the etcd-API workloads (docs/formats.md §2.1) into
/// paired operations, line by line (a history of a million operations is never held as
/// text). A malformed line, or one that breaks the pairing, is `FILE:LINE: what was expected`.
pub fn read_jsonl(path: &Path) -> Result<Vec<EtcdOp>, String> {
    let mut pairer = Pairer::default();
    crate::jsonl::for_each_line(path, |n, line| {
        let e: Entry = serde_json::from_str(line).map_err(|e| format!("expected a history entry (docs/formats.md §2.1): {e}"))?;
        pairer.push(e, n)?;
        Ok(true)
    })?;
    Ok(pairer.finish())
}

/// The two fields of a line that tell an etcd-API history from a register one.
#[derive(serde::Deserialize)]
struct Sniff {
    #[serde(rename = "type")]
    kind: EntryType,
    f: OpKind,
}

/// What one line of a `history.jsonl` says about its history: `Some(true)` for the
/// invocation of an etcd-API operation, `Some(false)` for a register one's, `None` for any
/// other line (a completion, a blank or malformed line: the reader reports those).
fn sniff_line(line: &str) -> Option<bool> {
    let s: Sniff = serde_json::from_str(line.trim()).ok()?;
    (s.kind == EntryType::Invoke).then(|| s.f.is_etcd())
}

/// Whether the text of a `history.jsonl` is a history of etcd's API (the `etcd` and
/// `kubernetes` workloads, docs/formats.md §2.1): its first invocation's `f` is one of etcd's
/// (`OpKind::is_etcd`). A history without any invocation is not.
pub fn is_etcd_text(text: &str) -> bool {
    text.lines().find_map(sniff_line).unwrap_or(false)
}

/// [`is_etcd_text`] on a file, read only up to its first invocation.
pub fn is_etcd_history(path: &Path) -> Result<bool, String> {
    let mut etcd = false;
    crate::jsonl::for_each_line(path, |_, line| match sniff_line(line) {
        Some(is) => {
            etcd = is;
            Ok(false)
        }
        None => Ok(true),
    })?;
    Ok(etcd)
}

/// One operation as an explanation shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpView {
    /// Operation id.
    pub id: u64,
    /// Logical client.
    pub client: u32,
    /// Invocation time, ns.
    pub call: u64,
    /// Return time, ns (`None`: unknown outcome).
    pub ret: Option<u64>,
    /// The request in words.
    pub text: String,
    /// What etcd answered in words (`ok`), or the error, or `unknown`.
    pub answer: String,
    /// The response's revision (`ok`).
    pub rev: Option<i64>,
    /// `ok`, `fail` or `info`.
    pub outcome: &'static str,
    /// The invocation's line in the history (0: not from a file).
    pub line: usize,
}

impl OpView {
    /// An operation of the history.
    pub fn of(op: &EtcdOp) -> OpView {
        let (outcome, answer) = match op.outcome {
            EntryType::Ok => ("ok", op.res.as_ref().map(model::describe_response).unwrap_or_default()),
            EntryType::Fail => ("fail", format!("fail: {}", op.error.as_deref().unwrap_or("?"))),
            _ => ("info", format!("unknown ({})", op.error.as_deref().unwrap_or("never completed"))),
        };
        OpView {
            id: op.id,
            client: op.client,
            call: op.invoke,
            ret: (op.outcome != EntryType::Info).then_some(op.complete).flatten(),
            text: model::describe(&op.req),
            answer,
            rev: op.res.as_ref().map(|r| r.rev),
            outcome,
            line: op.line,
        }
    }
}

/// Where a history broke.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The operation where it broke (`ops[culprit]`).
    pub culprit: usize,
    /// The other operation of the conflict, when there is one (the writer a read missed, the
    /// write that completed before a read answered at a lower revision, ...).
    pub other: Option<usize>,
    /// The revision it is about.
    pub revision: Option<i64>,
    /// The keys it is about.
    pub keys: Vec<String>,
    /// What the model expected, in words.
    pub expected: String,
    /// What etcd said, in words.
    pub got: String,
    /// Why no order works, in one or two sentences.
    pub why: String,
    /// The operations around it, in invocation order (the culprit and `other` among them).
    pub ops: Vec<OpView>,
}

/// Counts and figures of one check.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Operations in the history.
    pub ops: usize,
    /// Operations checked: `ok` ones and `fail`s whose error the model judges.
    pub definite: usize,
    /// Operations with unknown outcome that may have written (put, delete, txn, revoke) or
    /// compacted; unknown reads and grants cannot matter and are not counted.
    pub info: usize,
    /// Distinct keys.
    pub keys: usize,
    /// The newest revision any response carries.
    pub revisions: i64,
    /// Revisions no acknowledged operation took, each filled by an operation with unknown
    /// outcome.
    pub unacknowledged: usize,
    /// Of those, the ones a read's `mod` named the writer of (values are unique).
    pub named_by_values: usize,
    /// Revisions where the checker had to choose among several operations.
    pub choices: usize,
    /// Times the search went back on a choice.
    pub backtracks: u64,
}

/// The result of checking an etcd history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EtcdCheck {
    /// linearizable, not, or unknown.
    pub verdict: crate::checker::Verdict,
    /// Where it broke, when not linearizable.
    pub violation: Option<Violation>,
    /// Why it is unknown.
    pub cause: Option<String>,
    /// Unknown because the check was cancelled.
    pub interrupted: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Counts.
    pub stats: Stats,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A put of k=v at revision 2, then a get that sees it.
    const PUT_GET: &str = r#"{"type":"invoke","id":1,"client":0,"t":1000,"f":"put","key":"k","value":null,"req":{"txn":{"then":[{"put":{"key":"k","value":"v"}}]}}}
{"type":"ok","id":1,"client":0,"t":2000,"f":"put","key":"k","value":null,"rev":2,"res":{"rev":2,"txn":{"ok":true,"results":[{"put":{}}]}}}

{"type":"invoke","id":2,"client":1,"t":3000,"f":"get","key":"k","value":null,"req":{"range":{"key":"k"}}}
{"type":"ok","id":2,"client":1,"t":4000,"f":"get","key":"k","value":null,"rev":2,"res":{"rev":2,"range":{"kvs":[{"key":"k","value":"v","mod":2,"create":2,"ver":1}],"count":1}}}
"#;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history.jsonl");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn a_history_file_is_read_into_paired_operations() {
        let (_d, p) = file(PUT_GET);
        let ops = read_jsonl(&p).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!((ops[0].id, ops[0].f, ops[0].complete, ops[0].line), (1, OpKind::Put, Some(2000), 1));
        assert_eq!((ops[1].id, ops[1].outcome, ops[1].line), (2, EntryType::Ok, 4));
        assert_eq!(ops[1].res.as_ref().map(|r| r.rev), Some(2));
        assert!(is_etcd_history(&p).unwrap());
        assert!(is_etcd_text(PUT_GET));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let bad = PUT_GET.replace(r#""type":"ok","id":2"#, r#""type":"ok","id":9"#);
        let (_d, p) = file(&bad);
        let e = read_jsonl(&p).unwrap_err();
        assert!(e.starts_with(&format!("{}:5: ", p.display())) && e.contains("never invoked"), "{e}");
        let (_d, p) = file("{\"type\":\"invoke\"\n");
        let e = read_jsonl(&p).unwrap_err();
        assert!(e.starts_with(&format!("{}:1: expected a history entry", p.display())), "{e}");
        let e = read_jsonl(Path::new("/nonexistent/history.jsonl")).unwrap_err();
        assert!(e.contains("cannot read the history"), "{e}");
    }

    #[test]
    fn an_ok_below_revision_1_is_refused() {
        let bad = PUT_GET.replace(r#""res":{"rev":2,"txn""#, r#""res":{"rev":0,"txn""#);
        let (_d, p) = file(&bad);
        let e = read_jsonl(&p).unwrap_err();
        assert!(e.starts_with(&format!("{}:2: ", p.display())) && e.contains("`res.rev` 0") && e.contains("at least 1"), "{e}");
    }

    #[test]
    fn a_register_history_is_not_an_etcd_one() {
        let reg = "{\"type\":\"ok\",\"id\":0,\"client\":0,\"t\":1,\"f\":\"get\",\"key\":\"k\",\"value\":null}\n\
                   {\"type\":\"invoke\",\"id\":1,\"client\":0,\"t\":1000,\"f\":\"write\",\"key\":\"k\",\"value\":\"1\"}\n";
        // The first invocation decides, not a completion before it.
        assert!(!is_etcd_text(reg));
        let (_d, p) = file(reg);
        assert!(!is_etcd_history(&p).unwrap());
        assert!(!is_etcd_text(""));
        assert!(!is_etcd_text("not json\n"));
        // A malformed line before the first invocation does not hide it.
        assert!(is_etcd_text(&format!("garbage\n{PUT_GET}")));
    }
}
