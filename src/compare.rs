//! `faultline compare`: one scenario run N times under each of two variants (an etcd
//! upgrade, a tuning knob) with the same seeds, and the figures of the runs side by side.
//!
//! The module has two halves. The pure half — parsing a variant ([`Variant::parse`]),
//! applying it to a scenario ([`Variant::apply`]), the figures of a run ([`figures`]) and
//! their aggregation ([`aggregate`], [`Stats`], [`Row`]), the table, `compare.json` and
//! `compare.html` — never touches a cluster and is unit-tested with figures of its own.
//! [`compare`] is the running half: it alternates the runs of a and b through
//! [`runner::run`] and hands the summaries to the pure half.
//!
//! Honesty rule: the table says whether the runs *separate* the variants (the ranges
//! `[min, max]` of a and of b do not overlap) or *overlap*. With a handful of runs that is
//! all the data can say; no p-value is made up.

use crate::error::{Error, Exit};
use crate::markup::escape as esc;
use crate::report::summary::{Percentiles, Summary};
use crate::runner::{self, RunOptions};
use crate::scenario::units::{Size, Span};
use crate::scenario::{self, BackendChoice, Scenario};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// The keys a variant may set, in the order they are listed to the user.
pub const KEYS: &[&str] = &["binary", "image", "heartbeat_interval", "election_timeout", "snapshot_count", "quota_backend_bytes", "extra_args", "backend"];

/// One setting of a variant, parsed with the scenario's own unit parsers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum Setting {
    /// `cluster.etcd.binary` (process backend).
    Binary(String),
    /// `cluster.etcd.image` (docker backend).
    Image(String),
    /// `cluster.etcd.heartbeat_interval`.
    HeartbeatInterval(Span),
    /// `cluster.etcd.election_timeout`.
    ElectionTimeout(Span),
    /// `cluster.etcd.snapshot_count`.
    SnapshotCount(u64),
    /// `cluster.etcd.quota_backend_bytes`.
    QuotaBackendBytes(Size),
    /// `cluster.etcd.extra_args` (comma separated on the command line; replaces the scenario's).
    ExtraArgs(Vec<String>),
    /// The backend the runs of this variant use (overrides `--backend` and the scenario).
    Backend(BackendChoice),
}

impl Setting {
    /// Parse `KEY=VALUE`.
    pub fn parse(text: &str) -> Result<Setting, String> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not KEY=VALUE: write e.g. `heartbeat_interval=100ms` (keys: {}); the scenario file goes before --a and --b",
                KEYS.join(", ")
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let what = |m: String| format!("`{key}={value}`: {m}");
        let nonempty = |v: &str| if v.is_empty() { Err(what(format!("`{key}` needs a value"))) } else { Ok(v.to_string()) };
        Ok(match key {
            "binary" => Setting::Binary(nonempty(value)?),
            "image" => Setting::Image(nonempty(value)?),
            "heartbeat_interval" => Setting::HeartbeatInterval(Span::parse(value).map_err(what)?),
            "election_timeout" => Setting::ElectionTimeout(Span::parse(value).map_err(what)?),
            "snapshot_count" => Setting::SnapshotCount(
                value.replace('_', "").parse().map_err(|_| what("not a whole number of entries: write e.g. `snapshot_count=10000`".into()))?,
            ),
            "quota_backend_bytes" => Setting::QuotaBackendBytes(Size::parse(value).map_err(what)?),
            "extra_args" => Setting::ExtraArgs(value.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect()),
            "backend" => Setting::Backend(BackendChoice::parse(value).map_err(what)?),
            other => return Err(format!("unknown variant key `{other}`{}: the keys are {}", did_you_mean(other), KEYS.join(", "))),
        })
    }

    /// The key as written.
    pub fn key(&self) -> &'static str {
        match self {
            Setting::Binary(_) => "binary",
            Setting::Image(_) => "image",
            Setting::HeartbeatInterval(_) => "heartbeat_interval",
            Setting::ElectionTimeout(_) => "election_timeout",
            Setting::SnapshotCount(_) => "snapshot_count",
            Setting::QuotaBackendBytes(_) => "quota_backend_bytes",
            Setting::ExtraArgs(_) => "extra_args",
            Setting::Backend(_) => "backend",
        }
    }

    /// The value the way a user writes it.
    pub fn value(&self) -> String {
        match self {
            Setting::Binary(s) | Setting::Image(s) => s.clone(),
            Setting::HeartbeatInterval(s) | Setting::ElectionTimeout(s) => s.to_string(),
            Setting::SnapshotCount(n) => n.to_string(),
            Setting::QuotaBackendBytes(s) => s.to_string(),
            Setting::ExtraArgs(a) => a.join(","),
            Setting::Backend(b) => b.name().to_string(),
        }
    }
}

fn did_you_mean(word: &str) -> String {
    KEYS.iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// A variant: a label (`a` or `b`) and the settings it changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// `a` or `b`.
    pub label: String,
    /// The settings, in the order given.
    pub settings: Vec<Setting>,
}

