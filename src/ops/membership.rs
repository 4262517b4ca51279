//! Changing who is in the cluster: `member-add` (as a learner or a voter), `learner-promote`,
//! `member-remove` and `member-replace`. Each goes through the etcd cluster API first and
//! then asks the backend to start or stop the member's process or container, and each
//! verifies itself from the member list (and, for a new member, from its own status: it
//! names the leader and has caught up).

use super::{conn, Done, TIMEOUT};
use crate::client::Endpoint;
use crate::cluster::{Backend, Member, MemberConfig};
use etcd_client::MemberAddOptions;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a new member may take to start, join and catch up.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a reconfiguration etcd refuses as unsafe for now is retried.
const RECONFIG_PATIENCE: Duration = Duration::from_secs(30);

/// Whether etcd refused a reconfiguration for a reason that passes (`--strict-reconfig-check`,
/// on by default: every voter connected for the last 5 s; enough started members to keep a
/// quorum). Operators retry these.
fn refused_for_now(e: &str) -> bool {
    e.contains("unhealthy cluster") || e.contains("not enough started members") || timed_out(e)
}

/// A request that timed out (a leader election under way, say): it may or may not have been
/// carried out, so the caller retries and then looks at the member list.
fn timed_out(e: &str) -> bool {
    e.contains("Timeout expired") || e.contains("timed out") || e.contains("deadline")
}

