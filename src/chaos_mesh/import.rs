//! Chaos Mesh manifests in: IOChaos, NetworkChaos, PodChaos, StressChaos, Schedule and
//! Workflow objects turned into the `faults:` of a faultline scenario. Every field is either
//! mapped, named in a note as meaningless here (Chaos Mesh's bookkeeping), or refused with
//! the field and the reason — never dropped silently. `faultline import chaos-mesh`
//! (`src/cmd/import.rs`) prints the scenario.

use crate::error::Error;
use crate::units::Span;
use serde_json::{Map, Value};
use std::time::Duration;

/// What the manifests gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The faults, each a `faults:` entry (`at`, `for`, `every`, `kind`, `target`, parameters).
    pub faults: Vec<Map<String, Value>>,
    /// Fields that mean nothing on faultline's cluster, and approximations, in words.
    pub notes: Vec<String>,
    /// A scenario name from the first object's `metadata.name`.
    pub name: String,
    /// Members the manifests name (`etcd-2` is the third); at least 3.
    pub size: u32,
    /// When the last fault ends (three rounds of a repeating one).
    pub end: Duration,
}

/// Where an object came from, for messages: `file (Kind name)`.
struct At {
    origin: String,
}

impl At {
    fn refuse(&self, field: &str, why: impl std::fmt::Display) -> Error {
        Error::BadInput(format!("{}: `{field}`: {why}; nothing was imported (docs/chaos-mesh.md lists what maps)", self.origin))
    }
}

/// Import the YAML documents of `files` (name, text), in order.
pub fn import(files: &[(String, String)]) -> Result<Imported, Error> {
    let mut out = Imported { faults: Vec::new(), notes: Vec::new(), name: String::new(), size: 3, end: Duration::ZERO };
    for (file, text) in files {
        for (i, doc) in documents(text).into_iter().enumerate() {
            let v: Value = serde_saphyr::from_str(doc).map_err(|e| Error::BadInput(format!("{file}: document {}: not YAML: {e}", i + 1)))?;
            if v.is_null() {
                continue;
            }
            object(file, &v, &mut out)?;
        }
    }
    if out.faults.is_empty() {
        return Err(Error::BadInput("the manifests hold no Chaos Mesh object (IOChaos, NetworkChaos, PodChaos, StressChaos, Schedule, Workflow)".into()));
    }
    Ok(out)
}

/// The documents of a multi-document YAML text.
fn documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            docs.push(&text[start..pos]);
            start = pos + line.len();
        }
        pos += line.len();
    }
    docs.push(&text[start..]);
    docs.into_iter().filter(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))).collect()
}

fn object(file: &str, v: &Value, out: &mut Imported) -> Result<(), Error> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("unnamed");
    let at = At { origin: if kind.is_empty() { format!("{file} (a document with no `kind`)") } else { format!("{file} ({kind} {name})") } };
    match v.get("apiVersion").and_then(Value::as_str) {
        Some(a) if a.starts_with("chaos-mesh.org/") => {}
        other => return Err(at.refuse("apiVersion", format!("{other:?} is not Chaos Mesh's (chaos-mesh.org/v1alpha1)"))),
    }
    if out.name.is_empty() {
        out.name = scenario_name(name);
    }
    let spec = v.get("spec").and_then(Value::as_object).ok_or_else(|| at.refuse("spec", "missing"))?;
    match kind {
        "Schedule" => schedule(&at, spec, Duration::ZERO, out),
        "Workflow" => workflow(&at, spec, out),
        _ => {
            let faults = chaos(&at, kind, spec, out)?;
            place(faults, Duration::ZERO, duration(&at, spec, "duration")?, None, out);
            Ok(())
        }
    }
}

/// `io-latency-example` as a scenario name (`[a-z0-9-]`).
fn scenario_name(s: &str) -> String {
    let n: String = s.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let n = n.trim_matches('-').to_string();
    if n.is_empty() {
        "imported".into()
    } else {
        n
    }
}

/// Put faults at `at` for `for_` (none: to the end), repeating `every`.
fn place(faults: Vec<Map<String, Value>>, at: Duration, for_: Option<Duration>, every: Option<Duration>, out: &mut Imported) {
    for mut f in faults {
        let mut m = Map::new();
        m.insert("at".into(), Span(at).to_string().into());
        if let Some(d) = for_ {
            m.insert("for".into(), Span(d).to_string().into());
        }
        if let Some(e) = every {
            m.insert("every".into(), Span(e).to_string().into());
        }
        m.append(&mut f);
        out.faults.push(m);
    }
    let one = at + for_.unwrap_or(Duration::from_secs(30));
    out.end = out.end.max(every.map_or(one, |e| one + e * 2));
}

/// The keys of `spec` must be among `mapped` (carried over) or `ignored` (Chaos Mesh's own
/// bookkeeping, said in a note); anything else is refused.
fn only(at: &At, spec: &Map<String, Value>, mapped: &[&str], ignored: &[&str], out: &mut Imported) -> Result<(), Error> {
    for k in spec.keys() {
        if ignored.contains(&k.as_str()) {
            out.notes.push(format!("{}: `{k}` has no meaning on faultline's cluster and was left out", at.origin));
        } else if !mapped.contains(&k.as_str()) {
            return Err(at.refuse(&format!("spec.{k}"), "faultline has nothing to map it to"));
        }
    }
    Ok(())
}

