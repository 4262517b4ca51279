//! Crash points (issue 19): a one-shot "kill the member at the n-th call of this system call on
//! this path", armed in the layer, fired from the FUSE thread serving that call. `before`: the
//! member is sent SIGKILL and the call is failed without being carried out (the caller is
//! blocked in the call until the layer answers, so it dies there and never sees the answer);
//! `after`: the call is carried out, then SIGKILL, then the answer. From the kill on, the
//! layer is *fenced*: every call that would change the directory or a file is refused with EIO
//! without being carried out (the member's other threads die with it), until it is disarmed.
//! With a [`PowerLoss`], the unsynced writes are dropped (or torn) at that same instant.

use super::fs::Shared;
use super::power::{Forget, LossReport, PowerLoss};
use super::rules::compile_glob;
use super::IoOp;
use crate::error::suggest;
use globset::GlobMatcher;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

/// The calls a crash point can fire at.
pub const CRASH_CALLS: [IoOp; 7] = [IoOp::Write, IoOp::Fsync, IoOp::Rename, IoOp::Create, IoOp::Unlink, IoOp::Fallocate, IoOp::Fsyncdir];

/// Parse a crash point's call: one of [`CRASH_CALLS`] (`fdatasync` is `fsync`).
pub fn parse_crash_call(s: &str) -> Result<IoOp, String> {
    let names: Vec<&str> = CRASH_CALLS.iter().map(|o| o.name()).collect();
    let refuse = || {
        format!(
            "a crash point cannot fire at the call `{s}`{}; the calls are: {} (fsync also counts fdatasync)",
            suggest(&s.trim().to_ascii_lowercase(), &names),
            names.join(", ")
        )
    };
    match IoOp::parse(s) {
        Ok(op) if CRASH_CALLS.contains(&op) => Ok(op),
        _ => Err(refuse()),
    }
}

/// When a crash point kills, relative to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// The call is not carried out.
    Before,
    /// The call is carried out, the member killed before it gets the answer.
    After,
}

impl Timing {
    /// `before` or `after`.
    pub fn name(self) -> &'static str {
        match self {
            Timing::Before => "before",
            Timing::After => "after",
        }
    }

    /// Parse `before` or `after`.
    pub fn parse(s: &str) -> Result<Timing, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "before" => Ok(Timing::Before),
            "after" => Ok(Timing::After),
            _ => Err(format!("`timing: {s}` is neither `before` (the call is not carried out) nor `after` (carried out, then the kill)")),
        }
    }
}

/// A crash point to arm.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashPoint {
    /// The call (one of [`CRASH_CALLS`]).
    pub call: IoOp,
    /// A glob relative to the data directory, as rules take it (`None`: any path). For
    /// rename, the source path; for create, the new file's.
    pub path: Option<String>,
    /// Which matching call fires it, counted from arming (1 = the first).
    pub nth: u64,
    /// Before or after the call.
    pub timing: Timing,
    /// The process to SIGKILL.
    pub pid: u32,
    /// Drop (or tear) the unsynced writes at the same instant.
    pub loss: Option<PowerLoss>,
}

/// What a crash point did when it fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// The call.
    pub call: IoOp,
    /// Its path, relative to the data directory.
    pub path: String,
    /// Its number among the matching calls (= nth).
    pub n: u64,
    /// Before or after.
    pub timing: Timing,
    /// When.
    pub at: SystemTime,
    /// The process killed.
    pub pid: u32,
    /// `Err` with the reason when kill(2) failed.
    pub kill: Result<(), String>,
    /// What the power loss did, when it had one.
    pub loss: Option<LossReport>,
}

impl Fired {
    /// In words, for a proof.
    pub fn describe(&self) -> String {
        let at = self.at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let mut s = format!("SIGKILL to pid {} {} call {} ({} of {}) at unix time {at:.6}", self.pid, self.timing.name(), self.n, self.call, self.path);
        if let Err(e) = &self.kill {
            s.push_str(&format!(" — the kill failed: {e}"));
        }
        if let Some(l) = &self.loss {
            s.push_str(&format!("; power lost: {}", l.describe()));
        }
        s
    }
}

/// A crash point's state: still armed (and how many matching calls it saw), or fired.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashStatus {
    /// Armed and not fired.
    pub armed: bool,
    /// Matching calls seen since arming.
    pub seen: u64,
    /// What it did, once fired.
    pub fired: Option<Fired>,
}

