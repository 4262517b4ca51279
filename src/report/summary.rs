//! `summary.json` (docs/formats.md §3): the figures of one run, computed from the history, the
//! events and the checks, with the gates and the verdict.
//!
//! Every field of the design's example keeps its name and meaning; the extensions are
//! listed on [`Summary`]. All `*_s` times are seconds on the history clock, whose zero is
//! the workload start; latencies are milliseconds (µs resolution).
//!
//! The summary is a pure function of its input ([`build`]): it never touches the cluster.

use crate::checker::watch::WatchCheck;
use crate::consistency::Consistency;
use crate::events::{Event, EventKind, FaultRecord};
use crate::gates::{self, round3, CheckerStatus, Gate, GateFacts};
use crate::history::{pair, Entry, EntryType, Op, OpKind};
use crate::scenario::Scenario;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Windows without a successful operation shorter than this are not listed in
/// `unavailability` (they are ordinary gaps between operations at a low rate), though
/// `max_unavailable_s` still counts every gap.
pub const MIN_UNAVAILABLE_NS: u64 = 250_000_000;

/// Significant digits of the latency histograms.
const SIGFIG: u8 = 3;

/// Highest latency the histograms track, µs (one hour).
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// CPU time and memory of the harness process itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HarnessUsage {
    /// User + system CPU seconds.
    pub cpu_s: f64,
    /// Peak resident set size, MiB.
    pub peak_rss_mib: f64,
}

/// This process's usage so far, from `getrusage(RUSAGE_SELF)` (children, such as etcd
/// members, are not counted). Zeros if the call fails.
pub fn harness_usage() -> HarnessUsage {
    // SAFETY: getrusage only writes into the zeroed struct we pass it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return HarnessUsage::default();
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    HarnessUsage {
        cpu_s: round3(tv(ru.ru_utime) + tv(ru.ru_stime)),
        // Linux reports ru_maxrss in KiB.
        peak_rss_mib: round3(ru.ru_maxrss as f64 / 1024.0),
    }
}

/// Everything [`build`] needs.
#[derive(Debug, Clone)]
pub struct SummaryInput<'a> {
    /// The scenario as resolved (its `expect:` gives the gates).
    pub scenario: &'a Scenario,
    /// The seed the run used.
    pub seed: u64,
    /// `process` or `docker`.
    pub backend: &'a str,
    /// The etcd version the members reported.
    pub etcd_version: &'a str,
    /// The run directory.
    pub run_dir: &'a Path,
    /// The history, in order.
    pub history: &'a [Entry],
    /// The events, in order.
    pub events: &'a [Event],
    /// `[start, end)` of the workload on the history clock, ns (start is 0).
    pub workload_ns: (u64, u64),
    /// The consistency check, when it ran.
    pub consistency: Option<&'a Consistency>,
    /// The checker's answer; `None` = not checked or could not finish.
    pub linearizable: Option<bool>,
    /// Whether the checker ran.
    pub checker: CheckerStatus,
    /// Why the run is invalid (a fault not shown to take effect, the cluster never
    /// healthy, ...); empty if valid.
    pub invalid: Vec<String>,
    /// The run was interrupted (Ctrl-C) before it finished.
    pub interrupted: bool,
    /// The harness's own usage (see [`harness_usage`]).
    pub harness: HarnessUsage,
    /// The watch check, when the watch workload ran.
    pub watch: Option<&'a WatchCheck>,
}

/// Operation counts (`ops`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OpCounts {
    /// Operations invoked.
    pub total: u64,
    /// Took effect.
    pub ok: u64,
    /// Certainly did not take effect.
    pub fail: u64,
    /// Unknown (including operations the history ended before completing).
    pub info: u64,
    /// Compare-and-sets whose compare was false (`"error":"compare failed"` in the history,
    /// a `fail` there): the cluster answered as asked, so they are neither in `fail` nor in
    /// `errors`. 0 in summaries written before it existed.
    #[serde(default)]
    pub cas_not_applied: u64,
}

/// Latency percentiles of successful operations, ms. A kind with no successful
/// operation has every figure 0 and `count` 0 (the kind is never omitted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Successful operations measured.
    pub count: u64,
}

/// Latencies by kind (`latency_ms`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// Every successful operation.
    pub all: Percentiles,
    /// Reads.
    pub read: Percentiles,
    /// Writes.
    pub write: Percentiles,
    /// Compare-and-sets.
    pub cas: Percentiles,
}

impl Latencies {
    /// The figures of one kind.
    pub fn of(&self, kind: OpKind) -> &Percentiles {
        match kind.row() {
            Some(OpKind::Write) => &self.write,
            Some(OpKind::Cas) => &self.cas,
            Some(_) => &self.read,
            None => &self.all,
        }
    }
}

/// A leader seen (`leaders`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leader {
    /// When it was seen, s.
    pub t_s: f64,
    /// The member.
    pub member: String,
    /// Its raft term.
    pub term: u64,
}

/// A member's etcd version at the end of the run (`members`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberVersion {
    /// The member.
    pub name: String,
    /// The version its last status answer gave (`3.5.1`).
    pub version: String,
}

