//! Restarting members one at a time (`rolling-restart`), optionally with new settings or
//! another binary or image: the upgrade path. The runner walks the members (followers
//! first, the leader last, as operators do) and calls [`restart_member`] for each, so that it
//! can take the network faults in force on a member off and put them back on around a
//! restart that gives the member a new network namespace (Docker).

use super::membership::{caught_up, cluster_index};
use super::Failed;
use crate::client::Endpoint;
use crate::cluster::{Backend, MemberConfig, MemberState};
use nix::sys::signal::Signal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a member may take to stop gracefully before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a restarted member may take to answer and catch up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// The order of a rolling restart: the followers in member order, then the leader.
pub fn order(members: &[String], leader: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = members.iter().filter(|m| Some(m.as_str()) != leader).cloned().collect();
    out.extend(members.iter().filter(|m| Some(m.as_str()) == leader).cloned());
    out
}

/// Stop `member` gracefully (SIGTERM, then SIGKILL after 10 s), give it `config` when
/// there is one, start it, and wait until it names a leader and has applied what the cluster
/// had committed before it stopped. Says how long it was down and how long it took to catch
/// up.
///
/// A member whose etcd exits instead (etcd 3.4 on a cluster already at 3.5: "cluster cannot
/// be downgraded") is [`Failed::Refused`] with the fatal line of its log, after it has been
/// put back on what it ran before and has caught up again — the cluster is whole again.
pub async fn restart_member(backend: &Arc<dyn Backend>, eps: &[Endpoint], member: &str, config: Option<MemberConfig>) -> Result<String, Failed> {
    let ep = eps.iter().find(|e| e.member == member).cloned().ok_or_else(|| format!("{member} is not a member"))?;
    let index = cluster_index(eps).await;
    let b = backend.clone();
    let name = member.to_string();
    let (down_at, pid, killed, before) = tokio::task::spawn_blocking(move || -> Result<(Instant, u32, bool, Option<MemberConfig>), String> {
        if b.state(&name) != MemberState::Running {
            return Err(format!("{name} is not running ({:?}): a fault holds it", b.state(&name)));
        }
        let killed = stop(b.as_ref(), &name)?;
        let down_at = Instant::now();
        let before = match config {
            Some(c) => Some(b.membership_or_err().and_then(|m| m.configure(&name, c)).map_err(|e| e.to_string())?),
            None => None,
        };
        let pid = b.start(&name).map_err(|e| e.to_string())?;
        Ok((down_at, pid, killed, before))
    })
    .await
    .map_err(|e| format!("restart task failed: {e}"))??;
    let took = match started(backend, &ep, index).await {
        Started::CaughtUp(took) => took,
        Started::Lagging(e) => return Err(Failed::Broke(format!("{member} restarted (pid {pid}) but {e}"))),
        Started::Exited(words) => {
            let refused = format!("{member} would not run on its new settings: its etcd exited, saying \"{words}\"");
            return Err(match before {
                Some(before) => match put_back(backend, &ep, before).await {
                    Ok(how) => Failed::Refused(format!("{refused}; {how}")),
                    Err(e) => Failed::Broke(format!("{refused}; putting it back failed: {e}")),
                },
                None => Failed::Broke(refused),
            });
        }
    };
    Ok(format!(
        "{member}{} restarted (pid {pid}), caught up to raft index {index} {:.2} s after it went down",
        if killed { " (killed after ignoring SIGTERM for 10 s)" } else { "" },
        (down_at.elapsed().max(took)).as_secs_f64()
    ))
}

/// Stop a member: SIGTERM, SIGKILL after [`STOP_TIMEOUT`]; whether it had to be killed.
fn stop(b: &dyn Backend, name: &str) -> Result<bool, String> {
    b.signal(name, Signal::SIGTERM).map_err(|e| e.to_string())?;
    if b.wait_exit(name, STOP_TIMEOUT) {
        return Ok(false);
    }
    b.signal(name, Signal::SIGKILL).map_err(|e| e.to_string())?;
    if !b.wait_exit(name, STOP_TIMEOUT) {
        return Err(format!("{name} did not exit after SIGKILL"));
    }
    Ok(true)
}

/// How a restarted member came up.
enum Started {
    /// It caught up, after this long.
    CaughtUp(Duration),
    /// It runs but did not catch up in time (why).
    Lagging(String),
    /// Its etcd exited; the fatal line of its log.
    Exited(String),
}

/// Wait until the restarted member has caught up to `index`, or its etcd exits.
async fn started(backend: &Arc<dyn Backend>, ep: &Endpoint, index: u64) -> Started {
    let b = backend.clone();
    let name = ep.member.clone();
    let exited = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let b2 = b.clone();
            let n2 = name.clone();
            let down = tokio::task::spawn_blocking(move || (b2.state(&n2) == MemberState::Down).then(|| b2.log_tail(&n2, 60))).await.unwrap_or(None);
            if let Some(log) = down {
                return last_words(&log).unwrap_or_else(|| "nothing in its log says why".to_string());
            }
        }
    };
    tokio::select! {
        r = caught_up(ep, index, CATCH_UP_TIMEOUT) => match r {
            Ok(took) => Started::CaughtUp(took),
            Err(e) => Started::Lagging(e),
        },
        words = exited => Started::Exited(words),
    }
}

