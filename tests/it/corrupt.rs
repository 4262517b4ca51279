//! `kind: corrupt` on real clusters: a member's files damaged at rest, the change proven
//! (the bytes on disk are those the event says), a member that refuses to start kept down
//! without making the run invalid, and etcd's own corruption checks timed beside
//! faultline's HashKV comparison (issue 19, items 4 and 5).

use super::util;
use serde_json::Value;

/// Run a scenario (YAML) with the faultline binary: exit code, summary, events, run dir.
fn run(name: &str, yaml: &str) -> (i32, Value, Vec<Value>, std::path::PathBuf, tempfile::TempDir, String) {
    util::require_root();
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join(format!("{name}.yaml"));
    std::fs::write(&scen, yaml).unwrap();
    let dir = out.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", dir.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let summary: Value = std::fs::read(dir.join("summary.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (o.status.code().unwrap_or(-1), summary, events, dir, out, err)
}

/// Every field of the run's summary.json and events.jsonl is one docs/formats.md names (the
/// check of tests/it/formats.rs, on a run that has the corruption fields).
fn all_documented(dir: &std::path::Path, summary: &Value) {
    use super::formats::{doc, jsonl_names, keys, section, undocumented};
    let doc = doc();
    let mut fields = std::collections::BTreeSet::new();
    keys(summary, &mut fields);
    let missing = undocumented(section(&doc, "### 3.4"), &fields);
    assert!(missing.is_empty(), "summary.json fields not in docs/formats.md §3.4: {missing:?}");
    let (fields, kinds) = jsonl_names(&dir.join("events.jsonl"), "event");
    let events = section(&doc, "### 3.2");
    assert!(kinds.iter().all(|k| events.contains(&format!("`{k}`"))), "event kinds not in docs/formats.md §3.2: {kinds:?}");
    let missing = undocumented(events, &fields);
    assert!(missing.is_empty(), "event fields not in docs/formats.md §3.2: {missing:?}");
}

fn hex_bytes(s: &str) -> Vec<u8> {
    s.split_whitespace().filter(|w| *w != "…").map(|w| u8::from_str_radix(w, 16).unwrap()).collect()
}

/// The corrupt fault's recorded changes, each checked against the file as the run left it:
/// the bytes at the offset are the new ones (unless etcd cut the file back itself, repairing
/// what it took for a torn tail — then its log says so).
fn changes_are_on_disk(events: &[Value], dir: &std::path::Path) -> Vec<Value> {
    let start = events.iter().find(|e| e["event"] == "fault-start" && e["kind"] == "corrupt").expect("a corrupt fault-start event");
    let changes = start["params"]["changes"].as_array().expect("the changes recorded").clone();
    assert!(!changes.is_empty());
    for c in &changes {
        let member = c["member"].as_str().unwrap();
        let path = dir.join("data").join(member).join(c["file"].as_str().unwrap());
        let data = std::fs::read(&path).unwrap();
        let (off, n) = (c["offset"].as_u64().unwrap() as usize, c["bytes"].as_u64().unwrap() as usize);
        let new = hex_bytes(c["new"].as_str().unwrap());
        assert_eq!(new.len(), n.min(16));
        let old = hex_bytes(c["old"].as_str().unwrap());
        assert_ne!(old, new, "a change that changed nothing: {c}");
        if data.len() >= off + new.len() && data[off..off + new.len()] == new[..] {
            continue;
        }
        let log = std::fs::read_to_string(dir.join("logs").join(format!("{member}.log"))).unwrap();
        assert!(log.contains("repair"), "{member}'s {} does not hold the recorded bytes {c} and its log says no repair", path.display());
    }
    changes
}

