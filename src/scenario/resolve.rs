//! From [`raw`] to [`Scenario`]: defaults, range checks, names resolved, and every error
//! given as `file:line:column: what was expected`, with the closest known name for a typo.

use super::raw::{RawFault, RawScenario};
use super::units::{Size, Span};
use super::*;
use crate::error::suggest;
use crate::error::Error;
use crate::fault::registry;
use crate::schedule::{repetitions, MAX_INSTANCES, MIN_REPEAT};
use serde_saphyr::{Location, Spanned};
use std::path::Path;
use std::time::Duration;

/// The keys every fault entry has; the rest are its kind's parameters.
const COMMON: [&str; 9] = ["id", "at", "when", "for", "until", "within", "every", "kind", "target"];

/// Why `every` and a nemesis `interval` have a minimum, in an error's words.
const MIN_REPEAT_WHY: &str = "each fault must be injected, proven, healed and proven healed before the next begins, which takes up to 1s here (a kill's restart, a partition's probes, a disk rule's proof; docs/formats.md §1)";

/// The largest space quota a `fill` op may be asked to reach on a cluster of the run's own.
const MAX_FILL_QUOTA: Size = Size(256 << 20);

/// The size of each value a `fill` writes: 256KiB unless given; between 1KiB (smaller
/// takes too many puts to fill anything) and 1MiB (etcd refuses requests over 1.5MiB by
/// default, `--max-request-bytes`).
fn fill_value_size(given: Option<Size>) -> Result<Size, String> {
    let v = given.unwrap_or(Size(256 << 10));
    if v.0 < 1 << 10 || v.0 > 1 << 20 {
        return Err(format!(
            "fill's value_size is {v}: it must be between 1KiB and 1MiB (etcd refuses a request over 1.5MiB by default, and small values take too many puts to reach the quota)"
        ));
    }
    Ok(v)
}

/// Read and resolve a scenario file.
pub fn load(path: &Path) -> Result<Scenario, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::BadInput(format!("cannot read scenario {}: {e}. Give the path of a YAML scenario file, e.g. scenarios/smoke.yaml.", path.display()))
    })?;
    parse(&text, &path.display().to_string())
}

/// Resolve scenario text; `origin` names it in error messages.
pub fn parse(text: &str, origin: &str) -> Result<Scenario, Error> {
    let raw: RawScenario = serde_saphyr::from_str(text).map_err(|e| {
        let loc = e.location();
        let first = e.to_string();
        let msg = explain_serde(first.lines().next().unwrap_or("malformed scenario"));
        Error::BadInput(at(origin, loc, &msg))
    })?;
    Resolver { origin }.scenario(raw)
}

/// `file:line:column: message`.
fn at(origin: &str, loc: Option<Location>, msg: &str) -> String {
    format!("{}: {msg}", position(origin, loc))
}

/// `file:line:column`, or `file` without a position.
fn position(origin: &str, loc: Option<Location>) -> String {
    match loc {
        Some(l) if l.line() > 0 => format!("{origin}:{}:{}", l.line(), l.column()),
        _ => origin.to_string(),
    }
}

/// The longest scenario name: it names the run directory (`<name>-<date>-<seed>`), and a file
/// name holds at most 255 bytes.
const MAX_NAME: usize = 100;

/// Rewrite serde's "unknown field `x`, expected one of a, b" into a suggestion, and drop
/// the YAML library's own "error: line N column M:" prefix (the position is printed once, as
/// `file:line:column`).
fn explain_serde(msg: &str) -> String {
    let mut msg = msg.trim().trim_start_matches("error:").trim();
    if msg.starts_with("line ") {
        if let Some((_, rest)) = msg.split_once(": ") {
            msg = rest.trim();
        }
    }
    if msg.starts_with("multiple YAML documents detected") {
        return "a second YAML document starts here (after a `---` line): a scenario file holds one scenario; put each in a file of its own, or remove the `---`".into();
    }
    if let Some(rest) = msg.strip_prefix("duplicate mapping key") {
        let key = rest.trim_start_matches(':').split(", set DuplicateKeyPolicy").next().unwrap_or("").trim();
        let key = if key.is_empty() || key.starts_with(", set") { "this key".to_string() } else { format!("key `{key}`") };
        return format!("{key} is given twice in the same mapping: keep one of them (YAML takes each key once)");
    }
    if let Some(rest) = msg.strip_prefix("budget breached: ") {
        let number =
            |field: &str| rest.split(&format!("{field}: ")).nth(1).and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next()).unwrap_or("?").to_string();
        if rest.starts_with("AliasAnchorRatio") {
            return format!(
                "this file expands {} aliases (`*name`) from {} anchor(s) (`&name`), more than a scenario may (a guard against YAML that expands without bound): write the values out, or use fewer aliases",
                number("aliases"),
                number("anchors")
            );
        }
        let what = rest.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("size");
        return format!(
            "this file is larger than a scenario may be (too many {}): a scenario is a short file; split it, or write it without deep nesting and aliases",
            match what {
                "Aliases" => "aliases (`*name`)",
                "Anchors" => "anchors (`&name`)",
                "Depth" => "nested levels",
                "Documents" => "documents",
                "InputBytes" => "bytes",
                "ScalarBytes" => "bytes in one value",
                "MergeKeys" => "merge keys (`<<`)",
                _ => "YAML nodes",
            }
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let list = tail.split_once("expected one of ").or_else(|| tail.split_once("expected ")).map(|(_, l)| l).unwrap_or("");
        let known: Vec<&str> = list
            .split(',')
            .flat_map(|s| s.split(" or "))
            .map(|s| s.trim().trim_matches('`'))
            .filter(|s| !s.is_empty() && !s.starts_with("there are no fields"))
            .collect();
        return format!("unknown key `{field}`{}; the keys allowed here are: {}", suggest(field, &known), known.join(", "));
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        return format!("missing key `{field}`, which is required here");
    }
    msg.to_string()
}

/// A snapshot's name becomes a file name: `[a-z0-9_-]{1,64}`.
fn valid_snapshot_name(n: &str) -> bool {
    (1..=64).contains(&n.len()) && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

struct Resolver<'a> {
    origin: &'a str,
}

