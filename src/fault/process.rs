//! The mechanism of the process faults (`kill`, `stop`, `pause` in [`kinds`](super::kinds)):
//! SIGKILL or SIGTERM and a restart on the same data when healed, or SIGSTOP and SIGCONT,
//! through the backend's signal and start verbs, each proven: the process gone, or the
//! process stopped (`T` state).

use super::api::{Active, Applied, Cx, Healed};
use crate::cluster::{Backend, MemberState};
use crate::error::Error;
use crate::events::EventKind;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// Which process fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessFault {
    /// SIGKILL.
    Kill,
    /// SIGTERM.
    Stop,
    /// SIGSTOP.
    Pause,
}

/// A process fault in force on its targets.
#[derive(Debug)]
struct InForce(ProcessFault);

impl Active for InForce {
    fn heal(&mut self, cx: &Cx<'_>) -> Result<Healed, Error> {
        let (proof, events) = heal(cx.backend, self.0, &cx.targets)?;
        Ok(Healed { proof, events, timed: Vec::new() })
    }
}

/// Inject on every target of `cx`, proven.
pub fn inject(cx: &Cx<'_>, fault: ProcessFault) -> Result<Applied, Error> {
    let (proof, events) = signal(cx.backend, fault, &cx.targets)?;
    let mut a = Applied::new(InForce(fault), cx.backend.process_mechanism(), proof);
    a.events = events;
    Ok(a)
}

/// Restart members that are down (killed by other means, e.g. a disk layer's crash point) on
/// their data, as a kill heals; returns the proof and the member events.
pub fn restart(backend: &dyn Backend, targets: &[String]) -> Result<(String, Vec<EventKind>), Error> {
    heal(backend, ProcessFault::Kill, targets)
}

/// Signal every target; returns the proof and the member events.
pub fn signal(backend: &dyn Backend, fault: ProcessFault, targets: &[String]) -> Result<(String, Vec<EventKind>), Error> {
    let mut proofs = Vec::new();
    let mut events = Vec::new();
    for t in targets {
        let pid = backend.member(t)?.pid;
        let Some(pid) = pid.filter(|_| backend.state(t) != MemberState::Down) else {
            return Err(Error::Invalid(format!("{t} was already down when the fault started (overlapping faults)")));
        };
        let start = Instant::now();
        match fault {
            ProcessFault::Kill | ProcessFault::Stop => {
                let (sig, wait) = if fault == ProcessFault::Kill { (Signal::SIGKILL, 5) } else { (Signal::SIGTERM, 15) };
                backend.signal(t, sig)?;
                if backend.state(t) == MemberState::Paused {
                    // A stopped process only acts on SIGTERM once it runs again.
                    let _ = backend.signal(t, Signal::SIGCONT);
                }
                let mut how = backend.signal_verb(sig);
                if !backend.wait_exit(t, Duration::from_secs(wait)) {
                    backend.signal(t, Signal::SIGKILL)?;
                    if !backend.wait_exit(t, Duration::from_secs(5)) {
                        return Err(Error::Invalid(format!("{t} (pid {pid}) did not exit after {sig} and SIGKILL")));
                    }
                    how = format!("{how}, then {} after {wait}s", backend.signal_verb(Signal::SIGKILL));
                }
                proofs.push(format!("{t} (pid {pid}) gone {} ms after {how}", start.elapsed().as_millis()));
                events.push(EventKind::MemberStop { member: t.clone(), how });
            }
            ProcessFault::Pause => {
                backend.signal(t, Signal::SIGSTOP)?;
                wait_for(backend, t, MemberState::Paused, Duration::from_secs(2))
                    .map_err(|s| Error::Invalid(format!("{t} (pid {pid}) is {s:?}, not paused, after {}", backend.signal_verb(Signal::SIGSTOP))))?;
                proofs.push(format!("{t} (pid {pid}) paused {} ms after {}", start.elapsed().as_millis(), backend.signal_verb(Signal::SIGSTOP)));
            }
        }
    }
    Ok((proofs.join("; "), events))
}

/// Undo on every target: restart killed or stopped members on their data, resume paused ones.
fn heal(backend: &dyn Backend, fault: ProcessFault, targets: &[String]) -> Result<(String, Vec<EventKind>), Error> {
    let mut proofs = Vec::new();
    let mut events = Vec::new();
    for t in targets {
        if backend.member(t).is_err() {
            proofs.push(format!("{t} was removed from the cluster meanwhile: nothing to heal"));
            continue;
        }
        match fault {
            ProcessFault::Kill | ProcessFault::Stop => {
                if backend.state(t) != MemberState::Down {
                    proofs.push(format!("{t} was already running again"));
                    continue;
                }
                let pid = backend.start(t)?;
                events.push(EventKind::MemberStart { member: t.clone(), pid: Some(pid) });
                std::thread::sleep(Duration::from_millis(300));
                if backend.state(t) == MemberState::Down {
                    return Err(Error::Invalid(format!(
                        "{t} did not stay up when restarted on its data dir; its last log lines:\n{}",
                        backend.log_tail(t, 15)
                    )));
                }
                proofs.push(format!("{t} restarted on the same data dir as pid {pid}"));
            }
            ProcessFault::Pause => {
                if backend.state(t) == MemberState::Down {
                    proofs.push(format!("{t} is down (another fault), nothing to resume"));
                    continue;
                }
                backend.signal(t, Signal::SIGCONT)?;
                let verb = backend.signal_verb(Signal::SIGCONT);
                wait_for(backend, t, MemberState::Running, Duration::from_secs(2)).map_err(|s| Error::Invalid(format!("{t} is {s:?} after {verb}")))?;
                proofs.push(format!("{t} running again after {verb}"));
            }
        }
    }
    Ok((proofs.join("; "), events))
}

