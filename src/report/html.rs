//! `report.html`: what the faults did to the cluster, on one page.
//!
//! One self-contained file (inline CSS and inline SVG drawn here; no script, nothing fetched
//! from the network): the run's header and gates from `summary.json`; then one drawing whose
//! panels share a time axis (seconds from the workload start): the fault timeline (a lane
//! per member, a bar per fault on each member it hit, the proof in a tooltip), the leader
//! over time (a coloured segment per leader with its term, changes marked), throughput (ok
//! operations per 1 s bucket, cas not applied (compare false) stacked on top in grey, then
//! failed/unknown in red) and latency p50/p99 per
//! 1 s bucket (ms, log scale). Unavailability windows from `summary.json` are shaded across
//! every panel; the target rate (from the run's `scenario.yaml`) is a dashed line on the
//! throughput panel, and a term jump after a heal is marked on the leader lane. Below the
//! drawing: the faults, the term jumps, the error breakdown, per-member operations, the
//! consistency result, links to the member logs. A link to `linearizability.html` when the
//! run has one.
//!
//! `history.jsonl` is streamed and folded into 1 s buckets as it is read (only operations in
//! flight are kept), and each series is drawn as one SVG path, so a 10-minute run at
//! 500 ops/s gives a page of a few hundred elements (docs/benchmarks.md §9).
//!
//! Headless look (Debian: `apt-get install -y chromium`):
//!
//! ```sh
//! faultline report reports/leader-partition-20261123T170512Z/
//! chromium --headless --no-sandbox --screenshot=/tmp/r.png --window-size=1400,1600 file://$PWD/reports/leader-partition-20261123T170512Z/report.html
//! ```

use crate::error::Error;
use crate::events::{self, EventKind, FaultRecord};
use crate::history::EntryType;
use crate::markup::escape as esc;
use crate::report::summary::{self, Summary, Window};
use crate::workload::register::COMPARE_FAILED;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Width of the drawing (SVG user units; the page scales it to the window).
const W: f64 = 1300.0;
/// Left gutter for lane names and axis labels.
const X0: f64 = 110.0;
/// Right end of the time axis.
const X1: f64 = W - 20.0;
/// Height of one fault row inside a member's lane.
const ROW_H: f64 = 22.0;
/// Height of the leader lane.
const LEADER_H: f64 = 26.0;
/// Height of the throughput and latency panels.
const CHART_H: f64 = 150.0;
/// Vertical space between panels (their titles go there).
const GAP: f64 = 34.0;
/// Lowest latency on the log axis, ms (faster buckets are drawn on the floor).
const LAT_MIN_MS: f64 = 0.1;
/// Growth factor of the latency histogram bins: a percentile is within 3% of the truth.
const BIN_GROWTH: f64 = 1.03;
/// Colours of the members, in lane order (cycled).
const PALETTE: [&str; 8] = ["#3b6fd8", "#2a9d8f", "#8e5bd6", "#c9a400", "#d6458f", "#5c7c2a", "#e76f51", "#7a828e"];

/// Write `report.html` into `run_dir` from its `summary.json`, `events.jsonl` and
/// `history.jsonl`; returns the page's path.
///
/// `summary.json` is required; a missing `events.jsonl` or `history.jsonl` leaves its panels
/// empty (the page says so). Unreadable or malformed files are [`Error::BadInput`]; a page
/// that cannot be written is [`Error::Harness`].
pub fn write(run_dir: &Path) -> Result<PathBuf, Error> {
    let page = render(run_dir)?;
    let path = run_dir.join("report.html");
    std::fs::write(&path, page).map_err(|e| Error::Harness(format!("could not write {}: {e}", path.display())))?;
    Ok(path)
}

/// The page for `run_dir`, as [`write`] would write it.
pub fn render(run_dir: &Path) -> Result<String, Error> {
    if !run_dir.is_dir() {
        return Err(Error::BadInput(format!("{} is not a run directory (expected a directory holding summary.json)", run_dir.display())));
    }
    let sum = summary::read(&run_dir.join("summary.json")).map_err(|e| Error::BadInput(format!("could not read the run's summary: {e}")))?;
    let mut notes = Vec::new();
    let events_path = run_dir.join("events.jsonl");
    let events = if events_path.exists() {
        events::read(&events_path).map_err(|e| Error::BadInput(format!("could not read the run's events: {e}")))?
    } else {
        notes.push("events.jsonl is missing: no faults or leaders to draw.".to_string());
        Vec::new()
    };
    let history_path = run_dir.join("history.jsonl");
    let buckets = if history_path.exists() {
        let b = Buckets::read(&history_path)?;
        if let Some(n) = b.cut_at {
            notes.push(format!("history.jsonl ends mid-record at line {n} (the run was cut off as it wrote it): drawn up to line {}.", n - 1));
        }
        b
    } else {
        notes.push("history.jsonl is missing: no throughput or latency to draw.".to_string());
        Buckets::default()
    };
    let tl = Timeline::from_events(&events);
    let has_violation = run_dir.join("linearizability.html").is_file();
    let run = RunSettings::read(run_dir, &tl, &mut notes);
    Ok(page(&sum, &tl, &buckets, &run, has_violation, &notes))
}

/// What the run directory says besides the summary: the etcd settings and the workload from
/// its `scenario.yaml`, the clients from `workload-start`, and the member logs present.
#[derive(Debug, Default)]
struct RunSettings {
    /// (setting, value) as `scenario.yaml` gives them.
    etcd: Vec<(String, String)>,
    /// Workload clients.
    clients: Option<u64>,
    /// Total target rate, ops/s; `None` for a closed loop.
    rate: Option<f64>,
    /// The rate as written (`200/s`).
    rate_text: Option<String>,
    /// (member, path relative to the run directory) of each log present.
    logs: Vec<(String, String)>,
}

impl RunSettings {
    fn read(run_dir: &Path, tl: &Timeline, notes: &mut Vec<String>) -> RunSettings {
        let mut r = RunSettings { clients: tl.clients, ..Default::default() };
        for m in &tl.members {
            let rel = format!("logs/{m}.log");
            if run_dir.join(&rel).is_file() {
                r.logs.push((m.clone(), rel));
            }
        }
        let path = run_dir.join("scenario.yaml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            notes.push("scenario.yaml is missing: no etcd settings or target rate to show.".to_string());
            return r;
        };
        let yaml: serde_json::Value = match serde_saphyr::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!("{}: could not be read ({e}): no etcd settings or target rate to show.", path.display()));
                return r;
            }
        };
        if let Some(etcd) = yaml.pointer("/cluster/etcd").and_then(|v| v.as_object()) {
            for key in [
                "version",
                "binary",
                "image",
                "heartbeat_interval",
                "election_timeout",
                "snapshot_count",
                "quota_backend_bytes",
                "extra_args",
                "initial_corrupt_check",
                "corrupt_check_time",
                "compact_hash_check",
            ] {
                if let Some(v) = etcd.get(key) {
                    let shown = match v {
                        serde_json::Value::Array(a) => a.iter().map(val).collect::<Vec<_>>().join(" "),
                        v => val(v),
                    };
                    r.etcd.push((key.to_string(), shown));
                }
            }
        }
        if r.clients.is_none() {
            r.clients = yaml.pointer("/workload/clients").and_then(|v| v.as_u64());
        }
        if let Some(rate) = yaml.pointer("/workload/rate").filter(|v| !v.is_null()) {
            let text = val(rate);
            r.rate = crate::units::Rate::parse(&text).ok().map(|x| x.0);
            r.rate_text = Some(text);
        }
        r
    }
}

