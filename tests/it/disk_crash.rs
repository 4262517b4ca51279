//! The disk layer alone (no etcd): crash points fire at exactly the n-th matching call and kill
//! the process making it (a shell as the "member"), before or after carrying the call out;
//! torn power losses keep a prefix of one write, or a subset of the writes in order; lost
//! directory operations undo creates and renames not followed by an fsync of their directory;
//! read mistakes change what a read answers, never the file.

use crate::disk::Mounted;
use faultline::fault::disk::{CrashPoint, Cut, DurabilityMode, IoOp, Mistake, MistakeMode, PowerLoss, Timing, Torn, SECTOR};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A shell running `script` in the mount, waiting on its stdin until `go` (so the crash point
/// can be armed with its pid first).
fn shell(m: &Mounted, script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read go; {script}"))
        .current_dir(&m.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh")
}

fn go(c: &mut Child) {
    c.stdin.take().unwrap().write_all(b"go\n").unwrap();
}

/// Wait for the shell; the signal that ended it, if any.
fn ended_by(c: &mut Child) -> Option<i32> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s.signal();
        }
        assert!(Instant::now() < end, "the shell did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn point(call: IoOp, path: Option<&str>, nth: u64, timing: Timing, pid: u32, loss: Option<PowerLoss>) -> CrashPoint {
    CrashPoint { call, path: path.map(str::to_string), nth, timing, pid, loss }
}

#[test]
fn a_crash_point_kills_the_writer_at_its_nth_write_before_or_after_it() {
    for (timing, want) in [(Timing::Before, "1\n2\n"), (Timing::After, "1\n2\n3\n")] {
        let mut m = Mounted::new(|_| {});
        let mut sh = shell(&m, "for i in 1 2 3 4 5; do echo $i >> log; done; sleep 5");
        m.layer().arm_crash(point(IoOp::Write, Some("log"), 3, timing, sh.id(), None)).unwrap();
        go(&mut sh);
        assert_eq!(ended_by(&mut sh), Some(libc::SIGKILL), "{timing:?}: the writer is killed in its call");
        let s = m.layer().crash_status().expect("a point");
        let f = s.fired.expect("fired");
        assert_eq!((f.call, f.path.as_str(), f.n, f.pid), (IoOp::Write, "log", 3, sh.id()));
        assert!(f.kill.is_ok());
        assert_eq!(String::from_utf8(m.underneath("log")).unwrap(), want, "{timing:?}");
        // Fenced until disarmed: nothing changes the directory any more.
        assert!(fs::write(m.path("other"), b"x").is_err(), "a fired point fences the layer");
        m.layer().disarm_crash();
        fs::write(m.path("other"), b"x").unwrap();
        m.unmount();
    }
}

#[test]
fn a_crash_point_counts_only_its_path_and_drops_unsynced_data_at_the_same_instant() {
    for (timing, want) in [(Timing::Before, "a\n"), (Timing::After, "a\nc\n")] {
        let mut m = Mounted::new(|d| fs::create_dir(d.join("wal")).unwrap());
        m.layer().set_mode(DurabilityMode::LoseUnsynced);
        let script = "echo a > wal/0.wal; sync wal/0.wal; echo b > other; sync other; echo c >> wal/0.wal; sync wal/0.wal; echo d >> wal/0.wal; sleep 5";
        let mut sh = shell(&m, script);
        let loss = PowerLoss { seed: 1, ..PowerLoss::default() };
        m.layer().arm_crash(point(IoOp::Fsync, Some("wal/*.wal"), 2, timing, sh.id(), Some(loss))).unwrap();
        go(&mut sh);
        assert_eq!(ended_by(&mut sh), Some(libc::SIGKILL));
        let f = m.layer().disarm_crash().and_then(|s| s.fired).expect("fired");
        assert_eq!((f.call, f.path.as_str(), f.n), (IoOp::Fsync, "wal/0.wal", 2), "{timing:?}: the other file's fsync is not counted");
        let loss = f.loss.expect("a power loss");
        // before: "c\n" was unsynced when it fired; after: the fsync wrote it out first.
        assert_eq!(loss.unsynced.bytes, if timing == Timing::Before { 2 } else { 0 }, "{}", loss.describe());
        assert_eq!(String::from_utf8(m.underneath("wal/0.wal")).unwrap(), want, "{timing:?}");
        assert_eq!(m.underneath("other"), b"b\n");
        assert_eq!(fs::read(m.path("wal/0.wal")).unwrap(), want.as_bytes(), "the mount shows what survived");
        m.unmount();
    }
}

#[test]
fn a_crash_point_fires_at_a_rename_and_one_never_reached_says_how_many_calls_it_saw() {
    let mut m = Mounted::new(|_| {});
    let mut sh = shell(&m, "echo x > a.tmp; mv a.tmp a; echo y > b.tmp; mv b.tmp b; sleep 5");
    m.layer().arm_crash(point(IoOp::Rename, Some("*.tmp"), 2, Timing::Before, sh.id(), None)).unwrap();
    go(&mut sh);
    assert_eq!(ended_by(&mut sh), Some(libc::SIGKILL));
    let f = m.layer().disarm_crash().and_then(|s| s.fired).expect("fired");
    assert_eq!((f.path.as_str(), f.n), ("b.tmp", 2));
    assert_eq!(m.underneath("a"), b"x\n");
    assert_eq!(m.underneath("b.tmp"), b"y\n", "the rename was not carried out");
    assert!(!m.path("b").exists());

    let mut sh = shell(&m, "sync a; exit 0");
    m.layer().arm_crash(point(IoOp::Fsync, Some("a"), 3, Timing::Before, sh.id(), None)).unwrap();
    go(&mut sh);
    assert_eq!(ended_by(&mut sh), None, "not killed");
    let s = m.layer().disarm_crash().expect("a point");
    assert!(s.armed && s.fired.is_none());
    assert_eq!(s.seen, 1);
    assert!(m.layer().crash_status().is_none(), "disarmed");
    m.unmount();
}

/// Write `data` at `off` through the mount.
fn pwrite(m: &Mounted, rel: &str, data: &[u8], off: u64) {
    let f = OpenOptions::new().write(true).create(true).truncate(false).open(m.path(rel)).unwrap();
    f.write_all_at(data, off).unwrap();
}

#[test]
fn a_torn_write_keeps_the_earlier_writes_and_a_sector_aligned_or_byte_prefix_of_the_last() {
    for (cut, seed) in [(Cut::Sector, 1u64), (Cut::Sector, 2), (Cut::Byte, 3), (Cut::Byte, 4)] {
        let mut m = Mounted::new(|_| {});
        m.layer().set_mode(DurabilityMode::LoseUnsynced);
        pwrite(&m, "wal", &[b'S'; 4096], 0);
        File::open(m.path("wal")).unwrap().sync_all().unwrap();
        pwrite(&m, "wal", &[b'A'; 1000], 4096);
        pwrite(&m, "wal", &[b'B'; 1000], 5096);
        pwrite(&m, "other", b"lost", 0);
        let r = m.layer().lose_power(&PowerLoss { torn: Some(Torn::Op(cut)), seed, prefer: Some("wal".into()), ..PowerLoss::default() });
        let got = m.underneath("wal");
        let len = got.len() as u64;
        assert!(len > 5096 && len < 6096, "{cut:?}: the last write is cut inside it, kept {len}: {}", r.describe());
        if cut == Cut::Sector {
            assert_eq!(len % SECTOR, 0, "cut at a sector boundary: {len}");
        }
        let mut want = vec![b'S'; 4096];
        want.extend([b'A'; 1000]);
        want.extend(vec![b'B'; (len - 5096) as usize]);
        assert_eq!(got, want, "a prefix of the last write, everything before it");
        assert!(m.underneath("other").is_empty(), "the other file's unsynced write is lost");
        assert_eq!(r.kept_bytes, len - 4096);
        assert_eq!(r.unsynced.bytes, 2004);
        assert!(r.describe().contains(&format!("torn write 5096..6096 cut after {} byte(s)", len - 5096)), "{}", r.describe());
        m.unmount();
    }
}

#[test]
fn a_torn_sequence_keeps_a_subset_of_the_writes_in_order_of_issue() {
    let mut m = Mounted::new(|_| {});
    m.layer().set_mode(DurabilityMode::LoseUnsynced);
    // 40 writes of 100 bytes, write i filled with byte i + 1; then write 40 overwrites write 0's range.
    for i in 0..40u8 {
        pwrite(&m, "f", &[i + 1; 100], u64::from(i) * 100);
    }
    pwrite(&m, "f", &[0xEE; 100], 0);
    let r = m.layer().lose_power(&PowerLoss { torn: Some(Torn::Seq { keep: 0.5 }), seed: 7, ..PowerLoss::default() });
    let got = m.underneath("f");
    let mut kept = 0;
    for i in 0..40usize {
        let chunk = got.get(i * 100..(i + 1) * 100);
        match chunk {
            None => assert!(got.len() <= i * 100, "a partial chunk {i}"),
            Some(c) if i == 0 => {
                // Write 40 came after write 0: if both were kept, it wins.
                assert!(c == [0u8; 100] || c == [1u8; 100] || c == [0xEE; 100], "chunk 0 is a whole write or a hole");
                kept += u64::from(c != [0u8; 100]);
            }
            Some(c) => {
                assert!(c == [0u8; 100] || c == [i as u8 + 1; 100], "chunk {i} is its write or a hole");
                kept += u64::from(c != [0u8; 100]);
            }
        }
    }
    assert!(r.kept_writes > 5 && r.kept_writes < 36, "about half kept: {}", r.describe());
    assert!(kept <= r.kept_writes && kept + 1 >= r.kept_writes, "kept chunks {kept} vs kept writes {}", r.kept_writes);
    assert_eq!(r.kept_bytes, r.kept_writes * 100);
    assert_eq!(r.unsynced.writes, 41);
    m.unmount();
}

#[test]
fn lost_directory_operations_undo_creates_and_renames_not_followed_by_an_fsync_of_their_directory() {
    let mut m = Mounted::new(|d| {
        fs::create_dir(d.join("d")).unwrap();
        fs::create_dir(d.join("e")).unwrap();
    });
    m.layer().set_mode(DurabilityMode::LoseUnsynced);
    // d/b: created, directory fsync'd → kept; then renamed to d/c without a directory fsync → put back.
    fs::write(m.path("d/b"), b"b").unwrap();
    File::open(m.path("d/b")).unwrap().sync_all().unwrap();
    File::open(m.path("d")).unwrap().sync_all().unwrap();
    // d/a: created and its data fsync'd, but not its directory → undone.
    let mut a = File::create(m.path("d/a")).unwrap();
    a.write_all(b"a").unwrap();
    a.sync_all().unwrap();
    fs::rename(m.path("d/b"), m.path("d/c")).unwrap();
    // e/x: created and e fsync'd → kept.
    fs::write(m.path("e/x"), b"x").unwrap();
    File::open(m.path("e/x")).unwrap().sync_all().unwrap();
    File::open(m.path("e")).unwrap().sync_all().unwrap();
    let r = m.layer().lose_power(&PowerLoss { dirops: true, seed: 1, ..PowerLoss::default() });
    let names = |d: &str| {
        let mut v: Vec<String> = fs::read_dir(m.dir.join(d)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    drop(a);
    assert_eq!(names("d"), vec!["b"], "{}", r.describe());
    assert_eq!(m.underneath("d/b"), b"b");
    assert_eq!(names("e"), vec!["x"]);
    assert_eq!(r.undone.len(), 2, "{:?}", r.undone);
    assert!(r.undone.iter().any(|u| u.contains("rename d/b -> d/c undone")), "{:?}", r.undone);
    assert!(r.undone.iter().any(|u| u.contains("create of d/a undone")), "{:?}", r.undone);
    // Narrowed to a glob, only the operations on matching paths are undone.
    fs::write(m.path("d/y"), b"").unwrap();
    fs::write(m.path("e/y"), b"").unwrap();
    let r = m.layer().lose_power(&PowerLoss { dirops: true, dirops_path: Some("e/*".into()), ..PowerLoss::default() });
    assert_eq!(r.undone.len(), 1, "{:?}", r.undone);
    assert_eq!(names("d"), vec!["b", "y"]);
    assert_eq!(names("e"), vec!["x"]);
    fs::remove_file(m.path("d/y")).unwrap();
    // Without lose_dirops, a power loss keeps every directory operation.
    fs::write(m.path("d/z"), b"").unwrap();
    assert!(m.layer().lose_power(&PowerLoss::default()).undone.is_empty());
    assert_eq!(names("d"), vec!["b", "z"]);
    m.unmount();
}

#[test]
fn a_read_mistake_changes_what_reads_answer_and_not_the_file() {
    let data: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let mut m = Mounted::new(|d| fs::write(d.join("wal"), &data).unwrap());
    // Read once before: the kernel caches the pages, which the mistake must make it forget.
    assert_eq!(fs::read(m.path("wal")).unwrap(), data);
    let mistake = Mistake { path: Some("wal".into()), mode: MistakeMode::Bitflip, bytes: 4, percent: 100.0, seed: 5 };
    m.layer().set_mistake(Some(mistake)).unwrap();
    let mut got = Vec::new();
    File::open(m.path("wal")).unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), data.len());
    let differ: Vec<usize> = (0..data.len()).filter(|&i| got[i] != data[i]).collect();
    assert!(!differ.is_empty(), "the read came back changed");
    let c = m.layer().mistake_counters().unwrap();
    assert!(c.changed >= 1 && c.reads >= c.changed, "{c:?}");
    assert_eq!(c.bytes, differ.len() as u64, "{c:?}");
    assert!(differ.len() as u64 <= 4 * c.changed, "at most 4 bytes per changed read");
    for &i in &differ {
        assert_eq!((got[i] ^ data[i]).count_ones(), 1, "bitflip flips one bit of a byte");
    }
    assert_eq!(m.underneath("wal"), data, "the file on disk is unchanged");
    let c = m.layer().set_mistake(None).unwrap().unwrap();
    assert!(c.samples[0].starts_with("wal "), "{c:?}");
    assert_eq!(fs::read(m.path("wal")).unwrap(), data, "no changed page outlives the mistake");
    m.unmount();
}

use crate::util::planned;

/// Under etcd (process backend, the system's etcd): a follower killed by the layer before its
/// 2nd WAL fsync — losing power then, plainly, with a torn write and with a torn sequence —
/// restarts on its data and serves what it had.
#[test]
fn under_etcd_a_crash_at_the_nth_wal_fsync_kills_the_member_and_it_restarts_on_its_data() {
    crash_at_wal_fsync(
        &crate::util::TestCluster::start_on_layers(3, DurabilityMode::LoseUnsynced),
        &[None, Some(serde_json::json!("op")), Some(serde_json::json!({"seq": 0.5}))],
    );
}

/// The same in containers: the layer's SIGKILL of the container's etcd (its pid as the host
/// sees it) ends the container, and heal starts it again on its data.
#[test]
fn in_a_container_a_crash_at_the_nth_wal_fsync_ends_it_and_heal_starts_it_again() {
    let Some(c) = crate::util::TestCluster::docker_on_layers(3, DurabilityMode::LoseUnsynced) else { return };
    crash_at_wal_fsync(&c, &[Some(serde_json::json!("op"))]);
}

fn crash_at_wal_fsync(c: &crate::util::TestCluster, torns: &[Option<serde_json::Value>]) {
    use faultline::cluster::MemberState;
    use faultline::fault::kinds::kill::{Kill, On};
    let v = c.wait_leader(Duration::from_secs(10));
    let leader = v.leader.clone().unwrap();
    let victim = v.members.iter().map(|m| m.member.clone()).find(|m| *m != leader).unwrap();
    let n: u8 = victim[1..].parse().unwrap();
    c.put(&leader, "before", "1");
    let mut i = 0;
    for torn in torns {
        let on = On { call: "fsync".into(), path: Some("member/wal/*.wal".into()), nth: 2, timing: "before".into() };
        let kill = Kill { lose_unsynced: true, torn: torn.clone(), on: Some(on), ..Kill::default() };
        let p = planned(faultline::scenario::FaultKind::new(kill), faultline::scenario::Target::Member(n));
        let (inj, events) = faultline::fault::inject(c.backend.as_ref(), &c.layers, &p, None, &[]).expect("armed");
        assert!(inj.record.proof.contains("crash point armed"), "{}", inj.record.proof);
        assert!(events.is_empty(), "arming kills nobody");
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.backend.state(&victim) != MemberState::Down {
            c.put(&leader, &format!("k{i}"), "x");
            i += 1;
            assert!(Instant::now() < deadline, "{victim} was not killed at its 2nd WAL fsync");
        }
        let (rec, events) = inj.heal(c.backend.as_ref(), &c.layers).expect("heal restarts it");
        eprintln!("torn {torn:?}: {}", rec.proof);
        assert!(rec.proof.contains("before call 2 (fsync of member/wal/"), "{}", rec.proof);
        assert!(rec.proof.contains("power lost"), "{}", rec.proof);
        assert_eq!(events.len(), 2, "stop and start: {events:?}");
        assert_eq!(c.backend.state(&victim), MemberState::Running);
        let deadline = Instant::now() + Duration::from_secs(20);
        while c.get_local(&victim, &format!("k{}", i - 1)).is_none() {
            assert!(Instant::now() < deadline, "{victim} did not catch up after its restart");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(c.get_local(&victim, "before").as_deref(), Some("1"));
    }
}

/// Flipped bits in the WAL reads of a restarting member: etcd reads its WAL at start, finds a
/// CRC mismatch and refuses — a right outcome after a power-loss kill (the member stays down,
/// the others are compared, the run valid); the mistake's heal counts the reads it changed.
fn a_read_mistake_on_a_restarting_members_wal_makes_etcd_refuse_it(backend: &str) {
    crate::util::require_root();
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s.yaml");
    std::fs::write(
        &scen,
        "name: it-mistake\nseed: 3\ncluster: {size: 3}\nworkload: {duration: 12s, rate: 100/s}\nfaults:\n  - {at: 2s, for: 8s, kind: io-mistake, target: n2, path: \"member/wal/*.wal\", mode: bitflip, bytes: 4, percent: 100%}\n  - {at: 3s, for: 2s, kind: kill, target: n2, lose_unsynced: true}\nexpect: {linearizable: true, consistent: true}\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) = crate::util::faultline(&["run", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--backend", backend]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let events = faultline::events::read(&out.join("events.jsonl")).unwrap();
    // Which of etcd's WAL checks trips depends on where the flipped bits land (seen: `walpb:
    // crc mismatch`, `wal: max entry size limit exceeded`, `proto: Record: wiretype end group
    // for non-group`): what must hold is that etcd itself refused to start on its WAL.
    let refused = events.iter().find_map(|e| match &e.what {
        faultline::events::EventKind::CorruptionDetected { member, detail, by: faultline::events::CorruptionBy::EtcdRefusedStart, .. } if member == "n2" => Some(detail.clone()),
        _ => None,
    });
    assert!(refused.as_deref().is_some_and(|d| d.contains("refused to start on its data")), "n2 refused its WAL: {refused:?}\n{stdout}");
    let healed = events.iter().find_map(|e| match &e.what {
        faultline::events::EventKind::FaultHeal(r) if r.kind == "io-mistake" => Some(r.proof.clone()),
        _ => None,
    });
    let proof = healed.expect("the mistake healed");
    assert!(proof.contains("changed") && proof.contains("member/wal/"), "{proof}");
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("n2 not compared"), "the consistency check left n2 out: {summary}");
}

#[test]
fn a_read_mistake_on_a_restarting_members_wal_makes_etcd_refuse_it_on_processes() {
    a_read_mistake_on_a_restarting_members_wal_makes_etcd_refuse_it("process");
}

#[test]
fn a_read_mistake_on_a_restarting_members_wal_makes_etcd_refuse_it_on_containers() {
    if crate::util::etcd_image().is_none() {
        return;
    }
    a_read_mistake_on_a_restarting_members_wal_makes_etcd_refuse_it("docker");
}
