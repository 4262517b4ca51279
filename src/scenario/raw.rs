//! The scenario file exactly as written: serde structs with `deny_unknown_fields`, every
#![allow(missing_docs)]
//! field optional where docs/formats.md §1 gives a default. Nothing here interprets values beyond
//! their units; [`super::resolve`] turns this into a checked [`super::Scenario`].

use super::units::{Rate, Size, Span};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub cluster: RawCluster,
    #[serde(default)]
    pub workload: RawWorkload,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    #[serde(default)]
    pub ops: Vec<Spanned<RawOp>>,
    pub nemesis: Option<Spanned<RawNemesis>>,
    #[serde(default)]
    pub expect: RawExpect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub backend: Option<Spanned<String>>,
    pub size: Option<Spanned<u32>>,
    #[serde(default)]
    pub etcd: RawEtcd,
    pub attach: Option<Spanned<RawAttach>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttach {
    pub compose_project: Option<String>,
    pub labels: Option<Vec<String>>,
    pub client_port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEtcd {
    pub version: Option<String>,
    pub versions: Option<Vec<String>>,
    pub binary: Option<String>,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub heartbeat_interval: Option<Span>,
    pub election_timeout: Option<Spanned<Span>>,
    pub snapshot_count: Option<u64>,
    pub quota_backend_bytes: Option<Size>,
    #[serde(default)]
    pub extra_args: Vec<String>,
    pub initial_corrupt_check: Option<bool>,
    pub corrupt_check_time: Option<Span>,
    pub compact_hash_check: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub kind: Option<Spanned<String>>,
    pub keys: Option<Spanned<u32>>,
    pub clients: Option<Spanned<u32>>,
    pub rate: Option<Rate>,
    pub duration: Option<Spanned<Span>>,
    pub op_timeout: Option<Spanned<Span>>,
    pub mix: Option<Spanned<BTreeMap<String, f64>>>,
    pub reads: Option<Spanned<String>>,
    pub watch: Option<Spanned<super::watch::RawWatch>>,
}

/// One entry of `faults:`: every key with its position. `at`, `for`, `every`, `kind` and
/// `target` are read by [`super::resolve`]; the rest are the kind's parameters, read by the
/// kind's own file (`fault/kinds/`).
pub type RawFault = crate::fault::api::RawParams;

/// One entry of `nemesis.kinds`: a kind's name, or a fault with its parameters.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawNemesisKind {
    /// `partition`.
    Name(String),
    /// `{kind: latency, delay: 100ms}`.
    Fault(RawFault),
}

/// One entry of `ops:` (an etcd operation at a time).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOp {
    /// Its name, for triggers (`when: "d1 started"`).
    pub id: Option<String>,
    pub at: Option<Span>,
    pub op: Option<String>,
    pub target: Option<String>,
    pub keep: Option<u64>,
    pub learner: Option<bool>,
    pub etcd: Option<RawEtcd>,
    pub value_size: Option<Size>,
    /// snapshot-save: the snapshot's name.
    pub name: Option<String>,
    /// snapshot-restore: the snapshot to restore.
    pub from: Option<String>,
    /// `refused`: the op's right outcome is etcd refusing it.
    pub expect: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNemesis {
    pub kinds: Vec<RawNemesisKind>,
    pub interval: Option<Span>,
    #[serde(rename = "for")]
    pub for_: Option<Span>,
    pub targets: Option<Vec<String>>,
    pub start: Option<Span>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub linearizable: Option<bool>,
    pub consistent: Option<bool>,
    pub max_unavailable: Option<Span>,
    pub max_leader_changes: Option<u32>,
    pub p99: Option<Span>,
    pub min_ok_ops: Option<u64>,
    pub watch: Option<Spanned<bool>>,
}
