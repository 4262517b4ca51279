//! A history split at its snapshot-restores. After a restore the cluster legitimately serves
//! the snapshot's state: writes acknowledged after the snapshot's revision are gone by
//! design, so the history as a whole is not linearizable and must not be judged as one.
//! Each epoch — the operations invoked between two restores — is checked on its own, and an
//! epoch after a restore starts from what the restore put back: one synthetic acknowledged
//! write per key of the value read right after the restore (client and id counted down from
//! the top of their range, member `restored:<snapshot>`), invoked and returned before the
//! epoch's first operation.
//!
//! The workload is paused during a restore (operations in flight complete first), so no
//! operation straddles a restore: an operation belongs to the epoch its invocation falls in.
//! Pure: the runner writes the epochs as `history.epochN.jsonl` and checks each.

use crate::events::{Event, EventKind};
use crate::history::{Entry, EntryType, OpKind, Value};
use std::collections::{BTreeMap, HashMap};

/// A restore as the events record it.
#[derive(Debug, Clone, PartialEq)]
pub struct Restore {
    /// The snapshot's name.
    pub snapshot: String,
    /// The snapshot's revision.
    pub revision: i64,
    /// When the workload was paused, ns.
    pub began_t: u64,
    /// When the restored cluster was verified (the workload resumed right after), ns.
    pub ended_t: u64,
    /// Each workload key's value after the restore (`None` = absent).
    pub values: BTreeMap<String, Option<String>>,
}

/// The restores of a run, in time order, from its `snapshot-restored` events.
pub fn restores(events: &[Event]) -> Vec<Restore> {
    let mut out: Vec<Restore> = events
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::SnapshotRestored { snapshot, revision, began_t, ended_t, values } => {
                Some(Restore { snapshot: snapshot.clone(), revision: *revision, began_t: *began_t, ended_t: *ended_t, values: values.clone() })
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(|r| r.began_t);
    out
}

/// One epoch of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    /// 1-based.
    pub index: usize,
    /// Its entries, in history order, after the synthetic writes that start it.
    pub entries: Vec<Entry>,
    /// How many operations at its start are synthetic (the restored values).
    pub synthetic: usize,
    /// Operations of the workload in it.
    pub ops: u64,
}

/// The epoch (0-based) an operation invoked at `t` belongs to.
fn epoch_of(t: u64, restores: &[Restore]) -> usize {
    restores.iter().filter(|r| r.began_t <= t).count()
}

/// Split `history` at `restores` (in time order): `restores.len() + 1` epochs, each after the
/// first beginning with the restored values as synthetic acknowledged writes.
pub fn split(history: &[Entry], restores: &[Restore]) -> Vec<Epoch> {
    let mut parts: Vec<Vec<Entry>> = vec![Vec::new(); restores.len() + 1];
    let mut ops = vec![0u64; restores.len() + 1];
    let mut of_id: HashMap<u64, usize> = HashMap::new();
    for e in history {
        let i = if e.kind == EntryType::Invoke {
            let i = epoch_of(e.t, restores);
            of_id.insert(e.id, i);
            ops[i] += 1;
            i
        } else {
            of_id.get(&e.id).copied().unwrap_or_else(|| epoch_of(e.t, restores))
        };
        parts[i].push(e.clone());
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(i, entries)| {
            let Some(r) = i.checked_sub(1).map(|p| &restores[p]) else {
                return Epoch { index: 1, entries, synthetic: 0, ops: ops[0] };
            };
            // Before the epoch's first operation (and no later than the restore's end).
            let first = entries.iter().map(|e| e.t).min().unwrap_or(r.ended_t).min(r.ended_t).max(2);
            let mut start = Vec::new();
            for (n, (key, value)) in r.values.iter().enumerate() {
                let Some(v) = value else { continue }; // absent: the register's initial state
                let e = |kind, t| Entry {
                    kind,
                    id: u64::MAX - n as u64,
                    client: u32::MAX - n as u32,
                    t,
                    f: OpKind::Write,
                    key: key.clone(),
                    value: Value::One(v.clone()),
                    rev: Some(r.revision),
                    error: None,
                    member: Some(format!("restored:{}", r.snapshot)),
                    req: None,
                    res: None,
                };
                start.push(e(EntryType::Invoke, first - 2));
                start.push(e(EntryType::Ok, first - 1));
            }
            let synthetic = start.len() / 2;
            start.extend(entries);
            Epoch { index: i + 1, entries: start, synthetic, ops: ops[i] }
        })
        .collect()
}

