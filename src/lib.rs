//! faultline: a chaos and fault-injection harness for etcd clusters.
//!
//! See `ARCHITECTURE.md` for where each part lives and how data flows: scenario →
//! schedule → runner (cluster, fault, workload, observer) → history and events →
//! checks → report. The modules below follow that order.
#![warn(missing_docs)]

// The command line: clap definitions, and one file per subcommand.
pub mod cli;
pub mod cmd;

// What to run: the scenario file resolved (in its units), the fault schedule drawn from the seed.
pub mod scenario;
pub mod schedule;
pub mod units;

// Running it: the run's control flow, the members, the faults, the etcd operations, the
// workload and its clients, the observer.
pub mod client;
pub mod cluster;
pub mod fault;
pub mod observer;
pub mod ops;
pub mod runner;
pub mod workload;

// What a run records: history.jsonl, events.jsonl, watch.jsonl (JSON Lines), and the
// history split at snapshot-restores.
pub mod epochs;
pub mod etcd_api;
pub mod events;
pub mod history;
pub mod jsonl;
pub mod watchlog;

// Judging it: linearizability (the checker, and history files checked), the members'
// agreement, the gates.
pub mod check;
pub mod checker;
pub mod consistency;
pub mod gates;

// Reporting it: summary, table, pages, JUnit; several runs compared; a run replayed
// against its original; a failing seed hunted and shrunk to its cause.
pub mod chaos_mesh;
pub mod compare;
pub mod hunt;
pub mod replay;
pub mod shrink;
pub mod report;

// This machine: what it can do, what runs left on it, its system tools.
pub mod host;

// Shared by all: errors and exit codes, run-directory names, HTML text.
pub mod error;
pub mod markup;
pub mod overrides;
pub mod rundir;
