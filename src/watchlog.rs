//! The watch log (`watch.jsonl`): what each watcher's stream delivered, one JSON object a
//! line, in the order the watchers received it — the events (`put`, `delete`), progress
//! notifications (`progress`) and the stream's life (`started`, `broken`, `resumed`,
//! `compacted`, `listed`, `slow`, `progress-requested`, `stopped`).
//!
//! A *watcher* is one client's watch across its resumptions (`watcher`: `w0`, `w1`, ...);
//! `member` is the member that delivered the line (a watcher that follows its client to
//! another member on error changes member, not watcher). Logs written before watchers had
//! names (one watcher per member) have no `watcher`: the member names the stream
//! ([`WatchRecord::watcher_id`]). Fields added later are optional, so older logs still read.
//!
//! Written by [`crate::workload::watch`], read by [`crate::checker::watch`]. Keys are as in
//! `history.jsonl` (without the run's prefix on an attached cluster); `t` is nanoseconds on
//! the run clock ([`crate::history::Clock`]).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One line of `watch.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecord {
    /// The member that delivered this line (whose stream it is).
    pub member: String,
    /// The watcher (`w0`, `w1`, ...); absent in logs with one watcher per member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watcher: Option<String>,
    /// Nanoseconds on the run clock when the watcher received it.
    pub t: u64,
    /// What it was.
    #[serde(flatten)]
    pub what: WatchLine,
}

impl WatchRecord {
    /// The stream this line belongs to: the watcher's name, or the member's in logs with
    /// one watcher per member.
    pub fn watcher_id(&self) -> &str {
        self.watcher.as_deref().unwrap_or(&self.member)
    }
}

/// A key's state as a watch event's `prev_kv` gives it (the key just before the event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrevKv {
    /// Its value.
    pub value: String,
    /// Its mod_revision.
    pub mod_revision: i64,
    /// Its create_revision.
    pub create_revision: i64,
    /// Its version.
    pub version: i64,
}

/// What a watcher asked for (the `spec` of its `started` line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchSpec {
    /// The key, or the prefix when `prefix` (without the run's prefix).
    pub key: String,
    /// Every key starting with `key`.
    pub prefix: bool,
    /// The stream asks etcd to require a leader (cancelled on a member that lost it).
    pub require_leader: bool,
    /// Events carry the key's previous state.
    pub prev_kv: bool,
    /// Event types filtered out by etcd.
    #[serde(default, skip_serializing_if = "Filter::is_none")]
    pub filter: Filter,
    /// etcd sends periodic progress notifications.
    pub progress_notify: bool,
    /// How the first start revision was chosen.
    pub start: StartRevision,
    /// How the watcher chooses its member (`spread`, `one`, `follow`).
    pub placement: String,
}

/// etcd's watch filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// Every event.
    #[default]
    None,
    /// No put events (`NOPUT`).
    NoPut,
    /// No delete events (`NODELETE`).
    NoDelete,
}

impl Filter {
    /// No filter.
    pub fn is_none(&self) -> bool {
        *self == Filter::None
    }
}

/// How a watcher's first start revision was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartRevision {
    /// The revision current when the watcher started, + 1.
    Current,
    /// A past revision inside the history window (above the compaction).
    Past,
    /// Exactly the compaction revision.
    Compaction,
    /// A revision the store had not reached yet.
    Future,
    /// The revision after a list (list-then-watch, as an informer does).
    AfterList,
}

/// What a line of `watch.jsonl` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WatchLine {
    /// A key was written.
    Put {
        /// The key (without the run's prefix).
        key: String,
        /// The value written.
        value: String,
        /// The revision of the write.
        mod_revision: i64,
        /// The key's create_revision after the write (absent in older logs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        create_revision: Option<i64>,
        /// The key's version after the write (absent in older logs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
        /// The key before the write, with `prev_kv` (`null` inside: etcd sent none).
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
        prev: Option<Option<PrevKv>>,
        /// The watch response this event arrived in, counted per watcher from 1 (absent in
        /// older logs): events of one response share it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response: Option<u64>,
    },
    /// A key was deleted.
    Delete {
        /// The key (without the run's prefix).
        key: String,
        /// The revision of the deletion.
        mod_revision: i64,
        /// The key before the deletion, with `prev_kv`.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
        prev: Option<Option<PrevKv>>,
        /// The watch response this event arrived in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response: Option<u64>,
    },
    /// A progress notification: a response with no events whose header says the stream has
    /// delivered everything up to `revision`.
    Progress {
        /// The header revision.
        revision: i64,
        /// The watch response it was, as for events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response: Option<u64>,
    },
    /// The watcher asked for a progress notification (`RequestProgress`).
    ProgressRequested {},
    /// The consumer stopped reading for `ms` milliseconds (a slow client); etcd buffers or
    /// moves the watcher to its slow path meanwhile.
    Slow {
        /// How long it did not read.
        ms: u64,
    },
    /// A list before watching (list-then-watch): the keys under the watched prefix at
    /// `revision`, read by range with limit and continue; the watch that follows starts
    /// from `revision` + 1.
    Listed {
        /// The revision the list was read at.
        revision: i64,
        /// Keys listed.
        keys: u64,
    },
    /// The stream was opened for the first time, from `revision` (inclusive).
    Started {
        /// The first revision asked for.
        revision: i64,
        /// What the watcher asked for (absent in older logs: a prefix watch on the
        /// workload's keys with require_leader, no prev_kv, no filter).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spec: Option<WatchSpec>,
        /// The header revision of etcd's confirmation (the store's revision then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<i64>,
    },
    /// The stream broke (the member was killed, paused past the keep-alive, lost its
    /// leader, ...).
    Broken {
        /// Why, as the client saw it.
        why: String,
    },
    /// The stream was opened again, from `revision` (inclusive): the last revision seen + 1,
    /// or the compact revision after a `compacted` line.
    Resumed {
        /// The first revision asked for.
        revision: i64,
        /// Attempts it took (connections refused while the member was down count).
        attempts: u32,
    },
    /// etcd refused the start revision as compacted: revisions from `requested` up to
    /// (not including) `compact_revision` can no longer be delivered.
    Compacted {
        /// The revision asked for.
        requested: i64,
        /// The compact revision etcd reported; the stream resumes from it.
        compact_revision: i64,
    },
    /// The watcher stopped at the end of the run.
    Stopped {
        /// The last revision the stream delivered (its start − 1 when none).
        last_revision: i64,
        /// The newest revision of the watched range when the run ended, which a caught-up
        /// stream has delivered; absent when it could not be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<i64>,
    },
}

