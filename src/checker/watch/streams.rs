//! `watch.jsonl` read into one [`Stream`] per watcher ([`WatchRecord::watcher_id`]): its
//! openings, events, progress notifications, the revisions etcd said it could no longer
//! deliver, and how it ended.

use crate::watchlog::{Filter, PrevKv, WatchLine, WatchRecord, WatchSpec};
use std::collections::{BTreeMap, HashMap};

/// One event a stream delivered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Event<'a> {
    /// When the watcher received it.
    pub t: u64,
    /// The member that delivered it.
    pub member: &'a str,
    pub revision: i64,
    pub key: &'a str,
    /// The value put (`None`: a delete).
    pub value: Option<&'a str>,
    pub create_revision: Option<i64>,
    pub version: Option<i64>,
    /// `prev` as recorded: absent, or present and maybe `null`.
    pub prev: Option<Option<&'a PrevKv>>,
    /// The watch response it came in.
    pub response: Option<u64>,
    /// The opening (index into [`Stream::openings`]) it was delivered on.
    pub opening: usize,
}

impl Event<'_> {
    /// The change, in words: `k1 = "v"` or `k1 deleted`.
    pub fn change(&self) -> String {
        match self.value {
            Some(v) => format!("{} = \"{v}\"", self.key),
            None => format!("{} deleted", self.key),
        }
    }
}

/// How a stream was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpeningKind {
    /// The first time (`started`).
    Started,
    /// Again after breaking, a compaction or a list (`resumed`).
    Resumed,
}

/// One opening of a stream: from `revision` (inclusive).
#[derive(Debug, Clone, Copy)]
pub(super) struct Opening {
    pub kind: OpeningKind,
    pub revision: i64,
}

/// A progress notification: everything up to `revision` delivered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Progress<'a> {
    pub member: &'a str,
    pub revision: i64,
    /// Events the stream had delivered before it.
    pub after_events: usize,
}

/// Revisions a stream may lack: `[from, to)`, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Excused {
    pub from: i64,
    pub to: i64,
    /// A compaction etcd reported (else a list covered them).
    pub compacted: bool,
}

/// The `stopped` line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stopped<'a> {
    pub t: u64,
    pub member: &'a str,
    pub last_revision: i64,
    pub target: Option<i64>,
}

/// What a stream watches: a key or a prefix, and the events etcd filters out.
#[derive(Debug, Clone, Copy)]
pub(super) struct Watched<'a> {
    /// `None`: every key (logs without a spec watch the workload's keys).
    key: Option<(&'a str, bool)>,
    pub filter: Filter,
    pub prev_kv: bool,
}

impl Watched<'_> {
    fn of(spec: Option<&WatchSpec>) -> Watched<'_> {
        match spec {
            None => Watched { key: None, filter: Filter::None, prev_kv: false },
            Some(s) => Watched { key: Some((s.key.as_str(), s.prefix)), filter: s.filter, prev_kv: s.prev_kv },
        }
    }

    /// The key is in the watched range.
    pub fn covers(&self, key: &str) -> bool {
        match self.key {
            None => true,
            Some((k, true)) => key.starts_with(k),
            Some((k, false)) => key == k,
        }
    }

    /// etcd delivers a change of this kind (a put when `put`) to this stream.
    pub fn passes(&self, put: bool) -> bool {
        match self.filter {
            Filter::None => true,
            Filter::NoPut => !put,
            Filter::NoDelete => put,
        }
    }
}

/// One watcher's stream, in the order it received it.
#[derive(Debug)]
pub(super) struct Stream<'a> {
    pub watcher: &'a str,
    /// The member of its first line (a watcher that follows its client may change member).
    pub member: &'a str,
    pub watched: Watched<'a>,
    pub openings: Vec<Opening>,
    pub events: Vec<Event<'a>>,
    pub progress: Vec<Progress<'a>>,
    pub excused: Vec<Excused>,
    pub stopped: Option<Stopped<'a>>,
}