/// Fields every chaos object may carry besides its own.
const COMMON: [&str; 4] = ["mode", "value", "selector", "duration"];
/// Chaos Mesh's bookkeeping, meaningless here.
const BOOKKEEPING: [&str; 3] = ["containerNames", "remoteCluster", "historyLimit"];

/// One chaos object's spec as faults (without `at`/`for`).
fn chaos(at: &At, kind: &str, spec: &Map<String, Value>, out: &mut Imported) -> Result<Vec<Map<String, Value>>, Error> {
    let target = target(at, spec, out)?;
    let mut faults = match kind {
        "IOChaos" => vec![io(at, spec, out)?],
        "NetworkChaos" => vec![network(at, spec, out)?],
        "PodChaos" => vec![pod(at, spec, out)?],
        "StressChaos" => stress(at, spec, out)?,
        "TimeChaos" => return Err(at.refuse("kind", "a clock skew needs a clock per member, and faultline's members share this machine's")),
        "" => return Err(at.refuse("kind", "missing")),
        other => return Err(at.refuse("kind", format!("{other} has no faultline kind (faultline maps IOChaos, NetworkChaos, PodChaos, StressChaos, Schedule, Workflow)"))),
    };
    for f in &mut faults {
        f.insert("target".into(), target.clone().into());
    }
    Ok(faults)
}

fn text<'a>(spec: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    spec.get(key).and_then(Value::as_str)
}

/// A Chaos Mesh number that may be written as a string (`"25"`, `50`).
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').parse().ok(),
        _ => None,
    }
}

fn percent(at: &At, spec: &Map<String, Value>, key: &str, field: &str) -> Result<Option<String>, Error> {
    match spec.get(key) {
        None => Ok(None),
        v => match number(v) {
            Some(p) if (0.0..=100.0).contains(&p) => Ok(Some(format!("{p}%"))),
            _ => Err(at.refuse(field, "not a percentage from 0 to 100")),
        },
    }
}

/// A Go duration (`400s`, `10m`, `1h30m`, `1.5s`, `100ms`).
pub fn go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (mut total, mut rest) = (0f64, s);
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(n);
        let u = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(u);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += num.parse::<f64>().ok()? * scale;
        rest = next;
    }
    Some(Duration::from_secs_f64(total))
}

fn duration(at: &At, spec: &Map<String, Value>, key: &str) -> Result<Option<Duration>, Error> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_str().and_then(go_duration).map(Some).ok_or_else(|| at.refuse(&format!("spec.{key}"), format!("{v} is not a duration such as 400s or 10m"))),
    }
}

/// `etcd-2` → member 3; a pod name that is not an etcd member's is refused.
fn member_of(at: &At, pod: &str, out: &mut Imported) -> Result<u32, Error> {
    let ordinal = pod.rsplit('-').next().and_then(|n| n.parse::<u32>().ok());
    match ordinal {
        Some(k) if pod.contains("etcd") && k < 7 => {
            out.size = out.size.max(k + 1);
            Ok(k + 1)
        }
        _ => Err(at.refuse("spec.selector.pods", format!("`{pod}` is not an etcd member's pod (etcd-0 .. etcd-6, by StatefulSet ordinal)"))),
    }
}

/// The selector and mode as a faultline target.
fn target(at: &At, spec: &Map<String, Value>, out: &mut Imported) -> Result<String, Error> {
    let mut pods = Vec::new();
    if let Some(sel) = spec.get("selector").and_then(Value::as_object) {
        for (k, v) in sel {
            match k.as_str() {
                "namespaces" => {}
                "labelSelectors" => {
                    let labels = v.as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>()).unwrap_or_default();
                    if let Some(l) = labels.iter().find(|l| !l.contains("etcd")) {
                        return Err(at.refuse("spec.selector.labelSelectors", format!("`{l}` does not select etcd's pods: faultline faults only its etcd members")));
                    }
                }
                "pods" => {
                    for names in v.as_object().into_iter().flat_map(|m| m.values()) {
                        for p in names.as_array().into_iter().flatten().filter_map(Value::as_str) {
                            pods.push(member_of(at, p, out)?);
                        }
                    }
                }
                other => return Err(at.refuse(&format!("spec.selector.{other}"), "faultline picks members by pod name (`pods`) or etcd's labels only")),
            }
        }
    }
    pods.sort_unstable();
    pods.dedup();
    let mode = text(spec, "mode").ok_or_else(|| at.refuse("spec.mode", "missing: one, all, fixed, fixed-percent or random-max-percent"))?;
    let value = number(spec.get("value"));
    Ok(match (mode, pods.as_slice()) {
        ("one", [n]) | ("all", [n]) => format!("n{n}"),
        ("fixed", [n]) if value.unwrap_or(1.0) == 1.0 => format!("n{n}"),
        (_, [_, _, ..]) => return Err(at.refuse("spec.selector.pods", "names several pods: a faultline fault hits one named member, or a role (leader, follower, minority, majority, all)")),
        ("one", []) => "random".into(),
        ("all", []) => "all".into(),
        ("fixed", []) => match value.map(|v| v as u32) {
            Some(1) | None => "random".into(),
            Some(k) if k >= out.size => "all".into(),
            Some(k) if 2 * k > out.size => "majority".into(),
            Some(_) => "minority".into(),
        },
        ("fixed-percent" | "random-max-percent", []) => {
            out.notes.push(format!("{}: `mode: {mode}` becomes `target: minority` (a minority drawn from the seed)", at.origin));
            "minority".into()
        }
        (other, _) => return Err(at.refuse("spec.mode", format!("`{other}` is not a Chaos Mesh mode (one, all, fixed, fixed-percent, random-max-percent)"))),
    })
}

