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
        Ok(Healed { proof, events })
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
fn signal(backend: &dyn Backend, fault: ProcessFault, targets: &[String]) -> Result<(String, Vec<EventKind>), Error> {
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
