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
        Command::Run { scenarios, backend, seed, out, quiet, junit, json } => {
            // Parse every scenario before running any.
            let parsed = scenarios.iter().map(|p| scenario::load(p)).collect::<Result<Vec<_>, _>>()?;
            let quiet = quiet || json;
            let cancel = CancellationToken::new();
            install_ctrl_c(cancel.clone());
            let mut exit = Exit::Pass;
            let several = parsed.len() > 1;
            // What each scenario came to, for --junit and --json.
            let mut outcomes: Vec<Result<report::Summary, (String, String)>> = Vec::new();
            for s in parsed {
                let name = s.name.clone();
                let opts = RunOptions {
                    backend: backend.map(Into::into),
                    seed,
                    out: match (&out, several) {
                        (Some(o), true) => Some(o.join(&s.name)),
                        (o, _) => o.clone(),
                    },
                    reports_dir: PathBuf::from("reports"),
                    quiet,
                    ..Default::default()
                };
                match runner::run(s, &opts, cancel.clone()) {
                    Ok(outcome) => {
                        if !quiet {
                            println!("{}", report::table::render(&outcome.summary));
                        }
                        exit = exit.worst(outcome.exit);
                        outcomes.push(Ok(outcome.summary));
                    }
                    Err(e) => {
                        eprintln!("faultline: {e}");
                        exit = exit.worst(e.exit());
                        outcomes.push(Err((name, e.to_string())));
                    }
                }
                if cancel.is_cancelled() {
                    break;
                }
            }
            if let Some(path) = junit {
                let cases: Vec<report::junit::Outcome> = outcomes
                    .iter()
                    .map(|o| match o {
                        Ok(s) => report::junit::Outcome::Ran(s),
                        Err((n, m)) => report::junit::Outcome::Failed(n, m.clone()),
                    })
                    .collect();
                std::fs::write(&path, report::junit::render(&cases))
                    .map_err(|e| Error::Environment(format!("cannot write the JUnit file {}: {e}", path.display())))?;
                eprintln!("faultline: wrote JUnit results to {}", path.display());
            }
            if json {
                let all: Vec<serde_json::Value> = outcomes
                    .iter()
                    .map(|o| match o {
                        Ok(s) => serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
                        Err((n, m)) => serde_json::json!({ "scenario": n, "verdict": "error", "error": m }),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            }
            Ok(exit)
        }
        Command::Replay { run_dir, until, out, backend, quiet } => {
            let rec = faultline::replay::load(&run_dir)?;
            for (id, names) in &rec.pinned {
                let written = rec.written.get(id).map(String::as_str).unwrap_or("?");
                if !written.starts_with('n') || written.len() > 2 {
                    eprintln!("faultline: replay: fault #{id} (target {written}) pinned to {} as in the original run", names.join(","));
                }
            }
            let cancel = CancellationToken::new();
            install_ctrl_c(cancel.clone());
            let opts = RunOptions {
                backend: backend.map(Into::into),
                seed: rec.scenario.seed,
                out,
                reports_dir: PathBuf::from("reports"),
                quiet,
                pinned: rec.pinned.clone(),
                until,
            };
            let clients = rec.scenario.workload.clients;
            let outcome = runner::run(rec.scenario, &opts, cancel)?;
            if !quiet {
                println!("{}", report::table::render(&outcome.summary));
            }
            let diff = faultline::replay::compare(&run_dir, &outcome.run_dir, clients)?;
            print!("{}", faultline::replay::render(&diff));
            let _ = std::fs::write(outcome.run_dir.join("replay.json"), serde_json::to_vec_pretty(&diff).unwrap_or_default());
            Ok(outcome.exit)
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
            for h in histories.iter().flat_map(|h| check::history_files(h)) {
                match check::check_file(&h, model, format, timeout) {
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
        Command::Report { run_dir } => {
            println!("wrote {}", report::html::write(&run_dir)?.display());
            Ok(Exit::Pass)
        }
        Command::StressWorker { cpu_load, mem_bytes } => faultline::fault::cpu::worker_main(cpu_load, mem_bytes),
        Command::Doctor => {
            let checks = doctor::checks();
            println!("{}", doctor::render(&checks));
            println!("fault kinds and how faultline carries them out (docs/faults.md):");
            for k in faultline::fault::registry::ALL {
                println!("  {:<11} {}", k.name, k.mechanism);
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