/// IOChaos methods faultline's disk layer sees.
pub(super) const IO_METHODS: [&str; 15] = ["read", "write", "fsync", "open", "create", "flush", "rename", "unlink", "mkdir", "readdir", "getattr", "setattr", "fallocate", "fsyncdir", "statfs"];

fn io(at: &At, spec: &Map<String, Value>, out: &mut Imported) -> Result<Map<String, Value>, Error> {
    let own = ["action", "delay", "errno", "percent", "path", "methods", "volumePath", "mistake"];
    only(at, spec, &[&COMMON[..], &own[..]].concat(), &BOOKKEEPING, out)?;
    let mut f = Map::new();
    let action = text(spec, "action").ok_or_else(|| at.refuse("spec.action", "missing"))?;
    match action {
        "latency" => {
            f.insert("kind".into(), "io-latency".into());
            let d = duration(at, spec, "delay")?.ok_or_else(|| at.refuse("spec.delay", "a latency needs a delay"))?;
            f.insert("delay".into(), Span(d).to_string().into());
        }
        "fault" => {
            f.insert("kind".into(), "io-error".into());
            let errno = number(spec.get("errno")).map(|n| n as i32).unwrap_or(libc::EIO);
            f.insert("errno".into(), errno_name(errno).into());
        }
        "mistake" => {
            f.insert("kind".into(), "io-mistake".into());
            let m = spec.get("mistake").and_then(Value::as_object).ok_or_else(|| at.refuse("spec.mistake", "missing: filling, maxOccurrences, maxLength"))?;
            let mode = match text(m, "filling") {
                Some("zero") => "zero",
                Some("random") => "random",
                other => return Err(at.refuse("spec.mistake.filling", format!("{other:?}: zero or random"))),
            };
            f.insert("mode".into(), mode.into());
            if let Some(n) = number(m.get("maxLength")) {
                f.insert("bytes".into(), (n as u64).into());
            }
            if m.contains_key("maxOccurrences") {
                out.notes.push(format!("{}: `mistake.maxOccurrences` (mistakes per call) becomes one run of `bytes` per read", at.origin));
            }
        }
        other => return Err(at.refuse("spec.action", format!("`{other}` has no faultline kind (latency, fault and mistake do)"))),
    }
    if let Some(p) = percent(at, spec, "percent", "spec.percent")? {
        f.insert("percent".into(), p.into());
    }
    if action != "mistake" && !spec.contains_key("methods") {
        // No methods: Chaos Mesh acts on every call.
        f.insert("ops".into(), IO_METHODS.iter().map(|m| Value::from(*m)).collect::<Vec<_>>().into());
    }
    if let Some(ms) = spec.get("methods").and_then(Value::as_array) {
        let mut ops = Vec::new();
        for m in ms.iter().filter_map(Value::as_str) {
            if !IO_METHODS.contains(&m) {
                return Err(at.refuse("spec.methods", format!("`{m}`: faultline's disk layer acts on {}", IO_METHODS.join(", "))));
            }
            if action != "mistake" {
                ops.push(Value::from(m));
            } else if m != "read" {
                return Err(at.refuse("spec.methods", "a mistake changes what reads return: `read` only"));
            }
        }
        if !ops.is_empty() {
            f.insert("ops".into(), ops.into());
        }
    }
    let volume = text(spec, "volumePath").unwrap_or("").trim_end_matches('/');
    let path = text(spec, "path").unwrap_or("");
    let rel = if volume.is_empty() { path.trim_start_matches('/') } else { path.strip_prefix(volume).map(|p| p.trim_start_matches('/')).unwrap_or(path) };
    if rel.starts_with('/') || (!volume.is_empty() && !path.is_empty() && !path.starts_with(volume)) {
        return Err(at.refuse("spec.path", format!("`{path}` is not under the volume `{volume}` (etcd's data directory)")));
    }
    match rel {
        "" | "*" | "**" | "**/*" => {
            if action == "mistake" {
                f.insert("path".into(), "**".into());
            }
        }
        p => {
            f.insert("path".into(), p.into());
        }
    }
    Ok(f)
}

fn errno_name(n: i32) -> String {
    crate::fault::disk::errno_name(n)
}