#[test]
fn a_wal_bitflip_is_proven_and_a_member_that_refuses_it_stays_down_in_a_valid_run() {
    let (code, s, events, dir, _keep, err) = run(
        "wal",
        "name: it-wal-bitflip\nseed: 19\nworkload: {clients: 4, rate: 200/s, duration: 12s}\nfaults:\n  - {at: 3s, for: 3s, kind: corrupt, target: follower, path: \"member/wal/*.wal\", mode: bitflip, bytes: 4}\nexpect: {linearizable: true, consistent: true, min_ok_ops: 200}\n",
    );
    assert_eq!(code, 0, "the run stays valid and passes either way: {err}\n{s}");
    let changes = changes_are_on_disk(&events, &dir);
    let member = changes[0]["member"].as_str().unwrap();
    let c = &s["corruption"];
    assert_eq!(c["faults"][0]["targets"][0], member, "{c}");
    let refused = c["refused"].as_array().cloned().unwrap_or_default();
    if refused.is_empty() {
        // It started on its WAL: then it is compared with the others.
        assert!(s["consistency"]["members"].as_array().unwrap().iter().any(|m| m["member"] == member), "{s}");
    } else {
        let said = refused[0].as_str().unwrap();
        assert!(said.starts_with(&format!("{member} refused its WAL: ")), "{said}");
        assert!(c["time_to_detection_s"]["etcd-refused-start"].as_f64().unwrap() > 0.0, "{c}");
        let skipped = s["consistency"]["skipped"].as_array().expect("the refused member is left out, and said so");
        assert!(skipped[0].as_str().unwrap().starts_with(&format!("{member} not compared")), "{skipped:?}");
        assert_eq!(s["consistency"]["consistent"], true, "the others agree: {s}");
        assert!(events.iter().any(|e| e["event"] == "corruption-detected" && e["by"] == "etcd-refused-start" && e["member"] == member));
    }
    all_documented(&dir, &s);
    let (_, out, _) = util::faultline(&["clean"]);
    assert!(out.contains("nothing to clean"), "{out}");
}

#[test]
fn a_db_bitflip_is_found_by_etcds_periodic_check_and_by_faultlines_hashkv_both_timed() {
    let (code, s, events, dir, _keep, err) = run(
        "db",
        "name: it-db-bitflip\nseed: 23\ncluster: {etcd: {initial_corrupt_check: true, corrupt_check_time: 2s}}\nworkload: {clients: 4, rate: 200/s, duration: 14s}\nfaults:\n  - {at: 3s, for: 2s, kind: corrupt, target: follower, path: member/snap/db}\nexpect: {linearizable: true, min_ok_ops: 200}\n",
    );
    assert_eq!(code, 0, "{err}\n{s}");
    let changes = changes_are_on_disk(&events, &dir);
    assert_eq!(changes[0]["file"], "member/snap/db");
    assert_eq!(changes[0]["bytes"], 1, "bitflip of 1 byte by default");
    let ttd = &s["corruption"]["time_to_detection_s"];
    let etcd = ttd["etcd-alarm"].as_f64().or_else(|| ttd["etcd-log"].as_f64());
    assert!(etcd.is_some_and(|t| t > 0.0), "etcd's periodic check noticed: {}", s["corruption"]);
    assert!(ttd["faultline-hashkv"].as_f64().is_some_and(|t| t > etcd.unwrap_or(0.0) - 1e-9), "faultline's HashKV too: {}", s["corruption"]);
    assert_eq!(s["consistency"]["consistent"], false, "the damaged member's HashKV differs: {}", s["consistency"]);
    all_documented(&dir, &s);
    let member = changes[0]["member"].as_str().unwrap();
    assert!(s["consistency"]["differences"][0].as_str().unwrap().starts_with(&format!("{member}'s HashKV")), "{}", s["consistency"]);
}

#[test]
fn a_path_that_matches_nothing_is_refused_with_what_the_directory_holds() {
    let (code, s, _, _, _keep, err) =
        run("nothing", "name: it-corrupt-nothing\nworkload: {clients: 2, rate: 50/s, duration: 4s}\nfaults:\n  - {at: 1s, for: 1s, kind: corrupt, target: n2, path: member/nothing/*}\n");
    assert_eq!(code, 5, "invalid: {err}");
    let why = s["invalid_reasons"].to_string();
    assert!(
        why.contains("`path: member/nothing/*` matches no file in n2's data directory") && why.contains("member/snap/db") && why.contains("member/wal/"),
        "{why}"
    );
}

#[test]
fn a_container_members_wal_is_corrupted_through_its_bind_mounted_data_dir() {
    if !util::docker() {
        return;
    }
    let (code, s, events, dir, _keep, err) = run(
        "docker",
        "name: it-docker-corrupt\nseed: 19\ncluster: {backend: docker}\nworkload: {clients: 4, rate: 100/s, duration: 12s}\nfaults:\n  - {at: 3s, for: 3s, kind: corrupt, target: follower, path: \"member/wal/*.wal\", mode: zero, offset: tail, bytes: 64}\nexpect: {linearizable: true, min_ok_ops: 100}\n",
    );
    assert_eq!(code, 0, "{err}\n{s}");
    let changes = changes_are_on_disk(&events, &dir);
    assert_eq!(hex_bytes(changes[0]["new"].as_str().unwrap()), vec![0; 16]);
    assert!(s["corruption"]["faults"][0]["restarted_s"].as_f64().is_some(), "{}", s["corruption"]);
}
