//! Real clusters: start-up, faults and their proofs, restart on data, catch-up, the
//! consistency check (both verdicts), a whole `faultline run`, and `faultline clean` on an
//! orphaned run.

use crate::util::{require_root, TestCluster};
use faultline::cluster::{netns, MemberState};
use faultline::consistency;
use faultline::fault;
use faultline::fault::kinds::{cpu_limit::CpuLimit, cpu_stress::CpuStress, io_latency, io_rule::DiskFault, kill::Kill, partition::Partition, pause::Pause};
use faultline::scenario::{FaultKind, PartitionMode, Target};
use std::time::{Duration, Instant};

use crate::util::planned;

#[test]
fn three_members_come_up_and_agree_on_a_leader() {
    let c = TestCluster::start(3);
    let v = c.wait_leader(Duration::from_secs(5));
    let leader = v.leader.clone().expect("a leader");
    assert_eq!(v.members.len(), 3);
    assert!(v.members.iter().all(|m| m.reachable && m.leader.as_deref() == Some(leader.as_str())), "{v:?}");
    // Nothing in the host namespace: every link lives in the run's namespaces.
    let host_links = std::process::Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&host_links.stdout).contains(&format!("faultline-{}", c.run_id)));
    assert_eq!(netns::list(&format!("faultline-{}", c.run_id)).len(), 3 + 2, "3 members, a bridge and a client namespace");
}

#[test]
fn isolating_the_leader_elects_another_and_the_old_one_rejoins_after_heal() {
    leader_isolation(&TestCluster::start(3));
}