/// A version that changed during the run (`version_changes`): a member's, or the cluster's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionChange {
    /// When it was seen, s.
    pub t_s: f64,
    /// The member; absent for the cluster version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The version before.
    pub from: String,
    /// The version after.
    pub to: String,
}

/// The members' versions at the end, the cluster version at the end, and every change, from
/// the `member-version` and `cluster-version` events.
fn versions(events: &[Event]) -> (Vec<MemberVersion>, Option<String>, Vec<VersionChange>) {
    let mut members: Vec<MemberVersion> = Vec::new();
    let mut cluster = None;
    let mut changes = Vec::new();
    for e in events {
        match &e.what {
            EventKind::MemberVersion { member, version, from } => {
                match members.iter_mut().find(|m| &m.name == member) {
                    Some(m) => m.version = version.clone(),
                    None => members.push(MemberVersion { name: member.clone(), version: version.clone() }),
                }
                if let Some(from) = from {
                    changes.push(VersionChange { t_s: secs_t(e.t), member: Some(member.clone()), from: from.clone(), to: version.clone() });
                }
            }
            EventKind::ClusterVersion { version, from } => {
                cluster = Some(version.clone());
                if let Some(from) = from {
                    changes.push(VersionChange { t_s: secs_t(e.t), member: None, from: from.clone(), to: version.clone() });
                }
            }
            _ => {}
        }
    }
    members.sort_by(|a, b| {
        crate::cluster::versions::order_key(a.name.trim_start_matches('n'))
            .cmp(&crate::cluster::versions::order_key(b.name.trim_start_matches('n')))
            .then(a.name.cmp(&b.name))
    });
    (members, cluster, changes)
}

/// The ops the scenario expects etcd to refuse, each with what came of it (the op events
/// that carry `expect: refused`, in order: such ops run one at a time).
fn refusals(scenario: &Scenario, events: &[Event]) -> Vec<gates::Refusal> {
    let mut seen = events.iter().filter_map(|e| match &e.what {
        EventKind::Op { expect: Some(x), ok, refused, detail, .. } if x == "refused" => Some((*ok, *refused, detail.clone())),
        _ => None,
    });
    scenario
        .ops
        .iter()
        .filter(|o| o.expect == crate::scenario::OpExpect::Refused)
        .map(|o| {
            let (refused, detail) = match seen.next() {
                Some((true, _, d)) => (Some(false), d),
                Some((false, true, d)) => (Some(true), d),
                Some((false, false, d)) => (None, d),
                None => (None, "the run ended before it".to_string()),
            };
            gates::Refusal { op: format!("{} at {}", o.op.name(), o.at), refused, detail }
        })
        .collect()
}

/// A window without a successful operation (`unavailability`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Start, s (the last success before it, or the workload start).
    pub from_s: f64,
    /// End, s (the next success, or the workload end).
    pub to_s: f64,
}

impl Window {
    /// Length, s.
    pub fn len_s(&self) -> f64 {
        round3(self.to_s - self.from_s)
    }
}

/// A fault as injected and healed (`faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpan {
    /// Index in the resolved schedule.
    pub id: usize,
    /// `partition`, `kill`, ...
    pub kind: String,
    /// The target as written (`leader`, `n2`, ...).
    pub target: String,
    /// The members it resolved to.
    pub targets: Vec<String>,
    /// When its injection began, s (the fault is drawn from here).
    pub from_s: f64,
    /// When it was shown to have taken effect, s; absent for runs recorded before
    /// `fault-start` carried `proven_t`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven_s: Option<f64>,
    /// When it was healed, s; `null` when it never was.
    pub to_s: Option<f64>,
    /// How it was carried out (`iptables`, `signal`, ...).
    pub mechanism: String,
    /// The fault's parameters.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Evidence that it took effect.
    pub proof: String,
    /// Evidence that it was undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_proof: Option<String>,
}

/// A `snapshot-restore` and what it cost (`restores`, an extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreSpan {
    /// The snapshot restored.
    pub snapshot: String,
    /// Its revision: the cluster's revision after the restore.
    pub revision: i64,
    /// When the workload was paused for it, s.
    pub from_s: f64,
    /// When the restored cluster was verified and the workload resumed, s.
    pub to_s: f64,
    /// Writes and cas acknowledged before the restore at a revision above the snapshot's:
    /// lost by design.
    pub lost_writes: u64,
    /// The same, in words.
    pub message: String,
}

impl RestoreSpan {
    /// "N acknowledged writes after the snapshot's revision R were lost by design by the restore".
    pub fn describe(lost: u64, revision: i64) -> String {
        let (n, verb) = if lost == 1 { ("write", "was") } else { ("writes", "were") };
        format!("{lost} acknowledged {n} after the snapshot's revision {revision} {verb} lost by design by the restore")
    }
}

/// One epoch of a history split at its restores, checked on its own (`epochs`, an extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochCheck {
    /// 1-based.
    pub epoch: usize,
    /// The file checked (`history.epochN.jsonl` in the run directory).
    pub file: String,
    /// Workload operations in it.
    pub ops: u64,
    /// Synthetic writes of the restored values at its start.
    pub restored_keys: usize,
    /// Its verdict; `null` when the check could not finish.
    pub linearizable: Option<bool>,
}

