//! Keeping the store small and healthy: compaction, defragmentation, disarming alarms.

use super::{conn, revision, Done, TIMEOUT};
use crate::client::Endpoint;
use etcd_client::{AlarmAction, AlarmOptions, AlarmType, CompactionOptions, GetOptions};
use std::time::{Duration, Instant};

/// Compact the key space to the current revision minus `keep`, physically, and verify that a
/// read at a revision below it is refused. The detail gives each member's database size
/// after it (unchanged by compaction: the freed pages stay in the file until a defrag).
pub async fn compact(eps: &[Endpoint], keep: u64) -> Result<Done, String> {
    let start = Instant::now();
    let now = revision(eps).await?;
    let to = (now - keep as i64).max(1);
    let ep = eps.first().ok_or("no member")?;
    let mut c = conn(ep).await?;
    // Through an election (a member killed as the op starts) etcd answers "leader changed"
    // or "no leader": the compaction is asked again, as an operator's tool would, until
    // TIMEOUT. One applied meanwhile answers "compacted" to the repeat.
    let deadline = Instant::now() + TIMEOUT;
    let mut retried = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
        match tokio::time::timeout(left, c.compact(to, Some(CompactionOptions::new().with_physical()))).await {
            Ok(Ok(_)) => break,
            Ok(Err(e)) if retried > 0 && e.to_string().contains("compacted") => break,
            Ok(Err(e)) if is_election(&e.to_string()) && Instant::now() < deadline => {
                retried += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Err(e)) => return Err(format!("the cluster refused to compact to revision {to}: {e}")),
            Err(_) => {
                return Err(format!(
                    "compaction timed out{}",
                    if retried > 0 { format!(" (asked {} times through an election)", retried + 1) } else { String::new() }
                ))
            }
        }
    }
    let proof = if to > 1 {
        match tokio::time::timeout(TIMEOUT, c.get("", Some(GetOptions::new().with_prefix().with_revision(to - 1).with_count_only()))).await {
            Ok(Err(e)) if e.to_string().contains("compacted") => format!("a read at revision {} is refused ({e})", to - 1),
            other => return Err(format!("compacted to revision {to}, but a read at revision {} was not refused: {other:?}", to - 1)),
        }
    } else {
        "nothing older to refuse".to_string()
    };
    // Compaction frees pages inside the database file; only defrag gives them back.
    let sizes = super::quota::db_sizes(eps).await;
    Ok(Done {
        targets: vec![ep.member.clone()],
        detail: format!("compacted to revision {to} (current {now}, keep {keep}); {proof}; db {sizes}"),
        took: start.elapsed(),
    })
}

/// Whether etcd's answer says it is between leaders (the request may be asked again).
fn is_election(e: &str) -> bool {
    e.contains("leader changed") || e.contains("no leader") || e.contains("timed out") || e.contains("Unavailable")
}

/// Defragment each target in turn (one at a time, as operators are told to), saying each
/// member's database size before and after.
pub async fn defrag(targets: &[Endpoint]) -> Result<Done, String> {
    let start = Instant::now();
    let mut said = Vec::new();
    for ep in targets {
        let mut c = conn(ep).await?;
        let size = |s: etcd_client::StatusResponse| s.db_size();
        let before = tokio::time::timeout(TIMEOUT, c.status()).await.map_err(|_| "status timed out".to_string())?.map_err(|e| e.to_string()).map(size)?;
        tokio::time::timeout(Duration::from_secs(60), c.defragment())
            .await
            .map_err(|_| format!("defragmenting {} timed out", ep.member))?
            .map_err(|e| format!("{} refused to defragment: {e}", ep.member))?;
        let after = tokio::time::timeout(TIMEOUT, c.status()).await.map_err(|_| "status timed out".to_string())?.map_err(|e| e.to_string()).map(size)?;
        said.push(format!("{}: db {} → {} bytes", ep.member, before, after));
    }
    Ok(Done { targets: targets.iter().map(|e| e.member.clone()).collect(), detail: said.join("; "), took: start.elapsed() })
}

/// Disarm every alarm (after a space-quota `NOSPACE`), verify none is left, and prove that
/// writes are accepted again: a put under the fill prefix (within the run's key prefix
/// `run_prefix`) must succeed.
pub async fn alarm_disarm(eps: &[Endpoint], run_prefix: &str) -> Result<Done, String> {
    let start = Instant::now();
    let ep = eps.first().ok_or("no member")?;
    let mut c = conn(ep).await?;
    let before = tokio::time::timeout(TIMEOUT, c.alarm(AlarmAction::Get, AlarmType::None, None))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let n = before.alarms().len();
    tokio::time::timeout(TIMEOUT, c.alarm(AlarmAction::Deactivate, AlarmType::None, None))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    for a in before.alarms() {
        let mut opts = AlarmOptions::new();
        opts.with_member(a.member_id());
        tokio::time::timeout(TIMEOUT, c.alarm(AlarmAction::Deactivate, a.alarm(), Some(opts)))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
    }
    let after = tokio::time::timeout(TIMEOUT, c.alarm(AlarmAction::Get, AlarmType::None, None))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if !after.alarms().is_empty() {
        return Err(format!("{} alarm(s) still raised after disarming", after.alarms().len()));
    }
    let probe = format!("{}after-disarm", super::fill_prefix(run_prefix));
    match tokio::time::timeout(TIMEOUT, c.put(probe.as_str(), "ok", None)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.to_string().contains("database space exceeded") => {
            return Err(format!(
                "{n} alarm(s) disarmed, but a put to {probe} is still refused ({e}), which raises NOSPACE again: the database is still over the quota — compaction frees pages inside the file, only defrag gives them back, so defragment every member before disarming"
            ))
        }
        Ok(Err(e)) => return Err(format!("{n} alarm(s) disarmed, but a put to {probe} failed: {e}")),
        Err(_) => return Err(format!("{n} alarm(s) disarmed, but a put to {probe} timed out")),
    }
    Ok(Done { targets: vec![ep.member.clone()], detail: format!("{n} alarm(s) disarmed; none left; a put to {probe} succeeds"), took: start.elapsed() })
}
