//! What a comparison found, as the terminal table, `compare.json` (the [`Comparison`]
//! serialised) and `compare.html` (the table and a dot plot per metric, inline SVG, no
//! network).

use super::figures::{aggregate, exit_of, verdicts, Row, RunRecord, Stats};
use super::variant::{Setting, Variant};
use crate::error::{Error, Exit};
use crate::markup::escape as esc;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

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

pub(super) fn join_seeds(seeds: &[u64]) -> String {
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
    use super::super::figures::Separation;
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
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
    fn numbers_read_well() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(123.456), "123.5");
    }
}
