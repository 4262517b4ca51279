//! Before clock zero: the backend chosen and checked, the seed, the run directory with
//! `scenario.yaml` and `schedule.json`, the cluster built (or attached to), its members
//! started and one agreed leader waited for.

use super::{Ctx, RunOptions, READY_TIMEOUT};
use crate::cluster::docker::DockerBackend;
use crate::cluster::process::ProcessBackend;
use crate::cluster::{self, state, Backend};
use crate::error::Error;
use crate::events::EventKind;
use crate::fault;
use crate::fault::disk::{DurabilityMode, Layers};
use crate::observer;
use crate::report::progress::Progress;
use crate::scenario::{BackendChoice, EtcdOp, Scenario};
use crate::schedule::{self, Planned};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Pick the backend for this run: `auto` is Docker where an engine answers, else the
/// process backend (saying why); `docker` without an engine is an environment error (exit 3).
pub fn choose_backend(s: &Scenario, opt: Option<BackendChoice>) -> Result<&'static str, Error> {
    if let Some(a) = &s.cluster.attach {
        // Attaching needs the engine that runs the cluster: no fallback.
        if opt == Some(BackendChoice::Process) {
            return Err(Error::Invalid(format!(
                "--backend process cannot attach to the {} (cluster.attach): drop --backend, or drop cluster.attach to let faultline start its own members",
                a.selector
            )));
        }
        return cluster::docker::available()
            .map(|()| "docker")
            .map_err(|e| e.context(format!("cluster.attach needs the Docker engine that runs the {}", a.selector)));
    }
    match opt.unwrap_or(s.cluster.backend) {
        BackendChoice::Process => Ok("process"),
        BackendChoice::Docker => cluster::docker::available().map(|()| "docker"),
        BackendChoice::Auto => match cluster::docker::available() {
            Ok(()) => Ok("docker"),
            Err(e) => {
                eprintln!("faultline: backend auto: no Docker engine answers ({e}); using the process backend (local etcd processes in network namespaces)");
                Ok("process")
            }
        },
    }
}

/// The run directory for a scenario: `--out`, else `reports/<name>-<UTC timestamp>`.
pub fn run_dir_for(s: &Scenario, opts: &RunOptions) -> PathBuf {
    match &opts.out {
        Some(out) => out.clone(),
        None => crate::rundir::unique(&opts.reports_dir, &s.name),
    }
}

/// A run ready to build its cluster: everything decided, the run directory written.
pub(super) struct Prepared {
    /// The scenario as it will run (seed set, cut at `--until`).
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// The resolved schedule of faults.
    pub plan: Vec<Planned>,
    /// `process` or `docker`.
    pub backend_kind: &'static str,
    /// The etcd version of the members.
    pub etcd_version: String,
    /// The run directory.
    pub run_dir: PathBuf,
    /// The run's id (names of namespaces, containers, cgroups).
    pub run_id: String,
    /// The cluster attached to (`cluster.attach`).
    pub attached: Option<DockerBackend>,
    /// The disk-fault layer over each member's data directory, when a fault needs it.
    pub disk_layer: Option<DurabilityMode>,
}