impl Variant {
    /// Parse the `KEY=VALUE` words of `--a` or `--b`. A key given twice is refused.
    pub fn parse(label: &str, words: &[String]) -> Result<Variant, Error> {
        let mut settings: Vec<Setting> = Vec::new();
        for w in words {
            let s = Setting::parse(w).map_err(|m| Error::BadInput(format!("--{label}: {m}")))?;
            if settings.iter().any(|o| o.key() == s.key()) {
                return Err(Error::BadInput(format!(
                    "--{label}: `{}` is given twice: keep one value per key (extra_args takes a comma-separated list)",
                    s.key()
                )));
            }
            settings.push(s);
        }
        if settings.is_empty() {
            return Err(Error::BadInput(format!("--{label} needs at least one KEY=VALUE (keys: {})", KEYS.join(", "))));
        }
        Ok(Variant { label: label.to_string(), settings })
    }

    /// The settings as `k=v,k=v` — the variant's name in the table and the files.
    pub fn describe(&self) -> String {
        self.settings.iter().map(|s| format!("{}={}", s.key(), s.value())).collect::<Vec<_>>().join(",")
    }

    /// The backend this variant asks for, if it sets one.
    pub fn backend(&self) -> Option<BackendChoice> {
        self.settings.iter().find_map(|s| match s {
            Setting::Backend(b) => Some(*b),
            _ => None,
        })
    }

    /// The scenario with this variant's settings, checked again as a whole (a variant that
    /// makes it invalid, such as an election timeout under 5 heartbeats, is refused with
    /// the reason).
    pub fn apply(&self, base: &Scenario) -> Result<Scenario, Error> {
        let mut s = base.clone();
        if s.cluster.attach.is_some() {
            return Err(Error::BadInput(format!(
                "--{}: the scenario attaches to a running cluster (cluster.attach), whose settings faultline does not set: compare scenarios that let faultline start the members",
                self.label
            )));
        }
        let e = &mut s.cluster.etcd;
        for set in &self.settings {
            match set {
                Setting::Binary(b) => e.binary = b.clone(),
                Setting::Image(i) => e.image = i.clone(),
                Setting::HeartbeatInterval(h) => e.heartbeat_interval = *h,
                Setting::ElectionTimeout(t) => e.election_timeout = *t,
                Setting::SnapshotCount(n) => e.snapshot_count = *n,
                Setting::QuotaBackendBytes(q) => e.quota_backend_bytes = *q,
                Setting::ExtraArgs(a) => e.extra_args = a.clone(),
                Setting::Backend(b) => s.cluster.backend = *b,
            }
        }
        let e = &s.cluster.etcd;
        if e.heartbeat_interval.0.is_zero() || e.election_timeout.0 < e.heartbeat_interval.0 * 5 {
            return Err(Error::BadInput(format!(
                "variant {} ({}): election_timeout ({}) must be at least 5 times heartbeat_interval ({}): etcd refuses to start otherwise; etcd's tuning guide suggests about 10 times",
                self.label,
                self.describe(),
                e.election_timeout,
                e.heartbeat_interval
            )));
        }
        // Every other rule of the scenario, by checking the result as a scenario file.
        scenario::parse(&s.to_yaml(), &format!("{} with variant {}", base.name, self.label))
            .map_err(|err| Error::BadInput(format!("variant {} ({}) makes the scenario invalid: {err}", self.label, self.describe())))
    }
}

/// The figures compared, in table order: key, label, and how to read it from a summary
/// (`None` when the run has no such figure, e.g. a kind with no successful operation).
type Reader = fn(&Summary) -> Option<f64>;

fn pct(p: &Percentiles, f: fn(&Percentiles) -> f64) -> Option<f64> {
    (p.count > 0).then(|| f(p))
}

/// Every compared figure: `(key, label, reader)`.
pub const METRICS: &[(&str, &str, Reader)] = &[
    ("leader_changes", "leader changes", |s| Some(s.leader_changes as f64)),
    ("max_unavailable_s", "longest unavailability (s)", |s| Some(s.max_unavailable_s)),
    ("all_p50_ms", "all p50 (ms)", |s| pct(&s.latency_ms.all, |p| p.p50)),
    ("all_p99_ms", "all p99 (ms)", |s| pct(&s.latency_ms.all, |p| p.p99)),
    ("all_p999_ms", "all p99.9 (ms)", |s| pct(&s.latency_ms.all, |p| p.p999)),
    ("read_p50_ms", "read p50 (ms)", |s| pct(&s.latency_ms.read, |p| p.p50)),
    ("read_p99_ms", "read p99 (ms)", |s| pct(&s.latency_ms.read, |p| p.p99)),
    ("read_p999_ms", "read p99.9 (ms)", |s| pct(&s.latency_ms.read, |p| p.p999)),
    ("write_p50_ms", "write p50 (ms)", |s| pct(&s.latency_ms.write, |p| p.p50)),
    ("write_p99_ms", "write p99 (ms)", |s| pct(&s.latency_ms.write, |p| p.p99)),
    ("write_p999_ms", "write p99.9 (ms)", |s| pct(&s.latency_ms.write, |p| p.p999)),
    ("cas_p50_ms", "cas p50 (ms)", |s| pct(&s.latency_ms.cas, |p| p.p50)),
    ("cas_p99_ms", "cas p99 (ms)", |s| pct(&s.latency_ms.cas, |p| p.p99)),
    ("cas_p999_ms", "cas p99.9 (ms)", |s| pct(&s.latency_ms.cas, |p| p.p999)),
    ("ops_ok", "ok ops", |s| Some(s.ops.ok as f64)),
    ("ops_fail", "fail ops", |s| Some(s.ops.fail as f64)),
    ("ops_info", "info ops", |s| Some(s.ops.info as f64)),
    ("throughput_ok_per_s", "throughput (ok/s)", |s| Some(s.throughput_ok_per_s)),
];

