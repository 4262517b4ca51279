//! The space-quota rehearsal on a real cluster with a 16MiB quota: `fill` until NOSPACE
//! (writes refused, reads served), then the operator's recovery — compact, defrag (the
//! database shrinks), disarm — after which writes succeed again.

use crate::util::TestCluster;
use faultline::client::{self, ErrorClass};
use std::time::Duration;

const QUOTA: &str = "{quota_backend_bytes: 16MiB}";

/// Each member's database size, bytes.
fn db_sizes(c: &TestCluster) -> Vec<i64> {
    let eps = c.endpoints();
    c.rt.block_on(async move {
        let mut out = Vec::new();
        for ep in &eps {
            let mut cl = client::connect(ep, Duration::from_secs(5)).await.unwrap();
            out.push(cl.status().await.unwrap().db_size());
        }
        out
    })
}

/// The raised alarms' types, as etcd lists them.
fn alarms(c: &TestCluster) -> Vec<etcd_client::AlarmType> {
    let ep = c.endpoint("n2");
    c.rt.block_on(async move {
        let mut cl = client::connect(&ep, Duration::from_secs(5)).await.unwrap();
        let r = cl.alarm(etcd_client::AlarmAction::Get, etcd_client::AlarmType::None, None).await.unwrap();
        r.alarms().iter().map(|a| a.alarm()).collect()
    })
}

/// A workload key's put and linearizable get on `member`, as the register workload sends them.
fn put_and_get(c: &TestCluster, member: &str) -> (Result<(), etcd_client::Error>, Result<Option<String>, etcd_client::Error>) {
    let ep = c.endpoint(member);
    c.rt.block_on(async move {
        let mut cl = client::connect(&ep, Duration::from_secs(5)).await.unwrap();
        let put = cl.put("k0", "after", None).await.map(|_| ());
        let get = cl.get("k0", None).await.map(|r| r.kvs().first().map(|kv| String::from_utf8_lossy(kv.value()).into_owned()));
        (put, get)
    })
}

fn fill_and_recover(c: &TestCluster) {
    let eps = c.endpoints();
    c.put("n1", "k0", "before");

    let done = c.rt.block_on(faultline::ops::fill(&eps, "", 256 << 10)).expect("fill");
    for proof in ["until `database space exceeded`", "NOSPACE raised by n", "a put is refused", "a linearizable read is served", "quota 16 MiB"] {
        assert!(done.detail.contains(proof), "{proof} missing from: {}", done.detail);
    }
    // What a user sees: the alarm listed, a workload write refused, a read served. The
    // refusal is classified indefinite: the write that crosses the quota is applied by etcd
    // and still answered with this error.
    assert!(alarms(c).contains(&etcd_client::AlarmType::Nospace));
    let (put, get) = put_and_get(c, "n3");
    let err = put.expect_err("a put while NOSPACE is raised");
    assert_eq!(client::classify(&err), (ErrorClass::Indefinite, "database space exceeded".to_string()));
    assert_eq!(get.expect("a read while NOSPACE is raised").as_deref(), Some("before"));
    let full = db_sizes(c);
    assert!(full.iter().all(|&s| s > 12 << 20), "{full:?}");

    // Recovery: compaction works under the alarm but leaves the files as large...
    let done = c.rt.block_on(faultline::ops::compact(&eps, 0)).expect("compact under NOSPACE");
    assert!(done.detail.contains("is refused"), "{}", done.detail);
    let compacted = db_sizes(c);
    assert!(compacted.iter().zip(&full).all(|(a, b)| a >= b), "compaction shrank a file: {full:?} → {compacted:?}");
    // ...defrag gives the space back...
    c.rt.block_on(faultline::ops::defrag(&eps)).expect("defrag under NOSPACE");
    let defragged = db_sizes(c);
    assert!(defragged.iter().all(|&s| s < 4 << 20), "defrag left {defragged:?} (was {compacted:?})");
    // ...and the alarm stays until it is disarmed by hand.
    assert!(alarms(c).contains(&etcd_client::AlarmType::Nospace));
    assert!(put_and_get(c, "n1").0.is_err(), "a write succeeded before the alarm was disarmed");
    let done = c.rt.block_on(faultline::ops::alarm_disarm(&eps, "")).expect("alarm-disarm");
    assert!(done.detail.contains("a put to /faultline-fill/after-disarm succeeds"), "{}", done.detail);
    assert!(alarms(c).is_empty());
    let (put, get) = put_and_get(c, "n3");
    put.expect("a write after the recovery");
    assert_eq!(get.unwrap().as_deref(), Some("after"));
}

#[test]
fn a_full_backend_refuses_writes_serves_reads_and_recovers_by_compact_defrag_disarm() {
    fill_and_recover(&TestCluster::start_with(3, QUOTA));
}

#[test]
fn a_full_backend_in_containers_recovers_the_same_way() {
    let Some(c) = TestCluster::docker_with(3, QUOTA) else { return };
    fill_and_recover(&c);
}