/// Put a member whose new settings were refused back on `before` and wait until it has
/// caught up; says so.
async fn put_back(backend: &Arc<dyn Backend>, ep: &Endpoint, before: MemberConfig) -> Result<String, String> {
    let what = before.program.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "its settings".into());
    let b = backend.clone();
    let name = ep.member.clone();
    tokio::task::spawn_blocking(move || -> Result<u32, String> {
        // It exited; make sure before a new start.
        b.wait_exit(&name, STOP_TIMEOUT);
        b.membership_or_err().and_then(|m| m.configure(&name, before)).map_err(|e| e.to_string())?;
        b.start(&name).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("restart task failed: {e}"))??;
    let index = cluster_index(std::slice::from_ref(ep)).await;
    let took = caught_up(ep, index, CATCH_UP_TIMEOUT).await?;
    Ok(format!("{} was put back on what it ran before ({what}) and caught up in {:.2} s", ep.member, took.as_secs_f64()))
}

/// The line of an etcd log that says why it stopped: the last critical/fatal/panic line, in
/// either of etcd's formats (3.4's capnslog `... C | pkg: message`, 3.5's zap JSON with
/// `"level":"fatal"`, message and error), or Go's own `panic:`.
pub fn last_words(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let l = l.trim();
        if let Some(i) = l.find(" C | ").or_else(|| l.find(" F | ")) {
            return Some(l[i + 5..].trim().to_string());
        }
        if l.starts_with('{') && (l.contains("\"level\":\"fatal\"") || l.contains("\"level\":\"panic\"")) {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let msg = v.get("msg").and_then(|m| m.as_str()).unwrap_or("");
            let err = v.get("error").and_then(|m| m.as_str());
            return Some(match err {
                Some(e) => format!("{msg}: {e}"),
                None => msg.to_string(),
            });
        }
        l.starts_with("panic:").then(|| l.to_string())
    })
}

/// The first line of an etcd log that says etcd found corrupted data, in either log format:
/// its corruption checks' findings (`found data inconsistency with peers`, `found hash
/// mismatch`), a `CORRUPT` alarm, a corrupted file (`corrupted snapshot file`, a WAL's
/// `crc mismatch`). The checks' own progress lines (`starting initial corruption check`,
/// `enabled corruption checking`) are not findings, and neither are paths (`data dir =
/// /tmp/corrupt-runs/...`): words with a `/` are not read.
pub fn corruption_line(log: &str) -> Option<String> {
    log.lines()
        .map(str::trim)
        .find(|l| {
            let words: Vec<&str> = l.split(|c: char| c.is_whitespace() || c == '"' || c == ',').filter(|w| !w.contains('/')).collect();
            let text = words.join(" ");
            let low = text.to_ascii_lowercase();
            low.contains("data inconsistency")
                || low.contains("hash mismatch")
                || low.contains("crc mismatch")
                || text.contains("CORRUPT")
                || low.contains("corrupted")
        })
        .map(|l| l.chars().take(400).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_restarts_last() {
        let m: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        assert_eq!(order(&m, Some("n1")), vec!["n2", "n3", "n1"]);
        assert_eq!(order(&m, None), vec!["n1", "n2", "n3"]);
    }

    #[test]
    fn a_members_last_words_come_from_either_log_format() {
        // etcd 3.4.23 started on a cluster at 3.5 (measured here).
        let v34 = "2026-12-02 06:15:51.119673 N | etcdserver/membership: updated the cluster version from 3.4 to 3.5\n\
                   2026-12-02 06:15:51.119685 C | etcdserver/membership: cluster cannot be downgraded (current version: 3.4.23 is lower than determined cluster version: 3.5).\n";
        assert_eq!(
            last_words(v34).as_deref(),
            Some("etcdserver/membership: cluster cannot be downgraded (current version: 3.4.23 is lower than determined cluster version: 3.5).")
        );
        let v35 = r#"{"level":"info","msg":"starting"}
{"level":"fatal","ts":"2026","caller":"etcdmain/etcd.go:204","msg":"discovery failed","error":"member has already been bootstrapped"}"#;
        assert_eq!(last_words(v35).as_deref(), Some("discovery failed: member has already been bootstrapped"));
        assert_eq!(last_words("all is well\n"), None);
    }

    #[test]
    fn corruption_lines_are_findings_not_progress() {
        let quiet = "2026-12-03 10:00:00.1 I | etcdserver: n2 starting initial corruption check with timeout 5s...\n\
                     {\"level\":\"info\",\"msg\":\"enabled corruption checking\",\"interval\":\"10s\"}\n\
                     {\"level\":\"info\",\"msg\":\"initial corruption checking passed; no corruption\"}\n";
        assert_eq!(corruption_line(quiet), None);
        assert_eq!(corruption_line("2026-12-03 14:31:26.981800 I | embed: data dir = /tmp/corrupt-runs/wal1/data/n1"), None, "a path is not a finding");
        let found = format!("{quiet}{{\"level\":\"error\",\"msg\":\"found hash mismatch\",\"remote-peer-id\":\"ab\"}}\n");
        assert!(corruption_line(&found).unwrap().contains("found hash mismatch"));
        assert!(corruption_line("2026 C | etcdmain: 8e9e05c52164694d found data inconsistency with peers").is_some());
        assert!(corruption_line("2026 E | etcdserver: alarm CORRUPT raised").is_some());
    }
}
