//! `report.html` (src/report/html.rs): a run directory built from fixtures in the formats the
//! runner writes, the page's content asserted, and a look in headless Chromium (which must
//! be installed under `CI`; see `util::require`). No cluster needed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A fresh, empty directory under the system temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faultline-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `summary.json` as `report::summary::write` writes it: 3 members, two unavailability windows,
/// one failed gate.
fn summary_json(duration_s: f64) -> String {
    format!(
        r#"{{
  "scenario": "leader-partition", "seed": 42, "backend": "process", "etcd_version": "3.5.17", "duration_s": {duration_s},
  "ops": {{"total": 100, "ok": 90, "fail": 8, "info": 2}}, "throughput_ok_per_s": 3.0,
  "latency_ms": {{
    "all": {{"p50": 2.5, "p90": 5.0, "p99": 9.0, "p999": 9.0, "max": 9.0, "count": 90}},
    "read": {{"p50": 2.5, "p90": 5.0, "p99": 9.0, "p999": 9.0, "max": 9.0, "count": 30}},
    "write": {{"p50": 2.5, "p90": 5.0, "p99": 9.0, "p999": 9.0, "max": 9.0, "count": 30}},
    "cas": {{"p50": 2.5, "p90": 5.0, "p99": 9.0, "p999": 9.0, "max": 9.0, "count": 30}}
  }},
  "leader_changes": 1,
  "leaders": [{{"t_s": 0.001, "member": "n1", "term": 2}}, {{"t_s": 9.9, "member": "n3", "term": 3}}],
  "unavailability": [{{"from_s": 8.0, "to_s": 9.9}}, {{"from_s": 19.5, "to_s": 21.25}}],
  "max_unavailable_s": 1.9,
  "faults": [],
  "linearizable": true,
  "consistency": null,
  "gates": [
    {{"name": "min_ok_ops", "limit": 10, "actual": 90, "pass": true, "status": "pass", "message": "90 successful operations ≥ 10", "assumption": true}},
    {{"name": "max_unavailable", "limit": 1.5, "actual": 1.9, "pass": false, "status": "fail", "message": "longest window 1.9 s > 1.5 s"}}
  ],
  "passed": false, "checker": {{"status": "ran", "seconds": 0.01}}, "exit_code": 1, "verdict": "fail",
  "verdict_reasons": ["max_unavailable: longest window 1.9 s > 1.5 s"], "invalid_reasons": [], "interrupted": false,
  "harness": {{"cpu_s": 0.5, "peak_rss_mib": 20.0}}, "run_dir": "/tmp/x"
}}
"#
    )
}

/// `events.jsonl`: members, a leader partition of n1 (8.3 → 18.1 s), a kill of n2 (12 → 14 s),
/// leader changes at 9.9 and 21.3 s.
const EVENTS: &str = r#"{"t":0,"event":"member-start","member":"n1","pid":11}
{"t":0,"event":"member-start","member":"n2","pid":12}
{"t":0,"event":"member-start","member":"n3","pid":13}
{"t":0,"event":"note","message":"cluster healthy"}
{"t":21913,"event":"workload-start","clients":2}
{"t":1353789,"event":"leader-change","member":"n1","term":2}
{"t":8318370316,"event":"fault-start","id":0,"kind":"partition","target":"leader","targets":["n1"],"mechanism":"iptables","params":{"mode":"isolate"},"proof":"4 probe(s) blocked <cut>"}
{"t":9901592006,"event":"leader-change","member":"n3","term":3}
{"t":12000000000,"event":"fault-start","id":1,"kind":"kill","target":"n2","targets":["n2"],"mechanism":"signal","params":{},"proof":"SIGKILL delivered, pid 12 gone"}
{"t":12000000001,"event":"member-stop","member":"n2","how":"SIGKILL"}
{"t":14000000000,"event":"fault-heal","id":1,"kind":"kill","target":"n2","targets":["n2"],"mechanism":"signal","params":{},"proof":"n2 restarted"}
{"t":14000000001,"event":"member-start","member":"n2","pid":14}
{"t":18053012323,"event":"fault-heal","id":0,"kind":"partition","target":"leader","targets":["n1"],"mechanism":"iptables","params":{"mode":"isolate"},"proof":"4 probe(s) crossed"}
{"t":21301511929,"event":"leader-change","member":"n3","term":11}
{"t":30001575647,"event":"workload-end"}
"#;

