//! Shrinking a failing run to its cause: the run's schedule written out as plain faults (a
//! nemesis's draws and `every:` repetitions each one entry, drawn targets pinned to the
//! member the original hit), then delta debugging (Zeller's ddmin) over its faults and ops
//! (a triggered fault and the op or fault it waits for dropped or kept as one),
//! then shorter faults and a shorter workload. Each candidate is a plain scenario run with
//! the original seed up to `tries` times (a failure is not deterministic); it *still fails*
//! when a run fails one of the gates the original failed. The last candidate that failed is
//! then run again (`confirm`); when it does not fail again, the one before it (at most 3 back).
//! The scenario written is one that failed as written, and again when confirmed.
//! `faultline shrink` (`src/cmd/shrink.rs`) prints the steps.

use crate::error::{Error, Exit};
use crate::scenario::Target;
use crate::report::summary::Summary;
use crate::runner::{self, RunOptions};
use crate::scenario::trigger::{Happening, Until, When};
use crate::scenario::{self, FaultSpec, OpSpec, Scenario};
use crate::schedule::{self, End, Planned, Start, MIN_REPEAT};
use crate::units::Span;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How to shrink.
#[derive(Debug, Clone)]
pub struct ShrinkOptions {
    /// Runs of each candidate at most before it counts as passing.
    pub tries: usize,
    /// The shrink's directory (`None`: `reports/shrink-<name>-<UTC time>`).
    pub out: Option<PathBuf>,
    /// Where that goes when `out` is absent.
    pub reports_dir: PathBuf,
    /// Stop trying new candidates after this long.
    pub budget: Duration,
    /// `--backend` (default: the original's).
    pub backend: Option<crate::scenario::BackendChoice>,
}

/// One entry of the schedule: a fault or an op.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Fault(FaultSpec),
    Op(OpSpec),
}

impl Entry {
    fn describe(&self) -> String {
        match self {
            Entry::Fault(f) => format!("{} on {} at {}{}", f.kind.name(), f.target, f.at, f.for_.map(|d| format!(" for {d}")).unwrap_or_default()),
            Entry::Op(o) => format!("op {} at {}", o.op.name(), o.at),
        }
    }

    /// Its `id:`.
    fn id(&self) -> Option<&str> {
        match self {
            Entry::Fault(f) => f.id.as_deref(),
            Entry::Op(o) => o.id.as_deref(),
        }
    }

    /// The ids its triggers name (`when: "d1 started"`, `until: "f1 finished"`).
    fn names(&self) -> Vec<&str> {
        let Entry::Fault(f) = self else { return Vec::new() };
        fn of(h: &Happening) -> Option<&str> {
            match h {
                Happening::Started(id) | Happening::Finished(id) => Some(id.as_str()),
                Happening::NeedsSnapshot(_) => None,
            }
        }
        let until = match &f.until {
            Some(Until::When(w)) => Some(&w.on),
            _ => None,
        };
        f.when.iter().map(|w| &w.on).chain(until).filter_map(of).collect()
    }
}

/// What delta debugging drops or keeps as one: entries tied by their triggers (a kill
/// `when: "d1 started"` and the defrag `d1` it cuts short go together — one without the
/// other is no scenario).
#[derive(Debug, Clone, PartialEq)]
struct Item(Vec<Entry>);

impl Item {
    fn describe(&self) -> String {
        self.0.iter().map(Entry::describe).collect::<Vec<_>>().join(" + ")
    }
}

/// The entries grouped into items by the ids their triggers name, in schedule order.
fn group(entries: Vec<Entry>) -> Vec<Item> {
    let mut groups: Vec<Vec<Entry>> = Vec::new();
    for e in entries {
        let ids: Vec<String> = e.id().into_iter().chain(e.names()).map(String::from).collect();
        let tied = |g: &Vec<Entry>| g.iter().any(|x| x.id().is_some_and(|i| ids.iter().any(|n| n == i)) || x.names().iter().any(|n| ids.iter().any(|i| i == n)));
        let (mut joined, rest): (Vec<Vec<Entry>>, Vec<Vec<Entry>>) = groups.into_iter().partition(|g| tied(g));
        let mut one: Vec<Entry> = joined.drain(..).flatten().collect();
        one.push(e);
        groups = rest;
        groups.push(one);
    }
    let start = |g: &Vec<Entry>| g.iter().map(|e| match e { Entry::Fault(f) => f.at, Entry::Op(o) => o.at }).min().unwrap_or_default();
    groups.sort_by_key(start);
    groups.into_iter().map(Item).collect()
}

