//! The watch log (`watch.jsonl`): what each member's watch stream delivered, one JSON
//! object a line, in the order the watchers received it — the events (`put`, `delete`) and
//! the stream's life (`started`, `broken`, `resumed`, `compacted`, `stopped`).
//!
//! Written by [`crate::workload::watch`], read by [`crate::checker::watch`]. Keys are as in
//! `history.jsonl` (without the run's prefix on an attached cluster); `t` is nanoseconds on
//! the run clock ([`crate::history::Clock`]).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One line of `watch.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecord {
    /// The member whose stream this is.
    pub member: String,
    /// Nanoseconds on the run clock when the watcher received it.
    pub t: u64,
    /// What it was.
    #[serde(flatten)]
    pub what: WatchLine,
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
    },
    /// A key was deleted.
    Delete {
        /// The key (without the run's prefix).
        key: String,
        /// The revision of the deletion.
        mod_revision: i64,
    },
    /// The stream was opened for the first time, from `revision` (inclusive).
    Started {
        /// The first revision asked for.
        revision: i64,
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
        ];
        for l in lines {
            let r: WatchRecord = serde_json::from_str(l).unwrap();
            assert_eq!(serde_json::to_string(&r).unwrap(), l);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watch.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n\n").unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.len(), 7);
        assert_eq!(back[1].what.event_revision(), Some(12));
        assert_eq!(back[0].what.event_revision(), None);
        std::fs::write(&path, "{\"member\":\"n1\"}\n").unwrap();
        assert!(read(&path).unwrap_err().contains("watch.jsonl:1:"));
    }
}
