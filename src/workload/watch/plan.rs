//! Who watches what: each watcher of the scenario's groups ([`WatchGroup`]) made concrete —
//! its name, its first member, the key or prefix it watches, what it asks etcd for, how it
//! chooses its first revision, when it starts, whether it reads slowly. Pure: the same
//! groups, members and seed give the same plans.

use crate::scenario::watch::{Placement, WatchGroup};
use crate::scenario::Load;
use crate::watchlog::{StartRevision, WatchSpec};
use crate::workload::kubernetes::{resource_prefix, RESOURCES};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// The key every register and etcd workload key starts with (`k0`, `k1`, ...).
pub const KEY_STEM: &str = "k";
/// How far back a `past` start may go (revisions below the current one).
const PAST_BACK: i64 = 50;
/// How far ahead a `future` start goes: within what the workload writes in a second or two.
const FUTURE_AHEAD: std::ops::RangeInclusive<i64> = 10..=40;

/// One watcher, planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `w0`, `w1`, ... across the groups.
    pub id: String,
    /// The member index it opens its first stream on.
    pub member: usize,
    /// It moves to the next member when its stream breaks.
    pub follows: bool,
    /// What it asks for (`spec.key` without the run's prefix).
    pub spec: WatchSpec,
    /// Explicit progress requests, one every this long.
    pub progress_every: Option<Duration>,
    /// Slow consumer: stops reading for `.1` every `.0`.
    pub slow: Option<(Duration, Duration)>,
    /// Lists before watching (an informer).
    pub informer: bool,
    /// How long after clock zero it starts: 0 for a watcher from the current revision (the
    /// revision at workload start), later for the others, so that there is a past and a
    /// compaction to start from.
    pub delay: Duration,
    /// Revisions back (`past`) or ahead (`future`) of the current one, drawn.
    pub offset: i64,
}

/// Every watcher of `groups`, over `members` members, for `load`, drawn from `seed`;
/// `duration` is the workload's.
pub fn plans(groups: &[WatchGroup], load: &Load, members: &[String], seed: u64, duration: Duration) -> Vec<Plan> {
    let mut out = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let count = group.watchers.map_or(members.len(), |n| n as usize);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0x5741_5443_4800 + g as u64);
        let slow = slow_ones(group, count, &mut rng);
        for (j, is_slow) in slow.iter().enumerate() {
            let start = if group.informer { StartRevision::AfterList } else { group.start[j % group.start.len()] };
            let delayed = group.informer || start != StartRevision::Current;
            let delay = if delayed { duration.mul_f64(rng.random_range(0.2..0.5)) } else { Duration::ZERO };
            let offset = match start {
                StartRevision::Past => rng.random_range(1..=PAST_BACK),
                StartRevision::Future => rng.random_range(FUTURE_AHEAD),
                _ => 0,
            };
            let (key, prefix) = watched(group, load, j);
            let member = match &group.placement {
                Placement::One(name) => members.iter().position(|m| m == name).unwrap_or(0),
                Placement::Spread | Placement::Follow => (out.len()) % members.len().max(1),
            };
            out.push(Plan {
                id: format!("w{}", out.len()),
                member,
                follows: group.placement == Placement::Follow,
                spec: WatchSpec {
                    key,
                    prefix,
                    require_leader: group.require_leader,
                    prev_kv: group.prev_kv,
                    filter: group.filter,
                    progress_notify: group.progress_notify,
                    start,
                    placement: group.placement.name().to_string(),
                },
                progress_every: group.progress_requests.map(|r| Duration::from_secs_f64(1.0 / r.0)),
                slow: is_slow.then(|| group.slow.map(|s| (s.every.0, s.pause.0))).flatten(),
                informer: group.informer,
                delay,
                offset,
            });
        }
    }
    out
}

/// Which of a group's `count` watchers read slowly: `share` of them (rounded), drawn.
fn slow_ones(group: &WatchGroup, count: usize, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let n = group.slow.map_or(0, |s| (s.share * count as f64).round() as usize);
    let mut marks: Vec<bool> = (0..count).map(|i| i < n).collect();
    marks.shuffle(rng);
    marks
}

