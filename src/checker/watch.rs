//! The watch checker: every member's watch stream (`watch.jsonl`, [`crate::watchlog`])
//! judged against the other streams and the history. Pure: it never touches the cluster.
//!
//! For each stream, in the order its watcher received it:
//!
//! - **ordered**: revisions never go back (an event below one already delivered, not
//!   delivered before, is *out of order*); several keys may share a revision (a txn);
//! - **no duplicates**: the same revision and key delivered twice;
//! - **no gaps**: every revision that some stream delivered or that an acknowledged write
//!   or cas of the history (`ok` with `rev`) carries, between the stream's start revision
//!   and the last revision it delivered, is in the stream — except the revisions an
//!   etcd-reported compaction took from it (`compacted`: from the revision asked for up to
//!   the compact revision);
//! - **agreement**: an event at revision r holds the key and value of the acknowledged
//!   write with rev r (a cas: its new value), and, where the history has none, the same as
//!   every other stream at r;
//! - **caught up**: a stream that ended (`stopped`) had delivered the newest revision of
//!   the watched range at the end of the run; one that had not is *behind*.
//!
//! Any of these is a problem; the first (by time) is described in words.

use crate::history::{Entry, EntryType, OpKind, Value};
use crate::watchlog::{WatchLine, WatchRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One stream's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamFigures {
    /// The member watched.
    pub member: String,
    /// Events delivered.
    pub events: u64,
    /// The revision the stream started from (absent: it never opened).
    pub from_revision: Option<i64>,
    /// The last revision it delivered.
    pub last_revision: Option<i64>,
    /// Times it was re-opened after breaking.
    pub resumed: u64,
    /// Compactions etcd reported to it.
    pub compacted: u64,
    /// Revisions those compactions took from it.
    pub skipped: u64,
    /// Revisions it lacks.
    pub gaps: u64,
    /// Events delivered twice.
    pub duplicates: u64,
    /// Events below a revision already delivered.
    pub out_of_order: u64,
    /// Events that disagree with the history or another stream.
    pub disagreements: u64,
    /// It ended short of the newest revision of the watched range.
    pub behind: bool,
}

/// The watch check's result (`watch` in `summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchCheck {
    /// Streams (members watched).
    pub streams: u64,
    /// Events delivered, all streams.
    pub events: u64,
    /// Revisions missing from a stream.
    pub gaps: u64,
    /// Events delivered twice.
    pub duplicates: u64,
    /// Events delivered below a revision already delivered.
    pub out_of_order: u64,
    /// Events that disagree with the history or another stream.
    pub disagreements: u64,
    /// Streams that ended short of the newest revision.
    pub behind: u64,
    /// Times streams were re-opened after breaking.
    pub resumed: u64,
    /// Compactions etcd reported to the streams.
    pub compacted: u64,
    /// No problem found.
    pub ok: bool,
    /// The first problem, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<String>,
    /// Per stream, by member.
    pub members: Vec<StreamFigures>,
}

impl WatchCheck {
    /// Every problem counted, as one phrase: `2 gaps, 1 duplicate` (or `no problem`).
    pub fn problems(&self) -> String {
        phrase(&[
            (self.gaps, "gap", "gaps"),
            (self.duplicates, "duplicate", "duplicates"),
            (self.out_of_order, "event out of order", "events out of order"),
            (self.disagreements, "disagreement", "disagreements"),
            (self.behind, "stream behind", "streams behind"),
        ])
    }
}

impl StreamFigures {
    /// This stream's problems, as one phrase (or `no problem`).
    pub fn problems(&self) -> String {
        phrase(&[
            (self.gaps, "gap", "gaps"),
            (self.duplicates, "duplicate", "duplicates"),
            (self.out_of_order, "event out of order", "events out of order"),
            (self.disagreements, "disagreement", "disagreements"),
            (u64::from(self.behind), "behind", "behind"),
        ])
    }
}

fn phrase(counts: &[(u64, &str, &str)]) -> String {
    let parts: Vec<String> = counts.iter().filter(|(n, _, _)| *n > 0).map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many })).collect();
    if parts.is_empty() {
        "no problem".to_string()
    } else {
        parts.join(", ")
    }
}

/// What a revision holds: a key and its value (`None`: deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    key: String,
    value: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{} = \"{v}\"", self.key),
            None => write!(f, "{} deleted", self.key),
        }
    }
}

/// An acknowledged write of the history.
struct Acked {
    change: Change,
    id: u64,
    t: u64,
}