impl Resolver<'_> {
    fn err<T>(&self, loc: Option<Location>, msg: impl AsRef<str>) -> Result<T, Error> {
        Err(Error::BadInput(at(self.origin, loc, msg.as_ref())))
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario, Error> {
        let name = raw.name.value.clone();
        if name.chars().count() > MAX_NAME {
            return self.err(
                Some(raw.name.referenced),
                format!(
                    "name is {} characters long: at most {MAX_NAME} (it names the run directory, and a file name holds at most 255 bytes); shorten it and say the rest in `description`",
                    name.chars().count()
                ),
            );
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return self.err(Some(raw.name.referenced), format!("name `{name}` must be lowercase letters, digits and dashes ([a-z0-9-]+)"));
        }
        let mut cluster = self.cluster(&raw)?;
        let mut workload = self.workload(&raw)?;
        workload.watch = self.watch(&raw, &workload, cluster.size)?;
        if watch::wants_progress_notify(&workload.watch)
            && !cluster.etcd.extra_args.iter().any(|a| a.starts_with(watch::PROGRESS_NOTIFY_FLAG.split('=').next().unwrap_or_default()))
        {
            cluster.etcd.extra_args.push(watch::PROGRESS_NOTIFY_FLAG.to_string());
        }
        let mut faults = Vec::new();
        // A fault may name a member a `member-add` op brings in (n4 in a cluster of 3).
        let added = raw.ops.iter().filter(|o| o.value.op.as_deref() == Some("member-add")).count();
        for f in &raw.faults {
            faults.push(self.fault(f, cluster.size + added, workload.duration)?);
        }
        let nemesis = match &raw.nemesis {
            Some(n) => Some(self.nemesis(n, cluster.size, workload.duration)?),
            None => None,
        };
        self.schedule_fits(&raw, &faults, nemesis.as_ref(), workload.duration)?;
        let mut warnings = self.heals_past_the_end(&raw, &faults, workload.duration);
        warnings.extend(self.overlaps(&raw, &faults, workload.duration)?);
        let mut ops = Vec::new();
        // Members added by `member-add` can be named by later ops (n4 in a cluster of 3).
        let is_add = |o: &Spanned<super::raw::RawOp>| o.value.op.as_deref() == Some("member-add");
        for o in &raw.ops {
            let added = raw.ops.iter().filter(|a| is_add(a) && a.value.at.is_some() && a.value.at < o.value.at).count();
            ops.push(self.op(o, cluster.size + added, workload.duration)?);
        }
        self.triggers(&raw, &faults, &ops)?;
        self.membership(&raw.ops, &ops, cluster.size)?;
        self.fill_fits_quota(&raw, &cluster)?;
        self.snapshots(&raw.ops, &mut ops, &faults, &cluster)?;
        self.etcd_workload_fits(&raw, &workload, &ops, &cluster)?;
        let e = &raw.expect;
        let expect = Expectations {
            linearizable: e.linearizable,
            consistent: e.consistent,
            max_unavailable: e.max_unavailable,
            max_leader_changes: e.max_leader_changes,
            p99: e.p99,
            min_ok_ops: e.min_ok_ops,
            // On by default with any watch traffic: recording streams nobody judges would let
            // event loss pass unseen.
            watch: match (e.watch.as_ref().map(|w| w.value), !workload.watch.is_empty()) {
                (Some(_), false) => {
                    return self.err(
                        e.watch.as_ref().map(|w| w.referenced),
                        "expect.watch judges the watch streams, but workload.watch is off: add `watch: true` under `workload:`, or drop expect.watch",
                    )
                }
                (w, true) => Some(w.unwrap_or(true)),
                (None, false) => None,
            },
        };
        Ok(Scenario {
            name,
            description: raw.description.clone().unwrap_or_default().trim().to_string(),
            seed: raw.seed,
            cluster,
            workload,
            faults,
            nemesis,
            ops,
            expect,
            warnings,
        })
    }

    /// Ids are unique among faults and ops; what a trigger waits for is one of them (or a
    /// member), not the fault itself, and no two faults wait for each other.
    fn triggers(&self, raw: &RawScenario, faults: &[FaultSpec], ops: &[OpSpec]) -> Result<(), Error> {
        let mut ids: Vec<(&str, Option<Location>)> = Vec::new();
        let named = faults.iter().zip(&raw.faults).map(|(f, r)| (f.id.as_deref(), Some(r.referenced)));
        for (id, loc) in named.chain(ops.iter().zip(&raw.ops).map(|(o, r)| (o.id.as_deref(), Some(r.referenced)))) {
            let Some(id) = id else { continue };
            if ids.iter().any(|(seen, _)| *seen == id) {
                return self.err(loc, format!("`id: {id}` is given twice: each fault and op needs an id of its own"));
            }
            ids.push((id, loc));
        }
        let names: Vec<&str> = ids.iter().map(|(i, _)| *i).collect();
        for (o, r) in ops.iter().zip(&raw.ops) {
            let Some(id) = o.id.as_deref().filter(|_| o.expect == OpExpect::Interrupted) else { continue };
            let cut = faults.iter().any(|f| matches!(f.when.as_ref().map(|w| &w.on), Some(trigger::Happening::Started(x)) if x == id));
            if !cut {
                return self.err(Some(r.referenced), format!("`expect: interrupted`: no fault starts `when: \"{id} started + DELAY\"` to cut op `{id}` short"));
            }
        }
        // The id each fault's `when:` waits for, to find faults that wait for each other.
        let waits_for = |f: &FaultSpec| -> Option<String> {
            match f.when.as_ref().map(|w| &w.on) {
                Some(trigger::Happening::Started(id) | trigger::Happening::Finished(id)) => Some(id.clone()),
                _ => None,
            }
        };
        for (f, r) in faults.iter().zip(&raw.faults) {
            let loc = Some(r.referenced);
            let untils = f.until.iter().filter_map(|u| if let trigger::Until::When(w) = u { Some(&w.on) } else { None });
            for h in f.when.iter().map(|w| &w.on).chain(untils) {
                let (trigger::Happening::Started(id) | trigger::Happening::Finished(id)) = h else { continue };
                if !names.contains(&id.as_str()) {
                    let known = if names.is_empty() { "no fault or op has an `id:`".to_string() } else { format!("the ids are {}", names.join(", ")) };
                    return self.err(loc, format!("`{h}`: no fault or op has `id: {id}`{}; {known}", suggest(id, &names)));
                }
                if f.id.as_deref() == Some(id.as_str()) {
                    return self.err(loc, format!("`{h}`: a fault cannot wait for itself"));
                }
            }
            // Follow the chain of `when:`s: back to this fault means none of them ever starts.
            let mut seen = vec![f.id.clone()];
            let mut next = waits_for(f);
            while let Some(id) = next {
                if seen.contains(&Some(id.clone())) {
                    return self.err(
                        loc,
                        format!(
                            "faults wait for each other ({}): none of them would ever start",
                            seen.iter().flatten().cloned().collect::<Vec<_>>().join(" → ")
                        ),
                    );
                }
                seen.push(Some(id.clone()));
                next = faults.iter().find(|g| g.id.as_deref() == Some(id.as_str())).and_then(waits_for);
            }
        }
        Ok(())
    }

    fn warn(&self, loc: Option<Location>, msg: String) -> Warning {
        Warning { at: position(self.origin, loc), msg }
    }

    /// A fixed fault whose heal (its last repetition's) falls after the workload's end: the
    /// run heals it at the end, which the user may not have meant.
    fn heals_past_the_end(&self, raw: &RawScenario, faults: &[FaultSpec], duration: Span) -> Vec<Warning> {
        let mut out = Vec::new();
        for (i, (f, r)) in faults.iter().zip(&raw.faults).enumerate() {
            let Some(for_) = f.for_ else { continue };
            let n = repetitions(f.at.0, f.every.map(|e| e.0), duration.0);
            let last = f.at.0 + f.every.map_or(Duration::ZERO, |e| e.0 * u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX));
            let heal = last + for_.0;
            if heal > duration.0 {
                let rep = if n > 1 { format!(" (its last repetition, #{n} at {})", Span(last)) } else { String::new() };
                out.push(self.warn(
                    Some(r.referenced),
                    format!("faults[{i}] heals at {}{rep}, after the workload ends at {duration}: it is healed at the end", Span(heal)),
                ));
            }
        }
        out
    }

    /// Fixed faults on the same named member (`nK`) in force at the same time: two process
    /// faults (kill, stop, pause) cannot both hold a member and are refused; any other pair
    /// is a warning, since both then act at once.
    fn overlaps(&self, raw: &RawScenario, faults: &[FaultSpec], duration: Span) -> Result<Vec<Warning>, Error> {
        let end = duration.0;
        // (member, start, heal, fault index), every repetition (at most MAX_INSTANCES).
        let mut spans: Vec<(u8, Duration, Duration, usize)> = Vec::new();
        for (i, f) in faults.iter().enumerate() {
            let Target::Member(m) = f.target else { continue };
            let mut at = f.at.0;
            for _ in 0..repetitions(f.at.0, f.every.map(|e| e.0), end) {
                spans.push((m, at, f.for_.map_or(end, |d| (at + d.0).min(end)), i));
                at += f.every.map_or(Duration::ZERO, |e| e.0);
            }
        }
        spans.sort();
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (k, &(m, start, _, j)) in spans.iter().enumerate() {
            // Every earlier span on the same member still in force when this one starts.
            for &(m2, start2, heal2, i) in spans[..k].iter().rev().take_while(|s| s.0 == m) {
                if m2 != m || heal2 <= start || i == j || !seen.insert((i.min(j), i.max(j))) {
                    continue;
                }
                // faults[i] started first (at start2), faults[j] at start, while i is in force.
                let (a, b) = (&faults[i], &faults[j]);
                let both = format!(
                    "faults[{i}] ({} from {}) and faults[{j}] ({} from {}) are both on n{m} from {} to {}",
                    a.kind.name(),
                    Span(start2),
                    b.kind.name(),
                    Span(start),
                    Span(start),
                    Span(heal2.min(spans[k].2))
                );
                let loc = Some(raw.faults[j].referenced);
                if a.kind.home() == crate::fault::api::Home::Process && b.kind.home() == crate::fault::api::Home::Process {
                    return self.err(
                        loc,
                        format!("{both}: a member's process is held by one of kill, stop and pause at a time, so the second cannot be injected; let the first heal (`for`) before the second starts, or target another member"),
                    );
                }
                out.push(self.warn(loc, format!("{both}: both act on it at once; check that is what you mean")));
            }
        }
        Ok(out)
    }

    /// One entry of `ops:`; `size` is how many members the cluster has by then.
    fn op(&self, o: &Spanned<super::raw::RawOp>, size: usize, duration: Span) -> Result<OpSpec, Error> {
        const BUILT: [&str; 12] = [
            "compact",
            "defrag",
            "move-leader",
            "alarm-disarm",
            "fill",
            "member-add",
            "learner-promote",
            "member-remove",
            "member-replace",
            "rolling-restart",
            "snapshot-save",
            "snapshot-restore",
        ];
        let loc = Some(o.referenced);
        let r = &o.value;
        let Some(name) = r.op.as_deref() else {
            return self.err(loc, format!("this entry of `ops:` has no `op`: use one of {}", BUILT.join(", ")));
        };
        let Some(at) = r.at else {
            return self.err(loc, format!("this `{name}` op has no `at`: say when it runs, e.g. `at: 10s`"));
        };
        if at >= duration {
            return self.err(loc, format!("this op runs at {at}, but the workload lasts {duration}: it would never run"));
        }
        let target = |default: Target| -> Result<Target, Error> {
            match &r.target {
                Some(t) => Target::parse(t, size).or_else(|m| self.err(loc, m)),
                None => Ok(default),
            }
        };
        let one_member = |what: &str, t: Target| -> Result<Target, Error> {
            match t {
                Target::Leader | Target::Follower | Target::Random | Target::Member(_) => Ok(t),
                _ => self.err(loc, format!("{what} acts on one member: target `leader`, `follower`, `random` or n1..n{size}, not `{t}`")),
            }
        };
        let op = match name {
            "compact" => EtcdOp::Compact { keep: r.keep.unwrap_or(0) },
            "defrag" => EtcdOp::Defrag { target: target(Target::All)? },
            "move-leader" => {
                let t = target(Target::Follower)?;
                if !matches!(t, Target::Follower | Target::Member(_)) {
                    return self.err(loc, format!("move-leader hands leadership to one member: target `follower` or n1..n{size}, not `{t}`"));
                }
                EtcdOp::MoveLeader { target: t }
            }
            "alarm-disarm" => EtcdOp::AlarmDisarm,
            "member-add" => EtcdOp::MemberAdd { learner: r.learner.unwrap_or(false) },
            "learner-promote" => {
                let t = match &r.target {
                    None => None,
                    Some(t) => match Target::parse(t, size).or_else(|m| self.err(loc, m))? {
                        Target::Member(i) => Some(format!("n{i}")),
                        other => {
                            return self.err(
                                loc,
                                format!(
                                    "learner-promote promotes one named learner (n1..n{size}), not `{other}`; leave `target` out to promote the only learner"
                                ),
                            )
                        }
                    },
                };
                EtcdOp::LearnerPromote { target: t }
            }
            "member-remove" => EtcdOp::MemberRemove { target: one_member("member-remove", target(Target::Follower)?)? },
            "member-replace" => EtcdOp::MemberReplace { target: one_member("member-replace", target(Target::Follower)?)? },
            "rolling-restart" => EtcdOp::RollingRestart { etcd: self.restart_settings(r.etcd.as_ref(), loc)? },
            "fill" => EtcdOp::Fill { value_size: fill_value_size(r.value_size).or_else(|m| self.err(loc, m))? },
            "snapshot-save" => {
                let t = target(Target::Leader)?;
                if !matches!(t, Target::Leader | Target::Follower | Target::Member(_)) {
                    return self.err(loc, format!("snapshot-save streams the snapshot from one member: target `leader`, `follower` or n1..n{size}, not `{t}`"));
                }
                let name = r.name.clone().unwrap_or_default();
                if r.name.is_some() && !valid_snapshot_name(&name) {
                    return self.err(
                        loc,
                        format!(
                            "snapshot name `{name}` must be 1 to 64 lowercase letters, digits, dashes or underscores (it names the file snapshots/<name>.db)"
                        ),
                    );
                }
                // An absent name is given in `snapshots()` (snap1, snap2, ... in file order).
                EtcdOp::SnapshotSave { target: t, name }
            }
            "snapshot-restore" => EtcdOp::SnapshotRestore { from: r.from.clone().unwrap_or_default() },
            other => {
                return self.err(loc, format!("unknown op `{other}`{}: the ops are {}", suggest(other, &BUILT), BUILT.join(", ")));
            }
        };
        if r.keep.is_some() && !matches!(op, EtcdOp::Compact { .. }) {
            return self.err(loc, format!("`keep` applies to compact, not to `{name}`"));
        }
        if r.learner.is_some() && !matches!(op, EtcdOp::MemberAdd { .. }) {
            return self.err(loc, format!("`learner` applies to member-add, not to `{name}`"));
        }
        if r.etcd.is_some() && !matches!(op, EtcdOp::RollingRestart { .. }) {
            return self.err(loc, format!("`etcd` (new member settings) applies to rolling-restart, not to `{name}`"));
        }
        if r.value_size.is_some() && !matches!(op, EtcdOp::Fill { .. }) {
            return self.err(loc, format!("`value_size` applies to fill, not to `{name}`"));
        }
        if r.target.is_some()
            && matches!(
                op,
                EtcdOp::Compact { .. }
                    | EtcdOp::AlarmDisarm
                    | EtcdOp::Fill { .. }
                    | EtcdOp::MemberAdd { .. }
                    | EtcdOp::RollingRestart { .. }
                    | EtcdOp::SnapshotRestore { .. }
            )
        {
            return self.err(loc, format!("`{name}` acts on the whole cluster: it takes no `target`"));
        }
        if r.name.is_some() && !matches!(op, EtcdOp::SnapshotSave { .. }) {
            return self.err(loc, format!("`name` names the snapshot of a snapshot-save, not of `{name}`"));
        }
        if r.from.is_some() && !matches!(op, EtcdOp::SnapshotRestore { .. }) {
            return self.err(loc, format!("`from` names the snapshot a snapshot-restore restores; `{name}` takes none"));
        }
        let expect = match r.expect.as_deref() {
            None | Some("done") => OpExpect::Done,
            Some("refused") if matches!(op, EtcdOp::RollingRestart { .. }) => OpExpect::Refused,
            Some("refused") => {
                return self.err(
                    loc,
                    format!("`expect: refused` applies to rolling-restart (a member whose etcd will not start on the new version or settings), not to `{name}`: faultline cannot yet tell etcd refusing a `{name}` from the op failing"),
                )
            }
            Some("interrupted") if r.id.is_none() => {
                return self.err(loc, format!("`expect: interrupted` says a fault cuts this `{name}` short: give the op an `id:` and the fault `when: \"ID started + DELAY\"`"))
            }
            Some("interrupted") => OpExpect::Interrupted,
            Some(other) => {
                return self.err(
                    loc,
                    format!("`expect: {other}` is not an op outcome: write `expect: refused` when etcd refusing the op is right, `expect: interrupted` when a triggered fault is meant to cut it short (or leave it out)"),
                )
            }
        };
        let id = match &r.id {
            Some(id) => Some(trigger::check_id(id).map(|()| id.clone()).or_else(|m| self.err(loc, m))?),
            None => None,
        };
        Ok(OpSpec { id, at, op, expect })
    }

    /// `cluster.etcd.versions`: one version of the store per member (a mixed cluster), or
    /// none; refused beside `version`, `binary` or `image`, and when it does not name one
    /// version per member.
    fn mixed_versions(&self, e: &super::raw::RawEtcd, size: usize) -> Result<Vec<String>, Error> {
        let Some(vs) = &e.versions else { return Ok(Vec::new()) };
        let at = "cluster.etcd.versions";
        if let Some(bad) = vs.iter().find(|v| !crate::cluster::versions::is_version(v)) {
            return self.err(None, format!("{at}: `{bad}` is not an etcd version: write each as `3.5.1` (`faultline doctor` lists the versions here)"));
        }
        if vs.len() != size {
            return self.err(
                None,
                format!("{at} names {} version(s) for a cluster of {size}: give one per member, in member order (n1 first), e.g. [\"3.4.23\", \"3.5.1\", \"3.5.1\"]", vs.len()),
            );
        }
        for (key, given) in [("version", e.version.is_some()), ("binary", e.binary.is_some()), ("image", e.image.is_some())] {
            if given {
                return self.err(
                    None,
                    format!("cluster.etcd gives both `versions` and `{key}`: give one (`versions` names each member's version of faultline's store)"),
                );
            }
        }
        Ok(vs.clone())
    }

    /// `cluster.etcd`'s corruption checks: `corrupt_check_time` at least 1s (etcd checks
    /// every member's HashKV each time).
    fn corrupt_checks(&self, e: &super::raw::RawEtcd) -> Result<crate::cluster::spec::CorruptChecks, Error> {
        if let Some(p) = e.corrupt_check_time {
            if p.0 < Duration::from_secs(1) {
                return self.err(
                    None,
                    format!("cluster.etcd.corrupt_check_time is {p}: give at least 1s (the leader asks every member for its HashKV each time), e.g. `corrupt_check_time: 10s`"),
                );
            }
        }
        Ok(crate::cluster::spec::CorruptChecks {
            initial: e.initial_corrupt_check.unwrap_or(false),
            period: e.corrupt_check_time,
            compact_hash: e.compact_hash_check.unwrap_or(false),
        })
    }

    /// A rolling restart's new settings: the keys of `cluster.etcd`, each given one turned
    /// into its flag.
    fn restart_settings(&self, e: Option<&super::raw::RawEtcd>, loc: Option<Location>) -> Result<RestartSettings, Error> {
        let Some(e) = e else { return Ok(RestartSettings::default()) };
        if e.command.is_some() {
            return self.err(loc, "a rolling restart keeps each member's command; give `image` (Docker) or `binary` (process) to change what runs");
        }
        if e.initial_corrupt_check.is_some() || e.corrupt_check_time.is_some() || e.compact_hash_check.is_some() {
            return self.err(
                loc,
                "a rolling restart keeps the cluster's corruption checks: give initial_corrupt_check, corrupt_check_time and compact_hash_check under cluster.etcd",
            );
        }
        if e.versions.is_some() {
            return self.err(loc, "a rolling restart moves every member to one `version`: `versions` (one per member) applies to cluster.etcd");
        }
        if let Some(v) = &e.version {
            if !crate::cluster::versions::is_version(v) {
                return self.err(
                    loc,
                    format!("the rolling restart's `version: {v}` is not an etcd version: write it as `3.5.1` (`faultline doctor` lists the versions here)"),
                );
            }
        }
        let given: Vec<&str> = [("version", e.version.is_some()), ("binary", e.binary.is_some()), ("image", e.image.is_some())]
            .into_iter()
            .filter_map(|(k, g)| g.then_some(k))
            .collect();
        if given.len() > 1 {
            return self.err(loc, format!("the rolling restart gives {}: give one (`version` works on both backends)", given.join(" and ")));
        }
        if let (Some(h), Some(t)) = (e.heartbeat_interval, e.election_timeout.as_ref().map(|t| t.value)) {
            if h.0.is_zero() || t.0 < h.0 * 5 {
                return self.err(loc, format!("election_timeout ({t}) must be at least 5 times heartbeat_interval ({h}): etcd refuses to start otherwise"));
            }
        }
        Ok(RestartSettings {
            heartbeat_interval: e.heartbeat_interval,
            election_timeout: e.election_timeout.as_ref().map(|t| t.value),
            snapshot_count: e.snapshot_count,
            quota_backend_bytes: e.quota_backend_bytes,
            extra_args: e.extra_args.clone(),
            version: e.version.clone(),
            binary: e.binary.clone(),
            image: e.image.clone(),
        })
    }

    /// The schedule's size, counted before anything expands it: at most
    /// [`MAX_INSTANCES`] fault instances, else refused with each source's count.
    fn schedule_fits(&self, raw: &RawScenario, faults: &[FaultSpec], nemesis: Option<&NemesisSpec>, duration: Span) -> Result<(), Error> {
        let end = duration.0;
        let mut parts: Vec<(u64, Option<Location>, String)> = Vec::new();
        for (i, (f, r)) in faults.iter().zip(&raw.faults).enumerate() {
            let n = repetitions(f.at.0, f.every.map(|e| e.0), end);
            let how = match f.every {
                Some(e) => format!("faults[{i}] every {e} from {} to {duration}", f.at),
                None => format!("faults[{i}]"),
            };
            parts.push((n, Some(r.referenced), how));
        }
        if let (Some(n), Some(r)) = (nemesis, &raw.nemesis) {
            let count = repetitions(n.start.0, Some(n.interval.0), end);
            parts.push((count, Some(r.referenced), format!("the nemesis every {} from {} to {duration}", n.interval, n.start)));
        }
        let total = parts.iter().fold(0u64, |a, (n, _, _)| a.saturating_add(*n));
        if total <= MAX_INSTANCES {
            return Ok(());
        }
        parts.sort_by_key(|p| std::cmp::Reverse(p.0));
        let listed: Vec<String> = parts.iter().filter(|p| p.0 > 1).map(|(n, _, how)| format!("{how}: {n}")).collect();
        self.err(
            parts[0].1,
            format!(
                "this schedule expands to {total} fault instances ({}), over the limit of {MAX_INSTANCES}: lengthen `every` or nemesis `interval`, or shorten workload.duration",
                listed.join("; ")
            ),
        )
    }

    /// The membership ops followed in time order, refusing what is certain to fail: removing
    /// the last voter, promoting a learner never added (or a voter), and an op naming a
    /// member removed by then or never added. A removal by role (`follower`, ...) leaves
    /// which member went unknown, so later names are then not judged; a snapshot-restore
    /// ends the tracking (the restored cluster's members are the snapshot's).
    fn membership(&self, raw: &[Spanned<super::raw::RawOp>], ops: &[OpSpec], size: usize) -> Result<(), Error> {
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&i| ops[i].at);
        let mut voters: Vec<String> = (1..=size).map(|k| format!("n{k}")).collect();
        let mut learners: Vec<String> = Vec::new();
        // Members that left and when, and how many left unnamed (by role).
        let mut gone: Vec<(String, Span)> = Vec::new();
        let mut unnamed_removals = 0usize;
        let mut next = size;
        for i in order {
            let (at, op, loc) = (ops[i].at, &ops[i].op, Some(raw[i].referenced));
            let named = |t: &Target| match t {
                Target::Member(k) => Some(format!("n{k}")),
                _ => None,
            };
            // A named member must be in the cluster by then.
            let target = match op {
                EtcdOp::Defrag { target }
                | EtcdOp::MoveLeader { target }
                | EtcdOp::MemberRemove { target }
                | EtcdOp::MemberReplace { target }
                | EtcdOp::SnapshotSave { target, .. } => named(target),
                _ => None,
            };
            if let Some(n) = &target {
                if unnamed_removals == 0 && !voters.contains(n) && !learners.contains(n) {
                    let why = match gone.iter().find(|(g, _)| g == n) {
                        Some((_, t)) => format!("which is removed by then (member-remove at {t})"),
                        None => format!(
                            "which is not a member at {at} (the members then are {})",
                            voters.iter().chain(&learners).cloned().collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return self.err(loc, format!("this {} at {at} names {n}, {why}: name a member of the cluster at that time", op.name()));
                }
                if matches!(op, EtcdOp::MoveLeader { .. }) && learners.contains(n) {
                    return self.err(loc, format!("this move-leader at {at} hands leadership to {n}, which is a learner then (a learner cannot lead): promote it first, or name a voter"));
                }
            }
            match op {
                EtcdOp::MemberAdd { learner } => {
                    next += 1;
                    let n = format!("n{next}");
                    if *learner {
                        learners.push(n);
                    } else {
                        voters.push(n);
                    }
                }
                EtcdOp::LearnerPromote { target } => {
                    let chosen = match target {
                        Some(n) if learners.contains(n) => n.clone(),
                        Some(n) if voters.contains(n) => {
                            return self.err(loc, format!("this learner-promote at {at} promotes {n}, which is a voter already: only a member added with `learner: true` can be promoted"))
                        }
                        Some(n) if unnamed_removals == 0 => {
                            return self.err(
                                loc,
                                format!("this learner-promote at {at} promotes {n}, which is not a learner then: add it first with `{{op: member-add, learner: true}}` before {at}"),
                            )
                        }
                        Some(n) => n.clone(),
                        None => match learners.as_slice() {
                            [one] => one.clone(),
                            [] => {
                                return self.err(
                                    loc,
                                    format!("this learner-promote at {at} has no learner to promote: add one first with `{{op: member-add, learner: true}}` before {at}"),
                                )
                            }
                            many => {
                                return self.err(
                                    loc,
                                    format!("this learner-promote at {at} has several learners to choose from ({}): name one with `target`", many.join(", ")),
                                )
                            }
                        },
                    };
                    learners.retain(|l| *l != chosen);
                    voters.push(chosen);
                }
                EtcdOp::MemberRemove { target } => {
                    let left = voters.len().saturating_sub(unnamed_removals);
                    match named(target) {
                        Some(n) if learners.contains(&n) => learners.retain(|l| *l != n),
                        Some(n) => {
                            if left <= 1 {
                                return self.err(loc, format!("this member-remove at {at} removes {n}, the last voter: a cluster needs one voter; remove another member, or add one first"));
                            }
                            voters.retain(|v| *v != n);
                            gone.push((n, at));
                        }
                        None => {
                            if left <= 1 {
                                return self.err(
                                    loc,
                                    format!("this member-remove at {at} would remove the last voter (`{target}`): a cluster needs one voter; add a member first, or drop the remove"),
                                );
                            }
                            unnamed_removals += 1;
                        }
                    }
                }
                EtcdOp::SnapshotRestore { .. } => return Ok(()),
                _ => {}
            }
        }
        Ok(())
    }

    /// A `fill` writes until the space quota: on a cluster of the run's own, the quota must
    /// be small enough to reach (the default 2GiB would be written to every member's disk).
    fn fill_fits_quota(&self, raw: &RawScenario, cluster: &ClusterSpec) -> Result<(), Error> {
        let quota = cluster.etcd.quota_backend_bytes;
        let fill = raw.ops.iter().find(|o| o.value.op.as_deref() == Some("fill"));
        match fill {
            Some(o) if cluster.attach.is_none() && quota > MAX_FILL_QUOTA => self.err(
                Some(o.referenced),
                format!(
                    "fill writes until the space quota is reached, and cluster.etcd.quota_backend_bytes is {quota}: that much on every member's disk. Set `quota_backend_bytes` under cluster.etcd to at most {MAX_FILL_QUOTA} (e.g. 16MiB)"
                ),
            ),
            _ => Ok(()),
        }
    }

    /// The snapshot ops taken together: default names (`snap1`, `snap2`, ... by the save's
    /// place among the saves in the file), distinct names, every restore from a snapshot
    /// saved earlier (an absent `from` is the latest save before it), and no restore where
    /// it cannot be done (an attached cluster, the disk-fault layer over the data dirs).
    fn snapshots(&self, raw: &[Spanned<super::raw::RawOp>], ops: &mut [OpSpec], faults: &[FaultSpec], cluster: &ClusterSpec) -> Result<(), Error> {
        let mut saves: Vec<(String, Span)> = Vec::new();
        for (i, o) in ops.iter_mut().enumerate() {
            if let EtcdOp::SnapshotSave { name, .. } = &mut o.op {
                if name.is_empty() {
                    *name = format!("snap{}", saves.len() + 1);
                }
                if saves.iter().any(|(n, _)| n == name) {
                    return self.err(Some(raw[i].referenced), format!("two snapshot-saves are named `{name}`: give each a name of its own"));
                }
                saves.push((name.clone(), o.at));
            }
        }
        for (i, o) in ops.iter_mut().enumerate() {
            let loc = Some(raw[i].referenced);
            let at = o.at;
            let EtcdOp::SnapshotRestore { from } = &mut o.op else { continue };
            if from.is_empty() {
                match saves.iter().filter(|(_, t)| *t < at).max_by_key(|(_, t)| *t) {
                    Some((n, _)) => *from = n.clone(),
                    None => {
                        return self.err(
                            loc,
                            format!(
                            "this snapshot-restore at {at} has no snapshot to restore: add a `snapshot-save` before it (an `ops:` entry with an earlier `at`)"
                        ),
                        )
                    }
                }
            }
            match saves.iter().find(|(n, _)| n == from) {
                Some((_, t)) if *t < at => {}
                Some((_, t)) => {
                    return self.err(
                        loc,
                        format!("this snapshot-restore at {at} restores `{from}`, which is saved only at {t}: a restore needs a snapshot saved before it"),
                    )
                }
                None => {
                    let names: Vec<&str> = saves.iter().map(|(n, _)| n.as_str()).collect();
                    let known = if names.is_empty() {
                        "none is saved in this scenario: add a `snapshot-save` before it".to_string()
                    } else {
                        format!("the snapshots saved are {}", names.join(", "))
                    };
                    return self.err(loc, format!("this snapshot-restore restores `{from}`{}, but {known}", suggest(from, &names)));
                }
            }
            if let Some(a) = &cluster.attach {
                return self.err(
                    loc,
                    format!("snapshot-restore stops every member and replaces its data dir, which faultline does not do to the attached {}: let faultline start the cluster, or drop the restore", a.selector),
                );
            }
            if faults.iter().any(|f| f.kind.disk_layer().is_some()) {
                return self.err(
                    loc,
                    "snapshot-restore replaces every member's data dir, which the disk-fault layer (io-latency, io-error, fsync-lie, kill with lose_unsynced) is mounted over for the whole run: put the restore and the disk faults in separate scenarios",
                );
            }
        }
        Ok(())
    }

    fn cluster(&self, raw: &RawScenario) -> Result<ClusterSpec, Error> {
        let c = &raw.cluster;
        let mut backend = match &c.backend {
            Some(b) => BackendChoice::parse(&b.value).or_else(|m| self.err(Some(b.referenced), m))?,
            None => BackendChoice::Auto,
        };
        let attach = match &c.attach {
            None => None,
            Some(a) => {
                let loc = Some(a.referenced);
                let selector = match (&a.value.compose_project, &a.value.labels) {
                    (Some(p), None) if !p.trim().is_empty() => AttachSelector::ComposeProject(p.trim().to_string()),
                    (None, Some(l)) if !l.is_empty() && l.iter().all(|x| !x.trim().is_empty()) => AttachSelector::Labels(l.clone()),
                    (Some(_), Some(_)) => return self.err(loc, "cluster.attach takes either compose_project or labels, not both"),
                    _ => {
                        return self.err(
                            loc,
                            "cluster.attach needs `compose_project: NAME` (the Compose project of the cluster) or `labels: [key=value, ...]` (labels its etcd containers carry)",
                        )
                    }
                };
                match backend {
                    BackendChoice::Process => {
                        return self.err(
                            c.backend.as_ref().map(|b| b.referenced),
                            "cluster.attach finds running Docker containers: it needs `backend: docker` (or auto), not process",
                        )
                    }
                    _ => backend = BackendChoice::Docker,
                }
                Some(AttachSpec { selector, client_port: a.value.client_port.unwrap_or(crate::cluster::CLIENT_PORT) })
            }
        };
        let size = match &c.size {
            Some(s) if (1..=7).contains(&s.value) => s.value as usize,
            Some(s) => return self.err(Some(s.referenced), format!("cluster.size is {}: a cluster has 1 to 7 members", s.value)),
            None => 3,
        };
        let e = &c.etcd;
        let versions = self.mixed_versions(e, size)?;
        if let Some(v) = &e.version {
            if !crate::cluster::versions::is_version(v) {
                return self
                    .err(None, format!("cluster.etcd.version `{v}` is not an etcd version: write it as `3.5.1` (`faultline doctor` lists the versions here)"));
            }
            if let Some(b) = &e.binary {
                return self.err(None, format!("cluster.etcd gives both `version: {v}` and `binary: {b}`: give one (version picks the binary of that version from faultline's store; binary is an etcd of your own)"));
            }
            if let Some(i) = &e.image {
                return self.err(
                    None,
                    format!(
                        "cluster.etcd gives both `version: {v}` and `image: {i}`: give one (version runs faultline/etcd:{v}, built from that version's binary)"
                    ),
                );
            }
        }
        let heartbeat = e.heartbeat_interval.unwrap_or(Span(Duration::from_millis(100)));
        let election = e.election_timeout.as_ref().map_or(Span(Duration::from_millis(1000)), |t| t.value);
        if heartbeat.0.is_zero() || election.0 < heartbeat.0 * 5 {
            return self.err(
                e.election_timeout.as_ref().map(|t| t.referenced),
                format!(
                    "cluster.etcd.election_timeout ({election}) must be at least 5 times heartbeat_interval ({heartbeat}): etcd refuses to start otherwise"
                ),
            );
        }
        Ok(ClusterSpec {
            backend,
            size,
            attach,
            etcd: EtcdSpec {
                version: versions.iter().max_by_key(|v| crate::cluster::versions::order_key(v)).cloned().or_else(|| e.version.clone()),
                binary: e.binary.clone().unwrap_or_else(|| "etcd".into()),
                image: e.image.clone().unwrap_or_else(|| {
                    let newest = versions.iter().max_by_key(|v| crate::cluster::versions::order_key(v));
                    format!("faultline/etcd:{}", newest.or(e.version.as_ref()).map_or("3.4.23", String::as_str))
                }),
                versions,
                command: e.command.clone(),
                heartbeat_interval: heartbeat,
                election_timeout: election,
                snapshot_count: e.snapshot_count.unwrap_or(10_000),
                quota_backend_bytes: e.quota_backend_bytes.unwrap_or(Size(2 << 30)),
                extra_args: e.extra_args.clone(),
                corrupt_checks: self.corrupt_checks(e)?,
            },
        })
    }

    fn workload(&self, raw: &RawScenario) -> Result<WorkloadSpec, Error> {
        let w = &raw.workload;
        let kind = match &w.kind {
            None => "register",
            Some(k) if ["register", "etcd", "kubernetes"].contains(&k.value.as_str()) => k.value.as_str(),
            Some(k) => {
                return self.err(
                    Some(k.referenced),
                    format!("unknown workload kind `{}`{}: use register, etcd or kubernetes", k.value, suggest(&k.value, &["register", "etcd", "kubernetes"])),
                )
            }
        };
        let keys = bounded(self, &w.keys, 16, 1, 100_000, "workload.keys")?;
        let clients = bounded(self, &w.clients, 8, 1, 1024, "workload.clients")?;
        let duration = w.duration.as_ref().map_or(Span(Duration::from_secs(60)), |d| d.value);
        if duration.0 < Duration::from_secs(1) {
            return self.err(w.duration.as_ref().map(|d| d.referenced), format!("workload.duration is {duration}: give at least 1s"));
        }
        let op_timeout = w.op_timeout.as_ref().map_or(Span(Duration::from_secs(1)), |d| d.value);
        if op_timeout.0 < Duration::from_millis(10) {
            return self.err(w.op_timeout.as_ref().map(|d| d.referenced), format!("workload.op_timeout is {op_timeout}: give at least 10ms"));
        }
        let load = match kind {
            "etcd" => {
                let weights = self.mix_weights(w, &EtcdMix::NAMES, "the etcd workload has get, range, put, delete, txn, lease and compact")?;
                let d = EtcdMix::DEFAULT;
                let at = |i: usize, default: f64| weights.as_ref().map_or(default, |w| w[i]);
                Load::Etcd(EtcdMix {
                    get: at(0, d.get),
                    range: at(1, d.range),
                    put: at(2, d.put),
                    delete: at(3, d.delete),
                    txn: at(4, d.txn),
                    lease: at(5, d.lease),
                    compact: at(6, d.compact),
                })
            }
            "kubernetes" => {
                let weights = self.mix_weights(w, &KubernetesMix::NAMES, "the kubernetes workload has create, update, delete, list and compact")?;
                let d = KubernetesMix::DEFAULT;
                let at = |i: usize, default: f64| weights.as_ref().map_or(default, |w| w[i]);
                Load::Kubernetes(KubernetesMix {
                    create: at(0, d.create),
                    update: at(1, d.update),
                    delete: at(2, d.delete),
                    list: at(3, d.list),
                    compact: at(4, d.compact),
                })
            }
            _ => {
                let weights = self.mix_weights(w, &["read", "write", "cas"], "the register workload has read, write and cas")?;
                Load::Register(weights.map_or(Mix { read: 0.5, write: 0.25, cas: 0.25 }, |w| Mix { read: w[0], write: w[1], cas: w[2] }))
            }
        };
        let reads = match &w.reads {
            None => ReadMode::Linearizable,
            Some(r) => match r.value.as_str() {
                "linearizable" => ReadMode::Linearizable,
                "serializable" => ReadMode::Serializable,
                other => {
                    return self.err(
                        Some(r.referenced),
                        format!("workload.reads `{other}`{}: use linearizable or serializable", suggest(other, &["linearizable", "serializable"])),
                    )
                }
            },
        };
        Ok(WorkloadSpec { load, keys, clients, rate: w.rate, duration, op_timeout, reads, watch: Vec::new() })
    }

    /// What the `etcd` and `kubernetes` workloads' checker needs of the run: every revision step one of the
    /// history's operations (no other writer: no `fill`, no attached cluster), every
    /// compaction in the history (the workload's own `compact` share, not `ops: compact`),
    /// one history (no `snapshot-restore`).
    fn etcd_workload_fits(&self, raw: &RawScenario, w: &WorkloadSpec, ops: &[OpSpec], cluster: &ClusterSpec) -> Result<(), Error> {
        if !w.load.is_etcd_api() {
            return Ok(());
        }
        let at = raw.workload.kind.as_ref().map(|k| k.referenced);
        if cluster.attach.is_some() {
            return self.err(
                at,
                format!("the {} workload needs a cluster of the run's own: on an attached cluster other writers take revisions the etcd model cannot account for; use the register workload there", w.load.name()),
            );
        }
        for (o, r) in ops.iter().zip(&raw.ops) {
            let why = match o.op {
                EtcdOp::Compact { .. } => {
                    "the etcd model must see every compaction in the history: give the workload a `compact` share in workload.mix instead"
                }
                EtcdOp::Fill { .. } => "fill writes keys of its own, taking revisions the etcd model cannot account for",
                EtcdOp::SnapshotSave { .. } | EtcdOp::SnapshotRestore { .. } => {
                    "a restore rewinds the revisions of one history: not supported with this workload yet"
                }
                _ => continue,
            };
            return self.err(Some(r.referenced), format!("`{}` with the {} workload: {why}", o.op.name(), w.load.name()));
        }
        Ok(())
    }

    /// `workload.watch` (the kind's default when absent: see [`watch::default_for`]).
    fn watch(&self, raw: &RawScenario, w: &WorkloadSpec, size: usize) -> Result<Vec<watch::WatchGroup>, Error> {
        let Some(given) = &raw.workload.watch else { return Ok(watch::default_for(&w.load)) };
        let cx = watch::Context { load: &w.load, keys: w.keys, size };
        watch::resolve(&given.value, given.referenced, &cx).or_else(|e| self.param_err(Some(given.referenced), e))
    }

    /// `workload.mix` as weights of `names` in that order, normalised to sum 1 (`None` when
    /// the scenario gives no mix); a name the kind does not have is refused with `has`.
    fn mix_weights(&self, w: &super::raw::RawWorkload, names: &[&str], has: &str) -> Result<Option<Vec<f64>>, Error> {
        let Some(m) = &w.mix else { return Ok(None) };
        let mut weights = vec![0.0; names.len()];
        for (k, v) in &m.value {
            if !(v.is_finite() && *v >= 0.0) {
                return self.err(Some(m.referenced), format!("workload.mix.{k} is {v}: weights are numbers of 0 or more"));
            }
            match names.iter().position(|n| n == k) {
                Some(i) => weights[i] = *v,
                None => return self.err(Some(m.referenced), format!("unknown operation `{k}` in workload.mix{}: {has}", suggest(k, names))),
            }
        }
        let sum: f64 = weights.iter().sum();
        if sum <= 0.0 {
            return self.err(Some(m.referenced), "workload.mix gives every operation weight 0: give at least one a positive weight");
        }
        // Weights that already sum to 1 are kept as written: dividing by a sum a rounding off 1
        // would move them, and a resolved scenario read back (shrink, --set) would drift.
        if (sum - 1.0).abs() < 1e-9 {
            return Ok(Some(weights));
        }
        Ok(Some(weights.into_iter().map(|x| x / sum).collect()))
    }

    /// One entry of `faults:`; `size` is how many members the cluster has by then.
    fn fault(&self, f: &Spanned<RawFault>, size: usize, duration: Span) -> Result<FaultSpec, Error> {
        let loc = Some(f.referenced);
        let r = &f.value;
        let kind = self.fault_kind(r, loc, size)?;
        let get = |key: &str| -> Result<Option<Span>, Error> { crate::fault::api::Params::new(r, size).get(key).or_else(|e| self.param_err(loc, e)) };
        let (at_, for_, every) = (get("at")?, get("for")?, get("every")?);
        let key_at = |key: &str| r.get(key).map(|v| v.referenced).or(loc);
        let id = match text(r, "id") {
            Some(id) => Some(trigger::check_id(&id).map(|()| id).or_else(|m| self.err(key_at("id"), m))?),
            None => None,
        };
        let when = match text(r, "when") {
            Some(w) => Some(trigger::parse_when(&w).or_else(|m| self.err(key_at("when"), m))?),
            None => None,
        };
        let until = match text(r, "until") {
            Some(u) => Some(trigger::parse_until(&u).or_else(|m| self.err(key_at("until"), m))?),
            None => None,
        };
        let within = get("within")?;
        for h in when.iter().map(|w| &w.on).chain(until.iter().filter_map(|u| if let trigger::Until::When(w) = u { Some(&w.on) } else { None })) {
            if let trigger::Happening::NeedsSnapshot(m) = h {
                Target::parse(m, size).or_else(|e| self.err(loc, format!("`{h}`: {e}")))?;
            }
        }
        if for_.is_some() && until.is_some() {
            return self.err(loc, "a fault takes `for` or `until`, not both: `for` heals it after a time, `until` when a condition comes");
        }
        if every.is_some() && (when.is_some() || until.is_some()) {
            return self.err(loc, "a fault with `every` repeats at fixed times: it takes no `when` or `until` (write one fault per trigger)");
        }
        if within.is_some() && when.is_none() && until.is_none() {
            return self.err(key_at("within"), "`within` bounds how long `when` or `until` waits: this fault has neither");
        }
        if matches!(within, Some(w) if w.0.is_zero()) {
            return self.err(key_at("within"), "`within` must be longer than 0s");
        }
        let at_ = match (at_, &when) {
            (Some(a), _) => Some(a),
            // A triggered fault waits for its trigger from the start.
            (None, Some(_)) => Some(Span(Duration::ZERO)),
            (None, None) => None,
        };
        let Some(at_) = at_ else {
            return self.err(
                loc,
                format!(
                    "this `{}` fault has no `at`: say when it starts, e.g. `at: 10s` (or `when:` an event, e.g. `when: \"d1 started + 20ms\"`)",
                    kind.name()
                ),
            );
        };
        if at_ >= duration {
            return self.err(loc, format!("this fault starts at {at_}, but the workload lasts {duration}: it would never run"));
        }
        if let (Some(every), Some(for_)) = (every, for_) {
            if for_ >= every {
                return self.err(loc, format!("`for: {for_}` is not shorter than `every: {every}`: each repetition must heal before the next starts"));
            }
        }
        if every.is_some() && for_.is_none() {
            return self.err(loc, "a fault with `every` needs `for`, so each repetition heals before the next");
        }
        if matches!(every, Some(e) if e.0.is_zero()) {
            return self.err(loc, "`every` must be longer than 0s");
        }
        if let Some(e) = every.filter(|e| e.0 < MIN_REPEAT) {
            return self.err(loc, format!("`every: {e}` is shorter than {}: {MIN_REPEAT_WHY}; give `every: {}` or more", Span(MIN_REPEAT), Span(MIN_REPEAT)));
        }
        let target = match (text(r, "target"), kind.default_target()) {
            (Some(t), _) => Target::parse(&t, size).or_else(|m| self.err(loc, m))?,
            (None, Some(t)) => t,
            (None, None) => {
                return self
                    .err(loc, format!("this `{}` fault has no `target`: use leader, follower, random, minority, majority, all or n1..n{size}", kind.name()))
            }
        };
        kind.check_target(target).or_else(|m| self.err(loc, m))?;
        Ok(FaultSpec { id, at: at_, when, for_, until, within, every, target, kind })
    }

    /// A fault entry's kind and parameters, through the kind's own parser (the registry).
    fn fault_kind(&self, r: &RawFault, loc: Option<Location>, size: usize) -> Result<FaultKind, Error> {
        let names = registry::names();
        let all_params = registry::all_params();
        // A key no kind takes is a typo, said with the keys a fault may have.
        let allowed: Vec<&str> = COMMON.iter().copied().chain(all_params.iter().copied()).collect();
        if let Some((key, v)) = r.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return self.err(Some(v.referenced), format!("unknown key `{key}`{}; the keys allowed here are: {}", suggest(key, &allowed), allowed.join(", ")));
        }
        let Some(name) = text(r, "kind") else {
            return self.err(loc, format!("this fault has no `kind`: use one of {}", names.join(", ")));
        };
        let Some(kind) = registry::find(&name) else {
            if registry::NOT_YET.contains(&name.as_str()) {
                return self.err(loc, format!("fault kind `{name}` is not supported yet; the kinds built so far are {}", names.join(", ")));
            }
            let mut all = names.clone();
            all.extend(registry::NOT_YET);
            return self.err(loc, format!("unknown fault kind `{name}`{}: the kinds built so far are {}", suggest(&name, &all), names.join(", ")));
        };
        if let Some(p) = r.keys().find(|k| !COMMON.contains(&k.as_str()) && !kind.params.contains(&k.as_str())) {
            return self.err(loc, format!("`{p}` does not apply to a `{name}` fault (it is a parameter of {})", registry::owners_of(p).join(", ")));
        }
        (kind.parse)(&crate::fault::api::Params::new(r, size)).or_else(|e| self.param_err(loc, e))
    }

    fn param_err<T>(&self, loc: Option<Location>, e: crate::fault::api::ParamError) -> Result<T, Error> {
        self.err(e.at.or(loc), e.msg)
    }

    fn nemesis(&self, n: &Spanned<super::raw::RawNemesis>, size: usize, duration: Span) -> Result<NemesisSpec, Error> {
        let loc = Some(n.referenced);
        let r = &n.value;
        let drawable: Vec<&str> = registry::ALL.iter().filter(|k| k.draw.is_some()).map(|k| k.name).collect();
        if r.kinds.is_empty() {
            return self.err(loc, format!("nemesis.kinds is empty: list at least one of {}", drawable.join(", ")));
        }
        let mut kinds = Vec::new();
        for k in &r.kinds {
            kinds.push(match k {
                super::raw::RawNemesisKind::Name(name) => match registry::find(name) {
                    Some(crate::fault::api::Kind { name, draw: Some(draw), .. }) => NemesisKind::Draw(name, *draw),
                    Some(kind) => {
                        return self.err(
                            loc,
                            format!(
                                "the nemesis cannot draw `{name}` faults without their parameters: write it as a fault, e.g. `{{kind: {name}, {}: ...}}`",
                                kind.params.first().unwrap_or(&"")
                            ),
                        )
                    }
                    None if registry::NOT_YET.contains(&name.as_str()) => {
                        return self.err(loc, format!("fault kind `{name}` is not supported yet; the nemesis draws {}", drawable.join(", ")))
                    }
                    None => return self.err(loc, format!("unknown nemesis kind `{name}`{}: use {}", suggest(name, &drawable), drawable.join(", "))),
                },
                super::raw::RawNemesisKind::Fault(raw) => {
                    if let Some(key) = ["at", "for", "every", "target"].iter().find(|k| raw.contains_key(**k)) {
                        return self.err(loc, format!("a fault the nemesis draws takes no `{key}`: the nemesis gives it (`interval`, `for`, `targets`)"));
                    }
                    NemesisKind::Given(self.fault_kind(raw, loc, size)?)
                }
            });
        }
        let interval = r.interval.unwrap_or(Span(Duration::from_secs(10)));
        let for_ = r.for_.unwrap_or(Span(interval.0 / 2));
        if interval.0.is_zero() || for_ >= interval {
            return self.err(loc, format!("nemesis `for: {for_}` must be shorter than `interval: {interval}`, so each fault heals before the next"));
        }
        if interval.0 < MIN_REPEAT {
            return self.err(
                loc,
                format!("nemesis `interval: {interval}` is shorter than {}: {MIN_REPEAT_WHY}; give `interval: {}` or more", Span(MIN_REPEAT), Span(MIN_REPEAT)),
            );
        }
        let start = r.start.unwrap_or(interval);
        if start >= duration {
            return self
                .err(loc, format!("the nemesis starts at {start}, but the workload lasts {duration}: lengthen workload.duration or shorten nemesis.interval"));
        }
        let targets = match &r.targets {
            None => vec![Target::Leader, Target::Follower, Target::Random, Target::Minority],
            Some(ts) => ts.iter().map(|t| Target::parse(t, size)).collect::<Result<_, _>>().or_else(|m| self.err(loc, m))?,
        };
        if targets.is_empty() {
            return self.err(loc, "nemesis.targets is empty");
        }
        Ok(NemesisSpec { kinds, interval, for_, start, targets })
    }
}