/// The label of a metric key.
pub fn label_of(key: &str) -> &str {
    METRICS.iter().find(|m| m.0 == key).map(|m| m.1).unwrap_or(key)
}

/// One run's figures: `(metric key, value)` for every metric the run has.
pub fn figures(s: &Summary) -> Vec<(String, f64)> {
    METRICS.iter().filter_map(|(k, _, read)| read(s).map(|v| (k.to_string(), v))).collect()
}

/// One run of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// `a` or `b`.
    pub variant: String,
    /// 1-based index among the variant's runs.
    pub index: usize,
    /// The seed (the same for run i of a and of b).
    pub seed: u64,
    /// The run directory.
    pub run_dir: String,
    /// The run's exit code.
    pub exit_code: u8,
    /// `pass`, `fail`, `invalid`, `interrupted`, or `error` when the run did not finish.
    pub verdict: String,
    /// Why the run did not finish (its error), when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The figures (see [`METRICS`]), in table order; empty when the run did not finish.
    /// In `compare.json` an object `{"leader_changes": 0, ...}`.
    #[serde(serialize_with = "as_map")]
    pub figures: Vec<(String, f64)>,
}

fn as_map<S: serde::Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, x)| (k, x)))
}

impl RunRecord {
    /// The value of one metric in this run.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.figures.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// Median and range of a metric over one variant's runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Median (the mean of the middle two for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Runs that have the figure.
    pub n: usize,
}

impl Stats {
    /// The statistics of some values; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Stats> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Stats { median, min: v[0], max: v[n - 1], n })
    }
}

/// Whether the runs tell the variants apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Separation {
    /// Every run of one variant is below every run of the other (the ranges do not touch).
    Separated,
    /// The ranges overlap (or touch): these runs do not tell the variants apart.
    Overlap,
    /// Fewer than two runs on a side: a range of one run says nothing about spread.
    TooFewRuns,
    /// A side has no figure.
    Missing,
}

impl Separation {
    /// The word shown in the table.
    pub fn word(self) -> &'static str {
        match self {
            Separation::Separated => "separated",
            Separation::Overlap => "overlap",
            Separation::TooFewRuns => "too few runs",
            Separation::Missing => "—",
        }
    }

    /// Compare two ranges.
    pub fn of(a: Option<Stats>, b: Option<Stats>) -> Separation {
        match (a, b) {
            (Some(a), Some(b)) if a.n < 2 || b.n < 2 => Separation::TooFewRuns,
            (Some(a), Some(b)) if a.max < b.min || b.max < a.min => Separation::Separated,
            (Some(_), Some(_)) => Separation::Overlap,
            _ => Separation::Missing,
        }
    }
}

/// One metric compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Metric key (see [`METRICS`]).
    pub metric: String,
    /// Its label.
    pub label: String,
    /// Over the runs of a.
    pub a: Option<Stats>,
    /// Over the runs of b.
    pub b: Option<Stats>,
    /// Median of b − median of a.
    pub diff: Option<f64>,
    /// Median of b / median of a (`None` when a's median is 0).
    pub ratio: Option<f64>,
    /// Whether the runs separate the variants.
    pub separation: Separation,
}

/// Aggregate the runs: one [`Row`] per metric that some run has, in [`METRICS`] order.
/// An interrupted run's figures cover part of a run and are left out.
pub fn aggregate(runs: &[RunRecord]) -> Vec<Row> {
    let side = |label: &str, key: &str| {
        Stats::of(&runs.iter().filter(|r| r.variant == label && r.verdict != "interrupted").filter_map(|r| r.get(key)).collect::<Vec<_>>())
    };
    METRICS
        .iter()
        .filter_map(|(key, label, _)| {
            let (a, b) = (side("a", key), side("b", key));
            if a.is_none() && b.is_none() {
                return None;
            }
            let diff = a.zip(b).map(|(a, b)| b.median - a.median);
            let ratio = a.zip(b).and_then(|(a, b)| (a.median != 0.0).then(|| b.median / a.median));
            Some(Row { metric: key.to_string(), label: label.to_string(), a, b, diff, ratio, separation: Separation::of(a, b) })
        })
        .collect()
}

/// The verdicts of one variant's runs, counted: `3 pass`, `2 pass, 1 fail`.
pub fn verdicts(runs: &[RunRecord], label: &str) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in runs.iter().filter(|r| r.variant == label) {
        match counts.iter_mut().find(|(v, _)| *v == r.verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.verdict.clone(), 1)),
        }
    }
    if counts.is_empty() {
        return "no runs".into();
    }
    counts.iter().map(|(v, n)| format!("{n} {v}")).collect::<Vec<_>>().join(", ")
}

