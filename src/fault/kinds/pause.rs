//! `pause`: SIGSTOP (Docker: the engine's pause, the cgroup freezer), SIGCONT when the fault
//! heals.

use crate::error::Error;
use crate::fault::api::{Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::process::{self, ProcessFault};
use rand_chacha::ChaCha8Rng;

/// The registry entry.
pub const KIND: Kind =
    Kind { name: "pause", mechanism: "SIGSTOP / SIGCONT (Docker: the engine's pause, cgroup freezer)", params: &[], parse, draw: Some(draw) };

/// A pause (no parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct Pause;

fn parse(_: &Params) -> Result<FaultKind, ParamError> {
    Ok(FaultKind::new(Pause))
}

fn draw(_: &mut ChaCha8Rng, _: usize) -> FaultKind {
    FaultKind::new(Pause)
}

impl Fault for Pause {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
    fn home(&self) -> Home {
        Home::Process
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        process::inject(cx, ProcessFault::Pause)
    }
}