/// Operations folded into 1 s buckets by completion time.
#[derive(Debug, Default)]
struct Buckets {
    /// Per second: ok, cas not applied (compare false: the cluster answered as asked), and
    /// failed or unknown completions.
    ok: Vec<u64>,
    not_applied: Vec<u64>,
    bad: Vec<u64>,
    /// Per second: a histogram of ok latencies (bin → count, see [`bin_of`]).
    lat: Vec<BTreeMap<u32, u32>>,
    /// Operations invoked whose completion the history does not hold.
    unfinished: u64,
    /// Per member the operation went to: its counts and ok latencies.
    members: BTreeMap<String, MemberOps>,
    /// The line at which the history ends mid-record (what a killed run leaves), if it does.
    cut_at: Option<usize>,
}

/// One member's share of the operations (by the member the client sent them to).
#[derive(Debug, Default)]
struct MemberOps {
    ok: u64,
    cas_not_applied: u64,
    fail: u64,
    info: u64,
    /// Ok latencies: bin → count (see [`bin_of`]).
    lat: BTreeMap<u32, u32>,
}

impl MemberOps {
    /// The `q` quantile of its ok latencies, ms.
    fn quantile(&self, q: f64) -> Option<f64> {
        quantile_of(&self.lat, q)
    }
}

/// The `q` quantile of a latency histogram, ms (the upper edge of its bin).
fn quantile_of(h: &BTreeMap<u32, u32>, q: f64) -> Option<f64> {
    let total: u64 = h.values().map(|&c| c as u64).sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (&bin, &c) in h {
        seen += c as u64;
        if seen >= rank {
            return Some(bin_ms(bin));
        }
    }
    None
}

/// The fields of a history line the report needs (serde skips the rest unparsed).
#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: EntryType,
    id: u64,
    t: u64,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    member: Option<String>,
}

/// The histogram bin of a latency in µs: bins grow by [`BIN_GROWTH`].
fn bin_of(us: u64) -> u32 {
    ((us.max(1) as f64).ln() / BIN_GROWTH.ln()).floor() as u32
}

/// The upper edge of a bin, ms.
fn bin_ms(bin: u32) -> f64 {
    BIN_GROWTH.powi(bin as i32 + 1) / 1000.0
}

impl Buckets {
    /// Stream `history.jsonl`, keeping only the invocations still in flight.
    fn read(path: &Path) -> Result<Buckets, Error> {
        let f = std::fs::File::open(path).map_err(|e| Error::BadInput(format!("could not read {}: {e}", path.display())))?;
        let mut b = Buckets::default();
        let mut open: HashMap<u64, (u64, Option<String>)> = HashMap::new();
        let mut line = String::new();
        let mut r = BufReader::new(f);
        let mut n = 0usize;
        loop {
            line.clear();
            n += 1;
            let got = r.read_line(&mut line).map_err(|e| Error::BadInput(format!("{}:{n}: {e}", path.display())))?;
            if got == 0 {
                break;
            }
            if line.trim().is_empty() {
                continue;
            }
            let l: Line = match serde_json::from_str(&line) {
                Ok(l) => l,
                // The last line without its newline: a record cut off as it was written (a
                // killed run). What came before is drawn; the page says where it ends.
                Err(_) if !line.ends_with('\n') => {
                    b.cut_at = Some(n);
                    break;
                }
                Err(e) => return Err(Error::BadInput(format!("{}:{n}: expected a history entry (docs/formats.md §2): {e}", path.display()))),
            };
            if l.kind == EntryType::Invoke {
                open.insert(l.id, (l.t, l.member));
                continue;
            }
            let Some((invoked, to)) = open.remove(&l.id) else { continue };
            let m = b.members.entry(l.member.or(to).unwrap_or_else(|| "?".into())).or_default();
            let sec = (l.t / 1_000_000_000) as usize;
            if b.ok.len() <= sec {
                b.ok.resize(sec + 1, 0);
                b.not_applied.resize(sec + 1, 0);
                b.bad.resize(sec + 1, 0);
                b.lat.resize(sec + 1, BTreeMap::new());
            }
            if l.kind == EntryType::Ok {
                b.ok[sec] += 1;
                let bin = bin_of(l.t.saturating_sub(invoked) / 1000);
                *b.lat[sec].entry(bin).or_insert(0) += 1;
                m.ok += 1;
                *m.lat.entry(bin).or_insert(0) += 1;
            } else if l.kind == EntryType::Fail && l.error.as_deref() == Some(COMPARE_FAILED) {
                b.not_applied[sec] += 1;
                m.cas_not_applied += 1;
            } else {
                b.bad[sec] += 1;
                if l.kind == EntryType::Fail {
                    m.fail += 1;
                } else {
                    m.info += 1;
                }
            }
        }
        b.unfinished = open.len() as u64;
        Ok(b)
    }

    /// The `q` quantile of bucket `sec`'s ok latencies, ms (the upper edge of its bin).
    fn quantile(&self, sec: usize, q: f64) -> Option<f64> {
        quantile_of(self.lat.get(sec)?, q)
    }
}

/// A fault with its start (when its injection began) and heal, s.
#[derive(Debug)]
struct FaultBar {
    rec: FaultRecord,
    from: f64,
    /// When its proof was in, s (runs recorded before `proven_t` have none).
    proven: Option<f64>,
    to: Option<f64>,
    heal_proof: Option<String>,
}

/// What `events.jsonl` says, on the time axis.
#[derive(Debug, Default)]
struct Timeline {
    members: Vec<String>,
    faults: Vec<FaultBar>,
    /// (t s, member, term)
    leaders: Vec<(f64, String, u64)>,
    /// (t s, member, what)
    marks: Vec<(f64, String, String)>,
    /// The latest event, s: the run is not known past it (nor past the workload's end).
    last_t: f64,
    /// Clients, from `workload-start`.
    clients: Option<u64>,
}

/// A leader elected at a term more than one above the previous leader's, after a heal: an
/// isolated member that campaigned alone rejoining and forcing an election.
#[derive(Debug, Clone, PartialEq)]
struct TermJump {
    t: f64,
    member: String,
    from: u64,
    to: u64,
    /// The heal before it: (fault id, kind, when, s).
    after: (usize, String, f64),
}