fn network(at: &At, spec: &Map<String, Value>, out: &mut Imported) -> Result<Map<String, Value>, Error> {
    let own = ["action", "direction", "target", "delay", "loss", "duplicate", "corrupt", "bandwidth"];
    only(at, spec, &[&COMMON[..], &own[..]].concat(), &BOOKKEEPING, out)?;
    let action = text(spec, "action").ok_or_else(|| at.refuse("spec.action", "missing"))?;
    let direction = text(spec, "direction").unwrap_or("to");
    if let Some(t) = spec.get("target").and_then(Value::as_object) {
        match t.get("mode").and_then(Value::as_str) {
            Some("all") if t.get("selector").and_then(|s| s.get("pods")).is_none() => {}
            _ => return Err(at.refuse("spec.target", "faultline cuts or shapes a member's traffic to all the others: give no target, or `mode: all` of etcd's pods")),
        }
    }
    let mut f = Map::new();
    let sub = |k: &str| spec.get(k).and_then(Value::as_object);
    match action {
        "partition" => {
            f.insert("kind".into(), "partition".into());
            let mode = match direction {
                "both" => "isolate",
                "to" => "one-way",
                _ => return Err(at.refuse("spec.direction", "`from` (the targets stop hearing the others) has no faultline partition mode; `both` is isolate, `to` is one-way")),
            };
            f.insert("mode".into(), mode.into());
            return Ok(f);
        }
        "bandwidth" => {
            f.insert("kind".into(), "bandwidth".into());
            let b = sub("bandwidth").ok_or_else(|| at.refuse("spec.bandwidth", "missing"))?;
            let rate = text(b, "rate").ok_or_else(|| at.refuse("spec.bandwidth.rate", "missing"))?;
            f.insert("rate".into(), bandwidth_rate(rate).ok_or_else(|| at.refuse("spec.bandwidth.rate", format!("`{rate}` is not a rate such as 1mbps or 10mbit")))?.into());
            for k in b.keys().filter(|k| k.as_str() != "rate") {
                out.notes.push(format!("{}: `bandwidth.{k}` (tbf's queue) is faultline's own choice and was left out", at.origin));
            }
            return Ok(f);
        }
        "delay" | "loss" | "duplicate" | "netem" => {}
        "corrupt" => return Err(at.refuse("spec.action", "faultline's shaping delays, drops, duplicates and reorders packets; it does not corrupt them")),
        other => return Err(at.refuse("spec.action", format!("`{other}` has no faultline kind"))),
    }
    if direction != "to" {
        return Err(at.refuse("spec.direction", "faultline shapes a member's outgoing traffic: `to`"));
    }
    f.insert("kind".into(), "latency".into());
    if sub("corrupt").is_some() {
        return Err(at.refuse("spec.corrupt", "faultline's shaping does not corrupt packets"));
    }
    if let Some(d) = sub("delay") {
        let latency = text(d, "latency").and_then(go_duration).ok_or_else(|| at.refuse("spec.delay.latency", "missing or not a duration"))?;
        f.insert("delay".into(), Span(latency).to_string().into());
        if let Some(j) = text(d, "jitter").and_then(go_duration) {
            f.insert("jitter".into(), Span(j).to_string().into());
        }
        if let Some(c) = percent(at, d, "correlation", "spec.delay.correlation")? {
            f.insert("correlation".into(), c.into());
        }
        if let Some(r) = d.get("reorder").and_then(Value::as_object) {
            if let Some(p) = percent(at, r, "reorder", "spec.delay.reorder.reorder")? {
                f.insert("reorder".into(), p.into());
            }
        }
    }
    for (k, field) in [("loss", "loss"), ("duplicate", "duplicate")] {
        if let Some(m) = sub(k) {
            if let Some(p) = percent(at, m, field, &format!("spec.{k}.{field}"))? {
                f.insert(k.into(), p.into());
            }
        }
    }
    if f.len() == 1 {
        return Err(at.refuse("spec", "a netem action with no delay, loss or duplicate does nothing"));
    }
    Ok(f)
}