impl<'a> Stream<'a> {
    fn new(r: &'a WatchRecord) -> Stream<'a> {
        Stream {
            watcher: r.watcher_id(),
            member: &r.member,
            watched: Watched::of(None),
            openings: Vec::new(),
            events: Vec::new(),
            progress: Vec::new(),
            excused: Vec::new(),
            stopped: None,
        }
    }

    /// How it is named in a sentence: `n1's stream`, or `w3's stream (on n2)`.
    pub fn name(&self, member: &str) -> String {
        if member == self.watcher {
            format!("{}'s stream", self.watcher)
        } else {
            format!("{}'s stream (on {member})", self.watcher)
        }
    }

    /// The revision it started from (the first opening's).
    pub fn from(&self) -> Option<i64> {
        self.openings.first().map(|o| o.revision)
    }

    /// The highest revision it delivered.
    pub fn last(&self) -> Option<i64> {
        self.events.iter().map(|e| e.revision).max()
    }

    /// The keys of each revision, in the order first delivered.
    pub fn keys_by_revision(&self) -> HashMap<i64, Vec<&'a str>> {
        let mut out: HashMap<i64, Vec<&str>> = HashMap::new();
        for e in &self.events {
            let keys = out.entry(e.revision).or_default();
            if !keys.contains(&e.key) {
                keys.push(e.key);
            }
        }
        out
    }

    /// Compactions etcd reported.
    pub fn compactions(&self) -> impl Iterator<Item = &Excused> {
        self.excused.iter().filter(|x| x.compacted)
    }

    /// `revision` is one etcd said it could no longer deliver, or a list covered.
    pub fn is_excused(&self, revision: i64) -> bool {
        self.excused.iter().any(|x| (x.from..x.to).contains(&revision))
    }

    fn take(&mut self, r: &'a WatchRecord) {
        let opening = self.openings.len().saturating_sub(1);
        let event = |key: &'a str, value, mod_revision: i64, create_revision, version, prev: &'a Option<Option<PrevKv>>, response| Event {
            t: r.t,
            member: &r.member,
            revision: mod_revision,
            key,
            value,
            create_revision,
            version,
            prev: prev.as_ref().map(Option::as_ref),
            response,
            opening,
        };
        match &r.what {
            WatchLine::Put { key, value, mod_revision, create_revision, version, prev, response } => {
                self.events.push(event(key, Some(value.as_str()), *mod_revision, *create_revision, *version, prev, *response));
            }
            WatchLine::Delete { key, mod_revision, prev, response } => self.events.push(event(key, None, *mod_revision, None, None, prev, *response)),
            WatchLine::Started { revision, spec, .. } => {
                if self.openings.is_empty() {
                    self.watched = Watched::of(spec.as_ref());
                }
                let kind = if self.openings.is_empty() { OpeningKind::Started } else { OpeningKind::Resumed };
                self.openings.push(Opening { kind, revision: *revision });
            }
            WatchLine::Resumed { revision, .. } => self.openings.push(Opening { kind: OpeningKind::Resumed, revision: *revision }),
            WatchLine::Compacted { requested, compact_revision } => {
                if compact_revision > requested {
                    self.excused.push(Excused { from: *requested, to: *compact_revision, compacted: true });
                }
            }
            // A list at `revision` gives the state there: what the stream missed up to it is covered.
            WatchLine::Listed { revision, .. } => self.excused.push(Excused { from: i64::MIN, to: revision + 1, compacted: false }),
            WatchLine::Progress { revision, .. } => {
                self.progress.push(Progress { member: &r.member, revision: *revision, after_events: self.events.len() });
            }
            WatchLine::Stopped { last_revision, target } => {
                self.stopped = Some(Stopped { t: r.t, member: &r.member, last_revision: *last_revision, target: *target });
            }
            WatchLine::Broken { .. } | WatchLine::ProgressRequested {} | WatchLine::Slow { .. } => {}
        }
    }
}

/// The records, one stream per watcher, by watcher name.
pub(super) fn read(records: &[WatchRecord]) -> BTreeMap<&str, Stream<'_>> {
    let mut out: BTreeMap<&str, Stream> = BTreeMap::new();
    for r in records {
        out.entry(r.watcher_id()).or_insert_with(|| Stream::new(r)).take(r);
    }
    out
}
