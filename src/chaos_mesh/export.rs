//! A faultline scenario out to Chaos Mesh: one `Workflow` whose entry runs every fault in
//! parallel, each a `Serial` of a `Suspend` (its offset) and its chaos (its length) — a
//! `Schedule` (`@every`) where the fault repeats. Fixed members become pods, roles become
//! Chaos Mesh modes as well as it can (said in `approximations`); what Chaos Mesh has no
//! kind for (ops, triggered faults, power loss, fsync lies, corruption at rest, CPU quotas)
//! is listed in `steps` for faultline's own runner. `faultline export chaos-mesh`
//! (`src/cmd/export.rs`) prints it.

use super::import::IO_METHODS;
use crate::error::Error;
use crate::scenario::{FaultSpec, Scenario, Target};
use crate::units::Span;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How the scenario's members are found in Kubernetes.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The namespace of etcd's pods (and of the workflow).
    pub namespace: String,
    /// The label that selects etcd's pods.
    pub label: (String, String),
    /// Member number → pod name (default `etcd-K-1`).
    pub pods: BTreeMap<u8, String>,
    /// Where etcd's data directory is mounted in its pods.
    pub volume_path: String,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { namespace: "default".into(), label: ("app".into(), "etcd".into()), pods: BTreeMap::new(), volume_path: "/var/lib/etcd".into() }
    }
}

/// The Workflow, and what it could not carry exactly.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The `Workflow` object.
    pub workflow: Value,
    /// Where Chaos Mesh approximates the scenario (a role, a mode), in words.
    pub approximations: Vec<String>,
    /// What faultline's own runner must do beside it (ops, faults Chaos Mesh has no kind for).
    pub steps: Vec<String>,
}

/// Export `s`.
pub fn export(s: &Scenario, opts: &ExportOptions) -> Result<Exported, Error> {
    let mut out = Exported { workflow: Value::Null, approximations: Vec::new(), steps: Vec::new() };
    let end = s.workload.duration.0;
    let mut faults: Vec<(String, FaultSpec)> = s.faults.iter().enumerate().map(|(i, f)| (format!("faults[{i}]"), f.clone())).collect();
    if s.nemesis.is_some() {
        // The nemesis's draws for the scenario's seed (or 0), each a fixed fault.
        for p in crate::schedule::plan(s, s.seed.unwrap_or(0)).into_iter().filter(|p| p.origin == "nemesis") {
            let f = FaultSpec { id: None, at: Span(p.from()), when: None, for_: p.heal_at().map(|h| Span(h.saturating_sub(p.from()))), until: None, within: None, every: None, target: p.target, kind: p.kind };
            faults.push((format!("nemesis #{}", p.id), f));
        }
        out.approximations.push(format!("the nemesis is written out as its draws for seed {}", s.seed.unwrap_or(0)));
    }
    let mut templates = Vec::new();
    let mut children = Vec::new();
    for (i, (origin, f)) in faults.iter().enumerate() {
        if f.when.is_some() || f.until.is_some() {
            out.steps.push(format!("{origin}: {} on {} waits for a trigger (`when`/`until`): faultline's runner only", f.kind, f.target));
            continue;
        }
        let Some((kind, spec)) = chaos(f, s, opts, origin, &mut out)? else { continue };
        let name = format!("fault-{i}");
        let length = f.for_.map(|d| d.0).unwrap_or(end.saturating_sub(f.at.0));
        let key = super::import::key_of(kind);
        let chaos = match f.every {
            Some(every) => {
                let mut inner = spec.clone();
                inner.insert("duration".into(), go(length).into());
                let mut schedule = Map::new();
                schedule.insert("schedule".into(), format!("@every {}", go(every.0)).into());
                schedule.insert("type".into(), kind.into());
                schedule.insert("historyLimit".into(), 1.into());
                schedule.insert("concurrencyPolicy".into(), "Forbid".into());
                schedule.insert(key.into(), Value::Object(inner));
                json!({"name": format!("{name}-chaos"), "templateType": "Schedule", "deadline": go(end.saturating_sub(f.at.0)), "schedule": schedule})
            }
            None => {
                let mut t = Map::new();
                t.insert("name".into(), format!("{name}-chaos").into());
                t.insert("templateType".into(), kind.into());
                t.insert("deadline".into(), go(length).into());
                t.insert(key.into(), Value::Object(spec));
                Value::Object(t)
            }
        };
        // A Schedule's first round is one period in: start it one period early.
        let wait = match f.every {
            Some(e) => f.at.0.checked_sub(e.0),
            None => Some(f.at.0),
        };
        let mut serial = Vec::new();
        match wait {
            Some(w) if !w.is_zero() => {
                templates.push(json!({"name": format!("{name}-wait"), "templateType": "Suspend", "deadline": go(w)}));
                serial.push(format!("{name}-wait"));
            }
            Some(_) => {}
            None => out.approximations.push(format!("{origin}: repeats every {} from {}; Chaos Mesh's first round comes one period in, at {}", f.every.map(|e| e.to_string()).unwrap_or_default(), f.at, f.every.map(|e| e.to_string()).unwrap_or_default())),
        }
        serial.push(format!("{name}-chaos"));
        templates.push(chaos);
        templates.push(json!({"name": name, "templateType": "Serial", "children": serial}));
        children.push(name);
    }
    for o in &s.ops {
        out.steps.push(format!("op {} at {}: faultline's runner only (Chaos Mesh has no kind for etcd operations)", o.op.name(), o.at));
    }
    templates.insert(0, json!({"name": "entry", "templateType": "Parallel", "children": children}));
    out.workflow = json!({
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": s.name, "namespace": opts.namespace},
        "spec": {"entry": "entry", "templates": templates},
    });
    Ok(out)
}

