//! The brute-force oracle of the etcd model: linearizability by its definition, nothing
//! clever, for small histories (meant for up to 9 operations; [`MAX_OPS`] at most). The
//! property tests (`tests/it/etcd_props.rs`) hold the fast checker ([`super::check`]) and the
//! generator ([`super::gen`]) to it.
//!
//! A history is linearizable when some sequential order of its operations
//! - is consistent with real time: `a` comes before `b` when `a` returned before `b` was
//!   invoked (an `info` operation never returns, so it orders nothing after it);
//! - contains every `ok` operation, with the response [`State::apply`] gives at its place equal
//!   to the one etcd gave (a grant applied with the id etcd answered);
//! - contains every `fail` whose error the model judges (`compacted`, `future revision`,
//!   `lease not found`), with exactly that error from the model at its place (state unchanged);
//! - leaves out every other `fail` (it certainly had no effect);
//! - contains each `info` operation at most once, anywhere after its invocation (it took
//!   effect then, whatever it would have answered) or not at all; an `info` read or grant
//!   changes nothing anyone can see (a lease whose id nobody learned) and is left out.
//!
//! The search is depth-first over (operations placed, state), each pair visited once.

use super::model::{ErrorKind, State};
use super::EtcdOp;
use crate::etcd_api::{Request, Response};
use crate::history::EntryType;
use std::collections::HashSet;

/// The most operations (after leaving out those that cannot matter) [`brute`] takes on.
pub const MAX_OPS: usize = 14;

/// What an operation must do in the order.
enum Role<'a> {
    /// Be in it, answering this.
    Ok(&'a Response),
    /// Be in it, refused with this error.
    Refused(ErrorKind),
    /// Be in it, once, or not.
    Maybe,
}

