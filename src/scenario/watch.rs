//! `workload.watch`: the watch traffic of a run, as written (`true`, a map of one group of
//! watchers, or a list of such maps) and as resolved ([`WatchGroup`]). `true` is one group
//! with every default: a watcher per member, spread, a prefix watch on the workload's keys
//! with require_leader, from the revision at workload start — what `watch: true` always
//! meant. docs/formats.md §1 lists the keys.

use super::units::{Rate, Span};
use super::Load;
use crate::error::suggest;
use crate::fault::api::{ParamError, Params, RawParams};
pub use crate::watchlog::{Filter, StartRevision};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Map, Value};
use serde_saphyr::{Location, Spanned};

/// `workload.watch` as written. Read by hand, not as an untagged enum, so that the keys
/// keep their positions.
#[derive(Debug)]
pub enum RawWatch {
    /// `watch: true` / `watch: false`.
    On(bool),
    /// `watch: {watchers: 2, prev_kv: true}`.
    Group(RawParams),
    /// `watch: [{...}, {...}]`: groups of watchers, each with its own settings.
    Groups(Vec<Spanned<RawParams>>),
}

impl<'de> Deserialize<'de> for RawWatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawWatch;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false, a map of watcher settings, or a list of such maps")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawWatch, E> {
                Ok(RawWatch::On(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<RawWatch, A::Error> {
                RawParams::deserialize(serde::de::value::MapAccessDeserializer::new(m)).map(RawWatch::Group)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, s: A) -> Result<RawWatch, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(s)).map(RawWatch::Groups)
            }
        }
        d.deserialize_any(Visit)
    }
}

/// The keys of one group of watchers.
const KEYS: [&str; 12] =
    ["watchers", "placement", "member", "key", "require_leader", "prev_kv", "filter", "progress_notify", "progress_requests", "start", "slow", "informer"];

/// Most watchers one group may have.
pub const MAX_WATCHERS: u32 = 64;

/// How a group's watchers choose their member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Round robin over the members (watcher `i` on member `i mod size`).
    Spread,
    /// All on one member (`n1`..`n7`).
    One(String),
    /// Spread to start with; a watcher whose stream breaks moves to the next member, as a
    /// client given every endpoint does.
    Follow,
}

impl Placement {
    /// Its name in a scenario and in a watcher's spec (`spread`, `one`, `follow`).
    pub fn name(&self) -> &'static str {
        match self {
            Placement::Spread => "spread",
            Placement::One(_) => "one",
            Placement::Follow => "follow",
        }
    }
}

/// Slow consumers: a share of a group's watchers stop reading now and then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowReaders {
    /// The share of the group's watchers that are slow (0 to 1; which ones is drawn from the
    /// seed).
    pub share: f64,
    /// How often a slow watcher stops reading.
    pub every: Span,
    /// For how long it stops each time (less than `every`).
    pub pause: Span,
}

/// One group of watchers, every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchGroup {
    /// How many; `None`: one per member.
    pub watchers: Option<u32>,
    /// Which member each watches.
    pub placement: Placement,
    /// A single key of the workload; `None`: the workload's key prefix (the kubernetes
    /// workload: one resource's prefix per watcher, in turn).
    pub key: Option<String>,
    /// etcd cancels the stream on a member without a leader.
    pub require_leader: bool,
    /// Events carry the key's previous state.
    pub prev_kv: bool,
    /// Events etcd filters out.
    pub filter: Filter,
    /// etcd sends periodic progress notifications (the members get
    /// [`PROGRESS_NOTIFY_FLAG`]).
    pub progress_notify: bool,
    /// Explicit progress requests (`RequestProgress`), per watcher.
    pub progress_requests: Option<Rate>,
    /// The first start revision of each watcher, taken in turn (never empty).
    pub start: Vec<StartRevision>,
    /// Slow consumers.
    pub slow: Option<SlowReaders>,
    /// List-then-watch, as a Kubernetes informer does.
    pub informer: bool,
}