/// One step of a shrink: a candidate, how many runs it got, and whether it still failed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    /// What the candidate changed from the last failing one.
    pub change: String,
    /// Runs it got (0: refused as a scenario, with `note`).
    pub runs: usize,
    /// A run failed one of the original's failed gates.
    pub still_fails: bool,
    /// Faults and ops left in the candidate.
    pub items: usize,
    /// Its workload's length, s.
    pub duration_s: f64,
    /// The failing run's directory, or the last run's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<String>,
    /// Why it could not run, or what its runs failed on instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A shrink's result (`shrink.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Shrunk {
    /// The failing run it started from.
    pub original: String,
    /// The seed every candidate ran with.
    pub seed: u64,
    /// The gates the original failed (a candidate must fail one of them).
    pub gates: Vec<String>,
    /// Faults and ops in the original's schedule, written out.
    pub items_before: usize,
    /// Faults and ops left.
    pub items_after: usize,
    /// The original workload's length, s.
    pub duration_before_s: f64,
    /// The shrunk workload's length, s.
    pub duration_after_s: f64,
    /// Every candidate, in order.
    pub steps: Vec<Step>,
    /// Why it stopped: `nothing more to remove`, `time budget`, `interrupted`, or
    /// `the written-out schedule did not fail` (then the scenario is the original's).
    pub stopped: String,
    /// The shrunk scenario's file.
    pub scenario: String,
    /// A run of the shrunk scenario that failed.
    pub run_dir: Option<String>,
}

/// What the shrinker needs from the failing run.
struct Original {
    scenario: Scenario,
    backend: crate::scenario::BackendChoice,
    seed: u64,
    gates: Vec<String>,
    targets: BTreeMap<usize, Vec<String>>,
}

fn read_original(run_dir: &Path) -> Result<Original, Error> {
    let rec = crate::replay::load(run_dir)?;
    let path = run_dir.join("summary.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::BadInput(format!("cannot read {}: {e}: shrink takes the directory of a run that finished and failed its gates", path.display())))?;
    let summary: Summary = serde_json::from_str(&text).map_err(|e| Error::BadInput(format!("{} does not parse: {e}", path.display())))?;
    if Exit::from_code(summary.exit_code) != Exit::GateFailed {
        return Err(Error::BadInput(format!(
            "{} did not fail its gates (verdict {}, exit {}): shrink cuts down a failing run; `faultline hunt SCENARIO` finds one",
            run_dir.display(),
            summary.verdict,
            summary.exit_code
        )));
    }
    let gates = summary.gates.iter().filter(|g| g.status == crate::gates::GateStatus::Fail && !g.assumption).map(|g| g.name.clone()).collect();
    let seed = rec.scenario.seed.unwrap_or(summary.seed);
    let backend = crate::scenario::BackendChoice::parse(&summary.backend).unwrap_or(rec.scenario.cluster.backend);
    Ok(Original { scenario: rec.scenario, backend, seed, gates, targets: rec.pinned })
}

/// A planned fault as a plain `faults:` entry: its start and end as written, a drawn target
/// (random, follower) pinned to the one member the original run hit.
fn written_out(p: &Planned, hit: Option<&Vec<String>>) -> FaultSpec {
    let (at, when, when_within) = match &p.start {
        Start::At(t) => (*t, None::<When>, None),
        Start::When { on, armed, within } => (*armed, Some(on.clone()), *within),
    };
    let (for_, until, until_within) = match &p.end {
        End::At(t) => (Some(t.saturating_sub(at)), None::<Until>, None),
        End::After(d) => (Some(*d), None, None),
        End::Until { on, within } => (None, Some(on.clone()), *within),
        End::WorkloadEnd => (None, None, None),
    };
    let pinned = match (p.target, hit.map(Vec::as_slice)) {
        (Target::Random | Target::Follower, Some([one])) => one.strip_prefix('n').and_then(|n| n.parse().ok()).map(Target::Member),
        _ => None,
    };
    FaultSpec {
        id: p.name.clone().filter(|_| !p.origin.contains('#')),
        at: Span(at),
        when,
        for_: for_.map(Span),
        until,
        within: when_within.or(until_within).map(Span),
        every: None,
        target: pinned.unwrap_or(p.target),
        kind: p.kind.clone(),
    }
}

/// The candidate scenario for a set of items and a workload length (faults and ops from
/// then on dropped, heals clipped to it).
fn candidate(base: &Scenario, items: &[Item], duration: Duration) -> Result<Scenario, Error> {
    let mut s = base.clone();
    s.nemesis = None;
    s.workload.duration = Span(duration);
    let entries = || items.iter().flat_map(|i| i.0.iter());
    s.faults = entries().filter_map(|e| if let Entry::Fault(f) = e { Some(f.clone()) } else { None }).collect();
    s.ops = entries().filter_map(|e| if let Entry::Op(o) = e { Some(o.clone()) } else { None }).collect();
    s.faults.sort_by_key(|f| f.at);
    s.ops.sort_by_key(|o| o.at);
    scenario::parse(&s.to_yaml(), &format!("{} (shrink candidate)", base.name))
}

/// How many failing candidates, newest first, the confirmation may go back through.
const CONFIRM_BACK: usize = 3;

/// The shrinker's running state.
struct Shrinker<'a> {
    base: Scenario,
    orig: &'a Original,
    opts: &'a ShrinkOptions,
    dir: PathBuf,
    cancel: CancellationToken,
    started: Instant,
    steps: Vec<Step>,
    last_fail: Option<String>,
    /// Every candidate that failed, in order, with its workload's length.
    accepted: Vec<(Vec<Item>, Duration)>,
    /// Confirming the result: the time budget no longer stops runs (Ctrl-C still does).
    confirming: bool,
    each: &'a mut dyn FnMut(&Step),
}

