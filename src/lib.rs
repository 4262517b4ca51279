//! faultline: a chaos and fault-injection harness for etcd clusters.
//!
//! See `ARCHITECTURE.md` for where each part lives and how data flows: scenario →
//! schedule → runner (cluster, fault, workload, observer) → history and events →
//! checks → report.
#![warn(missing_docs)]

pub mod check;
pub mod checker;
pub mod clean;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod compare;
pub mod consistency;
pub mod doctor;
pub mod epochs;
pub mod error;
pub mod events;

pub mod fault;
pub mod gates;
pub mod history;
pub mod image;
pub mod jsonl;
pub mod markup;
pub mod observer;
pub mod ops;
pub mod replay;
pub mod report;
pub mod rundir;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod sys;
pub mod watchlog;
pub mod workload;
