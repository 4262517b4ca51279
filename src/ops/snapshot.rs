//! Snapshots: `snapshot-save` streams a member's snapshot into `<run dir>/snapshots/` and
//! records what it holds; `snapshot-restore` is the disaster-recovery path after losing
//! quorum — hold the workload still, stop every member, restore every data dir from the
//! snapshot as a new cluster (`etcdctl snapshot restore`), start the members, and verify the
//! cluster serves the snapshot's revision and keys before the workload goes on.
//!
//! [`Snapshots`] is the run's record of both: the snapshots saved (a restore names one) and
//! the events a restore produces for `events.jsonl` (members stopped and started, and the
//! `snapshot-restored` record the checker splits the history at).

use super::{conn, Done, TIMEOUT};
use crate::client::Endpoint;
use crate::cluster::{Backend, MemberState};
use crate::events::EventKind;
use crate::history::Clock;
use crate::workload::PauseGate;
use etcd_client::GetOptions;
use nix::sys::signal::Signal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the restored members have to elect a leader.
const LEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// A snapshot saved by `snapshot-save`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Its name in the scenario (`snap1`).
    pub name: String,
    /// The file, `<run dir>/snapshots/<name>.db`.
    pub file: PathBuf,
    /// The member it was streamed from.
    pub member: String,
    /// `etcdctl snapshot status`'s hash of the database.
    pub hash: u64,
    /// The revision it holds (the cluster's revision after restoring it).
    pub revision: i64,
    /// Live keys at that revision (what a restored cluster holds).
    pub keys: i64,
    /// `etcdctl snapshot status`'s totalKey: entries in every bucket of the database (every
    /// revision of every key, plus etcd's own metadata).
    pub total_key: u64,
    /// Its size, bytes.
    pub size: u64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotStatus {
    hash: u64,
    revision: i64,
    total_key: u64,
}

/// Stream the snapshot of `ep`'s member into `file` (written whole, then renamed into place),
/// and record its hash, revision and key count. The member must be able to serve a
/// linearizable read first, so that the snapshot holds every write acknowledged before it.
pub async fn save(ep: &Endpoint, file: &Path, name: &str) -> Result<(Done, Snapshot), String> {
    let start = Instant::now();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut c = conn(ep).await?;
    // A linearizable read first: it returns once the member has applied everything committed
    // when it was sent, so the snapshot holds every write acknowledged before the save.
    tokio::time::timeout(TIMEOUT, c.get("", Some(GetOptions::new().with_all_keys().with_count_only())))
        .await
        .map_err(|_| format!("{} did not answer a linearizable read within {} s", ep.member, TIMEOUT.as_secs()))?
        .map_err(|e| format!("{} cannot serve a linearizable read (no quorum?): {e}", ep.member))?;
    let mut stream = tokio::time::timeout(TIMEOUT, c.snapshot())
        .await
        .map_err(|_| format!("{} did not start the snapshot stream within {} s", ep.member, TIMEOUT.as_secs()))?
        .map_err(|e| format!("{} refused the snapshot: {e}", ep.member))?;
    let part = file.with_extension("db.part");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&part).map_err(|e| format!("cannot create {}: {e}", part.display()))?);
    let mut size = 0u64;
    loop {
        let msg = tokio::time::timeout(TIMEOUT, stream.message())
            .await
            .map_err(|_| format!("the snapshot stream from {} stalled for {} s", ep.member, TIMEOUT.as_secs()))?
            .map_err(|e| format!("the snapshot stream from {} broke: {e}", ep.member))?;
        let Some(msg) = msg else { break };
        out.write_all(msg.blob()).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        size += msg.blob().len() as u64;
    }
    out.flush().map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    drop(out);
    std::fs::rename(&part, file).map_err(|e| format!("cannot move {} into place: {e}", part.display()))?;
    let f = file.to_path_buf();
    let status = tokio::task::spawn_blocking(move || etcdctl(&["snapshot", "status", &f.display().to_string(), "-w", "json"]))
        .await
        .map_err(|e| format!("etcdctl task failed: {e}"))??;
    let status: SnapshotStatus =
        serde_json::from_str(status.trim()).map_err(|e| format!("`etcdctl snapshot status` printed what is not its JSON ({e}): {}", status.trim()))?;
    // The live keys at the snapshot's revision, read from the member before anything
    // compacts it: what a cluster restored from this snapshot must hold.
    let keys = tokio::time::timeout(TIMEOUT, c.get("", Some(GetOptions::new().with_all_keys().with_count_only().with_revision(status.revision))))
        .await
        .map_err(|_| "counting the snapshot's keys timed out".to_string())?
        .map_err(|e| format!("cannot count the keys at the snapshot's revision {}: {e}", status.revision))?
        .count();
    let snap = Snapshot {
        name: name.to_string(),
        file: file.to_path_buf(),
        member: ep.member.clone(),
        hash: status.hash,
        revision: status.revision,
        keys,
        total_key: status.total_key,
        size,
    };
    let detail = format!(
        "{name} from {}: {size} bytes in {}, hash {}, revision {}, {keys} keys ({} database entries)",
        ep.member,
        file.display(),
        snap.hash,
        snap.revision,
        snap.total_key
    );
    Ok((Done { targets: vec![ep.member.clone()], detail, took: start.elapsed() }, snap))
}

