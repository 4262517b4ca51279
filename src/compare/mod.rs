//! The library half of `faultline compare`: one scenario run N times under each of two
//! variants (an etcd upgrade, a tuning knob) with the same seeds, and the figures of the
//! runs side by side.
//!
//! The pure parts never touch a cluster and are unit-tested with figures of their own:
//! [`variant`] parses a variant ([`Variant::parse`]) and applies it to a scenario
//! ([`Variant::apply`]); [`figures`](mod@figures) reads a run's figures ([`figures()`]) and aggregates them
//! ([`aggregate`], [`Stats`], [`Row`]); [`comparison`] is what a comparison found, as the
//! terminal table, `compare.json` and `compare.html`. [`runs`] is the running half: it
//! alternates the runs of a and b through [`crate::runner::run`] and hands the summaries to
//! the pure parts. The command (`src/cmd/compare.rs`) parses the flags and prints.
//!
//! Honesty rule: the table says whether the runs *separate* the variants (the ranges
//! `[min, max]` of a and of b do not overlap) or *overlap*. With a handful of runs that is
//! all the data can say; no p-value is made up.

pub mod comparison;
pub mod figures;
pub mod runs;
pub mod variant;

pub use comparison::{dot_plot, num, write_files, Comparison, VariantInfo};
pub use figures::{aggregate, exit_of, figures, label_of, verdicts, Row, RunRecord, Separation, Stats, METRICS};
pub use runs::{compare, dir_for, seeds, CompareOptions};
pub use variant::{unused_setting, Setting, Variant, KEYS};
