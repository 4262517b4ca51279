//! The space quota: filling the backend until etcd raises `NOSPACE`, and proving what an
//! operator sees then — writes refused with the alarm while reads go on.
//!
//! The fill overwrites a few keys of its own (under [`fill_prefix`], never the workload's)
//! with large values, so that every overwrite leaves an old revision behind: the database
//! grows until the quota, and a compaction followed by a defragmentation gives the space
//! back. The recovery itself is the maintenance ops (`compact`, `defrag`, `alarm-disarm`).

use super::{conn, Done, TIMEOUT};
use crate::client::Endpoint;
use etcd_client::{AlarmAction, AlarmType, GetOptions};
use std::time::{Duration, Instant};

/// How many keys the fill overwrites in turn.
pub const FILL_KEYS: usize = 4;

/// The longest a fill may write before it gives up on reaching the quota.
const BOUND: Duration = Duration::from_secs(60);

/// Puts in a row that may fail for other reasons (a fault, an election) before the fill
/// gives up.
const MAX_FAILURES_IN_A_ROW: u32 = 5;

/// What a refused write says when the space quota is exhausted (etcd's
/// `rpctypes.ErrGRPCNoSpace`).
const NOSPACE: &str = "database space exceeded";

/// Where the fill's keys live: `/faultline-fill/` on a cluster of the run's own, under the
/// run's prefix on an attached cluster (so they go with the run's other keys).
pub fn fill_prefix(run_prefix: &str) -> String {
    if run_prefix.is_empty() {
        "/faultline-fill/".to_string()
    } else {
        format!("{run_prefix}faultline-fill/")
    }
}

