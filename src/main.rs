//! The `faultline` binary: parse the command line, carry out the subcommand ([`cmd::run`]),
//! map the outcome to one of the documented exit codes ([`Exit`]). Errors print as one
//! paragraph, never a backtrace, with control characters shown, not obeyed
//! ([`faultline::markup::terminal`]).

use clap::Parser;
use faultline::cli::Cli;
use faultline::cmd;
use faultline::error::Exit;
use faultline::markup::terminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::BadInput.code() } else { 0 });
        }
    };
    std::panic::set_hook(Box::new(report_panic));
    let exit = match std::panic::catch_unwind(|| cmd::run(cli.command)) {
        Ok(Ok(exit)) => exit,
        Ok(Err(e)) => {
            eprintln!("faultline: {}", terminal(&e.to_string()));
            e.exit()
        }
        Err(_) => Exit::Harness,
    };
    ExitCode::from(exit.code())
}

/// A bug in faultline must not print a backtrace at the user (unless FAULTLINE_BACKTRACE is
/// set), and the unwinding still tears down any cluster (backends clean up on drop).
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let loc = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
    let msg = info.payload().downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| info.payload().downcast_ref::<String>().cloned()).unwrap_or_default();
    let msg = terminal(&msg);
    eprintln!("faultline: internal error{loc}: {msg}. This is a bug in faultline; please report it with the run directory. If a run was interrupted by it, `faultline clean` removes what it left.");
    if std::env::var_os("FAULTLINE_BACKTRACE").is_some() {
        eprintln!("{}", std::backtrace::Backtrace::force_capture());
    }
}
