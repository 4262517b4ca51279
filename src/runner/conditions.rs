//! The conditions triggers wait for that are states of the cluster rather than steps of the
//! run: a member that needs a snapshot (the leader compacted its raft log past the index the
//! member has, so the member can only catch up from a snapshot), and the proof, from the
//! member's own log, that it took one.
//!
//! etcd says both in its log, in both of its log formats: the leader, after each snapshot,
//! `compacted raft log at N` (3.4's default logger) or `"msg":"compacted Raft logs",
//! "compact-index":N` (zap, 3.5's default); the member, once a snapshot it received is
//! applied, `finished applying incoming snapshot at index N` (3.4; its `applying snapshot at
//! index N...` before names the index it had) or `"msg":"applied snapshot"` (3.5). The member's index is the highest raft index its
//! status answers showed (the observer's polls): once cut off or stopped it stops growing.

use crate::cluster::Backend;
use crate::observer::ClusterView;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often a condition is looked at.
const POLL: Duration = Duration::from_millis(250);

/// Log lines read back from the end of a member's log at each look.
const TAIL: usize = 400;

/// The highest raft log index a leader's log says it compacted to, if any.
pub fn compacted_index(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|l| {
            if let Some(p) = l.find("compacted raft log at ") {
                return leading_number(&l[p + "compacted raft log at ".len()..]);
            }
            if l.contains("compacted Raft logs") {
                let p = l.find("\"compact-index\":")?;
                return leading_number(&l[p + "\"compact-index\":".len()..]);
            }
            None
        })
        .max()
}

fn leading_number(s: &str) -> Option<u64> {
    let digits: String = s.trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The lines of a member's log saying it received and applied a snapshot from the leader.
pub fn snapshot_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("finished applying incoming snapshot") || l.contains("\"msg\":\"applied snapshot\"")).collect()
}

/// Wait until the leader has compacted its raft log past `member`'s index; the evidence in
/// words, or `None` when cancelled first.
pub async fn needs_snapshot(member: String, backend: Arc<dyn Backend>, mut view: watch::Receiver<ClusterView>, cancel: CancellationToken) -> Option<String> {
    let mut index = 0u64;
    loop {
        let (leader, seen) = {
            let v = view.borrow_and_update();
            let seen = v.members.iter().filter(|m| m.member == member && m.reachable).map(|m| m.raft_index).max();
            (v.leader.clone(), seen)
        };
        index = index.max(seen.unwrap_or(0));
        if let Some(leader) = leader.filter(|l| *l != member) {
            let b = backend.clone();
            let l = leader.clone();
            let log = tokio::task::spawn_blocking(move || b.log_tail(&l, TAIL)).await.unwrap_or_default();
            if let Some(c) = compacted_index(&log) {
                if index > 0 && c > index {
                    return Some(format!("leader {leader} compacted its raft log at index {c}, past {member}'s index {index}"));
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = cancel.cancelled() => return None,
        }
    }
}

/// How many of `member`'s log lines say it took a snapshot (the count before a fault heals,
/// to tell a new one from old ones).
pub fn snapshots_taken(backend: &dyn Backend, member: &str) -> usize {
    snapshot_lines(&backend.log_tail(member, usize::MAX)).len()
}

/// Wait (up to `bound`) for `member`'s log to say it took a snapshot beyond the `before` it
/// had: the line, or `None`.
pub async fn snapshot_taken(member: String, before: usize, backend: Arc<dyn Backend>, bound: Duration, cancel: CancellationToken) -> Option<String> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let (b, m) = (backend.clone(), member.clone());
        let lines = tokio::task::spawn_blocking(move || snapshot_lines(&b.log_tail(&m, usize::MAX)).into_iter().map(str::to_string).collect::<Vec<_>>())
            .await
            .unwrap_or_default();
        if lines.len() > before {
            return lines.into_iter().nth(before);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = cancel.cancelled() => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compaction_index_is_read_from_both_log_formats() {
        let capnslog = "2026-12-03 14:00:01.000 I | etcdserver: saved snapshot at index 300030\n2026-12-03 14:00:01.001 I | etcdserver: compacted raft log at 295030\n2026-12-03 14:00:09 I | etcdserver: compacted raft log at 296030\n";
        assert_eq!(compacted_index(capnslog), Some(296030));
        let zap = r#"{"level":"info","ts":"2026-12-03T14:00:01Z","caller":"etcdserver/server.go:2419","msg":"compacted Raft logs","compact-index":5001}"#;
        assert_eq!(compacted_index(zap), Some(5001));
        assert_eq!(compacted_index("etcdserver: saved snapshot at index 3\n"), None);
    }

    #[test]
    fn snapshot_receipt_lines_are_found_in_both_log_formats() {
        let log = "x\n2026 I | etcdserver: applying snapshot at index 5000...\n2026 I | etcdserver: finished applying incoming snapshot at index 5000\n{\"level\":\"info\",\"msg\":\"applied snapshot\",\"index\":9}\n{\"msg\":\"saved snapshot\"}\n";
        assert_eq!(
            snapshot_lines(log),
            ["2026 I | etcdserver: finished applying incoming snapshot at index 5000", "{\"level\":\"info\",\"msg\":\"applied snapshot\",\"index\":9}"]
        );
    }
}