/// Overwrite [`FILL_KEYS`] keys under [`fill_prefix`] with `value_size`-byte values until
/// etcd refuses a put with "database space exceeded", then verify the three things an
/// operator would: the alarm list shows `NOSPACE`, a further put is refused with the quota
/// error, and a linearizable read is still served.
///
/// Bounded: if the quota is not reached after writing twice the cluster's quota (read from
/// the member's `/metrics`, `etcd_server_quota_backend_bytes`) or after 60 s, the fill fails
/// saying so.
pub async fn fill(eps: &[Endpoint], run_prefix: &str, value_size: u64) -> Result<Done, String> {
    let start = Instant::now();
    let prefix = fill_prefix(run_prefix);
    let (ep, mut c) = first_answering(eps).await?;
    let quota = quota_bytes(&ep).await;
    let limit = quota.map(|q| q.saturating_mul(2));
    let len = usize::try_from(value_size).map_err(|_| format!("value_size {value_size} does not fit in memory"))?;
    let value = vec![b'q'; len];

    let (mut puts, mut written, mut failures) = (0u64, 0u64, 0u32);
    loop {
        if start.elapsed() >= BOUND || limit.is_some_and(|l| written >= l) {
            return Err(format!(
                "wrote {} in {puts} puts over {:.1} s without reaching the space quota ({}): set `cluster.etcd.quota_backend_bytes` small (e.g. 16MiB) for a fill",
                human(written),
                start.elapsed().as_secs_f64(),
                quota.map_or("unknown: no etcd_server_quota_backend_bytes in /metrics".to_string(), human),
            ));
        }
        let key = format!("{prefix}fill-{}", puts % FILL_KEYS as u64);
        match tokio::time::timeout(TIMEOUT, c.put(key, value.clone(), None)).await {
            Ok(Ok(_)) => {
                puts += 1;
                written += value_size;
                failures = 0;
            }
            Ok(Err(e)) if e.to_string().contains(NOSPACE) => break,
            Ok(Err(e)) if e.to_string().contains("request is too large") => {
                return Err(format!(
                    "{} refused a put of {}: {e} — use a smaller `value_size` (the member's --max-request-bytes)",
                    ep.member,
                    human(value_size)
                ))
            }
            other => {
                failures += 1;
                if failures >= MAX_FAILURES_IN_A_ROW {
                    let why = match other {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("timed out after {} s", TIMEOUT.as_secs()),
                    };
                    return Err(format!("{failures} puts in a row to {} failed before the quota was reached, the last: {why}", ep.member));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let filled_in = start.elapsed();

    // Proof 1: the alarm is raised (through raft, so it may take a moment to be listed).
    let raised_by = nospace_alarm(&mut c, eps).await?;
    // Proof 2: a further put is refused with the quota error.
    let probe = format!("{prefix}probe");
    let refused = match tokio::time::timeout(TIMEOUT, c.put(probe.as_str(), "x", None)).await {
        Ok(Err(e)) if e.to_string().contains(NOSPACE) => format!("a put is refused ({NOSPACE})"),
        Ok(Ok(_)) => return Err(format!("NOSPACE is raised, but a put to {probe} was accepted")),
        Ok(Err(e)) => return Err(format!("NOSPACE is raised, but a put to {probe} failed with another error: {e}")),
        Err(_) => return Err(format!("NOSPACE is raised, but a put to {probe} timed out instead of being refused")),
    };
    // Proof 3: reads go on (a linearizable read goes through the leader's read index).
    let read = tokio::time::timeout(TIMEOUT, c.get(prefix.as_str(), Some(GetOptions::new().with_prefix().with_count_only())))
        .await
        .map_err(|_| format!("NOSPACE is raised and writes are refused, but a linearizable read on {} timed out", ep.member))?
        .map_err(|e| format!("NOSPACE is raised and writes are refused, but a linearizable read on {} failed: {e}", ep.member))?;
    let read_rev = read.header().map_or(0, |h| h.revision());

    Ok(Done {
        targets: vec![ep.member.clone()],
        detail: format!(
            "wrote {} in {puts} puts of {} to {FILL_KEYS} keys under {prefix} in {:.1} s until `{NOSPACE}`; db {}; quota {}; alarm list: NOSPACE raised by {raised_by}; {refused}; a linearizable read is served (revision {read_rev})",
            human(written),
            human(value_size),
            filled_in.as_secs_f64(),
            db_sizes(eps).await,
            quota.map_or("unknown".to_string(), human),
        ),
        took: start.elapsed(),
    })
}

/// The first member that answers a status request, and a client to it.
async fn first_answering(eps: &[Endpoint]) -> Result<(Endpoint, etcd_client::Client), String> {
    let mut last = String::from("no member");
    for ep in eps {
        match conn(ep).await {
            Ok(mut c) => match tokio::time::timeout(TIMEOUT, c.status()).await {
                Ok(Ok(_)) => return Ok((ep.clone(), c)),
                Ok(Err(e)) => last = format!("{}: {e}", ep.member),
                Err(_) => last = format!("{}: timed out", ep.member),
            },
            Err(e) => last = e,
        }
    }
    Err(format!("no member answers: {last}"))
}

/// Wait (bounded) until the alarm list shows `NOSPACE`; the members that raised it.
async fn nospace_alarm(c: &mut etcd_client::Client, eps: &[Endpoint]) -> Result<String, String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let r = tokio::time::timeout(TIMEOUT, c.alarm(AlarmAction::Get, AlarmType::None, None))
            .await
            .map_err(|_| "listing the alarms timed out".to_string())?
            .map_err(|e| format!("listing the alarms failed: {e}"))?;
        let ids: Vec<u64> = r.alarms().iter().filter(|a| a.alarm() == AlarmType::Nospace).map(|a| a.member_id()).collect();
        if !ids.is_empty() {
            return Ok(names_of(eps, &ids).await.join(", "));
        }
        if Instant::now() >= deadline {
            return Err(format!("etcd refused a put with `{NOSPACE}`, but the alarm list shows no NOSPACE after {} s", TIMEOUT.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Member names for raft member ids (the id in hex when no member answers as it).
async fn names_of(eps: &[Endpoint], ids: &[u64]) -> Vec<String> {
    let mut known = Vec::new();
    for ep in eps {
        if let Ok(mut c) = conn(ep).await {
            if let Ok(Ok(s)) = tokio::time::timeout(TIMEOUT, c.status()).await {
                if let Some(h) = s.header() {
                    known.push((h.member_id(), ep.member.clone()));
                }
            }
        }
    }
    ids.iter().map(|id| known.iter().find(|(k, _)| k == id).map_or(format!("{id:x}"), |(_, n)| n.clone())).collect()
}

/// Each member's database size, in words (`n1 16.0 MiB, n2 ...`).
pub(crate) async fn db_sizes(eps: &[Endpoint]) -> String {
    let mut said = Vec::new();
    for ep in eps {
        let size = match conn(ep).await {
            Ok(mut c) => match tokio::time::timeout(TIMEOUT, c.status()).await {
                Ok(Ok(s)) => human(u64::try_from(s.db_size()).unwrap_or(0)),
                Ok(Err(e)) => format!("unknown ({e})"),
                Err(_) => "unknown (timed out)".to_string(),
            },
            Err(e) => format!("unknown ({e})"),
        };
        said.push(format!("{} {size}", ep.member));
    }
    said.join(", ")
}

/// The space quota the member enforces, from its `/metrics` (`etcd_server_quota_backend_bytes`),
/// which is the truth also on an attached cluster whose settings faultline did not choose.
async fn quota_bytes(ep: &Endpoint) -> Option<u64> {
    parse_quota(&crate::client::http_get(ep, "/metrics", Duration::from_secs(5)).await?)
}

/// `etcd_server_quota_backend_bytes 1.6777216e+07` in a Prometheus text page.
fn parse_quota(page: &str) -> Option<u64> {
    let line = page.lines().find(|l| l.starts_with("etcd_server_quota_backend_bytes "))?;
    let v: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v as u64)
}

/// Bytes in binary units, one decimal (`256 KiB`, `16.0 MiB`).
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_is_read_from_the_metrics_page() {
        let page = "# HELP etcd_server_quota_backend_bytes Current backend storage quota size in bytes.\n# TYPE etcd_server_quota_backend_bytes gauge\netcd_server_quota_backend_bytes 1.6777216e+07\netcd_server_version{server_version=\"3.4.23\"} 1\n";
        assert_eq!(parse_quota(page), Some(16 << 20));
        assert_eq!(parse_quota("etcd_server_has_leader 1\n"), None);
    }

    #[test]
    fn fill_keys_stay_under_the_run_prefix() {
        assert_eq!(fill_prefix(""), "/faultline-fill/");
        assert_eq!(fill_prefix("/faultline/abc/"), "/faultline/abc/faultline-fill/");
    }

    #[test]
    fn sizes_in_words() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(256 << 10), "256 KiB");
        assert_eq!(human((16 << 20) + (100 << 10)), "16.1 MiB");
    }
}
