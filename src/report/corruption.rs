//! The `corruption` section of `summary.json`: the `corrupt` faults, and who noticed the
//! damage when — etcd itself (a member that refused to start on its files, a `CORRUPT`
//! alarm, a corruption line in a member's log) and faultline's HashKV comparison after the
//! run — each timed from the fault's injection and from the member's restart on its
//! damaged files (the heal: etcd cannot notice before it reads them).

use crate::events::{CorruptionBy, Event, EventKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One `corrupt` fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorruptFault {
    /// Its id in the schedule.
    pub id: usize,
    /// The members whose files it changed.
    pub targets: Vec<String>,
    /// When its injection began (the member stopped, then its files changed), s.
    pub injected_s: f64,
    /// When the member started again on the damaged files (the heal), s; absent when it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_s: Option<f64>,
    /// What it changed (file, offset, bytes, old and new bytes in hex), as its event says.
    #[serde(default)]
    pub changes: serde_json::Value,
}

/// One time someone noticed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Who: `etcd-refused-start`, `etcd-alarm`, `etcd-log`, `faultline-hashkv`.
    pub by: CorruptionBy,
    /// The member whose data it is about.
    pub member: String,
    /// When, s from the workload start.
    pub t_s: f64,
    /// The corrupt fault it follows (the last one on that member before it, else the last
    /// one before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<usize>,
    /// Seconds from that fault's injection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_injection_s: Option<f64>,
    /// Seconds from the member's restart on its damaged files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_restart_s: Option<f64>,
    /// What was said.
    pub detail: String,
}

/// The section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Corruption {
    /// The `corrupt` faults, in the order they took effect.
    pub faults: Vec<CorruptFault>,
    /// Every detection, in time order.
    pub detections: Vec<Detection>,
    /// The first detection by each detector, seconds from the injection of the fault it
    /// follows (`{"etcd-alarm": 12.4, "faultline-hashkv": 31.0}`); a detector that never
    /// noticed is absent.
    pub time_to_detection_s: BTreeMap<String, f64>,
    /// The members that refused to start on their damaged files, in etcd's words
    /// (`n2 refused its WAL: ...`): a right outcome, the run stays valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

fn secs(ns: i64) -> f64 {
    (ns as f64 / 1e6).round() / 1e3
}

/// The section from the run's events; `None` when the run had no `corrupt` fault and nobody
/// noticed corruption.
pub fn from_events(events: &[Event]) -> Option<Corruption> {
    let mut faults: Vec<CorruptFault> = Vec::new();
    let mut found: Vec<(i64, String, CorruptionBy, String, Option<usize>)> = Vec::new();
    for e in events {
        match &e.what {
            EventKind::FaultStart(r) if r.kind == "corrupt" => faults.push(CorruptFault {
                id: r.id,
                targets: r.targets.clone(),
                injected_s: secs(e.t),
                restarted_s: None,
                changes: r.params.get("changes").cloned().unwrap_or_default(),
            }),
            // The member's start on its damaged files (the heal's own, timed when it happened).
            EventKind::MemberStart { member, .. } => {
                if let Some(f) = faults.iter_mut().rev().find(|f| f.targets.contains(member) && f.restarted_s.is_none() && f.injected_s <= secs(e.t)) {
                    f.restarted_s = Some(secs(e.t));
                }
            }
            EventKind::CorruptionDetected { member, by, detail, fault } => found.push((e.t, member.clone(), *by, detail.clone(), *fault)),
            _ => {}
        }
    }
    if faults.is_empty() && found.is_empty() {
        return None;
    }
    found.sort_by_key(|f| f.0);
    let mut detections = Vec::new();
    let mut first: BTreeMap<String, f64> = BTreeMap::new();
    let mut refused = Vec::new();
    for (t, member, by, detail, fault) in found {
        let t_s = secs(t);
        let before = |f: &&CorruptFault| f.injected_s <= t_s;
        let of = match fault {
            Some(id) => faults.iter().find(|f| f.id == id),
            None => faults.iter().filter(before).rev().find(|f| f.targets.contains(&member)).or_else(|| faults.iter().rfind(before)),
        };
        let after_injection_s = of.map(|f| ((t_s - f.injected_s) * 1e3).round() / 1e3);
        let after_restart_s = of.and_then(|f| f.restarted_s).filter(|r| *r <= t_s).map(|r| ((t_s - r) * 1e3).round() / 1e3);
        if let Some(a) = after_injection_s {
            first.entry(by.as_str().to_string()).or_insert(a);
        }
        if by == CorruptionBy::EtcdRefusedStart {
            refused.push(detail.clone());
        }
        detections.push(Detection { by, member, t_s, fault: of.map(|f| f.id), after_injection_s, after_restart_s, detail });
    }
    Some(Corruption { faults, detections, time_to_detection_s: first, refused })
}

impl Corruption {
    /// In a line for the terminal table: who noticed, how soon.
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = self.refused.clone();
        let firsts: Vec<String> = self.time_to_detection_s.iter().map(|(by, s)| format!("{by} after {s:.1} s")).collect();
        if firsts.is_empty() && self.refused.is_empty() {
            parts.push("nobody noticed (no refused start, alarm, log line or HashKV difference)".into());
        } else if !firsts.is_empty() {
            parts.push(format!("noticed by {}", firsts.join(", ")));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::FaultRecord;

    fn rec(id: usize, kind: &str) -> FaultRecord {
        FaultRecord {
            id,
            kind: kind.into(),
            target: "n2".into(),
            targets: vec!["n2".into()],
            mechanism: "file".into(),
            params: Default::default(),
            proof: String::new(),
            proven_t: None,
        }
    }

    #[test]
    fn detections_are_timed_from_the_fault_that_did_it() {
        let s = 1_000_000_000i64;
        let ev = |t: i64, what| Event { t, what };
        let events = vec![
            ev(2 * s, EventKind::FaultStart(rec(0, "corrupt"))),
            ev(5 * s, EventKind::MemberStart { member: "n2".into(), pid: Some(7) }),
            ev(6 * s, EventKind::FaultHeal(rec(0, "corrupt"))),
            ev(
                5 * s,
                EventKind::CorruptionDetected {
                    member: "n2".into(),
                    by: CorruptionBy::EtcdRefusedStart,
                    detail: "n2 refused its WAL: walpb: crc mismatch".into(),
                    fault: Some(0),
                },
            ),
            ev(20 * s, EventKind::CorruptionDetected { member: "n2".into(), by: CorruptionBy::FaultlineHashkv, detail: "x".into(), fault: None }),
        ];
        let c = from_events(&events).expect("a section");
        assert_eq!(c.faults.len(), 1);
        assert_eq!(c.faults[0].restarted_s, Some(5.0));
        assert_eq!(c.time_to_detection_s.get("etcd-refused-start"), Some(&3.0));
        assert_eq!(c.time_to_detection_s.get("faultline-hashkv"), Some(&18.0));
        assert_eq!(c.detections[1].after_restart_s, Some(15.0));
        assert_eq!(c.refused, ["n2 refused its WAL: walpb: crc mismatch"]);
        assert!(c.line().starts_with("n2 refused its WAL: walpb: crc mismatch; noticed by etcd-refused-start after 3.0 s"), "{}", c.line());
        assert!(from_events(&[ev(0, EventKind::FaultStart(rec(0, "kill")))]).is_none());
    }
}