/// The exit code of a comparison: 0 when every run passed, else the worst run's.
pub fn exit_of(runs: &[RunRecord]) -> Exit {
    runs.iter().map(|r| Exit::from_code(r.exit_code)).fold(Exit::Pass, Exit::worst)
}

/// A number the way the table shows it: whole numbers bare, others to 3 significant
/// decimals at most.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        return format!("{v:.0}");
    }
    let s = if v.abs() >= 100.0 { format!("{v:.1}") } else { format!("{v:.3}") };
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn cell(s: Option<Stats>) -> String {
    match s {
        Some(s) if s.n == 1 => num(s.median),
        Some(s) => format!("{} [{}–{}]", num(s.median), num(s.min), num(s.max)),
        None => "—".into(),
    }
}

fn diff_cell(d: Option<f64>) -> String {
    match d {
        Some(d) if d > 0.0 => format!("+{}", num(d)),
        Some(d) => num(d),
        None => "—".into(),
    }
}

fn ratio_cell(r: Option<f64>) -> String {
    r.map(|r| format!("×{}", num((r * 100.0).round() / 100.0))).unwrap_or_else(|| "—".into())
}

/// Everything a comparison produced (also `compare.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Scenario name.
    pub scenario: String,
    /// Runs per variant asked for.
    pub runs_per_variant: usize,
    /// The seeds, run i's at index i − 1.
    pub seeds: Vec<u64>,
    /// Variant a.
    pub a: VariantInfo,
    /// Variant b.
    pub b: VariantInfo,
    /// Every run, in the order they ran.
    pub runs: Vec<RunRecord>,
    /// One row per metric.
    pub aggregates: Vec<Row>,
    /// Verdict counts of a's runs.
    pub verdicts_a: String,
    /// Verdict counts of b's runs.
    pub verdicts_b: String,
    /// The comparison was interrupted (Ctrl-C) before every run finished.
    pub interrupted: bool,
    /// The exit code.
    pub exit_code: u8,
}

/// A variant as written to `compare.json`.
#[derive(Debug, Clone, Serialize)]
pub struct VariantInfo {
    /// `k=v,k=v`.
    pub name: String,
    /// The settings.
    pub settings: Vec<Setting>,
}

impl From<&Variant> for VariantInfo {
    fn from(v: &Variant) -> Self {
        VariantInfo { name: v.describe(), settings: v.settings.clone() }
    }
}

impl Comparison {
    /// Build from the runs done.
    pub fn new(scenario: &str, runs_per_variant: usize, seeds: Vec<u64>, a: &Variant, b: &Variant, runs: Vec<RunRecord>, interrupted: bool) -> Comparison {
        let exit = if interrupted { exit_of(&runs).worst(Exit::Invalid) } else { exit_of(&runs) };
        Comparison {
            scenario: scenario.to_string(),
            runs_per_variant,
            seeds,
            a: a.into(),
            b: b.into(),
            aggregates: aggregate(&runs),
            verdicts_a: verdicts(&runs, "a"),
            verdicts_b: verdicts(&runs, "b"),
            runs,
            interrupted,
            exit_code: exit.code(),
        }
    }

    /// The exit code as [`Exit`].
    pub fn exit(&self) -> Exit {
        Exit::from_code(self.exit_code)
    }

    fn rows(&self) -> Vec<[String; 6]> {
        let mut rows: Vec<[String; 6]> = self
            .aggregates
            .iter()
            .map(|r| [r.label.clone(), cell(r.a), cell(r.b), diff_cell(r.diff), ratio_cell(r.ratio), r.separation.word().to_string()])
            .collect();
        rows.push(["verdicts".into(), self.verdicts_a.clone(), self.verdicts_b.clone(), String::new(), String::new(), String::new()]);
        rows
    }

