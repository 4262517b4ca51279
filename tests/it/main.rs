//! Integration tests: one binary, a module per area (ripgrep's layout). The real-cluster
//! tests need root (CI is root); without root they fail with a message saying so, since a
//! silent skip would hide that nothing was tested.

mod bench;
mod checker;
mod cli;
mod cluster;
mod compare;
mod disk;
mod docker;
mod image;
mod net;
mod props;
mod quota;
mod records;
mod report;
mod util;
mod watch;
