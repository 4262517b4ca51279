//! Write a generated etcd-API history (`history.jsonl`, docs/formats.md §2.1) for benchmarking
//! and testing the etcd checker; the generator is `faultline::checker::etcd::gen`.
//!
//! ```sh
//! cargo run --release --example genetcd -- --ops 100000 --clients 32 --keys 16 --info-pct 2 \
//!     [--plant missed-write|revision-back|txn-half|deleted-still-read|outlives-revoked-lease|compacted-served|wrong-count] \
//!     [--min-ms A --max-ms B] --seed 1 --out /tmp/h.jsonl
//! ```
//!
//! Prints the number of operations and, with a plant, the changed operation's id to stderr.

use faultline::checker::etcd::gen::{generate_history, Params, Plant};
use faultline::history::HistoryWriter;
use std::path::PathBuf;

fn usage() -> ! {
    let plants: Vec<&str> = Plant::ALL.iter().map(|p| p.name()).collect();
    eprintln!("usage: genetcd --ops N --clients C --keys K [--info-pct P] [--plant NAME] [--min-ms A --max-ms B] --seed S --out FILE");
    eprintln!("       NAME: {}", plants.join(", "));
    std::process::exit(2)
}

fn main() {
    let mut p = Params::default();
    let mut out: Option<PathBuf> = None;
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
            "--min-ms" => p.min_ns = (num::<f64>(val()) * 1e6) as u64,
            "--max-ms" => p.max_ns = (num::<f64>(val()) * 1e6) as u64,
            "--seed" => p.seed = num(val()),
            "--plant" => p.plant = Plant::from_name(&val()).unwrap_or_else(|| usage()),
            "--out" => out = Some(PathBuf::from(val())),
            _ => usage(),
        }
    }
    let Some(out) = out else { usage() };
    let h = generate_history(&p);
    let mut w = HistoryWriter::create(&out).unwrap_or_else(|e| {
        eprintln!("genetcd: cannot create {}: {e}", out.display());
        std::process::exit(1)
    });
    for e in &h.entries {
        w.append(e).expect("write history");
    }
    w.flush().expect("write history");
    eprint!("genetcd: {} ops ({} info) over {} clients and {} keys, seed {}", h.ops, h.info, p.clients, p.keys, p.seed);
    match (p.plant, h.planted) {
        (Plant::None, _) => eprintln!(),
        (plant, Some(id)) => eprintln!("; planted {}: op {id}", plant.name()),
        (plant, None) => {
            eprintln!("; nothing to plant {} on (more operations, or a mix with what it needs)", plant.name());
            std::process::exit(1)
        }
    }
}