/// Per restore: the writes and cas acknowledged in the epoch before it whose revision is
/// above the snapshot's — in no snapshot, so lost by the restore by design. (Operations with
/// unknown outcome are not counted: whether they took effect is unknown.)
pub fn lost_by_design(history: &[Entry], restores: &[Restore]) -> Vec<u64> {
    let mut lost = vec![0u64; restores.len()];
    for op in crate::history::pair(history) {
        let i = epoch_of(op.invoke_t, restores);
        let (Some(r), Some(rev)) = (restores.get(i), op.rev) else { continue };
        if op.outcome == EntryType::Ok && matches!(op.f, OpKind::Write | OpKind::Cas) && rev > r.revision {
            lost[i] += 1;
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Verdict;

    const S: u64 = 1_000_000_000;

    fn entry(kind: EntryType, id: u64, t: u64, f: OpKind, key: &str, value: Value, rev: Option<i64>) -> Entry {
        Entry { kind, id, client: id as u32, t, f, key: key.into(), value, rev, error: None, member: None, req: None, res: None }
    }

    /// An acknowledged write of `v` to `key` at `t` (s), at revision `rev`.
    fn write(h: &mut Vec<Entry>, id: u64, t: u64, key: &str, v: &str, rev: i64) {
        h.push(entry(EntryType::Invoke, id, t * S, OpKind::Write, key, Value::One(v.into()), None));
        h.push(entry(EntryType::Ok, id, t * S + S / 10, OpKind::Write, key, Value::One(v.into()), Some(rev)));
    }

    fn read(h: &mut Vec<Entry>, id: u64, t: u64, key: &str, v: Option<&str>, rev: i64) {
        h.push(entry(EntryType::Invoke, id, t * S, OpKind::Read, key, Value::None, None));
        let out = v.map_or(Value::None, |v| Value::One(v.into()));
        h.push(entry(EntryType::Ok, id, t * S + S / 10, OpKind::Read, key, out, Some(rev)));
    }

    /// Snapshot at revision 3 (x=1, y=2) taken at 2 s; x=3 (rev 4) and y=4 (rev 5) written
    /// after it; restore from 5 s to 7 s; then reads see the snapshot's values.
    fn history() -> (Vec<Entry>, Vec<Restore>) {
        let mut h = Vec::new();
        write(&mut h, 1, 0, "x", "1", 2);
        write(&mut h, 2, 1, "y", "2", 3);
        write(&mut h, 3, 3, "x", "3", 4);
        write(&mut h, 4, 4, "y", "4", 5);
        read(&mut h, 5, 8, "x", Some("1"), 3);
        read(&mut h, 6, 8, "y", Some("2"), 3);
        read(&mut h, 7, 9, "z", None, 3);
        let values = [("x", Some("1")), ("y", Some("2")), ("z", None)].iter().map(|(k, v)| (k.to_string(), v.map(String::from))).collect();
        (h, vec![Restore { snapshot: "snap1".into(), revision: 3, began_t: 5 * S, ended_t: 7 * S, values }])
    }

    fn check(entries: &[Entry]) -> Verdict {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let mut w = crate::history::HistoryWriter::create(&path).unwrap();
        for e in entries {
            w.append(e).unwrap();
        }
        w.flush().unwrap();
        let (m, ops) = crate::checker::input::jsonl(&path).unwrap();
        crate::checker::check(&m, ops, std::time::Duration::from_secs(10)).verdict
    }

    #[test]
    fn the_history_splits_at_the_restore_and_each_epoch_is_linearizable() {
        let (h, r) = history();
        // As one history, the reads after the restore are stale: a false violation.
        assert_eq!(check(&h), Verdict::NotLinearizable);
        let epochs = split(&h, &r);
        assert_eq!(epochs.len(), 2);
        assert_eq!((epochs[0].ops, epochs[1].ops), (4, 3));
        assert_eq!(epochs[0].synthetic, 0);
        // x and y restored; z absent needs no write.
        assert_eq!(epochs[1].synthetic, 2);
        let first = &epochs[1].entries[0];
        assert_eq!((first.client, first.member.as_deref(), first.t < 7 * S), (u32::MAX, Some("restored:snap1"), true));
        assert_eq!(check(&epochs[0].entries), Verdict::Linearizable);
        assert_eq!(check(&epochs[1].entries), Verdict::Linearizable);
    }

    #[test]
    fn acknowledged_writes_after_the_snapshots_revision_are_counted_lost() {
        let (mut h, r) = history();
        // Unknown outcome: not counted. A failed write: not counted.
        h.push(entry(EntryType::Invoke, 20, 4 * S, OpKind::Write, "z", Value::One("9".into()), None));
        h.push(entry(EntryType::Info, 20, 5 * S - 1, OpKind::Write, "z", Value::One("9".into()), None));
        // A write after the restore: its epoch has no restore after it.
        write(&mut h, 21, 10, "x", "5", 4);
        assert_eq!(lost_by_design(&h, &r), vec![2]);
    }

    #[test]
    fn a_stale_read_inside_the_second_epoch_still_fails() {
        let (mut h, r) = history();
        // After the restore: x := 5 acknowledged, then a read of the restored 1 — stale.
        write(&mut h, 30, 10, "x", "5", 4);
        read(&mut h, 31, 11, "x", Some("1"), 4);
        let epochs = split(&h, &r);
        assert_eq!(check(&epochs[0].entries), Verdict::Linearizable);
        assert_eq!(check(&epochs[1].entries), Verdict::NotLinearizable);
    }

    #[test]
    fn a_read_after_the_restore_that_contradicts_the_restored_value_fails() {
        let (mut h, r) = history();
        // The restore read x = 1; a read of 3 (the lost write) right after cannot be.
        read(&mut h, 40, 10, "x", Some("3"), 3);
        let epochs = split(&h, &r);
        assert_eq!(check(&epochs[1].entries), Verdict::NotLinearizable);
    }

    #[test]
    fn restores_come_from_the_events_in_time_order() {
        let ev = |t: u64, began_t| Event {
            t: t as i64,
            what: EventKind::SnapshotRestored { snapshot: format!("s{began_t}"), revision: 3, began_t, ended_t: t, values: BTreeMap::new() },
        };
        let events = vec![ev(9, 8), Event { t: 1, what: EventKind::WorkloadEnd {} }, ev(5, 4)];
        let r = restores(&events);
        assert_eq!(r.iter().map(|r| r.began_t).collect::<Vec<_>>(), vec![4, 8]);
    }
}