impl WatchLine {
    /// The revision of an event (`put`/`delete`), `None` for the stream's life lines.
    pub fn event_revision(&self) -> Option<i64> {
        match self {
            WatchLine::Put { mod_revision, .. } | WatchLine::Delete { mod_revision, .. } => Some(*mod_revision),
            _ => None,
        }
    }
}

/// A field that may be absent (`None`) or present and `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Streams watch records to their file (see [`crate::jsonl::Writer`]).
pub type WatchWriter = crate::jsonl::Writer<WatchRecord>;

/// Read a `watch.jsonl`; a malformed line is reported as `file:line: what was expected`.
pub fn read(path: &Path) -> Result<Vec<WatchRecord>, String> {
    crate::jsonl::read(path, "a watch record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_type_member_and_t() {
        let lines = [
            r#"{"member":"n1","t":5,"type":"started","revision":12}"#,
            r#"{"member":"n1","t":9,"type":"put","key":"k3","value":"17","mod_revision":12}"#,
            r#"{"member":"n2","t":10,"type":"delete","key":"k3","mod_revision":13}"#,
            r#"{"member":"n2","t":11,"type":"broken","why":"connection refused"}"#,
            r#"{"member":"n2","t":12,"type":"compacted","requested":14,"compact_revision":20}"#,
            r#"{"member":"n2","t":13,"type":"resumed","revision":20,"attempts":3}"#,
            r#"{"member":"n2","t":14,"type":"stopped","last_revision":40,"target":40}"#,
            r#"{"member":"n1","watcher":"w2","t":15,"type":"started","revision":9,"spec":{"key":"k","prefix":true,"require_leader":false,"prev_kv":true,"filter":"no-delete","progress_notify":true,"start":"past","placement":"one"},"header":30}"#,
            r#"{"member":"n1","watcher":"w2","t":16,"type":"put","key":"k1","value":"v","mod_revision":31,"create_revision":20,"version":3,"prev":{"value":"u","mod_revision":25,"create_revision":20,"version":2},"response":4}"#,
            r#"{"member":"n1","watcher":"w2","t":17,"type":"delete","key":"k1","mod_revision":32,"prev":null,"response":5}"#,
            r#"{"member":"n1","watcher":"w2","t":18,"type":"progress-requested"}"#,
            r#"{"member":"n1","watcher":"w2","t":19,"type":"progress","revision":32,"response":6}"#,
            r#"{"member":"n1","watcher":"w2","t":20,"type":"slow","ms":1500}"#,
            r#"{"member":"n1","watcher":"w2","t":21,"type":"listed","revision":40,"keys":12}"#,
        ];
        for l in lines {
            let r: WatchRecord = serde_json::from_str(l).unwrap();
            assert_eq!(serde_json::to_string(&r).unwrap(), l);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watch.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n\n").unwrap();
        let back = read(&path).unwrap();
        assert!(matches!(&back[9].what, WatchLine::Delete { prev: Some(None), .. }));
        assert!(matches!(&back[1].what, WatchLine::Put { prev: None, create_revision: None, .. }));
        assert_eq!(back.len(), 14);
        assert_eq!(back[0].watcher_id(), "n1");
        assert_eq!(back[7].watcher_id(), "w2");
        assert_eq!(back[1].what.event_revision(), Some(12));
        assert_eq!(back[0].what.event_revision(), None);
        std::fs::write(&path, "{\"member\":\"n1\"}\n").unwrap();
        assert!(read(&path).unwrap_err().contains("watch.jsonl:1:"));
    }
}
