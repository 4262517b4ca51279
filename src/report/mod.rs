//! Reports are sinks of a finished (or running) run: [`summary`] computes `summary.json`
//! from the history, events and checks; [`table`] renders it for the terminal;
//! [`html`] draws `report.html`; [`progress`] is the live bar while the workload runs; [`junit`] is JUnit XML for CI. None of them touch the cluster.

pub mod corruption;
pub mod html;
pub mod junit;
pub mod progress;
pub mod summary;
pub mod table;

pub use progress::{stdout_is_terminal, Progress};
pub use summary::{build, harness_usage, write, HarnessUsage, Summary, SummaryInput};
pub use table::render;
