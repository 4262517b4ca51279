//! `faultline compare` end to end: two real 3-member clusters (one per variant, process
//! backend), a short workload, one run each; the table and compare.json hold both.

use crate::util::require_root;

#[test]
fn compare_runs_both_variants_with_one_seed_and_reports_both() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("s.yaml");
    std::fs::write(
        &scen,
        "name: it-compare\nseed: 11\ncluster: {size: 3}\nworkload: {clients: 4, keys: 4, rate: 200/s, duration: 3s}\nexpect: {linearizable: true, consistent: true, min_ok_ops: 50}\n",
    )
    .unwrap();
    let dir = out.path().join("cmp");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["compare", scen.to_str().unwrap(), "--backend", "process", "--runs", "1", "--out", dir.to_str().unwrap()])
        .args(["--a", "heartbeat_interval=100ms", "election_timeout=1s", "--b", "heartbeat_interval=50ms", "election_timeout=500ms"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    // Progress on stderr, the table on stdout naming both variants by their settings.
    assert!(stderr.contains("run 1/2: a, seed 11") && stderr.contains("run 2/2: b, seed 11"), "{stderr}");
    assert!(stdout.contains("a: heartbeat_interval=100ms,election_timeout=1s"), "{stdout}");
    assert!(stdout.contains("b: heartbeat_interval=50ms,election_timeout=500ms"), "{stdout}");
    for row in ["leader changes", "longest unavailability (s)", "all p99 (ms)", "ok ops", "throughput (ok/s)", "verdicts"] {
        assert!(stdout.contains(row), "{row} missing: {stdout}");
    }
    assert!(stdout.contains("1 pass"), "{stdout}");
    // Each variant's settings reached its run.
    for (run, hb) in [("a-1", "heartbeat_interval: 100ms"), ("b-1", "heartbeat_interval: 50ms")] {
        let s = std::fs::read_to_string(dir.join(run).join("scenario.yaml")).unwrap();
        assert!(s.contains(hb), "{run}: {s}");
        assert!(dir.join(run).join("summary.json").exists());
    }
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("compare.json")).unwrap()).unwrap();
    assert_eq!(j["exit_code"], 0, "{j}");
    assert_eq!(j["seeds"], serde_json::json!([11]));
    assert_eq!(j["a"]["name"], "heartbeat_interval=100ms,election_timeout=1s");
    assert_eq!(j["b"]["name"], "heartbeat_interval=50ms,election_timeout=500ms");
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.iter().map(|r| r["variant"].as_str().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
    for r in runs {
        assert_eq!(r["seed"], 11);
        assert_eq!(r["verdict"], "pass", "{r}");
        let ok = r["figures"]["ops_ok"].as_f64().unwrap();
        assert!(ok >= 50.0, "{r}");
    }
    let ok_row = j["aggregates"].as_array().unwrap().iter().find(|r| r["metric"] == "ops_ok").unwrap();
    assert!(ok_row["a"]["median"].as_f64().unwrap() > 0.0 && ok_row["b"]["median"].as_f64().unwrap() > 0.0, "{ok_row}");
    assert_eq!(ok_row["separation"], "too_few_runs");
    let html = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("heartbeat_interval=50ms"));
}

#[test]
fn a_bad_variant_is_refused_before_any_run() {
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("s.yaml");
    std::fs::write(&scen, "name: it-compare-bad\nworkload: {duration: 3s}\n").unwrap();
    let dir = out.path().join("cmp");
    let run = |a: &str, b: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(["compare", scen.to_str().unwrap(), "--out", dir.to_str().unwrap(), "--a", a, "--b", b])
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (code, err) = run("heartbeat_interval=100ms", "heartbeat_intervall=20ms");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("did you mean `heartbeat_interval`") && err.contains("quota_backend_bytes"), "{err}");
    let (code, err) = run("heartbeat_interval=100ms", "heartbeat_interval=300ms");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("variant b") && err.contains("5 times"), "{err}");
    let (code, err) = run("heartbeat_interval=100ms", "election_timeout=100ms");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("5 times"), "{err}");
    assert!(!dir.exists(), "nothing ran");
}
