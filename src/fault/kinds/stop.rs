//! `stop`: SIGTERM (SIGKILL after 15 s), the member restarted on the same data when the
//! fault heals.

use crate::error::Error;
use crate::fault::api::{Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::process::{self, ProcessFault};
use rand_chacha::ChaCha8Rng;

/// The registry entry.
pub const KIND: Kind = Kind { name: "stop", mechanism: "SIGTERM, restart on the same data dir", params: &[], parse, draw: Some(draw) };

/// A stop (no parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct Stop;

fn parse(_: &Params) -> Result<FaultKind, ParamError> {
    Ok(FaultKind::new(Stop))
}

fn draw(_: &mut ChaCha8Rng, _: usize) -> FaultKind {
    FaultKind::new(Stop)
}

impl Fault for Stop {
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
        process::inject(cx, ProcessFault::Stop)
    }
}
