//! The pause gate: how the runner holds the workload still while it does something the
//! workload must not overlap (a `snapshot-restore` stops and replaces every member).
//!
//! A client slot passes the gate just before it invokes an operation and leaves it when the
//! operation has completed; [`PauseGate::pause`] closes the gate and waits until every
//! operation in flight has completed (each is bounded by `op_timeout`), so that no operation
//! is invoked — or still running — between the end of `pause` and [`PauseGate::resume`].
//! The history then splits cleanly at the pause.

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, Default)]
struct GateState {
    paused: bool,
    in_flight: u64,
}

/// Shared by the runner (which pauses and resumes) and the workload's slots (which pass).
#[derive(Debug)]
pub struct PauseGate {
    state: watch::Sender<GateState>,
}

impl Default for PauseGate {
    fn default() -> Self {
        Self { state: watch::Sender::new(GateState::default()) }
    }
}

/// An operation in flight; dropping it (when the operation completed) lets a pause proceed.
#[derive(Debug)]
pub struct InFlight<'a> {
    gate: &'a PauseGate,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.gate.state.send_modify(|s| s.in_flight = s.in_flight.saturating_sub(1));
    }
}

impl PauseGate {
    /// Wait until the gate is open, then count one operation in flight until the returned
    /// guard is dropped. Checking and counting happen under one lock, so a pause never
    /// misses an operation that got through.
    pub async fn pass(&self) -> InFlight<'_> {
        let mut rx = self.state.subscribe();
        loop {
            let passed = self.state.send_if_modified(|s| {
                if s.paused {
                    false
                } else {
                    s.in_flight += 1;
                    true
                }
            });
            if passed {
                return InFlight { gate: self };
            }
            // Closed: wait for a resume (the sender lives in `self`, so this cannot end early).
            let _ = rx.wait_for(|s| !s.paused).await;
        }
    }

    /// Close the gate and wait until no operation is in flight.
    pub async fn pause(&self) {
        self.state.send_modify(|s| s.paused = true);
        let mut rx = self.state.subscribe();
        let _ = rx.wait_for(|s| s.in_flight == 0).await;
    }

    /// Open the gate again.
    pub fn resume(&self) {
        self.state.send_modify(|s| s.paused = false);
    }

    /// Whether the gate is closed.
    pub fn is_paused(&self) -> bool {
        self.state.borrow().paused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_pause_waits_for_operations_in_flight_and_holds_new_ones() {
        let gate = Arc::new(PauseGate::default());
        let g = gate.clone();
        // An operation in flight for 100 ms.
        let op = tokio::spawn(async move {
            let _in = g.pass().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let t = tokio::time::Instant::now();
        gate.pause().await;
        assert!(t.elapsed() >= Duration::from_millis(80), "the pause returned before the operation completed");
        assert!(op.is_finished() || op.await.is_ok());
        // A new operation waits at the gate until the resume.
        let g = gate.clone();
        let next = tokio::spawn(async move {
            let _in = g.pass().await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!next.is_finished(), "an operation passed a closed gate");
        gate.resume();
        tokio::time::timeout(Duration::from_secs(1), next).await.expect("passes after resume").unwrap();
        assert!(!gate.is_paused());
    }
}