/// Whether the history is linearizable (see the module's documentation); `None` when it has
/// more than [`MAX_OPS`] operations that matter.
pub fn brute(ops: &[EtcdOp]) -> Option<bool> {
    let mut items: Vec<(&EtcdOp, Role)> = Vec::new();
    for op in ops {
        let role = match op.outcome {
            EntryType::Ok => match &op.res {
                Some(r) => Role::Ok(r),
                // An `ok` without a response cannot match any.
                None => return Some(false),
            },
            EntryType::Fail => match op.error.as_deref().and_then(ErrorKind::judged) {
                Some(e) => Role::Refused(e),
                None => continue,
            },
            EntryType::Info | EntryType::Invoke => {
                if matches!(op.req, Request::Range(_) | Request::Grant(_)) {
                    continue;
                }
                Role::Maybe
            }
        };
        items.push((op, role));
    }
    let n = items.len();
    if n > MAX_OPS {
        return None;
    }
    let must: u64 = (0..n).filter(|&i| !matches!(items[i].1, Role::Maybe)).fold(0, |m, i| m | 1 << i);
    // pred[o]: the operations that returned before o was invoked.
    let pred: Vec<u64> = (0..n).map(|o| (0..n).filter(|&p| p != o && items[p].0.ret() < items[o].0.invoke).fold(0, |m, p| m | 1 << p)).collect();
    let mut seen: HashSet<(u64, State)> = HashSet::new();
    let mut stack = vec![(0u64, State::new())];
    seen.insert((0, State::new()));
    while let Some((mask, state)) = stack.pop() {
        if mask & must == must {
            return Some(true);
        }
        for o in 0..n {
            if mask & (1 << o) != 0 || pred[o] & !mask != 0 {
                continue;
            }
            let (op, role) = &items[o];
            let lease = match (&op.req, role) {
                (Request::Grant(_), Role::Ok(r)) => r.lease,
                _ => None,
            };
            let mut next = state.clone();
            let legal = match (next.apply(&op.req, lease), role) {
                (Ok((got, _)), Role::Ok(want)) => got == **want,
                (Err(e), Role::Refused(want)) => e == *want,
                (Ok(_), Role::Maybe) => true,
                // Refused at this place: the same as leaving it out.
                _ => false,
            };
            if legal {
                let m2 = mask | 1 << o;
                if seen.insert((m2, next.clone())) {
                    stack.push((m2, next));
                }
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd_api::{CompactReq, Kv, PutOp, RangeReq, RangeRes, TxnOp, TxnReq, TxnRes, COMPACTED};
    use crate::history::OpKind;

    fn op(id: u64, f: OpKind, invoke: u64, complete: Option<u64>, req: Request) -> EtcdOp {
        let outcome = if complete.is_some() { EntryType::Ok } else { EntryType::Info };
        EtcdOp { id, client: id as u32, f, invoke, complete, outcome, req, res: None, error: None, line: 0 }
    }
    /// An `ok` put of `k=v` at revision `rev` (`complete` `None`: unknown outcome).
    fn put(id: u64, invoke: u64, complete: Option<u64>, k: &str, v: &str, rev: i64) -> EtcdOp {
        let req = Request::Txn(TxnReq { then: vec![TxnOp::Put(PutOp { key: k.into(), value: v.into(), lease: None })], ..TxnReq::default() });
        let mut o = op(id, OpKind::Put, invoke, complete, req);
        if complete.is_some() {
            o.res = Some(Response { rev, txn: Some(TxnRes { ok: true, results: vec![crate::etcd_api::OpRes::Put {}] }), ..Response::default() });
        } else {
            o.error = Some("timeout".into());
        }
        o
    }
    /// An `ok` get of `k` (at `at`, if given) answering `kv` (value, mod, create, ver) at header
    /// revision `rev`.
    fn get(id: u64, invoke: u64, complete: u64, k: &str, at: Option<i64>, kv: Option<(&str, i64, i64, i64)>, rev: i64) -> EtcdOp {
        let req = Request::Range(RangeReq { key: k.into(), end: None, limit: None, rev: at, serializable: false });
        let mut o = op(id, OpKind::Get, invoke, Some(complete), req);
        let kvs: Vec<Kv> =
            kv.into_iter().map(|(value, mod_rev, create, ver)| Kv { key: k.into(), value: value.into(), mod_rev, create, ver, lease: None }).collect();
        o.res = Some(Response { rev, range: Some(RangeRes { count: kvs.len() as i64, kvs, more: false }), ..Response::default() });
        o
    }
    fn failed(mut o: EtcdOp, error: &str) -> EtcdOp {
        o.outcome = EntryType::Fail;
        o.res = None;
        o.error = Some(error.into());
        o
    }
    fn compact(id: u64, invoke: u64, complete: u64, rev: i64, header: i64) -> EtcdOp {
        let mut o = op(id, OpKind::Compact, invoke, Some(complete), Request::Compact(CompactReq { rev }));
        o.res = Some(Response { rev: header, ..Response::default() });
        o
    }

    #[test]
    fn a_stale_read_after_a_write_completed_is_not_linearizable() {
        let ops = [put(0, 0, Some(10), "k", "1", 2), put(1, 20, Some(30), "k", "2", 3), get(2, 40, 50, "k", None, Some(("1", 2, 2, 1)), 2)];
        assert_eq!(brute(&ops), Some(false));
        // Seeing the second put is fine.
        let ops = [put(0, 0, Some(10), "k", "1", 2), put(1, 20, Some(30), "k", "2", 3), get(2, 40, 50, "k", None, Some(("2", 3, 2, 2)), 3)];
        assert_eq!(brute(&ops), Some(true));
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either() {
        let w = put(0, 0, Some(10), "k", "1", 2);
        assert_eq!(brute(&[w.clone(), get(1, 5, 15, "k", None, None, 1)]), Some(true));
        assert_eq!(brute(&[w.clone(), get(1, 5, 15, "k", None, Some(("1", 2, 2, 1)), 2)]), Some(true));
        // But not a revision that never was.
        assert_eq!(brute(&[w, get(1, 5, 15, "k", None, Some(("1", 2, 2, 1)), 3)]), Some(false));
    }

    #[test]
    fn an_info_put_may_be_seen_later_or_never() {
        let w = put(0, 0, None, "k", "1", 0);
        assert_eq!(brute(&[w.clone(), get(1, 100, 110, "k", None, Some(("1", 2, 2, 1)), 2)]), Some(true));
        assert_eq!(brute(&[w.clone(), get(1, 100, 110, "k", None, None, 1)]), Some(true));
        // Seen, then unseen: it cannot be undone.
        assert_eq!(brute(&[w, get(1, 100, 110, "k", None, Some(("1", 2, 2, 1)), 2), get(2, 200, 210, "k", None, None, 1)]), Some(false));
    }

    #[test]
    fn a_compacted_refusal_needs_the_compaction_first() {
        let base = [put(0, 0, Some(10), "k", "1", 2), put(1, 20, Some(30), "k", "2", 3)];
        let refused = failed(get(2, 40, 50, "k", Some(1), None, 0), COMPACTED);
        // The compaction was invoked after the refusal returned.
        let mut ops = base.to_vec();
        ops.extend([refused.clone(), compact(3, 60, 70, 3, 3)]);
        assert_eq!(brute(&ops), Some(false));
        // Concurrent with it: fine.
        let mut ops = base.to_vec();
        ops.extend([refused, compact(3, 45, 80, 3, 3)]);
        assert_eq!(brute(&ops), Some(true));
        // An ok read below a compaction that completed before it: not.
        let mut ops = base.to_vec();
        ops.extend([compact(3, 35, 38, 3, 3), get(2, 40, 50, "k", Some(2), Some(("1", 2, 2, 1)), 3)]);
        assert_eq!(brute(&ops), Some(false));
    }

    #[test]
    fn other_failures_are_left_out_and_judged_ones_must_happen() {
        // A put that failed otherwise never happened: a read sees nothing.
        let f = failed(put(0, 0, Some(10), "k", "1", 2), "etcdserver: too many requests");
        assert_eq!(brute(&[f.clone(), get(1, 20, 30, "k", None, None, 1)]), Some(true));
        assert_eq!(brute(&[f, get(1, 20, 30, "k", None, Some(("1", 2, 2, 1)), 2)]), Some(false));
        // A future-revision refusal on a fresh cluster is right; a compacted one is not.
        let g = get(0, 0, 10, "k", Some(5), None, 0);
        assert_eq!(brute(&[failed(g.clone(), crate::etcd_api::FUTURE_REV)]), Some(true));
        assert_eq!(brute(&[failed(g, COMPACTED)]), Some(false));
    }

    #[test]
    fn too_many_operations_are_not_searched() {
        let ops: Vec<EtcdOp> = (0..MAX_OPS as u64 + 1).map(|i| put(i, 10 * i, Some(10 * i + 5), "k", &i.to_string(), i as i64 + 2)).collect();
        assert_eq!(brute(&ops), None);
        assert_eq!(brute(&ops[..MAX_OPS]), Some(true));
    }
}