/// Check what the run needs, decide the seed and the schedule, write the run directory.
pub(super) fn prepare(mut scenario: Scenario, opts: &RunOptions) -> Result<Prepared, Error> {
    let backend_kind = choose_backend(&scenario, opts.backend)?;
    let disk_layer = fault::disk_layer_mode(&scenario.fault_kinds());
    preflight(&scenario, disk_layer)?;
    let seed = opts.seed.or(scenario.seed).unwrap_or_else(rand::random);
    scenario.seed = Some(seed);
    let mut etcd_version = match backend_kind {
        // An attached cluster says its version once found (below).
        "docker" if scenario.cluster.attach.is_some() => String::new(),
        "docker" => {
            versions_preflight(&scenario, backend_kind)?;
            let v = cluster::docker::prepare_image(&scenario.cluster, opts.quiet)?;
            for version in upgrade_versions(&scenario) {
                cluster::docker::prepare_version_image(&version, opts.quiet)?;
            }
            v
        }
        _ => {
            let binaries = cluster::process::preflight(&scenario.cluster)?;
            versions_preflight(&scenario, backend_kind)?;
            let mut vs: Vec<String> = Vec::new();
            for b in binaries {
                let v = cluster::etcd_version(&b)?;
                if !vs.contains(&v) {
                    vs.push(v);
                }
            }
            vs.join(", ")
        }
    };

    let run_dir = run_dir_for(&scenario, opts);
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::Environment(format!("cannot create run directory {}: {e}", run_dir.display())))?;
    let run_id = state::new_run_id();
    // Attach first: the cluster found decides the members the schedule targets.
    let attached = attach(&run_id, &run_dir, &scenario)?;
    if let Some(b) = &attached {
        etcd_version = b.attached_version().unwrap_or_else(|| "unknown version".into());
    }
    let plan = plan(&mut scenario, seed, opts);
    std::fs::write(run_dir.join("scenario.yaml"), scenario.to_yaml())?;
    // The resolved schedule, for replays and for people.
    std::fs::write(run_dir.join("schedule.json"), serde_json::to_vec_pretty(&plan).unwrap_or_default())?;
    Ok(Prepared { scenario, seed, plan, backend_kind, etcd_version, run_dir, run_id, attached, disk_layer })
}

/// The versions the scenario's rolling restarts move the members to.
fn upgrade_versions(s: &Scenario) -> Vec<String> {
    s.ops
        .iter()
        .filter_map(|o| match &o.op {
            EtcdOp::RollingRestart { etcd } => etcd.version.clone(),
            _ => None,
        })
        .collect()
}

/// Every version the scenario names is here (exit 3 naming what installs it), and every
/// etcd flag it gives is taken by each binary it goes to — asked of the binary itself;
/// refused, with the binary's own words, before anything starts. Flags differ between
/// versions (3.5 renamed `--experimental-backend-bbolt-freelist-type` and dropped `--debug`;
/// Debian's 3.4.23 has no `--socket-reuse-port`). Custom images are not looked into.
fn versions_preflight(s: &Scenario, backend_kind: &str) -> Result<(), Error> {
    let e = &s.cluster.etcd;
    if s.cluster.attach.is_some() {
        return Ok(());
    }
    let custom_image = backend_kind == "docker" && !e.image.starts_with("faultline/etcd:");
    // The binary each member starts on, when faultline can know it.
    let mut starts: Vec<(String, std::path::PathBuf)> = Vec::new();
    for i in 0..s.cluster.size {
        if e.version_of(i).is_some() || !custom_image {
            starts.push((format!("n{}", i + 1), e.binary_of(i)?));
        }
    }
    let shared = &e.extra_args;
    let refuse = |binary: &std::path::Path, args: &[String], whose: &str, given: &str| -> Result<(), Error> {
        let refused = cluster::versions::refused_flags(binary, args)?;
        if refused.is_empty() {
            return Ok(());
        }
        let version = cluster::etcd_version(binary).unwrap_or_else(|_| "(unknown version)".into());
        let list: Vec<String> = refused.iter().map(|(f, said)| format!("`{f}` (\"{said}\")")).collect();
        Err(Error::BadInput(format!(
            "{given}: etcd {version} ({}, {whose}) does not take {}. Flags differ between etcd versions (3.5 renamed --experimental-backend-bbolt-freelist-type to --backend-bbolt-freelist-type and dropped --debug; 3.4 has no --socket-reuse-port): drop the flag, or give it only where the version takes it — a rolling restart's own `etcd.extra_args` go only to the version it moves to.",
            binary.display(),
            list.join(", ")
        )))
    };
    for (m, b) in &starts {
        refuse(b, shared, &format!("member {m}"), "cluster.etcd.extra_args")?;
    }
    // etcd's corruption checks: each flag asked of each binary, refused with the key.
    let checks = e.corrupt_checks.flags();
    let mut asked: Vec<&std::path::PathBuf> = Vec::new();
    for (m, b) in &starts {
        if asked.contains(&b) || checks.is_empty() {
            continue;
        }
        asked.push(b);
        let flags: Vec<String> = checks.iter().map(|(_, f)| f.clone()).collect();
        let refused = cluster::versions::refused_flags(b, &flags)?;
        if let Some((key, flag)) = checks.iter().find(|(_, f)| refused.iter().any(|(r, _)| r == f)) {
            let version = cluster::etcd_version(b).unwrap_or_else(|_| "(unknown version)".into());
            let when = if *key == "compact_hash_check" {
                " The compact hash check came in etcd 3.5.5: none of 3.4.x, 3.5.0 and 3.5.1 has it."
            } else {
                " The initial and periodic corruption checks are in etcd 3.4 and 3.5 as --experimental-* flags."
            };
            return Err(Error::BadInput(format!(
                "cluster.etcd.{key}: etcd {version} ({}, member {m}) does not take {}.{when} Drop the key, or run a version that has it.",
                b.display(),
                flag.split('=').next().unwrap_or(flag)
            )));
        }
    }
    for o in &s.ops {
        let EtcdOp::RollingRestart { etcd: r } = &o.op else { continue };
        let mut args = shared.clone();
        args.extend(r.args());
        let given = format!("the rolling-restart at {}", o.at);
        match r.program() {
            Some(cluster::Program::Version(v)) => {
                refuse(&cluster::versions::binary(&v).map_err(|err| err.context(given.clone()))?, &args, "what the members move to", &given)?
            }
            Some(cluster::Program::Binary(b)) => {
                let b = crate::host::sys::which(&b.display().to_string()).unwrap_or(b);
                refuse(&b, &args, "what the members move to", &given)?
            }
            Some(cluster::Program::Image(_)) => {}
            None => {
                for (m, b) in &starts {
                    refuse(b, &args, &format!("member {m}"), &given)?;
                }
            }
        }
    }
    Ok(())
}