/// `summary.json`.
///
/// Extensions to docs/formats.md §3: `latency_ms.*.count`, `faults[].{id, target, params,
/// proof, heal_proof}`, gate `status`/`message`/`assumption`, `checker`, `linearizable_cause`, `exit_code`,
/// `verdict`, `verdict_reasons`, `invalid_reasons`, `interrupted`, `harness`, `run_dir`,
/// `run_id`, `started_at`, `faultline_version`,
/// `watch`, `errors`, `restores`, `epochs` (runs with a snapshot-restore).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// `process` or `docker`.
    pub backend: String,
    /// The etcd version.
    pub etcd_version: String,
    /// Each member's etcd version at the end, as its status said; empty in summaries older
    /// than it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberVersion>,
    /// The cluster version at the end (`3.5.0`); absent when it was never read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_version: Option<String>,
    /// Versions that changed during the run (an upgrade), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub version_changes: Vec<VersionChange>,
    /// Workload duration, s.
    pub duration_s: f64,
    /// Operation counts.
    pub ops: OpCounts,
    /// Failed and unknown operations by the error their completion recorded (e.g.
    /// `database space exceeded`, `timeout`); absent when none failed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Successful operations per second of workload.
    pub throughput_ok_per_s: f64,
    /// Latency percentiles of successful operations, ms.
    pub latency_ms: Latencies,
    /// Leader changes after the first leader.
    pub leader_changes: u32,
    /// Every leader seen, in order.
    pub leaders: Vec<Leader>,
    /// Windows of at least 250 ms with no successful operation.
    pub unavailability: Vec<Window>,
    /// The longest window with no successful operation, s (however short).
    pub max_unavailable_s: f64,
    /// The faults, in the order they took effect.
    pub faults: Vec<FaultSpan>,
    /// `true`, `false`, or `null` when not checked or the check could not finish.
    pub linearizable: Option<bool>,
    /// Why `linearizable` is `null`, in words (the checker's time limit, an interruption, no
    /// operations, a history that could not be written or read); absent when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizable_cause: Option<String>,
    /// The consistency check, when it ran.
    pub consistency: Option<Consistency>,
    /// The watch check, when the watch workload ran (`workload.watch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchCheck>,
    /// The gates of `expect:`.
    pub gates: Vec<Gate>,
    /// Every gate passed and the run is valid (`exit_code == 0`).
    pub passed: bool,
    /// Whether (and how long) the linearizability checker ran.
    pub checker: CheckerStatus,
    /// The exit code of the run (docs/formats.md §4).
    pub exit_code: u8,
    /// `pass`, `fail`, `invalid` or `interrupted`.
    pub verdict: String,
    /// Why the verdict is what it is: invalid reasons, or the gates that did not pass.
    pub verdict_reasons: Vec<String>,
    /// Why the run is invalid (the runner's reasons and failed assumption gates).
    pub invalid_reasons: Vec<String>,
    /// The run was interrupted.
    pub interrupted: bool,
    /// The harness's own CPU and memory.
    pub harness: HarnessUsage,
    /// The run directory.
    pub run_dir: String,
    /// The run id every resource of the run is labelled with (`faultline-<id>-*`; what
    /// `faultline clean --run ID` takes); empty in summaries older than it.
    #[serde(default)]
    pub run_id: String,
    /// When the run started, UTC, RFC 3339 (`2026-11-23T17:05:12Z`); empty in older summaries.
    #[serde(default)]
    pub started_at: String,
    /// The faultline version that ran it; empty in older summaries.
    #[serde(default)]
    pub faultline_version: String,
    /// The snapshot-restores, with the writes each lost by design.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restores: Vec<RestoreSpan>,
    /// The epochs the history was checked as, when it was split at restores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epochs: Vec<EpochCheck>,
    /// The `corrupt` faults and who noticed them when (etcd, faultline's HashKV); absent
    /// when the run had none and nobody noticed corruption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corruption: Option<super::corruption::Corruption>,
}

impl Summary {
    /// Each member's version and the cluster version at the end, with the cluster version's
    /// changes: `n1 3.5.1 · n2 3.5.1 · n3 3.5.1 · cluster 3.5.0 (3.4.0 → 3.5.0 at 21.4 s)`;
    /// `None` when the run recorded no versions.
    pub fn versions_line(&self) -> Option<String> {
        if self.members.is_empty() && self.cluster_version.is_none() {
            return None;
        }
        let mut parts: Vec<String> = self.members.iter().map(|m| format!("{} {}", m.name, m.version)).collect();
        if let Some(c) = &self.cluster_version {
            let moves: Vec<String> =
                self.version_changes.iter().filter(|v| v.member.is_none()).map(|v| format!("{} → {} at {:.1} s", v.from, v.to, v.t_s)).collect();
            parts.push(if moves.is_empty() { format!("cluster {c}") } else { format!("cluster {c} ({})", moves.join(", ")) });
        }
        Some(parts.join(" · "))
    }