impl Timeline {
    fn from_events(evs: &[events::Event]) -> Timeline {
        let mut tl = Timeline::default();
        let mut members = BTreeSet::new();
        let mut open: HashMap<usize, usize> = HashMap::new();
        // What a triggered fault's start or heal waited for, until that start or heal.
        let mut fired: HashMap<(usize, bool), String> = HashMap::new();
        for e in evs {
            let t = e.t as f64 / 1e9;
            tl.last_t = tl.last_t.max(t);
            match &e.what {
                EventKind::WorkloadStart { clients } => tl.clients = Some(u64::from(*clients)),
                EventKind::MemberStart { member, .. } => {
                    members.insert(member.clone());
                    tl.marks.push((t, member.clone(), "started".into()));
                }
                EventKind::MemberStop { member, how } => {
                    members.insert(member.clone());
                    tl.marks.push((t, member.clone(), format!("stopped ({how})")));
                }
                EventKind::MemberVersion { member, version, from: Some(from) } => {
                    members.insert(member.clone());
                    tl.marks.push((t, member.clone(), format!("now runs etcd {version} (was {from})")));
                }
                EventKind::LeaderChange { member, term } => {
                    members.insert(member.clone());
                    tl.leaders.push((t, member.clone(), *term));
                }
                EventKind::TriggerFired { fault, then, waited_for, .. } => {
                    fired.insert((*fault, then == "start"), waited_for.clone());
                }
                EventKind::SnapshotReceived { member, .. } => {
                    members.insert(member.clone());
                    tl.marks.push((t, member.clone(), "applied a snapshot from the leader".into()));
                }
                EventKind::FaultStart(r) => {
                    if let Some(w) = fired.remove(&(r.id, true)) {
                        r.targets.iter().for_each(|m| tl.marks.push((t, m.clone(), format!("fault #{} started: {w}", r.id))));
                    }
                    members.extend(r.targets.iter().cloned());
                    open.insert(r.id, tl.faults.len());
                    tl.faults.push(FaultBar { rec: r.clone(), from: t, proven: r.proven_t.map(|p| p as f64 / 1e9), to: None, heal_proof: None });
                }
                EventKind::FaultHeal(r) => {
                    if let Some(w) = fired.remove(&(r.id, false)) {
                        r.targets.iter().for_each(|m| tl.marks.push((t, m.clone(), format!("fault #{} healed: {w}", r.id))));
                    }
                    if let Some(i) = open.remove(&r.id) {
                        tl.faults[i].to = Some(t);
                        tl.faults[i].heal_proof = Some(r.proof.clone());
                    }
                }
                _ => {}
            }
        }
        tl.members = members.into_iter().collect();
        // Marks before the workload started are the cluster's set-up: not worth a marker each.
        tl.marks.retain(|m| m.0 > 0.0);
        tl
    }

    /// Term jumps after a heal (see [`TermJump`]).
    fn term_jumps(&self) -> Vec<TermJump> {
        let mut out = Vec::new();
        for w in self.leaders.windows(2) {
            let ((t0, _, from), (t, member, to)) = (&w[0], &w[1]);
            if *to <= from + 1 {
                continue;
            }
            let heal = self.faults.iter().filter_map(|f| f.to.map(|h| (f, h))).filter(|(_, h)| *h <= *t && *h >= *t0).max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((f, h)) = heal {
                out.push(TermJump { t: *t, member: member.clone(), from: *from, to: *to, after: (f.rec.id, f.rec.kind.clone(), h) });
            }
        }
        out
    }

    /// The members a fault hit (all of them when its record names none).
    fn hit<'a>(&'a self, f: &'a FaultBar) -> Vec<&'a str> {
        if f.rec.targets.is_empty() {
            self.members.iter().map(String::as_str).collect()
        } else {
            f.rec.targets.iter().map(String::as_str).collect()
        }
    }
}

/// A gate's limit or actual value as text: strings bare, `null` as a dash.
fn val(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// A tick step for an axis of `span` units giving about `n` ticks.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= raw {
            return m * mag;
        }
    }
    10.0 * mag
}

/// The time axis: seconds → x.
struct Axis {
    end: f64,
}

impl Axis {
    fn x(&self, t: f64) -> f64 {
        X0 + (t.clamp(0.0, self.end) / self.end) * (X1 - X0)
    }
}

fn page(sum: &Summary, tl: &Timeline, b: &Buckets, run: &RunSettings, has_violation: bool, notes: &[String]) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — faultline report</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(&sum.scenario),
        CSS
    );
    header(&mut o, sum, run, has_violation);
    for n in notes {
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(n));
    }
    o.push_str("<h2>What the faults did <small>one time axis: seconds from the workload start</small></h2>\n");
    legend(&mut o, tl);
    drawing(&mut o, sum, tl, b, run);
    fault_table(&mut o, tl);
    term_jumps(&mut o, tl);
    error_table(&mut o, sum);
    member_table(&mut o, b);
    if let Some(c) = &sum.corruption {
        o.push_str("<h2>Corruption <small>who noticed, how soon after the fault</small></h2>\n");
        let _ = writeln!(o, "<p class=\"corruption\">{}</p>", esc(&c.line()));
        o.push_str("<table class=\"corruption\"><thead><tr><th>t (s)</th><th>by</th><th>member</th><th>after injection (s)</th><th>after restart (s)</th><th>what was said</th></tr></thead><tbody>\n");
        let opt = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |x| format!("{x:.2}"));
        for d in &c.detections {
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{:.2}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                d.t_s,
                d.by.as_str(),
                esc(&d.member),
                opt(d.after_injection_s),
                opt(d.after_restart_s),
                esc(&d.detail)
            );
        }
        o.push_str("</tbody></table>\n");
    }
    consistency_table(&mut o, sum);
    watch_table(&mut o, sum);
    logs(&mut o, run);
    o.push_str("</body>\n</html>\n");
    o
}