/// What the scenario needs of this machine and of the cluster, refused before anything is
/// built.
fn preflight(s: &Scenario, disk_layer: Option<DurabilityMode>) -> Result<(), Error> {
    if let (Some(a), Some(_)) = (&s.cluster.attach, disk_layer) {
        return Err(Error::BadInput(format!(
            "disk faults (io-latency, io-error, fsync-lie, kill with lose_unsynced) need faultline's layer over each member's data directory from the member's start, which an attached cluster ({}) cannot have: drop those faults, or let faultline start the cluster",
            a.selector
        )));
    }
    // The snapshot ops read and restore snapshot files with the host's etcdctl.
    if s.ops.iter().any(|o| matches!(o.op, crate::scenario::EtcdOp::SnapshotSave { .. })) && crate::host::caps::etcdctl().is_none() {
        return Err(Error::Environment(format!(
            "the scenario's snapshot ops need `etcdctl` on this machine (snapshot status, snapshot restore): {}",
            crate::host::sys::install_hint("etcdctl")
        )));
    }
    // A fault this machine cannot do (e.g. `mechanism: netem` without sch_netem) is refused here.
    fault::preflight(&s.fault_kinds())
}

/// The running cluster of `cluster.attach`, which must have `cluster.size` members; `None`
/// without `cluster.attach`.
fn attach(run_id: &str, run_dir: &std::path::Path, s: &Scenario) -> Result<Option<DockerBackend>, Error> {
    let Some(a) = &s.cluster.attach else {
        return Ok(None);
    };
    let b = DockerBackend::attach(run_id, run_dir, a, fault::net::remove_leftovers)?;
    let found = b.members().len();
    if found != s.cluster.size {
        return Err(Error::Environment(format!(
            "cluster.attach found {found} etcd container(s) in the {} ({}), but cluster.size is {}: set `cluster.size: {found}` so the faults are planned for the cluster that is there",
            a.selector,
            b.members().iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
            s.cluster.size
        )));
    }
    Ok(Some(b))
}