/// A history of `secs` seconds at `per_s` operations a second from 2 clients, every 10th
/// failing, latency 1-9 ms, with nothing completing in the unavailability windows.
fn write_history(path: &Path, secs: u64, per_s: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let gap = 1_000_000_000 / per_s;
    let mut line = String::new();
    for i in 0..secs * per_s {
        let t = i * gap;
        let ts = t as f64 / 1e9;
        if (8.0..9.9).contains(&ts) || (19.5..21.25).contains(&ts) {
            continue;
        }
        let lat = 1_000_000 + (i % 9) * 1_000_000;
        let (f, v_in, v_out) = match i % 3 {
            0 => ("read", "null".to_string(), format!("\"{}\"", i % 7)),
            1 => ("write", format!("\"{i}\""), format!("\"{i}\"")),
            _ => ("cas", format!("[\"{}\",\"{i}\"]", i % 5), format!("[\"{}\",\"{i}\"]", i % 5)),
        };
        let client = i % 2;
        let key = format!("k{}", i % 16);
        line.clear();
        let _ = writeln!(line, r#"{{"type":"invoke","id":{i},"client":{client},"t":{t},"f":"{f}","key":"{key}","value":{v_in},"member":"n1"}}"#);
        if i % 10 == 9 {
            let _ =
                writeln!(line, r#"{{"type":"fail","id":{i},"client":{client},"t":{},"f":"{f}","key":"{key}","value":{v_in},"error":"no leader"}}"#, t + lat);
        } else {
            let _ = writeln!(line, r#"{{"type":"ok","id":{i},"client":{client},"t":{},"f":"{f}","key":"{key}","value":{v_out},"rev":{}}}"#, t + lat, i + 2);
        }
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
}

/// A run directory with every file the report reads.
fn run_dir(name: &str, violation: bool) -> PathBuf {
    let d = fresh_dir(name);
    std::fs::write(d.join("summary.json"), summary_json(30.0)).unwrap();
    std::fs::write(d.join("events.jsonl"), EVENTS).unwrap();
    write_history(&d.join("history.jsonl"), 30, 20);
    if violation {
        std::fs::write(d.join("linearizability.html"), "<!DOCTYPE html><title>violation</title>").unwrap();
    }
    d
}

#[test]
fn report_draws_faults_leaders_charts_windows_and_gates() {
    let d = run_dir("content", false);
    let path = faultline::report::html::write(&d).unwrap();
    assert_eq!(path, d.join("report.html"));
    let page = std::fs::read_to_string(&path).unwrap();

    assert!(page.contains("<svg"), "no drawing");
    // The header.
    for s in ["leader-partition", "42", "process", "3.5.17", "30.0 s", "FAIL"] {
        assert!(page.contains(s), "header lacks {s}");
    }
    // A lane per member.
    for m in ["n1", "n2", "n3"] {
        assert!(page.contains(&format!("class=\"lane\" data-member=\"{m}\"")), "no lane for {m}");
    }
    // Fault bars with their kind, from→to and mechanism; the proof in a tooltip (escaped).
    assert_eq!(page.matches("<g class=\"fault\" data-kind=\"partition\"").count(), 1);
    assert_eq!(page.matches("<g class=\"fault\" data-kind=\"kill\"").count(), 1);
    assert!(page.contains("partition 8.3→18.1 · iptables"), "partition bar label");
    assert!(page.contains("proof: 4 probe(s) blocked &lt;cut&gt;"), "partition proof tooltip");
    assert!(page.contains("healed: n2 restarted"), "heal proof");
    // Leader segments with terms; two changes after the first leader.
    assert_eq!(page.matches("<g class=\"leader\"").count(), 3);
    assert!(page.contains("n3 leader, term 11"));
    assert_eq!(page.matches("<path class=\"change\"").count(), 2);
    // Throughput and latency series.
    assert!(page.contains("<path class=\"tput ok\" d=\"M"));
    assert!(page.contains("<path class=\"tput bad\" d=\"M"), "every 10th operation failed");
    assert!(page.contains("<path class=\"lat p50\" d=\"M"));
    assert!(page.contains("<path class=\"lat p99\" d=\"M"));
    // Two windows, shaded in each of the four panels.
    assert_eq!(page.matches("<rect class=\"unav\"").count(), 8);
    assert!(page.contains("unavailable 8.000–9.900 s"));
    // The gates.
    assert!(page.contains("<code>min_ok_ops</code>"));
    assert!(page.contains("<code>max_unavailable</code>"));
    assert!(page.contains("<span class=\"st fail\">FAIL</span>"));
    assert!(page.contains("<td class=\"num\">1.9</td><td class=\"num\">1.5</td>"), "actual then limit");
    // No violation page, no link.
    assert!(!page.contains("href=\"linearizability.html\""));
    // Self-contained: nothing fetched (the SVG namespace is a name, not a resource).
    let without_ns = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"), "the page references the network");
    assert!(!page.contains("<script"), "no script needed");
    // Small: a few hundred elements.
    let elements = page.matches('<').count();
    assert!(elements < 1500, "{elements} elements");
}

#[test]
fn report_links_the_violation_page_when_there_is_one() {
    let d = run_dir("violation", true);
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("<a href=\"linearizability.html\">linearizability.html</a>"));
}

#[test]
fn report_without_events_or_history_still_draws_and_says_why() {
    let d = fresh_dir("bare");
    std::fs::write(d.join("summary.json"), summary_json(30.0)).unwrap();
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("events.jsonl is missing"));
    assert!(page.contains("history.jsonl is missing"));
    assert_eq!(page.matches("<rect class=\"unav\"").count(), 8);
}

#[test]
fn report_names_the_bad_file() {
    let d = fresh_dir("bad");
    let e = faultline::report::html::write(&d).unwrap_err();
    assert!(e.to_string().contains("summary.json"), "{e}");
    std::fs::write(d.join("summary.json"), summary_json(30.0)).unwrap();
    std::fs::write(d.join("history.jsonl"), "{\"type\":\"invoke\"}\n").unwrap();
    let e = faultline::report::html::write(&d).unwrap_err();
    assert!(e.to_string().contains("history.jsonl:1"), "{e}");
    assert_eq!(e.exit().code(), 2);
}

#[test]
fn report_draws_a_history_cut_off_mid_line_and_says_where_it_ends() {
    // What a killed run leaves: the last record half written, with no newline.
    let d = run_dir("cut", false);
    let mut h = std::fs::read_to_string(d.join("history.jsonl")).unwrap();
    let lines = h.lines().count();
    h.push_str("{\"type\":\"invoke\",\"id\":99999,\"cli");
    std::fs::write(d.join("history.jsonl"), &h).unwrap();
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains(&format!("history.jsonl ends mid-record at line {}", lines + 1)), "the page says where the history ends");
    assert!(page.contains("<svg"), "the page is drawn");
}

#[test]
fn report_subcommand_rewrites_the_page() {
    let d = run_dir("cli", false);
    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).arg("report").arg(&d).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("report.html"));
    assert!(d.join("report.html").is_file());
    let out = Command::new(env!("CARGO_BIN_EXE_faultline")).arg("report").arg(d.join("nope")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(chromium) = crate::util::chromium() else { return };
    let d = run_dir("chromium", true);
    let page = faultline::report::html::write(&d).unwrap();
    let png = d.join("report.png");
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1600"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    // A blank 1400x1600 page compresses to a few KB; the drawing makes it tens of KB.
    assert!(bytes.len() > 30_000, "screenshot only {} bytes", bytes.len());
    println!("screenshot: {}", png.display());
}

