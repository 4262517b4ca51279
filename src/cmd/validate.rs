//! `faultline validate`: each scenario checked and explained in words — the resolved
//! cluster, workload, seed, fault schedule and gates — without running anything.

use crate::cli::ValidateArgs;
use crate::error::{Error, Exit};
use crate::markup::terminal;
use crate::scenario::{self, EtcdOp, OpSpec, ReadMode, Scenario};
use crate::schedule::{self, Planned};
use std::fmt::Write;

/// Check and explain the scenarios; the exit code is the worst file's.
pub fn run(args: ValidateArgs) -> Result<Exit, Error> {
    let mut exit = Exit::Pass;
    for p in &args.scenarios {
        match scenario::load(p) {
            Ok(s) => {
                let given = args.seed.or(s.seed);
                println!("{}: ok", terminal(&p.display().to_string()));
                for w in &s.warnings {
                    eprintln!("{}", terminal(&w.to_string()));
                }
                for w in machine_warnings(&s, &p.display().to_string()) {
                    eprintln!("{}", terminal(&w.to_string()));
                }
                // The description and names come from the file: shown, never obeyed, by the terminal.
                print!("{}", terminal(&explain(&s, given.unwrap_or(0), given.is_some())));
            }
            Err(e) => {
                eprintln!("{}", terminal(&e.to_string()));
                exit = exit.worst(e.exit());
            }
        }
    }
    Ok(exit)
}