/// The schedule of the whole scenario (so that `--until` keeps the same prefix), cut at
/// `--until` and pinned to the members of a replayed run.
fn plan(scenario: &mut Scenario, seed: u64, opts: &RunOptions) -> Vec<Planned> {
    let mut plan = schedule::plan(scenario, seed);
    if let Some(until) = opts.until.filter(|u| *u < scenario.workload.duration.0) {
        plan.retain(|p| p.from() < until);
        for p in &mut plan {
            if let schedule::End::At(h) = &mut p.end {
                *h = (*h).min(until);
            }
        }
        scenario.workload.duration = crate::scenario::units::Span(until);
    }
    for p in &mut plan {
        p.pinned = opts.pinned.get(&p.id).cloned();
    }
    plan
}

/// The progress display of the run (silent with `--quiet`).
pub(super) fn progress(s: &Scenario, quiet: bool) -> Progress {
    if quiet {
        Progress::silent(s.workload.duration.0)
    } else {
        Progress::new(s.workload.duration.0, crate::report::progress::stdout_is_terminal())
    }
}

/// The run's first line: what runs where.
pub(super) fn announce(p: &Prepared, progress: &Progress) {
    let s = &p.scenario;
    let how = match &s.cluster.attach {
        Some(a) => format!("attached to the {}: ", a.selector),
        None => String::new(),
    };
    progress.println(&format!(
        "faultline: {} — seed {}, {} members ({how}{}, etcd {}), {} fault(s) scheduled, run dir {}",
        s.name,
        p.seed,
        s.cluster.size,
        p.backend_kind,
        p.etcd_version,
        p.plan.len(),
        p.run_dir.display()
    ));
}

/// The cluster of the run: the one attached to, or a new one (members not started yet),
/// with the disk-fault layers mounted when a fault needs them.
pub(super) fn build(p: &mut Prepared, layers: &Layers) -> Result<Arc<dyn Backend>, Error> {
    let s = &p.scenario;
    let backend: Arc<dyn Backend> = match (p.backend_kind, p.attached.take()) {
        ("docker", Some(b)) => Arc::new(b),
        ("docker", None) => Arc::new(DockerBackend::create(&p.run_id, &p.run_dir, &s.cluster)?),
        _ => Arc::new(ProcessBackend::create(&p.run_id, &p.run_dir, &s.cluster)?),
    };
    if let Some(mode) = p.disk_layer {
        layers.mount_all(&p.run_id, &backend.members(), mode)?;
    }
    Ok(backend)
}

/// Members up (an attached cluster is up already: it is only looked at), then one leader
/// agreed by every member. False, with the reason in `invalid`, when it never came.
pub(super) async fn cluster_up(ctx: &Ctx, started: Instant, invalid: &mut Vec<String>) -> Result<bool, Error> {
    let backend = &ctx.backend;
    if backend.attached() {
        let names: Vec<String> = backend.members().iter().map(|m| format!("{} {}", m.name, m.client_url)).collect();
        ctx.sink.emit(EventKind::Note {
            message: format!("attached to running members {} (their etcd settings are their owner's; the scenario's are not applied)", names.join(", ")),
        });
    } else {
        for (member, pid) in backend.start_all()? {
            ctx.sink.emit(EventKind::MemberStart { member, pid: Some(pid) });
        }
    }
    let ready = {
        let eps = backend.endpoints();
        tokio::select! {
            r = ctx.client_rt.spawn(async move { observer::wait_for_leader(&eps, READY_TIMEOUT).await }) => r.map_err(Error::harness)?,
            _ = ctx.cancel.cancelled() => Err("interrupted while waiting for a leader".into()),
        }
    };
    match ready {
        Ok(view) => {
            ctx.sink.note(format!(
                "cluster healthy {:.2} s after start: leader {} at term {}",
                started.elapsed().as_secs_f64(),
                view.leader.as_deref().unwrap_or("?"),
                view.term
            ));
            Ok(true)
        }
        Err(msg) => {
            invalid.push(format!("the cluster never became healthy: {msg}{}", log_tails(backend.as_ref())));
            Ok(false)
        }
    }
}

/// Each member's state and last log lines, for a cluster that never became healthy.
fn log_tails(backend: &dyn Backend) -> String {
    let mut tails = String::new();
    for m in backend.members() {
        tails.push_str(&format!("\n--- {} ({:?}), last log lines:\n{}", m.name, backend.state(&m.name), backend.log_tail(&m.name, 8)));
    }
    tails
}
