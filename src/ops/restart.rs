//! Restarting members one at a time (`rolling-restart`), optionally with new settings or
//! another binary or image: the upgrade path. The runner walks the members (followers
//! first, the leader last, as operators do) and calls [`restart_member`] for each, so that it
//! can take the network faults in force on a member off and put them back on around a
//! restart that gives the member a new network namespace (Docker).

use super::membership::{caught_up, cluster_index};
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
pub async fn restart_member(backend: &Arc<dyn Backend>, eps: &[Endpoint], member: &str, config: Option<MemberConfig>) -> Result<String, String> {
    let ep = eps.iter().find(|e| e.member == member).cloned().ok_or_else(|| format!("{member} is not a member"))?;
    let index = cluster_index(eps).await;
    let b = backend.clone();
    let name = member.to_string();
    let (down_at, pid, killed) = tokio::task::spawn_blocking(move || -> Result<(Instant, u32, bool), String> {
        if b.state(&name) != MemberState::Running {
            return Err(format!("{name} is not running ({:?}): a fault holds it", b.state(&name)));
        }
        b.signal(&name, Signal::SIGTERM).map_err(|e| e.to_string())?;
        let mut killed = false;
        if !b.wait_exit(&name, STOP_TIMEOUT) {
            killed = true;
            b.signal(&name, Signal::SIGKILL).map_err(|e| e.to_string())?;
            if !b.wait_exit(&name, STOP_TIMEOUT) {
                return Err(format!("{name} did not exit after SIGKILL"));
            }
        }
        let down_at = Instant::now();
        if let Some(c) = config {
            b.membership_or_err().and_then(|m| m.configure(&name, c)).map_err(|e| e.to_string())?;
        }
        let pid = b.start(&name).map_err(|e| e.to_string())?;
        Ok((down_at, pid, killed))
    })
    .await
    .map_err(|e| format!("restart task failed: {e}"))??;
    let took = caught_up(&ep, index, CATCH_UP_TIMEOUT).await.map_err(|e| format!("{member} restarted (pid {pid}) but {e}"))?;
    Ok(format!(
        "{member}{} restarted (pid {pid}), caught up to raft index {index} {:.2} s after it went down",
        if killed { " (killed after ignoring SIGTERM for 10 s)" } else { "" },
        (down_at.elapsed().max(took)).as_secs_f64()
    ))
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
}