    /// The run's exit code as [`crate::error::Exit`]: the one conversion of a summary's
    /// `exit_code` (written from the run's [`gates::Verdict`]) back to an exit.
    pub fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::from_code(self.exit_code)
    }

    /// Write the verdict's fields (`passed`, `exit_code`, `verdict`, `verdict_reasons`).
    fn set_verdict(&mut self, v: &gates::Verdict) {
        self.passed = v.passed();
        self.exit_code = v.exit().code();
        self.verdict = v.label().to_string();
        self.verdict_reasons = v.reasons().to_vec();
    }

    /// The run is invalid for one more reason (found after the summary was built, e.g. a
    /// record that could not be written): the reason is added and the verdict decided again.
    pub fn invalidate(&mut self, reason: String) {
        if !self.invalid_reasons.contains(&reason) {
            self.invalid_reasons.push(reason);
        }
        let v = gates::verdict(&self.gates, &self.invalid_reasons, self.interrupted);
        self.set_verdict(&v);
    }
}

fn secs(ns: u64) -> f64 {
    round3(ns as f64 / 1e9)
}

/// An event's time (ns, negative before the workload started) in s.
fn secs_t(ns: i64) -> f64 {
    round3(ns as f64 / 1e9)
}

fn percentiles(lat_us: &[u64]) -> Percentiles {
    if lat_us.is_empty() {
        return Percentiles::default();
    }
    let max = lat_us.iter().copied().max().unwrap_or(0);
    // Up to an hour; anything longer is recorded as an hour (max stays exact).
    let mut h = match Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, SIGFIG) {
        Ok(h) => h,
        Err(_) => return Percentiles::default(),
    };
    for &v in lat_us {
        h.saturating_record(v);
    }
    // The histogram reports a bucket's highest value; never above the true maximum.
    let at = |q: f64| round3(h.value_at_quantile(q).min(max) as f64 / 1000.0);
    Percentiles { p50: at(0.50), p90: at(0.90), p99: at(0.99), p999: at(0.999), max: round3(max as f64 / 1000.0), count: lat_us.len() as u64 }
}

fn latencies(ops: &[Op]) -> Latencies {
    let mut all = Vec::new();
    let mut by: [Vec<u64>; 3] = Default::default();
    for op in ops.iter().filter(|o| o.outcome == EntryType::Ok) {
        if let Some(ns) = op.latency_ns() {
            let us = ns / 1000;
            all.push(us);
            if let Some(row) = op.f.row() {
                by[row as usize].push(us);
            }
        }
    }
    Latencies {
        all: percentiles(&all),
        read: percentiles(&by[OpKind::Read as usize]),
        write: percentiles(&by[OpKind::Write as usize]),
        cas: percentiles(&by[OpKind::Cas as usize]),
    }
}

fn counts(ops: &[Op]) -> OpCounts {
    let mut c = OpCounts { total: ops.len() as u64, ..Default::default() };
    for op in ops {
        match op.outcome {
            EntryType::Ok => c.ok += 1,
            EntryType::Fail => c.fail += 1,
            EntryType::Info | EntryType::Invoke => c.info += 1,
        }
    }
    c
}

/// Whether a completion is a cas whose compare was false: not applied, not an error.
fn cas_not_applied(e: &Entry) -> bool {
    e.kind == EntryType::Fail && e.f == OpKind::Cas && e.error.as_deref() == Some(crate::workload::register::COMPARE_FAILED)
}