/// A span as Go writes a duration.
fn go(d: Duration) -> String {
    Span(d).to_string()
}

fn pct(v: Option<&Value>) -> Option<Value> {
    let s = v?.as_str()?.trim_end_matches('%').to_string();
    let n: f64 = s.parse().ok()?;
    Some(if n.fract() == 0.0 { Value::from(n as u64) } else { Value::from(n) })
}

fn pct_text(v: Option<&Value>) -> Option<String> {
    v?.as_str().map(|s| s.trim_end_matches('%').to_string())
}

/// The selector and mode for a target.
fn select(t: Target, s: &Scenario, opts: &ExportOptions, origin: &str, out: &mut Exported) -> Map<String, Value> {
    let mut m = Map::new();
    let labels = json!({"namespaces": [opts.namespace], "labelSelectors": {opts.label.0.clone(): opts.label.1.clone()}});
    let size = s.cluster.size as u64;
    match t {
        Target::Member(n) => {
            let pod = opts.pods.get(&n).cloned().unwrap_or_else(|| format!("etcd-{}", n - 1));
            m.insert("mode".into(), "one".into());
            m.insert("selector".into(), json!({"pods": {opts.namespace.clone(): [pod]}}));
            return m;
        }
        Target::Leader | Target::Follower => {
            out.approximations.push(format!("{origin}: `target: {t}` becomes `mode: one` (Chaos Mesh cannot select etcd's {t}): any member"));
            m.insert("mode".into(), "one".into());
        }
        Target::Random => {
            m.insert("mode".into(), "one".into());
        }
        Target::Minority => {
            m.insert("mode".into(), "fixed".into());
            m.insert("value".into(), ((size.saturating_sub(1)) / 2).max(1).to_string().into());
        }
        Target::Majority => {
            m.insert("mode".into(), "fixed".into());
            m.insert("value".into(), (size / 2 + 1).to_string().into());
        }
        Target::All => {
            m.insert("mode".into(), "all".into());
        }
    }
    m.insert("selector".into(), labels);
    m
}

