//! `pause`: SIGSTOP (Docker: the engine's pause, the cgroup freezer), SIGCONT when the fault
//! heals.

use crate::error::Error;
use crate::fault::api::{draw_default, no_params, Applied, Cx, Fault, Home, Kind};
use crate::fault::process::{self, ProcessFault};

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "pause",
    mechanism: "SIGSTOP / SIGCONT (Docker: the engine's pause, cgroup freezer)",
    params: &[],
    parse: no_params::<Pause>,
    draw: Some(draw_default::<Pause>),
};

/// A pause (no parameters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pause;

impl Fault for Pause {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn home(&self) -> Home {
        Home::Process
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        process::inject(cx, ProcessFault::Pause)
    }
}