/// The acknowledged writes and cas of the history, by revision.
fn acknowledged(history: &[Entry]) -> BTreeMap<i64, Acked> {
    let mut out = BTreeMap::new();
    for e in history {
        if e.kind != EntryType::Ok || !matches!(e.f, OpKind::Write | OpKind::Cas) {
            continue;
        }
        let (Some(rev), value) = (e.rev, &e.value) else { continue };
        let value = match value {
            Value::One(v) => v.clone(),
            Value::Pair(_, to) => to.clone(),
            Value::None => continue,
        };
        out.entry(rev).or_insert(Acked { change: Change { key: e.key.clone(), value: Some(value) }, id: e.id, t: e.t });
    }
    out
}

fn secs(t: u64) -> String {
    format!("{:.2} s", t as f64 / 1e9)
}

/// One stream's records, read in order.
#[derive(Default)]
struct Stream<'a> {
    from: Option<i64>,
    /// Revisions etcd's compactions took: `[requested, compact_revision)`.
    skips: Vec<(i64, i64)>,
    /// Events: (t, revision, change).
    events: Vec<(u64, i64, Change)>,
    resumed: u64,
    /// The `stopped` line: last revision, target.
    stopped: Option<(u64, i64, Option<i64>)>,
    member: &'a str,
}

fn streams(records: &[WatchRecord]) -> BTreeMap<&str, Stream<'_>> {
    let mut out: BTreeMap<&str, Stream> = BTreeMap::new();
    for r in records {
        let s = out.entry(r.member.as_str()).or_insert_with(|| Stream { member: r.member.as_str(), ..Default::default() });
        match &r.what {
            WatchLine::Put { key, value, mod_revision, .. } => s.events.push((r.t, *mod_revision, Change { key: key.clone(), value: Some(value.clone()) })),
            WatchLine::Delete { key, mod_revision, .. } => s.events.push((r.t, *mod_revision, Change { key: key.clone(), value: None })),
            WatchLine::Started { revision, .. } => {
                s.from.get_or_insert(*revision);
            }
            WatchLine::Resumed { .. } => s.resumed += 1,
            WatchLine::Compacted { requested, compact_revision } => {
                if compact_revision > requested {
                    s.skips.push((*requested, *compact_revision));
                }
            }
            WatchLine::Broken { .. } | WatchLine::Progress { .. } | WatchLine::ProgressRequested {} | WatchLine::Slow { .. } | WatchLine::Listed { .. } => {}
            WatchLine::Stopped { last_revision, target } => s.stopped = Some((r.t, *last_revision, *target)),
        }
    }
    out
}