fn header(o: &mut String, s: &Summary, run: &RunSettings, has_violation: bool) {
    let _ = writeln!(
        o,
        "<h1>faultline report</h1>\n<h2 class=\"title\">{} <span class=\"verdict {}\">{}</span></h2>",
        esc(&s.scenario),
        esc(&s.verdict),
        esc(&s.verdict.to_uppercase())
    );
    if has_violation {
        o.push_str("<p class=\"violation\">The history is <b>not linearizable</b>: <a href=\"linearizability.html\">linearizability.html</a> draws the violation.</p>\n");
    }
    for r in &s.verdict_reasons {
        let _ = writeln!(o, "<p class=\"reason\">{}</p>", esc(r));
    }
    let lin = match (s.linearizable, &s.linearizable_cause) {
        (Some(true), _) => "yes".to_string(),
        (Some(false), _) => "NO".to_string(),
        (None, Some(cause)) => format!("unknown: {cause}"),
        (None, None) => "unknown".to_string(),
    };
    let mut facts: Vec<(&str, String)> = vec![
        ("seed", s.seed.to_string()),
        ("backend", s.backend.clone()),
        ("etcd", s.etcd_version.clone()),
        ("duration", format!("{:.1} s", s.duration_s)),
        ("operations", format!("{} ({} ok, {} fail, {} cas not applied, {} info)", s.ops.total, s.ops.ok, s.ops.fail, s.ops.cas_not_applied, s.ops.info)),
        ("throughput", format!("{:.1} ok/s", s.throughput_ok_per_s)),
        (
            "latency p50 / p99 / p99.9 / max",
            format!("{} / {} / {} / {} ms", s.latency_ms.all.p50, s.latency_ms.all.p99, s.latency_ms.all.p999, s.latency_ms.all.max),
        ),
        ("leader changes", s.leader_changes.to_string()),
        ("max unavailable", format!("{} s", s.max_unavailable_s)),
        ("linearizable", lin),
    ];
    // The run id is what `faultline clean --run ID` takes; empty in summaries older than it.
    if !s.run_id.is_empty() {
        facts.push(("run id", s.run_id.clone()));
    }
    if !s.started_at.is_empty() {
        facts.push(("started (UTC)", s.started_at.clone()));
    }
    if !s.faultline_version.is_empty() {
        facts.push(("faultline", s.faultline_version.clone()));
    }
    facts.push(("run dir", s.run_dir.clone()));
    facts.push((
        "workload",
        format!(
            "{} clients, {}",
            run.clients.map_or_else(|| "?".to_string(), |c| c.to_string()),
            run.rate_text.as_ref().map_or_else(|| "closed loop (no target rate)".to_string(), |r| format!("target {r}"))
        ),
    ));
    if !run.etcd.is_empty() {
        facts.push(("etcd settings", run.etcd.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(" · ")));
    }
    if let Some(v) = s.versions_line() {
        facts.push(("etcd versions at the end", v));
    }
    if let Some(w) = &s.watch {
        facts.push(("watch streams", format!("{} streams, {} events: {}", w.streams, w.events, w.problems())));
    }
    for r in &s.restores {
        facts.push(("snapshot-restore", format!("{} ({:.1}–{:.1} s): {}", r.snapshot, r.from_s, r.to_s, r.message)));
    }
    o.push_str("<div class=\"facts\">");
    for (k, v) in facts {
        let _ = write!(o, "<div><span class=\"k\">{k}</span><span class=\"v\">{}</span></div>", esc(&v));
    }
    o.push_str("</div>\n<table class=\"gates\"><thead><tr><th>gate</th><th>status</th><th>actual</th><th>limit</th><th>why</th></tr></thead><tbody>\n");
    if s.gates.is_empty() {
        o.push_str("<tr><td colspan=\"5\">no gates</td></tr>\n");
    }
    for g in &s.gates {
        let label = g.status.label();
        let _ = writeln!(
            o,
            "<tr class=\"gate\"><td><code>{}</code>{}</td><td><span class=\"st {}\">{label}</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"msg\">{}</td></tr>",
            esc(&g.name),
            if g.assumption { " <small>(assumption)</small>" } else { "" },
            label.to_lowercase(),
            esc(&val(&g.actual)),
            esc(&val(&g.limit)),
            esc(&g.message)
        );
    }
    o.push_str("</tbody></table>\n");
}

fn colour(tl: &Timeline, member: &str) -> &'static str {
    let i = tl.members.iter().position(|m| m == member).unwrap_or(PALETTE.len() - 1);
    PALETTE[i % PALETTE.len()]
}

fn legend(o: &mut String, tl: &Timeline) {
    o.push_str("<p class=\"legend\">");
    for m in &tl.members {
        let _ = write!(o, "<span class=\"item\"><span class=\"sw\" style=\"background:{}\"></span>{} leads</span>", colour(tl, m), esc(m));
    }
    o.push_str(
        "<span class=\"item\"><span class=\"sw fault\"></span>fault (hover for the proof)</span>\
<span class=\"item\"><span class=\"sw unav\"></span>unavailable (no ok operation ≥ 250 ms)</span>\
<span class=\"item\"><span class=\"sw ok\"></span>ok ops/s</span><span class=\"item\"><span class=\"sw noop\"></span>cas not applied (compare false) ops/s</span>\
<span class=\"item\"><span class=\"sw bad\"></span>fail + info ops/s</span></p>\n",
    );
}

/// Fault rows per member: each fault on the first row of the lane where it does not overlap.
fn rows(tl: &Timeline, end: f64) -> (Vec<Vec<(usize, usize)>>, Vec<usize>) {
    // per member: (fault index, row)
    let mut per: Vec<Vec<(usize, usize)>> = vec![Vec::new(); tl.members.len()];
    let mut nrows = vec![1usize; tl.members.len()];
    let mut ends: Vec<Vec<f64>> = vec![Vec::new(); tl.members.len()];
    for (fi, f) in tl.faults.iter().enumerate() {
        let to = f.to.unwrap_or(end);
        for m in tl.hit(f) {
            let Some(mi) = tl.members.iter().position(|x| x == m) else { continue };
            let row = match ends[mi].iter().position(|&e| e <= f.from) {
                Some(r) => r,
                None => {
                    ends[mi].push(0.0);
                    ends[mi].len() - 1
                }
            };
            ends[mi][row] = to;
            per[mi].push((fi, row));
            nrows[mi] = nrows[mi].max(row + 1);
        }
    }
    (per, nrows)
}

fn shade(o: &mut String, ax: &Axis, windows: &[Window], y: f64, h: f64) {
    for w in windows {
        let (a, b) = (ax.x(w.from_s), ax.x(w.to_s));
        let _ = writeln!(
            o,
            "<rect class=\"unav\" x=\"{a:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>unavailable {:.3}–{:.3} s ({:.3} s)</title></rect>",
            (b - a).max(1.0),
            w.from_s,
            w.to_s,
            w.len_s()
        );
    }
}

fn time_grid(o: &mut String, ax: &Axis, y: f64, h: f64) {
    let step = nice_step(ax.end, 12.0);
    let mut t = 0.0;
    while t <= ax.end + 1e-9 {
        let x = ax.x(t);
        let _ = write!(o, "M{x:.1} {y:.1}V{:.1}", y + h);
        t += step;
    }
}