    const HEADER: [&'static str; 6] = ["metric", "a: median [min–max]", "b: median [min–max]", "b − a", "b / a", "runs"];

    /// The terminal table.
    pub fn render(&self) -> String {
        use tabled::builder::Builder;
        use tabled::settings::object::Columns;
        use tabled::settings::{Alignment, Style};
        let mut out = String::new();
        let _ = writeln!(out, "faultline compare · {} · {} run(s) per variant · seeds {}", self.scenario, self.runs_per_variant, join_seeds(&self.seeds));
        let _ = writeln!(out, "a: {}", self.a.name);
        let _ = writeln!(out, "b: {}", self.b.name);
        out.push('\n');
        let mut b = Builder::default();
        b.push_record(Self::HEADER);
        for r in self.rows() {
            b.push_record(r);
        }
        let mut t = b.build();
        t.with(Style::psql());
        for c in 1..5 {
            t.modify(Columns::one(c), Alignment::right());
        }
        let _ = writeln!(out, "{t}");
        out.push('\n');
        out.push_str(
            "runs: `separated` = every run of one variant is on one side of every run of the other (the ranges do not touch); `overlap` = \
             these runs do not tell the variants apart. Few runs say little: more runs (--runs) make a separation more convincing.\n",
        );
        if self.interrupted {
            out.push_str("interrupted: the figures cover only the runs that finished.\n");
        }
        out
    }

    /// `compare.html`: the table and a dot plot per metric, self-contained (no network).
    pub fn html(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>faultline compare {}</title><style>\
             body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
             td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
             .sep{{color:#060;font-weight:bold}}.a{{fill:#1f77b4}}.b{{fill:#d62728}}.plots{{display:flex;flex-wrap:wrap;gap:12px}}\
             .plot{{border:1px solid #eee;padding:4px}}.plot h4{{margin:2px 0;font-size:13px;font-weight:normal}}</style></head><body>",
            esc(&self.scenario)
        );
        let _ = write!(
            h,
            "<h1>faultline compare · {}</h1><p>{} run(s) per variant · seeds {}</p><p><b style=\"color:#1f77b4\">a</b>: <code>{}</code><br>\
             <b style=\"color:#d62728\">b</b>: <code>{}</code></p>",
            esc(&self.scenario),
            self.runs_per_variant,
            esc(&join_seeds(&self.seeds)),
            esc(&self.a.name),
            esc(&self.b.name)
        );
        h.push_str("<table><tr>");
        for c in Self::HEADER {
            let _ = write!(h, "<th>{}</th>", esc(c));
        }
        h.push_str("</tr>");
        for r in self.rows() {
            h.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                let class = if i == 5 && c == "separated" { " class=\"sep\"" } else { "" };
                let _ = write!(h, "<td{class}>{}</td>", esc(c));
            }
            h.push_str("</tr>");
        }
        h.push_str(
            "</table><p>separated = every run of one variant is on one side of every run of the other; overlap = these runs do not tell \
             the variants apart; too few runs = one run on a side, whose range says nothing about the spread.</p><h2>Runs</h2><p>Each dot is a run (hover for its value); the axis starts at 0.</p><div class=\"plots\">",
        );
        for row in &self.aggregates {
            let pts =
                |label: &str| self.runs.iter().filter(|r| r.variant == label).filter_map(|r| r.get(&row.metric).map(|v| (r.index, v))).collect::<Vec<_>>();
            let _ = write!(h, "<div class=\"plot\"><h4>{}</h4>{}</div>", esc(&row.label), dot_plot(&pts("a"), &pts("b")));
        }
        h.push_str("</div></body></html>\n");
        h
    }
}

fn join_seeds(seeds: &[u64]) -> String {
    seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// A small SVG: one line of dots for a's runs and one for b's on a shared axis from zero.
pub fn dot_plot(a: &[(usize, f64)], b: &[(usize, f64)]) -> String {
    const W: f64 = 260.0;
    const L: f64 = 22.0;
    const R: f64 = 10.0;
    let all: Vec<f64> = a.iter().chain(b).map(|p| p.1).collect();
    // The axis starts at zero (every figure is a count, a time or a rate), so that a
    // difference of 1 in 500 does not look like the whole width.
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let x = |v: f64| L + (v - lo) / (hi - lo) * (W - L - R);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"62\" viewBox=\"0 0 {W} 62\" font-size=\"10\">");
    for (label, pts, y) in [("a", a, 14.0), ("b", b, 32.0)] {
        let _ = write!(s, "<text x=\"2\" y=\"{}\">{label}</text><line x1=\"{L}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#eee\"/>", y + 3.0, W - R);
        for (i, v) in pts {
            let _ = write!(
                s,
                "<circle class=\"{label}\" cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill-opacity=\"0.7\"><title>{label}-{i}: {}</title></circle>",
                x(*v),
                num(*v)
            );
        }
    }
    let _ = write!(
        s,
        "<line x1=\"{L}\" x2=\"{}\" y1=\"44\" y2=\"44\" stroke=\"#999\"/><text x=\"{L}\" y=\"57\">{}</text><text x=\"{}\" y=\"57\" text-anchor=\"end\">{}</text></svg>",
        W - R,
        num(lo),
        W - R,
        num(hi)
    );
    s
}

/// How to run a comparison.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Variant a.
    pub a: Variant,
    /// Variant b.
    pub b: Variant,
    /// Runs per variant (at least 1).
    pub runs: usize,
    /// `--seed`: the first run's seed (run i uses seed + i − 1).
    pub seed: Option<u64>,
    /// `--backend` for variants that do not set one.
    pub backend: Option<BackendChoice>,
    /// `--out`: the comparison directory.
    pub out: Option<PathBuf>,
    /// Where the comparison directory goes when `--out` is absent.
    pub reports_dir: PathBuf,
}

/// The seeds of the runs: the first is `--seed`, else the scenario's, else drawn; run i
/// uses first + i − 1. Returns whether the first was drawn.
pub fn seeds(first: Option<u64>, runs: usize) -> (Vec<u64>, bool) {
    let drawn = first.is_none();
    let first = first.unwrap_or_else(|| rand::random::<u32>() as u64);
    ((0..runs as u64).map(|i| first.wrapping_add(i)).collect(), drawn)
}

/// The comparison directory: `--out`, else `reports/compare-<scenario>-<UTC time>`.
pub fn dir_for(s: &Scenario, opts: &CompareOptions) -> PathBuf {
    if let Some(o) = &opts.out {
        return o.clone();
    }
    crate::rundir::unique(&opts.reports_dir, &format!("compare-{}", s.name))
}

/// A setting the chosen backend ignores (`binary` on docker, `image` on process), said as a warning.
pub fn unused_setting(v: &Variant, backend: BackendChoice) -> Option<String> {
    v.settings.iter().find_map(|s| match (s, backend) {
        (Setting::Binary(_), BackendChoice::Docker) => Some(
            "`binary` is for the process backend; on docker the members run `image` (build one from a binary with `faultline image build --etcd PATH`)".into(),
        ),
        (Setting::Image(_), BackendChoice::Process) => Some("`image` is for the docker backend; on the process backend the members run `binary`".into()),
        _ => None,
    })
}

/// Run the comparison: check both variants, then run a-1, b-1, a-2, b-2, ... with the
/// same seed for run i of each, write `compare.json` and `compare.html` to the directory,
/// and return what was found. Progress goes to stderr; the table is for the caller to print.
pub fn compare(base: Scenario, opts: &CompareOptions, cancel: CancellationToken) -> Result<(Comparison, PathBuf), Error> {
    if opts.runs == 0 {
        return Err(Error::BadInput("--runs must be at least 1 (3 is the default; more runs make a separation more convincing)".into()));
    }
    // Both variants are checked before anything runs.
    let sa = opts.a.apply(&base)?;
    let sb = opts.b.apply(&base)?;
    if opts.a.settings == opts.b.settings {
        eprintln!("faultline: warning: --a and --b set the same values ({}): the comparison measures run-to-run noise only", opts.a.describe());
    }
    for (v, s) in [(&opts.a, &sa), (&opts.b, &sb)] {
        if v.settings.iter().any(|x| matches!(x, Setting::Binary(_))) && crate::sys::which(&s.cluster.etcd.binary).is_none() {
            return Err(Error::Environment(format!(
                "variant {} ({}): the etcd binary `{}` is not found: give an existing path (e.g. binary=/usr/local/bin/etcd-3.5.17)",
                v.label,
                v.describe(),
                s.cluster.etcd.binary
            )));
        }
    }
    for (v, s) in [(&opts.a, &sa), (&opts.b, &sb)] {
        if let Some(w) = unused_setting(v, v.backend().or(opts.backend).unwrap_or(s.cluster.backend)) {
            eprintln!("faultline: warning: variant {}: {w}", v.label);
        }
    }
    let (seeds, drawn) = seeds(opts.seed.or(base.seed), opts.runs);
    if drawn {
        eprintln!("faultline: seeds drawn: {} (pass --seed {} to repeat this comparison)", join_seeds(&seeds), seeds[0]);
    }
    let dir = dir_for(&base, opts);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Environment(format!("cannot create the comparison directory {}: {e}: choose another with --out DIR", dir.display())))?;
    eprintln!("faultline: compare {} — a: {} · b: {} · {} run(s) each, into {}", base.name, opts.a.describe(), opts.b.describe(), opts.runs, dir.display());

    let total = opts.runs * 2;
    let mut records = Vec::new();
    let mut n = 0;
    'runs: for (i, seed) in seeds.iter().enumerate() {
        for (v, s) in [(&opts.a, &sa), (&opts.b, &sb)] {
            if cancel.is_cancelled() {
                break 'runs;
            }
            n += 1;
            let run_dir = dir.join(format!("{}-{}", v.label, i + 1));
            eprintln!("faultline: run {n}/{total}: {}, seed {seed} ({}) ...", v.label, v.describe());
            let ro = RunOptions {
                backend: v.backend().or(opts.backend),
                seed: Some(*seed),
                out: Some(run_dir.clone()),
                reports_dir: dir.clone(),
                quiet: true,
                ..Default::default()
            };
            let rec = match runner::run(s.clone(), &ro, cancel.clone()) {
                Ok(o) => {
                    eprintln!(
                        "faultline: run {n}/{total}: {} {} — {} ok ops, {} leader change(s), longest unavailability {} s",
                        v.label,
                        o.summary.verdict,
                        o.summary.ops.ok,
                        o.summary.leader_changes,
                        num(o.summary.max_unavailable_s)
                    );
                    RunRecord {
                        variant: v.label.clone(),
                        index: i + 1,
                        seed: *seed,
                        run_dir: o.run_dir.display().to_string(),
                        exit_code: o.exit.code(),
                        verdict: o.summary.verdict.clone(),
                        error: None,
                        figures: figures(&o.summary),
                    }
                }
                Err(e) => {
                    eprintln!("faultline: run {n}/{total}: {} did not finish: {e}", v.label);
                    let stop = matches!(e, Error::BadInput(_) | Error::Environment(_));
                    records.push(RunRecord {
                        variant: v.label.clone(),
                        index: i + 1,
                        seed: *seed,
                        run_dir: run_dir.display().to_string(),
                        exit_code: e.exit().code(),
                        verdict: "error".into(),
                        error: Some(e.to_string()),
                        figures: Vec::new(),
                    });
                    if stop {
                        // The next runs would fail the same way.
                        eprintln!("faultline: stopping the comparison: the remaining runs would meet the same problem");
                        break 'runs;
                    }
                    continue;
                }
            };
            records.push(rec);
        }
    }
    let interrupted = cancel.is_cancelled();
    let c = Comparison::new(&base.name, opts.runs, seeds, &opts.a, &opts.b, records, interrupted);
    write_files(&c, &dir)?;
    Ok((c, dir))
}