/// docs/benchmarks.md §9: a 10-minute history at 500 ops/s (300k operations).
///
/// `cargo test --release --test it report::timing_10_minute_run -- --ignored --nocapture`
#[test]
#[ignore]
fn timing_10_minute_run() {
    let d = fresh_dir("bench");
    std::fs::write(d.join("summary.json"), summary_json(600.0)).unwrap();
    std::fs::write(d.join("events.jsonl"), EVENTS).unwrap();
    write_history(&d.join("history.jsonl"), 600, 500);
    let hist = std::fs::metadata(d.join("history.jsonl")).unwrap().len();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        faultline::report::html::write(&d).unwrap();
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let page = std::fs::read_to_string(d.join("report.html")).unwrap();
    println!(
        "history {:.1} MB; report.html generated in {:.3} s median (min {:.3}, max {:.3}); page {} bytes, {} elements",
        hist as f64 / 1e6,
        times[2],
        times[0],
        times[4],
        page.len(),
        page.matches('<').count() - page.matches("</").count()
    );
}

#[test]
fn report_draws_a_fault_never_healed_to_the_end() {
    let d = fresh_dir("open");
    std::fs::write(d.join("summary.json"), summary_json(30.0)).unwrap();
    let events = r#"{"t":0,"event":"member-start","member":"n1","pid":11}
{"t":5000000000,"event":"fault-start","id":0,"kind":"pause","target":"n1","targets":["n1"],"mechanism":"SIGSTOP","params":{},"proof":"state T"}
"#;
    std::fs::write(d.join("events.jsonl"), events).unwrap();
    std::fs::write(d.join("history.jsonl"), "").unwrap();
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("<g class=\"fault open\" data-kind=\"pause\""));
    assert!(page.contains("never healed"));
    assert!(page.contains("no operations"));
    assert!(page.contains("no leader seen"));
}