impl Default for WatchGroup {
    /// `watch: true`.
    fn default() -> Self {
        WatchGroup {
            watchers: None,
            placement: Placement::Spread,
            key: None,
            require_leader: true,
            prev_kv: false,
            filter: Filter::None,
            progress_notify: false,
            progress_requests: None,
            start: vec![StartRevision::Current],
            slow: None,
            informer: false,
        }
    }
}

/// What every member is started with when a watcher asks for periodic progress
/// notifications (etcd's default interval is 10 minutes, longer than any run).
pub const PROGRESS_NOTIFY_FLAG: &str = "--experimental-watch-progress-notify-interval=1s";

/// The default watch traffic of a workload kind when `watch:` is not given: none, except
/// for the kubernetes workload, whose API server lists then watches each resource.
pub fn default_for(load: &Load) -> Vec<WatchGroup> {
    match load {
        Load::Kubernetes(_) => vec![WatchGroup { informer: true, ..WatchGroup::default() }],
        _ => Vec::new(),
    }
}

/// What a group is read against: the workload (its kind and key count) and the cluster's
/// size.
pub struct Context<'a> {
    /// The workload kind.
    pub load: &'a Load,
    /// `workload.keys`.
    pub keys: u32,
    /// Members in the cluster.
    pub size: usize,
}

/// `workload.watch` resolved; `at` is its position.
pub fn resolve(raw: &RawWatch, at: Location, cx: &Context<'_>) -> Result<Vec<WatchGroup>, ParamError> {
    match raw {
        RawWatch::On(false) => Ok(Vec::new()),
        RawWatch::On(true) => Ok(vec![WatchGroup::default()]),
        RawWatch::Group(g) => Ok(vec![group(g, cx).map_err(|e| ParamError { at: e.at.or(Some(at)), ..e })?]),
        RawWatch::Groups(gs) if gs.is_empty() => {
            Err(ParamError { at: Some(at), msg: "workload.watch is an empty list: give at least one group of watchers, or `watch: false`".into() })
        }
        RawWatch::Groups(gs) => gs.iter().map(|g| group(&g.value, cx).map_err(|e| ParamError { at: e.at.or(Some(g.referenced)), ..e })).collect(),
    }
}

fn group(raw: &RawParams, cx: &Context<'_>) -> Result<WatchGroup, ParamError> {
    for (k, v) in raw {
        if !KEYS.contains(&k.as_str()) {
            return Err(ParamError {
                at: Some(v.referenced),
                msg: format!("unknown key `{k}` in workload.watch{}: a group of watchers has {}", suggest(k, &KEYS), KEYS.join(", ")),
            });
        }
    }
    let p = Params::new(raw, cx.size);
    let at = |key: &str| raw.get(key).map(|v| v.referenced);
    let fail = |key: &str, msg: String| ParamError { at: at(key), msg };
    let watchers = match p.get::<u32>("watchers")? {
        Some(n) if !(1..=MAX_WATCHERS).contains(&n) => return Err(fail("watchers", format!("workload.watch.watchers is {n}: give 1 to {MAX_WATCHERS}"))),
        n => n,
    };
    let placement = placement(&p, cx, &fail)?;
    let key = match p.get::<String>("key")? {
        Some(k) if !is_workload_key(cx, &k) => {
            return Err(fail("key", format!("workload.watch.key `{k}` is not one of the workload's keys: {}", key_forms(cx))))
        }
        k => k,
    };
    let filter = match p.get::<String>("filter")?.as_deref() {
        None | Some("none") => Filter::None,
        Some("no-put") => Filter::NoPut,
        Some("no-delete") => Filter::NoDelete,
        Some(f) => {
            return Err(fail("filter", format!("workload.watch.filter `{f}`{}: use none, no-put or no-delete", suggest(f, &["none", "no-put", "no-delete"]))))
        }
    };
    let informer = p.or("informer", false)?;
    let start = starts(&p, &fail)?;
    if informer && key.is_some() {
        return Err(fail("key", "an informer lists a prefix, then watches it: drop `key`, or `informer`".into()));
    }
    if informer && raw.contains_key("start") {
        return Err(fail("start", "an informer watches from the revision after its list: drop `start`, or `informer`".into()));
    }
    let slow = match raw.get("slow") {
        None => None,
        Some(v) => Some(slow(&v.value).map_err(|msg| ParamError { at: Some(v.referenced), msg })?),
    };
    Ok(WatchGroup {
        watchers,
        placement,
        key,
        require_leader: p.or("require_leader", true)?,
        prev_kv: p.or("prev_kv", false)?,
        filter,
        progress_notify: p.or("progress_notify", false)?,
        progress_requests: p.get::<Rate>("progress_requests")?,
        start,
        slow,
        informer,
    })
}

