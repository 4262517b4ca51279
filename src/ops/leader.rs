//! Handing leadership over.

use super::{conn, Done, TIMEOUT};
use crate::client::Endpoint;
use std::time::{Duration, Instant};

/// Hand leadership to `to` (through the current leader, as etcd requires), and verify that
/// `to` leads afterwards.
pub async fn move_leader(eps: &[Endpoint], leader: &str, to: &str) -> Result<Done, String> {
    let start = Instant::now();
    let lep = eps.iter().find(|e| e.member == leader).ok_or_else(|| format!("no leader endpoint {leader}"))?;
    let tep = eps.iter().find(|e| e.member == to).ok_or_else(|| format!("no member {to}"))?;
    let mut t = conn(tep).await?;
    let target_id = tokio::time::timeout(TIMEOUT, t.status())
        .await
        .map_err(|_| "status timed out".to_string())?
        .map_err(|e| e.to_string())?
        .header()
        .map(|h| h.member_id())
        .ok_or("no member id")?;
    let mut l = conn(lep).await?;
    tokio::time::timeout(TIMEOUT, l.move_leader(target_id))
        .await
        .map_err(|_| "move-leader timed out".to_string())?
        .map_err(|e| format!("{leader} refused to hand leadership to {to}: {e}"))?;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = tokio::time::timeout(TIMEOUT, t.status()).await.map_err(|_| "status timed out".to_string())?.map_err(|e| e.to_string())?;
        if s.leader() == target_id {
            return Ok(Done {
                targets: vec![to.to_string()],
                detail: format!("leadership moved {leader} → {to}; {to} reports itself leader at raft term {}", s.raft_term()),
                took: start.elapsed(),
            });
        }
        if Instant::now() >= deadline {
            return Err(format!("{to} was not leader {} s after move-leader", TIMEOUT.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
