//! `kill`: SIGKILL (Docker: the engine's kill), the member restarted on the same data when
//! the fault heals. With `lose_unsynced: true`, what the member wrote but did not fsync is
//! thrown away from the disk layer's cache before it restarts, as a power loss would.

use crate::error::Error;
use crate::fault::api::{params_of, Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::disk::DurabilityMode;
use crate::fault::process::{self, ProcessFault};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The registry entry.
pub const KIND: Kind =
    Kind { name: "kill", mechanism: "SIGKILL (Docker: the engine's kill), restart on the same data dir", params: &["lose_unsynced"], parse, draw: Some(draw) };

/// A kill's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kill {
    /// Throw away what the member wrote but did not fsync (the disk layer's cache), as a
    /// power loss would, before it restarts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lose_unsynced: bool,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    Ok(FaultKind::new(Kill { lose_unsynced: p.or("lose_unsynced", false)? }))
}

fn draw(_: &mut ChaCha8Rng, _: usize) -> FaultKind {
    FaultKind::new(Kill { lose_unsynced: false })
}

impl Fault for Kill {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        if self.lose_unsynced {
            "kill (losing unsynced writes)".into()
        } else {
            "kill".into()
        }
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Process
    }
    fn disk_layer(&self) -> Option<DurabilityMode> {
        self.lose_unsynced.then_some(DurabilityMode::LoseUnsynced)
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let mut applied = process::inject(cx, ProcessFault::Kill)?;
        if self.lose_unsynced {
            // The member is dead: what it wrote but did not fsync goes, as in a power loss.
            let mut said = Vec::new();
            for t in &cx.targets {
                let d = cx.layer(t)?.drop_unsynced();
                said.push(format!("{t}: dropped {} unsynced byte(s) in {} write(s) to {} file(s)", d.bytes, d.writes, d.files));
            }
            applied.proof = format!("{}; {}", applied.proof, said.join("; "));
            applied = applied.param("lose_unsynced", true);
        }
        Ok(applied)
    }
}
