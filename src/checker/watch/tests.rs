//! The guarantees on small hand-written streams.

use super::*;
use crate::history::{EntryType, OpKind, Value};
use crate::watchlog::WatchLine;

fn rec(member: &str, t: u64, what: WatchLine) -> WatchRecord {
    WatchRecord { member: member.into(), watcher: None, t, what }
}

fn put(member: &str, t: u64, key: &str, value: &str, rev: i64) -> WatchRecord {
    rec(member, t, WatchLine::Put { key: key.into(), value: value.into(), mod_revision: rev, create_revision: None, version: None, prev: None, response: None })
}

/// Two members, revisions 10..=14, each stopped caught up at 14.
fn clean() -> Vec<WatchRecord> {
    let mut out = Vec::new();
    for m in ["n1", "n2"] {
        out.push(rec(m, 0, WatchLine::Started { revision: 10, spec: None, header: None }));
        for r in 10..=14 {
            out.push(put(m, r as u64, &format!("k{}", r % 3), &format!("v{r}"), r));
        }
        out.push(rec(m, 100, WatchLine::Stopped { last_revision: 14, target: Some(14) }));
    }
    out
}

fn write_ok(id: u64, key: &str, value: Value, rev: i64) -> Entry {
    Entry {
        kind: EntryType::Ok,
        id,
        client: 0,
        t: id,
        f: OpKind::Write,
        key: key.into(),
        value,
        rev: Some(rev),
        error: None,
        member: None,
        req: None,
        res: None,
    }
}

#[test]
fn a_clean_stream_passes() {
    let c = check(&clean(), &[write_ok(1, "k2", Value::One("v11".into()), 11)]);
    assert!(c.ok, "{c:?}");
    assert_eq!((c.streams, c.events), (2, 10));
    assert_eq!(c.problems(), "no problem");
}

#[test]
fn a_dropped_event_is_a_gap() {
    let mut r = clean();
    r.retain(|x| !(x.member == "n2" && x.what.event_revision() == Some(12)));
    let c = check(&r, &[]);
    assert_eq!((c.guarantees[&Guarantee::Reliable], c.ok), (1, false));
    let p = c.first_problem.unwrap();
    assert!(p.contains("n2's stream lacks revision 12") && p.contains("n1's stream"), "{p}");
}

#[test]
fn an_acknowledged_write_no_stream_shows_is_a_gap_in_each() {
    let mut r = clean();
    r.retain(|x| x.what.event_revision() != Some(12));
    let c = check(&r, &[write_ok(7, "k0", Value::Pair("a".into(), "v12".into()), 12)]);
    assert_eq!(c.guarantees[&Guarantee::Reliable], 2);
    assert!(c.first_problem.unwrap().contains("acknowledged write (op 7"));
}

#[test]
fn a_compaction_etcd_reported_is_no_gap() {
    let mut r = clean();
    // n2 saw 10, broke, and resumed after the compaction at 13.
    r.retain(|x| !(x.member == "n2" && matches!(x.what.event_revision(), Some(11 | 12))));
    let at = r.iter().position(|x| x.member == "n2" && x.what.event_revision() == Some(13)).unwrap();
    r.insert(at, rec("n2", 12, WatchLine::Resumed { revision: 13, attempts: 1 }));
    r.insert(at, rec("n2", 12, WatchLine::Compacted { requested: 11, compact_revision: 13 }));
    r.insert(at, rec("n2", 12, WatchLine::Resumed { revision: 11, attempts: 3 }));
    r.insert(at, rec("n2", 11, WatchLine::Broken { why: "connection refused".into() }));
    let c = check(&r, &[]);
    assert!(c.ok, "{c:?}");
    let n2 = &c.watchers[1];
    assert_eq!((n2.resumed, n2.compacted, n2.skipped), (2, 1, 2));
    // A compaction that does not cover the hole does not excuse it.
    let mut r2 = r.clone();
    for x in &mut r2 {
        if let WatchLine::Compacted { compact_revision, .. } = &mut x.what {
            *compact_revision = 12;
        }
    }
    assert_eq!(check(&r2, &[]).guarantees[&Guarantee::Resumable], 1);
}

