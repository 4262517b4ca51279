//! The `kubernetes` workload: what a Kubernetes API server sends etcd. Objects live under
//! `/registry/<resource>/<name>` for a few resources (`workload.keys` objects each), and every
//! change is optimistic concurrency on `mod_revision`, as the API server's storage layer does
//! it: a create is `txn(mod == 0) → put, else get`; an update `txn(mod == seen) → put, else
//! get`; a delete `txn(mod == seen) → delete, else get`. A list is paginated: the first page
//! is a range with a limit at the current revision, every next page a range from after the
//! last key returned, at the first page's revision (the API server's continue token), until
//! etcd says there is no more. Recorded as the `etcd` workload is (docs/formats.md §2.1) and
//! checked with the etcd model; now and then a compaction a few hundred revisions back, as
//! the API server's compactor does. Its informers (list-then-watch per resource) are watch
//! traffic, `workload.watch`'s default for this kind ([`super::watch`]).

use super::etcd::{call, Seen};
use super::slots::{self, Done, Setup, Slot, Turn, Values};
use super::WorkloadReport;
use crate::etcd_api::{self as api, CmpOp, CmpTarget, Compare, DeleteOp, PutOp, RangeReq, Request, TxnOp, TxnReq};
use crate::history::{EntryType, OpKind};
use crate::scenario::{KubernetesMix, ReadMode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The resources, each a prefix of its own (`/registry/<resource>/`).
pub use crate::scenario::{resource_prefix, KUBERNETES_RESOURCES as RESOURCES};
/// Objects per page of a list.
pub const PAGE: i64 = 5;
/// How far behind the newest revision seen a compaction goes.
const COMPACT_BEHIND: i64 = 200;

/// Run the kubernetes workload (see [`super::run`]).
pub(super) async fn run(setup: Setup<'_>, mix: KubernetesMix, seed: u64) -> WorkloadReport {
    let (objects, serializable) = (setup.spec.keys.max(1), setup.spec.reads == ReadMode::Serializable);
    slots::run(setup, |slot| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(slot));
        ApiServer { rng, mix, objects, values: Values::new(slot), serializable, seen: Seen::default(), listing: None }
    })
    .await
}

/// A list under way: the next page's first key, the range's end, the list's revision.
#[derive(Debug, Clone, PartialEq)]
struct Listing {
    from: String,
    end: String,
    rev: i64,
}

/// One API-server client slot.
struct ApiServer {
    rng: ChaCha8Rng,
    mix: KubernetesMix,
    objects: u32,
    values: Values,
    serializable: bool,
    seen: Seen,
    listing: Option<Listing>,
}

impl ApiServer {
    fn object(&mut self) -> String {
        let r = RESOURCES[self.rng.random_range(0..RESOURCES.len())];
        format!("{}o{}", resource_prefix(r), self.rng.random_range(0..self.objects))
    }

    fn value(&mut self) -> String {
        self.values.fresh()
    }

    /// A guarded change of `key`: `mod == expected` → `then`, else read the key.
    fn guarded(key: &str, expected: i64, then: TxnOp) -> Request {
        Request::Txn(TxnReq {
            compare: vec![Compare { key: key.to_string(), op: CmpOp::Equal, target: CmpTarget::Mod { n: expected } }],
            then: vec![then],
            otherwise: vec![TxnOp::Range(RangeReq { key: key.to_string(), end: None, limit: None, rev: None, serializable: false })],
        })
    }

