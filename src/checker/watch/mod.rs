//! The watch check: every watcher's stream (`watch.jsonl`, [`crate::watchlog`]) judged, one
//! named guarantee at a time, against the other streams and the history. Pure: it never
//! touches the cluster. The guarantees are etcd's (its API guarantees for watch, as its
//! robustness tests validate them, `tests/robustness/validate/watch.go`), docs/checker.md
//! "Watch guarantees" says what each checks and what it cannot judge:
//!
//! - [`streams`]: the log read into one stream per watcher ([`WatchRecord::watcher_id`]);
//! - [`truth`]: what the history's acknowledged writes and all the streams say happened at
//!   each revision;
//! - [`sequence`]: *ordered*, *unique*, *atomic*, *bookmarkable*, *filters*,
//!   *start_revision*, *is_create* — what one stream shows on its own (and a revision's
//!   order against the other streams);
//! - [`content`]: *agreement*, *prev_kv*, *is_create* against the key's past;
//! - [`coverage`]: *reliable*, *resumable*, *caught_up*.
//!
//! Every violation names its guarantee, watcher, member, revision, key and time, with a
//! sentence; the earliest is the check's first problem.

mod content;
mod coverage;
mod sequence;
mod streams;
mod truth;

use crate::history::Entry;
use crate::watchlog::WatchRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use streams::Stream;

/// The violations listed in `summary.json` (the counts count them all).
pub const LISTED: usize = 50;

/// A watch guarantee (the names of etcd's robustness tests, and faultline's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    /// Revisions never go back within a stream.
    Ordered,
    /// No event (revision, key) twice.
    Unique,
    /// All events of one revision in one response.
    Atomic,
    /// No event missing between a stream's start and its last event.
    Reliable,
    /// A resumed stream continues exactly where it asked.
    Resumable,
    /// No event at or below a progress notification's revision after it.
    Bookmarkable,
    /// `prev` is the key's state just before the event.
    PrevKv,
    /// create_revision == mod_revision exactly on creation.
    IsCreate,
    /// No put on a no-put stream, no delete on a no-delete one.
    Filters,
    /// No event below the revision asked.
    StartRevision,
    /// Events agree with the history and with each other.
    Agreement,
    /// A stream ended having delivered the newest revision.
    CaughtUp,
}

impl Guarantee {
    /// Every guarantee, in the order reports list them.
    pub const ALL: [Guarantee; 12] = [
        Guarantee::Ordered,
        Guarantee::Unique,
        Guarantee::Atomic,
        Guarantee::Reliable,
        Guarantee::Resumable,
        Guarantee::Bookmarkable,
        Guarantee::PrevKv,
        Guarantee::IsCreate,
        Guarantee::Filters,
        Guarantee::StartRevision,
        Guarantee::Agreement,
        Guarantee::CaughtUp,
    ];

    /// Its name, as in `summary.json`.
    pub fn name(self) -> &'static str {
        match self {
            Guarantee::Ordered => "ordered",
            Guarantee::Unique => "unique",
            Guarantee::Atomic => "atomic",
            Guarantee::Reliable => "reliable",
            Guarantee::Resumable => "resumable",
            Guarantee::Bookmarkable => "bookmarkable",
            Guarantee::PrevKv => "prev_kv",
            Guarantee::IsCreate => "is_create",
            Guarantee::Filters => "filters",
            Guarantee::StartRevision => "start_revision",
            Guarantee::Agreement => "agreement",
            Guarantee::CaughtUp => "caught_up",
        }
    }
}

impl std::fmt::Display for Guarantee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken guarantee, where it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The guarantee broken.
    pub guarantee: Guarantee,
    /// The stream's watcher (the member, in logs with one watcher per member).
    pub watcher: String,
    /// The member that delivered the event (or the line) where it broke.
    pub member: String,
    /// The revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// The key, when one is concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Nanoseconds on the run clock when the watcher received what broke it.
    pub t: u64,
    /// In words.
    pub message: String,
}

/// The violations found, as the guarantees report them.
#[derive(Default)]
struct Found {
    all: Vec<Violation>,
}

impl Found {
    /// A violation at an event.
    fn event(&mut self, g: Guarantee, s: &Stream, e: &streams::Event, message: String) {
        self.push(g, s, e.member, e.t, Some(e.revision), Some(e.key), message);
    }

    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, guarantee: Guarantee, s: &Stream, member: &str, t: u64, revision: Option<i64>, key: Option<&str>, message: String) {
        self.all.push(Violation { guarantee, watcher: s.watcher.to_string(), member: member.to_string(), revision, key: key.map(str::to_string), t, message });
    }
}

