//! The guarantees one stream's sequence shows on its own — *unique*, *start_revision*,
//! *ordered*, *atomic*, *bookmarkable*, *filters*, *is_create* — and *ordered* across
//! streams (a revision's events in the same order as the first stream that delivered it).
//!
//! After etcd's robustness tests (`tests/robustness/validate/watch.go`, etcd-io/etcd): there
//! *ordered* is "no event below the previous event's revision" — events of one revision come
//! in the order the transaction applied its operations, not in key order, and every watcher
//! gets them in that same order (etcd compares a revision's events across watchers as one
//! list); *atomic* is "a response never starts with the revision the previous one ended
//! with"; *bookmarkable* is "no event at or below the last progress notification's revision".

use super::streams::{Event, OpeningKind, Stream};
use super::truth::Truth;
use super::{Found, Guarantee};
use crate::watchlog::Filter;
use std::collections::{HashMap, HashSet};

/// Each event at most one of *unique*, *start_revision*, *ordered* (in that order of
/// precedence: a repeated event is not also out of order).
pub(super) fn unique_start_ordered(s: &Stream, found: &mut Found) {
    let mut seen: HashSet<(i64, &str)> = HashSet::new();
    let mut high: Option<i64> = None;
    for e in &s.events {
        let opening = &s.openings[e.opening.min(s.openings.len().saturating_sub(1))];
        if !seen.insert((e.revision, e.key)) {
            found.event(Guarantee::Unique, s, e, format!("{} delivered revision {} ({}) twice", s.name(e.member), e.revision, e.change()));
        } else if e.revision < opening.revision {
            let how = if opening.kind == OpeningKind::Started { "started" } else { "resumed" };
            found.event(
                Guarantee::StartRevision,
                s,
                e,
                format!("{} delivered revision {} ({}), below revision {}, which it {how} from", s.name(e.member), e.revision, e.change(), opening.revision),
            );
        } else if let Some(h) = high.filter(|h| e.revision < *h) {
            found.event(Guarantee::Ordered, s, e, format!("{} delivered revision {} ({}) after revision {h}", s.name(e.member), e.revision, e.change()));
        }
        high = high.max(Some(e.revision));
    }
}

/// *atomic*: every event of one revision arrives in one response (judged where the log
/// numbers responses).
pub(super) fn atomic(s: &Stream, found: &mut Found) {
    let mut first: HashMap<i64, u64> = HashMap::new();
    for e in &s.events {
        let Some(resp) = e.response else { continue };
        let was = *first.entry(e.revision).or_insert(resp);
        if was != resp {
            found.event(
                Guarantee::Atomic,
                s,
                e,
                format!(
                    "{} split revision {}: {} came in response {resp}, other events of the revision in response {was}",
                    s.name(e.member),
                    e.revision,
                    e.change()
                ),
            );
        }
    }
}

/// *bookmarkable*: after a progress notification at P, no event at or below P.
pub(super) fn bookmarkable(s: &Stream, found: &mut Found) {
    let mut progress = s.progress.iter().peekable();
    let mut bookmark: Option<(i64, &str)> = None;
    for (i, e) in s.events.iter().enumerate() {
        while let Some(p) = progress.next_if(|p| p.after_events <= i) {
            bookmark = bookmark.max(Some((p.revision, p.member)));
        }
        if let Some((p, on)) = bookmark.filter(|(p, _)| e.revision <= *p) {
            found.event(
                Guarantee::Bookmarkable,
                s,
                e,
                format!(
                    "{} delivered revision {} ({}) after a progress notification from {on} at revision {p} said everything up to it was delivered",
                    s.name(e.member),
                    e.revision,
                    e.change()
                ),
            );
        }
    }
}

/// *filters*: a no-put stream has no put, a no-delete stream no delete.
pub(super) fn filters(s: &Stream, found: &mut Found) {
    for e in &s.events {
        let put = e.value.is_some();
        if !s.watched.passes(put) {
            let filter = if s.watched.filter == Filter::NoPut { "no-put" } else { "no-delete" };
            found.event(
                Guarantee::Filters,
                s,
                e,
                format!("{} has the {filter} filter, yet delivered revision {} ({})", s.name(e.member), e.revision, e.change()),
            );
        }
    }
}

/// *is_create*, as the event alone shows it: `create_revision == mod_revision` exactly when
/// `version` is 1 (where the log has both).
pub(super) fn is_create(s: &Stream, found: &mut Found) {
    for e in &s.events {
        if let Some(why) = creation_broken(e) {
            found.event(Guarantee::IsCreate, s, e, format!("{} delivered revision {} ({}) with {why}", s.name(e.member), e.revision, e.change()));
        }
    }
}

fn creation_broken(e: &Event) -> Option<String> {
    let (Some(create), Some(version)) = (e.create_revision, e.version) else { return None };
    let created = create == e.revision;
    if created != (version == 1) || version < 1 || create > e.revision {
        return Some(format!("create_revision {create} and version {version}: a key is created (version 1) exactly at its create_revision"));
    }
    None
}

/// *ordered* across watchers: the events of one revision come in the order of the first
/// stream that delivered it (the order the transaction applied its operations), as far as
/// both have them (a filter or a range may leave some out).
pub(super) fn same_order(s: &Stream, truth: &Truth, found: &mut Found) {
    let mine = s.keys_by_revision();
    let mut judged = HashSet::new();
    for e in &s.events {
        let Some((by, theirs)) = truth.order.get(&e.revision).filter(|(by, _)| *by != s.watcher) else { continue };
        let Some(keys) = mine.get(&e.revision).filter(|k| k.len() > 1) else { continue };
        // Once per revision, at its first event.
        if !judged.insert(e.revision) {
            continue;
        }
        let (a, b) = (shared(keys, theirs), shared(theirs, keys));
        if a != b {
            found.event(
                Guarantee::Ordered,
                s,
                e,
                format!(
                    "{} delivered the events of revision {} in the key order {}, {by}'s stream in {}",
                    s.name(e.member),
                    e.revision,
                    a.join(", "),
                    b.join(", ")
                ),
            );
        }
    }
}

/// The keys of `ks` that `other` has too, in the order of `ks`.
fn shared<'k>(ks: &[&'k str], other: &[&str]) -> Vec<&'k str> {
    ks.iter().filter(|k| other.contains(k)).copied().collect()
}
