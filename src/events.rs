//! What happened to the cluster during a run (docs/formats.md §3, `events.jsonl`): members
//! started and stopped, leaders, faults injected and healed with their proof. The runner
//! emits [`Event`]s; the events file, the progress display and the summary are sinks.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds on the history's clock, whose zero is the workload start: set-up events
    /// (members started, the first leader) are negative. A `fault-start` carries when its
    /// injection began (its proof came at `proven_t`), so lines are not always in `t` order.
    pub t: i64,
    /// What happened.
    #[serde(flatten)]
    pub what: EventKind,
}

/// The kinds of event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// A member's process (or container) started.
    MemberStart {
        /// Member name.
        member: String,
        /// Its process id.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        pid: Option<u32>,
    },
    /// A member's process stopped.
    MemberStop {
        /// Member name.
        member: String,
        /// How: `SIGKILL`, `SIGTERM`, `exited`, ...
        how: String,
    },
    /// A new leader was seen.
    LeaderChange {
        /// The new leader.
        member: String,
        /// Its raft term.
        term: u64,
    },
    /// A member's etcd version, as its status answers say: when first seen and at each
    /// change (a rolling upgrade).
    MemberVersion {
        /// Member name.
        member: String,
        /// The version it runs now (`3.5.1`).
        version: String,
        /// The version it ran before; absent when first seen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// The cluster version (its members' `/version`: etcd keeps it at the lowest member's
    /// minor version, `3.4.0`, until every member runs a newer one): when first seen and at
    /// each change.
    ClusterVersion {
        /// The cluster version now (`3.5.0`).
        version: String,
        /// The one before; absent when first seen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// A fault was put in force: `t` is when its injection began, `proven_t` when it was
    /// shown to have taken effect.
    FaultStart(FaultRecord),
    /// A fault was healed.
    FaultHeal(FaultRecord),
    /// The workload started (t = 0 of the history clock).
    WorkloadStart {
        /// Number of clients.
        clients: u32,
    },
    /// The workload ended.
    WorkloadEnd {},
    /// A scheduled etcd operation (`ops:`) finished.
    Op {
        /// `compact`, `defrag`, `move-leader`, `alarm-disarm`.
        op: String,
        /// Members it acted on.
        targets: Vec<String>,
        /// Whether it succeeded (and verified its result).
        ok: bool,
        /// Its verified result, or why it failed.
        detail: String,
        /// How long it took, s.
        duration_s: f64,
        /// The op's right outcome when it is not `done`: `refused` (`expect: refused`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<String>,
        /// etcd refused it (a member would not start on its new version): `detail` has etcd's
        /// own words.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        refused: bool,
    },
    /// A `snapshot-restore` brought the cluster back on a snapshot's data (the `op` event
    /// says how it went; this one carries what the checker needs to split the history).
    SnapshotRestored {
        /// The snapshot's name.
        snapshot: String,
        /// The snapshot's revision: the cluster's revision after the restore.
        revision: i64,
        /// When the workload was paused (the restore began), ns.
        began_t: u64,
        /// When the restored cluster was verified, just before the workload resumed, ns.
        ended_t: u64,
        /// Every workload key's value read (linearizably) after the restore; `null` = absent.
        values: std::collections::BTreeMap<String, Option<String>>,
    },
    /// A scheduled op (`ops:`) with an `id:` began (triggers wait for it: `when: "d1 started"`).
    OpStart {
        /// `compact`, `defrag`, ...
        op: String,
        /// Its `id:`.
        id: String,
    },
    /// A trigger fired: what a triggered fault waited for came (`t` is when it fired), and
    /// the fault starts or heals `delay_ms` after `happened_t`.
    TriggerFired {
        /// The fault's index in the schedule.
        fault: usize,
        /// What fires: `start` or `heal`.
        then: String,
        /// What it waited for, as the scenario wrote it (`d1 started + 20ms`, `snapshot`).
        waited_for: String,
        /// When that happened, ns on the history's clock.
        happened_t: i64,
        /// The delay after it, ms.
        delay_ms: u64,
        /// How it was known (a leader's log line and a member's index, for a snapshot).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        evidence: String,
    },
    /// A triggered fault's condition did not come within its bound: the fault never started,
    /// or was healed at the bound. The run is invalid, with this reason.
    TriggerExpired {
        /// The fault's index in the schedule.
        fault: usize,
        /// What did not fire: `start` or `heal`.
        then: String,
        /// What it waited for.
        waited_for: String,
        /// Why it never came, in words.
        reason: String,
    },
    /// A member caught up from a snapshot sent by the leader, as its own log says (the proof
    /// of `until: snapshot`).
    SnapshotReceived {
        /// The member.
        member: String,
        /// Its log line.
        evidence: String,
    },
    /// Someone noticed corrupted data: etcd itself (a member refused to start on its files, a
    /// `CORRUPT` alarm, a corruption line in a member's log) or faultline's own HashKV
    /// comparison after the run.
    CorruptionDetected {
        /// The member whose data is corrupt (for an alarm: the member it names; for a log
        /// line: the member that logged it).
        member: String,
        /// Who noticed.
        by: CorruptionBy,
        /// What was said: etcd's own words, or the HashKV difference.
        detail: String,
        /// The `corrupt` fault it follows, when one did it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<usize>,
    },
    /// Anything else worth knowing.
    Note {
        /// The note.
        message: String,
    },
}

/// Who noticed corrupted data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CorruptionBy {
    /// The member's etcd exited when started on its files.
    EtcdRefusedStart,
    /// A `CORRUPT` alarm in a member's status.
    EtcdAlarm,
    /// A line of a member's log (`found data inconsistency with peers`, `found hash mismatch`).
    EtcdLog,
    /// faultline's HashKV comparison after the run (src/consistency.rs).
    FaultlineHashkv,
}

impl CorruptionBy {
    /// As events.jsonl writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CorruptionBy::EtcdRefusedStart => "etcd-refused-start",
            CorruptionBy::EtcdAlarm => "etcd-alarm",
            CorruptionBy::EtcdLog => "etcd-log",
            CorruptionBy::FaultlineHashkv => "faultline-hashkv",
        }
    }
}

/// A fault as injected or healed, with the evidence that it took effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// Index in the resolved schedule.
    pub id: usize,
    /// `partition`, `kill`, `stop`, `pause`, ...
    pub kind: String,
    /// The target as written (`leader`, `n2`, ...).
    pub target: String,
    /// The members it resolved to.
    pub targets: Vec<String>,
    /// How it was carried out: `iptables`, `signal`, ...
    pub mechanism: String,
    /// The fault's parameters (mode, ...).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Evidence that it took effect (or, on heal, that it was undone).
    pub proof: String,
    /// On `fault-start`: when the proof was in, ns on the history's clock (the event's `t`
    /// is when the injection began). Absent on heals and in runs recorded before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven_t: Option<i64>,
}

/// Streams events to `events.jsonl` (see [`crate::jsonl::Writer`]).
pub type EventWriter = crate::jsonl::Writer<Event>;

/// Read an `events.jsonl`; a malformed line is reported as `file:line: what was expected`.
pub fn read(path: &Path) -> Result<Vec<Event>, String> {
    crate::jsonl::read(path, "an event")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_t_and_event_fields() {
        let e = Event { t: 5, what: EventKind::LeaderChange { member: "n2".into(), term: 3 } };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"t":5,"event":"leader-change","member":"n2","term":3}"#);
        let back: Event = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }
}
