//! The fault kinds, one file each: its parameters (parsed and checked), how it is injected
//! and proven, and how it heals. The mechanisms they use live beside them in
//! [`net`](super::net), [`disk`](super::disk), [`cpu`](super::cpu) and
//! [`process`](super::process); the one list of kinds is [`registry`](super::registry).

pub mod bandwidth;
pub mod corrupt;
pub mod cpu_limit;
pub mod cpu_stress;
pub mod fsync_lie;
pub mod io_error;
pub mod io_latency;
pub mod io_mistake;
pub mod io_rule;
pub mod kill;
pub mod latency;
pub mod mem_stress;
pub mod partition;
pub mod pause;
pub mod stop;