fn drawing(o: &mut String, s: &Summary, tl: &Timeline, b: &Buckets, run: &RunSettings) {
    let last_event = tl.faults.iter().map(|f| f.to.unwrap_or(f.from)).chain(tl.leaders.iter().map(|l| l.0)).fold(0.0f64, f64::max);
    let end = s.duration_s.max(b.ok.len() as f64).max(last_event).max(1.0);
    // The last leader is known until the last event (or the workload's end), not the axis's end.
    let run_end = s.duration_s.max(tl.last_t).min(end);
    let ax = Axis { end };
    let (per, nrows) = rows(tl, end);
    let lane_h: Vec<f64> = nrows.iter().map(|&n| n as f64 * ROW_H + 8.0).collect();
    let faults_h: f64 = lane_h.iter().sum::<f64>().max(ROW_H);
    // Panel tops.
    let y_faults = GAP;
    let y_leader = y_faults + faults_h + GAP;
    let y_tput = y_leader + LEADER_H + GAP;
    let y_lat = y_tput + CHART_H + GAP;
    let y_axis = y_lat + CHART_H;
    let height = y_axis + 34.0;
    let panels = [(y_faults, faults_h), (y_leader, LEADER_H), (y_tput, CHART_H), (y_lat, CHART_H)];

    let _ = writeln!(
        o,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height:.0}\" width=\"{W}\" height=\"{height:.0}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">"
    );
    // Panel backgrounds, grid and unavailability shading.
    for &(y, h) in &panels {
        let _ = writeln!(o, "<rect class=\"panel\" x=\"{X0}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\"/>", X1 - X0);
    }
    o.push_str("<path class=\"grid\" d=\"");
    for &(y, h) in &panels {
        time_grid(o, &ax, y, h);
    }
    o.push_str("\"/>\n");
    for &(y, h) in &panels {
        shade(o, &ax, &s.unavailability, y, h);
    }
    let title = |o: &mut String, y: f64, text: &str| {
        let _ = writeln!(o, "<text class=\"ptitle\" x=\"{X0}\" y=\"{:.1}\">{}</text>", y - 9.0, text);
    };

    // Fault timeline: a lane per member.
    title(o, y_faults, "Faults, one lane per member");
    let mut y = y_faults;
    for (mi, m) in tl.members.iter().enumerate() {
        let h = lane_h[mi];
        if mi > 0 {
            let _ = writeln!(o, "<path class=\"sep\" d=\"M{X0} {y:.1}H{X1}\"/>");
        }
        let _ = writeln!(
            o,
            "<g class=\"lane\" data-member=\"{m}\"><text class=\"gut\" x=\"{:.1}\" y=\"{:.1}\"><tspan class=\"dot\" fill=\"{}\">●</tspan> {m}</text>",
            X0 - 8.0,
            y + h / 2.0 + 4.0,
            colour(tl, m),
            m = esc(m)
        );
        for &(fi, row) in &per[mi] {
            let f = &tl.faults[fi];
            let (a, bx) = (ax.x(f.from), ax.x(f.to.unwrap_or(end)));
            let w = (bx - a).max(3.0);
            let ry = y + 4.0 + row as f64 * ROW_H;
            let to = f.to.map(|t| format!("{t:.3} s")).unwrap_or_else(|| "never healed".into());
            let label = format!("{} {:.1}→{} · {}", f.rec.kind, f.from, f.to.map(|t| format!("{t:.1}")).unwrap_or_else(|| "…".into()), f.rec.mechanism);
            let mut tip = format!(
                "#{} {} on {} (target {}), {:.3} s → {to}, by {}",
                f.rec.id,
                f.rec.kind,
                f.rec.targets.join(", "),
                f.rec.target,
                f.from,
                f.rec.mechanism
            );
            if let Some(p) = f.proven {
                let _ = write!(tip, "\ninjection began at {:.3} s, proven in force at {p:.3} s", f.from);
            }
            if !f.rec.params.is_empty() {
                let _ = write!(tip, "\nparams: {}", serde_json::Value::Object(f.rec.params.clone()));
            }
            let _ = write!(tip, "\nproof: {}", f.rec.proof);
            if let Some(hp) = &f.heal_proof {
                let _ = write!(tip, "\nhealed: {hp}");
            }
            let _ = writeln!(
                o,
                "<g class=\"fault{}\" data-kind=\"{}\"><title>{}</title><rect x=\"{a:.1}\" y=\"{ry:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"3\"/>",
                if f.to.is_none() { " open" } else { "" },
                esc(&f.rec.kind),
                esc(&tip),
                ROW_H - 5.0
            );
            // The label inside the bar when it fits, else just the kind, else nothing (the tooltip has it).
            let fits = |t: &str| t.chars().count() as f64 * 6.6 + 8.0 <= w;
            let shown = if fits(&label) {
                Some(label)
            } else if fits(&f.rec.kind) {
                Some(f.rec.kind.clone())
            } else {
                None
            };
            if let Some(t) = shown {
                let _ = writeln!(o, "<text class=\"flbl\" x=\"{:.1}\" y=\"{:.1}\">{}</text>", a + 4.0, ry + ROW_H - 10.0, esc(&t));
            }
            o.push_str("</g>\n");
        }
        for (t, _, what) in tl.marks.iter().filter(|mk| &mk.1 == m) {
            let x = ax.x(*t);
            let _ =
                writeln!(o, "<path class=\"mark\" d=\"M{x:.1} {:.1}l-4 -6h8z\"><title>{m} {} at {t:.3} s</title></path>", y + h - 1.0, esc(what), m = esc(m));
        }
        o.push_str("</g>\n");
        y += h;
    }
    if tl.members.is_empty() {
        let _ = writeln!(o, "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\">no members in events.jsonl</text>", X0 + 10.0, y_faults + 16.0);
    }

    // Leader over time.
    title(o, y_leader, "Leader (term), changes marked ▼");
    let _ = writeln!(o, "<text class=\"gut\" x=\"{:.1}\" y=\"{:.1}\">leader</text>", X0 - 8.0, y_leader + LEADER_H / 2.0 + 4.0);
    for (i, (t, m, term)) in tl.leaders.iter().enumerate() {
        let until = tl.leaders.get(i + 1).map(|l| l.0).unwrap_or(run_end.max(*t));
        let (a, bx) = (ax.x(*t), ax.x(until));
        let w = (bx - a).max(1.0);
        let _ = write!(
            o,
            "<g class=\"leader\" data-member=\"{m}\"><title>{m} leader, term {term}, from {t:.3} s to {until:.3} s</title><rect x=\"{a:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
            y_leader + 3.0,
            LEADER_H - 6.0,
            colour(tl, m),
            m = esc(m)
        );
        let text = format!("{} t{term}", m);
        if text.chars().count() as f64 * 6.6 + 8.0 <= w {
            let _ = write!(o, "<text class=\"llbl\" x=\"{:.1}\" y=\"{:.1}\">{}</text>", a + 4.0, y_leader + LEADER_H / 2.0 + 4.0, esc(&text));
        }
        o.push_str("</g>\n");
        if i > 0 {
            let _ = writeln!(
                o,
                "<path class=\"change\" d=\"M{a:.1} {:.1}V{:.1}M{a:.1} {:.1}l-5 -7h10z\"><title>leader change at {t:.3} s: {} (term {term})</title></path>",
                y_leader,
                y_leader + LEADER_H,
                y_leader - 1.0,
                esc(m)
            );
        }
    }
    if tl.leaders.is_empty() {
        let _ = writeln!(o, "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\">no leader seen</text>", X0 + 10.0, y_leader + LEADER_H / 2.0 + 4.0);
    }

    for j in tl.term_jumps() {
        let x = ax.x(j.t);
        let _ = writeln!(
            o,
            "<g class=\"termjump\"><title>term jump {} → {} at {:.3} s ({} elected), after the heal of #{} {} at {:.3} s: a member that campaigned alone rejoined and forced an election</title><text x=\"{:.1}\" y=\"{:.1}\">⚠ term {}→{}</text></g>",
            j.from,
            j.to,
            j.t,
            esc(&j.member),
            j.after.0,
            esc(&j.after.1),
            j.after.2,
            x + 4.0,
            y_leader - 2.0,
            j.from,
            j.to
        );
    }

    throughput(o, &ax, b, y_tput, run.rate);
    latency(o, &ax, b, y_lat);

    // The shared time axis.
    let _ = write!(o, "<path class=\"axis\" d=\"M{X0} {y_axis:.1}H{X1}");
    let step = nice_step(end, 12.0);
    let mut t = 0.0;
    let mut labels = String::new();
    while t <= end + 1e-9 {
        let x = ax.x(t);
        let _ = write!(o, "M{x:.1} {y_axis:.1}v5");
        let _ = write!(labels, "<text class=\"tl\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>", y_axis + 18.0, fmt_num(t));
        t += step;
    }
    let _ = writeln!(o, "\"/>\n{labels}\n<text class=\"gut\" x=\"{:.1}\" y=\"{:.1}\">s</text>", X0 - 8.0, y_axis + 18.0);
    o.push_str("</svg>\n");
}

