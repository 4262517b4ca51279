//! The subcommands, one file each. A command turns its flags into what the library needs,
//! calls the library, prints what it found, and returns the [`Exit`]; no library logic
//! lives here, and nothing outside `cmd/` prints a command's results.

mod check;
mod clean;
mod compare;
mod doctor;
mod export;
mod hunt;
mod image;
mod import;
mod replay;
mod report;
mod run;
mod shrink;
mod stress_worker;
mod validate;

use crate::cli::Command;
use crate::error::{Error, Exit};
use tokio_util::sync::CancellationToken;

/// Carry out one subcommand.
pub fn run(cmd: Command) -> Result<Exit, Error> {
    match cmd {
        Command::Run(args) => run::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Shrink(args) => shrink::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Check(args) => check::run(args),
        Command::Report(args) => report::run(args),
        Command::Doctor => doctor::run(),
        Command::Clean(args) => clean::run(args),
        Command::StressWorker(args) => stress_worker::run(args),
        Command::Image(args) => image::run(args),
        Command::Import(cmd) => import::run(cmd),
        Command::Export(cmd) => export::run(cmd),
    }
}

/// Run one async library call (the Docker engine's API) to completion.
fn block_on<T>(f: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::harness(format!("failed to start the runtime: {e}")))?.block_on(f)
}

/// A token that the first Ctrl-C cancels (the run heals, stops members and writes an
/// interrupted summary). A second Ctrl-C leaves at once (`faultline clean` removes what is
/// left).
fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nfaultline: interrupted: healing faults and stopping the cluster (Ctrl-C again to leave at once; then run `faultline clean`)");
                token.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("faultline: leaving now; run `faultline clean` to remove what this run left behind");
                std::process::exit(130);
            }
        });
    });
    cancel
}