#[test]
fn a_repeated_event_is_a_duplicate_and_a_late_one_out_of_order() {
    let mut r = clean();
    let at = r.iter().position(|x| x.member == "n1" && x.what.event_revision() == Some(13)).unwrap();
    r.insert(at + 1, put("n1", 13, "k1", "v13", 13));
    let c = check(&r, &[]);
    assert_eq!(c.problems(), "1 unique");
    assert!(c.first_problem.unwrap().contains("revision 13 (k1 = \"v13\") twice"));

    let mut r = clean();
    // n1 gets 12 after 13.
    let i12 = r.iter().position(|x| x.member == "n1" && x.what.event_revision() == Some(12)).unwrap();
    let e = r.remove(i12);
    let i13 = r.iter().position(|x| x.member == "n1" && x.what.event_revision() == Some(13)).unwrap();
    r.insert(i13 + 1, e);
    let c = check(&r, &[]);
    assert_eq!(c.problems(), "1 ordered");
    assert!(c.first_problem.unwrap().contains("revision 12 (k0 = \"v12\") after revision 13"));
}

#[test]
fn a_value_the_history_did_not_write_is_a_disagreement() {
    let c = check(&clean(), &[write_ok(3, "k2", Value::One("other".into()), 11)]);
    assert_eq!(c.problems(), "2 agreement");
    assert!(c.first_problem.unwrap().contains("k2 = \"v11\" at revision 11, but op 3 (acknowledged at"));
    // Two streams that disagree with each other, with no history.
    let mut r = clean();
    for x in &mut r {
        if let (true, WatchLine::Put { value, mod_revision: 12, .. }) = (x.member == "n2", &mut x.what) {
            *value = "forged".into();
        }
    }
    let c = check(&r, &[]);
    assert_eq!(c.problems(), "1 agreement");
    assert!(c.first_problem.unwrap().contains("n2's stream has k0 = \"forged\" at revision 12, but n1's stream has k0 = \"v12\""));
}

#[test]
fn a_stream_that_ends_short_is_behind() {
    let mut r = clean();
    r.retain(|x| !(x.member == "n2" && x.what.event_revision() == Some(14)));
    for x in &mut r {
        if let (true, WatchLine::Stopped { last_revision, .. }) = (x.member == "n2", &mut x.what) {
            *last_revision = 13;
        }
    }
    let c = check(&r, &[]);
    assert_eq!((c.problems().as_str(), c.ok), ("1 caught_up", false));
    assert_eq!(c.watchers[1].problems(), "1 caught_up");
    assert!(c.first_problem.unwrap().contains("n2's stream stopped at revision 13, short of revision 14"));
}

#[test]
fn a_summary_from_before_the_guarantees_still_reads() {
    let old = r#"{"streams":3,"events":395,"gaps":1,"duplicates":0,"out_of_order":0,"disagreements":0,"behind":0,"resumed":2,"compacted":1,"ok":false,"first_problem":"n1's stream lacks revision 12","members":[{"member":"n1","events":130,"from_revision":2,"last_revision":139,"resumed":0,"compacted":0,"skipped":0,"gaps":1,"duplicates":0,"out_of_order":0,"disagreements":0,"behind":false}]}"#;
    let c: WatchCheck = serde_json::from_str(old).unwrap();
    assert_eq!((c.ok, c.watchers[0].member.as_str(), c.problems().as_str()), (false, "n1", "a problem"));
    // And a new one round-trips.
    let mut r = clean();
    r.retain(|x| !(x.member == "n2" && x.what.event_revision() == Some(12)));
    let c = check(&r, &[]);
    let back: WatchCheck = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    assert_eq!(c.violations[0].key.as_deref(), Some("k0"));
}

/// Many watchers and events check in seconds (release; a debug build is slower):
/// `cargo test --release --lib checker::watch::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_300k_events() {
    let mut r = Vec::new();
    for m in ["n1", "n2", "n3"] {
        r.push(rec(m, 0, WatchLine::Started { revision: 2, spec: None, header: None }));
        for rev in 2..100_002 {
            r.push(put(m, rev as u64, &format!("k{}", rev % 1000), &format!("v{rev}"), rev));
        }
        r.push(rec(m, u64::MAX, WatchLine::Stopped { last_revision: 100_001, target: Some(100_001) }));
    }
    let h: Vec<Entry> = (2..100_002).map(|rev| write_ok(rev as u64, &format!("k{}", rev % 1000), Value::One(format!("v{rev}")), rev)).collect();
    let t = std::time::Instant::now();
    let c = check(&r, &h);
    let s = t.elapsed().as_secs_f64();
    println!("{} events, 3 streams, {} acknowledged writes: checked in {s:.2} s", c.events, h.len());
    assert!(c.ok, "{:?}", c.first_problem);
}
