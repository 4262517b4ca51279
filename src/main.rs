//! The `faultline` binary: parse the command line, call the library, map every outcome to
//! one of the exit codes of design.md §4. Errors print as one paragraph, never a backtrace.

use clap::Parser;
use faultline::cli::{Cli, Command, ImageCommand};
use faultline::error::{Error, Exit};
use faultline::runner::{self, RunOptions};
use faultline::{clean, doctor, explain, report, scenario};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::BadInput.code() } else { 0 });
        }
    };
    // A bug in faultline must not print a backtrace at the user, and the unwinding still
    // tears down any cluster (backends clean up on drop).
    std::panic::set_hook(Box::new(|info| {
        let loc = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let msg = info.payload().downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| info.payload().downcast_ref::<String>().cloned()).unwrap_or_default();
        eprintln!("faultline: internal error{loc}: {msg}. This is a bug in faultline; please report it with the run directory. If a run was interrupted by it, `faultline clean` removes what it left.");
        if std::env::var_os("FAULTLINE_BACKTRACE").is_some() {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
    let exit = match std::panic::catch_unwind(|| dispatch(cli.command)) {
        Ok(Ok(exit)) => exit,
        Ok(Err(e)) => {
            eprintln!("faultline: {e}");
            e.exit()
        }
        Err(_) => Exit::Harness,
    };
    ExitCode::from(exit.code())
}

fn dispatch(cmd: Command) -> Result<Exit, Error> {
    match cmd {
        Command::Run { scenarios, backend, seed, out, quiet } => {
            // Parse every scenario before running any.
            let parsed = scenarios.iter().map(|p| scenario::load(p)).collect::<Result<Vec<_>, _>>()?;
            let cancel = CancellationToken::new();
            install_ctrl_c(cancel.clone());
            let mut exit = Exit::Pass;
            let several = parsed.len() > 1;
            for s in parsed {
                let opts = RunOptions {
                    backend: backend.map(Into::into),
                    seed,
                    out: match (&out, several) {
                        (Some(o), true) => Some(o.join(&s.name)),
                        (o, _) => o.clone(),
                    },
                    reports_dir: PathBuf::from("reports"),
                    quiet,
                };
                match runner::run(s, &opts, cancel.clone()) {
                    Ok(outcome) => {
                        if !quiet {
                            println!("{}", report::table::render(&outcome.summary));
                        }
                        exit = exit.worst(outcome.exit);
                    }
                    Err(e) => {
                        eprintln!("faultline: {e}");
                        exit = exit.worst(e.exit());
                    }
                }
                if cancel.is_cancelled() {
                    break;
                }
            }
            Ok(exit)
        }
        Command::Compare { scenario, a, b, runs, seed, out, backend } => {
            use faultline::compare::{self, CompareOptions, Variant};
            let opts = CompareOptions {
                a: Variant::parse("a", &a)?,
                b: Variant::parse("b", &b)?,
                runs,
                seed,
                backend: backend.map(Into::into),
                out,
                reports_dir: PathBuf::from("reports"),
            };
            let cancel = CancellationToken::new();
            install_ctrl_c(cancel.clone());
            let (c, dir) = compare::compare(scenario::load(&scenario)?, &opts, cancel)?;
            println!("{}", c.render());
            println!("runs, compare.json and compare.html in {}", dir.display());
            Ok(c.exit())
        }
        Command::Validate { scenarios, seed } => {
            let mut exit = Exit::Pass;
            for p in &scenarios {
                match scenario::load(p) {
                    Ok(s) => {
                        let given = seed.or(s.seed);
                        println!("{}: ok", p.display());
                        print!("{}", explain::explain(&s, given.unwrap_or(0), given.is_some()));
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        exit = exit.worst(e.exit());
                    }
                }
            }
            Ok(exit)
        }
        Command::Check { histories, model, format, timeout, json, html } => {
            use faultline::check::{self, ModelName};
            let model = match model.as_deref() {
                Some("kv") => Some(ModelName::Kv),
                Some(_) => Some(ModelName::Register),
                None => None,
            };
            let format = faultline::checker::input::Format::parse(&format).map_err(Error::BadInput)?;
            let timeout = scenario::units::Span::parse(&timeout).map_err(|m| Error::BadInput(format!("--timeout: {m}")))?.0;
            let mut done = Vec::new();
            let mut bad = false;
            let mut pages = 0;
            for h in &histories {
                match check::check_file(h, model, format, timeout) {
                    Ok(c) => {
                        println!("{}", if json { check::json_line(&c) } else { check::text(&c) });
                        if let (Some(page), Some(f)) = (&html, &c.result.failure) {
                            pages += 1;
                            let path = check::html_path(page, pages);
                            let title = format!("faultline check {}", c.file.display());
                            match std::fs::write(&path, faultline::checker::html::render(f, &title)) {
                                Ok(()) => eprintln!("wrote {}", path.display()),
                                Err(e) => {
                                    eprintln!("faultline: cannot write --html {}: {e}", path.display());
                                    bad = true;
                                }
                            }
                        }
                        done.push(c);
                    }
                    Err(e) => {
                        eprintln!("faultline: {e}");
                        bad = true;
                    }
                }
            }
            Ok(if bad { Exit::BadInput } else { check::exit_for(&done) })
        }
        Command::StressWorker { cpu_load, mem_bytes } => faultline::fault::cpu::worker_main(cpu_load, mem_bytes),
        Command::Doctor => {
            let checks = doctor::checks();
            println!("{}", doctor::render(&checks));
            println!("fault kinds and how faultline carries them out (docs/faults.md):");
            for (kind, how) in faultline::fault::ALL {
                println!("  {kind:<11} {how}");
            }
            Ok(Exit::Pass)
        }
        Command::Clean { run, force, images } => {
            if !faultline::sys::is_root() {
                return Err(Error::Environment(
                    "faultline clean needs root to remove namespaces, processes and cgroups: run it as root (sudo faultline clean).".into(),
                ));
            }
            let c = clean::clean(run.as_deref(), force);
            for r in &c.removed {
                if r.starts_with("healed ") {
                    println!("{r}");
                } else {
                    println!("removed {r}");
                }
            }
            for s in &c.skipped {
                println!("left alone {s}");
            }
            for f in &c.failed {
                eprintln!("could not remove {f}");
            }
            let removed_images = if images { block_on(faultline::image::remove_all())? } else { Vec::new() };
            for r in &removed_images {
                println!("removed {r}");
            }
            if c.removed.is_empty() && c.failed.is_empty() && removed_images.is_empty() {
                println!(
                    "nothing to clean: no faultline namespaces, processes, cgroups or run state left behind{}",
                    if images { ", and no faultline images" } else { "" }
                );
            }
            Ok(if c.failed.is_empty() { Exit::Pass } else { Exit::Harness })
        }
        Command::Image { action: ImageCommand::Build { etcd, tag, no_cache } } => {
            let etcd = match etcd {
                Some(p) => faultline::sys::which(&p.display().to_string()).unwrap_or(p),
                None => faultline::sys::which("etcd").ok_or_else(|| {
                    Error::Environment("etcd is not on PATH: install it (apt-get install etcd-server) or pass the binary with --etcd PATH.".into())
                })?,
            };
            block_on(faultline::image::build_opts(&etcd, tag.as_deref(), no_cache))?;
            Ok(Exit::Pass)
        }
    }
}

/// Run one async library call (the Docker engine's API) to completion.
fn block_on<T>(f: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::harness(format!("failed to start the runtime: {e}")))?.block_on(f)
}

/// First Ctrl-C: cancel the run (it heals, stops members and writes an interrupted summary).
/// Second Ctrl-C: leave at once (`faultline clean` removes what is left).
fn install_ctrl_c(cancel: CancellationToken) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nfaultline: interrupted: healing faults and stopping the cluster (Ctrl-C again to leave at once; then run `faultline clean`)");
                cancel.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("faultline: leaving now; run `faultline clean` to remove what this run left behind");
                std::process::exit(130);
            }
        });
    });
}
