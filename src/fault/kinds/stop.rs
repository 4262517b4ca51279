//! `stop`: SIGTERM (SIGKILL after 15 s), the member restarted on the same data when the
//! fault heals.

use crate::error::Error;
use crate::fault::api::{draw_default, no_params, Applied, Cx, Fault, Home, Kind};
use crate::fault::process::{self, ProcessFault};

/// The registry entry.
pub const KIND: Kind =
    Kind { name: "stop", mechanism: "SIGTERM, restart on the same data dir", params: &[], parse: no_params::<Stop>, draw: Some(draw_default::<Stop>) };

/// A stop (no parameters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stop;

impl Fault for Stop {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn home(&self) -> Home {
        Home::Process
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        process::inject(cx, ProcessFault::Stop)
    }
}