fn placement(p: &Params<'_>, cx: &Context<'_>, fail: &dyn Fn(&str, String) -> ParamError) -> Result<Placement, ParamError> {
    let member = p.get::<String>("member")?;
    let placement = match p.get::<String>("placement")?.as_deref() {
        None | Some("spread") => Placement::Spread,
        Some("follow") => Placement::Follow,
        Some("one") => {
            let m = member.clone().unwrap_or_else(|| "n1".to_string());
            let known: Vec<String> = (1..=cx.size).map(|i| format!("n{i}")).collect();
            if !known.contains(&m) {
                return Err(fail("member", format!("workload.watch.member `{m}` is not a member: the cluster has n1..n{}", cx.size)));
            }
            Placement::One(m)
        }
        Some(o) => {
            return Err(fail("placement", format!("workload.watch.placement `{o}`{}: use spread, one or follow", suggest(o, &["spread", "one", "follow"]))))
        }
    };
    if member.is_some() && !matches!(placement, Placement::One(_)) {
        return Err(fail("member", "workload.watch.member goes with `placement: one` (all the group's watchers on that member)".into()));
    }
    Ok(placement)
}

fn starts(p: &Params<'_>, fail: &dyn Fn(&str, String) -> ParamError) -> Result<Vec<StartRevision>, ParamError> {
    let names = match p.get::<Value>("start")? {
        None => return Ok(vec![StartRevision::Current]),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(a)) if !a.is_empty() => a.iter().map(|v| v.as_str().unwrap_or("?").to_string()).collect(),
        Some(_) => return Err(fail("start", "workload.watch.start is current, past, compaction or future, or a list of them".into())),
    };
    let known = ["current", "past", "compaction", "future"];
    names
        .iter()
        .map(|n| match n.as_str() {
            "current" => Ok(StartRevision::Current),
            "past" => Ok(StartRevision::Past),
            "compaction" => Ok(StartRevision::Compaction),
            "future" => Ok(StartRevision::Future),
            other => Err(fail("start", format!("workload.watch.start `{other}`{}: use current, past, compaction or future", suggest(other, &known)))),
        })
        .collect()
}

fn slow(v: &Value) -> Result<SlowReaders, String> {
    let Value::Object(m) = v else { return Err("workload.watch.slow is a map: `{share: 0.5, every: 5s, for: 2s}`".into()) };
    if let Some(k) = m.keys().find(|k| !["share", "every", "for"].contains(&k.as_str())) {
        return Err(format!("unknown key `{k}` in workload.watch.slow{}: it has share, every and for", suggest(k, &["share", "every", "for"])));
    }
    let share = m.get("share").map_or(Ok(1.0), |s| s.as_f64().ok_or("workload.watch.slow.share is a number from 0 to 1"))?;
    if !(0.0..=1.0).contains(&share) {
        return Err(format!("workload.watch.slow.share is {share}: give 0 to 1 (the share of the group's watchers that are slow)"));
    }
    let span = |key: &str, default: &str| -> Result<Span, String> {
        let text = m
            .get(key)
            .map_or(Some(default.to_string()), |v| v.as_str().map(str::to_string))
            .ok_or(format!("workload.watch.slow.{key} is a duration, e.g. `2s`"))?;
        Span::parse(&text).map_err(|e| format!("workload.watch.slow.{key}: {e}"))
    };
    let (every, pause) = (span("every", "5s")?, span("for", "2s")?);
    if pause.0.is_zero() || pause >= every {
        return Err(format!("workload.watch.slow.for is {pause}: give more than 0 and less than `every` ({every})"));
    }
    Ok(SlowReaders { share, every, pause })
}