impl Shrinker<'_> {
    fn out_of_time(&self) -> bool {
        self.cancel.is_cancelled() || (!self.confirming && self.started.elapsed() >= self.opts.budget)
    }

    /// Run the result again: the last candidate that failed must fail once more (a candidate
    /// that failed once by chance is not the cause); else the one before it, at most
    /// [`CONFIRM_BACK`] of them. Returns the one confirmed, with its workload's length.
    fn confirm(&mut self) -> Option<(Vec<Item>, Duration)> {
        self.confirming = true;
        let accepted = std::mem::take(&mut self.accepted);
        for (n, (items, d)) in accepted.iter().rev().take(CONFIRM_BACK).enumerate() {
            let what = if n == 0 { "confirm: the shrunk scenario run again".to_string() } else { format!("confirm: the failing candidate {n} before it, run again") };
            if self.test(what, items, *d) {
                return Some((items.clone(), *d));
            }
            if self.cancel.is_cancelled() {
                break;
            }
        }
        None
    }

    /// Run a candidate up to `tries` times; whether it still fails.
    fn test(&mut self, change: String, items: &[Item], duration: Duration) -> bool {
        let mut step = Step { change, runs: 0, still_fails: false, items: items.iter().map(|i| i.0.len()).sum(), duration_s: duration.as_secs_f64(), run_dir: None, note: None };
        match candidate(&self.base, items, duration) {
            Err(e) => step.note = Some(format!("not a valid scenario: {e}")),
            Ok(s) => {
                for _ in 0..self.opts.tries {
                    if self.out_of_time() {
                        break;
                    }
                    step.runs += 1;
                    let n = self.steps.len() + 1;
                    let run_dir = self.dir.join("steps").join(format!("{n:02}-{}", step.runs));
                    let ro = RunOptions { backend: None, seed: Some(self.orig.seed), out: Some(run_dir.clone()), reports_dir: self.dir.clone(), quiet: true, ..Default::default() };
                    step.run_dir = Some(run_dir.display().to_string());
                    match runner::run(s.clone(), &ro, self.cancel.clone()) {
                        Ok(o) if o.exit == Exit::GateFailed && crate::hunt::caught_by(&o.summary).iter().any(|c| self.orig.gates.iter().any(|g| c.split(':').next() == Some(g))) => {
                            step.still_fails = true;
                            step.note = None;
                            break;
                        }
                        Ok(o) if o.summary.verdict_reasons.is_empty() => step.note = None,
                        Ok(o) => step.note = Some(format!("{}: {}", o.summary.verdict, o.summary.verdict_reasons.join("; "))),
                        Err(e) => {
                            step.note = Some(e.to_string());
                            if e.repeats() {
                                break;
                            }
                        }
                    }
                }
            }
        }
        if step.still_fails {
            self.last_fail = step.run_dir.clone();
            self.accepted.push((items.to_vec(), duration));
        }
        (self.each)(&step);
        let fails = step.still_fails;
        self.steps.push(step);
        fails
    }

    /// ddmin over the items: try dropping each of n chunks (and keeping each chunk alone),
    /// doubling n when nothing can go, until single items cannot go.
    fn ddmin(&mut self, mut items: Vec<Item>, duration: Duration) -> Vec<Item> {
        if items.is_empty() || self.out_of_time() {
            return items;
        }
        if self.test("without any fault or op".to_string(), &[], duration) {
            return Vec::new();
        }
        let mut n = 2usize;
        while items.len() >= 2 && !self.out_of_time() {
            let chunks = split(&items, n);
            let mut reduced = false;
            for (k, chunk) in chunks.iter().enumerate() {
                if self.out_of_time() {
                    break;
                }
                let rest: Vec<Item> = chunks.iter().enumerate().filter(|(j, _)| *j != k).flat_map(|(_, c)| c.iter().cloned()).collect();
                if self.test(format!("without {}", describe(chunk)), &rest, duration) {
                    items = rest;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= items.len() {
                    break;
                }
                n = (n * 2).min(items.len());
            }
        }
        if items.len() == 1 && !self.out_of_time() && self.test(format!("without {}", items[0].describe()), &[], duration) {
            return Vec::new();
        }
        items
    }

    /// Halve each fault's `for` while it still fails (down to 1 s).
    fn shorten_faults(&mut self, mut items: Vec<Item>, duration: Duration) -> Vec<Item> {
        let places: Vec<(usize, usize)> = items.iter().enumerate().flat_map(|(i, it)| (0..it.0.len()).map(move |j| (i, j))).collect();
        for (i, j) in places {
            loop {
                let Entry::Fault(f) = &items[i].0[j] else { break };
                let Some(d) = f.for_.map(|d| d.0).filter(|d| *d >= MIN_REPEAT * 2) else { break };
                if self.out_of_time() {
                    return items;
                }
                let shorter = Duration::from_millis((d.as_millis() as u64 / 2).max(1000));
                let change = format!("{} for {} instead of {}", items[i].0[j].describe(), Span(shorter), Span(d));
                let mut next = items.clone();
                if let Entry::Fault(g) = &mut next[i].0[j] {
                    g.for_ = Some(Span(shorter));
                }
                if !self.test(change, &next, duration) {
                    break;
                }
                items = next;
            }
        }
        items
    }

    /// Cut the workload to the last item's end (plus 2 s), then halve it while it still fails
    /// and every item still starts inside it.
    fn shorten_workload(&mut self, items: &[Item], mut duration: Duration) -> Duration {
        let last = items.iter().map(item_end).max().unwrap_or_default();
        let floor = (last + Duration::from_secs(2)).max(Duration::from_secs(3));
        let mut tries = vec![floor];
        let mut d = duration / 2;
        while d > floor {
            tries.insert(0, d);
            d /= 2;
        }
        tries.retain(|t| *t < duration);
        tries.sort();
        tries.dedup();
        // Longest cut first: the first that still fails is kept, then shorter ones are tried.
        for t in tries.into_iter().rev() {
            if self.out_of_time() {
                break;
            }
            if t < duration && self.test(format!("workload {} instead of {}", Span(t), Span(duration)), items, t) {
                duration = t;
            }
        }
        duration
    }
}