/// A number without trailing zeros: `12`, `2.5`, `0.25`.
fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn throughput(o: &mut String, ax: &Axis, b: &Buckets, y: f64, rate: Option<f64>) {
    let _ = writeln!(o, "<text class=\"ptitle\" x=\"{X0}\" y=\"{:.1}\">Throughput, operations per 1 s bucket (by completion)</text>", y - 9.0);
    let max = ((0..b.ok.len()).map(|i| b.ok[i] + b.not_applied[i] + b.bad[i]).max().unwrap_or(0).max(1) as f64).max(rate.unwrap_or(0.0));
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil() * step;
    let yv = |v: f64| y + CHART_H - v / top * CHART_H;
    y_ticks(o, (0..=((top / step) as usize)).map(|i| i as f64 * step).map(|v| (yv(v), fmt_num(v))));
    let _ = writeln!(o, "<text class=\"unit\" x=\"{:.1}\" y=\"{:.1}\">ops/s</text>", X0 - 8.0, y - 9.0);
    // Each series is one path of bars: one element however long the run.
    let (mut ok, mut noop, mut bad) = (String::new(), String::new(), String::new());
    for (sec, ((&n, &c), &f)) in b.ok.iter().zip(&b.not_applied).zip(&b.bad).enumerate() {
        let (a, bx) = (ax.x(sec as f64), ax.x(sec as f64 + 1.0));
        // A hairline gap between wide bars; none between narrow ones (it would shimmer).
        let w = if bx - a > 4.0 { bx - a - 0.6 } else { bx - a };
        if n > 0 {
            let _ = write!(ok, "M{a:.1} {:.1}h{w:.1}V{:.1}h-{w:.1}z", yv(n as f64), y + CHART_H);
        }
        if c > 0 {
            let _ = write!(noop, "M{a:.1} {:.1}h{w:.1}V{:.1}h-{w:.1}z", yv((n + c) as f64), yv(n as f64));
        }
        if f > 0 {
            let _ = write!(bad, "M{a:.1} {:.1}h{w:.1}V{:.1}h-{w:.1}z", yv((n + c + f) as f64), yv((n + c) as f64));
        }
    }
    let _ = writeln!(o, "<path class=\"tput ok\" d=\"{ok}\"><title>ok operations per second</title></path>");
    let _ = writeln!(
        o,
        "<path class=\"tput noop\" d=\"{noop}\"><title>cas not applied (compare false) per second: answered as asked, not a failure</title></path>"
    );
    let _ = writeln!(o, "<path class=\"tput bad\" d=\"{bad}\"><title>failed or unknown (info) operations per second</title></path>");
    if let Some(r) = rate.filter(|r| *r > 0.0) {
        let yr = yv(r);
        let _ = writeln!(
            o,
            "<g class=\"target\"><title>target rate {} ops/s</title><path d=\"M{X0} {yr:.1}H{X1}\"/><text x=\"{:.1}\" y=\"{:.1}\">target {}/s</text></g>",
            fmt_num(r),
            X1 - 4.0,
            yr - 4.0,
            fmt_num(r)
        );
    }
    if b.ok.is_empty() {
        let _ = writeln!(o, "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\">no operations</text>", X0 + 10.0, y + 20.0);
    }
}

fn y_ticks(o: &mut String, ticks: impl Iterator<Item = (f64, String)>) {
    let mut grid = String::new();
    let mut labels = String::new();
    for (y, label) in ticks {
        let _ = write!(grid, "M{X0} {y:.1}H{X1}");
        let _ = write!(labels, "<text class=\"gut\" x=\"{:.1}\" y=\"{:.1}\">{label}</text>", X0 - 8.0, y + 4.0);
    }
    let _ = writeln!(o, "<path class=\"hgrid\" d=\"{grid}\"/>\n{labels}");
}