/// Run `etcdctl` (API v3) on the host; its stderr goes into the error.
fn etcdctl(args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("etcdctl").args(args).env("ETCDCTL_API", "3").stdin(std::process::Stdio::null()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("`etcdctl` is not installed; snapshot ops need it on the host ({})", crate::host::sys::install_hint("etcdctl"))
        } else {
            format!("cannot run etcdctl: {e}")
        }
    })?;
    if !out.status.success() {
        return Err(format!("`etcdctl {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The snapshots of one run and the restores made from them.
pub struct Snapshots {
    backend: Arc<dyn Backend>,
    run_dir: PathBuf,
    gate: Arc<PauseGate>,
    clock: Clock,
    /// The workload's keys as the history names them, and the prefix they have in etcd.
    keys: Vec<String>,
    prefix: String,
    saved: Mutex<BTreeMap<String, Snapshot>>,
    restores: AtomicU32,
    events: Mutex<Vec<EventKind>>,
}

impl Snapshots {
    /// The record of a run: its backend, its directory (snapshots go to `snapshots/`), the
    /// workload's pause gate and clock, and the workload's keys (history names, etcd prefix).
    pub fn new(backend: Arc<dyn Backend>, run_dir: &Path, gate: Arc<PauseGate>, clock: Clock, keys: Vec<String>, prefix: &str) -> Self {
        Self {
            backend,
            run_dir: run_dir.to_path_buf(),
            gate,
            clock,
            keys,
            prefix: prefix.to_string(),
            saved: Mutex::new(BTreeMap::new()),
            restores: AtomicU32::new(0),
            events: Mutex::new(Vec::new()),
        }
    }

    /// A snapshot saved so far, by name.
    pub fn get(&self, name: &str) -> Option<Snapshot> {
        self.saved.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// The events produced since the last call, in order (the runner puts them in
    /// `events.jsonl`).
    pub fn take_events(&self) -> Vec<EventKind> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn emit(&self, e: EventKind) {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    /// `snapshot-save`: stream `ep`'s snapshot into `snapshots/<name>.db` and remember it.
    pub async fn save(&self, ep: &Endpoint, name: &str) -> Result<Done, String> {
        let file = self.run_dir.join("snapshots").join(format!("{name}.db"));
        let (done, snap) = save(ep, &file, name).await?;
        self.saved.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), snap);
        Ok(done)
    }

    /// `snapshot-restore`: pause the workload (operations in flight complete first), put
    /// every member's data back from the snapshot `from` as a new cluster, start the members,
    /// wait for a leader, verify revision and key count, read every workload key; then
    /// resume the workload — also when the restore failed.
    pub async fn restore(&self, eps: &[Endpoint], from: &str) -> Result<Done, String> {
        let snap = self.get(from).ok_or_else(|| format!("no snapshot named `{from}` was saved before this restore (did its snapshot-save fail?)"))?;
        let k = self.restores.fetch_add(1, Ordering::Relaxed) + 1;
        let start = Instant::now();
        self.gate.pause().await;
        let drained = start.elapsed();
        let began_t = self.clock.now_ns();
        let r = self.restore_paused(eps, &snap, k).await;
        let ended_t = self.clock.now_ns();
        self.gate.resume();
        let (said, values) = r?;
        let took = start.elapsed();
        self.emit(EventKind::SnapshotRestored { snapshot: snap.name.clone(), revision: snap.revision, began_t, ended_t, values });
        Ok(Done {
            targets: self.backend.members().into_iter().map(|m| m.name).collect(),
            detail: format!(
                "restored {} (revision {}, {} keys): workload paused after {} ms (operations in flight completed); {said}; the cluster served again {:.2} s after the restore began",
                snap.name,
                snap.revision,
                snap.keys,
                drained.as_millis(),
                (took - drained).as_secs_f64()
            ),
            took,
        })
    }

    async fn restore_paused(&self, eps: &[Endpoint], snap: &Snapshot, k: u32) -> Result<(String, BTreeMap<String, Option<String>>), String> {
        let t = Instant::now();
        let backend = self.backend.clone();
        let s = snap.clone();
        let work = self.run_dir.join("restore").join(k.to_string());
        let token = format!("faultline-{}-restored-{k}", self.backend.run_id());
        let (stopped, events) =
            tokio::task::spawn_blocking(move || replace_data(backend.as_ref(), &s, &work, &token)).await.map_err(|e| format!("restore task failed: {e}"))??;
        for e in events {
            self.emit(e);
        }
        let restarted = t.elapsed();
        let view = observer_leader(eps).await?;
        let elected = t.elapsed();
        let (verified, values) = verify(eps, snap, &self.keys, &self.prefix).await?;
        Ok((
            format!(
                "{stopped}; data dirs restored and members started in {} ms; leader {} at term {} after {} ms; {verified}",
                restarted.as_millis(),
                view.0,
                view.1,
                elected.as_millis()
            ),
            values,
        ))
    }
}

async fn observer_leader(eps: &[Endpoint]) -> Result<(String, u64), String> {
    let v = crate::observer::wait_for_leader(eps, LEADER_TIMEOUT).await.map_err(|e| format!("the restored cluster elected no leader: {e}"))?;
    Ok((v.leader.unwrap_or_default(), v.term))
}

/// Stop every member (SIGKILL: its data is about to be replaced; a member a fault killed is
/// down already), replace each data dir by `etcdctl snapshot restore` of `snap` as a member
/// of a new cluster named by `token`, and start every member again. Blocking.
pub fn replace_data(backend: &dyn Backend, snap: &Snapshot, work: &Path, token: &str) -> Result<(String, Vec<EventKind>), String> {
    let members = backend.members();
    let mut events = Vec::new();
    let mut stopped = Vec::new();
    let mut down = Vec::new();
    for m in &members {
        match backend.state(&m.name) {
            MemberState::Down => down.push(m.name.clone()),
            st => {
                if st == MemberState::Paused {
                    // A frozen member acts on nothing until it runs again (Docker refuses to
                    // kill a paused container).
                    let _ = backend.signal(&m.name, Signal::SIGCONT);
                }
                backend.signal(&m.name, Signal::SIGKILL).map_err(|e| format!("cannot stop {}: {e}", m.name))?;
                if !backend.wait_exit(&m.name, Duration::from_secs(10)) {
                    return Err(format!("{} did not exit within 10 s of {}", m.name, backend.signal_verb(Signal::SIGKILL)));
                }
                let how = format!("{} (snapshot-restore)", backend.signal_verb(Signal::SIGKILL));
                events.push(EventKind::MemberStop { member: m.name.clone(), how });
                stopped.push(m.name.clone());
            }
        }
    }
    let initial_cluster = members.iter().map(|m| format!("{}={}", m.name, m.peer_url)).collect::<Vec<_>>().join(",");
    std::fs::create_dir_all(work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let file = snap.file.display().to_string();
    for m in &members {
        // etcdctl refuses a data dir that exists: restore beside it, then move the result in.
        let fresh = work.join(&m.name);
        let _ = std::fs::remove_dir_all(&fresh);
        etcdctl(&[
            "snapshot",
            "restore",
            &file,
            "--name",
            &m.name,
            "--initial-cluster",
            &initial_cluster,
            "--initial-cluster-token",
            token,
            "--initial-advertise-peer-urls",
            &m.peer_url,
            "--data-dir",
            &fresh.display().to_string(),
        ])?;
        // The data dir itself stays (Docker bind-mounts it by path); what is in it goes.
        empty_dir(&m.data_dir)?;
        for entry in std::fs::read_dir(&fresh).map_err(|e| format!("cannot read {}: {e}", fresh.display()))? {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", fresh.display()))?;
            let to = m.data_dir.join(entry.file_name());
            std::fs::rename(entry.path(), &to).map_err(|e| format!("cannot move the restored {} into {}: {e}", entry.path().display(), to.display()))?;
        }
    }
    let _ = std::fs::remove_dir_all(work);
    if let Some(parent) = work.parent() {
        let _ = std::fs::remove_dir(parent); // only when no other restore's is left
    }
    for (member, pid) in backend.start_all().map_err(|e| format!("cannot start the restored members: {e}"))? {
        events.push(EventKind::MemberStart { member, pid: Some(pid) });
    }
    let mut said = Vec::new();
    if !stopped.is_empty() {
        said.push(format!("stopped {}", stopped.join(", ")));
    }
    if !down.is_empty() {
        said.push(format!("{} down already", down.join(", ")));
    }
    Ok((said.join("; "), events))
}

/// Remove everything inside `dir`, creating it when absent.
fn empty_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
        let p = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        let r = if p.is_dir() && !p.is_symlink() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        r.map_err(|e| format!("cannot remove {}: {e}", p.display()))?;
    }
    Ok(())
}

/// Verify the restored cluster against the snapshot — every member at its revision, as many
/// keys — and read every workload key (linearizably, in one range at one revision).
pub async fn verify(eps: &[Endpoint], snap: &Snapshot, keys: &[String], prefix: &str) -> Result<(String, BTreeMap<String, Option<String>>), String> {
    for ep in eps {
        let mut c = conn(ep).await?;
        let s = tokio::time::timeout(TIMEOUT, c.status())
            .await
            .map_err(|_| format!("status of {} timed out", ep.member))?
            .map_err(|e| format!("status of {}: {e}", ep.member))?;
        let rev = s.header().map(|h| h.revision()).unwrap_or_default();
        if rev != snap.revision {
            return Err(format!("{} is at revision {rev} after the restore, not the snapshot's {}", ep.member, snap.revision));
        }
    }
    let ep = eps.first().ok_or("no member")?;
    let mut c = conn(ep).await?;
    let all = if prefix.is_empty() { GetOptions::new().with_all_keys() } else { GetOptions::new().with_prefix() };
    let r = tokio::time::timeout(TIMEOUT, c.get(prefix, Some(all)))
        .await
        .map_err(|_| "reading the restored keys timed out".to_string())?
        .map_err(|e| format!("reading the restored keys: {e}"))?;
    let held: BTreeMap<String, String> =
        r.kvs().iter().map(|kv| (String::from_utf8_lossy(kv.key()).into_owned(), String::from_utf8_lossy(kv.value()).into_owned())).collect();
    if prefix.is_empty() && held.len() as i64 != snap.keys {
        return Err(format!("the restored cluster holds {} keys, the snapshot {}", held.len(), snap.keys));
    }
    let values: BTreeMap<String, Option<String>> = keys.iter().map(|k| (k.clone(), held.get(&format!("{prefix}{k}")).cloned())).collect();
    let present = values.values().filter(|v| v.is_some()).count();
    let read_rev = r.header().map(|h| h.revision()).unwrap_or_default();
    Ok((
        format!(
            "every member at revision {} and {} keys, as the snapshot; read {} workload keys at revision {read_rev} ({present} present)",
            snap.revision,
            held.len(),
            values.len()
        ),
        values,
    ))
}