/// Isolate the leader: the others elect a new one at a higher term; healed, the old one
/// rejoins. (Run on each backend.)
pub fn leader_isolation(c: &TestCluster) {
    let before = c.wait_leader(Duration::from_secs(5));
    let old = before.leader.clone().unwrap();
    let (inj, _) =
        fault::inject(c.backend.as_ref(), &c.layers, &planned(FaultKind::new(Partition { mode: PartitionMode::Isolate }), Target::Leader), Some(&old), &[])
            .expect("partition takes effect");
    assert_eq!(inj.record.targets, vec![old.clone()]);
    assert!(inj.record.proof.contains("blocked"), "{}", inj.record.proof);
    // The other two elect a new leader at a higher term.
    let deadline = Instant::now() + Duration::from_secs(15);
    let new = loop {
        let v = c.view_of_majority(&old);
        if let Some((l, term)) = v {
            if l != old && term > before.term {
                break l;
            }
        }
        assert!(Instant::now() < deadline, "no new leader while {old} was isolated");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_ne!(new, old);
    let (rec, _) = inj.heal(c.backend.as_ref(), &c.layers).expect("heal");
    assert!(rec.proof.contains("crossed"), "{}", rec.proof);
    let after = c.wait_leader(Duration::from_secs(20));
    assert!(after.members.iter().any(|m| m.member == old && m.reachable), "{old} rejoined: {after:?}");
    assert_ne!(after.leader.as_deref(), None);
}

#[test]
fn a_killed_member_restarts_on_its_data_and_serves_a_key_written_before() {
    kill_and_restart(&TestCluster::start(3));
}

/// Kill n2, restart it on its data: it serves a key written before the kill.
pub fn kill_and_restart(c: &TestCluster) {
    c.put("n2", "before-kill", "42");
    let (inj, events) = fault::inject(c.backend.as_ref(), &c.layers, &planned(FaultKind::new(Kill::default()), Target::Member(2)), None, &[]).expect("kill");
    assert!(inj.record.proof.contains("gone"), "{}", inj.record.proof);
    assert_eq!(events.len(), 1);
    assert_eq!(c.backend.state("n2"), MemberState::Down);
    let pid_before = inj.record.proof.clone();
    inj.heal(c.backend.as_ref(), &c.layers).expect("restart");
    assert_eq!(c.backend.state("n2"), MemberState::Running, "{pid_before}");
    c.wait_leader(Duration::from_secs(20));
    assert_eq!(c.get_local("n2", "before-kill").as_deref(), Some("42"));
}

#[test]
fn a_paused_member_falls_behind_and_catches_up() {
    pause_and_catch_up(&TestCluster::start(3), "SIGSTOP");
}

/// Pause a follower (the proof names `verb`), write while it is paused, resume: it catches up.
pub fn pause_and_catch_up(c: &TestCluster, verb: &str) {
    let v = c.wait_leader(Duration::from_secs(5));
    let follower = v.members.iter().find(|m| Some(&m.member) != v.leader.as_ref()).unwrap().member.clone();
    let n: u8 = follower[1..].parse().unwrap();
    let (inj, _) = fault::inject(c.backend.as_ref(), &c.layers, &planned(FaultKind::new(Pause), Target::Member(n)), None, &[]).expect("pause");
    assert!(inj.record.proof.contains("paused") && inj.record.proof.contains(verb), "{}", inj.record.proof);
    assert_eq!(c.backend.state(&follower), MemberState::Paused);
    let leader = v.leader.clone().unwrap();
    for i in 0..50 {
        c.put(&leader, &format!("while-paused-{i}"), "x");
    }
    // Paused: it cannot have the writes (it answers nothing at all).
    let behind = c.view_of_majority(&follower);
    assert!(behind.is_some());
    inj.heal(c.backend.as_ref(), &c.layers).expect("resume");
    let deadline = Instant::now() + Duration::from_secs(15);
    while c.get_local(&follower, "while-paused-49").is_none() {
        assert!(Instant::now() < deadline, "{follower} did not catch up after resuming");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_consistency_check_finds_equal_members_and_a_diverged_one() {
    let c = TestCluster::start(3);
    for i in 0..20 {
        c.put("n1", &format!("k{i}"), &i.to_string());
    }
    let eps = c.endpoints();
    let ok = c.rt.block_on(consistency::check(&eps, Duration::from_secs(15)));
    assert!(ok.consistent, "{ok:?}");
    assert_eq!(ok.members.len(), 3);
    assert!(ok.members.iter().all(|m| m.keys == Some(20)), "{ok:?}");

    // An operator's mistake: n3, cut off from its peers, is restarted alone with
    // --force-new-cluster and written to, then started again with its old flags. (While it
    // stays cut off its old peers keep running; once they reach it, etcd's removed-member
    // guard shuts them down, which the check would also flag, but as silence, not as data.)
    let (_cut, _) =
        fault::inject(c.backend.as_ref(), &c.layers, &planned(FaultKind::new(Partition { mode: PartitionMode::Isolate }), Target::Member(3)), None, &[])
            .expect("isolate n3");
    c.backend.signal("n3", nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(c.backend.wait_exit("n3", Duration::from_secs(10)));
    c.backend.start_with("n3", &["--force-new-cluster".to_string()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ep = c.endpoint("n3");
        let r = c.rt.block_on(async move {
            let mut cl = faultline::client::connect(&ep, Duration::from_secs(2)).await?;
            cl.put("diverged", "only-on-n3", None).await
        });
        if r.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "n3 alone never took a write: {r:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    c.backend.signal("n3", nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(c.backend.wait_exit("n3", Duration::from_secs(10)));
    c.backend.start("n3").unwrap();
    let bad = c.rt.block_on(consistency::check(&eps, Duration::from_secs(8)));
    assert!(!bad.consistent, "the diverged member must be found: {bad:?}");
    assert!(bad.differences.iter().any(|d| d.contains("n3")), "{:?}", bad.differences);
    let n3 = bad.members.iter().find(|m| m.member == "n3").unwrap();
    let n1 = bad.members.iter().find(|m| m.member == "n1").unwrap();
    assert!(n3.revision > n1.revision, "n3 holds the write it took while alone: {bad:?}");
}

#[test]
fn a_whole_run_with_a_leader_partition_reports_a_leader_change_and_passes() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("s.yaml");
    std::fs::write(
        &scen,
        "name: it-partition\nseed: 3\nworkload: {clients: 4, rate: 200/s, duration: 14s}\nfaults:\n  - {at: 3s, for: 6s, kind: partition, target: leader}\nexpect: {consistent: true, max_leader_changes: 4, min_ok_ops: 200}\n",
    )
    .unwrap();
    let dir = out.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", dir.to_str().unwrap(), "--quiet", "--backend", "process"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "stderr: {err}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert!(summary["leader_changes"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["consistency"]["consistent"], true, "{summary}");
    assert_eq!(summary["faults"][0]["mechanism"], "iptables");
    assert!(summary["ops"]["ok"].as_u64().unwrap() >= 200);
    assert!(summary["latency_ms"]["all"]["p99"].as_f64().unwrap() > 0.0);
    for f in ["scenario.yaml", "history.jsonl", "events.jsonl", "logs/n1.log"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(events.contains("\"event\":\"fault-start\"") && events.contains("\"event\":\"fault-heal\""));
    // Issue 15 item 3: the fault starts when its injection began (at 3 s, give or take the
    // walker's wake-up), and the proof came after; set-up events have their real, negative
    // offsets from the workload start.
    let evs: Vec<serde_json::Value> = events.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let start = evs.iter().find(|e| e["event"] == "fault-start").expect("a fault-start");
    let (t, proven) = (start["t"].as_i64().unwrap(), start["proven_t"].as_i64().expect("fault-start has proven_t"));
    assert!((3_000_000_000..3_100_000_000).contains(&t), "injection began at 3 s: {start}");
    assert!(proven > t, "proven after it began: {start}");
    assert_eq!(summary["faults"][0]["from_s"].as_f64().unwrap(), (t as f64 / 1e6).round() / 1e3, "{summary}");
    assert!(summary["faults"][0]["proven_s"].as_f64().unwrap() > summary["faults"][0]["from_s"].as_f64().unwrap(), "{summary}");
    let member_starts: Vec<i64> = evs.iter().filter(|e| e["event"] == "member-start").take(3).map(|e| e["t"].as_i64().unwrap()).collect();
    assert!(member_starts.len() == 3 && member_starts.iter().all(|&t| t < 0), "set-up before clock zero: {member_starts:?}");
    assert!(netns::list("faultline-").iter().all(|n| !n.contains("it-partition")));
}

#[test]
fn clean_removes_everything_an_orphaned_run_left() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("s.yaml");
    std::fs::write(&scen, "name: it-orphan\nworkload: {clients: 2, rate: 50/s, duration: 60s}\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", out.path().join("run").to_str().unwrap(), "--quiet", "--backend", "process"])
        .spawn()
        .unwrap();
    // Wait until its cluster is up (its history file appears at workload start).
    let deadline = Instant::now() + Duration::from_secs(40);
    while !out.path().join("run/history.jsonl").exists() {
        assert!(Instant::now() < deadline, "the run never started its workload");
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = faultline::cluster::state::RunState::all().into_iter().find(|s| s.harness_pid == child.id()).expect("run state");
    let run = st.run_id.clone();
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert!(!netns::list(&format!("faultline-{run}")).is_empty(), "the orphan left namespaces behind (as expected)");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline")).args(["clean", "--run", &run]).output().unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert!(said.contains("removed network namespace"), "{said}");
    assert!(netns::list(&format!("faultline-{run}")).is_empty());
    assert!(faultline::cluster::cgroup::list(&format!("{run}-")).is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let etcds = std::process::Command::new("pgrep").args(["-f", &format!("faultline-{run}")]).output().unwrap();
    assert!(etcds.stdout.is_empty(), "etcd processes of the run survived clean");
    assert!(!faultline::cluster::state::RunState::path(&run).exists());
}

#[test]
fn a_cpu_stressed_member_shows_the_burners_in_its_cgroup_and_a_capped_one_is_throttled() {
    faultline::fault::cpu::set_worker_exe(std::path::Path::new(env!("CARGO_BIN_EXE_faultline")));
    let c = TestCluster::start(3);
    let m = c.backend.member("n2").unwrap();
    let usage = || -> u64 {
        let d = m.cgroup.iter().find(|d| d.join("cpuacct.usage").exists()).expect("a cpuacct cgroup");
        std::fs::read_to_string(d.join("cpuacct.usage")).unwrap().trim().parse().unwrap()
    };
    let before = usage();
    std::thread::sleep(Duration::from_secs(1));
    let idle = usage() - before;
    let load = faultline::scenario::units::Percent(100.0);
    let (inj, _) = fault::inject(c.backend.as_ref(), &c.layers, &planned(FaultKind::new(CpuStress { workers: 1, load }), Target::Member(2)), None, &[])
        .expect("cpu-stress");
    assert!(inj.record.proof.contains("burner"), "{}", inj.record.proof);
    let start = usage();
    std::thread::sleep(Duration::from_secs(1));
    let stressed = usage() - start;
    inj.heal(c.backend.as_ref(), &c.layers).expect("stop the burners");
    // One burner at 100 % adds most of a core to the member's own CPU use (2 cores here,
    // shared with the other members and the test).
    assert!(stressed > idle + 400_000_000, "member CPU in 1 s: idle {idle} ns, stressed {stressed} ns");
    let workers = std::process::Command::new("pgrep").args(["-f", "stress-worker"]).output().unwrap();
    assert!(workers.stdout.is_empty(), "burners left running");

    let (inj, _) =
        fault::inject(c.backend.as_ref(), &c.layers, &planned(FaultKind::new(CpuLimit { cores: 0.05 }), Target::Member(2)), None, &[]).expect("cpu-limit");
    assert!(inj.record.proof.contains("5000 100000"), "{}", inj.record.proof);
    for i in 0..20 {
        c.put("n2", &format!("capped-{i}"), "x");
    }
    let (rec, _) = inj.heal(c.backend.as_ref(), &c.layers).expect("restore the quota");
    assert!(rec.proof.contains("quota restored"), "{}", rec.proof);
    let d = m.cgroup.iter().find(|d| d.join("cpu.cfs_quota_us").exists()).unwrap();
    assert_eq!(std::fs::read_to_string(d.join("cpu.cfs_quota_us")).unwrap().trim(), "-1");
}

#[test]
fn a_write_waits_for_the_leaders_delayed_wal_fsync_and_the_layer_counts_it() {
    let c = TestCluster::start_on_layers(3, faultline::fault::disk::DurabilityMode::Durable);
    let v = c.wait_leader(Duration::from_secs(5));
    let leader = v.leader.clone().unwrap();
    let n: u8 = leader[1..].parse().unwrap();
    let fast = Instant::now();
    c.put(&leader, "before", "x");
    let before = fast.elapsed();
    let d = DiskFault {
        ops: vec!["fsync".into()],
        percent: faultline::scenario::units::Percent(100.0),
        path: Some("member/wal/*".into()),
        delay: Some(faultline::scenario::units::Span(Duration::from_millis(200))),
        jitter: None,
        errno: None,
    };
    let (inj, _) = fault::inject(c.backend.as_ref(), &c.layers, &planned(io_latency::new(d), Target::Member(n)), Some(&leader), &[]).expect("io-latency");
    assert_eq!(inj.record.mechanism, "fuse");
    let slow = Instant::now();
    c.put(&leader, "during", "y");
    let during = slow.elapsed();
    let (rec, _) = inj.heal(c.backend.as_ref(), &c.layers).expect("heal");
    // etcd fsyncs its WAL before it acknowledges a write: the write takes the delay.
    assert!(during >= Duration::from_millis(200), "a write took {during:?} with a 200 ms WAL fsync (before: {before:?})");
    assert!(before < Duration::from_millis(200), "a write took {before:?} before the fault");
    assert!(rec.proof.contains("delayed") && !rec.proof.contains(" 0 delayed"), "{}", rec.proof);
    let data = c.backend.member(&leader).unwrap().data_dir;
    drop(c);
    assert!(faultline::fault::disk::list_mounts("faultline-").iter().all(|p| *p != data), "the layer over {} is still mounted", data.display());
}

#[test]
fn a_replay_has_the_same_schedule_members_and_operations_as_its_original() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("r.yaml");
    std::fs::write(
        &scen,
        "name: it-replay\nseed: 9\nworkload: {clients: 4, rate: 200/s, duration: 8s}\nfaults:\n  - {at: 2s, for: 3s, kind: partition, target: leader}\n  - {at: 5s, for: 2s, kind: pause, target: follower}\nexpect: {linearizable: true}\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_faultline");
    let (a, b) = (out.path().join("a"), out.path().join("b"));
    let o = std::process::Command::new(bin)
        .args(["run", scen.to_str().unwrap(), "--backend", "process", "--quiet", "--out", a.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = std::process::Command::new(bin)
        .args(["replay", a.to_str().unwrap(), "--backend", "process", "--quiet", "--out", b.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // The same schedule (kinds, offsets, draws), pinned in the replay to the original's members.
    let sched = |d: &std::path::Path| -> Vec<serde_json::Value> {
        let mut v: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(d.join("schedule.json")).unwrap()).unwrap();
        v.iter_mut().for_each(|p| {
            p.as_object_mut().unwrap().remove("pinned");
        });
        v
    };
    assert_eq!(sched(&a), sched(&b));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(b.join("replay.json")).unwrap()).unwrap();
    for f in r["faults"].as_array().unwrap() {
        assert_eq!(f["original_targets"], f["replay_targets"], "{r}");
        assert!(f["replay_at_s"].is_number(), "{r}");
    }
    // Every client slot invoked the same operations, as far as both runs went.
    assert_eq!(r["clients_same"].as_array().unwrap().len(), 4, "{r}");
    assert!(r["clients_differ"].as_array().unwrap().is_empty(), "{r}");
    assert!(r["ops_compared"].as_u64().unwrap() > 100, "{r}");
}

#[test]
fn compaction_defrag_move_leader_and_alarm_disarm_verify_themselves() {
    let c = TestCluster::start(3);
    for i in 0..200 {
        c.put("n1", &format!("op-{}", i % 10), &"x".repeat(512));
    }
    let eps = c.endpoints();
    let done = c.rt.block_on(faultline::ops::compact(&eps, 0)).expect("compact");
    assert!(done.detail.contains("is refused"), "{}", done.detail);
    let done = c.rt.block_on(faultline::ops::defrag(&eps)).expect("defrag");
    assert_eq!(done.targets.len(), 3);
    // After a compaction the defragmented database is no larger than before.
    for part in done.detail.split("; ") {
        let nums: Vec<u64> = part.split(|ch: char| !ch.is_ascii_digit()).filter_map(|x| x.parse().ok()).collect();
        let (before, after) = (nums[nums.len() - 2], nums[nums.len() - 1]);
        assert!(after <= before, "{part}");
    }
    let v = c.wait_leader(Duration::from_secs(5));
    let leader = v.leader.clone().unwrap();
    let to = v.members.iter().find(|m| m.member != leader).unwrap().member.clone();
    let done = c.rt.block_on(faultline::ops::move_leader(&eps, &leader, &to)).expect("move-leader");
    assert!(done.detail.contains(&format!("{to} reports itself leader")), "{}", done.detail);
    assert_eq!(c.wait_leader(Duration::from_secs(5)).leader.as_deref(), Some(to.as_str()));
    let done = c.rt.block_on(faultline::ops::alarm_disarm(&eps, "")).expect("alarm-disarm");
    assert!(done.detail.contains("none left"), "{}", done.detail);
}

/// Membership changes on a real cluster, verified as an operator would: the member list, a
/// learner's status, data on the new members, the removed member's process and data gone.
pub fn membership_changes_as_asked(c: &TestCluster) {
    use faultline::ops::membership::{self, member_list};
    let b = c.backend.clone();
    c.put("n1", "before", "1");
    // A learner joins, catches up (it holds a key written before it existed), is promoted.
    let done = c.rt.block_on(membership::member_add(&b, &c.endpoints(), true, None)).expect("member-add as a learner");
    assert_eq!(done.targets, ["n4"], "{}", done.detail);
    let list = c.rt.block_on(member_list(&c.endpoints())).unwrap();
    assert_eq!(list.len(), 4, "{list:?}");
    assert!(list.iter().any(|m| m.name == "n4" && m.learner), "{list:?}");
    assert_eq!(c.get_local("n4", "before").as_deref(), Some("1"), "the learner has the data written before it joined");
    let done = c.rt.block_on(membership::learner_promote(&c.endpoints(), None)).expect("learner-promote");
    assert!(done.detail.contains("n4 promoted"), "{}", done.detail);
    let list = c.rt.block_on(member_list(&c.endpoints())).unwrap();
    assert!(list.iter().all(|m| !m.learner), "{list:?}");
    // n2 goes: gone from the list, its process stopped, its data deleted.
    let n2 = c.backend.member("n2").unwrap();
    let done = c.rt.block_on(membership::member_remove(&b, &c.endpoints(), "n2")).expect("member-remove");
    assert!(done.detail.contains("n2"), "{}", done.detail);
    assert!(c.backend.member("n2").is_err(), "a removed member is no longer one");
    assert_eq!(std::fs::read_dir(&n2.data_dir).map(|d| d.count()).unwrap_or(0), 0, "its data is gone");
    let names: Vec<String> = c.rt.block_on(member_list(&c.endpoints())).unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.contains(&"n2".to_string()), "{names:?}");
    // n3 is replaced: a new member id under the same name, with the data back.
    let old = c.rt.block_on(member_list(&c.endpoints())).unwrap().into_iter().find(|m| m.name == "n3").unwrap().id;
    c.rt.block_on(membership::member_replace(&b, &c.endpoints(), "n3")).expect("member-replace");
    let new = c.rt.block_on(member_list(&c.endpoints())).unwrap().into_iter().find(|m| m.name == "n3").expect("n3 is back").id;
    assert_ne!(old, new, "a replaced member is a new member");
    assert_eq!(c.get_local("n3", "before").as_deref(), Some("1"));
    c.put("n4", "after", "2");
    let v = c.wait_leader(Duration::from_secs(10));
    assert_eq!(v.members.len(), 3);
    // A rolling restart with new settings: each member restarts and catches up.
    let leader = v.leader.clone();
    let names: Vec<String> = c.endpoints().into_iter().map(|e| e.member).collect();
    let order = faultline::ops::restart::order(&names, leader.as_deref());
    assert_eq!(order.last(), leader.as_ref());
    let cfg = faultline::cluster::MemberConfig { args: vec!["--heartbeat-interval=150".into(), "--election-timeout=1500".into()], ..Default::default() };
    for m in &order {
        let said = c.rt.block_on(faultline::ops::restart::restart_member(&b, &c.endpoints(), m, Some(cfg.clone()))).expect("restart");
        assert!(said.contains("caught up"), "{said}");
    }
    assert_eq!(c.get_local("n1", "after").as_deref(), Some("2"));
}

#[test]
fn members_are_added_as_learners_promoted_removed_replaced_and_restarted_in_turn() {
    let c = TestCluster::start(3);
    membership_changes_as_asked(&c);
}

#[test]
fn a_restore_brings_the_cluster_back_at_the_snapshots_revision_with_its_keys() {
    restore_from_snapshot(&TestCluster::start(3));
}

/// Put keys, save a snapshot, put more, kill n2, restore: every member comes back at the
/// snapshot's revision with the keys it held and without the later ones, and takes writes.
pub fn restore_from_snapshot(c: &TestCluster) {
    use faultline::events::EventKind;
    use faultline::ops::Snapshots;
    c.put("n1", "a", "1");
    c.put("n1", "b", "2");
    let dir = c._dir.path();
    let keys = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let snaps = Snapshots::new(c.backend.clone(), dir, Default::default(), faultline::history::Clock::start(), keys, "");
    let leader = c.wait_leader(Duration::from_secs(5)).leader.unwrap();
    let done = c.rt.block_on(snaps.save(&c.endpoint(&leader), "snap1")).expect("snapshot-save");
    let snap = snaps.get("snap1").unwrap();
    assert!(dir.join("snapshots/snap1.db").is_file(), "{}", done.detail);
    assert_eq!(snap.keys, 2, "{}", done.detail);
    assert!(done.detail.contains(&format!("revision {}", snap.revision)), "{}", done.detail);
    // After the snapshot: lost by the restore.
    c.put("n1", "a", "3");
    c.put("n1", "c", "4");
    let (_inj, _) = fault::inject(c.backend.as_ref(), &c.layers, &planned(FaultKind::new(Kill::default()), Target::Member(2)), None, &[]).expect("kill");
    let eps = c.endpoints();
    let done = c.rt.block_on(snaps.restore(&eps, "snap1")).expect("snapshot-restore");
    assert!(done.detail.contains("n2 down already") && done.detail.contains(&format!("every member at revision {}", snap.revision)), "{}", done.detail);
    let events = snaps.take_events();
    let restored = events.iter().find_map(|e| match e {
        EventKind::SnapshotRestored { revision, values, began_t, ended_t, .. } => Some((*revision, values.clone(), began_t < ended_t)),
        _ => None,
    });
    let (revision, values, ordered) = restored.expect("a snapshot-restored event");
    assert_eq!((revision, ordered), (snap.revision, true));
    assert_eq!(values.get("a"), Some(&Some("1".to_string())));
    assert_eq!(values.get("c"), Some(&None));
    // Every member started again, each with the snapshot's keys and not the later ones.
    assert_eq!(events.iter().filter(|e| matches!(e, EventKind::MemberStart { .. })).count(), 3);
    c.wait_leader(Duration::from_secs(10));
    for m in ["n1", "n2", "n3"] {
        assert_eq!(c.backend.state(m), MemberState::Running);
        assert_eq!((c.get_local(m, "a").as_deref(), c.get_local(m, "b").as_deref(), c.get_local(m, "c")), (Some("1"), Some("2"), None), "{m}");
    }
    // The restored cluster takes writes.
    c.put("n3", "d", "5");
}
