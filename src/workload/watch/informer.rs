//! List-then-watch, as a Kubernetes informer (its reflector) does: a paginated list of the
//! watched prefix — a range with a limit, then the next page from after the last key, at the
//! first page's revision (the API server's continue token) — recorded as a `listed` line;
//! the watch that follows starts at the list's revision + 1.

use super::stream::Watcher;
use super::OPEN_TIMEOUT;
use crate::client::{self, Endpoint};
use crate::etcd_api::prefix_end;
use crate::watchlog::WatchLine;
use etcd_client::GetOptions;

/// Keys per page (the API server's default page is 500; the workloads' key spaces are
/// small, so a small page makes several).
const PAGE: i64 = 10;

/// List the watcher's prefix through `ep` (member `member`) and record it; the list's
/// revision.
pub(super) async fn list(w: &Watcher, member: usize, ep: &Endpoint) -> Result<i64, String> {
    let (revision, keys) =
        tokio::time::timeout(OPEN_TIMEOUT * 4, pages(ep, &w.key)).await.unwrap_or_else(|_| Err(format!("{}: the list timed out", ep.member)))?;
    w.record(member, WatchLine::Listed { revision, keys });
    Ok(revision)
}

/// Every page of the range under `prefix`; its revision and how many keys it held.
async fn pages(ep: &Endpoint, prefix: &str) -> Result<(i64, u64), String> {
    let fail = |e: etcd_client::Error| format!("{}: {}", ep.member, client::classify(&e).1);
    let mut c = client::connect(ep, OPEN_TIMEOUT).await.map_err(fail)?;
    let end = prefix_end(prefix);
    let (mut from, mut revision, mut keys) = (prefix.to_string(), 0, 0u64);
    loop {
        let mut opts = GetOptions::new().with_range(end.as_str()).with_limit(PAGE);
        if revision != 0 {
            opts = opts.with_revision(revision);
        }
        let r = c.get(from.as_str(), Some(opts)).await.map_err(fail)?;
        if revision == 0 {
            revision = r.header().map(|h| h.revision()).ok_or_else(|| format!("{}: the list had no header", ep.member))?;
        }
        keys += r.kvs().len() as u64;
        match r.kvs().last() {
            Some(kv) if r.more() => from = format!("{}\0", String::from_utf8_lossy(kv.key())),
            _ => return Ok((revision, keys)),
        }
    }
}
