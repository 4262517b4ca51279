use faultline::checker::{self, input};
use std::time::{Duration, Instant};
fn main() {
    for a in std::env::args().skip(1) {
        let t0 = Instant::now();
        let (m, ops) = input::jsonl(std::path::Path::new(&a)).unwrap();
        let parse = t0.elapsed().as_secs_f64();
        let r = checker::check(&m, ops, Duration::from_secs(60));
        println!("{a}: {} parse {:.3}s check {:.3}s", r.verdict.name(), parse, r.seconds);
        for k in &r.keys { println!("  {} ops {} dropped {} {} {:.3}s peak {}", k.key, k.ops, k.dropped, k.verdict.name(), k.seconds, k.peak_configs); }
    }
}
