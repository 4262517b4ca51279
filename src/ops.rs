//! etcd operations as scheduled steps of a scenario (`ops:` beside `faults:`): the things
//! operators do to a cluster, rehearsed under faults. Each is carried out through the etcd
//! API and verifies its own result; the outcome and duration go into `events.jsonl`.
//!
//! Built so far: `compact` (to the current revision, or keeping the last `keep` revisions),
//! `defrag` (each target in turn), `move-leader` (to a named member or a follower) and
//! `alarm-disarm`. Membership changes, snapshot save/restore and rolling restarts are not
//! built yet (refused by the scenario parser).

use crate::client::{self, Endpoint};
use etcd_client::{AlarmAction, AlarmOptions, AlarmType, CompactionOptions, GetOptions};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// What an operation did, for the event and the progress line.
#[derive(Debug, Clone)]
pub struct Done {
    /// Members it acted on.
    pub targets: Vec<String>,
    /// Its verified result, in words.
    pub detail: String,
    /// How long it took.
    pub took: Duration,
}

async fn conn(ep: &Endpoint) -> Result<etcd_client::Client, String> {
    client::connect(ep, TIMEOUT).await.map_err(|e| format!("cannot reach {}: {e}", ep.member))
}

/// The current revision, from the first member that answers.
async fn revision(eps: &[Endpoint]) -> Result<i64, String> {
    let mut last = String::from("no member");
    for ep in eps {
        match conn(ep).await {
            Ok(mut c) => match tokio::time::timeout(TIMEOUT, c.status()).await {
                Ok(Ok(s)) => return s.header().map(|h| h.revision()).ok_or_else(|| "a status without a header".to_string()),
                Ok(Err(e)) => last = format!("{}: {e}", ep.member),
                Err(_) => last = format!("{}: timed out", ep.member),
            },
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Compact the key space to the current revision minus `keep`, physically, and verify that a
/// read at a revision below it is refused.
pub async fn compact(eps: &[Endpoint], keep: u64) -> Result<Done, String> {
    let start = Instant::now();
    let now = revision(eps).await?;
    let to = (now - keep as i64).max(1);
    let ep = eps.first().ok_or("no member")?;
    let mut c = conn(ep).await?;
    tokio::time::timeout(TIMEOUT, c.compact(to, Some(CompactionOptions::new().with_physical())))
        .await
        .map_err(|_| "compaction timed out".to_string())?
        .map_err(|e| format!("the cluster refused to compact to revision {to}: {e}"))?;
    let proof = if to > 1 {
        match tokio::time::timeout(TIMEOUT, c.get("", Some(GetOptions::new().with_prefix().with_revision(to - 1).with_count_only()))).await {
            Ok(Err(e)) if e.to_string().contains("compacted") => format!("a read at revision {} is refused ({e})", to - 1),
            other => return Err(format!("compacted to revision {to}, but a read at revision {} was not refused: {other:?}", to - 1)),
        }
    } else {
        "nothing older to refuse".to_string()
    };
    Ok(Done { targets: vec![ep.member.clone()], detail: format!("compacted to revision {to} (current {now}, keep {keep}); {proof}"), took: start.elapsed() })
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

/// Disarm every alarm (after a space-quota `NOSPACE`), and verify none is left.
pub async fn alarm_disarm(eps: &[Endpoint]) -> Result<Done, String> {
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
    Ok(Done { targets: vec![ep.member.clone()], detail: format!("{n} alarm(s) disarmed; none left"), took: start.elapsed() })
}