fn wait_for(backend: &dyn Backend, member: &str, want: MemberState, timeout: Duration) -> Result<(), MemberState> {
    let deadline = Instant::now() + timeout;
    loop {
        let s = backend.state(member);
        if s == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(s);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How a member started on its own data came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restarted {
    /// It started and was still running after the watch.
    Up {
        /// Its process id.
        pid: u32,
    },
    /// Its etcd exited during the watch; the line of its log that says why.
    Refused {
        /// The process id it had.
        pid: u32,
        /// etcd's fatal line ([`crate::ops::restart::last_words`]), or that its log says nothing.
        words: String,
        /// How long after the start it was seen gone.
        after: Duration,
        /// When it was seen gone.
        at: Instant,
    },
}

/// Start a member that is down on its data and watch it for `watch`: whether it stays up or
/// its etcd exits (refuses to start), with etcd's own words. The member events (started, and
/// stopped when it exited) are pushed on `events` with when they happened.
pub fn start_watched(backend: &dyn Backend, member: &str, watch: Duration, events: &mut Vec<(Instant, EventKind)>) -> Result<Restarted, Error> {
    let pid = backend.start(member)?;
    let start = Instant::now();
    events.push((start, EventKind::MemberStart { member: member.to_string(), pid: Some(pid) }));
    while start.elapsed() < watch {
        std::thread::sleep(Duration::from_millis(50));
        if backend.state(member) == MemberState::Down {
            let gone = Instant::now();
            let after = gone - start;
            // Its last lines may still be on their way to the log.
            std::thread::sleep(Duration::from_millis(200));
            let words = crate::ops::restart::last_words(&backend.log_tail(member, 80)).unwrap_or_else(|| "its log says nothing about why".to_string());
            events.push((gone, EventKind::MemberStop { member: member.to_string(), how: "exited on start".to_string() }));
            return Ok(Restarted::Refused { pid, words, after, at: gone });
        }
    }
    Ok(Restarted::Up { pid })
}

/// How long a member restarted on data a power loss took from is watched for a refusal.
pub const LOSS_WATCH: Duration = Duration::from_secs(4);

/// Restart `targets`, which a power loss took unsynced data from (a kill with
/// `lose_unsynced`), each watched for [`LOSS_WATCH`]: one whose etcd exits on what the loss
/// left is etcd's own answer to it — said as "n2 refused to start on its data after the power-loss kill:
/// <etcd's words>", recorded as a `corruption-detected` by `etcd-refused-start` (the member
/// stays down, the run stays valid, the others are compared) — not a heal that failed.
pub fn restart_after_loss(backend: &dyn Backend, targets: &[String], fault: usize) -> Result<Healed, Error> {
    let mut proofs = Vec::new();
    let mut timed = Vec::new();
    for t in targets {
        if backend.member(t).is_err() {
            proofs.push(format!("{t} was removed from the cluster meanwhile: nothing to heal"));
            continue;
        }
        if backend.state(t) != MemberState::Down {
            proofs.push(format!("{t} was already running again"));
            continue;
        }
        match start_watched(backend, t, LOSS_WATCH, &mut timed)? {
            Restarted::Up { pid } => {
                proofs.push(format!("{t} restarted on what the power loss left as pid {pid}, still running {} s later", LOSS_WATCH.as_secs()))
            }
            Restarted::Refused { words, after, at, .. } => {
                let said = format!("{t} refused to start on its data after the power-loss kill: {words}");
                timed.push((
                    at,
                    EventKind::CorruptionDetected {
                        member: t.clone(),
                        by: crate::events::CorruptionBy::EtcdRefusedStart,
                        detail: said.clone(),
                        fault: Some(fault),
                    },
                ));
                proofs.push(format!("{said} (exited {:.1} s after its start; it stays down)", after.as_secs_f64()));
            }
        }
    }
    Ok(Healed { proof: proofs.join("; "), events: Vec::new(), timed })
}

/// A kill that took unsynced data: healed by [`restart_after_loss`].
#[derive(Debug)]
pub struct PowerLost;

impl Active for PowerLost {
    fn heal(&mut self, cx: &Cx<'_>) -> Result<Healed, Error> {
        restart_after_loss(cx.backend, &cx.targets, cx.id)
    }
}
