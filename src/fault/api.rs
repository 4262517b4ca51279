//! What every fault kind is: a [`Kind`] entry in the [registry](super::registry) (its name,
//! mechanism, parameters, parser and what the nemesis draws), and a [`Fault`] — the
//! parameters of one fault as a scenario gave them, checked — that can be injected on
//! members, giving an [`Active`] that heals and proves itself.
//!
//! A kind lives in one file under `fault/kinds/`; nothing outside that file and its line in
//! the registry names it. The scenario parser, `validate`, `doctor`, the nemesis and the
//! runner read what they need from these traits.

use super::disk::{DiskLayer, DurabilityMode, Layers};
use crate::cluster::{Backend, Member};
use crate::error::Error;
use crate::events::EventKind;
use crate::fault::target::Target;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use serde_saphyr::{Location, Spanned};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A fault kind's entry in the registry.
pub struct Kind {
    /// The name a scenario writes (`kind: partition`).
    pub name: &'static str,
    /// How it is done, in words (`faultline doctor`, docs/faults.md).
    pub mechanism: &'static str,
    /// The parameters it takes besides `at`, `for`, `every`, `kind` and `target`.
    pub params: &'static [&'static str],
    /// Check the parameters and build the fault.
    pub parse: fn(&Params) -> Result<FaultKind, ParamError>,
    /// What the nemesis draws when a scenario names the kind alone (`kinds: [kill]`): `None`
    /// when the kind needs parameters (then it is written as a map, `{kind: latency, delay:
    /// 100ms}`). The draw may use the run's seeded generator (a partition draws its mode).
    pub draw: Option<DrawFn>,
}

/// How a kind draws a fault of its own for the nemesis: from the run's seeded generator, for
/// a cluster of `size` members.
pub type DrawFn = fn(&mut ChaCha8Rng, usize) -> FaultKind;

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kind({})", self.name)
    }
}

/// Where a fault in force lives, which decides what else happens to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// In the member's process (killed, stopped, paused): the member is held, no other
    /// process fault may target it, and a snapshot-restore (which restarts every member) ends it.
    Process,
    /// In the member's network namespace (rules, shaping): a Docker member loses it with its
    /// container's restart.
    Netns,
    /// In the member's cgroups: likewise lost with a container's restart.
    Cgroup,
    /// In the disk-fault layer over the member's data directory, which outlives restarts.
    Disk,
}

impl Home {
    /// Whether the member is held: not available to another fault that needs it running.
    pub fn holds_member(self) -> bool {
        self == Home::Process
    }

    /// Whether it lives in what a restarted container gets anew (its namespace, its cgroups).
    pub fn lives_in_container(self) -> bool {
        matches!(self, Home::Netns | Home::Cgroup)
    }
}

/// One fault's parameters, checked: what it does, not yet when or to whom.
pub trait Fault: Send + Sync + fmt::Debug + Any {
    /// The registry entry of its kind.
    fn kind(&self) -> &'static Kind;
    /// In words for people: `partition (isolate)`, `latency (100ms ± 0s, loss 0%)`.
    fn describe(&self) -> String {
        self.kind().name.to_string()
    }
    /// Its parameters as a scenario writes them (for `scenario.yaml`, `schedule.json`);
    /// none by default.
    fn params(&self) -> Map<String, Value> {
        Map::new()
    }
    /// Where it lives while in force.
    fn home(&self) -> Home;
    /// The disk-fault layer it needs over the members' data directories from their start,
    /// and in which mode (unsynced writes kept in the layer's cache when it drops them).
    fn disk_layer(&self) -> Option<DurabilityMode> {
        None
    }
    /// The target when a scenario gives none (`None`: a target is required).
    fn default_target(&self) -> Option<Target> {
        None
    }
    /// Refuse a target that makes no sense for this fault.
    fn check_target(&self, target: Target) -> Result<(), String> {
        let _ = target;
        Ok(())
    }
    /// The target the nemesis uses when it drew `target` for this fault.
    fn nemesis_target(&self, target: Target) -> Target {
        target
    }
    /// Whether members that are down or held by another fault may be hit (a partition cuts
    /// links, whatever runs behind them).
    fn hits_any_member(&self) -> bool {
        false
    }
    /// What this machine must have to inject it, checked before anything is built.
    fn preflight(&self) -> Result<(), Error> {
        Ok(())
    }
    /// Put it in force on the targets and prove it took effect (an [`Error::Invalid`] when it
    /// cannot be shown).
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error>;
}