/// A fault's Chaos Mesh kind and spec (`None`: a faultline-only step, recorded).
fn chaos(f: &FaultSpec, s: &Scenario, opts: &ExportOptions, origin: &str, out: &mut Exported) -> Result<Option<(&'static str, Map<String, Value>)>, Error> {
    let p = f.kind.to_map();
    let get = |k: &str| p.get(k).filter(|v| !v.is_null());
    let mut spec = select(f.target, s, opts, origin, out);
    let path = |p: Option<&Value>| match p.and_then(Value::as_str) {
        Some(rel) if !rel.is_empty() && rel != "**" => format!("{}/{rel}", opts.volume_path),
        _ => format!("{}/**/*", opts.volume_path),
    };
    let methods = |ops: Option<&Value>| -> Value {
        let ops: Vec<Value> = ops.and_then(Value::as_array).cloned().unwrap_or_default().into_iter().filter(|o| o.as_str().is_some_and(|o| IO_METHODS.contains(&o))).collect();
        Value::Array(ops)
    };
    let kind = match f.kind.name() {
        "io-latency" | "io-error" | "io-mistake" => {
            spec.insert("volumePath".into(), opts.volume_path.clone().into());
            spec.insert("path".into(), path(get("path")).into());
            spec.insert("percent".into(), pct(get("percent")).unwrap_or(Value::from(100)));
            match f.kind.name() {
                "io-latency" => {
                    spec.insert("action".into(), "latency".into());
                    spec.insert("delay".into(), get("delay").cloned().unwrap_or(Value::from("0s")));
                    spec.insert("methods".into(), methods(get("ops")));
                    if get("jitter").and_then(Value::as_str).is_some_and(|j| j != "0s") {
                        out.approximations.push(format!("{origin}: IOChaos has no jitter: the delay is fixed"));
                    }
                }
                "io-error" => {
                    spec.insert("action".into(), "fault".into());
                    let errno = get("errno").and_then(Value::as_str).unwrap_or("EIO");
                    let n = crate::fault::disk::parse_errno(errno).map_err(|e| Error::BadInput(format!("{origin}: {e}")))?;
                    spec.insert("errno".into(), n.into());
                    spec.insert("methods".into(), methods(get("ops")));
                }
                _ => {
                    spec.insert("action".into(), "mistake".into());
                    let mode = get("mode").and_then(Value::as_str).unwrap_or("bitflip");
                    let filling = if mode == "zero" { "zero" } else { "random" };
                    if mode == "bitflip" {
                        out.approximations.push(format!("{origin}: Chaos Mesh has no bit flips: random bytes instead"));
                    }
                    let bytes = get("bytes").and_then(Value::as_u64).unwrap_or(1);
                    spec.insert("mistake".into(), json!({"filling": filling, "maxOccurrences": 1, "maxLength": bytes}));
                    spec.insert("methods".into(), json!(["read"]));
                }
            }
            "IOChaos"
        }
        "latency" => {
            spec.insert("direction".into(), "to".into());
            let delay = get("delay").and_then(Value::as_str).filter(|d| *d != "0s");
            let mut netem = 0;
            if let Some(d) = delay {
                let mut m = Map::new();
                m.insert("latency".into(), d.into());
                if let Some(j) = get("jitter").and_then(Value::as_str) {
                    m.insert("jitter".into(), j.into());
                }
                m.insert("correlation".into(), pct_text(get("correlation")).unwrap_or_else(|| "0".into()).into());
                if let Some(r) = pct_text(get("reorder")).filter(|r| r != "0") {
                    m.insert("reorder".into(), json!({"reorder": r, "correlation": "0", "gap": 0}));
                }
                spec.insert("delay".into(), Value::Object(m));
                netem += 1;
            }
            for k in ["loss", "duplicate"] {
                if let Some(v) = pct_text(get(k)).filter(|v| v != "0") {
                    spec.insert(k.into(), json!({k: v, "correlation": "0"}));
                    netem += 1;
                }
            }
            let action = match (netem, delay.is_some()) {
                (1, true) => "delay",
                (1, false) if spec.contains_key("loss") => "loss",
                (1, false) => "duplicate",
                _ => "netem",
            };
            spec.insert("action".into(), action.into());
            if get("peers").and_then(Value::as_array).is_some_and(|p| !p.is_empty()) || get("ports").and_then(Value::as_str).is_some_and(|p| p != "all") {
                out.approximations.push(format!("{origin}: the shaping applies to all the member's traffic (Chaos Mesh's netem here has no peer or port filter)"));
            }
            "NetworkChaos"
        }
        "bandwidth" => {
            spec.insert("action".into(), "bandwidth".into());
            spec.insert("direction".into(), "to".into());
            let rate = get("rate").and_then(Value::as_str).unwrap_or("10mbit");
            spec.insert("bandwidth".into(), json!({"rate": rate, "limit": 20_971_520, "buffer": 10_000}));
            "NetworkChaos"
        }
        "partition" => {
            let mode = get("mode").and_then(Value::as_str).unwrap_or("isolate");
            let direction = match mode {
                "one-way" => "to",
                "isolate" => "both",
                other => {
                    out.approximations.push(format!("{origin}: partition mode `{other}` becomes the target isolated from every other member"));
                    "both"
                }
            };
            spec.insert("action".into(), "partition".into());
            spec.insert("direction".into(), direction.into());
            spec.insert("target".into(), json!({"mode": "all", "selector": {"namespaces": [opts.namespace], "labelSelectors": {opts.label.0.clone(): opts.label.1.clone()}}}));
            "NetworkChaos"
        }
        "kill"
            if get("on").is_none()
                && get("torn").is_none()
                && get("lose_unsynced").and_then(Value::as_bool) != Some(true)
                && get("lose_dirops").and_then(Value::as_bool) != Some(true) =>
        {
            spec.insert("action".into(), "pod-kill".into());
            spec.insert("gracePeriod".into(), 0.into());
            "PodChaos"
        }
        "stop" | "pause" => {
            if f.kind.name() == "pause" {
                out.approximations.push(format!("{origin}: Chaos Mesh cannot freeze a process: `pause` becomes pod-failure (the pod's containers replaced by a pause image)"));
            }
            spec.insert("action".into(), "pod-failure".into());
            "PodChaos"
        }
        "cpu-stress" => {
            let workers = get("workers").and_then(Value::as_u64).unwrap_or(1);
            let load = pct(get("load")).unwrap_or(Value::from(100));
            spec.insert("stressors".into(), json!({"cpu": {"workers": workers, "load": load}}));
            "StressChaos"
        }
        "mem-stress" => {
            let size = get("size").and_then(Value::as_str).unwrap_or("256MiB").replace("GiB", "GB").replace("MiB", "MB").replace("KiB", "KB");
            spec.insert("stressors".into(), json!({"memory": {"workers": 1, "size": size}}));
            "StressChaos"
        }
        other => {
            out.steps.push(format!("{origin}: {other} on {} at {}: Chaos Mesh has no kind for it (faultline's runner only)", f.target, f.at));
            return Ok(None);
        }
    };
    Ok(Some((kind, spec)))
}