/// What this machine cannot do of the scenario's faults (a forced `mechanism: netem` on a
/// kernel without sch_netem): a run here refuses it at preflight, before anything is built;
/// the scenario itself is valid, and may run on another machine.
fn machine_warnings(s: &Scenario, origin: &str) -> Vec<String> {
    let mut out = Vec::new();
    for k in s.fault_kinds() {
        if let Err(e) = k.preflight() {
            let w = format!("{origin}: warning: this machine cannot inject `{}`, so a run here refuses it before anything is built: {e}", k.name());
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// Explain a scenario and its schedule under `seed`.
pub fn explain(s: &Scenario, seed: u64, seed_given: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "scenario {}: {}", s.name, if s.description.is_empty() { "(no description)" } else { &s.description });
    let e = &s.cluster.etcd;
    let _ = writeln!(
        o,
        "  cluster : {} members, backend {}, {} (heartbeat {}, election timeout {}, snapshot count {}, quota {}{})",
        s.cluster.size,
        s.cluster.backend.name(),
        e.describe(),
        e.heartbeat_interval,
        e.election_timeout,
        e.snapshot_count,
        e.quota_backend_bytes,
        if e.extra_args.is_empty() { String::new() } else { format!(", extra {}", e.extra_args.join(" ")) }
    );
    if e.corrupt_checks.any() {
        let keys: Vec<String> = e.corrupt_checks.flags().into_iter().map(|(k, f)| format!("{k} ({f})")).collect();
        let _ = writeln!(o, "  checks  : etcd's own corruption checks: {}", keys.join(", "));
    }
    let w = &s.workload;
    let mix = match &w.load {
        crate::scenario::Load::Register(m) => format!("read {:.0}% / write {:.0}% / cas {:.0}%", m.read * 100.0, m.write * 100.0, m.cas * 100.0),
        crate::scenario::Load::Etcd(m) => format!(
            "get {:.0}% / range {:.0}% / put {:.0}% / delete {:.0}% / txn {:.0}% / lease {:.0}% / compact {:.0}%",
            m.get * 100.0,
            m.range * 100.0,
            m.put * 100.0,
            m.delete * 100.0,
            m.txn * 100.0,
            m.lease * 100.0,
            m.compact * 100.0
        ),
        crate::scenario::Load::Kubernetes(m) => {
            format!(
                "create {:.0}% / update {:.0}% / delete {:.0}% / list {:.0}% / compact {:.0}%",
                m.create * 100.0,
                m.update * 100.0,
                m.delete * 100.0,
                m.list * 100.0,
                m.compact * 100.0
            )
        }
    };
    let _ = writeln!(
        o,
        "  workload: {}, {} clients over {} keys for {}, {}, op timeout {}, mix {mix}, {} reads",
        w.load.name(),
        w.clients,
        w.keys,
        w.duration,
        w.rate.map_or("closed loop".to_string(), |r| format!("target {r}")),
        w.op_timeout,
        if w.reads == ReadMode::Linearizable { "linearizable" } else { "serializable (may be stale)" }
    );
    for (i, g) in w.watch.iter().enumerate() {
        let last = if i + 1 == w.watch.len() { " (watch.jsonl)" } else { "" };
        let _ = writeln!(o, "  {}: {}{last}", if i == 0 { "watch   " } else { "        " }, watch_group(g, &w.load, s.cluster.size));
    }
    let plan = schedule::plan(s, seed);
    let _ = writeln!(
        o,
        "  seed    : {seed}{}",
        if seed_given { "" } else { " (none given: the schedule below is shown for seed 0; a run draws its own unless --seed or `seed:` is given)" }
    );
    if plan.is_empty() {
        let _ = writeln!(o, "  faults  : none");
    } else {
        let _ = writeln!(o, "  faults  : {} scheduled (targets resolve when each starts):", plan.len());
        for p in &plan {
            let _ = writeln!(o, "    {}", line(p));
        }
    }
    if s.ops.is_empty() {
        let _ = writeln!(o, "  ops     : none");
    } else {
        let _ = writeln!(o, "  ops     : {} scheduled (targets resolve when each runs):", s.ops.len());
        let mut ops: Vec<&OpSpec> = s.ops.iter().collect();
        ops.sort_by_key(|o| o.at);
        // Members added take the next names (n4, n5 in a cluster of 3), in time order.
        let mut added = s.cluster.size;
        for op in ops {
            let mut what = op_line(&op.op);
            if let EtcdOp::MemberAdd { learner } = op.op {
                added += 1;
                what = format!("member-add n{added} as a {}", if learner { "learner" } else { "voter" });
            }
            if op.expect == crate::scenario::OpExpect::Refused {
                what.push_str(" — expected to be refused by etcd (gate op_refused)");
            }
            let name = op.id.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
            let _ = writeln!(o, "    at {:>6.1}s{name}  {what}", op.at.secs());
        }
    }
    let x = &s.expect;
    let mut gates = Vec::new();
    if let Some(v) = x.linearizable {
        gates.push(format!("linearizable = {v}"));
    }
    if let Some(v) = x.consistent {
        gates.push(format!("consistent = {v}"));
    }
    if let Some(v) = x.max_unavailable {
        gates.push(format!("max unavailable <= {v}"));
    }
    if let Some(v) = x.max_leader_changes {
        gates.push(format!("leader changes <= {v}"));
    }
    if let Some(v) = x.p99 {
        gates.push(format!("p99 <= {v}"));
    }
    if let Some(v) = x.watch {
        gates.push(format!("watch check = {v}"));
    }
    if let Some(v) = x.min_ok_ops {
        gates.push(format!("ok operations >= {v} (else the run is invalid)"));
    }
    let _ = writeln!(o, "  gates   : {}", if gates.is_empty() { "none (the run passes unless it is invalid)".into() } else { gates.join(", ") });
    o
}

/// An op in words: its name, what it acts on and its parameters.
fn op_line(op: &EtcdOp) -> String {
    let name = op.name();
    match op {
        EtcdOp::Compact { keep } => format!("{name} to the current revision{}", if *keep > 0 { format!(" minus {keep}") } else { String::new() }),
        EtcdOp::Defrag { target } => format!("{name} on {target}, one member at a time"),
        EtcdOp::MoveLeader { target } => format!("{name} to {target}"),
        EtcdOp::AlarmDisarm => name.to_string(),
        EtcdOp::MemberAdd { learner } => format!("{name} as a {}", if *learner { "learner" } else { "voter" }),
        EtcdOp::LearnerPromote { target } => format!("{name} {}", target.as_deref().unwrap_or("the only learner")),
        EtcdOp::MemberRemove { target } | EtcdOp::MemberReplace { target } => format!("{name} on {target}"),
        EtcdOp::RollingRestart { etcd } if etcd.is_empty() => format!("{name} (same settings)"),
        EtcdOp::RollingRestart { etcd } => {
            let mut with = etcd.args();
            with.extend(etcd.program().map(|p| p.to_string()));
            format!("{name} with {}", with.join(" "))
        }
        EtcdOp::Fill { value_size } => format!("{name} until NOSPACE, {value_size} per put"),
        EtcdOp::SnapshotSave { target, name: snap } => format!("{name} `{snap}` from {target}"),
        EtcdOp::SnapshotRestore { from } => format!("{name} from `{from}`"),
    }
}

fn line(p: &Planned) -> String {
    use crate::schedule::{End, Start};
    let start = match &p.start {
        Start::At(t) => format!("at {:>6.1}s", t.as_secs_f64()),
        Start::When { on, armed, within } => {
            let from = if armed.is_zero() { String::new() } else { format!(" from {:.1}s", armed.as_secs_f64()) };
            let bound = within.map(|w| format!(", within {}", crate::units::Span(w))).unwrap_or_default();
            format!("when \"{on}\"{from}{bound},")
        }
    };
    let heal = match &p.end {
        End::At(h) => format!("until {:>6.1}s", h.as_secs_f64()),
        End::After(d) => format!("for {}", crate::units::Span(*d)),
        End::Until { on, within } => format!("until {on}{}", within.map(|w| format!(" (within {})", crate::units::Span(w))).unwrap_or_default()),
        End::WorkloadEnd => "until the end".into(),
    };
    let name = p.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
    format!("#{:<3}{name} {start} {heal}  {} on {}  [{}]", p.id, p.kind, p.target, p.origin)
}

/// One group of watchers in words.
fn watch_group(g: &crate::scenario::watch::WatchGroup, load: &crate::scenario::Load, size: usize) -> String {
    use crate::scenario::watch::{Filter, Placement, StartRevision};
    let n = g.watchers.map_or(size, |n| n as usize);
    let count = match (&g.placement, g.watchers) {
        (Placement::Spread, None) => "a watcher per member".to_string(),
        _ => format!("{n} watcher{}", if n == 1 { "" } else { "s" }),
    };
    let on = match &g.placement {
        Placement::Spread if g.watchers.is_none() => String::new(),
        Placement::Spread => " spread over the members".to_string(),
        Placement::One(m) => format!(" on {m}"),
        Placement::Follow => " spread over the members, each moving to the next when its stream breaks,".to_string(),
    };
    let what = match (&g.key, load) {
        (Some(k), _) => format!("key {k}"),
        (None, crate::scenario::Load::Kubernetes(_)) => "one resource's prefix each".to_string(),
        (None, _) => "the workload's keys".to_string(),
    };
    let mut with = Vec::new();
    if g.informer {
        with.push(
            "listing first (paginated, at one revision) and watching from the list's revision + 1, listing again when compacted, as an informer does"
                .to_string(),
        );
    } else {
        let starts: Vec<&str> = g
            .start
            .iter()
            .map(|s| match s {
                StartRevision::Current => "the current revision",
                StartRevision::Past => "a past revision above the compaction",
                StartRevision::Compaction => "the compaction revision",
                StartRevision::Future => "a revision the store has not reached",
                StartRevision::AfterList => "after a list",
            })
            .collect();
        with.push(format!("from {}", starts.join(", then ")));
    }
    if !g.require_leader {
        with.push("without require_leader (the stream stays on a member cut off from its leader)".into());
    }
    if g.prev_kv {
        with.push("previous values".into());
    }
    match g.filter {
        Filter::NoPut => with.push("no put events".into()),
        Filter::NoDelete => with.push("no delete events".into()),
        Filter::None => {}
    }
    if g.progress_notify {
        with.push("periodic progress notifications (members get --experimental-watch-progress-notify-interval=1s)".into());
    }
    if let Some(r) = g.progress_requests {
        with.push(format!("progress requested at {r}"));
    }
    if let Some(s) = g.slow {
        let slow = (s.share * n as f64).round() as usize;
        with.push(format!("{slow} of them (drawn from the seed) not reading for {} every {}", s.pause, s.every));
    }
    format!("{count}{on} on {what}, {}", with.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_of_watchers_is_told_in_words() {
        let yaml = "name: x\nworkload:\n  kind: etcd\n  watch:\n    - {placement: one, member: n3, require_leader: false}\n    - {watchers: 2, filter: no-put, start: [past, future], slow: {share: 0.5, every: 5s, for: 2s}}\n    - {informer: true}\n";
        let out = explain(&crate::scenario::parse(yaml, "s.yaml").unwrap(), 1, true);
        assert!(out.contains("watch   : 3 watchers on n3 on the workload's keys, from the current revision; without require_leader"), "{out}");
        assert!(out.contains("2 watchers spread over the members on the workload's keys, from a past revision above the compaction, then a revision the store has not reached; no put events; 1 of them"), "{out}");
        assert!(out.contains("listing first") && out.contains("as an informer does (watch.jsonl)"), "{out}");
    }
}