/// tc's rates: `1mbps` (bytes) → `8mbit`; `10mbit` as it is.
fn bandwidth_rate(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_lowercase();
    for (unit, bits) in [("gbps", 8_000_000_000f64), ("mbps", 8_000_000.0), ("kbps", 8_000.0), ("bps", 8.0), ("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)] {
        if let Some(n) = s.strip_suffix(unit).and_then(|n| n.parse::<f64>().ok()) {
            let b = (n * bits).round() as u64;
            return Some(if b % 1_000_000 == 0 { format!("{}mbit", b / 1_000_000) } else { format!("{}kbit", (b / 1_000).max(8)) });
        }
    }
    None
}

fn pod(at: &At, spec: &Map<String, Value>, out: &mut Imported) -> Result<Map<String, Value>, Error> {
    only(at, spec, &[&COMMON[..], &["action", "gracePeriod"][..]].concat(), &BOOKKEEPING, out)?;
    let mut f = Map::new();
    match text(spec, "action") {
        Some("pod-kill") if number(spec.get("gracePeriod")).unwrap_or(0.0) > 0.0 => {
            out.notes.push(format!("{}: pod-kill with a grace period is a `stop` (SIGTERM); Kubernetes restarts the pod, faultline restarts the member at the fault's end", at.origin));
            f.insert("kind".into(), "stop".into());
        }
        Some("pod-kill" | "container-kill") => {
            f.insert("kind".into(), "kill".into());
        }
        Some("pod-failure") => {
            out.notes.push(format!("{}: pod-failure (the pod's containers replaced by a pause image) is a `stop` for its duration", at.origin));
            f.insert("kind".into(), "stop".into());
        }
        other => return Err(at.refuse("spec.action", format!("{other:?}: pod-kill, container-kill or pod-failure"))),
    }
    Ok(f)
}

fn stress(at: &At, spec: &Map<String, Value>, out: &mut Imported) -> Result<Vec<Map<String, Value>>, Error> {
    only(at, spec, &[&COMMON[..], &["stressors"][..]].concat(), &BOOKKEEPING, out)?;
    if spec.contains_key("stressngStressors") {
        return Err(at.refuse("spec.stressngStressors", "stress-ng options have no faultline equivalent"));
    }
    let s = spec.get("stressors").and_then(Value::as_object).ok_or_else(|| at.refuse("spec.stressors", "missing: cpu or memory"))?;
    let mut faults = Vec::new();
    for (k, v) in s {
        let m = v.as_object().ok_or_else(|| at.refuse(&format!("spec.stressors.{k}"), "not a map"))?;
        let mut f = Map::new();
        match k.as_str() {
            "cpu" => {
                f.insert("kind".into(), "cpu-stress".into());
                f.insert("workers".into(), (number(m.get("workers")).unwrap_or(1.0) as u64).into());
                if let Some(l) = number(m.get("load")) {
                    f.insert("load".into(), format!("{l}%").into());
                }
            }
            "memory" => {
                f.insert("kind".into(), "mem-stress".into());
                let size = text(m, "size").ok_or_else(|| at.refuse("spec.stressors.memory.size", "missing"))?;
                f.insert("size".into(), memory_size(size).ok_or_else(|| at.refuse("spec.stressors.memory.size", format!("`{size}`: give e.g. 256MB or 1GB (a percentage of memory has no meaning here)")))?.into());
                if number(m.get("workers")).unwrap_or(1.0) > 1.0 {
                    out.notes.push(format!("{}: memory `workers` become one holder of the whole `size`", at.origin));
                }
            }
            other => return Err(at.refuse(&format!("spec.stressors.{other}"), "cpu and memory only")),
        }
        faults.push(f);
    }
    Ok(faults)
}

/// `256MB`, `1GB`, `512MiB` as faultline's size.
fn memory_size(s: &str) -> Option<String> {
    let s = s.trim();
    for (unit, to) in [("GiB", "GiB"), ("MiB", "MiB"), ("KiB", "KiB"), ("GB", "GiB"), ("MB", "MiB"), ("KB", "KiB")] {
        if let Some(n) = s.strip_suffix(unit).and_then(|n| n.trim().parse::<u64>().ok()) {
            return Some(format!("{n}{to}"));
        }
    }
    None
}

/// The chaos kinds a Schedule or a Workflow template names, and the key of their spec.
const EMBEDDED: [(&str, &str); 5] =
    [("IOChaos", "ioChaos"), ("NetworkChaos", "networkChaos"), ("PodChaos", "podChaos"), ("StressChaos", "stressChaos"), ("TimeChaos", "timeChaos")];

/// The key of a chaos kind's spec inside a Schedule or a Workflow template (`ioChaos`).
pub(super) fn key_of(kind: &str) -> &'static str {
    EMBEDDED.iter().find(|(k, _)| *k == kind).map(|(_, key)| *key).unwrap_or("")
}

fn embedded<'a>(at: &At, kind: &str, holder: &'a Map<String, Value>) -> Result<&'a Map<String, Value>, Error> {
    let key = EMBEDDED.iter().find(|(k, _)| *k == kind).map(|(_, key)| *key).ok_or_else(|| at.refuse("type", format!("`{kind}` has no faultline kind")))?;
    holder.get(key).and_then(Value::as_object).ok_or_else(|| at.refuse(key, "missing: the chaos to schedule"))
}

/// A Schedule at offset `base`: its chaos every `@every` period (the first one period in, as
/// Chaos Mesh starts it).
fn schedule(at: &At, spec: &Map<String, Value>, base: Duration, out: &mut Imported) -> Result<(), Error> {
    let kind = text(spec, "type").ok_or_else(|| at.refuse("spec.type", "missing"))?;
    let key = EMBEDDED.iter().find(|(k, _)| *k == kind).map(|(_, key)| *key).unwrap_or("");
    only(at, spec, &["schedule", "type", key], &["historyLimit", "concurrencyPolicy", "startingDeadlineSeconds"], out)?;
    let cron = text(spec, "schedule").ok_or_else(|| at.refuse("spec.schedule", "missing"))?;
    let every = cron
        .strip_prefix("@every ")
        .and_then(go_duration)
        .ok_or_else(|| at.refuse("spec.schedule", format!("`{cron}`: a time of day means nothing in a run; faultline repeats `@every <duration>`")))?;
    let inner = embedded(at, kind, spec)?;
    let faults = chaos(at, kind, inner, out)?;
    let for_ = duration(at, inner, "duration")?;
    if for_.is_some_and(|d| d >= every) {
        return Err(at.refuse("spec.schedule", "each round lasts as long as the period or longer: Chaos Mesh's concurrencyPolicy would skip rounds; give a shorter duration"));
    }
    place(faults, base + every, for_, Some(every), out);
    Ok(())
}