/// Whether `key` is one the workload writes.
fn is_workload_key(cx: &Context<'_>, key: &str) -> bool {
    let index = |rest: &str| rest.parse::<u32>().is_ok_and(|i| i < cx.keys && (i == 0 || !rest.starts_with('0')));
    match cx.load {
        Load::Kubernetes(_) => {
            super::KUBERNETES_RESOURCES.iter().any(|r| key.strip_prefix(&super::resource_prefix(r)).and_then(|o| o.strip_prefix('o')).is_some_and(index))
        }
        _ => key.strip_prefix('k').is_some_and(index),
    }
}

fn key_forms(cx: &Context<'_>) -> String {
    match cx.load {
        Load::Kubernetes(_) => format!("the kubernetes workload's objects are /registry/<pods|configmaps|leases>/o0..o{}", cx.keys - 1),
        _ => format!("they are k0..k{}", cx.keys - 1),
    }
}

/// Whether any group asks for periodic progress notifications.
pub fn wants_progress_notify(groups: &[WatchGroup]) -> bool {
    groups.iter().any(|g| g.progress_notify)
}

impl WatchGroup {
    /// As a scenario writes it (every key), to be read back by [`resolve`].
    fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(n) = self.watchers {
            m.insert("watchers".into(), json!(n));
        }
        m.insert("placement".into(), json!(self.placement.name()));
        if let Placement::One(member) = &self.placement {
            m.insert("member".into(), json!(member));
        }
        if let Some(k) = &self.key {
            m.insert("key".into(), json!(k));
        }
        m.insert("require_leader".into(), json!(self.require_leader));
        m.insert("prev_kv".into(), json!(self.prev_kv));
        m.insert("filter".into(), serde_json::to_value(self.filter).unwrap_or(Value::Null));
        m.insert("progress_notify".into(), json!(self.progress_notify));
        if let Some(r) = self.progress_requests {
            m.insert("progress_requests".into(), json!(r.to_string()));
        }
        if !self.informer {
            let starts: Vec<Value> = self.start.iter().map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).collect();
            m.insert("start".into(), Value::Array(starts));
        }
        if let Some(s) = self.slow {
            m.insert("slow".into(), json!({"share": s.share, "every": s.every.to_string(), "for": s.pause.to_string()}));
        }
        m.insert("informer".into(), json!(self.informer));
        m
    }
}

