//! The figures of a comparison's runs: what is read from each run's summary ([`METRICS`]),
//! one run's record, and the aggregation over a variant's runs — median, [min–max], and
//! whether the runs separate the variants.

use crate::error::Exit;
use crate::report::summary::{Percentiles, Summary};
use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