/// Ask each of `eps` in turn to carry out `call` until one does; retry while etcd refuses for
/// a reason that passes, up to [`RECONFIG_PATIENCE`]. Returns the answer and, when etcd
/// refused at first, for how long and why.
async fn reconfigure<T, F, Fut>(eps: &[Endpoint], what: &str, call: F) -> Result<(T, Option<String>), String>
where
    F: Fn(etcd_client::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
{
    let start = Instant::now();
    let mut first_refusal: Option<String> = None;
    let mut tries = 0;
    loop {
        tries += 1;
        let mut last = String::from("no member answered");
        let mut for_now = false;
        for ep in eps {
            let Ok(c) = conn(ep).await else { continue };
            match tokio::time::timeout(TIMEOUT, call(c)).await {
                Ok(Ok(v)) => {
                    let waited =
                        first_refusal.map(|why| format!("etcd refused it {} time(s) over {:.1} s first ({why})", tries - 1, start.elapsed().as_secs_f64()));
                    return Ok((v, waited));
                }
                Ok(Err(e)) => {
                    let e = e.to_string();
                    for_now = refused_for_now(&e);
                    last = format!("{} refused to {what}: {e}", ep.member);
                    if for_now {
                        first_refusal.get_or_insert_with(|| e.rsplit("etcdserver: ").next().unwrap_or(&e).trim_end_matches('"').to_string());
                    }
                    break;
                }
                Err(_) => last = format!("{}: timed out", ep.member),
            }
        }
        if !for_now || start.elapsed() >= RECONFIG_PATIENCE {
            let waited = if tries > 1 { format!(" (after {tries} attempts over {:.1} s)", start.elapsed().as_secs_f64()) } else { String::new() };
            return Err(format!("{last}{waited}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One entry of the member list, as etcd tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// etcd's member id.
    pub id: u64,
    /// Its name; empty until the member has started.
    pub name: String,
    /// Its first peer URL.
    pub peer_url: String,
    /// A non-voting learner.
    pub learner: bool,
}

/// The member list, from the first endpoint that answers.
pub async fn member_list(eps: &[Endpoint]) -> Result<Vec<Listed>, String> {
    let mut last = String::from("no member to ask");
    for ep in eps {
        let mut c = match conn(ep).await {
            Ok(c) => c,
            Err(e) => {
                last = e;
                continue;
            }
        };
        match tokio::time::timeout(TIMEOUT, c.member_list()).await {
            Ok(Ok(list)) => {
                return Ok(list
                    .members()
                    .iter()
                    .map(|m| Listed {
                        id: m.id(),
                        name: m.name().to_string(),
                        peer_url: m.peer_urls().first().cloned().unwrap_or_default(),
                        learner: m.is_learner(),
                    })
                    .collect())
            }
            Ok(Err(e)) => last = format!("{}: {e}", ep.member),
            Err(_) => last = format!("{}: member list timed out", ep.member),
        }
    }
    Err(format!("no member answered the member list ({last})"))
}

/// The list in words: `n1, n2, n4 (learner)`.
pub fn describe(list: &[Listed]) -> String {
    list.iter()
        .map(|m| {
            let name = if m.name.is_empty() { format!("{:x} (not started)", m.id) } else { m.name.clone() };
            if m.learner {
                format!("{name} (learner)")
            } else {
                name
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run a backend verb off the async threads (the Docker backend blocks on its own runtime).
async fn blocking<T: Send + 'static>(
    backend: &Arc<dyn Backend>,
    f: impl FnOnce(&dyn Backend) -> Result<T, crate::error::Error> + Send + 'static,
) -> Result<T, String> {
    let b = backend.clone();
    tokio::task::spawn_blocking(move || f(b.as_ref())).await.map_err(|e| format!("backend task failed: {e}"))?.map_err(|e| e.to_string())
}

/// Wait until `ep` answers its status naming a leader and has applied at least `index`
/// (what the leader had committed when we started waiting): it has caught up.
pub async fn caught_up(ep: &Endpoint, index: u64, timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    while start.elapsed() < timeout {
        if let Ok(mut c) = conn(ep).await {
            match tokio::time::timeout(Duration::from_secs(2), c.status()).await {
                Ok(Ok(s)) if s.leader() != 0 && s.raft_applied_index() >= index => return Ok(start.elapsed()),
                Ok(Ok(s)) => last = format!("leader id {:x}, applied index {} of {index}", s.leader(), s.raft_applied_index()),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "status timed out".into(),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{} did not catch up within {} s ({last})", ep.member, timeout.as_secs()))
}

/// The highest raft index any of `eps` reports: what a member must reach to have caught up.
pub async fn cluster_index(eps: &[Endpoint]) -> u64 {
    let mut best = 0;
    for ep in eps {
        if let Ok(mut c) = conn(ep).await {
            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(2), c.status()).await {
                best = best.max(s.raft_index());
            }
        }
    }
    best
}

/// Add a member (a learner or a voter): make room for it in the backend, announce it to the
/// cluster, start it with `--initial-cluster-state=existing`, and verify that the member
/// list shows it started (as a learner when asked) and that it has caught up.
pub async fn member_add(backend: &Arc<dyn Backend>, eps: &[Endpoint], learner: bool, name: Option<String>) -> Result<Done, String> {
    let start = Instant::now();
    let m: Member = blocking(backend, move |b| b.membership_or_err()?.add_member(name.as_deref())).await?;
    match join(backend, eps, &m, learner).await {
        Ok(detail) => Ok(Done { targets: vec![m.name.clone()], detail, took: start.elapsed() }),
        Err(e) => {
            // Leave no half-added member behind in the backend (the cluster may still list it:
            // the message says so).
            let name = m.name.clone();
            let _ = blocking(backend, move |b| b.membership_or_err()?.remove_member(&name)).await;
            Err(e)
        }
    }
}

async fn join(backend: &Arc<dyn Backend>, eps: &[Endpoint], m: &Member, learner: bool) -> Result<String, String> {
    let role = if learner { "learner" } else { "voter" };
    let others: Vec<Endpoint> = eps.iter().filter(|e| e.member != m.name).cloned().collect();
    let url = m.peer_url.clone();
    let added = reconfigure(&others, &format!("add {} as a {role}", m.name), |mut c| {
        let url = url.clone();
        async move {
            let opts = if learner { MemberAddOptions::new().with_is_learner() } else { MemberAddOptions::new() };
            let r = c.member_add([url], Some(opts)).await?;
            let listed = r
                .member_list()
                .iter()
                .map(|x| Listed {
                    id: x.id(),
                    name: x.name().to_string(),
                    peer_url: x.peer_urls().first().cloned().unwrap_or_default(),
                    learner: x.is_learner(),
                })
                .collect::<Vec<_>>();
            Ok((r.member().map(|x| x.id()).unwrap_or(0), listed))
        }
    })
    .await;
    let ((id, members), waited) = match added {
        Ok(a) => a,
        // A retry after a request that timed out but was carried out: the member is there.
        Err(e) if e.contains("already exists") => {
            let list = member_list(&others).await?;
            let x = list.iter().find(|x| x.peer_url == m.peer_url).ok_or(e)?;
            ((x.id, list.clone()), Some("a first attempt timed out but was carried out".to_string()))
        }
        Err(e) => return Err(e),
    };
    let initial: Vec<String> = members
        .iter()
        .map(|x| {
            let name = if x.id == id || x.name.is_empty() { m.name.clone() } else { x.name.clone() };
            format!("{name}={}", x.peer_url)
        })
        .collect();
    let config =
        MemberConfig { args: vec![format!("--initial-cluster={}", initial.join(",")), "--initial-cluster-state=existing".into()], ..Default::default() };
    let name = m.name.clone();
    let pid = blocking(backend, move |b| {
        b.membership_or_err()?.configure(&name, config)?;
        b.start(&name)
    })
    .await?;
    let target = cluster_index(eps).await;
    let took =
        caught_up(&m.endpoint(), target, JOIN_TIMEOUT).await.map_err(|e| format!("{} was added as a {role} (id {id:x}) and started, but {e}", m.name))?;
    let mut all = eps.to_vec();
    all.push(m.endpoint());
    let list = member_list(&all).await?;
    match list.iter().find(|x| x.id == id) {
        Some(x) if x.name == m.name && x.learner == learner => Ok(format!(
            "{}{} joined as a {role} (id {id:x}, pid {pid}), caught up to raft index {target} in {:.2} s; members: {}",
            waited.map(|w| format!("{w}; then ")).unwrap_or_default(),
            m.name,
            took.as_secs_f64(),
            describe(&list)
        )),
        Some(x) => Err(format!("{} was added as a {role}, but the member list shows it as {:?} (learner: {}): {}", m.name, x.name, x.learner, describe(&list))),
        None => Err(format!("{} was added as a {role} (id {id:x}), but the member list does not show it: {}", m.name, describe(&list))),
    }
}

/// Promote a learner to a voter. etcd refuses while the learner lags the leader, so this
/// retries for a while; verified from the member list.
pub async fn learner_promote(eps: &[Endpoint], learner: Option<&str>) -> Result<Done, String> {
    let start = Instant::now();
    let list = member_list(eps).await?;
    let target = match learner {
        Some(n) => list.iter().find(|m| m.name == n).ok_or_else(|| format!("{n} is not a member: {}", describe(&list)))?,
        None => {
            let learners: Vec<&Listed> = list.iter().filter(|m| m.learner).collect();
            match learners.as_slice() {
                [one] => *one,
                [] => return Err(format!("there is no learner to promote: {}", describe(&list))),
                _ => return Err(format!("there are several learners ({}): name one with `target`", describe(&list))),
            }
        }
    }
    .clone();
    if !target.learner {
        return Err(format!("{} is a voter already: {}", target.name, describe(&list)));
    }
    let deadline = Instant::now() + JOIN_TIMEOUT;
    let mut tries = 0;
    loop {
        tries += 1;
        let mut refused = String::new();
        for ep in eps.iter().filter(|e| e.member != target.name) {
            let Ok(mut c) = conn(ep).await else { continue };
            match tokio::time::timeout(TIMEOUT, c.member_promote(target.id)).await {
                Ok(Ok(_)) => {
                    let list = member_list(eps).await?;
                    return match list.iter().find(|m| m.id == target.id) {
                        Some(m) if !m.learner => Ok(Done {
                            targets: vec![target.name.clone()],
                            detail: format!("{} promoted to a voter after {tries} attempt(s); members: {}", target.name, describe(&list)),
                            took: start.elapsed(),
                        }),
                        _ => Err(format!("etcd accepted the promotion of {}, but the member list says: {}", target.name, describe(&list))),
                    };
                }
                Ok(Err(e)) => {
                    refused = format!("{} refused: {e}", ep.member);
                    break;
                }
                Err(_) => refused = format!("{}: promote timed out", ep.member),
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("{} could not be promoted within {} s ({tries} attempts; last: {refused})", target.name, JOIN_TIMEOUT.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Remove a member from the cluster, then stop its process or container and delete its
/// data; verified from the member list.
pub async fn member_remove(backend: &Arc<dyn Backend>, eps: &[Endpoint], member: &str) -> Result<Done, String> {
    let start = Instant::now();
    let list = member_list(eps).await?;
    let gone = list.iter().find(|m| m.name == member).ok_or_else(|| format!("{member} is not a member: {}", describe(&list)))?.clone();
    // Ask the others: the member removed may not answer once it is out.
    let others: Vec<Endpoint> = eps.iter().filter(|e| e.member != member).cloned().collect();
    let id = gone.id;
    let waited = match reconfigure(&others, &format!("remove {member}"), |mut c| async move { c.member_remove(id).await.map(|_| ()) }).await {
        Ok(((), w)) => w,
        // A retry after a request that timed out but was carried out: the member is gone.
        Err(e) if e.contains("member not found") => Some("a first attempt timed out but was carried out".to_string()),
        Err(e) => return Err(e),
    };
    let name = member.to_string();
    blocking(backend, move |b| b.membership_or_err()?.remove_member(&name)).await?;
    let rest: Vec<Endpoint> = eps.iter().filter(|e| e.member != member).cloned().collect();
    let list = member_list(&rest).await?;
    if list.iter().any(|m| m.id == gone.id) {
        return Err(format!("{member} was removed, but the member list still shows it: {}", describe(&list)));
    }
    Ok(Done {
        targets: vec![member.to_string()],
        detail: format!(
            "{}{member} (id {:x}) removed, its process stopped and its data deleted; members: {}",
            waited.map(|w| format!("{w}; then ")).unwrap_or_default(),
            gone.id,
            describe(&list)
        ),
        took: start.elapsed(),
    })
}

/// Replace a member by a fresh one under the same name and address (remove, then add as a
/// voter with empty data): what an operator does when a member's disk is lost.
pub async fn member_replace(backend: &Arc<dyn Backend>, eps: &[Endpoint], member: &str) -> Result<Done, String> {
    let start = Instant::now();
    let removed = member_remove(backend, eps, member).await?;
    let rest: Vec<Endpoint> = eps.iter().filter(|e| e.member != member).cloned().collect();
    let added =
        member_add(backend, &rest, false, Some(member.to_string())).await.map_err(|e| format!("{}; then adding it back failed: {e}", removed.detail))?;
    Ok(Done { targets: vec![member.to_string()], detail: format!("{}; then {}", removed.detail, added.detail), took: start.elapsed() })
}
