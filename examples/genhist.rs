//! Write a generated register history (`history.jsonl`, docs/formats.md §2) for benchmarking and
//! testing the linearizability checker; the generator is `faultline::checker::gen`.
//!
//! ```sh
//! cargo run --release --example genhist -- --ops 100000 --clients 32 --keys 16 --info-pct 2 \
//!     [--stale-read [--depth 3] | --never-written] [--no-info-line] --seed 1 --out /tmp/h.jsonl
//! ```
//!
//! Prints the number of operations and, with a plant, the changed read's op id to stderr.

use faultline::checker::gen::{generate, Params, Plant};
use faultline::history::HistoryWriter;
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: genhist --ops N --clients C --keys K --info-pct P [--stale-read [--depth D] | --never-written] \
         [--read-frac F] [--cas-frac F] [--min-ms A --max-ms B] [--no-info-line] --seed S --out FILE"
    );
    std::process::exit(2)
}

fn main() {
    let mut p = Params::default();
    let mut out: Option<PathBuf> = None;
    let mut stale = false;
    let mut never = false;
    let mut depth = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        fn num<T: std::str::FromStr>(s: String) -> T {
            s.parse().unwrap_or_else(|_| usage())
        }
        match a.as_str() {
            "--ops" => p.ops = num(val()),
            "--clients" => p.clients = num(val()),
            "--keys" => p.keys = num(val()),
            "--info-pct" => p.info_pct = num(val()),
            "--read-frac" => p.read_frac = num(val()),
            "--cas-frac" => p.cas_frac = num(val()),
            "--min-ms" => p.min_ns = (num::<f64>(val()) * 1e6) as u64,
            "--max-ms" => p.max_ns = (num::<f64>(val()) * 1e6) as u64,
            "--seed" => p.seed = num(val()),
            "--depth" => depth = num(val()),
            "--stale-read" => stale = true,
            "--never-written" => never = true,
            "--no-info-line" => p.info_line = false,
            "--out" => out = Some(PathBuf::from(val())),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    p.plant = match (stale, never) {
        (true, false) => Plant::StaleRead { depth },
        (false, true) => Plant::NeverWritten,
        (false, false) => Plant::None,
        (true, true) => usage(),
    };
    let Some(out) = out else { usage() };
    let h = generate(&p);
    let mut w = HistoryWriter::create(&out).unwrap_or_else(|e| {
        eprintln!("genhist: cannot create {}: {e}", out.display());
        std::process::exit(1)
    });
    for e in &h.entries {
        w.append(e).expect("write history");
    }
    w.flush().expect("write history");
    eprint!("genhist: {} ops ({} info) over {} clients and {} keys, seed {}", h.ops, h.info, p.clients, p.keys, p.seed);
    match (p.plant, h.planted) {
        (Plant::None, _) => eprintln!(),
        (_, Some(id)) => {
            let (was, now) = h.planted_change.clone().unwrap_or_default();
            eprintln!("; planted read: op {id} (returned {}, now {})", was.as_deref().unwrap_or("nil"), now.as_deref().unwrap_or("nil"));
        }
        (_, None) => {
            eprintln!("; no read could be planted");
            std::process::exit(1)
        }
    }
}
