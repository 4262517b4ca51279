//! Who a fault hits ([`Target`], as a scenario names it) and resolving it to member names when the fault starts: `leader` is the
//! leader at that moment; `random`, `follower`, `minority` and `majority` are drawn from the
//! fault's own seed, so a replay with the same seed and the same cluster state chooses alike.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::fmt;

/// Who a fault hits, resolved when the fault starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The leader at that moment.
    Leader,
    /// One follower, drawn from the seed.
    Follower,
    /// One member, drawn from the seed.
    Random,
    /// A named member, `n1`..`n7` (1-based).
    Member(u8),
    /// Fewer than half the members, drawn from the seed.
    Minority,
    /// More than half the members, drawn from the seed.
    Majority,
    /// Every member.
    All,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Leader => f.write_str("leader"),
            Target::Follower => f.write_str("follower"),
            Target::Random => f.write_str("random"),
            Target::Member(n) => write!(f, "n{n}"),
            Target::Minority => f.write_str("minority"),
            Target::Majority => f.write_str("majority"),
            Target::All => f.write_str("all"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Target {
    /// Every target word, for help and suggestions.
    pub const WORDS: [&'static str; 7] = ["leader", "follower", "random", "minority", "majority", "all", "n1"];

    /// Parse a target for a cluster of `size` members.
    pub fn parse(s: &str, size: usize) -> Result<Self, String> {
        Ok(match s {
            "leader" => Target::Leader,
            "follower" => Target::Follower,
            "random" => Target::Random,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "all" => Target::All,
            m if m.starts_with('n') && m[1..].parse::<u8>().is_ok() => {
                let n: u8 = m[1..].parse().unwrap_or(0);
                if n == 0 || n as usize > size {
                    return Err(format!("target `{m}` names no member: this cluster has n1..n{size}"));
                }
                Target::Member(n)
            }
            other => {
                return Err(format!(
                    "unknown target `{other}`{}: use leader, follower, random, minority, majority, all or n1..n{size}",
                    crate::error::suggest(other, &Target::WORDS)
                ))
            }
        })
    }
}

/// Resolve `target` among `members` (all names, in order) given the current `leader`.
/// `candidates` are the members the fault may hit (e.g. running ones for a kill).
pub fn resolve(target: Target, members: &[String], candidates: &[String], leader: Option<&str>, rng: &mut ChaCha8Rng) -> Result<Vec<String>, String> {
    let n = members.len();
    let pick = |pool: Vec<String>, k: usize, rng: &mut ChaCha8Rng| -> Result<Vec<String>, String> {
        if pool.len() < k || k == 0 {
            return Err(format!("target `{target}` needs {k} member(s) but only {} can be chosen ({})", pool.len(), pool.join(", ")));
        }
        let mut pool = pool;
        pool.shuffle(rng);
        let mut chosen: Vec<String> = pool.into_iter().take(k).collect();
        chosen.sort_by_key(|m| members.iter().position(|x| x == m));
        Ok(chosen)
    };
    match target {
        Target::Leader => match leader {
            Some(l) if candidates.iter().any(|c| c == l) => Ok(vec![l.to_string()]),
            Some(l) => Err(format!("the leader {l} cannot be targeted now (it is already under a fault)")),
            None => Err("there is no leader to target (the cluster has not elected one)".into()),
        },
        Target::Follower => {
            let pool: Vec<String> = candidates.iter().filter(|c| Some(c.as_str()) != leader).cloned().collect();
            pick(pool, 1, rng)
        }
        Target::Random => pick(candidates.to_vec(), 1, rng),
        Target::Member(i) => {
            // `nI` is the I-th member: its own name on a cluster faultline made, the I-th
            // attached member (in name order) otherwise.
            let name = members.get(usize::from(i).saturating_sub(1)).cloned().unwrap_or_else(|| format!("n{i}"));
            if candidates.contains(&name) {
                Ok(vec![name])
            } else {
                Err(format!("{name} cannot be targeted now (it is already under a fault)"))
            }
        }
        Target::Minority => pick(candidates.to_vec(), (n.saturating_sub(1) / 2).max(1), rng),
        Target::Majority => pick(candidates.to_vec(), n / 2 + 1, rng),
        Target::All => Ok(members.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn targets_resolve_by_role_and_size() {
        let m = names(5);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(resolve(Target::Leader, &m, &m, Some("n3"), &mut rng).unwrap(), vec!["n3"]);
        let f = resolve(Target::Follower, &m, &m, Some("n3"), &mut rng).unwrap();
        assert_eq!(f.len(), 1);
        assert_ne!(f[0], "n3");
        assert_eq!(resolve(Target::Minority, &m, &m, None, &mut rng).unwrap().len(), 2);
        assert_eq!(resolve(Target::Majority, &m, &m, None, &mut rng).unwrap().len(), 3);
        assert_eq!(resolve(Target::Member(4), &m, &m, None, &mut rng).unwrap(), vec!["n4"]);
        assert!(resolve(Target::Leader, &m, &m, None, &mut rng).unwrap_err().contains("no leader"));
    }

    #[test]
    fn same_seed_same_choice() {
        let m = names(7);
        let a: Vec<_> = (0..10).map(|s| resolve(Target::Minority, &m, &m, None, &mut ChaCha8Rng::seed_from_u64(s)).unwrap()).collect();
        let b: Vec<_> = (0..10).map(|s| resolve(Target::Minority, &m, &m, None, &mut ChaCha8Rng::seed_from_u64(s)).unwrap()).collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|x| x != &a[0]), "different seeds should choose differently");
    }
}