/// One stream's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamFigures {
    /// The watcher (the member, in logs with one watcher per member).
    #[serde(default)]
    pub watcher: String,
    /// The member its first line came from.
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
    /// Progress notifications it received.
    #[serde(default)]
    pub progress: u64,
    /// Its violations, by guarantee (none: absent).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub violations: BTreeMap<Guarantee, u64>,
}

impl StreamFigures {
    /// This stream's violations, as one phrase (or `no problem`).
    pub fn problems(&self) -> String {
        phrase(&self.violations)
    }
}

/// The watch check's result (`watch` in `summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchCheck {
    /// Streams (watchers).
    pub streams: u64,
    /// Events delivered, all streams.
    pub events: u64,
    /// Times streams were re-opened after breaking.
    pub resumed: u64,
    /// Compactions etcd reported to the streams.
    pub compacted: u64,
    /// No guarantee broken.
    pub ok: bool,
    /// The first violation (by time), in words: `reliable: n2's stream lacks ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<String>,
    /// Violations by guarantee (every guarantee, 0 for those that held).
    #[serde(default)]
    pub guarantees: BTreeMap<Guarantee, u64>,
    /// The first violations by time (at most [`LISTED`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// Per stream, by watcher (`members` in summaries with one watcher per member).
    #[serde(alias = "members")]
    pub watchers: Vec<StreamFigures>,
}

impl WatchCheck {
    /// The broken guarantees, counted, as one phrase: `2 reliable, 1 unique` (or `no problem`).
    pub fn problems(&self) -> String {
        match (self.ok, self.guarantees.values().sum::<u64>()) {
            // A summary written before the guarantees had names.
            (false, 0) => "a problem".to_string(),
            _ => phrase(&self.guarantees),
        }
    }
}

fn phrase(counts: &BTreeMap<Guarantee, u64>) -> String {
    let parts: Vec<String> = Guarantee::ALL.iter().filter_map(|g| counts.get(g).filter(|n| **n > 0).map(|n| format!("{n} {g}"))).collect();
    if parts.is_empty() {
        "no problem".to_string()
    } else {
        parts.join(", ")
    }
}

/// Check every watcher's stream of `records` against the others and `history` (see the
/// module's documentation).
pub fn check(records: &[WatchRecord], history: &[Entry]) -> WatchCheck {
    let streams = streams::read(records);
    let truth = truth::Truth::of(history, &streams);
    let mut out = WatchCheck { streams: streams.len() as u64, guarantees: Guarantee::ALL.iter().map(|g| (*g, 0)).collect(), ..Default::default() };
    let mut all = Vec::new();
    for s in streams.values() {
        let mut found = Found::default();
        sequence::unique_start_ordered(s, &mut found);
        sequence::same_order(s, &truth, &mut found);
        sequence::atomic(s, &mut found);
        sequence::bookmarkable(s, &mut found);
        sequence::filters(s, &mut found);
        sequence::is_create(s, &mut found);
        content::generation(s, &truth, &mut found);
        content::agreement(s, &truth, &mut found);
        content::prev_kv(s, &truth, &mut found);
        coverage::reliable_and_resumable(s, &truth, &mut found);
        coverage::caught_up(s, &truth, &mut found);
        let f = figures(s, &found.all);
        out.events += f.events;
        out.resumed += f.resumed;
        out.compacted += f.compacted;
        out.watchers.push(f);
        all.extend(found.all);
    }
    for v in &all {
        *out.guarantees.entry(v.guarantee).or_default() += 1;
    }
    all.sort_by_key(|v| (v.t, v.revision));
    out.first_problem = all.first().map(|v| format!("{}: {}", v.guarantee, v.message));
    out.ok = all.is_empty();
    all.truncate(LISTED);
    out.violations = all;
    out
}

fn figures(s: &Stream, found: &[Violation]) -> StreamFigures {
    let mut violations = BTreeMap::new();
    for v in found {
        *violations.entry(v.guarantee).or_default() += 1;
    }
    StreamFigures {
        watcher: s.watcher.to_string(),
        member: s.member.to_string(),
        events: s.events.len() as u64,
        from_revision: s.from(),
        last_revision: s.last(),
        resumed: s.openings.iter().filter(|o| o.kind == streams::OpeningKind::Resumed).count() as u64,
        compacted: s.compactions().count() as u64,
        skipped: s.compactions().map(|x| (x.to - x.from) as u64).sum(),
        progress: s.progress.len() as u64,
        violations,
    }
}

#[cfg(test)]
mod tests;