fn latency(o: &mut String, ax: &Axis, b: &Buckets, y: f64) {
    let _ = writeln!(o, "<text class=\"ptitle\" x=\"{X0}\" y=\"{:.1}\">Latency of ok operations per 1 s bucket, ms, log scale: p50 and p99</text>", y - 9.0);
    let p50: Vec<Option<f64>> = (0..b.ok.len()).map(|s| b.quantile(s, 0.50)).collect();
    let p99: Vec<Option<f64>> = (0..b.ok.len()).map(|s| b.quantile(s, 0.99)).collect();
    let max = p99.iter().flatten().copied().fold(1.0f64, f64::max);
    let top_dec = max.log10().ceil().max(0.0) as i32;
    let bottom_dec = LAT_MIN_MS.log10().round() as i32;
    let span = (top_dec - bottom_dec).max(1) as f64;
    let yv = |ms: f64| y + CHART_H - (ms.max(LAT_MIN_MS).log10() - bottom_dec as f64) / span * CHART_H;
    y_ticks(o, (bottom_dec..=top_dec).map(|d| (yv(10f64.powi(d)), fmt_num(10f64.powi(d)))));
    let _ = writeln!(o, "<text class=\"unit\" x=\"{:.1}\" y=\"{:.1}\">ms</text>", X0 - 8.0, y - 9.0);
    for (name, series) in [("p99", &p99), ("p50", &p50)] {
        // A step line: flat across each bucket, broken where a bucket has no ok operation.
        let mut d = String::new();
        let mut pen_down = false;
        for (sec, v) in series.iter().enumerate() {
            match v {
                Some(ms) => {
                    let (a, bx, yy) = (ax.x(sec as f64), ax.x(sec as f64 + 1.0), yv(*ms));
                    let _ = write!(d, "{}{a:.1} {yy:.1}H{bx:.1}", if pen_down { "L" } else { "M" });
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = writeln!(o, "<path class=\"lat {name}\" d=\"{d}\"><title>{name} latency per second, ms</title></path>");
        if let Some((sec, Some(ms))) = series.iter().enumerate().rev().find(|(_, v)| v.is_some()) {
            // p99 above its line, p50 below its own, so they do not collide where they meet.
            let dy = if name == "p99" { -3.0 } else { 12.0 };
            let _ =
                writeln!(o, "<text class=\"lname {name}\" x=\"{:.1}\" y=\"{:.1}\">{name}</text>", (ax.x(sec as f64 + 1.0) + 3.0).min(X1 - 22.0), yv(*ms) + dy);
        }
    }
}

fn fault_table(o: &mut String, tl: &Timeline) {
    o.push_str("<h2>Faults</h2>\n");
    if tl.faults.is_empty() {
        o.push_str("<p>No fault took effect.</p>\n");
        return;
    }
    o.push_str(
        "<table class=\"faults\"><thead><tr><th>#</th><th>kind</th><th>target</th><th>injected → healed (s)</th><th>mechanism</th><th>proof</th></tr></thead><tbody>\n",
    );
    for f in &tl.faults {
        let to = f.to.map(|t| format!("{t:.3}")).unwrap_or_else(|| "never healed".into());
        let proven = f.proven.map(|p| format!("<br><small>in force (proven) at {p:.3}</small>")).unwrap_or_default();
        let _ = writeln!(
            o,
            "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td>{} → {}</td><td class=\"num\">{:.3} → {to}{proven}</td><td>{}</td><td class=\"proof\">{}{}</td></tr>",
            f.rec.id,
            esc(&f.rec.kind),
            esc(&f.rec.target),
            esc(&f.rec.targets.join(", ")),
            f.from,
            esc(&f.rec.mechanism),
            esc(&f.rec.proof),
            f.heal_proof.as_ref().map(|h| format!("<br><span class=\"healed\">healed: {}</span>", esc(h))).unwrap_or_default()
        );
    }
    o.push_str("</tbody></table>\n");
}

fn term_jumps(o: &mut String, tl: &Timeline) {
    let jumps = tl.term_jumps();
    if jumps.is_empty() {
        return;
    }
    o.push_str("<h2>Term jumps after a heal</h2>\n<ul class=\"jumps\">\n");
    for j in jumps {
        let _ = writeln!(
            o,
            "<li>{:.3} s: term <b>{} → {}</b> ({} elected), after the heal of #{} <code>{}</code> at {:.3} s — a member that kept campaigning while cut off rejoined with a higher term and forced an election (the outage after the heal)</li>",
            j.t,
            j.from,
            j.to,
            esc(&j.member),
            j.after.0,
            esc(&j.after.1),
            j.after.2
        );
    }
    o.push_str("</ul>\n");
}

fn error_table(o: &mut String, s: &Summary) {
    o.push_str("<h2>Errors</h2>\n");
    if s.errors.is_empty() && s.ops.cas_not_applied == 0 {
        o.push_str("<p>No operation failed.</p>\n");
        return;
    }
    o.push_str("<table class=\"errors\"><thead><tr><th>error</th><th>operations</th></tr></thead><tbody>\n");
    let mut by: Vec<(&String, &u64)> = s.errors.iter().collect();
    by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (m, n) in by {
        let _ = writeln!(o, "<tr class=\"error\"><td>{}</td><td class=\"num\">{n}</td></tr>", esc(m));
    }
    if s.ops.cas_not_applied > 0 {
        let _ = writeln!(
            o,
            "<tr class=\"noop\"><td>cas not applied (compare false) — not an error: the cluster answered as asked</td><td class=\"num\">{}</td></tr>",
            s.ops.cas_not_applied
        );
    }
    o.push_str("</tbody></table>\n");
}

fn member_table(o: &mut String, b: &Buckets) {
    if b.members.is_empty() {
        return;
    }
    o.push_str("<h2>Per member <small>operations by the member the client sent them to</small></h2>\n<table class=\"members\"><thead><tr><th>member</th><th>ok</th><th>cas not applied</th><th>fail</th><th>info</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th></tr></thead><tbody>\n");
    for (m, x) in &b.members {
        let q = |p: f64| x.quantile(p).map_or_else(|| "—".to_string(), |v| format!("{v:.2}"));
        let _ = writeln!(
            o,
            "<tr class=\"member\" data-member=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(m),
            esc(m),
            x.ok,
            x.cas_not_applied,
            x.fail,
            x.info,
            q(0.50),
            q(0.99),
            q(0.999)
        );
    }
    o.push_str("</tbody></table>\n");
}

fn consistency_table(o: &mut String, s: &Summary) {
    o.push_str("<h2>Consistency after the run</h2>\n");
    let Some(c) = &s.consistency else {
        o.push_str("<p>Not measured.</p>\n");
        return;
    };
    let rev = c.revision.map_or_else(|| "—".to_string(), |r| r.to_string());
    let verdict = if c.consistent {
        format!("members agree at revision {rev}")
    } else if c.diverged() {
        format!("MEMBERS DIVERGED: {}", c.differences.join("; "))
    } else {
        format!("could not compare the members (not diverged): {}", c.not_compared.join("; "))
    };
    let _ = writeln!(o, "<p class=\"consistency\">{} <small>(waited {:.2} s)</small></p>", esc(&verdict), c.waited_s);
    if !c.skipped.is_empty() {
        let _ = writeln!(o, "<p class=\"consistency\">Left out by design: {}</p>", esc(&c.skipped.join("; ")));
    }
    o.push_str("<table class=\"consistency\"><thead><tr><th>member</th><th>revision</th><th>HashKV</th><th>keys</th><th>error</th></tr></thead><tbody>\n");
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
    for m in &c.members {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&m.member),
            opt(m.revision.map(|r| r.to_string())),
            opt(m.hash.map(|h| format!("{h:#010x}"))),
            opt(m.keys.map(|k| k.to_string())),
            esc(m.error.as_deref().unwrap_or(""))
        );
    }
    o.push_str("</tbody></table>\n");
}

/// The watch check: the broken guarantees, each with its violations as `summary.json`
/// lists them, then a row per stream.
fn watch_table(o: &mut String, s: &Summary) {
    let Some(w) = &s.watch else { return };
    o.push_str("<h2>Watch guarantees <small>docs/checker.md, \"Watch guarantees\"</small></h2>\n");
    if w.ok {
        let names: Vec<&str> = crate::checker::watch::Guarantee::ALL.iter().map(|g| g.name()).collect();
        let _ = writeln!(o, "<p class=\"watch\">Every guarantee held: {}.</p>", names.join(", "));
    } else {
        let first = w.first_problem.as_deref().map_or(String::new(), |p| format!("; first, {p}"));
        let _ = writeln!(o, "<p class=\"watch\">BROKEN: {}{}</p>", esc(&w.problems()), esc(&first));
        o.push_str("<table class=\"watch-violations\"><thead><tr><th>guarantee</th><th>watcher</th><th>member</th><th>revision</th><th>key</th><th>t (s)</th><th>what</th></tr></thead><tbody>\n");
        for (g, n) in w.guarantees.iter().filter(|(_, n)| **n > 0) {
            let listed: Vec<_> = w.violations.iter().filter(|v| v.guarantee == *g).collect();
            for v in &listed {
                let _ = writeln!(
                    o,
                    "<tr class=\"violation\" data-guarantee=\"{g}\"><td><code>{g}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{:.3}</td><td>{}</td></tr>",
                    esc(&v.watcher),
                    esc(&v.member),
                    v.revision.map_or_else(|| "—".to_string(), |r| r.to_string()),
                    esc(v.key.as_deref().unwrap_or("—")),
                    v.t as f64 / 1e9,
                    esc(&v.message)
                );
            }
            if (listed.len() as u64) < *n {
                let _ = writeln!(
                    o,
                    "<tr><td><code>{g}</code></td><td colspan=\"6\">… {} more not listed (summary.json keeps the first {})</td></tr>",
                    *n - listed.len() as u64,
                    crate::checker::watch::LISTED
                );
            }
        }
        o.push_str("</tbody></table>\n");
    }
    o.push_str("<table class=\"watch-streams\"><thead><tr><th>stream</th><th>member</th><th>events</th><th>from rev</th><th>last rev</th><th>resumed</th><th>compacted</th><th>progress</th><th>problems</th></tr></thead><tbody>\n");
    let rev = |r: Option<i64>| r.map_or_else(|| "—".to_string(), |r| r.to_string());
    for m in &w.watchers {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(if m.watcher.is_empty() { &m.member } else { &m.watcher }),
            esc(&m.member),
            m.events,
            rev(m.from_revision),
            rev(m.last_revision),
            m.resumed,
            m.compacted,
            m.progress,
            esc(&m.problems())
        );
    }
    o.push_str("</tbody></table>\n");
}