impl dyn Fault {
    /// The concrete parameters, when they are of kind `T`.
    pub fn downcast<T: Fault>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
}

/// A fault put in force: heals itself on the targets it was injected on.
pub trait Active: Send + fmt::Debug {
    /// Undo it and prove it is undone.
    fn heal(&mut self, cx: &Cx<'_>) -> Result<Healed, Error>;
}

/// What injecting a fault did.
#[derive(Debug)]
pub struct Applied {
    /// What heals it.
    pub active: Box<dyn Active>,
    /// The mechanism, for the faults table (`iptables`, `nfqueue`, `fuse`).
    pub mechanism: String,
    /// Parameters worth recording with the fault (`events.jsonl`).
    pub params: Vec<(&'static str, Value)>,
    /// The evidence that it took effect.
    pub proof: String,
    /// Member events it caused (a kill stops a member).
    pub events: Vec<EventKind>,
}

impl Applied {
    /// A fault with a proof and nothing else to say.
    pub fn new(active: impl Active + 'static, mechanism: &str, proof: String) -> Self {
        Applied { active: Box::new(active), mechanism: mechanism.to_string(), params: Vec::new(), proof, events: Vec::new() }
    }

    /// With a parameter recorded.
    pub fn param(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.params.push((name, value.into()));
        self
    }
}

/// What healing a fault did.
#[derive(Debug, Default)]
pub struct Healed {
    /// The evidence that it is undone.
    pub proof: String,
    /// Member events it caused (a killed member restarted).
    pub events: Vec<EventKind>,
    /// Events it caused with when they happened, for a heal that takes a while (a member
    /// watched after its start): recorded at that time, not when the heal is done.
    pub timed: Vec<(std::time::Instant, EventKind)>,
}

impl Healed {
    /// A heal with a proof and no member events.
    pub fn proof(proof: impl Into<String>) -> Self {
        Healed { proof: proof.into(), events: Vec::new(), timed: Vec::new() }
    }
}

/// What a fault is injected and healed with: the cluster, the members it hits and the
/// fault's own seeded generator.
pub struct Cx<'a> {
    /// The backend (member verbs: signal, start, state).
    pub backend: &'a dyn Backend,
    /// The disk-fault layers over the members' data directories (none mounted unless the
    /// scenario has disk faults).
    pub layers: &'a Layers,
    /// Every member, as it is now.
    pub members: Vec<Member>,
    /// The members it hits, resolved from its target.
    pub targets: Vec<String>,
    /// The label its rules carry: `faultline-<run>-f<id>`.
    pub label: String,
    /// Its id in the schedule.
    pub id: usize,
    /// Its seed (the disk layer draws from it).
    pub draw: u64,
    /// Its generator, already used to resolve the target.
    pub rng: ChaCha8Rng,
}

impl Cx<'_> {
    /// The names of every member, in order.
    pub fn names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name.clone()).collect()
    }

    /// A member by name.
    pub fn member(&self, name: &str) -> Result<&Member, Error> {
        self.members.iter().find(|m| m.name == name).ok_or_else(|| Error::Harness(format!("no member {name}")))
    }

    /// The members it hits.
    pub fn hit(&self) -> Vec<Member> {
        self.members.iter().filter(|m| self.targets.contains(&m.name)).cloned().collect()
    }

    /// A member's disk-fault layer, or why there is none.
    pub fn layer(&self, member: &str) -> Result<Arc<DiskLayer>, Error> {
        self.layers.get(member).ok_or_else(|| {
            Error::Invalid(format!(
                "{member} has no disk-fault layer: disk faults need faultline's layer over the member's data directory from its start (not available when attaching to a cluster)"
            ))
        })
    }
}