/// When an item ends, if it ends at a known offset (its start otherwise).
fn item_end(i: &Item) -> Duration {
    i.0.iter()
        .map(|e| match e {
            Entry::Fault(f) => f.at.0 + f.for_.map(|d| d.0).unwrap_or_default(),
            Entry::Op(o) => o.at.0,
        })
        .max()
        .unwrap_or_default()
}

fn split(items: &[Item], n: usize) -> Vec<Vec<Item>> {
    let n = n.min(items.len()).max(1);
    let size = items.len().div_ceil(n);
    items.chunks(size).map(<[Item]>::to_vec).collect()
}

fn describe(items: &[Item]) -> String {
    match items {
        [one] => one.describe(),
        more => format!("{} items ({})", more.len(), more.iter().map(Item::describe).collect::<Vec<_>>().join("; ")),
    }
}

/// The shrink's directory: `out`, else `reports/shrink-<scenario>-<UTC time>`.
pub fn dir_for(name: &str, opts: &ShrinkOptions) -> PathBuf {
    opts.out.clone().unwrap_or_else(|| crate::rundir::unique(&opts.reports_dir, &format!("shrink-{name}")))
}

/// Shrink the failing run in `run_dir` into `dir` (made): steps under `dir/steps/`,
/// `dir/scenario.yaml` (the shrunk scenario, its seed in it), `dir/shrink.json`; `each`
/// hears of every step as it ends.
pub fn shrink(run_dir: &Path, opts: &ShrinkOptions, cancel: CancellationToken, each: &mut dyn FnMut(&Step)) -> Result<(Shrunk, PathBuf), Error> {
    if opts.tries == 0 {
        return Err(Error::BadInput("--tries must be at least 1 (a failure is not deterministic: 3 is the default)".into()));
    }
    let orig = read_original(run_dir)?;
    let dir = dir_for(&orig.scenario.name, opts);
    std::fs::create_dir_all(dir.join("steps")).map_err(|e| Error::Environment(format!("cannot create {}: {e}: choose another with --out DIR", dir.display())))?;
    let plan = schedule::plan(&orig.scenario, orig.seed);
    let mut entries: Vec<Entry> = plan.iter().map(|p| Entry::Fault(written_out(p, orig.targets.get(&p.id)))).collect();
    entries.extend(orig.scenario.ops.iter().cloned().map(Entry::Op));
    let before = (entries.len(), orig.scenario.workload.duration.0);
    let mut items = group(entries);
    let mut base = orig.scenario.clone();
    base.seed = Some(orig.seed);
    // The backend the original ran on (or --backend), written into the shrunk scenario: it
    // failed there, and `auto` may pick the other one on another machine.
    base.cluster.backend = opts.backend.unwrap_or(orig.backend);
    let mut sh = Shrinker { base, orig: &orig, opts, dir: dir.clone(), cancel, started: Instant::now(), steps: Vec::new(), last_fail: None, accepted: Vec::new(), confirming: false, each };
    let mut duration = before.1;
    let stopped;
    if !sh.test("the recorded schedule written out as plain faults".into(), &items, duration) {
        stopped = "the written-out schedule did not fail".to_string();
    } else {
        let first = sh.accepted.clone();
        items = sh.ddmin(items, duration);
        items = sh.shorten_faults(items, duration);
        duration = sh.shorten_workload(&items, duration);
        let why = if sh.cancel.is_cancelled() {
            "interrupted"
        } else if sh.started.elapsed() >= opts.budget {
            "time budget"
        } else {
            "nothing more to remove"
        };
        let confirmed = if sh.cancel.is_cancelled() { None } else { sh.confirm() };
        stopped = match confirmed {
            Some((kept, d)) => {
                let again = kept == items && d == duration;
                (items, duration) = (kept, d);
                if again {
                    format!("{why}; it failed again when confirmed")
                } else {
                    format!("{why}; the last candidate did not fail again, an earlier one did and is the result")
                }
            }
            None => {
                // Nothing failed again: the written-out schedule, which failed once.
                (items, duration) = first.into_iter().next().unwrap_or((items, duration));
                sh.last_fail = sh.steps.first().and_then(|s| s.run_dir.clone());
                format!("{why}; no candidate failed again when confirmed: the written-out schedule is the result")
            }
        };
    }
    let failed_once = sh.last_fail.is_some();
    let shrunk = if failed_once { candidate(&sh.base, &items, duration)? } else { sh.base.clone() };
    let file = dir.join("scenario.yaml");
    let left: usize = items.iter().map(|i| i.0.len()).sum();
    let header = header(run_dir, &orig, &sh.steps, before, (left, duration), failed_once);
    std::fs::write(&file, format!("{header}{}", shrunk.to_yaml())).map_err(|e| Error::Environment(format!("cannot write {}: {e}", file.display())))?;
    let out = Shrunk {
        original: run_dir.display().to_string(),
        seed: orig.seed,
        gates: orig.gates.clone(),
        items_before: before.0,
        items_after: if failed_once { left } else { before.0 },
        duration_before_s: before.1.as_secs_f64(),
        duration_after_s: if failed_once { duration.as_secs_f64() } else { before.1.as_secs_f64() },
        steps: sh.steps.clone(),
        stopped,
        scenario: file.display().to_string(),
        run_dir: sh.last_fail.clone(),
    };
    let json = serde_json::to_vec_pretty(&out).map_err(|e| Error::harness(format!("cannot encode shrink.json: {e}")))?;
    std::fs::write(dir.join("shrink.json"), json).map_err(|e| Error::Environment(format!("cannot write shrink.json in {}: {e}", dir.display())))?;
    Ok((out, dir))
}