/// The key or prefix watcher `j` of `group` watches (without the run's prefix): the
/// group's key, else the workload's keys — for the kubernetes workload one resource's
/// prefix per watcher, in turn (an informer per resource).
fn watched(group: &WatchGroup, load: &Load, j: usize) -> (String, bool) {
    match (&group.key, load) {
        (Some(k), _) => (k.clone(), false),
        (None, Load::Kubernetes(_)) => (resource_prefix(RESOURCES[j % RESOURCES.len()]), true),
        (None, _) => (KEY_STEM.to_string(), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::watch::SlowReaders;
    use crate::scenario::{KubernetesMix, Mix};
    use crate::units::{Rate, Span};

    fn members() -> Vec<String> {
        vec!["n1".into(), "n2".into(), "n3".into()]
    }

    const REGISTER: Load = Load::Register(Mix { read: 0.5, write: 0.25, cas: 0.25 });

    #[test]
    fn watch_true_is_one_watcher_per_member_from_clock_zero_on_the_workload_keys() {
        let p = plans(&[WatchGroup::default()], &REGISTER, &members(), 7, Duration::from_secs(20));
        assert_eq!(p.iter().map(|w| (w.id.as_str(), w.member)).collect::<Vec<_>>(), [("w0", 0), ("w1", 1), ("w2", 2)]);
        for w in &p {
            assert_eq!((w.spec.key.as_str(), w.spec.prefix, w.spec.require_leader, w.spec.start), ("k", true, true, StartRevision::Current));
            assert_eq!((w.delay, w.slow, w.progress_every, w.informer, w.follows), (Duration::ZERO, None, None, false, false));
        }
    }

    #[test]
    fn groups_number_their_watchers_on_and_take_starts_placements_and_slowness_in_turn() {
        let g1 = WatchGroup {
            watchers: Some(4),
            placement: Placement::One("n3".into()),
            start: vec![StartRevision::Past, StartRevision::Future],
            slow: Some(SlowReaders { share: 0.5, every: Span(Duration::from_secs(4)), pause: Span(Duration::from_secs(1)) }),
            progress_requests: Some(Rate(2.0)),
            ..WatchGroup::default()
        };
        let g2 = WatchGroup { watchers: Some(2), placement: Placement::Follow, key: Some("k3".into()), ..WatchGroup::default() };
        let p = plans(&[g1.clone(), g2.clone()], &REGISTER, &members(), 7, Duration::from_secs(20));
        assert_eq!(p.len(), 6);
        assert!(p[..4].iter().all(|w| w.member == 2 && w.spec.placement == "one" && w.progress_every == Some(Duration::from_millis(500))));
        assert_eq!(
            p[..4].iter().map(|w| w.spec.start).collect::<Vec<_>>(),
            [StartRevision::Past, StartRevision::Future, StartRevision::Past, StartRevision::Future]
        );
        assert!(p[..4].iter().all(|w| w.delay >= Duration::from_secs(4) && w.delay < Duration::from_secs(10)));
        assert_eq!(p[..4].iter().filter(|w| w.slow == Some((Duration::from_secs(4), Duration::from_secs(1)))).count(), 2);
        assert_eq!((p[4].id.as_str(), p[4].member, p[4].follows, p[4].spec.key.as_str(), p[4].spec.prefix), ("w4", 1, true, "k3", false));
        // The same seed, the same plans; another seed draws other ones.
        assert_eq!(plans(&[g1.clone(), g2.clone()], &REGISTER, &members(), 7, Duration::from_secs(20)), p);
        let other = plans(&[g1, g2], &REGISTER, &members(), 8, Duration::from_secs(20));
        assert!(other.iter().zip(&p).any(|(a, b)| a.delay != b.delay || a.offset != b.offset));
    }

    #[test]
    fn kubernetes_informers_take_one_resource_each_and_start_after_their_list() {
        let g = WatchGroup { informer: true, ..WatchGroup::default() };
        let p = plans(&[g], &Load::Kubernetes(KubernetesMix::DEFAULT), &members(), 1, Duration::from_secs(20));
        let keys: Vec<&str> = p.iter().map(|w| w.spec.key.as_str()).collect();
        assert_eq!(keys, ["/registry/pods/", "/registry/configmaps/", "/registry/leases/"]);
        assert!(p.iter().all(|w| w.informer && w.spec.prefix && w.spec.start == StartRevision::AfterList));
    }
}
