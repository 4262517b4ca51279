//! The guarantees about what an event says, judged against the [`Truth`]: *agreement*,
//! *prev_kv* and the part of *is_create* that needs the key's past.

use super::streams::{Event, Stream};
use super::truth::{Change, Source, Truth};
use super::{Found, Guarantee};
use crate::history::EntryType;

/// *agreement*: an event at a revision an acknowledged operation fixes is one of its writes;
/// elsewhere (etcd-API histories) a put's value traces to an operation that may have taken
/// effect there; and it says what every other stream says of that key at that revision.
pub(super) fn agreement(s: &Stream, truth: &Truth, found: &mut Found) {
    for e in &s.events {
        if let Some(why) = against_history(e, truth).or_else(|| against_streams(s, e, truth)) {
            found.event(Guarantee::Agreement, s, e, format!("{} has {} at revision {}, but {why}", s.name(e.member), e.change(), e.revision));
        }
    }
}

fn against_history(e: &Event, truth: &Truth) -> Option<String> {
    if let Some(fixed) = truth.fixed.get(&e.revision) {
        return (!fixed.writes.iter().any(|w| w.is(e))).then(|| fixed.describe());
    }
    let (putters, Some(value)) = (truth.putters.as_ref()?, e.value) else { return None };
    match putters.get(&(e.key, value)) {
        None => Some("no operation of the history put that value".to_string()),
        Some(p) => match (p.outcome, p.rev) {
            (EntryType::Ok, Some(rev)) if rev != e.revision => Some(format!("op {} that put it was acknowledged at revision {rev}", p.id)),
            (EntryType::Fail, _) => Some(format!("op {} that put it failed (it certainly did not take effect)", p.id)),
            _ => None,
        },
    }
}

fn against_streams(s: &Stream, e: &Event, truth: &Truth) -> Option<String> {
    let (want, by) = truth.at(e.revision, e.key)?;
    if *by == Source::Stream(s.watcher) || agrees(want, e) {
        return None;
    }
    let fields = |c: &Change| match (c.create_revision, c.version) {
        (Some(cr), Some(v)) => format!(" (create_revision {cr}, version {v})"),
        _ => String::new(),
    };
    Some(format!("{by} has {} {want}{} there", e.key, fields(want)))
}

/// The event says what `want` says (create_revision and version where both have them).
fn agrees(want: &Change, e: &Event) -> bool {
    let same = |a: Option<i64>, b: Option<i64>| a.zip(b).is_none_or(|(a, b)| a == b);
    want.value == e.value && same(want.create_revision, e.create_revision) && same(want.version, e.version)
}

/// *prev_kv*: with `prev_kv`, an event's `prev` is the key just before its revision. Judged:
/// none on a creation; older than the event; one version less in the same generation; not
/// older than a change of the key known to come after it; the value of the change it names
/// where that is known (and not a deletion). A `null` prev on a non-creation is not judged
/// (etcd sends none when it cannot read the previous revision, e.g. compacted).
pub(super) fn prev_kv(s: &Stream, truth: &Truth, found: &mut Found) {
    if !s.watched.prev_kv {
        return;
    }
    for e in &s.events {
        if let Some(why) = prev_broken(e, truth) {
            found.event(Guarantee::PrevKv, s, e, format!("{} delivered revision {} ({}) with {why}", s.name(e.member), e.revision, e.change()));
        }
    }
}

fn prev_broken(e: &Event, truth: &Truth) -> Option<String> {
    // Absent (an older log) or `null` (etcd sent none): nothing to judge.
    let p = e.prev??;
    let shown = format!("prev {{value \"{}\", mod_revision {}, version {}}}", p.value, p.mod_revision, p.version);
    if e.version == Some(1) {
        return Some(format!("{shown}, though it created the key (there was nothing before)"));
    }
    if p.mod_revision >= e.revision {
        return Some(format!("{shown}, not older than the event"));
    }
    if let (Some(v), Some(c)) = (e.version, e.create_revision) {
        if p.version != v - 1 || p.create_revision != c {
            return Some(format!("{shown} and create_revision {}, though the event is version {v} created at {c}", p.create_revision));
        }
    }
    match truth.before(e.key, e.revision) {
        Some((r, (_, by))) if p.mod_revision < r => Some(format!("{shown}, though {by} changed {} at revision {r}, after it", e.key)),
        Some((r, (c, by))) if p.mod_revision == r && c.value != Some(p.value.as_str()) => {
            Some(format!("{shown}, though {by} has {} {c} at revision {r}", e.key))
        }
        _ => None,
    }
}

/// *is_create* against the key's past: a put of version > 1 continues a generation that no
/// known deletion ended between its create_revision and its revision.
pub(super) fn generation(s: &Stream, truth: &Truth, found: &mut Found) {
    for e in &s.events {
        let (Some(create), Some(v), Some(_)) = (e.create_revision, e.version, e.value) else { continue };
        if v <= 1 {
            continue;
        }
        let Some((r, (c, by))) = truth.before(e.key, e.revision) else { continue };
        if c.value.is_none() && r >= create {
            found.event(
                Guarantee::IsCreate,
                s,
                e,
                format!(
                    "{} delivered revision {} ({}) as version {v} created at {create}, though {by} deleted {} at revision {r}: the put re-creates the key",
                    s.name(e.member),
                    e.revision,
                    e.change(),
                    e.key
                ),
            );
        }
    }
}