fn logs(o: &mut String, run: &RunSettings) {
    if run.logs.is_empty() {
        return;
    }
    o.push_str("<h2>Member logs</h2>\n<p class=\"logs\">");
    let links: Vec<String> = run.logs.iter().map(|(m, rel)| format!("<a href=\"{}\">{}</a>", esc(rel), esc(m))).collect();
    o.push_str(&links.join(" · "));
    o.push_str("</p>\n");
}

const CSS: &str = "
body { font: 15px/1.45 system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif; color: #1d2330; margin: 18px 24px; max-width: 1340px; }
h1 { font-size: 16px; margin: 0 0 2px; color: #555d6b; font-weight: 600; }
h2 { font-size: 18px; margin: 22px 0 8px; } h2.title { font-size: 24px; margin-top: 0; }
h2 small { font-weight: normal; color: #667; font-size: 13px; margin-left: 6px; }
code, .num, svg text { font-family: ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, monospace; }
code { background: #f1f3f6; padding: 0 3px; border-radius: 3px; font-size: 0.92em; }
.verdict { font-size: 14px; vertical-align: middle; padding: 2px 10px; border-radius: 12px; color: #fff; background: #7a828e; }
.verdict.pass { background: #2a9d5c; } .verdict.fail { background: #d62828; } .verdict.invalid, .verdict.interrupted { background: #c98a00; }
p.violation { background: #fdecec; border: 1px solid #f0b4b4; padding: 8px 12px; border-radius: 4px; }
p.reason { color: #8c0b0b; margin: 2px 0; } p.note { color: #a40f0f; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 10px 0 14px; }
.facts .k { color: #667; font-size: 13px; margin-right: 6px; } .facts .v { font-weight: 600; }
table { border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e6e8ec; vertical-align: top; }
th { background: #f3f4f7; font-weight: 600; }
td.proof { font-size: 12.5px; color: #444; max-width: 640px; word-break: break-word; } .healed { color: #2a7d4c; }
.st { font-weight: 700; font-size: 12px; padding: 1px 7px; border-radius: 9px; color: #fff; }
.st.pass { background: #2a9d5c; } .st.fail { background: #d62828; } .st.unknown { background: #c98a00; }
.legend { font-size: 13px; color: #444; margin: 4px 0; } .legend .item { white-space: nowrap; margin-right: 14px; }
.sw { display: inline-block; width: 18px; height: 11px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
.sw.fault { background: #f4a261; border: 1px solid #c4621a; } .sw.unav { background: rgba(214,40,40,0.16); border: 1px dashed #d62828; }
.sw.ok { background: #264653; } .sw.noop { background: #b9c0cb; } .sw.bad { background: #d62828; }
svg.chart { max-width: 100%; height: auto; display: block; }
svg text { font-size: 12px; fill: #1d2330; }
.gut { text-anchor: end; fill: #555d6b; } .unit { text-anchor: end; fill: #889; font-size: 11px; }
.ptitle { font-family: system-ui, sans-serif; font-size: 13px; font-weight: 600; fill: #333; }
.tl { text-anchor: middle; font-size: 11px; fill: #555d6b; }
.panel { fill: #fafbfc; stroke: #e2e5ea; } .grid { stroke: #eceef2; fill: none; } .hgrid { stroke: #e6e8ec; fill: none; }
.axis { stroke: #8a919c; fill: none; } .sep { stroke: #e2e5ea; }
.unav { fill: #d62828; fill-opacity: 0.12; stroke: #d62828; stroke-opacity: 0.35; stroke-dasharray: 3 3; }
.fault rect { fill: #f4a261; stroke: #c4621a; } .fault.open rect { fill-opacity: 0.55; stroke-dasharray: 4 2; }
.fault:hover rect { fill: #e76f51; } .flbl { font-size: 11px; fill: #3a1d05; pointer-events: none; }
.leader rect { fill-opacity: 0.85; } .llbl { font-size: 11px; fill: #fff; font-weight: 700; pointer-events: none; }
.change { stroke: #1d2330; stroke-width: 1.5; fill: #1d2330; } .mark { fill: #555d6b; }
.tput.ok { fill: #264653; } .tput.noop { fill: #b9c0cb; } .tput.bad { fill: #d62828; }
.lat { fill: none; stroke-width: 1.6; } .lat.p50 { stroke: #3b6fd8; } .lat.p99 { stroke: #e76f51; }
.lname { font-size: 11px; font-weight: 700; } .lname.p50 { fill: #3b6fd8; } .lname.p99 { fill: #e76f51; }
.empty { fill: #889; font-style: italic; }
.target path { stroke: #c4621a; stroke-width: 1.5; stroke-dasharray: 6 4; fill: none; } .target text { fill: #c4621a; font-size: 11px; text-anchor: end; }
.termjump text { fill: #b00020; font-size: 11px; font-weight: 700; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_within_three_percent() {
        for us in [1u64, 7, 950, 12_345, 2_000_000] {
            let ms = bin_ms(bin_of(us));
            let truth = us as f64 / 1000.0;
            assert!(ms >= truth && ms <= truth * 1.031, "{us} µs -> {ms} ms");
        }
    }

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(600.0, 12.0), 50.0);
        assert_eq!(nice_step(30.0, 12.0), 5.0);
        assert_eq!(fmt_num(2.50), "2.5");
        assert_eq!(fmt_num(0.0), "0");
    }
}