fn header(run_dir: &Path, orig: &Original, steps: &[Step], before: (usize, Duration), after: (usize, Duration), failed: bool) -> String {
    let runs: usize = steps.iter().map(|s| s.runs).sum();
    let mut h = format!("# Shrunk by `faultline shrink {}` from a run that failed {} (seed {}).\n", run_dir.display(), orig.gates.join(", "), orig.seed);
    if failed {
        h.push_str(&format!(
            "# {} fault(s)/op(s) and a {} workload -> {} and {}, in {} candidate(s), {runs} run(s); this scenario failed as written.\n",
            before.0,
            Span(before.1),
            after.0,
            Span(after.1),
            steps.len()
        ));
    } else {
        h.push_str("# Its schedule written out as plain faults did not fail again: this is the original scenario, unshrunk.\n");
    }
    h.push_str(&format!("# Run it again: faultline run scenario.yaml --seed {}\n", orig.seed));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nemesis_schedule_is_written_out_as_plain_faults_with_drawn_targets_pinned() {
        let s = scenario::parse(
            "name: x\nseed: 3\nworkload: {duration: 30s}\nnemesis: {kinds: [kill, pause], interval: 5s, for: 2s, targets: [random, leader]}\nfaults:\n  - {at: 1s, for: 2s, every: 10s, kind: pause, target: follower}\n",
            "s",
        )
        .unwrap();
        let plan = schedule::plan(&s, 3);
        let hit: BTreeMap<usize, Vec<String>> = plan.iter().map(|p| (p.id, vec!["n2".to_string()])).collect();
        let items = group(plan.iter().map(|p| Entry::Fault(written_out(p, hit.get(&p.id)))).collect());
        assert_eq!(items.len(), plan.len(), "no triggers: one item per fault");
        let c = candidate(&s, &items, s.workload.duration.0).unwrap();
        assert!(c.nemesis.is_none());
        assert_eq!(c.faults.len(), plan.len());
        for (f, p) in c.faults.iter().zip(&plan) {
            assert_eq!(f.at.0, p.from());
            assert!(f.every.is_none());
            assert_eq!(f.for_.map(|d| d.0), Some(Duration::from_secs(2)));
            match p.target {
                Target::Random | Target::Follower => assert_eq!(f.target, Target::Member(2)),
                other => assert_eq!(f.target, other, "roles stay roles"),
            }
        }
    }

    #[test]
    fn split_makes_n_chunks_covering_everything() {
        let s = scenario::parse("name: x\nworkload: {duration: 30s}\nfaults:\n  - {at: 1s, for: 2s, every: 5s, kind: pause, target: n1}\n", "s").unwrap();
        let items = group(schedule::plan(&s, 1).iter().map(|p| Entry::Fault(written_out(p, None))).collect());
        assert_eq!(items.len(), 6);
        let chunks = split(&items, 4);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2]);
        assert_eq!(chunks.concat(), items);
        assert_eq!(split(&items, 10).len(), 6);
    }

    #[test]
    fn a_triggered_fault_and_the_op_it_waits_for_are_dropped_together() {
        let s = scenario::parse(
            "name: x\nworkload: {duration: 20s}\nfaults:\n  - {at: 3s, when: \"d1 started\", for: 1s, kind: kill, target: n1}\n  - {at: 5s, for: 1s, kind: pause, target: n2}\n  - {at: 9s, when: \"d2 started + 10ms\", for: 1s, kind: kill, target: n1}\nops:\n  - {at: 4s, op: defrag, target: n1, id: d1, expect: interrupted}\n  - {at: 10s, op: defrag, target: n1, id: d2, expect: interrupted}\n",
            "s",
        )
        .unwrap();
        let mut entries: Vec<Entry> = schedule::plan(&s, 1).iter().map(|p| Entry::Fault(written_out(p, None))).collect();
        entries.extend(s.ops.iter().cloned().map(Entry::Op));
        let items = group(entries);
        assert_eq!(items.iter().map(|i| i.0.len()).collect::<Vec<_>>(), vec![2, 1, 2], "{items:?}");
        assert!(items[0].describe().contains("kill") && items[0].describe().contains("op defrag at 4s"), "{}", items[0].describe());
        // Dropping the middle item leaves a scenario; each pair alone is one too.
        let c = candidate(&s, &[items[0].clone(), items[2].clone()], s.workload.duration.0).unwrap();
        assert_eq!((c.faults.len(), c.ops.len()), (2, 2));
        assert!(candidate(&s, &items[2..], s.workload.duration.0).is_ok());
    }
}
