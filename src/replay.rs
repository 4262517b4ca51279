//! A recorded run read back for a replay — its scenario and seed (so the same schedule and
//! the same per-client operations) and the members each fault hit, by name, to pin the
//! faults to — and how a replay differs from its original: which faults started at another
//! offset or on other members, and whether each client's operations are the same.
//! `faultline replay` (`src/cmd/replay.rs`) runs the replay and prints the differences.

use crate::error::Error;
use crate::events::{self, EventKind};
use crate::history::{self, EntryType, OpKind, Value};
use crate::scenario::{self, Scenario};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What a replay needs from a run directory.
#[derive(Debug)]
pub struct Recorded {
    /// The scenario as the run resolved it (with its seed).
    pub scenario: Scenario,
    /// The members each fault id hit, by name.
    pub pinned: BTreeMap<usize, Vec<String>>,
    /// Each fault id's target as written (`leader`, `n2`), for the notes.
    pub written: BTreeMap<usize, String>,
}

/// Read a run directory for a replay.
pub fn load(run_dir: &Path) -> Result<Recorded, Error> {
    let yaml = run_dir.join("scenario.yaml");
    if !yaml.exists() {
        return Err(Error::BadInput(format!(
            "{} is not a faultline run directory (it has no scenario.yaml): give the directory a run wrote, e.g. reports/leader-partition-20261130T194023Z",
            run_dir.display()
        )));
    }
    let scenario = scenario::load(&yaml)?;
    if scenario.seed.is_none() {
        return Err(Error::BadInput(format!("{} records no seed: it cannot be replayed", yaml.display())));
    }
    let evs = events::read(&run_dir.join("events.jsonl")).map_err(|e| Error::BadInput(format!("cannot read the run's events: {e}")))?;
    let (mut pinned, mut written) = (BTreeMap::new(), BTreeMap::new());
    for e in evs {
        if let EventKind::FaultStart(r) = e.what {
            pinned.insert(r.id, r.targets);
            written.insert(r.id, r.target);
        }
    }
    Ok(Recorded { scenario, pinned, written })
}

/// One fault, original against replay.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FaultDiff {
    /// The fault id.
    pub id: usize,
    /// Its kind.
    pub kind: String,
    /// Start offset in the original run, s (`None`: it did not start).
    pub original_at_s: Option<f64>,
    /// Start offset in the replay, s.
    pub replay_at_s: Option<f64>,
    /// Members it hit in the original.
    pub original_targets: Vec<String>,
    /// Members it hit in the replay.
    pub replay_targets: Vec<String>,
}

/// How a replay differs from its original.
#[derive(Debug, Clone, Serialize)]
pub struct Differences {
    /// Every fault of either run.
    pub faults: Vec<FaultDiff>,
    /// Clients whose operations (kind, key, written value) agree over the operations both
    /// runs invoked.
    pub clients_same: Vec<u32>,
    /// Clients whose operations differ, with the first differing position.
    pub clients_differ: Vec<(u32, usize)>,
    /// Operations compared in all.
    pub ops_compared: usize,
    /// Clients only one run has (renumbered after an unknown outcome, which depends on timing).
    pub clients_unmatched: usize,
}

/// A fault's start as a run recorded it: kind, offset (s), members.
type Started = (String, f64, Vec<String>);

/// One client's invocations: operation, key, value written.
type Invocations = Vec<(OpKind, String, String)>;

fn fault_starts(run_dir: &Path) -> Result<BTreeMap<usize, Started>, Error> {
    let evs = events::read(&run_dir.join("events.jsonl")).map_err(|e| Error::BadInput(format!("cannot read events: {e}")))?;
    Ok(evs
        .into_iter()
        .filter_map(|e| match e.what {
            EventKind::FaultStart(r) => Some((r.id, (r.kind, e.t as f64 / 1e9, r.targets))),
            _ => None,
        })
        .collect())
}

/// What each client invoked: (operation, key, the value it wrote; for a cas the value it
/// tried to write — the value it compared with depends on what it read, so on timing).
fn invocations(run_dir: &Path) -> Result<BTreeMap<u32, Invocations>, Error> {
    let h = history::read(&run_dir.join("history.jsonl")).map_err(|e| Error::BadInput(format!("cannot read the history: {e}")))?;
    let mut by: BTreeMap<u32, Invocations> = BTreeMap::new();
    for e in h.into_iter().filter(|e| e.kind == EntryType::Invoke) {
        let v = match e.value {
            Value::One(v) => v,
            Value::Pair(_, to) => to,
            Value::None => String::new(),
        };
        by.entry(e.client).or_default().push((e.f, e.key, v));
    }
    Ok(by)
}

/// Compare a replay's run directory with its original's. Clients `0..clients` are the
/// workload's own slots; higher numbers are slots renumbered after an unknown outcome (in
/// timing order), which are counted, not compared.
pub fn compare(original: &Path, replay: &Path, clients: u32) -> Result<Differences, Error> {
    let (a, b) = (fault_starts(original)?, fault_starts(replay)?);
    let ids: std::collections::BTreeSet<usize> = a.keys().chain(b.keys()).copied().collect();
    let faults = ids
        .into_iter()
        .map(|id| {
            let (x, y) = (a.get(&id), b.get(&id));
            FaultDiff {
                id,
                kind: x.or(y).map(|f| f.0.clone()).unwrap_or_default(),
                original_at_s: x.map(|f| f.1),
                replay_at_s: y.map(|f| f.1),
                original_targets: x.map(|f| f.2.clone()).unwrap_or_default(),
                replay_targets: y.map(|f| f.2.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let (oa, ob) = (invocations(original)?, invocations(replay)?);
    let mut d = Differences { faults, clients_same: Vec::new(), clients_differ: Vec::new(), ops_compared: 0, clients_unmatched: 0 };
    for (c, xs) in &oa {
        let Some(ys) = ob.get(c).filter(|_| *c < clients) else {
            d.clients_unmatched += 1;
            continue;
        };
        let n = xs.len().min(ys.len());
        d.ops_compared += n;
        match (0..n).find(|&i| xs[i] != ys[i]) {
            None => d.clients_same.push(*c),
            Some(i) => d.clients_differ.push((*c, i)),
        }
    }
    d.clients_unmatched += ob.keys().filter(|c| !oa.contains_key(c) || **c >= clients).count();
    Ok(d)
}