fn workflow(at: &At, spec: &Map<String, Value>, out: &mut Imported) -> Result<(), Error> {
    only(at, spec, &["entry", "templates"], &[], out)?;
    let entry = text(spec, "entry").ok_or_else(|| at.refuse("spec.entry", "missing"))?;
    let templates: Vec<&Map<String, Value>> = spec.get("templates").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object).collect();
    let find = |name: &str| templates.iter().copied().find(|t| text(t, "name") == Some(name));
    fn walk<'a>(at: &At, name: &str, start: Duration, find: &dyn Fn(&str) -> Option<&'a Map<String, Value>>, depth: u32, out: &mut Imported) -> Result<Duration, Error> {
        let t = find(name).ok_or_else(|| at.refuse("spec.templates", format!("no template named `{name}`")))?;
        if depth > 32 {
            return Err(at.refuse("spec.templates", "templates nest more than 32 deep (a cycle?)"));
        }
        let field = format!("template {name}");
        let deadline = duration(at, t, "deadline")?;
        let kind = text(t, "templateType").ok_or_else(|| at.refuse(&field, "missing templateType"))?;
        let children: Vec<&str> = t.get("children").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        Ok(match kind {
            "Serial" => {
                let mut t = start;
                for c in children {
                    t += walk(at, c, t, find, depth + 1, out)?;
                }
                deadline.unwrap_or(t - start).min(t - start)
            }
            "Parallel" => {
                let mut longest = Duration::ZERO;
                for c in children {
                    longest = longest.max(walk(at, c, start, find, depth + 1, out)?);
                }
                deadline.map_or(longest, |d| d.min(longest))
            }
            "Suspend" => deadline.ok_or_else(|| at.refuse(&field, "a Suspend needs its deadline"))?,
            "Schedule" => {
                let s = t.get("schedule").and_then(Value::as_object).ok_or_else(|| at.refuse(&field, "missing schedule"))?;
                schedule(at, s, start, out)?;
                deadline.ok_or_else(|| at.refuse(&field, "a Schedule in a workflow needs its deadline"))?
            }
            chaos_kind if EMBEDDED.iter().any(|(k, _)| *k == chaos_kind) => {
                let inner = embedded(at, chaos_kind, t)?;
                let faults = chaos(at, chaos_kind, inner, out)?;
                let for_ = deadline.or(duration(at, inner, "duration")?).ok_or_else(|| at.refuse(&field, "a chaos template needs a deadline"))?;
                place(faults, start, Some(for_), None, out);
                for_
            }
            other => return Err(at.refuse(&field, format!("templateType `{other}` (Task, StatusCheck, conditional branches) runs things faultline does not")))?,
        })
    }
    let length = walk(at, entry, Duration::ZERO, &find, 0, out)?;
    out.end = out.end.max(length);
    Ok(())
}

