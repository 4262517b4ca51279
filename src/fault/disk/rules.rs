//! Fault rules compiled for the request path: which operations they watch (a bit mask, so an
//! operation no rule names costs one load and one test), their path globs, their seeded
//! random draws, and their counters.

use super::{DiskAction, DiskRule, IoOp, RuleCounters};
use globset::{GlobBuilder, GlobMatcher};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve it now.
    Pass,
    /// Serve it after this long.
    Delay(Duration),
    /// Fail it with `errno`, after `after` (the delays of other rules that fired too).
    Fail {
        /// The error returned.
        errno: i32,
        /// How long to wait before failing.
        after: Duration,
    },
}

/// Counters of one rule id, kept for the layer's life (rules replaced with the same id keep counting).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    seen: AtomicU64,
    delayed: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    fn snapshot(&self, id: u32) -> RuleCounters {
        RuleCounters { id, seen: self.seen.load(Ordering::Relaxed), delayed: self.delayed.load(Ordering::Relaxed), failed: self.failed.load(Ordering::Relaxed) }
    }
}

/// Compile a rule's path glob: `*` and `?` stay within one path component, `**` crosses them.
pub(crate) fn compile_glob(pattern: &str) -> Result<GlobMatcher, String> {
    let p = pattern.trim_start_matches("./").trim_end_matches('/');
    GlobBuilder::new(p)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("path `{pattern}` is not a valid glob ({e}); write it relative to the data directory, e.g. `member/wal/*`"))
}

/// A rule's path test: its glob, or (a glob that did not compile) the literal path.
enum PathMatch {
    Glob(GlobMatcher),
    Literal(String),
}

impl PathMatch {
    fn is_match(&self, path: &str) -> bool {
        match self {
            PathMatch::Glob(g) => g.is_match(path),
            PathMatch::Literal(l) => l == path,
        }
    }
}

struct Compiled {
    ops: u32,
    action: DiskAction,
    percent: f64,
    glob: Option<PathMatch>,
    rng: Mutex<ChaCha8Rng>,
    counters: Arc<Counters>,
}

/// The active rules.
#[derive(Default)]
pub(crate) struct RuleSet {
    rules: Vec<Compiled>,
    /// Union of every rule's operations.
    mask: u32,
}

/// Every rule id's counters since mount.
#[derive(Default)]
pub(crate) struct CounterBook {
    by_id: Mutex<BTreeMap<u32, Arc<Counters>>>,
}

impl CounterBook {
    fn get(&self, id: u32) -> Arc<Counters> {
        let mut m = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(id).or_default().clone()
    }

    /// A snapshot of every rule id seen since mount, by id.
    pub(crate) fn snapshot(&self) -> Vec<RuleCounters> {
        let m = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(id, c)| c.snapshot(*id)).collect()
    }
}

impl RuleSet {
    /// Compile `rules`, attaching each to its id's counters. A glob that does not compile
    /// matches only the literal path (callers validate with [`DiskRule::check`] first).
    pub(crate) fn new(rules: Vec<DiskRule>, book: &CounterBook) -> RuleSet {
        let mut mask = 0;
        let rules = rules
            .into_iter()
            .map(|r| {
                let ops = r.ops.iter().fold(0u32, |m, op| m | op.bit());
                mask |= ops;
                let glob = r.path.as_deref().map(|p| compile_glob(p).map_or_else(|_| PathMatch::Literal(p.to_string()), PathMatch::Glob));
                Compiled {
                    ops,
                    action: r.action,
                    percent: if r.percent.is_nan() { 0.0 } else { r.percent.clamp(0.0, 100.0) },
                    glob,
                    rng: Mutex::new(ChaCha8Rng::seed_from_u64(r.seed)),
                    counters: book.get(r.id),
                }
            })
            .collect();
        RuleSet { rules, mask }
    }

    /// Whether any rule watches `op` (the cheap test done before anything else).
    pub(crate) fn watches(&self, op: IoOp) -> bool {
        self.mask & op.bit() != 0
    }

    /// Whether any rule watching `op` needs the request's path.
    pub(crate) fn needs_path(&self, op: IoOp) -> bool {
        self.rules.iter().any(|r| r.ops & op.bit() != 0 && r.glob.is_some())
    }