/// A checked fault of any kind, shared by the scenario, the schedule and the runner.
#[derive(Clone)]
pub struct FaultKind(Arc<dyn Fault>);

impl FaultKind {
    /// Wrap a kind's parameters.
    pub fn new(f: impl Fault) -> Self {
        FaultKind(Arc::new(f))
    }

    /// The kind's name as written in a scenario.
    pub fn name(&self) -> &'static str {
        self.0.kind().name
    }
}

impl std::ops::Deref for FaultKind {
    type Target = dyn Fault;
    fn deref(&self) -> &dyn Fault {
        self.0.as_ref()
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.describe())
    }
}

impl fmt::Debug for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for FaultKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.params() == other.params()
    }
}

impl FaultKind {
    /// `kind` and the parameters, as one map (how a scenario writes a fault).
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kind".into(), self.name().into());
        m.extend(self.params());
        m
    }
}

impl Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

/// The parser of a kind without parameters.
pub fn no_params<F: Fault + Default>(_: &Params) -> Result<FaultKind, ParamError> {
    Ok(FaultKind::new(F::default()))
}

/// The nemesis draw of a kind without parameters.
pub fn draw_default<F: Fault + Default>(_: &mut ChaCha8Rng, _: usize) -> FaultKind {
    FaultKind::new(F::default())
}

/// A kind's parameters as a map, for [`Fault::params`].
pub fn params_of(p: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(p) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// One fault entry as written: every key with its position.
pub type RawParams = BTreeMap<String, Spanned<Value>>;

/// A parameter error, at the fault's position or the parameter's.
#[derive(Debug, Clone)]
pub struct ParamError {
    /// Where (`None`: the fault's own position).
    pub at: Option<Location>,
    /// What was expected.
    pub msg: String,
}

/// The parameters of one fault entry, as its kind's parser reads them.
pub struct Params<'a> {
    raw: &'a RawParams,
    size: usize,
}

impl<'a> Params<'a> {
    /// The parameters of `raw` for a cluster of `size` members (counting members that
    /// `member-add` ops bring in).
    pub fn new(raw: &'a RawParams, size: usize) -> Self {
        Params { raw, size }
    }

    /// How many members the cluster has.
    pub fn size(&self) -> usize {
        self.size
    }

    /// A parameter, read as `T` (`None` when absent).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ParamError> {
        let Some(v) = self.raw.get(key) else { return Ok(None) };
        match serde_json::from_value::<T>(v.value.clone()) {
            Ok(t) => Ok(Some(t)),
            Err(e) => match &v.value {
                // A bare YAML scalar (`delay: 0`, `errno: 5`) read as the text it is.
                Value::Number(_) | Value::Bool(_) => serde_json::from_value::<T>(Value::String(v.value.to_string())).map(Some).map_err(|_| self.bad(key, e)),
                _ => Err(self.bad(key, e)),
            },
        }
    }

    /// A parameter with a default.
    pub fn or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, ParamError> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// A required parameter; `why` says what it is, e.g. "the member's outgoing bandwidth, e.g. `rate: 10mbit`".
    pub fn need<T: DeserializeOwned>(&self, kind: &str, key: &str, why: &str) -> Result<T, ParamError> {
        self.get(key)?.ok_or_else(|| self.fail_msg(format!("a {kind} fault needs `{key}`: {why}")))
    }

    fn bad(&self, key: &str, e: serde_json::Error) -> ParamError {
        ParamError { at: self.raw.get(key).map(|v| v.referenced), msg: format!("`{key}`: {e}") }
    }

    /// An error at the fault's position.
    pub fn fail_msg(&self, msg: impl Into<String>) -> ParamError {
        ParamError { at: None, msg: msg.into() }
    }

    /// `Err` of [`Params::fail_msg`].
    pub fn fail<T>(&self, msg: impl Into<String>) -> Result<T, ParamError> {
        Err(self.fail_msg(msg))
    }
}

impl From<String> for ParamError {
    fn from(msg: String) -> Self {
        ParamError { at: None, msg }
    }
}
