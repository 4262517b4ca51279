//! The guarantees about what a stream must contain, judged against the [`Truth`]:
//! *reliable*, *resumable* and *caught_up*.

use super::streams::{OpeningKind, Stream};
use super::truth::Truth;
use super::{Found, Guarantee};
use std::collections::HashSet;

/// *reliable* and *resumable*: every known change the stream watches (its range, past its
/// filter), from its start revision up to the last revision it delivered, is in it — except
/// revisions etcd reported compacted and those a list covered. A change missing between a
/// resumption's revision and the first event after it breaks *resumable*; any other,
/// *reliable*.
pub(super) fn reliable_and_resumable(s: &Stream, truth: &Truth, found: &mut Found) {
    let (Some(from), Some(last)) = (s.from(), s.last()) else { return };
    let delivered: HashSet<(i64, &str)> = s.events.iter().map(|e| (e.revision, e.key)).collect();
    // (revision, t, member) of each event, by revision: a hole is dated by the first event past it.
    let mut dated: Vec<(i64, u64, &str)> = s.events.iter().map(|e| (e.revision, e.t, e.member)).collect();
    dated.sort_unstable();
    // Each resumption: from its revision to the first event after it.
    let resumed: Vec<(i64, i64)> = s
        .openings
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OpeningKind::Resumed)
        .filter_map(|(i, o)| s.events.iter().find(|e| e.opening >= i).map(|e| (o.revision, e.revision)))
        .collect();
    let watched = truth.changes.iter().filter(|(k, _)| s.watched.covers(k));
    for (key, (&rev, (want, by))) in watched.flat_map(|(k, revs)| revs.range(from..=last).map(move |c| (*k, c))) {
        if !s.watched.passes(want.value.is_some()) || delivered.contains(&(rev, key)) || s.is_excused(rev) {
            continue;
        }
        let after = dated.get(dated.partition_point(|(r, _, _)| *r <= rev)).copied();
        let (t, member) = after.map_or((0, s.member), |(_, t, m)| (t, m));
        let at = resumed.iter().find(|(asked, first)| (*asked..*first).contains(&rev));
        let (guarantee, how) = match at {
            Some((asked, first)) => (Guarantee::Resumable, format!("resumed from revision {asked}, it went on at revision {first}")),
            None => (Guarantee::Reliable, "it delivered revisions on both sides of it".to_string()),
        };
        found.push(
            guarantee,
            s,
            member,
            t,
            Some(rev),
            Some(key),
            format!("{} lacks revision {rev} ({key} {want}, seen in {by}), though {how}", s.name(member)),
        );
    }
}

/// *caught_up*: a stream that stopped had delivered the newest revision of what it watches.
pub(super) fn caught_up(s: &Stream, truth: &Truth, found: &mut Found) {
    let Some(stop) = s.stopped else { return };
    // Still refused as compacted when it stopped (a client that chases a compaction moving
    // faster than it reopens): etcd's last word to it was the compaction, not silence.
    if s.excused.iter().any(|e| e.compacted && e.to > stop.last_revision) {
        return;
    }
    let newest = truth
        .changes
        .iter()
        .filter(|(k, _)| s.watched.covers(k))
        .filter_map(|(_, revs)| revs.iter().rev().find(|(_, (c, _))| s.watched.passes(c.value.is_some())).map(|(r, _)| *r))
        .max();
    // The target is the newest revision of the watched range, whatever its kind: a filter
    // may hide it.
    let target = stop.target.filter(|_| s.watched.filter.is_none());
    if let Some(goal) = newest.max(target).filter(|g| stop.last_revision < *g) {
        found.push(
            Guarantee::CaughtUp,
            s,
            stop.member,
            stop.t,
            Some(goal),
            None,
            format!("{} stopped at revision {}, short of revision {goal}, the newest of the watched keys at the end", s.name(stop.member), stop.last_revision),
        );
    }
}
