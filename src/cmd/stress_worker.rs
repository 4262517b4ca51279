//! The hidden `faultline stress-worker`: the CPU burner or memory holder a cpu-stress /
//! mem-stress fault starts inside a member's cgroup. It never returns.

use crate::cli::StressWorkerArgs;
use crate::error::{Error, Exit};

/// Become the worker.
pub fn run(args: StressWorkerArgs) -> Result<Exit, Error> {
    crate::fault::cpu::worker_main(args.cpu_load, args.mem_bytes)
}