/// `workload.watch` written back: `false`, `true` (one default group), or the groups.
pub fn serialize<S: Serializer>(groups: &[WatchGroup], s: S) -> Result<S::Ok, S::Error> {
    match groups {
        [] => false.serialize(s),
        [g] if *g == WatchGroup::default() => true.serialize(s),
        gs => gs.iter().map(|g| Value::Object(g.to_map())).collect::<Vec<_>>().serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::scenario::parse;
    use std::time::Duration;

    fn groups(yaml: &str) -> Vec<WatchGroup> {
        let s = parse(yaml, "s.yaml").unwrap();
        // What a run writes back is read back the same.
        assert_eq!(parse(&s.to_yaml(), "back.yaml").unwrap().workload.watch, s.workload.watch, "{}", s.to_yaml());
        s.workload.watch
    }

    fn err(yaml: &str) -> String {
        match parse(yaml, "s.yaml") {
            Err(Error::BadInput(m)) => m,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn watch_true_is_one_default_group_and_false_or_absent_none() {
        assert_eq!(groups("name: x\nworkload: {watch: true}\n"), [WatchGroup::default()]);
        let d = WatchGroup::default();
        assert_eq!((d.watchers, &d.placement, d.require_leader, &d.start[..]), (None, &Placement::Spread, true, &[StartRevision::Current][..]));
        assert!(groups("name: x\nworkload: {watch: false}\n").is_empty());
        assert!(groups("name: x\nworkload: {kind: etcd}\n").is_empty());
    }

    #[test]
    fn a_map_sets_every_key_and_progress_notify_gives_the_members_their_interval() {
        let yaml = "name: x\nworkload:\n  keys: 8\n  watch:\n    watchers: 4\n    placement: one\n    member: n2\n    key: k7\n    require_leader: false\n    prev_kv: true\n    filter: no-put\n    progress_notify: true\n    progress_requests: 2/s\n    start: [past, future, compaction]\n    slow: {share: 0.5, every: 4s, for: 1s}\n";
        let g = &groups(yaml)[0];
        assert_eq!((g.watchers, &g.placement, g.key.as_deref()), (Some(4), &Placement::One("n2".into()), Some("k7")));
        assert_eq!((g.require_leader, g.prev_kv, g.filter, g.progress_notify), (false, true, Filter::NoPut, true));
        assert_eq!(g.progress_requests, Some(Rate(2.0)));
        assert_eq!(g.start, [StartRevision::Past, StartRevision::Future, StartRevision::Compaction]);
        assert_eq!(g.slow, Some(SlowReaders { share: 0.5, every: Span(Duration::from_secs(4)), pause: Span(Duration::from_secs(1)) }));
        let s = parse(yaml, "s.yaml").unwrap();
        assert_eq!(s.cluster.etcd.extra_args, [PROGRESS_NOTIFY_FLAG]);
        // Gated by default, as `watch: true` is.
        assert_eq!(s.expect.watch, Some(true));
        assert_eq!(parse(&format!("{yaml}expect: {{watch: false}}\n"), "s.yaml").unwrap().expect.watch, Some(false));
    }

    #[test]
    fn a_list_is_groups_and_the_kubernetes_workload_has_informers_unless_told_otherwise() {
        let g = groups("name: x\nworkload:\n  kind: etcd\n  watch:\n    - {watchers: 2, placement: follow}\n    - {informer: true}\n");
        assert_eq!((g.len(), &g[0].placement, g[1].informer), (2, &Placement::Follow, true));
        let k = groups("name: x\nworkload: {kind: kubernetes}\n");
        assert_eq!(k, [WatchGroup { informer: true, ..WatchGroup::default() }]);
        assert!(groups("name: x\nworkload: {kind: kubernetes, watch: false}\n").is_empty());
        assert_eq!(groups("name: x\nworkload: {kind: kubernetes, keys: 4, watch: {key: /registry/pods/o3}}\n")[0].key.as_deref(), Some("/registry/pods/o3"));
    }

    #[test]
    fn mistakes_are_refused_where_they_are_with_what_to_write() {
        let m = err("name: x\nworkload:\n  watch:\n    watchers: 2\n    prev_key: true\n");
        assert!(m.starts_with("s.yaml:5:") && m.contains("unknown key `prev_key`") && m.contains("did you mean `prev_kv`?"), "{m}");
        let m = err("name: x\nworkload:\n  watch:\n    placement: one\n    member: n4\n");
        assert!(m.starts_with("s.yaml:5:") && m.contains("the cluster has n1..n3"), "{m}");
        let m = err("name: x\nworkload:\n  watch: {member: n2}\n");
        assert!(m.contains("goes with `placement: one`"), "{m}");
        let m = err("name: x\nworkload:\n  keys: 4\n  watch:\n    key: k4\n");
        assert!(m.starts_with("s.yaml:5:") && m.contains("they are k0..k3"), "{m}");
        let m = err("name: x\nworkload:\n  watch:\n    start: [past, futur]\n");
        assert!(m.starts_with("s.yaml:4:") && m.contains("did you mean `future`?"), "{m}");
        let m = err("name: x\nworkload:\n  watch:\n    filter: noput\n");
        assert!(m.contains("did you mean `no-put`?"), "{m}");
        let m = err("name: x\nworkload:\n  watch:\n    slow: {share: 0.5, every: 2s, for: 2s}\n");
        assert!(m.starts_with("s.yaml:4:") && m.contains("less than `every`"), "{m}");
        let m = err("name: x\nworkload:\n  watch:\n    informer: true\n    start: past\n");
        assert!(m.contains("an informer watches from the revision after its list"), "{m}");
        let m = err("name: x\nworkload:\n  watch:\n    - {watchers: 2}\n    - {watchers: 0}\n");
        assert!(m.starts_with("s.yaml:5:") && m.contains("give 1 to 64"), "{m}");
        assert!(err("name: x\nworkload: {watch: []}\n").contains("empty list"));
    }
}
