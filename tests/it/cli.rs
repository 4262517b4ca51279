//! The command line as a user meets it: bad input gets a clear one-paragraph error and the
//! documented exit code, never a panic.

use crate::util::faultline;
use std::process::Command;

fn write(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name);
    std::fs::write(&p, text).unwrap();
    let s = p.display().to_string();
    (d, s)
}

#[test]
fn validate_explains_every_shipped_scenario() {
    let files = crate::util::shipped_scenarios();
    assert!(files.len() >= 45, "only {} scenarios", files.len());
    for p in files {
        let (code, out, err) = faultline(&["validate", p.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", p.display());
        let text = std::fs::read_to_string(&p).unwrap();
        let kind = ["etcd", "kubernetes"].into_iter().find(|k| text.contains(&format!("kind: {k}"))).unwrap_or("register");
        assert!(out.contains(&format!("workload: {kind},")), "{}: {out}", p.display());
        // Every scenario with ops shows them (issue 15 item 8).
        let has_ops = std::fs::read_to_string(&p).unwrap().lines().any(|l| l.starts_with("ops:"));
        assert_eq!(!out.contains("  ops     : none"), has_ops, "{}: {out}", p.display());
    }
}

#[test]
fn validate_shows_the_same_schedule_for_the_same_seed() {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/nemesis-mixed.yaml");
    let a = faultline(&["validate", p, "--seed", "99"]).1;
    let b = faultline(&["validate", p, "--seed", "99"]).1;
    let c = faultline(&["validate", p, "--seed", "100"]).1;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains("[nemesis]"), "{a}");
}

#[test]
fn a_typo_gets_file_line_column_and_the_closest_key_with_exit_2() {
    let (_d, p) = write("typo.yaml", "name: typo\nworkload:\n  clients: 4\n  duraton: 10s\n");
    let (code, _, err) = faultline(&["validate", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{p}:4:3")), "{err}");
    assert!(err.contains("did you mean `duration`?"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
}

/// Issue 15 item 1: a schedule that would expand past memory is refused by `validate` and
/// `run` alike, with its numbers, before anything is built.
#[test]
fn a_schedule_too_large_or_too_dense_is_refused_with_its_numbers() {
    let (_d, p) = write("dense.yaml", "name: dense\nworkload: {duration: 1h}\nnemesis: {kinds: [kill], interval: 1ms}\n");
    for cmd in ["validate", "run"] {
        let (code, out, err) = faultline(&[cmd, &p]);
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(err.contains(&format!("{p}:3:")) && err.contains("`interval: 1ms` is shorter than 1s"), "{cmd}: {err}");
        assert!(out.len() < 10_000, "{cmd} printed {} bytes", out.len());
    }
    let (_d, p) = write("long.yaml", "name: long\nworkload: {duration: 168h}\nfaults:\n  - {at: 0s, for: 500ms, every: 1s, kind: pause, target: n1}\n");
    let (code, _, err) = faultline(&["validate", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{p}:4:")) && err.contains("604800 fault instances") && err.contains("limit of 10000"), "{err}");
}

/// Issue 15 item 9: likely mistakes are warned about with their position, by `validate` and
/// before a run starts; a forced netem on a kernel without it is said by `validate`; a
/// seedless schedule says whose seed it shows.
#[test]
fn likely_mistakes_are_warned_about_by_validate_and_run() {
    let yaml = "name: w\nworkload: {clients: 2, rate: 50/s, duration: 3s}\nfaults:\n  - {at: 1s, for: 5s, kind: latency, target: n1, delay: 100ms, mechanism: netem}\n";
    let (_d, p) = write("w.yaml", yaml);
    let (code, out, err) = faultline(&["validate", &p]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{p}:4:5: warning: faults[0] heals at 6s, after the workload ends at 3s: it is healed at the end")), "{err}");
    assert!(out.contains("shown for seed 0; a run draws its own unless --seed or `seed:` is given"), "{out}");
    if faultline::fault::net::netem_available() {
        assert!(!err.contains("sch_netem"), "{err}");
    } else {
        assert!(err.contains("warning: this machine cannot inject `latency`") && err.contains("sch_netem"), "{err}");
        // The run refuses it at preflight (exit 3), after saying the scenario's warnings.
        let (code, _, err) = faultline(&["run", &p, "--backend", "process"]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("warning: faults[0] heals at 6s"), "{err}");
    }
    let (_d, p) = write("o.yaml", "name: o\nfaults:\n  - {at: 5s, for: 10s, kind: kill, target: n2}\n  - {at: 6s, for: 1s, kind: stop, target: n2}\n");
    let (code, _, err) = faultline(&["validate", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{p}:4:5:")) && err.contains("both on n2 from 6s to 7s"), "{err}");
    let (_d, p) = write("l.yaml", &format!("name: {}\n", "x".repeat(5000)));
    let (code, _, err) = faultline(&["validate", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at most 100") && err.len() < 1000, "{err}");
}

/// Issue 15 item 8: `validate` shows the scheduled ops, and refuses an op sequence that
/// cannot work.
#[test]
fn validate_shows_ops_and_refuses_impossible_sequences() {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/restore-after-quorum-loss.yaml");
    let (code, out, err) = faultline(&["validate", p]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("  ops     : 2 scheduled") && out.contains("snapshot-save `snap1` from leader") && out.contains("snapshot-restore from `snap1`"),
        "{out}"
    );
    let (_d, p) =
        write("m.yaml", "name: m\nops:\n  - {at: 1s, op: member-add, learner: true}\n  - {at: 3s, op: learner-promote}\n  - {at: 5s, op: compact, keep: 10}\n");
    let (code, out, err) = faultline(&["validate", &p]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("at    1.0s  member-add n4 as a learner") && out.contains("at    3.0s  learner-promote the only learner"), "{out}");
    assert!(out.contains("compact to the current revision minus 10") && out.contains("faults  : none"), "{out}");
    let (_d, p) = write("r.yaml", "name: r\ncluster: {size: 1}\nops:\n  - {at: 1s, op: member-remove, target: n1}\n");
    let (code, _, err) = faultline(&["validate", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{p}:4:5:")) && err.contains("the last voter"), "{err}");
}

/// Issue 15 item 10: the YAML library's own words become the user's, with the line.
#[test]
fn yaml_mistakes_are_said_in_the_users_terms() {
    for (yaml, pos, said, not_said) in [
        ("name: a\n---\nname: b\n", ":3:1:", "a second YAML document starts here", "from_str_multiple"),
        ("name: a\nworkload:\n  clients: 2\n  clients: 3\n", ":4:3:", "key `clients` is given twice", "DuplicateKeyPolicy"),
        ("name: x\nworkload:\n  duration: 0s\n", ":3:13:", "workload.duration is 0s", "\u{0}"),
    ] {
        let (_d, p) = write("y.yaml", yaml);
        let (code, _, err) = faultline(&["validate", &p]);
        assert_eq!(code, 2, "{err}");
        assert!(err.starts_with(&format!("{p}{pos} {said}")) && !err.contains(not_said), "{err}");
    }
    let (_d, p) = write("a.yaml", &format!("name: &b x\ncluster:\n  etcd:\n    extra_args: [{}]\n", vec!["*b"; 3000].join(", ")));
    let (code, _, err) = faultline(&["validate", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expands 3000 aliases") && !err.contains("AliasAnchorRatio"), "{err}");
    let (_d, p) = write("d.yaml", "name: d\nworkload: {duration: 7d}\n");
    let (code, out, err) = faultline(&["validate", &p]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("for 10080m"), "{out}");
}

#[test]
fn run_refuses_unknown_and_unbuilt_faults_before_touching_anything() {
    let (_d, p) = write("x.yaml", "name: x\nfaults:\n  - {at: 1s, for: 1s, kind: clock-skew, target: leader}\n");
    let (code, _, err) = faultline(&["run", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not supported yet"), "{err}");
    // A disk fault without the operations it hits is explained, before anything is built.
    let (_d2, p) = write("y.yaml", "name: y\nfaults:\n  - {at: 1s, for: 1s, kind: io-error, target: leader, errno: EIO}\n");
    let (code, _, err) = faultline(&["run", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs `ops`"), "{err}");
    let (code, _, err) = faultline(&["run", "/nonexistent/scenario.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read scenario"), "{err}");
}

#[test]
fn a_docker_image_that_is_not_here_says_how_to_get_one() {
    let (_d, p) = write("i.yaml", "name: i\ncluster: {backend: docker, etcd: {image: example.invalid/etcd:0.0.1}}\n");
    let (code, _, err) = faultline(&["run", &p]);
    // Exit 3 either way: the image is missing, or no Docker engine answers here.
    assert_eq!(code, 3, "{err}");
    assert!((err.contains("no registry") && err.contains("faultline image build")) || err.contains("Docker engine"), "{err}");
}

#[test]
fn a_missing_etcd_binary_says_how_to_install_it() {
    let (_d, p) = write("e.yaml", "name: e\ncluster: {etcd: {binary: /nonexistent/etcd}}\n");
    let (code, _, err) = faultline(&["run", &p, "--backend", "process"]);
    if nix::unistd::geteuid().is_root() {
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("apt-get install etcd-server") && err.contains("cluster.etcd.binary"), "{err}");
    } else {
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("needs root"), "{err}");
    }
}

/// A forced `mechanism: netem`: refused up front on a kernel without sch_netem (like this
/// one and CI's); on a kernel with it, the same scenario runs and the fault used netem.
#[test]
fn forcing_netem_is_refused_before_anything_is_built_unless_the_kernel_has_it() {
    let (d, p) = write("n.yaml", "name: n\nseed: 1\nworkload: {clients: 2, rate: 50/s, duration: 3s}\nfaults:\n  - {at: 1s, for: 1s, kind: latency, target: leader, delay: 100ms, mechanism: netem}\n");
    if faultline::fault::net::netem_available() {
        crate::util::require_root();
        let out = d.path().join("run");
        let (code, _, err) = faultline(&["run", &p, "--backend", "process", "--out", out.to_str().unwrap(), "--quiet"]);
        assert_eq!(code, 0, "this kernel has sch_netem, so `mechanism: netem` is valid here: {err}");
        let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["faults"][0]["mechanism"], "netem", "{summary}");
        return;
    }
    let (code, _, err) = faultline(&["run", &p, "--backend", "process"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("sch_netem") && err.contains("nfqueue"), "{err}");
    assert!(faultline::cluster::netns::list("faultline-").iter().all(|n| n.contains("nettest")), "a namespace was made");
}

#[test]
fn junit_lists_each_gate_and_json_prints_the_summary() {
    crate::util::require_root();
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("g.yaml");
    std::fs::write(
        &scen,
        "name: gate-test\nseed: 1\nworkload: {clients: 2, rate: 100/s, duration: 3s}\nexpect: {linearizable: true, consistent: true, min_ok_ops: 50, p99: 1ms}\n",
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let out = dir.path().join("run");
    let (code, stdout, err) =
        faultline(&["run", scen.to_str().unwrap(), "--backend", "process", "--out", out.to_str().unwrap(), "--junit", junit.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "the p99 gate of 1 ms cannot pass on a 3-member cluster: {err}");
    // --json: stdout is exactly the summaries, JSON Lines: one object per scenario.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line per scenario: {stdout}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["scenario"], "gate-test");
    assert_eq!(v["verdict"], "fail");
    // Who ran it, when, and the id `clean --run` takes.
    let id = v["run_id"].as_str().unwrap_or_default();
    assert!(id.len() == 6 && id.chars().all(|c| c.is_ascii_hexdigit()), "run_id {:?}", v["run_id"]);
    let started = v["started_at"].as_str().unwrap_or_default();
    let shape: String = started.chars().map(|c| if c.is_ascii_digit() { 'd' } else { c }).collect();
    assert_eq!(shape, "dddd-dd-ddTdd:dd:ddZ", "started_at {started:?} is not RFC 3339 UTC");
    assert_eq!(v["faultline_version"], env!("CARGO_PKG_VERSION"));
    // JUnit: well-formed, a case per gate, the failed one with its figures and the run dir.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let cases: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    for g in ["linearizable", "consistent", "min_ok_ops", "p99", "valid run"] {
        assert!(names.contains(&g), "no test case {g}: {names:?}");
    }
    let failed: Vec<&str> = cases.iter().filter(|c| c.children().any(|k| k.has_tag_name("failure"))).filter_map(|c| c.attribute("name")).collect();
    assert_eq!(failed, ["p99"]);
    let msg = cases.iter().find(|c| c.attribute("name") == Some("p99")).unwrap().descendants().find(|n| n.has_tag_name("failure")).unwrap().text().unwrap();
    assert!(msg.contains("limit") && msg.contains(out.to_str().unwrap()), "{msg}");
    let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    assert_eq!(suite.attribute("failures"), Some("1"));
}

/// A history.jsonl of the given lines, in a directory of its own.
fn history(lines: &[&str]) -> (tempfile::TempDir, String) {
    write("history.jsonl", &lines.iter().map(|l| format!("{l}\n")).collect::<String>())
}

const INVOKE_W1: &str = r#"{"type":"invoke","id":1,"client":0,"t":1000,"f":"write","key":"k","value":"1"}"#;
const OK_W1: &str = r#"{"type":"ok","id":1,"client":0,"t":2000,"f":"write","key":"k","value":"1"}"#;

#[test]
fn check_refuses_a_history_it_would_have_to_guess_at_with_file_line_and_exit_2() {
    let cases: [(&str, &[&str], &str); 4] = [
        (
            "completion before invocation",
            &[INVOKE_W1, r#"{"type":"ok","id":1,"client":0,"t":500,"f":"write","key":"k","value":"1"}"#],
            "before its invocation at t=1000 ns (line 1)",
        ),
        ("another f", &[INVOKE_W1, r#"{"type":"ok","id":1,"client":0,"t":2000,"f":"read","key":"k","value":"1"}"#], "expected the same f and key"),
        ("another key", &[INVOKE_W1, r#"{"type":"ok","id":1,"client":0,"t":2000,"f":"write","key":"j","value":"1"}"#], "on key `j`"),
        ("no invocation", &[INVOKE_W1, OK_W1, r#"{"type":"ok","id":9,"client":0,"t":3000,"f":"read","key":"k","value":"1"}"#], "never invoked"),
    ];
    for (what, lines, says) in cases {
        let (_d, p) = history(lines);
        let (code, out, err) = faultline(&["check", &p]);
        assert_eq!(code, 2, "{what}: {out}{err}");
        let line = lines.len();
        assert!(err.contains(&format!("{p}:{line}: ")), "{what}: no file:line in {err}");
        assert!(err.contains(says) && err.contains("expected"), "{what}: {err}");
        assert!(!out.contains("LINEARIZABLE"), "{what}: a verdict on bad input: {out}");
    }
}

#[test]
fn an_empty_history_is_no_operations_to_check_with_exit_5_not_a_pass() {
    let (_d, p) = write("history.jsonl", "");
    let (code, out, err) = faultline(&["check", &p]);
    assert_eq!(code, 5, "{out}{err}");
    assert!(err.contains("no operations to check"), "{err}");
    assert!(!out.contains("LINEARIZABLE"), "{out}");
}

#[test]
fn a_bad_file_among_several_does_not_hide_a_violation_and_is_reported_beside_it() {
    // A violation made by hand: a write of 1 acknowledged, then a read of nothing after it.
    let (_d, violation) = history(&[
        INVOKE_W1,
        OK_W1,
        r#"{"type":"invoke","id":2,"client":1,"t":3000,"f":"read","key":"k","value":null}"#,
        r#"{"type":"ok","id":2,"client":1,"t":4000,"f":"read","key":"k","value":null}"#,
    ]);
    let (_e, bad) = history(&[INVOKE_W1, r#"{"type":"ok","id":1,"client":0,"t":5,"f":"write","key":"k","value":"1"}"#]);
    let (_f, empty) = write("history.jsonl", "");
    for files in [[&bad, &violation, &empty], [&violation, &empty, &bad]] {
        let (code, out, err) = faultline(&["check", files[0], files[1], files[2]]);
        assert_eq!(code, 1, "the violation decides the exit code: {out}{err}");
        assert!(out.contains(&format!("{violation}: NOT-LINEARIZABLE")), "{out}");
        assert!(err.contains(&format!("{bad}:2: ")), "{err}");
        assert!(err.contains(&format!("{empty}: no operations to check")), "{err}");
    }
    // Bad input beside a pass or an empty history: 2, the worst of the rest.
    let (_g, good) = history(&[INVOKE_W1, OK_W1]);
    assert_eq!(faultline(&["check", &good, &bad]).0, 2);
    assert_eq!(faultline(&["check", &good, &empty]).0, 5);
    // --json: one object per file, the bad ones included.
    let (code, out, _) = faultline(&["check", "--json", &good, &bad, &empty]);
    assert_eq!(code, 2);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let verdicts: Vec<&str> = lines.iter().map(|l| l["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["linearizable", "bad-input", "no-operations"], "{out}");
    assert!(lines[1]["error"].as_str().unwrap().contains(":2: "), "{out}");
}

#[test]
fn every_subcommand_help_lists_its_own_exit_codes() {
    // Each subcommand, and a code only it has (or a phrase only its list says).
    let own: [(&[&str], &str); 9] = [
        (&["run"], "1  a gate failed"),
        (&["replay"], "the replay is invalid"),
        (&["compare"], "every run of both variants passed"),
        (&["validate"], "a scenario does not parse"),
        (&["check"], "not linearizable (whatever the other files give)"),
        (&["report"], "report.html written"),
        (&["doctor"], "a NO row, not an error"),
        (&["clean"], "--run ID matches nothing"),
        (&["image", "build"], "the image was built"),
    ];
    for (cmd, says) in own {
        let mut args = cmd.to_vec();
        args.push("--help");
        let (code, out, err) = faultline(&args);
        assert_eq!(code, 0, "{cmd:?}: {err}");
        let codes = out.split("Exit codes").nth(1).unwrap_or_else(|| panic!("{cmd:?} --help lists no exit codes:\n{out}"));
        assert!(codes.contains(says), "{cmd:?} --help does not list its own exit codes:\n{codes}");
        if cmd != ["run"] && cmd != ["replay"] {
            assert!(!codes.contains("1  a gate failed (etcd misbehaved)"), "{cmd:?} --help lists run's codes:\n{codes}");
        }
    }
}

#[test]
fn clean_says_when_a_run_id_matches_nothing_and_a_dry_run_touches_nothing() {
    crate::util::require_root();
    use faultline::cluster::state::{new_run_id, RunState};
    // A run id nothing carries: bad input, named, and nothing else is touched.
    let (code, out, err) = faultline(&["clean", "--run", "zz0000"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--run zz0000: no run with this id left anything"), "{err}");
    assert!(!out.contains("removed"), "{out}");
    // A run's state left behind (as a crashed run leaves it; its owner is this test).
    let id = new_run_id();
    RunState::record(&id, std::path::Path::new("/tmp/faultline-clean-test"), 1, "process", Vec::new()).unwrap();
    let state = RunState::path(&id);
    let (code, out, err) = faultline(&["clean", "--run", &id, "--force", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("would remove run state {}", state.display())), "{out}");
    assert!(out.contains("nothing was touched"), "{out}");
    assert!(state.exists(), "--dry-run removed the run state");
    let (code, out, err) = faultline(&["clean", "--run", &id, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("removed run state {}", state.display())), "{out}");
    assert!(!state.exists());
    // Gone now: the same id matches nothing.
    assert_eq!(faultline(&["clean", "--run", &id]).0, 2);
}

/// `faultline doctor` with `COLUMNS` set (or unset), as `uid` when given; its stdout.
fn doctor(columns: Option<&str>, uid: Option<u32>) -> String {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.arg("doctor");
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    if let Some(u) = uid {
        cmd.uid(u).gid(u);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn doctor_fits_the_terminal_width_and_says_not_root_to_a_user() {
    crate::util::require_root();
    // COLUMNS is the terminal's width; not a terminal and no COLUMNS: 100.
    for (columns, width) in [(Some("80"), 80), (Some("120"), 120), (None, 100)] {
        let out = doctor(columns, None);
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest <= width, "doctor with COLUMNS={columns:?} is {widest} wide:\n{out}");
        assert!(out.contains("iptables") && out.contains("mem-stress"), "{out}");
    }
    // As a user who is not root (nobody): what only root can probe is "not root", not missing.
    let out = doctor(Some("200"), Some(65534));
    let row = |name: &str| out.lines().find(|l| l.starts_with(&format!("│ {name} "))).unwrap_or_else(|| panic!("no {name} row:\n{out}")).to_string();
    for name in ["iptables", "nftables", "tc netem", "NFQUEUE", "cgroups"] {
        let r = row(name);
        assert!(r.contains("not root") && !r.contains("NO") && !r.contains("apt-get"), "{r}");
    }
    assert!(row("root").contains("NO"), "{out}");
}

/// Whether text would act on a terminal: any control character but newline and tab.
fn has_controls(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

#[test]
fn escape_sequences_from_files_are_shown_not_sent_to_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // A file name with an ESC sequence in it (retitles the terminal), in an error from main.
    let named = dir.path().join("\u{1b}]0;pwned\u{7}.yaml");
    let (code, out, err) = faultline(&["run", named.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!has_controls(&err) && !has_controls(&out), "raw control characters on the terminal: {err:?}");
    assert!(err.contains("\\e]0;pwned\\x07.yaml"), "{err}");
    // In `check`: a missing history's name, and a key and values quoted from a history.
    let (code, _, err) = faultline(&["check", dir.path().join("\u{1b}[2Jgone.jsonl").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(!has_controls(&err) && err.contains("\\e[2Jgone.jsonl"), "{err:?}");
    let lines = [
        format!(r#"{{"type":"invoke","id":1,"client":0,"t":1000,"f":"write","key":"{k}","value":"\u001b[2J"}}"#, k = "k\\u001b[31m"),
        format!(r#"{{"type":"ok","id":1,"client":0,"t":2000,"f":"write","key":"{k}","value":"\u001b[2J"}}"#, k = "k\\u001b[31m"),
        format!(r#"{{"type":"invoke","id":2,"client":1,"t":3000,"f":"read","key":"{k}","value":null}}"#, k = "k\\u001b[31m"),
        format!(r#"{{"type":"ok","id":2,"client":1,"t":4000,"f":"read","key":"{k}","value":null}}"#, k = "k\\u001b[31m"),
    ];
    let (_d, p) = history(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out, err) = faultline(&["check", &p]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT-LINEARIZABLE") && out.contains("k\\e[31m"), "the key is shown escaped: {out}");
    assert!(!has_controls(&out) && !has_controls(&err), "raw control characters on the terminal: {out:?}");
    // In `validate`: a scenario's description is shown, not obeyed.
    let (_d2, p) = write("esc.yaml", "name: x\ndescription: \"evil \\e[31mred\\e[0m\"\n");
    let (code, out, err) = faultline(&["validate", &p]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!has_controls(&out) && out.contains("evil \\e[31mred"), "{out:?}");
}

#[test]
fn import_chaos_mesh_prints_a_scenario_validate_explains_and_refuses_what_it_cannot_map() {
    let manifest = "apiVersion: chaos-mesh.org/v1alpha1\nkind: Schedule\nmetadata: {name: etcd-io-latency}\nspec:\n  schedule: '@every 10m'\n  type: IOChaos\n  historyLimit: 5\n  ioChaos: {action: latency, mode: one, selector: {labelSelectors: {app: etcd}}, volumePath: /var/run/etcd, path: '/var/run/etcd/**/*', delay: 100ms, percent: 50, duration: 400s}\n";
    let (_d, m) = write("io.yaml", manifest);
    let (code, out, err) = faultline(&["import", "chaos-mesh", &m]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("`historyLimit` has no meaning"), "the left-out field is said: {err}");
    let (_d2, s) = write("imported.yaml", &out);
    let (code, shown, err) = faultline(&["validate", &s]);
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(shown.contains("at  600.0s until 1000.0s  io-latency (100ms on read,write,fsync"), "{shown}");
    assert!(shown.contains("at 1800.0s until 2200.0s"), "three rounds, 10 min apart: {shown}");
    let (_d3, bad) = write("time.yaml", "apiVersion: chaos-mesh.org/v1alpha1\nkind: TimeChaos\nmetadata: {name: skew}\nspec: {mode: one, selector: {labelSelectors: {app: etcd}}, timeOffset: -10m}\n");
    let (code, out, err) = faultline(&["import", "chaos-mesh", &bad]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("TimeChaos skew") && err.contains("`kind`"), "{err}");
}