/// Issue 15 item 3: set-up events before the workload have negative times; a fault is drawn
/// from when its injection began (its proof time in the tooltip and the table); the last
/// leader is drawn to the run's end, not past it to the axis's end.
#[test]
fn report_draws_faults_from_injection_and_the_last_leader_to_the_run_end() {
    let d = fresh_dir("timing");
    std::fs::write(d.join("summary.json"), summary_json(10.0)).unwrap();
    let events = r#"{"t":-2500000000,"event":"member-start","member":"n1","pid":11}
{"t":-400000000,"event":"leader-change","member":"n1","term":2}
{"t":0,"event":"workload-start","clients":2}
{"t":3000000000,"event":"fault-start","id":0,"kind":"pause","target":"n1","targets":["n1"],"mechanism":"SIGSTOP","params":{},"proof":"state T","proven_t":3300000000}
{"t":6000000000,"event":"fault-heal","id":0,"kind":"pause","target":"n1","targets":["n1"],"mechanism":"SIGSTOP","params":{},"proof":"running"}
{"t":10000000000,"event":"workload-end"}
"#;
    std::fs::write(d.join("events.jsonl"), events).unwrap();
    // Completions until 12.5 s: the axis runs to 13 s.
    write_history(&d.join("history.jsonl"), 12, 4);
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("pause 3.0→6.0"), "the bar starts when the injection began");
    assert!(page.contains("injection began at 3.000 s, proven in force at 3.300 s"), "both times in the tooltip");
    assert!(page.contains("in force (proven) at 3.300"), "the proof's time in the table");
    assert!(page.contains("n1 leader, term 2, from -0.400 s to 10.000 s"), "the last leader ends with the run");
}