    /// Decide a request on `op` at `path` (relative to the mounted directory; `None` if it
    /// could not be found, which matches only rules without a path). Every rule that matches
    /// counts the request as seen and draws; delays of the rules that fire add up, and the
    /// first fail that fires fails the request after them.
    pub(crate) fn decide(&self, op: IoOp, path: Option<&str>) -> Verdict {
        let mut delay = Duration::ZERO;
        let mut fail = None;
        for r in &self.rules {
            if r.ops & op.bit() == 0 {
                continue;
            }
            if let Some(g) = &r.glob {
                match path {
                    Some(p) if g.is_match(p) => {}
                    _ => continue,
                }
            }
            r.counters.seen.fetch_add(1, Ordering::Relaxed);
            let jitter = match r.action {
                DiskAction::Delay { jitter, .. } => jitter,
                DiskAction::Fail { .. } => Duration::ZERO,
            };
            if r.percent <= 0.0 {
                continue;
            }
            let (fires, offset) = if r.percent >= 100.0 && jitter.is_zero() {
                (true, 0.0)
            } else {
                let mut rng = r.rng.lock().unwrap_or_else(|p| p.into_inner());
                let fires = r.percent >= 100.0 || rng.random::<f64>() * 100.0 < r.percent;
                let offset = if fires && !jitter.is_zero() { rng.random_range(-1.0..=1.0) } else { 0.0 };
                (fires, offset)
            };
            if !fires {
                continue;
            }
            match r.action {
                DiskAction::Delay { delay: d, jitter } => {
                    r.counters.delayed.fetch_add(1, Ordering::Relaxed);
                    let secs = d.as_secs_f64() + offset * jitter.as_secs_f64();
                    delay += Duration::from_secs_f64(secs.max(0.0));
                }
                DiskAction::Fail { errno } => {
                    r.counters.failed.fetch_add(1, Ordering::Relaxed);
                    fail.get_or_insert(errno);
                }
            }
        }
        match fail {
            Some(errno) => Verdict::Fail { errno, after: delay },
            None if delay.is_zero() => Verdict::Pass,
            None => Verdict::Delay(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: u32, action: DiskAction, ops: &[IoOp], percent: f64, path: Option<&str>) -> DiskRule {
        DiskRule { id, action, ops: ops.to_vec(), percent, path: path.map(str::to_string), seed: 7 }
    }

    #[test]
    fn globs_stay_within_a_component() {
        let g = compile_glob("member/wal/*").unwrap();
        assert!(g.is_match("member/wal/0000000000000000-0000000000000000.wal"));
        assert!(!g.is_match("member/wal/sub/x"));
        assert!(!g.is_match("member/snap/db"));
        assert!(compile_glob("member/**").unwrap().is_match("member/wal/a"));
        assert!(compile_glob("./member/wal/").unwrap().is_match("member/wal"));
        assert!(compile_glob("member/[wal").is_err());
    }

    #[test]
    fn delays_add_up_and_fail_wins() {
        let book = CounterBook::default();
        let d = Duration::from_millis(100);
        let set = RuleSet::new(
            vec![
                rule(1, DiskAction::Delay { delay: d, jitter: Duration::ZERO }, &[IoOp::Fsync], 100.0, Some("member/wal/*")),
                rule(2, DiskAction::Delay { delay: d, jitter: Duration::ZERO }, &[IoOp::Fsync, IoOp::Write], 100.0, None),
                rule(3, DiskAction::Fail { errno: libc::EIO }, &[IoOp::Write], 100.0, None),
            ],
            &book,
        );
        assert!(set.watches(IoOp::Fsync) && !set.watches(IoOp::Read));
        assert_eq!(set.decide(IoOp::Fsync, Some("member/wal/x.wal")), Verdict::Delay(2 * d));
        assert_eq!(set.decide(IoOp::Fsync, Some("member/snap/db")), Verdict::Delay(d));
        assert_eq!(set.decide(IoOp::Write, Some("a")), Verdict::Fail { errno: libc::EIO, after: d });
        assert_eq!(set.decide(IoOp::Read, Some("a")), Verdict::Pass);
        let c = book.snapshot();
        assert_eq!((c[0].seen, c[0].delayed), (1, 1));
        assert_eq!((c[1].seen, c[1].delayed), (3, 3));
        assert_eq!((c[2].seen, c[2].failed), (1, 1));
    }

    #[test]
    fn percent_draws_are_seeded() {
        let run = || {
            let book = CounterBook::default();
            let set = RuleSet::new(vec![rule(1, DiskAction::Fail { errno: libc::EIO }, &[IoOp::Read], 30.0, None)], &book);
            (0..1000).map(|_| matches!(set.decide(IoOp::Read, None), Verdict::Fail { .. })).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let n = a.iter().filter(|x| **x).count();
        assert!((230..370).contains(&n), "{n} of 1000 at 30 %");
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let book = CounterBook::default();
        let d = Duration::from_millis(100);
        let j = Duration::from_millis(50);
        let set = RuleSet::new(vec![rule(1, DiskAction::Delay { delay: d, jitter: j }, &[IoOp::Read], 100.0, None)], &book);
        for _ in 0..200 {
            let Verdict::Delay(x) = set.decide(IoOp::Read, None) else { panic!("no delay") };
            assert!(x >= d - j && x <= d + j, "{x:?}");
        }
    }
}