/// Check every stream of `records` against the others and the acknowledged writes of
/// `history` (see the module's documentation).
pub fn check(records: &[WatchRecord], history: &[Entry]) -> WatchCheck {
    let acked = acknowledged(history);
    let streams = streams(records);

    // What each revision holds, as far as anyone says: the history first, then the first
    // stream (by member) that delivered it.
    // `None` as the source: the history.
    let mut reference: BTreeMap<i64, (Change, Option<&str>)> = acked.iter().map(|(r, a)| (*r, (a.change.clone(), None))).collect();
    for s in streams.values() {
        for (_, rev, ch) in &s.events {
            reference.entry(*rev).or_insert_with(|| (ch.clone(), Some(s.member)));
        }
    }
    let source = |rev: i64, by: Option<&str>| match (by, acked.get(&rev)) {
        (Some(m), _) => format!("{m}'s stream"),
        (None, Some(a)) => format!("the acknowledged write (op {} at {})", a.id, secs(a.t)),
        (None, None) => "the history".to_string(),
    };
    let expected: BTreeSet<i64> = reference.keys().copied().collect();
    let newest = expected.last().copied();

    let mut out = WatchCheck { streams: streams.len() as u64, ..Default::default() };
    // (t, words) of every problem; the earliest is reported.
    let mut problems: Vec<(u64, String)> = Vec::new();
    for s in streams.values() {
        let mut f = StreamFigures {
            member: s.member.to_string(),
            events: s.events.len() as u64,
            from_revision: s.from,
            resumed: s.resumed,
            compacted: s.skips.len() as u64,
            skipped: s.skips.iter().map(|(a, b)| (b - a) as u64).sum(),
            ..Default::default()
        };
        let mut seen: HashSet<(i64, &str)> = HashSet::new();
        let mut revs: BTreeSet<i64> = BTreeSet::new();
        let mut high: Option<i64> = None;
        for (t, rev, ch) in &s.events {
            if !seen.insert((*rev, ch.key.as_str())) {
                f.duplicates += 1;
                problems.push((*t, format!("{}'s stream delivered revision {rev} ({ch}) twice", s.member)));
                continue;
            }
            if let Some(h) = high.filter(|h| rev < h) {
                f.out_of_order += 1;
                problems.push((*t, format!("{}'s stream delivered revision {rev} ({ch}) after revision {h}", s.member)));
            }
            high = high.max(Some(*rev));
            revs.insert(*rev);
            if let Some((want, by)) = reference.get(rev) {
                if want != ch && *by != Some(s.member) {
                    f.disagreements += 1;
                    problems.push((*t, format!("{}'s stream has {ch} at revision {rev}, but {} has {want} there", s.member, source(*rev, *by))));
                }
            }
        }
        f.last_revision = high;
        // Gaps: expected revisions between the start and the last revision delivered.
        if let (Some(from), Some(last)) = (s.from, high) {
            // (revision, t) by revision, to date each hole by the first event past it.
            let mut dated: Vec<(i64, u64)> = s.events.iter().map(|(t, r, _)| (*r, *t)).collect();
            dated.sort_unstable();
            for rev in expected.range(from..=last) {
                if revs.contains(rev) || s.skips.iter().any(|(a, b)| (*a..*b).contains(rev)) {
                    continue;
                }
                f.gaps += 1;
                let (want, by) = &reference[rev];
                // When: the first event the stream delivered past the hole.
                let t = dated.get(dated.partition_point(|(r, _)| r <= rev)).map_or(0, |e| e.1);
                problems.push((
                    t,
                    format!(
                        "{}'s stream lacks revision {rev} ({want}, seen in {}), though it delivered revisions on both sides of it",
                        s.member,
                        source(*rev, *by)
                    ),
                ));
            }
        }
        // Behind: the stream ended short of the newest revision anyone knows of.
        if let Some((t, last, target)) = s.stopped {
            let goal = newest.max(target);
            if let Some(goal) = goal.filter(|g| last < *g) {
                f.behind = true;
                problems.push((
                    t,
                    format!("{}'s stream stopped at revision {last}, short of revision {goal}, the newest of the watched keys at the end", s.member),
                ));
            }
        }
        out.events += f.events;
        out.gaps += f.gaps;
        out.duplicates += f.duplicates;
        out.out_of_order += f.out_of_order;
        out.disagreements += f.disagreements;
        out.behind += u64::from(f.behind);
        out.resumed += f.resumed;
        out.compacted += f.compacted;
        out.members.push(f);
    }
    problems.sort_by_key(|(t, _)| *t);
    out.first_problem = problems.into_iter().next().map(|(_, w)| w);
    out.ok = out.first_problem.is_none();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(member: &str, t: u64, what: WatchLine) -> WatchRecord {
        WatchRecord { member: member.into(), watcher: None, t, what }
    }

    fn put(member: &str, t: u64, key: &str, value: &str, rev: i64) -> WatchRecord {
        rec(
            member,
            t,
            WatchLine::Put { key: key.into(), value: value.into(), mod_revision: rev, create_revision: None, version: None, prev: None, response: None },
        )
    }

    /// Two members, revisions 10..=14, each stopped caught up at 14.
    fn clean() -> Vec<WatchRecord> {
        let mut out = Vec::new();
        for m in ["n1", "n2"] {
            out.push(rec(m, 0, WatchLine::Started { revision: 10, spec: None, header: None }));
            for r in 10..=14 {
                out.push(put(m, r as u64, &format!("k{}", r % 3), &format!("v{r}"), r));
            }
            out.push(rec(m, 100, WatchLine::Stopped { last_revision: 14, target: Some(14) }));
        }
        out
    }

    fn write_ok(id: u64, key: &str, value: Value, rev: i64) -> Entry {
        Entry {
            kind: EntryType::Ok,
            id,
            client: 0,
            t: id,
            f: OpKind::Write,
            key: key.into(),
            value,
            rev: Some(rev),
            error: None,
            member: None,
            req: None,
            res: None,
        }
    }

    #[test]
    fn a_clean_stream_passes() {
        let c = check(&clean(), &[write_ok(1, "k2", Value::One("v11".into()), 11)]);
        assert!(c.ok, "{c:?}");
        assert_eq!((c.streams, c.events), (2, 10));
        assert_eq!(c.problems(), "no problem");
    }

    #[test]
    fn a_dropped_event_is_a_gap() {
        let mut r = clean();
        r.retain(|x| !(x.member == "n2" && x.what.event_revision() == Some(12)));
        let c = check(&r, &[]);
        assert_eq!((c.gaps, c.ok), (1, false));
        let p = c.first_problem.unwrap();
        assert!(p.contains("n2's stream lacks revision 12") && p.contains("n1's stream"), "{p}");
    }

    #[test]
    fn an_acknowledged_write_no_stream_shows_is_a_gap_in_each() {
        let mut r = clean();
        r.retain(|x| x.what.event_revision() != Some(12));
        let c = check(&r, &[write_ok(7, "k0", Value::Pair("a".into(), "v12".into()), 12)]);
        assert_eq!(c.gaps, 2);
        assert!(c.first_problem.unwrap().contains("acknowledged write (op 7"));
    }

    #[test]
    fn a_compaction_etcd_reported_is_no_gap() {
        let mut r = clean();
        // n2 saw 10, broke, and resumed after the compaction at 13.
        r.retain(|x| !(x.member == "n2" && matches!(x.what.event_revision(), Some(11 | 12))));
        let at = r.iter().position(|x| x.member == "n2" && x.what.event_revision() == Some(13)).unwrap();
        r.insert(at, rec("n2", 12, WatchLine::Resumed { revision: 13, attempts: 1 }));
        r.insert(at, rec("n2", 12, WatchLine::Compacted { requested: 11, compact_revision: 13 }));
        r.insert(at, rec("n2", 12, WatchLine::Resumed { revision: 11, attempts: 3 }));
        r.insert(at, rec("n2", 11, WatchLine::Broken { why: "connection refused".into() }));
        let c = check(&r, &[]);
        assert!(c.ok, "{c:?}");
        let n2 = &c.members[1];
        assert_eq!((n2.resumed, n2.compacted, n2.skipped), (2, 1, 2));
        // A compaction that does not cover the hole does not excuse it.
        let mut r2 = r.clone();
        for x in &mut r2 {
            if let WatchLine::Compacted { compact_revision, .. } = &mut x.what {
                *compact_revision = 12;
            }
        }
        assert_eq!(check(&r2, &[]).gaps, 1);
    }

    #[test]
    fn a_repeated_event_is_a_duplicate_and_a_late_one_out_of_order() {
        let mut r = clean();
        let at = r.iter().position(|x| x.member == "n1" && x.what.event_revision() == Some(13)).unwrap();
        r.insert(at + 1, put("n1", 13, "k1", "v13", 13));
        let c = check(&r, &[]);
        assert_eq!((c.duplicates, c.out_of_order, c.gaps), (1, 0, 0));
        assert!(c.first_problem.unwrap().contains("revision 13 (k1 = \"v13\") twice"));

        let mut r = clean();
        // n1 gets 12 after 13.
        let i12 = r.iter().position(|x| x.member == "n1" && x.what.event_revision() == Some(12)).unwrap();
        let e = r.remove(i12);
        let i13 = r.iter().position(|x| x.member == "n1" && x.what.event_revision() == Some(13)).unwrap();
        r.insert(i13 + 1, e);
        let c = check(&r, &[]);
        assert_eq!((c.out_of_order, c.duplicates, c.gaps), (1, 0, 0));
        assert!(c.first_problem.unwrap().contains("revision 12 (k0 = \"v12\") after revision 13"));
    }

    #[test]
    fn a_value_the_history_did_not_write_is_a_disagreement() {
        let c = check(&clean(), &[write_ok(3, "k2", Value::One("other".into()), 11)]);
        assert_eq!(c.disagreements, 2);
        assert!(c.first_problem.unwrap().contains("k2 = \"v11\" at revision 11, but the acknowledged write (op 3"));
        // Two streams that disagree with each other, with no history.
        let mut r = clean();
        for x in &mut r {
            if let (true, WatchLine::Put { value, mod_revision: 12, .. }) = (x.member == "n2", &mut x.what) {
                *value = "forged".into();
            }
        }
        let c = check(&r, &[]);
        assert_eq!(c.disagreements, 1);
        assert!(c.first_problem.unwrap().contains("n2's stream has k0 = \"forged\" at revision 12, but n1's stream has k0 = \"v12\""));
    }

    #[test]
    fn a_stream_that_ends_short_is_behind() {
        let mut r = clean();
        r.retain(|x| !(x.member == "n2" && x.what.event_revision() == Some(14)));
        for x in &mut r {
            if let (true, WatchLine::Stopped { last_revision, .. }) = (x.member == "n2", &mut x.what) {
                *last_revision = 13;
            }
        }
        let c = check(&r, &[]);
        assert_eq!((c.behind, c.gaps, c.ok), (1, 0, false));
        assert!(c.members[1].behind);
        assert!(c.first_problem.unwrap().contains("n2's stream stopped at revision 13, short of revision 14"));
        assert_eq!(check(&r, &[]).problems(), "1 stream behind");
    }
}