    /// The next operation: the next page of a list under way, else one drawn from the mix.
    fn next(&mut self) -> (OpKind, String, Request, Option<Listing>) {
        if let Some(l) = self.listing.clone() {
            let req = RangeReq { key: l.from.clone(), end: Some(l.end.clone()), limit: Some(PAGE), rev: Some(l.rev), serializable: self.serializable };
            return (OpKind::Range, l.from.clone(), Request::Range(req), Some(l));
        }
        let m = self.mix;
        let x: f64 = self.rng.random();
        if x < m.create {
            let key = self.object();
            let value = self.value();
            (OpKind::Txn, key.clone(), Self::guarded(&key, 0, TxnOp::Put(PutOp { key: key.clone(), value, lease: None })), None)
        } else if x < m.create + m.update {
            let key = self.object();
            let value = self.value();
            let expected = self.seen.key(&key).map_or(0, |kv| kv.mod_rev);
            (OpKind::Txn, key.clone(), Self::guarded(&key, expected, TxnOp::Put(PutOp { key: key.clone(), value, lease: None })), None)
        } else if x < m.create + m.update + m.delete {
            let key = self.object();
            let expected = self.seen.key(&key).map_or(0, |kv| kv.mod_rev);
            (OpKind::Txn, key.clone(), Self::guarded(&key, expected, TxnOp::Delete(DeleteOp { key: key.clone(), end: None })), None)
        } else if x < m.create + m.update + m.delete + m.list {
            let r = RESOURCES[self.rng.random_range(0..RESOURCES.len())];
            let p = resource_prefix(r);
            let req = RangeReq { key: p.clone(), end: Some(api::prefix_end(&p)), limit: Some(PAGE), rev: None, serializable: self.serializable };
            (OpKind::Range, p, Request::Range(req), None)
        } else {
            let rev = (self.seen.rev() - COMPACT_BEHIND).max(1);
            (OpKind::Compact, String::new(), Request::Compact(crate::etcd_api::CompactReq { rev }), None)
        }
    }
}

impl Slot for ApiServer {
    async fn step(&mut self, turn: Turn<'_>) -> Done {
        let (f, key, req, listing) = self.next();
        let (done, res) = call(turn, f, key, req.clone(), &mut self.seen).await;
        // A page that did not come back ends the list (the API server would list again).
        self.listing = match (&req, res) {
            (Request::Range(r), Some(res)) => res.range.as_ref().filter(|page| page.more).and_then(|page| {
                let last = page.kvs.last()?;
                Some(Listing {
                    // The key right after the last one returned: the continue token.
                    from: format!("{}\0", last.key),
                    end: r.end.clone().unwrap_or_default(),
                    rev: listing.as_ref().map_or(res.rev, |l| l.rev),
                })
            }),
            _ => None,
        };
        if done.outcome != EntryType::Ok {
            self.listing = None;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_guarded_on_mod_revision_and_lists_are_pages() {
        let mut s = ApiServer {
            rng: ChaCha8Rng::seed_from_u64(3),
            mix: KubernetesMix::DEFAULT,
            objects: 10,
            values: Values::new(0),
            serializable: false,
            seen: Seen::default(),
            listing: None,
        };
        let mut kinds = std::collections::BTreeMap::new();
        for _ in 0..2000 {
            let (f, key, req, _) = s.next();
            *kinds.entry(f).or_insert(0) += 1;
            match req {
                Request::Txn(t) => {
                    assert!(key.starts_with("/registry/"), "{key}");
                    assert!(matches!(t.compare[0].target, CmpTarget::Mod { .. }));
                    assert_eq!(t.otherwise.len(), 1);
                }
                Request::Range(r) => {
                    assert_eq!((r.limit, r.rev), (Some(PAGE), None));
                    assert_eq!(r.end.as_deref(), Some(api::prefix_end(&r.key).as_str()));
                }
                Request::Compact(c) => assert_eq!(c.rev, 1),
                other => panic!("{other:?}"),
            }
        }
        assert!(kinds[&OpKind::Range] > 300 && kinds[&OpKind::Txn] > 1200 && kinds[&OpKind::Compact] > 5, "{kinds:?}");
        // A list under way asks for its next page, at the list's revision.
        s.listing = Some(Listing { from: "/registry/pods/o3\0".into(), end: "/registry/pods0".into(), rev: 41 });
        let (_, _, req, _) = s.next();
        assert_eq!(
            req,
            Request::Range(RangeReq {
                key: "/registry/pods/o3\0".into(),
                end: Some("/registry/pods0".into()),
                limit: Some(PAGE),
                rev: Some(41),
                serializable: false
            })
        );
    }
}