/// Issue 15 item 4: a cas whose compare was false is drawn apart (grey), not as a red failure.
#[test]
fn report_draws_cas_not_applied_apart_from_failures() {
    let d = fresh_dir("noop");
    std::fs::write(d.join("summary.json"), summary_json(3.0)).unwrap();
    std::fs::write(d.join("events.jsonl"), "").unwrap();
    let mut h = String::new();
    for i in 0..30u64 {
        let t = i * 100_000_000;
        let _ = writeln!(h, r#"{{"type":"invoke","id":{i},"client":0,"t":{t},"f":"cas","key":"k1","value":["1","2"]}}"#);
        let _ = writeln!(h, r#"{{"type":"fail","id":{i},"client":0,"t":{},"f":"cas","key":"k1","value":["1","2"],"error":"compare failed"}}"#, t + 1_000_000);
    }
    std::fs::write(d.join("history.jsonl"), h).unwrap();
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("<path class=\"tput noop\" d=\"M"), "cas not applied drawn");
    assert!(page.contains("<path class=\"tput bad\" d=\"\">"), "no red failure band");
    assert!(page.contains("cas not applied (compare false)"), "the legend says what grey is");
}

/// Issue 15 item 12: the page as an SRE reads it — workload and etcd settings, the target
/// rate on the throughput chart, the error breakdown, p99.9 and max, per-member figures, the
/// consistency result, the member logs, a term jump after a heal, leaders and ok ops/s in
/// different colours.
#[test]
fn report_has_what_an_sre_reads() {
    let d = run_dir("sre", false);
    let sum = summary_json(30.0)
        .replace(r#""consistency": null"#, r#""consistency": {"consistent": true, "revision": 2410, "waited_s": 0.01, "members": [{"member": "n1", "revision": 2410, "hash": 3411932, "keys": 16}, {"member": "n2", "revision": 2410, "hash": 3411932, "keys": 16}]}"#)
        .replace(r#""faults": []"#, r#""faults": [], "errors": {"no leader": 60}"#)
        .replace(r#""ops": {"total": 100, "ok": 90, "fail": 8, "info": 2}"#, r#""ops": {"total": 100, "ok": 90, "fail": 8, "info": 2, "cas_not_applied": 7}"#);
    // The run id (what `faultline clean --run` takes) and the start time.
    let mut v: serde_json::Value = serde_json::from_str(&sum).unwrap();
    v["run_id"] = "4f2a9c".into();
    v["started_at"] = "2026-12-02T05:10:00Z".into();
    let sum = v.to_string();
    std::fs::write(d.join("summary.json"), sum).unwrap();
    std::fs::write(
        d.join("scenario.yaml"),
        "name: leader-partition\ncluster:\n  size: 3\n  etcd:\n    binary: etcd\n    heartbeat_interval: 100ms\n    election_timeout: 1s\n    extra_args: [--experimental-initial-corrupt-check]\nworkload:\n  clients: 2\n  rate: 25/s\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("logs")).unwrap();
    std::fs::write(d.join("logs/n1.log"), "etcd log\n").unwrap();
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("2 clients, target 25/s"), "the workload");
    assert!(page.contains("4f2a9c") && page.contains("2026-12-02T05:10:00Z"), "the run id and the start time");
    assert!(page.contains("heartbeat_interval 100ms · election_timeout 1s · extra_args --experimental-initial-corrupt-check"), "the etcd settings");
    assert!(page.contains("<g class=\"target\"><title>target rate 25 ops/s</title>"), "the target rate on the throughput chart");
    assert!(page.contains("latency p50 / p99 / p99.9 / max") && page.contains("2.5 / 9 / 9 / 9 ms"), "p99.9 and max");
    assert!(page.contains("<tr class=\"error\"><td>no leader</td><td class=\"num\">60</td></tr>"), "the error breakdown");
    assert!(page.contains("cas not applied (compare false) — not an error"), "cas not applied apart in the breakdown");
    assert!(page.contains("<tr class=\"member\" data-member=\"n1\"><td>n1</td>"), "per-member figures");
    assert!(page.contains("members agree at revision 2410") && page.contains("0x00340fdc"), "the consistency result with hashes");
    assert!(page.contains("<a href=\"logs/n1.log\">n1</a>") && !page.contains("logs/n2.log"), "links to the logs present");
    assert!(page.contains("term jump 3 → 11 at 21.302 s (n3 elected), after the heal of #0 partition at 18.053 s"), "the term jump after the heal");
    let css_of = |class: &str| page.split(class).nth(1).and_then(|r| r.split(';').next()).map(str::to_string).unwrap_or_default();
    let ok = css_of(".tput.ok { fill: ");
    assert!(!ok.is_empty() && !page.contains(&format!("background:{ok}\"></span>n1 leads")), "ok ops/s {ok} is not a leader's colour");
}

/// A run directory whose summary has `watch` as given.
fn with_watch(name: &str, watch: serde_json::Value) -> PathBuf {
    let d = run_dir(name, false);
    let mut s: serde_json::Value = serde_json::from_str(&summary_json(30.0)).unwrap();
    s["watch"] = watch;
    std::fs::write(d.join("summary.json"), serde_json::to_string_pretty(&s).unwrap()).unwrap();
    d
}

#[test]
fn report_lists_the_broken_watch_guarantees_with_watcher_and_revision() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/watch-kill-compact");
    let mut r = faultline::watchlog::read(&fixture.join("watch.jsonl")).unwrap();
    let h = faultline::history::read(&fixture.join("history.jsonl")).unwrap();
    let i = r.iter().position(|x| x.member == "n1" && x.what.event_revision() == Some(30)).unwrap();
    r.remove(i);
    let c = faultline::checker::watch::check(&r, &h);
    let d = with_watch("watch-broken", serde_json::to_value(&c).unwrap());
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("Watch guarantees") && page.contains("BROKEN: 1 reliable"), "{page}");
    let row = page.lines().find(|l| l.contains("data-guarantee=\"reliable\"")).expect("a row for the violation");
    assert!(row.contains("<td>n1</td>") && row.contains(">30<") && row.contains("lacks revision 30"), "{row}");
    // A clean check names every guarantee that held.
    let c = faultline::checker::watch::check(&faultline::watchlog::read(&fixture.join("watch.jsonl")).unwrap(), &h);
    let d = with_watch("watch-clean", serde_json::to_value(&c).unwrap());
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("Every guarantee held: ordered, unique, atomic, reliable"), "{page}");
}

#[test]
fn report_re_renders_a_watch_check_from_before_the_guarantees() {
    let old = serde_json::json!({"streams": 3, "events": 395, "gaps": 1, "duplicates": 0, "out_of_order": 0, "disagreements": 0, "behind": 0,
        "resumed": 2, "compacted": 1, "ok": false, "first_problem": "n1's stream lacks revision 12",
        "members": [{"member": "n1", "events": 130, "from_revision": 2, "last_revision": 139, "resumed": 0, "compacted": 0, "skipped": 0,
                     "gaps": 1, "duplicates": 0, "out_of_order": 0, "disagreements": 0, "behind": false}]});
    let d = with_watch("watch-old", old);
    let page = std::fs::read_to_string(faultline::report::html::write(&d).unwrap()).unwrap();
    assert!(page.contains("BROKEN: a problem; first, n1&#39;s stream lacks revision 12") && page.contains("<td>n1</td>"), "{page}");
}