/// The imported faults as a whole scenario (YAML, with a header of notes), or added to the
/// scenario `into` (its text), checked as a scenario before it is returned.
pub fn render(imp: &Imported, sources: &[String], into: Option<(&str, &str)>) -> Result<String, Error> {
    let faults: Vec<Value> = imp.faults.iter().cloned().map(Value::Object).collect();
    let duration = Span(imp.end + Duration::from_secs(10)).to_string();
    let doc = match into {
        None => serde_json::json!({
            "name": imp.name,
            "description": format!("Imported from Chaos Mesh ({})", sources.join(", ")),
            "cluster": {"size": imp.size},
            "workload": {"duration": duration},
            "faults": faults,
            "expect": {"linearizable": true, "consistent": true},
        }),
        Some((origin, text)) => {
            let mut v: Value = serde_saphyr::from_str(text).map_err(|e| Error::BadInput(format!("{origin}: not YAML: {e}")))?;
            let m = v.as_object_mut().ok_or_else(|| Error::BadInput(format!("{origin}: not a scenario (a map)")))?;
            let list = m.entry("faults").or_insert_with(|| Value::Array(Vec::new()));
            list.as_array_mut().ok_or_else(|| Error::BadInput(format!("{origin}: `faults` is not a list")))?.extend(faults);
            v
        }
    };
    let mut head = format!("# Imported from Chaos Mesh by `faultline import chaos-mesh {}`.\n", sources.join(" "));
    for n in &imp.notes {
        head.push_str(&format!("# note: {n}\n"));
    }
    let yaml = serde_saphyr::to_string(&doc).map_err(|e| Error::harness(format!("cannot write the scenario: {e}")))?;
    crate::scenario::parse(&yaml, "the imported scenario").map_err(|e| Error::BadInput(format!("the imported faults do not make a valid scenario: {e}")))?;
    Ok(format!("{head}{yaml}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{self, End, Start};

    /// The IOChaos of the ops notes this project started from.
    const SEED: &str = "apiVersion: chaos-mesh.org/v1alpha1
kind: Schedule
metadata:
  name: etcd-io-latency
spec:
  schedule: '@every 10m'
  type: IOChaos
  historyLimit: 5
  concurrencyPolicy: Forbid
  ioChaos:
    action: latency
    mode: one
    selector:
      labelSelectors:
        app: etcd
    volumePath: /var/run/etcd
    path: '/var/run/etcd/**/*'
    delay: '100ms'
    percent: 50
    duration: '400s'
";

    fn one(text: &str) -> Result<(Imported, crate::scenario::Scenario), Error> {
        let imp = import(&[("m.yaml".into(), text.into())])?;
        let yaml = render(&imp, &["m.yaml".into()], None)?;
        let s = crate::scenario::parse(&yaml, "imported").unwrap();
        Ok((imp, s))
    }

    fn refused(text: &str) -> String {
        import(&[("m.yaml".into(), text.into())]).unwrap_err().to_string()
    }

    fn chaos(kind: &str, spec: &str) -> String {
        format!("apiVersion: chaos-mesh.org/v1alpha1\nkind: {kind}\nmetadata: {{name: x}}\nspec:\n{spec}")
    }

    #[test]
    fn the_seed_iochaos_is_io_latency_of_100ms_on_half_the_calls_every_10_minutes() {
        let (imp, s) = one(SEED).unwrap();
        assert_eq!(s.name, "etcd-io-latency");
        let f = &s.faults[0];
        assert_eq!(f.kind.name(), "io-latency");
        assert_eq!(f.kind.to_map()["delay"], "100ms");
        assert_eq!(f.kind.to_map()["percent"], "50%");
        assert!(f.kind.to_map().get("path").is_none_or(|p| p.is_null()), "the whole data directory: {:?}", f.kind.to_map());
        assert_eq!(f.target.to_string(), "random");
        assert_eq!(f.every.map(|e| e.0), Some(Duration::from_secs(600)));
        assert_eq!(f.for_.map(|e| e.0), Some(Duration::from_secs(400)));
        assert_eq!(f.at.0, Duration::from_secs(600), "Chaos Mesh starts the first round one period in");
        assert!(imp.notes.iter().any(|n| n.contains("historyLimit")), "{:?}", imp.notes);
        // What validate shows: rounds at 10, 20, 30 min, each 400 s.
        let plan = schedule::plan(&s, 1);
        assert_eq!(plan.len(), 3, "{plan:?}");
        for (i, p) in plan.iter().enumerate() {
            let start = Duration::from_secs(600 * (i as u64 + 1));
            assert_eq!(p.start, Start::At(start));
            assert_eq!(p.end, End::At(start + Duration::from_secs(400)));
        }
    }

    #[test]
    fn each_kind_maps_to_its_faultline_kind() {
        let (_, s) = one(&chaos("IOChaos", "  action: fault\n  errno: 28\n  methods: [write, fsync]\n  percent: 5\n  path: /var/lib/etcd/member/wal/*\n  volumePath: /var/lib/etcd\n  mode: all\n  selector: {labelSelectors: {app: etcd}}\n  duration: 30s\n")).unwrap();
        let m = s.faults[0].kind.to_map();
        assert_eq!((s.faults[0].kind.name(), m["errno"].as_str(), m["path"].as_str()), ("io-error", Some("ENOSPC"), Some("member/wal/*")));
        assert_eq!(s.faults[0].target.to_string(), "all");
        let (_, s) = one(&chaos("NetworkChaos", "  action: delay\n  mode: fixed\n  value: '1'\n  selector: {pods: {default: [etcd-2]}}\n  delay: {latency: 90ms, jitter: 10ms, correlation: '25', reorder: {reorder: '10', correlation: '50', gap: 5}}\n  duration: 20s\n")).unwrap();
        let m = s.faults[0].kind.to_map();
        assert_eq!((s.faults[0].kind.name(), s.faults[0].target.to_string()), ("latency", "n3".to_string()));
        assert_eq!((m["delay"].as_str(), m["jitter"].as_str(), m["correlation"].as_str(), m["reorder"].as_str()), (Some("90ms"), Some("10ms"), Some("25%"), Some("10%")));
        let (_, s) = one(&chaos("NetworkChaos", "  action: partition\n  direction: both\n  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  duration: 10s\n")).unwrap();
        assert_eq!((s.faults[0].kind.name(), s.faults[0].kind.to_map()["mode"].as_str()), ("partition", Some("isolate")));
        let (_, s) = one(&chaos("NetworkChaos", "  action: bandwidth\n  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  bandwidth: {rate: 1mbps, limit: 20971520, buffer: 10000}\n  duration: 10s\n")).unwrap();
        assert_eq!(s.faults[0].kind.to_map()["rate"].as_str(), Some("8mbit"));
        let (_, s) = one(&chaos("PodChaos", "  action: pod-failure\n  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  duration: 15s\n")).unwrap();
        assert_eq!(s.faults[0].kind.name(), "stop");
        let (_, s) = one(&chaos("PodChaos", "  action: pod-kill\n  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  duration: 5s\n")).unwrap();
        assert_eq!(s.faults[0].kind.name(), "kill");
        let (_, s) = one(&chaos("StressChaos", "  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  stressors: {cpu: {workers: 2, load: 80}, memory: {workers: 1, size: 256MB}}\n  duration: 20s\n")).unwrap();
        let kinds: Vec<&str> = s.faults.iter().map(|f| f.kind.name()).collect();
        assert_eq!(kinds, vec!["cpu-stress", "mem-stress"]);
        assert_eq!(s.faults[1].kind.to_map()["size"].as_str(), Some("256MiB"));
    }

    #[test]
    fn what_cannot_be_mapped_is_refused_with_the_field_and_the_reason() {
        let e = refused(&chaos("TimeChaos", "  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  timeOffset: -10m\n"));
        assert!(e.contains("TimeChaos") && e.contains("clock"), "{e}");
        let e = refused(&chaos("DNSChaos", "  mode: one\n  action: error\n"));
        assert!(e.contains("DNSChaos has no faultline kind"), "{e}");
        let e = refused(&chaos("NetworkChaos", "  action: corrupt\n  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  corrupt: {corrupt: '40'}\n"));
        assert!(e.contains("`spec.action`") && e.contains("does not corrupt"), "{e}");
        let e = refused(&chaos("PodChaos", "  action: pod-kill\n  mode: one\n  selector: {labelSelectors: {app: nginx}}\n"));
        assert!(e.contains("app=nginx") && e.contains("etcd"), "{e}");
        let e = refused(&chaos("PodChaos", "  action: pod-kill\n  mode: one\n  selector: {pods: {default: [web-0]}}\n"));
        assert!(e.contains("`web-0` is not an etcd member's pod"), "{e}");
        let e = refused(&chaos("IOChaos", "  action: latency\n  delay: 10ms\n  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  attr: {perm: 72}\n"));
        assert!(e.contains("`spec.attr`"), "{e}");
        let e = refused(&SEED.replace("'@every 10m'", "'0 3 * * *'"));
        assert!(e.contains("`spec.schedule`") && e.contains("@every"), "{e}");
        let e = refused(&chaos("IOChaos", "  action: latency\n  delay: 10ms\n  mode: one\n  selector: {labelSelectors: {app: etcd}}\n  methods: [getlk]\n"));
        assert!(e.contains("`getlk`"), "{e}");
    }

    #[test]
    fn a_workflow_places_serial_steps_one_after_another_and_parallel_ones_together() {
        let wf = "apiVersion: chaos-mesh.org/v1alpha1
kind: Workflow
metadata: {name: etcd-drill}
spec:
  entry: main
  templates:
    - {name: main, templateType: Serial, children: [cut, wait, both]}
    - name: cut
      templateType: NetworkChaos
      deadline: 20s
      networkChaos: {action: partition, direction: both, mode: one, selector: {labelSelectors: {app: etcd}}}
    - {name: wait, templateType: Suspend, deadline: 10s}
    - {name: both, templateType: Parallel, children: [kill, slow]}
    - name: kill
      templateType: PodChaos
      deadline: 5s
      podChaos: {action: container-kill, mode: one, selector: {labelSelectors: {app: etcd}}, containerNames: [etcd]}
    - name: slow
      templateType: IOChaos
      deadline: 15s
      ioChaos: {action: latency, delay: 50ms, mode: all, selector: {labelSelectors: {app: etcd}}, volumePath: /var/lib/etcd, path: /var/lib/etcd/member/wal/*, methods: [fsync]}
";
        let (imp, s) = one(wf).unwrap();
        let got: Vec<(&str, u64, u64)> = s.faults.iter().map(|f| (f.kind.name(), f.at.0.as_secs(), f.for_.unwrap().0.as_secs())).collect();
        assert_eq!(got, vec![("partition", 0, 20), ("kill", 30, 5), ("io-latency", 30, 15)]);
        assert_eq!(imp.end, Duration::from_secs(45));
        assert!(s.workload.duration.0 >= Duration::from_secs(45));
        assert!(imp.notes.iter().any(|n| n.contains("containerNames")), "{:?}", imp.notes);
    }

    #[test]
    fn into_adds_the_faults_to_a_scenario() {
        let imp = import(&[("m.yaml".into(), SEED.into())]).unwrap();
        let base = "name: mine\nworkload: {duration: 40m}\nfaults:\n  - {at: 1s, for: 2s, kind: kill, target: leader}\n";
        let text = render(&imp, &["m.yaml".into()], Some(("mine.yaml", base))).unwrap();
        let s = crate::scenario::parse(&text, "out").unwrap();
        assert_eq!(s.name, "mine");
        assert_eq!(s.faults.iter().map(|f| f.kind.name()).collect::<Vec<_>>(), vec!["kill", "io-latency"]);
        assert!(text.starts_with("# Imported from Chaos Mesh"), "{text}");
    }

    #[test]
    fn go_durations_read_as_go_writes_them() {
        assert_eq!(go_duration("400s"), Some(Duration::from_secs(400)));
        assert_eq!(go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("3d"), None);
    }
}
