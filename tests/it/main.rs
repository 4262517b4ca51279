//! Integration tests: one binary, a module per area (ripgrep's layout). The real-cluster
//! tests need root (CI is root); without root they fail with a message saying so, since a
//! silent skip would hide that nothing was tested.
//!
//! The same holds for a tool a test needs (a Docker engine, Docker Compose, the
//! `faultline/etcd` image, Chromium): when the environment variable `CI` is set (CI runs with
//! `CI=true`), a missing tool makes the test **fail** with a message saying what is missing
//! and how to install or start it; without `CI` the test may skip, saying so on stderr
//! (`SKIPPED <test>: ...`). Every such test asks through `util::require` (or the probes
//! beside it: `util::docker`, `util::compose`, `util::chromium`); an image the tests need is
//! built from the local etcd (`util::etcd_image`), never a reason to skip. To see what a test
//! does where a tool is missing, name it in `FAULTLINE_TEST_PRETEND_MISSING` (e.g.
//! `docker,chromium`); only the tests read that variable.

mod bench;
mod chaos_mesh;
mod checker;
mod cli;
mod cluster;
mod compare;
mod corrupt;
mod disk;
mod disk_crash;
mod docker;
mod etcd_api;
mod etcd_props;
mod formats;
mod hunt;
mod image;
mod net;
mod props;
mod quota;
mod records;
mod report;
mod triggers;
mod util;
mod versions;
mod watch;