/// The crash point in the layer.
#[derive(Default)]
pub(crate) struct CrashState {
    point: Option<(CrashPoint, Option<GlobMatcher>)>,
    seen: u64,
    fired: Option<Fired>,
    /// What the kernel must forget after the loss (done from outside the request threads).
    pub(crate) forget: Option<Forget>,
}

/// A crash point due on the call at hand.
pub(crate) struct Due {
    timing: Timing,
    n: u64,
    path: String,
    call: IoOp,
}

impl Due {
    /// Whether the call is carried out before the kill.
    pub(crate) fn after(&self) -> bool {
        self.timing == Timing::After
    }
}

impl Shared {
    /// Arm `point` (replacing any other; counting starts now).
    pub(crate) fn arm_crash(&self, point: CrashPoint) -> Result<(), String> {
        let glob = point.path.as_deref().map(compile_glob).transpose()?;
        let mut s = self.crash.lock().unwrap_or_else(|p| p.into_inner());
        *s = CrashState { point: Some((point, glob)), ..CrashState::default() };
        self.fenced.store(false, Ordering::SeqCst);
        self.crash_armed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Disarm: the point's status; the fence is lifted. The kernel's entries to forget are
    /// handed back.
    pub(crate) fn disarm_crash(&self) -> (Option<CrashStatus>, Option<Forget>) {
        self.crash_armed.store(false, Ordering::SeqCst);
        let mut s = self.crash.lock().unwrap_or_else(|p| p.into_inner());
        let status = s.point.as_ref().map(|_| CrashStatus { armed: s.fired.is_none(), seen: s.seen, fired: s.fired.clone() });
        let forget = s.forget.take();
        *s = CrashState::default();
        self.fenced.store(false, Ordering::SeqCst);
        (status, forget)
    }

    /// The status without disarming.
    pub(crate) fn crash_status(&self) -> Option<CrashStatus> {
        let s = self.crash.lock().unwrap_or_else(|p| p.into_inner());
        s.point.as_ref().map(|_| CrashStatus { armed: s.fired.is_none(), seen: s.seen, fired: s.fired.clone() })
    }

    /// Whether the layer refuses changes (a crash point fired).
    pub(crate) fn fenced(&self) -> bool {
        self.fenced.load(Ordering::Relaxed)
    }

    /// Count a call against the armed point; `Some` when this call fires it. `path` is asked only when a point is armed for this call.
    pub(crate) fn crash_due(&self, call: IoOp, path: impl FnOnce() -> Option<String>) -> Option<Due> {
        if !self.crash_armed.load(Ordering::Relaxed) {
            return None;
        }
        let mut s = self.crash.lock().unwrap_or_else(|p| p.into_inner());
        let (point, glob) = s.point.as_ref()?;
        if point.call != call || s.fired.is_some() {
            return None;
        }
        let p = path();
        if let Some(g) = glob {
            match &p {
                Some(x) if g.is_match(x) => {}
                _ => return None,
            }
        }
        let (nth, timing) = (point.nth, point.timing);
        s.seen += 1;
        if s.seen < nth {
            return None;
        }
        self.crash_armed.store(false, Ordering::SeqCst);
        Some(Due { timing, n: s.seen, path: p.unwrap_or_else(|| "?".into()), call })
    }

    /// Fire a due point: SIGKILL, then the power loss, recorded.
    pub(crate) fn fire(&self, due: Due) {
        let mut s = self.crash.lock().unwrap_or_else(|p| p.into_inner());
        let Some((point, _)) = s.point.as_ref() else { return };
        let (pid, loss) = (point.pid, point.loss.clone());
        let at = SystemTime::now();
        // SAFETY: kill(2) with a pid and a signal number.
        let kill = if unsafe { libc::kill(pid as i32, libc::SIGKILL) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error().to_string()) };
        // Fenced from the kill on (not before: calls of other threads until then are carried
        // out, as they would be; after it, a refused call's thread dies before it sees EIO).
        self.fenced.store(true, Ordering::SeqCst);
        let loss = loss.map(|l| {
            let (r, f) = self.lose_power(&l);
            s.forget = Some(f);
            r
        });
        s.fired = Some(Fired { call: due.call, path: due.path, n: due.n, timing: due.timing, at, pid, kill, loss });
    }
}
