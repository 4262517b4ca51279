use faultline::checker::etcd;
use std::io::BufRead;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let f = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let mut p = etcd::Pairer::default();
    for (n, l) in f.lines().enumerate() {
        let l = l.unwrap();
        let e: faultline::history::Entry = serde_json::from_str(&l).unwrap();
        p.push(e, n + 1).unwrap();
    }
    let ops = p.finish();
    let c = etcd::check(&ops, std::time::Duration::from_secs(120), &std::sync::atomic::AtomicBool::new(false));
    println!("{:?} {:?} {:.3}s {:?}", c.verdict, c.cause, c.seconds, c.stats);
    if let Some(v) = c.violation { println!("{}\nexpected {}\ngot {}", v.why, v.expected, v.got); for o in &v.ops { println!("  {:?}", o); } }
}
