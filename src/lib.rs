//! faultline: a chaos and fault-injection harness for etcd clusters.
//!
//! See `ARCHITECTURE.md` for where each part lives and how data flows.
#![warn(missing_docs)]

pub mod error;
pub mod scenario;
pub mod events;
pub mod history;
pub mod consistency;
pub mod client;
pub mod gates;
pub mod observer;
pub mod report;
pub mod workload;