fn bounded(r: &Resolver<'_>, v: &Option<Spanned<u32>>, default: u32, lo: u32, hi: u32, what: &str) -> Result<u32, Error> {
    match v {
        None => Ok(default),
        Some(s) if (lo..=hi).contains(&s.value) => Ok(s.value),
        Some(s) => r.err(Some(s.referenced), format!("{what} is {}: give {lo} to {hi}", s.value)),
    }
}

/// A key's value as text, when it is a string (`kind`, `target`).
fn text(r: &RawFault, key: &str) -> Option<String> {
    r.get(key).map(|v| match &v.value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::kinds::bandwidth::{Bandwidth, BitRate};
    use crate::fault::kinds::io_rule::IoRule;
    use crate::fault::kinds::latency::{NetShape, PortSel};
    use crate::fault::kinds::partition::Partition;

    fn err(yaml: &str) -> String {
        match parse(yaml, "s.yaml") {
            Err(Error::BadInput(m)) => m,
            Err(e) => panic!("expected bad input, got {e:?}"),
            Ok(_) => panic!("expected an error for:\n{yaml}"),
        }
    }

    #[test]
    fn minimal_scenario_gets_the_design_defaults() {
        let s = parse("name: smoke\n", "s.yaml").unwrap();
        assert_eq!(s.cluster.size, 3);
        assert_eq!(s.cluster.backend, BackendChoice::Auto);
        assert_eq!(s.workload.keys, 16);
        assert_eq!(s.workload.clients, 8);
        assert_eq!(s.workload.duration.0, Duration::from_secs(60));
        assert_eq!(s.workload.reads, ReadMode::Linearizable);
        assert_eq!(s.cluster.etcd.election_timeout.0, Duration::from_secs(1));
        assert!(s.faults.is_empty());
    }

    #[test]
    fn the_watch_gate_is_on_with_the_watch_workload_and_refused_without_it() {
        let s = parse("name: x\nworkload: {watch: true}\n", "s.yaml").unwrap();
        assert_eq!(s.workload.watch, [watch::WatchGroup::default()]);
        assert_eq!(s.expect.watch, Some(true));
        assert!(s.to_yaml().contains("watch: true"));
        let s = parse("name: x\nworkload: {watch: true}\nexpect: {watch: false}\n", "s.yaml").unwrap();
        assert_eq!(s.expect.watch, Some(false));
        let s = parse("name: x\n", "s.yaml").unwrap();
        assert_eq!((s.workload.watch.len(), s.expect.watch), (0, None));
        assert!(s.to_yaml().contains("watch: false"));
        let m = err("name: x\nexpect: {watch: true}\n");
        assert!(m.starts_with("s.yaml:2:") && m.contains("workload.watch is off"), "{m}");
    }

    #[test]
    fn full_fault_list_resolves() {
        let s = parse(
            "name: x\nworkload: {duration: 60s}\nfaults:\n  - {at: 10s, for: 5s, kind: partition, target: leader, mode: one-way}\n  - {at: 20s, for: 2s, every: 15s, kind: kill, target: random}\n  - {at: 30s, kind: pause, target: n2}\n  - {at: 40s, for: 5s, kind: partition, mode: halves}\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(s.faults.len(), 4);
        assert_eq!(s.faults[0].kind, FaultKind::new(Partition { mode: PartitionMode::OneWay }));
        assert_eq!(s.faults[1].every, Some(Span(Duration::from_secs(15))));
        assert_eq!(s.faults[2].target, Target::Member(2));
        assert_eq!(s.faults[3].target, Target::All);
    }

    #[test]
    fn unknown_key_names_the_closest_known_one_with_its_position() {
        let m = err("name: x\ncluster:\n  sise: 3\n");
        assert!(m.starts_with("s.yaml:3:"), "{m}");
        assert!(m.contains("unknown key `sise`") && m.contains("did you mean `size`?"), "{m}");
    }

    #[test]
    fn unknown_fault_kind_suggests_and_not_yet_built_is_refused() {
        let m = err("name: x\nfaults:\n  - {at: 1s, kind: partiton, target: leader}\n");
        assert!(m.contains("did you mean `partition`?"), "{m}");
        assert!(m.starts_with("s.yaml:3:"), "{m}");
        let m = err("name: x\nfaults:\n  - {at: 1s, kind: clock-skew, target: leader}\n");
        assert!(m.contains("not supported yet"), "{m}");
    }

    #[test]
    fn network_disk_and_cpu_faults_resolve_and_their_mistakes_are_explained() {
        let s = parse(
            "name: x\nfaults:\n  - {at: 1s, kind: latency, target: all, delay: 150ms, jitter: 20ms, ports: peer, peers: [n2]}\n  - {at: 1s, kind: io-latency, target: leader, ops: [fsync], delay: 200ms, path: 'member/wal/*'}\n  - {at: 1s, kind: io-error, target: follower, ops: [write], errno: ENOSPC, percent: 5%}\n  - {at: 1s, kind: bandwidth, target: leader, rate: 10mbit}\n  - {at: 1s, kind: kill, target: leader, lose_unsynced: true}\n",
            "s.yaml",
        )
        .unwrap();
        match s.faults[0].kind.downcast::<NetShape>() {
            Some(n) => {
                assert_eq!((n.delay.0, n.jitter.0, n.ports, n.peers.clone()), (Duration::from_millis(150), Duration::from_millis(20), PortSel::Peer, vec![2]))
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(s.faults[2].kind.downcast::<IoRule>(), Some(IoRule { rule: d, .. }) if d.errno.as_deref() == Some("ENOSPC") && d.percent.0 == 5.0));
        assert_eq!(s.faults[3].kind, FaultKind::new(Bandwidth { rate: BitRate(10_000_000) }));
        assert!(s.faults[4].kind.disk_layer().is_some() && s.faults[1].kind.disk_layer().is_some() && s.faults[0].kind.disk_layer().is_none());
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: latency, target: all}\n").contains("does nothing"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: io-latency, target: all, ops: [fsnyc], delay: 1s}\n").contains("fsync"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: io-error, target: all, ops: [write], errno: EWHAT}\n").contains("EWHAT"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: bandwidth, target: all, rate: fast}\n").contains("10mbit"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: latency, target: all, delay: 1s, mechanism: tc}\n").contains("nfqueue"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: cpu-limit, target: all}\n").contains("cores"));
        let m = err("name: x\nfaults:\n  - {at: 1s, kind: kill, target: all, delay: 1s}\n");
        assert!(m.contains("`delay` does not apply to a `kill` fault") && m.contains("latency"), "{m}");
    }

    #[test]
    fn membership_and_restart_ops_resolve_and_later_members_can_be_named() {
        let s = parse(
            "name: x\nops:\n  - {at: 1s, op: member-add, learner: true}\n  - {at: 2s, op: learner-promote, target: n4}\n  - {at: 3s, op: member-remove, target: n4}\n  - {at: 4s, op: member-replace, target: leader}\n  - at: 5s\n    op: rolling-restart\n    etcd: {heartbeat_interval: 150ms, election_timeout: 1500ms, binary: /opt/etcd}\n",
            "s.yaml",
        )
        .unwrap();
        let ops: Vec<EtcdOp> = s.ops.iter().map(|o| o.op.clone()).collect();
        assert_eq!(ops[0], EtcdOp::MemberAdd { learner: true });
        assert_eq!(ops[1], EtcdOp::LearnerPromote { target: Some("n4".into()) });
        assert_eq!(ops[2], EtcdOp::MemberRemove { target: Target::Member(4) });
        assert_eq!(ops[3], EtcdOp::MemberReplace { target: Target::Leader });
        let EtcdOp::RollingRestart { etcd } = &ops[4] else { panic!("{:?}", ops[4]) };
        assert_eq!(etcd.args(), ["--heartbeat-interval=150", "--election-timeout=1500"]);
        assert_eq!(etcd.binary.as_deref(), Some("/opt/etcd"));
        // n4 does not exist before a member-add.
        assert!(err("name: x\nops:\n  - {at: 1s, op: member-remove, target: n4}\n").contains("n4"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: member-remove, target: all}\n").contains("one member"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: member-add, target: n1}\n").contains("takes no `target`"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: compact, learner: true}\n").contains("`learner` applies to member-add"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: defrag, etcd: {snapshot_count: 5}}\n").contains("applies to rolling-restart"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: rolling-restart, etcd: {command: [x]}}\n").contains("keeps each member's command"));
    }

    #[test]
    fn triggered_faults_resolve_and_wrong_triggers_are_refused_saying_why() {
        let ok = "name: x\nworkload: {duration: 30s}\nops:\n  - {id: d1, at: 5s, op: defrag, target: n2, expect: interrupted}\nfaults:\n  - {id: k, when: \"d1 started + 20ms\", for: 2s, kind: kill, target: n2}\n  - {at: 8s, until: snapshot, within: 10s, kind: stop, target: n3}\n  - {at: 2s, when: \"k finished\", until: \"d1 finished + 1s\", kind: pause, target: n1}\n";
        let s = parse(ok, "s.yaml").unwrap();
        assert_eq!(s.ops[0].id.as_deref(), Some("d1"));
        assert_eq!(s.ops[0].expect, OpExpect::Interrupted);
        let f = &s.faults[0];
        assert_eq!((f.id.as_deref(), f.at, f.when.as_ref().map(|w| w.to_string())), (Some("k"), Span(Duration::ZERO), Some("d1 started + 20ms".into())));
        assert_eq!((s.faults[1].until.as_ref().map(|u| u.to_string()), s.faults[1].within), (Some("snapshot".into()), Some(Span(Duration::from_secs(10)))));
        assert_eq!(s.faults[2].at, Span(Duration::from_secs(2)));
        // What the scenario.yaml of a run says is read back the same.
        let again = parse(&serde_saphyr::to_string(&s).unwrap(), "s.yaml").unwrap();
        assert_eq!(again.faults, s.faults);

        let base = "name: x\nworkload: {duration: 30s}\nops:\n  - {id: d1, at: 5s, op: defrag}\nfaults:\n";
        let e = |fault: &str| err(&format!("{base}  - {fault}\n"));
        assert!(e("{when: \"d2 started\", kind: kill, target: n2}").contains("no fault or op has `id: d2`; the ids are d1"));
        assert!(e("{id: f, when: \"f started\", kind: kill, target: n2}").contains("cannot wait for itself"));
        assert!(e("{when: \"d1 started\", for: 1s, until: snapshot, kind: stop, target: n2}").contains("`for` or `until`, not both"));
        assert!(e("{at: 1s, every: 5s, until: snapshot, kind: stop, target: n2}").contains("takes no `when` or `until`"));
        assert!(e("{at: 1s, for: 1s, within: 5s, kind: stop, target: n2}").contains("`within` bounds how long"));
        assert!(e("{when: \"n7 needs snapshot\", kind: stop, target: n2}").contains("`n7 needs snapshot`"));
        assert!(e("{when: \"d1 begins\", kind: stop, target: n2}").contains("the forms are"));
        assert!(e("{id: n2, at: 1s, kind: stop, target: n2}").contains("a member's name"));
        assert!(e("{id: d1, at: 1s, kind: stop, target: n2}").contains("`id: d1` is given twice"));
        let cycle =
            err(&format!("{base}  - {{id: a, when: \"b started\", kind: stop, target: n2}}\n  - {{id: b, when: \"a finished\", kind: pause, target: n3}}\n"));
        assert!(cycle.contains("faults wait for each other (a → b)"), "{cycle}");
        assert!(err("name: x\nops:\n  - {at: 1s, op: defrag, expect: interrupted}\n").contains("give the op an `id:`"));
        assert!(err("name: x\nops:\n  - {id: d1, at: 1s, op: defrag, expect: interrupted}\n").contains("no fault starts `when: \"d1 started + DELAY\"`"));
    }

    #[test]
    fn ops_resolve_and_unknown_ones_are_refused_with_a_suggestion() {
        let s = parse("name: x\nops:\n  - {at: 1s, op: compact, keep: 10}\n  - {at: 2s, op: defrag}\n  - {at: 3s, op: move-leader, target: n2}\n  - {at: 4s, op: alarm-disarm}\n", "s.yaml").unwrap();
        let ops: Vec<EtcdOp> = s.ops.iter().map(|o| o.op.clone()).collect();
        assert_eq!(
            ops,
            [EtcdOp::Compact { keep: 10 }, EtcdOp::Defrag { target: Target::All }, EtcdOp::MoveLeader { target: Target::Member(2) }, EtcdOp::AlarmDisarm]
        );
        assert!(err("name: x\nops:\n  - {at: 1s, op: member-ad}\n").contains("did you mean `member-add`?"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: compcat}\n").contains("did you mean `compact`?"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: move-leader, target: all}\n").contains("one member"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: defrag, keep: 3}\n").contains("`keep` applies to compact"));
    }

    #[test]
    fn fill_takes_a_value_size_and_needs_a_small_quota() {
        let small = "name: x\ncluster: {etcd: {quota_backend_bytes: 16MiB}}\nops:\n";
        let s = parse(&format!("{small}  - {{at: 1s, op: fill}}\n  - {{at: 2s, op: fill, value_size: 1MiB}}\n"), "s.yaml").unwrap();
        let ops: Vec<EtcdOp> = s.ops.iter().map(|o| o.op.clone()).collect();
        assert_eq!(ops, [EtcdOp::Fill { value_size: Size(256 << 10) }, EtcdOp::Fill { value_size: Size(1 << 20) }]);
        let m = err(&format!("{small}  - {{at: 1s, op: fill, value_size: 8MiB}}\n"));
        assert!(m.starts_with("s.yaml:4:") && m.contains("value_size is 8MiB") && m.contains("between 1KiB and 1MiB"), "{m}");
        assert!(err(&format!("{small}  - {{at: 1s, op: fill, value_size: 0}}\n")).contains("between 1KiB and 1MiB"));
        let m = err(&format!("{small}  - {{at: 1s, op: fill, value_size: lots}}\n"));
        assert!(m.starts_with("s.yaml:4:") && m.contains("512MiB"), "{m}");
        assert!(err(&format!("{small}  - {{at: 1s, op: compact, value_size: 1MiB}}\n")).contains("`value_size` applies to fill"));
        assert!(err(&format!("{small}  - {{at: 1s, op: fill, target: leader}}\n")).contains("takes no `target`"));
        let m = err("name: x\nops:\n  - {at: 1s, op: fill}\n");
        assert!(m.starts_with("s.yaml:3:") && m.contains("2GiB") && m.contains("quota_backend_bytes"), "{m}");
    }

    #[test]
    fn snapshot_ops_get_names_and_a_restore_needs_an_earlier_save() {
        let s = parse(
            "name: x\nops:\n  - {at: 1s, op: snapshot-save}\n  - {at: 2s, op: snapshot-save, name: before-kill, target: follower}\n  - {at: 3s, op: snapshot-restore}\n  - {at: 4s, op: snapshot-restore, from: snap1}\n",
            "s.yaml",
        )
        .unwrap();
        let ops: Vec<EtcdOp> = s.ops.iter().map(|o| o.op.clone()).collect();
        assert_eq!(
            ops,
            [
                EtcdOp::SnapshotSave { target: Target::Leader, name: "snap1".into() },
                EtcdOp::SnapshotSave { target: Target::Follower, name: "before-kill".into() },
                EtcdOp::SnapshotRestore { from: "before-kill".into() },
                EtcdOp::SnapshotRestore { from: "snap1".into() },
            ]
        );
        // The resolved scenario reads back the same (scenario.yaml of a run).
        assert_eq!(parse(&s.to_yaml(), "again.yaml").unwrap().ops, s.ops);
        let m = err("name: x\nops:\n  - {at: 3s, op: snapshot-restore}\n");
        assert!(m.starts_with("s.yaml:3:") && m.contains("has no snapshot to restore: add a `snapshot-save` before it"), "{m}");
        let m = err("name: x\nops:\n  - {at: 3s, op: snapshot-restore, from: snap1}\n  - {at: 5s, op: snapshot-save}\n");
        assert!(m.contains("restores `snap1`, which is saved only at 5s"), "{m}");
        let m = err("name: x\nops:\n  - {at: 1s, op: snapshot-save, name: base}\n  - {at: 3s, op: snapshot-restore, from: bsae}\n");
        assert!(m.contains("did you mean `base`?") && m.contains("the snapshots saved are base"), "{m}");
        assert!(err("name: x\nops:\n  - {at: 1s, op: snapshot-save, name: a}\n  - {at: 2s, op: snapshot-save, name: a}\n")
            .contains("two snapshot-saves are named `a`"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: snapshot-save, name: ../etc}\n").contains("lowercase letters, digits"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: snapshot-save, target: all}\n").contains("from one member"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: snapshot-save, from: a}\n").contains("`from` names the snapshot"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: compact, name: a}\n").contains("`name` names the snapshot of a snapshot-save"));
        let m = err("name: x\nfaults:\n  - {at: 1s, kind: io-latency, target: leader, ops: [fsync], delay: 10ms}\nops:\n  - {at: 1s, op: snapshot-save}\n  - {at: 2s, op: snapshot-restore}\n");
        assert!(m.contains("disk-fault layer"), "{m}");
        let m = err("name: x\ncluster: {attach: {compose_project: web}}\nops:\n  - {at: 1s, op: snapshot-save}\n  - {at: 2s, op: snapshot-restore}\n");
        assert!(m.contains("does not do to the attached"), "{m}");
    }

    #[test]
    fn attach_takes_one_selector_and_means_docker() {
        let s = parse("name: x\ncluster: {attach: {compose_project: web}}\n", "s.yaml").unwrap();
        assert_eq!(s.cluster.backend, BackendChoice::Docker);
        let a = s.cluster.attach.unwrap();
        assert_eq!(a.selector, AttachSelector::ComposeProject("web".into()));
        assert_eq!(a.selector.label_filters(), vec!["com.docker.compose.project=web".to_string()]);
        assert_eq!(a.client_port, 2379);
        let s = parse("name: x\ncluster: {attach: {labels: [app=etcd], client_port: 12379}}\n", "s.yaml").unwrap();
        assert_eq!(s.cluster.attach.map(|a| (a.selector, a.client_port)), Some((AttachSelector::Labels(vec!["app=etcd".into()]), 12379)));
        assert!(err("name: x\ncluster: {attach: {}}\n").contains("needs `compose_project: NAME`"));
        assert!(err("name: x\ncluster: {attach: {compose_project: a, labels: [b]}}\n").contains("not both"));
        let m = err("name: x\ncluster: {backend: process, attach: {compose_project: a}}\n");
        assert!(m.starts_with("s.yaml:2:") && m.contains("needs `backend: docker`"), "{m}");
    }

    #[test]
    fn a_schedule_is_bounded_before_it_is_expanded() {
        let m = err("name: x\nworkload: {duration: 1h}\nfaults:\n  - {at: 0s, for: 0us, every: 1us, kind: pause, target: n1}\n");
        assert!(m.starts_with("s.yaml:4:") && m.contains("`every: 1us` is shorter than 1s") && m.contains("`every: 1s` or more"), "{m}");
        let m = err("name: x\nworkload: {duration: 1h}\nnemesis: {kinds: [kill], interval: 1ms}\n");
        assert!(m.starts_with("s.yaml:3:") && m.contains("`interval: 1ms` is shorter than 1s"), "{m}");
        let m = err("name: x\nworkload: {duration: 168h}\nfaults:\n  - {at: 1s, kind: kill, target: n2}\n  - {at: 0s, for: 500ms, every: 1s, kind: pause, target: n1}\n");
        assert!(
            m.starts_with("s.yaml:5:") && m.contains("expands to 604801 fault instances") && m.contains("faults[1] every 1s from 0s to 10080m: 604800"),
            "{m}"
        );
        assert!(m.contains("over the limit of 10000"), "{m}");
        let m = err("name: x\nworkload: {duration: 3h}\nnemesis: {kinds: [kill], interval: 1s, for: 500ms}\n");
        assert!(
            m.starts_with("s.yaml:3:") && m.contains("expands to 10799 fault instances") && m.contains("the nemesis every 1s from 1s to 180m: 10799"),
            "{m}"
        );
        // Just under the limit is accepted, and expands to what was counted.
        let s = parse("name: x\nworkload: {duration: 10000s}\nnemesis: {kinds: [kill], interval: 1s, for: 500ms, start: 0s}\n", "s.yaml").unwrap();
        assert_eq!(crate::schedule::plan(&s, 1).len(), 10_000);
    }

    #[test]
    fn likely_mistakes_are_warnings_and_impossible_overlaps_are_refused() {
        let s = parse("name: x\nworkload: {duration: 30s}\nfaults:\n  - {at: 25s, for: 10s, kind: pause, target: n1}\n  - {at: 2s, for: 3s, every: 10s, kind: kill, target: n2}\n  - {at: 1s, for: 5s, kind: stop, target: n3}\n", "s.yaml").unwrap();
        let w: Vec<String> = s.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w, ["s.yaml:4:5: warning: faults[0] heals at 35s, after the workload ends at 30s: it is healed at the end"], "{w:?}");
        let s = parse("name: x\nworkload: {duration: 30s}\nfaults:\n  - {at: 9s, for: 8s, every: 10s, kind: kill, target: n2}\n", "s.yaml").unwrap();
        assert!(s.warnings[0].msg.contains("faults[0] heals at 37s (its last repetition, #3 at 29s)"), "{:?}", s.warnings);
        // Two isolations of n1 at once: a warning; kill then pause on n2: refused.
        let s = parse("name: x\nfaults:\n  - {at: 5s, for: 10s, kind: partition, target: n1}\n  - {at: 8s, for: 10s, kind: partition, target: n1}\n  - {at: 8s, for: 2s, kind: pause, target: n1}\n", "s.yaml").unwrap();
        let w: Vec<&str> = s.warnings.iter().map(|w| w.msg.as_str()).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w.iter().any(|m| m.starts_with("faults[0] (partition from 5s) and faults[1] (partition from 8s) are both on n1 from 8s to 15s")), "{w:?}");
        assert!(s.warnings.iter().any(|w| w.at == "s.yaml:4:5" && w.msg.starts_with("faults[0] (partition from 5s) and faults[1]")), "{:?}", s.warnings);
        let m = err("name: x\nfaults:\n  - {at: 5s, for: 10s, kind: kill, target: n2}\n  - {at: 6s, for: 1s, kind: pause, target: n2}\n");
        assert!(m.starts_with("s.yaml:4:") && m.contains("are both on n2 from 6s to 7s") && m.contains("held by one of kill, stop and pause"), "{m}");
        let m = err("name: x\nworkload: {duration: 60s}\nfaults:\n  - {at: 1s, kind: stop, target: n3}\n  - {at: 50s, for: 1s, kind: kill, target: n3}\n");
        assert!(m.contains("faults[0] (stop from 1s) and faults[1] (kill from 50s) are both on n3 from 50s to 51s"), "{m}");
        // Back to back is not an overlap; other members and other targets are not compared.
        let s = parse("name: x\nfaults:\n  - {at: 5s, for: 5s, kind: kill, target: n2}\n  - {at: 10s, for: 1s, kind: pause, target: n2}\n  - {at: 5s, for: 5s, kind: kill, target: n3}\n  - {at: 5s, for: 5s, kind: kill, target: leader}\n", "s.yaml").unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        // A name longer than a run directory can carry.
        let m = err(&format!("name: {}\n", "a".repeat(5000)));
        assert!(m.starts_with("s.yaml:1:7:") && m.contains("name is 5000 characters long: at most 100"), "{}", &m[..200]);
        assert!(parse(&format!("name: {}\n", "a".repeat(100)), "s.yaml").is_ok());
    }

    #[test]
    fn op_sequences_that_cannot_work_are_refused() {
        // Removing every voter, by name or by role.
        let m = err("name: x\ncluster: {size: 2}\nops:\n  - {at: 1s, op: member-remove, target: n1}\n  - {at: 2s, op: member-remove, target: n2}\n");
        assert!(m.starts_with("s.yaml:5:") && m.contains("removes n2, the last voter"), "{m}");
        let m = err("name: x\ncluster: {size: 1}\nops:\n  - {at: 1s, op: member-remove, target: follower}\n");
        assert!(m.contains("would remove the last voter (`follower`)"), "{m}");
        // Promoting a learner never added, or a voter.
        let m = err("name: x\nops:\n  - {at: 2s, op: learner-promote}\n");
        assert!(m.starts_with("s.yaml:3:") && m.contains("has no learner to promote") && m.contains("learner: true"), "{m}");
        let m = err("name: x\nops:\n  - {at: 1s, op: member-add}\n  - {at: 2s, op: learner-promote, target: n4}\n");
        assert!(m.contains("promotes n4, which is a voter already"), "{m}");
        let m = err("name: x\nops:\n  - {at: 5s, op: learner-promote, target: n4}\n  - {at: 1s, op: member-add, learner: true}\n  - {at: 2s, op: member-add, learner: true}\n  - {at: 3s, op: learner-promote}\n");
        assert!(m.starts_with("s.yaml:6:") && m.contains("several learners to choose from (n4, n5)"), "{m}");
        // An op on a member removed by then.
        let m = err("name: x\nops:\n  - {at: 1s, op: member-remove, target: n3}\n  - {at: 5s, op: move-leader, target: n3}\n");
        assert!(m.starts_with("s.yaml:4:") && m.contains("names n3, which is removed by then (member-remove at 1s)"), "{m}");
        let m = err("name: x\nops:\n  - {at: 1s, op: member-remove, target: n2}\n  - {at: 3s, op: snapshot-save, target: n2}\n");
        assert!(m.contains("snapshot-save at 3s names n2, which is removed by then"), "{m}");
        // What can work is accepted: remove then add, a replace, a removal by role.
        parse("name: x\nops:\n  - {at: 1s, op: member-add, learner: true}\n  - {at: 2s, op: learner-promote}\n  - {at: 3s, op: member-remove, target: n1}\n  - {at: 4s, op: move-leader, target: n4}\n  - {at: 5s, op: member-replace, target: n2}\n  - {at: 6s, op: member-remove, target: follower}\n  - {at: 7s, op: defrag, target: n3}\n", "s.yaml").unwrap();
    }

    #[test]
    fn the_parsers_own_words_are_said_in_the_users_terms_with_the_line() {
        let m = err("name: a\n---\nname: b\n");
        assert!(m.starts_with("s.yaml:3:1: a second YAML document starts here") && !m.contains("from_str_multiple"), "{m}");
        let m = err("name: a\nworkload:\n  clients: 2\n  clients: 3\n");
        assert!(m.starts_with("s.yaml:4:3: key `clients` is given twice in the same mapping") && !m.contains("DuplicateKeyPolicy"), "{m}");
        let aliases = vec!["*b"; 3000].join(", ");
        let m = err(&format!("name: &b x\ncluster:\n  etcd:\n    extra_args: [{aliases}]\n"));
        assert!(m.starts_with("s.yaml:") && m.contains("expands 3000 aliases (`*name`) from 1 anchor(s)") && !m.contains("AliasAnchorRatio"), "{m}");
        let m = err("name: x\nworkload:\n  duration: 0s\n");
        assert!(m.starts_with("s.yaml:3:13: workload.duration is 0s: give at least 1s"), "{m}");
        let m = err("name: x\nworkload: {op_timeout: 1ms}\n");
        assert!(m.starts_with("s.yaml:2:") && m.contains("workload.op_timeout is 1ms"), "{m}");
        // "0 to 7 days" is the stated bound, and days are a unit.
        let s = parse("name: x\nworkload: {duration: 7d}\n", "s.yaml").unwrap();
        assert_eq!(s.workload.duration.0, Duration::from_secs(7 * 86_400));
        assert!(err("name: x\nworkload: {duration: 8d}\n").contains("out of range (0 to 7 days)"));
    }

    #[test]
    fn bad_values_are_explained() {
        assert!(err("name: X\n").contains("[a-z0-9-]+"));
        assert!(err("name: x\ncluster: {size: 9}\n").contains("1 to 7"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: kill, target: n5}\n").contains("n1..n3"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: kill, target: leadr}\n").contains("did you mean `leader`?"));
        assert!(err("name: x\nworkload: {duration: 10s}\nfaults:\n  - {at: 20s, kind: kill, target: leader}\n").contains("never run"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, for: 5s, every: 5s, kind: kill, target: leader}\n").contains("shorter than"));
        assert!(err("name: x\nfaults:\n  - {at: 1s, kind: kill, target: leader, mode: isolate}\n")
            .contains("`mode` does not apply to a `kill` fault (it is a parameter of partition, io-mistake, corrupt)"));
        assert!(err("name: x\nworkload: {duration: ten}\n").contains("duration"));
        let m = err("name: x\ncluster: {etcd: {heartbeat_interval: 500ms, election_timeout: 1s}}\n");
        assert!(m.starts_with("s.yaml:2:") && m.contains("5 times"), "{m}");
        assert!(err("name: x\nworkload: {reads: stale}\n").contains("linearizable or serializable"));
        assert!(err("name: [unclosed\n").starts_with("s.yaml:"));
    }

    #[test]
    fn nemesis_resolves_with_defaults() {
        let s = parse("name: x\nnemesis: {kinds: [partition, kill], interval: 10s}\n", "s.yaml").unwrap();
        let n = s.nemesis.unwrap();
        assert_eq!(n.kinds.iter().map(NemesisKind::name).collect::<Vec<_>>(), ["partition", "kill"]);
        assert_eq!(n.for_.0, Duration::from_secs(5));
        assert!(err("name: x\nnemesis: {kinds: [explode]}\n").contains("unknown nemesis kind"));
    }

    #[test]
    fn the_nemesis_draws_any_kind_given_with_its_parameters_and_a_bare_kind_needing_some_is_refused() {
        let s = parse(
            "name: x\nworkload: {duration: 60s}\nnemesis: {kinds: [cpu-stress, {kind: latency, delay: 100ms}, {kind: io-latency, ops: [fsync], delay: 50ms}], interval: 5s, for: 2s}\n",
            "s.yaml",
        )
        .unwrap();
        let n = s.nemesis.as_ref().unwrap();
        assert_eq!(n.kinds.iter().map(NemesisKind::name).collect::<Vec<_>>(), ["cpu-stress", "latency", "io-latency"]);
        // The disk layer is mounted for a disk fault the nemesis may draw.
        assert!(crate::fault::disk_layer_mode(&s.fault_kinds()).is_some());
        let kinds: std::collections::BTreeSet<&str> = crate::schedule::plan(&s, 7).iter().map(|p| p.kind.name()).collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        let m = err("name: x\nnemesis: {kinds: [latency]}\n");
        assert!(m.contains("without their parameters") && m.contains("{kind: latency, delay: ...}"), "{m}");
        assert!(err("name: x\nnemesis: {kinds: [{kind: latency}]}\n").contains("does nothing"));
        assert!(err("name: x\nnemesis: {kinds: [{kind: kill, at: 1s}]}\n").contains("takes no `at`"));
        assert!(err("name: x\nnemesis: {kinds: [{kind: kil}]}\n").contains("did you mean `kill`?"));
    }

    #[test]
    fn every_scenario_in_the_repository_reads_back_the_same_from_its_resolved_yaml() {
        let mut n = 0;
        for path in crate::scenario::shipped() {
            let s = load(&path).unwrap();
            let again = parse(&s.to_yaml(), "again.yaml").unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), s.to_yaml()));
            assert_eq!((&again.faults, &again.nemesis, &again.ops), (&s.faults, &s.nemesis, &s.ops), "{}", path.display());
            assert_eq!(again.workload.load, s.workload.load, "{}", path.display());
            n += 1;
        }
        assert!(n >= 20, "only {n} scenarios read");
        // Latency peers print back as member names.
        let s = parse("name: x\nfaults:\n  - {at: 1s, kind: latency, target: n1, delay: 10ms, peers: [n2]}\n", "s.yaml").unwrap();
        assert!(s.to_yaml().contains("n2"), "{}", s.to_yaml());
        assert_eq!(parse(&s.to_yaml(), "again.yaml").unwrap().faults, s.faults);
    }

    #[test]
    fn the_etcd_api_workloads_take_their_own_mix_and_refuse_what_their_checker_cannot_account_for() {
        let s = parse("name: x\nworkload: {kind: etcd, mix: {get: 1, txn: 3}}\n", "s.yaml").unwrap();
        let Load::Etcd(m) = s.workload.load else { panic!("{:?}", s.workload.load) };
        assert_eq!((m.get, m.txn, m.put), (0.25, 0.75, 0.0));
        let s = parse("name: x\nworkload: {kind: kubernetes}\n", "s.yaml").unwrap();
        assert_eq!(s.workload.load, Load::Kubernetes(KubernetesMix::DEFAULT));
        assert!(err("name: x\nworkload: {kind: etcd, mix: {read: 1}}\n").contains("the etcd workload has get, range"));
        assert!(err("name: x\nworkload: {kind: kubernetes, mix: {updat: 1}}\n").contains("did you mean `update`?"));
        assert_eq!(parse("name: x\nworkload: {kind: etcd, watch: true}\n", "s.yaml").unwrap().workload.watch.len(), 1);
        assert!(err("name: x\nworkload: {kind: etcd, duration: 10s}\nops:\n  - {at: 1s, op: compact}\n").contains("a `compact` share"));
        assert!(err("name: x\ncluster: {etcd: {quota_backend_bytes: 16MiB}}\nworkload: {kind: kubernetes, duration: 10s}\nops:\n  - {at: 1s, op: fill}\n")
            .contains("revisions the etcd model cannot account for"));
        assert!(err("name: x\ncluster: {attach: {compose_project: p}}\nworkload: {kind: etcd}\n").contains("a cluster of the run's own"));
        assert!(err("name: x\nworkload: {kind: etcdd}\n").contains("did you mean `etcd`?"));
    }

    #[test]
    fn a_bad_parameter_value_is_reported_at_its_own_line() {
        let m = err("name: x\nfaults:\n  - at: 1s\n    kind: latency\n    target: n1\n    delay: soon\n");
        assert!(m.starts_with("s.yaml:6:") && m.contains("`delay`"), "{m}");
        let m = err("name: x\nfaults:\n  - {at: 1s, kind: kill, target: n1, dealy: 1s}\n");
        assert!(m.contains("unknown key `dealy` (did you mean `delay`?)"), "{m}");
    }

    #[test]
    fn an_etcd_version_picks_its_image_and_excludes_binary_and_image() {
        let s = parse("name: x\ncluster: {etcd: {version: \"3.5.1\"}}\n", "s.yaml").unwrap();
        assert_eq!((s.cluster.etcd.version.as_deref(), s.cluster.etcd.image.as_str()), (Some("3.5.1"), "faultline/etcd:3.5.1"));
        // The resolved scenario (scenario.yaml of a run) reads back the same.
        assert_eq!(parse(&s.to_yaml(), "again.yaml").unwrap().cluster.etcd.version.as_deref(), Some("3.5.1"));
        assert!(err("name: x\ncluster: {etcd: {version: latest}}\n").contains("write it as `3.5.1`"));
        assert!(err("name: x\ncluster: {etcd: {version: \"3.5.1\", image: my/etcd:1}}\n").contains("give one"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: rolling-restart, etcd: {version: \"3.5.1\", binary: /x}}\n").contains("gives version and binary"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: rolling-restart, etcd: {version: \"3.5\"}}\n").contains("not an etcd version"));
    }

    #[test]
    fn a_mixed_cluster_names_one_version_per_member_and_reads_back_the_same() {
        let yaml = "name: x\ncluster: {size: 3, etcd: {versions: [\"3.4.23\", \"3.5.1\", \"3.5.1\"]}}\nops:\n  - {at: 1s, op: rolling-restart, etcd: {version: \"3.4.23\"}, expect: refused}\n";
        let s = parse(yaml, "s.yaml").unwrap();
        let e = &s.cluster.etcd;
        assert_eq!(e.versions, ["3.4.23", "3.5.1", "3.5.1"]);
        // The newest is what a member added at run time runs.
        assert_eq!((e.version.as_deref(), e.image.as_str()), (Some("3.5.1"), "faultline/etcd:3.5.1"));
        assert_eq!((e.version_of(0), e.image_of(0).as_str(), e.image_of(2).as_str()), (Some("3.4.23"), "faultline/etcd:3.4.23", "faultline/etcd:3.5.1"));
        assert_eq!(e.describe(), "etcd 3.4.23 (n1), 3.5.1 (n2, n3)");
        assert_eq!(s.ops[0].expect, OpExpect::Refused);
        let again = parse(&s.to_yaml(), "again.yaml").unwrap();
        assert_eq!((again.cluster.etcd.versions.clone(), again.ops.clone()), (e.versions.clone(), s.ops.clone()));
        assert!(err("name: x\ncluster: {size: 3, etcd: {versions: [\"3.4.23\", \"3.5.1\"]}}\n").contains("names 2 version(s) for a cluster of 3"));
        assert!(err("name: x\ncluster: {size: 1, etcd: {versions: [\"3.5.1\"], version: \"3.5.1\"}}\n").contains("both `versions` and `version`"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: defrag, expect: refused}\n").contains("applies to rolling-restart"));
        assert!(err("name: x\nops:\n  - {at: 1s, op: rolling-restart, expect: maybe}\n").contains("is not an op outcome"));
    }
}