/// Write `compare.json` and `compare.html` into `dir`.
pub fn write_files(c: &Comparison, dir: &Path) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(c).map_err(|e| Error::harness(format!("cannot serialise compare.json: {e}")))?;
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text)
            .map_err(|e| Error::Environment(format!("cannot write {}: {e}: check the directory is writable (or choose another with --out)", p.display())))
    };
    w("compare.json", &(json + "\n"))?;
    w("compare.html", &c.html())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    fn base() -> Scenario {
        scenario::parse("name: t\ncluster: {size: 3}\nworkload: {duration: 3s}\n", "t.yaml").unwrap()
    }

    fn run(variant: &str, index: usize, figs: &[(&str, f64)]) -> RunRecord {
        RunRecord {
            variant: variant.into(),
            index,
            seed: index as u64,
            run_dir: String::new(),
            exit_code: 0,
            verdict: "pass".into(),
            error: None,
            figures: figs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn settings_parse_with_the_scenario_units() {
        let v = Variant::parse(
            "a",
            &words(&[
                "heartbeat_interval=100ms",
                "election_timeout=1s",
                "quota_backend_bytes=4GiB",
                "snapshot_count=5_000",
                "extra_args=--a=1, --b=2",
                "backend=process",
            ]),
        )
        .unwrap();
        assert_eq!(v.settings[0], Setting::HeartbeatInterval(Span(Duration::from_millis(100))));
        assert_eq!(v.settings[2], Setting::QuotaBackendBytes(Size(4 << 30)));
        assert_eq!(v.settings[3], Setting::SnapshotCount(5000));
        assert_eq!(v.settings[4], Setting::ExtraArgs(vec!["--a=1".into(), "--b=2".into()]));
        assert_eq!(v.backend(), Some(BackendChoice::Process));
        assert_eq!(
            v.describe(),
            "heartbeat_interval=100ms,election_timeout=1s,quota_backend_bytes=4GiB,snapshot_count=5000,extra_args=--a=1,--b=2,backend=process"
        );
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let e = Variant::parse("b", &words(&["heartbeat_intervl=10ms"])).unwrap_err().to_string();
        assert!(e.contains("did you mean `heartbeat_interval`") && e.contains("election_timeout, snapshot_count"), "{e}");
        let e = Variant::parse("a", &words(&["heartbeat_interval=10"])).unwrap_err().to_string();
        assert!(e.contains("--a") && e.contains("no unit"), "{e}");
        let e = Variant::parse("a", &words(&["scenario.yaml"])).unwrap_err().to_string();
        assert!(e.contains("not KEY=VALUE"), "{e}");
        let e = Variant::parse("a", &words(&["image=x", "image=y"])).unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        assert!(Variant::parse("a", &[]).is_err());
        assert!(Variant::parse("a", &words(&["backend=dokcer"])).unwrap_err().to_string().contains("did you mean `docker`"));
    }

    #[test]
    fn a_variant_is_applied_and_checked() {
        let v = Variant::parse("b", &words(&["heartbeat_interval=20ms", "election_timeout=200ms", "binary=/usr/bin/etcd"])).unwrap();
        let s = v.apply(&base()).unwrap();
        assert_eq!(s.cluster.etcd.heartbeat_interval.0, Duration::from_millis(20));
        assert_eq!(s.cluster.etcd.election_timeout.0, Duration::from_millis(200));
        assert_eq!(s.cluster.etcd.binary, "/usr/bin/etcd");
        // Only the heartbeat: the scenario's 1 s election timeout stays, 5× rule broken by 300ms.
        let bad = Variant::parse("b", &words(&["heartbeat_interval=300ms"])).unwrap();
        let e = bad.apply(&base()).unwrap_err().to_string();
        assert!(e.contains("variant b") && e.contains("5 times"), "{e}");
    }

    #[test]
    fn every_shipped_scenario_survives_a_variant() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let v = Variant::parse("a", &words(&["heartbeat_interval=50ms", "election_timeout=500ms"])).unwrap();
        for f in std::fs::read_dir(dir).unwrap() {
            let p = f.unwrap().path();
            let s = scenario::load(&p).unwrap();
            if s.cluster.attach.is_some() {
                continue;
            }
            let t = v.apply(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(t.faults, s.faults, "{}", p.display());
            assert_eq!(t.cluster.etcd.heartbeat_interval.0, Duration::from_millis(50));
        }
    }

    #[test]
    fn stats_take_median_and_range() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]), Some(Stats { median: 2.0, min: 1.0, max: 3.0, n: 3 }));
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 10.0]), Some(Stats { median: 3.0, min: 1.0, max: 10.0, n: 4 }));
        assert_eq!(Stats::of(&[7.5]), Some(Stats { median: 7.5, min: 7.5, max: 7.5, n: 1 }));
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn separation_is_ranges_that_do_not_touch() {
        let s = |v: &[f64]| Stats::of(v);
        assert_eq!(Separation::of(s(&[1.0, 2.0, 3.0]), s(&[4.0, 5.0, 6.0])), Separation::Separated);
        assert_eq!(Separation::of(s(&[4.0, 5.0, 6.0]), s(&[1.0, 2.0, 3.0])), Separation::Separated);
        assert_eq!(Separation::of(s(&[1.0, 2.0, 4.0]), s(&[4.0, 5.0, 6.0])), Separation::Overlap);
        assert_eq!(Separation::of(s(&[1.0, 9.0]), s(&[4.0, 5.0])), Separation::Overlap);
        assert_eq!(Separation::of(s(&[1.0]), s(&[4.0])), Separation::TooFewRuns);
        assert_eq!(Separation::of(s(&[1.0, 2.0]), None), Separation::Missing);
    }

    #[test]
    fn aggregation_gives_medians_differences_and_verdicts() {
        let mut runs = vec![
            run("a", 1, &[("leader_changes", 0.0), ("all_p99_ms", 10.0)]),
            run("b", 1, &[("leader_changes", 2.0), ("all_p99_ms", 30.0)]),
            run("a", 2, &[("leader_changes", 1.0), ("all_p99_ms", 12.0)]),
            run("b", 2, &[("leader_changes", 0.0), ("all_p99_ms", 25.0)]),
            run("a", 3, &[("leader_changes", 0.0), ("all_p99_ms", 11.0)]),
            run("b", 3, &[("leader_changes", 1.0), ("all_p99_ms", 20.0)]),
        ];
        runs[5].verdict = "fail".into();
        runs[5].exit_code = 1;
        let mut cut = runs.clone();
        cut.push(run("a", 4, &[("leader_changes", 50.0)]));
        cut[6].verdict = "interrupted".into();
        assert_eq!(aggregate(&cut)[0].a.unwrap().max, 1.0, "an interrupted run is not aggregated");
        let rows = aggregate(&runs);
        assert_eq!(rows.len(), 2, "only metrics some run has");
        let lc = &rows[0];
        assert_eq!((lc.a.unwrap().median, lc.b.unwrap().median, lc.diff, lc.ratio), (0.0, 1.0, Some(1.0), None));
        assert_eq!(lc.separation, Separation::Overlap);
        let p99 = &rows[1];
        assert_eq!((p99.a.unwrap().median, p99.b.unwrap().median, p99.diff, p99.ratio), (11.0, 25.0, Some(14.0), Some(25.0 / 11.0)));
        assert_eq!(p99.separation, Separation::Separated);
        assert_eq!(verdicts(&runs, "a"), "3 pass");
        assert_eq!(verdicts(&runs, "b"), "2 pass, 1 fail");
        assert_eq!(exit_of(&runs), Exit::GateFailed);
        assert_eq!(exit_of(&runs[..2]), Exit::Pass);

        let a = Variant::parse("a", &words(&["heartbeat_interval=100ms"])).unwrap();
        let b = Variant::parse("b", &words(&["heartbeat_interval=20ms", "election_timeout=200ms"])).unwrap();
        let c = Comparison::new("t", 3, vec![1, 2, 3], &a, &b, runs, false);
        assert_eq!(c.exit_code, 1);
        let t = c.render();
        assert!(t.contains("a: heartbeat_interval=100ms") && t.contains("b: heartbeat_interval=20ms,election_timeout=200ms"), "{t}");
        assert!(t.contains("11 [10–12]") && t.contains("25 [20–30]") && t.contains("+14") && t.contains("×2.27") && t.contains("separated"), "{t}");
        assert!(t.contains("2 pass, 1 fail"), "{t}");
        let h = c.html();
        assert!(h.contains("<svg") && h.contains("b-2: 25") && h.contains("×2.27"), "{h}");
        assert!(!h.contains("<script") && !h.contains("<link") && !h.contains("src="), "self-contained");
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["aggregates"][1]["separation"], "separated");
        assert_eq!(j["b"]["settings"][1]["key"], "election_timeout");
        assert_eq!(j["b"]["settings"][1]["value"], "200ms");
        assert_eq!(j["runs"][1]["figures"]["all_p99_ms"], 30.0);
    }

    #[test]
    fn a_setting_the_backend_ignores_is_named() {
        let v = Variant::parse("b", &words(&["binary=/opt/etcd"])).unwrap();
        assert!(unused_setting(&v, BackendChoice::Docker).unwrap().contains("process backend"));
        assert_eq!(unused_setting(&v, BackendChoice::Process), None);
        let v = Variant::parse("b", &words(&["image=faultline/etcd:3.5.17"])).unwrap();
        assert!(unused_setting(&v, BackendChoice::Process).is_some());
        assert_eq!(unused_setting(&v, BackendChoice::Auto), None);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(123.456), "123.5");
        assert_eq!(seeds(Some(42), 3), (vec![42, 43, 44], false));
        assert!(seeds(None, 2).1);
    }
}