/// Failed and unknown completions counted by their recorded error (a cas not applied is
/// not an error: see [`OpCounts::cas_not_applied`]).
fn errors(history: &[Entry]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in history.iter().filter(|e| matches!(e.kind, EntryType::Fail | EntryType::Info) && !cas_not_applied(e)) {
        if let Some(m) = &e.error {
            *out.entry(m.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// Windows with no successful completion in `[start, end]`, counting the edges (start →
/// first success, last success → end): every gap, however short, as `(from, to)` ns.
/// With no success at all, the whole workload is one window.
pub fn gaps(history: &[Entry], (start, end): (u64, u64)) -> Vec<(u64, u64)> {
    let mut oks: Vec<u64> = history.iter().filter(|e| e.kind == EntryType::Ok && e.t >= start && e.t <= end).map(|e| e.t).collect();
    oks.sort_unstable();
    let mut out = Vec::with_capacity(oks.len() + 1);
    let mut last = start;
    for t in oks.into_iter().chain(std::iter::once(end)) {
        if t > last {
            out.push((last, t));
        }
        last = last.max(t);
    }
    out
}

/// The leaders seen, in order; an event that repeats the previous leader and term is
/// dropped.
fn leaders(events: &[Event]) -> Vec<Leader> {
    let mut out: Vec<Leader> = Vec::new();
    for e in events {
        if let EventKind::LeaderChange { member, term } = &e.what {
            if out.last().is_some_and(|l| &l.member == member && l.term == *term) {
                continue;
            }
            out.push(Leader { t_s: secs_t(e.t), member: member.clone(), term: *term });
        }
    }
    out
}

/// Pair `fault-start` with `fault-heal` by id: a heal closes the latest open start with
/// its id (a fault with `every` may reuse its id).
fn faults(events: &[Event]) -> Vec<FaultSpan> {
    let mut out: Vec<FaultSpan> = Vec::new();
    for e in events {
        match &e.what {
            EventKind::FaultStart(r) => out.push(open_fault(r, e.t)),
            EventKind::FaultHeal(r) => {
                let open = out.iter_mut().rev().find(|f| f.id == r.id && f.to_s.is_none());
                match open {
                    Some(f) => {
                        f.to_s = Some(secs_t(e.t));
                        f.heal_proof = Some(r.proof.clone());
                    }
                    // A heal without a start: show it rather than lose it.
                    None => {
                        let mut f = open_fault(r, e.t);
                        f.proof = String::new();
                        f.to_s = Some(secs_t(e.t));
                        f.heal_proof = Some(r.proof.clone());
                        out.push(f);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn open_fault(r: &FaultRecord, t: i64) -> FaultSpan {
    FaultSpan {
        id: r.id,
        kind: r.kind.clone(),
        target: r.target.clone(),
        targets: r.targets.clone(),
        from_s: secs_t(t),
        proven_s: r.proven_t.map(secs_t),
        to_s: None,
        mechanism: r.mechanism.clone(),
        params: r.params.clone(),
        proof: r.proof.clone(),
        heal_proof: None,
    }
}

/// Compute the summary: figures, gates (from `scenario.expect`) and verdict.
pub fn build(input: &SummaryInput) -> Summary {
    let ops = pair(input.history);
    let mut ops_count = counts(&ops);
    // The history keeps a false compare as `fail` (the checker needs it); the figures do not.
    let not_applied = input.history.iter().filter(|e| cas_not_applied(e)).count() as u64;
    ops_count.cas_not_applied = not_applied.min(ops_count.fail);
    ops_count.fail -= ops_count.cas_not_applied;
    let latency_ms = latencies(&ops);
    let (start, end) = input.workload_ns;
    let duration_s = secs(end.saturating_sub(start));
    let throughput_ok_per_s = if duration_s > 0.0 { round3(ops_count.ok as f64 / duration_s) } else { 0.0 };

    let leaders = leaders(input.events);
    let leader_changes = leaders.len().saturating_sub(1).min(u32::MAX as usize) as u32;

    let gaps = gaps(input.history, input.workload_ns);
    let max_unavailable_s = secs(gaps.iter().map(|(a, b)| b - a).max().unwrap_or(0));
    let unavailability = gaps.iter().filter(|(a, b)| b - a >= MIN_UNAVAILABLE_NS).map(|&(a, b)| Window { from_s: secs(a), to_s: secs(b) }).collect();

    let facts = GateFacts {
        ok_ops: ops_count.ok,
        p99_ms: (latency_ms.all.count > 0).then_some(latency_ms.all.p99),
        max_unavailable_s,
        leader_changes,
        linearizable: input.linearizable,
        checker: input.checker.clone(),
        consistent: input.consistency.and_then(|c| c.answer()),
        consistency_gap: input.consistency.filter(|c| !c.not_compared.is_empty()).map(|c| c.not_compared.join("; ")),
        watch: input.watch.map(|w| w.ok),
        watch_problem: input.watch.filter(|w| !w.ok).map(|w| format!("{} broken; first, {}", w.problems(), w.first_problem.as_deref().unwrap_or("?"))),
        refusals: refusals(input.scenario, input.events),
    };
    let (members, cluster_version, version_changes) = versions(input.events);
    let gates = gates::evaluate(&input.scenario.expect, &facts);
    let verdict = gates::verdict(&gates, &input.invalid, input.interrupted);
    let invalid_reasons = gates::invalid_reasons(&gates, &input.invalid);

    let mut summary = Summary {
        scenario: input.scenario.name.clone(),
        seed: input.seed,
        backend: input.backend.to_string(),
        etcd_version: input.etcd_version.to_string(),
        members,
        cluster_version,
        version_changes,
        duration_s,
        ops: ops_count,
        errors: errors(input.history),
        throughput_ok_per_s,
        latency_ms,
        leader_changes,
        leaders,
        unavailability,
        max_unavailable_s,
        faults: faults(input.events),
        linearizable: input.linearizable,
        linearizable_cause: if input.linearizable.is_none() { input.checker.cause() } else { None },
        consistency: input.consistency.cloned(),
        watch: input.watch.cloned(),
        gates,
        passed: false,
        checker: input.checker.clone(),
        exit_code: 0,
        verdict: String::new(),
        verdict_reasons: Vec::new(),
        invalid_reasons,
        interrupted: input.interrupted,
        harness: input.harness,
        run_dir: input.run_dir.display().to_string(),
        run_id: String::new(),
        started_at: String::new(),
        faultline_version: env!("CARGO_PKG_VERSION").to_string(),
        restores: Vec::new(),
        epochs: Vec::new(),
        corruption: super::corruption::from_events(input.events),
    };
    summary.set_verdict(&verdict);
    summary
}

/// Now, UTC, as `started_at` carries it: RFC 3339 to the second (`2026-11-23T17:05:12Z`).
pub fn utc_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Write the summary as pretty JSON (with a final newline).
pub fn write(summary: &Summary, path: &Path) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// Read a `summary.json` written by [`write()`].
pub fn read(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: expected a faultline summary: {e}", path.display()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::consistency::MemberFigures;
    use crate::error::Exit;
    use crate::history::Value;
    use crate::scenario::units::Span;
    use std::time::Duration;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    pub(crate) fn scenario() -> Scenario {
        let yaml = "name: unit\nseed: 7\n";
        crate::scenario::parse(yaml, "unit.yaml").expect("minimal scenario parses")
    }

    fn entry(kind: EntryType, id: u64, t: u64, f: OpKind) -> Entry {
        Entry {
            kind,
            id,
            client: (id % 4) as u32,
            t,
            f,
            key: format!("k{}", id % 3),
            value: Value::None,
            rev: None,
            error: None,
            member: None,
            req: None,
            res: None,
        }
    }

    /// An operation invoked at `at` that completes `lat` later with `outcome`.
    fn op(h: &mut Vec<Entry>, id: u64, f: OpKind, at: u64, lat: u64, outcome: EntryType) {
        h.push(entry(EntryType::Invoke, id, at, f));
        h.push(entry(outcome, id, at + lat, f));
    }

    fn input<'a>(sc: &'a Scenario, h: &'a [Entry], ev: &'a [Event], end: u64) -> SummaryInput<'a> {
        SummaryInput {
            scenario: sc,
            seed: 7,
            backend: "process",
            etcd_version: "3.4.23",
            run_dir: Path::new("reports/unit-x"),
            history: h,
            events: ev,
            workload_ns: (0, end),
            consistency: None,
            linearizable: None,
            checker: CheckerStatus::NotBuilt,
            invalid: vec![],
            interrupted: false,
            harness: HarnessUsage::default(),
            watch: None,
        }
    }

    fn fault(id: usize, kind: &str, proof: &str) -> FaultRecord {
        FaultRecord {
            id,
            kind: kind.into(),
            target: "leader".into(),
            targets: vec!["n1".into()],
            mechanism: "signal".into(),
            params: Default::default(),
            proof: proof.into(),
            proven_t: None,
        }
    }

    #[test]
    fn counts_and_throughput() {
        let sc = scenario();
        let mut h = Vec::new();
        op(&mut h, 1, OpKind::Read, 0, MS, EntryType::Ok);
        op(&mut h, 2, OpKind::Write, 10 * MS, MS, EntryType::Ok);
        op(&mut h, 3, OpKind::Cas, 20 * MS, MS, EntryType::Fail);
        op(&mut h, 4, OpKind::Write, 30 * MS, MS, EntryType::Info);
        h.push(entry(EntryType::Invoke, 5, 40 * MS, OpKind::Read)); // never completed
        h[5].error = Some("database space exceeded".into());
        h[7].error = Some("timeout".into());
        let s = build(&input(&sc, &h, &[], 2 * S));
        assert_eq!(s.ops, OpCounts { total: 5, ok: 2, fail: 1, info: 2, cas_not_applied: 0 });
        assert_eq!(s.errors, [("database space exceeded".to_string(), 1), ("timeout".to_string(), 1)].into_iter().collect());
        assert_eq!(s.duration_s, 2.0);
        assert_eq!(s.throughput_ok_per_s, 1.0);
        assert_eq!(s.scenario, "unit");
        assert_eq!(s.run_dir, "reports/unit-x");
    }

    /// Issue 15 item 4: a cas whose compare was false did what it was asked; it is counted
    /// apart from the failures and is not an error.
    #[test]
    fn a_cas_not_applied_is_not_a_failure_nor_an_error() {
        let sc = scenario();
        let mut h = Vec::new();
        op(&mut h, 1, OpKind::Cas, 0, MS, EntryType::Fail);
        op(&mut h, 2, OpKind::Cas, 10 * MS, MS, EntryType::Fail);
        op(&mut h, 3, OpKind::Write, 20 * MS, MS, EntryType::Fail);
        op(&mut h, 4, OpKind::Read, 30 * MS, MS, EntryType::Ok);
        h[1].error = Some(crate::workload::register::COMPARE_FAILED.into());
        h[3].error = Some(crate::workload::register::COMPARE_FAILED.into());
        h[5].error = Some("no leader".into());
        let s = build(&input(&sc, &h, &[], S));
        assert_eq!(s.ops, OpCounts { total: 4, ok: 1, fail: 1, info: 0, cas_not_applied: 2 });
        assert_eq!(s.errors, [("no leader".to_string(), 1)].into_iter().collect(), "the breakdown holds definite errors only");
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["ops"]["cas_not_applied"], 2);
    }

    #[test]
    fn percentiles_per_kind_over_ok_operations_only() {
        let sc = scenario();
        let mut h = Vec::new();
        // 100 reads of 1..=100 ms, one write of 7 ms, a failed cas of 5 s (not counted).
        for i in 1..=100u64 {
            op(&mut h, i, OpKind::Read, i * MS, i * MS, EntryType::Ok);
        }
        op(&mut h, 200, OpKind::Write, 0, 7 * MS, EntryType::Ok);
        op(&mut h, 201, OpKind::Cas, 0, 5 * S, EntryType::Fail);
        let s = build(&input(&sc, &h, &[], 10 * S));
        let r = s.latency_ms.read;
        assert_eq!(r.count, 100);
        // 3 significant digits: within 0.1 %.
        for (got, want) in [(r.p50, 50.0), (r.p90, 90.0), (r.p99, 99.0), (r.p999, 100.0), (r.max, 100.0)] {
            assert!((got - want).abs() <= want * 0.001, "got {got}, want {want}");
        }
        let w = s.latency_ms.write;
        assert_eq!((w.count, w.p50, w.max), (1, 7.0, 7.0));
        assert_eq!(s.latency_ms.cas, Percentiles::default(), "empty kind is zeros with count 0");
        assert_eq!(s.latency_ms.all.count, 101);
        assert!(s.latency_ms.all.p999 <= s.latency_ms.all.max);
    }

    #[test]
    fn latency_is_reported_in_ms_with_us_resolution() {
        let p = percentiles(&[1234]);
        assert_eq!((p.p50, p.p99, p.max, p.count), (1.234, 1.234, 1.234, 1));
    }

    #[test]
    fn unavailability_counts_the_edges() {
        let sc = scenario();
        let mut h = Vec::new();
        // oks complete at 0.5 s, 0.6 s, 2.0 s; the workload is [0, 3 s).
        op(&mut h, 1, OpKind::Read, 400 * MS, 100 * MS, EntryType::Ok);
        op(&mut h, 2, OpKind::Read, 550 * MS, 50 * MS, EntryType::Ok);
        op(&mut h, 3, OpKind::Write, 700 * MS, S, EntryType::Info);
        op(&mut h, 4, OpKind::Read, 1900 * MS, 100 * MS, EntryType::Ok);
        let s = build(&input(&sc, &h, &[], 3 * S));
        assert_eq!(s.unavailability, vec![Window { from_s: 0.0, to_s: 0.5 }, Window { from_s: 0.6, to_s: 2.0 }, Window { from_s: 2.0, to_s: 3.0 },]);
        assert_eq!(s.max_unavailable_s, 1.4);
        // The 100 ms gap is counted in the gaps but not listed.
        assert_eq!(gaps(&h, (0, 3 * S)).len(), 4);
    }

    #[test]
    fn short_gaps_count_for_the_maximum_but_are_not_listed() {
        let sc = scenario();
        let mut h = Vec::new();
        for i in 0..10u64 {
            op(&mut h, i, OpKind::Read, i * 100 * MS, 10 * MS, EntryType::Ok);
        }
        let s = build(&input(&sc, &h, &[], 1000 * MS));
        assert!(s.unavailability.is_empty());
        assert_eq!(s.max_unavailable_s, 0.1);
    }

    #[test]
    fn no_successful_operation_makes_the_whole_workload_one_window() {
        let sc = scenario();
        let mut h = Vec::new();
        op(&mut h, 1, OpKind::Write, 0, S, EntryType::Info);
        let s = build(&input(&sc, &h, &[], 5 * S));
        assert_eq!(s.unavailability, vec![Window { from_s: 0.0, to_s: 5.0 }]);
        assert_eq!(s.max_unavailable_s, 5.0);
        let empty = build(&input(&sc, &[], &[], 5 * S));
        assert_eq!(empty.max_unavailable_s, 5.0);
        assert_eq!(empty.ops.total, 0);
        assert_eq!(empty.latency_ms.all.count, 0);
    }

    #[test]
    fn leaders_and_leader_changes() {
        let sc = scenario();
        let lc = |t: u64, m: &str, term: u64| Event { t: t as i64, what: EventKind::LeaderChange { member: m.into(), term } };
        let ev = vec![
            lc(0, "n1", 2),
            Event { t: 1, what: EventKind::Note { message: "x".into() } },
            lc(400 * MS, "n1", 2), // repeated: not a change
            lc(11_600 * MS, "n3", 3),
            lc(30 * S, "n2", 5),
        ];
        let s = build(&input(&sc, &[], &ev, 60 * S));
        assert_eq!(s.leader_changes, 2);
        assert_eq!(s.leaders.len(), 3);
        assert_eq!(s.leaders[1], Leader { t_s: 11.6, member: "n3".into(), term: 3 });
        assert_eq!(build(&input(&sc, &[], &ev[..1], S)).leader_changes, 0);
        assert_eq!(build(&input(&sc, &[], &[], S)).leader_changes, 0);
    }

    #[test]
    fn faults_pair_by_id_and_unhealed_ends_null() {
        let sc = scenario();
        let ev = vec![
            Event { t: (10 * S) as i64, what: EventKind::FaultStart(fault(0, "partition", "n1 drops peers")) },
            Event { t: (12 * S) as i64, what: EventKind::FaultStart(fault(1, "kill", "pid 42 gone")) },
            Event { t: (17 * S) as i64, what: EventKind::FaultHeal(fault(1, "kill", "n1 restarted")) },
            Event { t: (20 * S) as i64, what: EventKind::FaultHeal(fault(0, "partition", "rules removed")) },
            Event { t: (25 * S) as i64, what: EventKind::FaultStart(fault(1, "kill", "pid 43 gone")) },
        ];
        let s = build(&input(&sc, &[], &ev, 30 * S));
        assert_eq!(s.faults.len(), 3);
        let f0 = &s.faults[0];
        assert_eq!((f0.id, f0.kind.as_str(), f0.from_s, f0.to_s), (0, "partition", 10.0, Some(20.0)));
        assert_eq!(f0.proof, "n1 drops peers");
        assert_eq!(f0.heal_proof.as_deref(), Some("rules removed"));
        assert_eq!((s.faults[1].from_s, s.faults[1].to_s), (12.0, Some(17.0)));
        assert_eq!((s.faults[2].from_s, s.faults[2].to_s), (25.0, None));
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["faults"][2]["to_s"], serde_json::Value::Null);
        assert_eq!(v["faults"][0]["targets"][0], "n1");
        assert_eq!(v["faults"][0]["mechanism"], "signal");
    }

    #[test]
    fn gates_and_verdict_come_from_the_scenario() {
        let mut sc = scenario();
        sc.expect.min_ok_ops = Some(1);
        sc.expect.p99 = Some(Span(Duration::from_millis(800)));
        sc.expect.consistent = Some(true);
        let mut h = Vec::new();
        op(&mut h, 1, OpKind::Read, 0, 2 * MS, EntryType::Ok);
        let cons = Consistency {
            consistent: true,
            revision: Some(9),
            members: vec![MemberFigures { member: "n1".into(), revision: Some(9), hash: Some(1), keys: Some(1), error: None }],
            differences: vec![],
            not_compared: vec![],
            skipped: Vec::new(),
            waited_s: 0.0,
        };
        let mut i = input(&sc, &h, &[], S);
        i.consistency = Some(&cons);
        let s = build(&i);
        assert_eq!(s.gates.len(), 3);
        assert!(s.passed, "{:#?}", s.gates);
        assert_eq!((s.exit_code, s.verdict.as_str()), (0, "pass"));
        assert_eq!(s.exit(), Exit::Pass);

        // Too few ops: invalid, with the reason recorded.
        sc.expect.min_ok_ops = Some(100);
        let mut i = input(&sc, &h, &[], S);
        i.consistency = Some(&cons);
        let s = build(&i);
        assert_eq!((s.exit_code, s.verdict.as_str(), s.passed), (5, "invalid", false));
        assert_eq!(s.invalid_reasons.len(), 1);

        // Interrupted.
        let mut i = input(&sc, &h, &[], S);
        i.interrupted = true;
        let s = build(&i);
        assert_eq!((s.exit_code, s.verdict.as_str()), (5, "interrupted"));
    }

    #[test]
    fn the_design_fields_are_present_and_it_round_trips() {
        let sc = scenario();
        let mut h = Vec::new();
        op(&mut h, 1, OpKind::Cas, 0, 2 * MS, EntryType::Ok);
        let s = build(&input(&sc, &h, &[], S));
        let v = serde_json::to_value(&s).unwrap();
        for k in [
            "scenario",
            "seed",
            "backend",
            "etcd_version",
            "duration_s",
            "ops",
            "throughput_ok_per_s",
            "latency_ms",
            "leader_changes",
            "leaders",
            "unavailability",
            "max_unavailable_s",
            "faults",
            "linearizable",
            "consistency",
            "gates",
            "passed",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        for k in ["all", "read", "write", "cas"] {
            for p in ["p50", "p90", "p99", "p999", "max"] {
                assert!(v["latency_ms"][k].get(p).is_some(), "missing latency_ms.{k}.{p}");
            }
        }
        assert_eq!(v["linearizable"], serde_json::Value::Null);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write(&s, &path).unwrap();
        assert_eq!(read(&path).unwrap(), s);
        assert!(read(&dir.path().join("nope.json")).is_err());
    }

    #[test]
    fn an_unanswered_check_says_why_and_a_late_invalid_reason_decides_again() {
        let mut sc = scenario();
        sc.expect.linearizable = Some(true);
        let mut i = input(&sc, &[], &[], S);
        i.checker = CheckerStatus::NoOperations;
        let mut s = build(&i);
        assert_eq!(s.linearizable_cause.as_deref(), Some("no operations to check: the history is empty"));
        assert_eq!((s.exit(), s.verdict.as_str()), (Exit::GateFailed, "fail"));
        assert!(s.verdict_reasons[0].contains("no operations to check"), "{:?}", s.verdict_reasons);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["linearizable_cause"], "no operations to check: the history is empty");
        assert_eq!(v["checker"]["status"], "no-operations");
        // A record that could not be written, found after the summary was built.
        s.invalidate("could not write events.jsonl: No space left on device (os error 28)".into());
        assert_eq!((s.exit(), s.exit_code, s.verdict.as_str(), s.passed), (Exit::Invalid, 5, "invalid", false));
        assert_eq!(s.verdict_reasons, vec!["could not write events.jsonl: No space left on device (os error 28)".to_string()]);
        // Answered: no cause in the file.
        let mut i = input(&sc, &[], &[], S);
        i.checker = CheckerStatus::Ran { seconds: 0.1 };
        i.linearizable = Some(true);
        let v = serde_json::to_value(build(&i)).unwrap();
        assert!(v.get("linearizable_cause").is_none(), "{v}");
    }

    #[test]
    fn harness_usage_is_plausible() {
        let u = harness_usage();
        assert!(u.cpu_s >= 0.0);
        assert!(u.peak_rss_mib > 0.0);
    }
}
