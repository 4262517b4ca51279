//! Watching the cluster from outside: every member's maintenance status, polled
//! concurrently, folded into a [`ClusterView`] (who leads, at which term, who answers), and
//! a `leader-change` event whenever the cluster's leader changes. [`wait_for_leader`] is the
//! readiness check the runner runs before the workload starts.
//!
//! Which leader is *the* leader is decided by plain functions ([`choose_leader`],
//! [`is_leader_change`], [`agreed_leader`]) so that the rules are tested without a cluster:
//! the leader is the one named by the reachable members at the highest term, because an
//! isolated old leader keeps claiming its old term until it notices.

use crate::client::{self, Endpoint};
use crate::events::{Event, EventKind};
use crate::history::Clock;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// What one member said about itself in one poll.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberStatus {
    /// Member name.
    pub member: String,
    /// It answered in time.
    pub reachable: bool,
    /// The leader it follows (or is), by name; `None` when it knows of none.
    pub leader: Option<String>,
    /// Its raft term.
    pub term: u64,
    /// Its raft index.
    pub raft_index: u64,
    /// Its store's revision (from the response header).
    pub revision: i64,
    /// The etcd version it runs (`3.5.1`); empty when it did not answer.
    pub version: String,
    /// Why it did not answer.
    pub error: Option<String>,
    /// The members a `CORRUPT` alarm names, as its status lists the cluster's alarms (by
    /// name; a member id in hex when the name is not known).
    pub corrupt_alarms: Vec<String>,
}

impl MemberStatus {
    fn unreachable(member: &str, error: String) -> Self {
        Self {
            member: member.to_string(),
            reachable: false,
            leader: None,
            term: 0,
            raft_index: 0,
            revision: 0,
            version: String::new(),
            error: Some(error),
            corrupt_alarms: Vec::new(),
        }
    }

    /// The member's answer in words, for messages: `leader n1 at term 2`.
    pub fn describe(&self) -> String {
        match (&self.error, &self.leader) {
            (Some(e), _) if !self.reachable => format!("{} did not answer ({e})", self.member),
            (_, Some(l)) => format!("{} says leader {l} at term {}", self.member, self.term),
            (_, None) => format!("{} knows no leader at term {}", self.member, self.term),
        }
    }
}

/// The cluster as the last poll saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    /// The leader (see [`choose_leader`]); `None` during an election or when none answers.
    pub leader: Option<String>,
    /// The leader's term, or the highest term seen when there is no leader.
    pub term: u64,
    /// Every member's status, in endpoint order.
    pub members: Vec<MemberStatus>,
    /// When the poll was sent, ns on the run's clock.
    pub at_ns: u64,
}

/// A leader and the term it leads in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The leading member.
    pub member: String,
    /// Its term.
    pub term: u64,
}

/// The cluster's leader: among the reachable members that name a leader, those at the
/// highest term decide; if they disagree (they cannot in raft, but a poll is not a
/// snapshot) the most-named wins, then the first by name.
pub fn choose_leader(members: &[MemberStatus]) -> Option<Leader> {
    let naming = members.iter().filter(|m| m.reachable && m.leader.is_some());
    let term = naming.clone().map(|m| m.term).max()?;
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for m in naming.filter(|m| m.term == term) {
        if let Some(l) = &m.leader {
            *votes.entry(l.as_str()).or_default() += 1;
        }
    }
    // max_by_key keeps the last maximum; iterate by name descending so the first name wins.
    let (member, _) = votes.into_iter().rev().max_by_key(|&(_, n)| n)?;
    Some(Leader { member: member.to_string(), term })
}

/// Whether `now` is a new leader compared with the `last` one announced: a leader at a
/// higher term (re-election of the same member included), or another member at the same
/// term. No leader, or a lower term (a stale answer), is no change.
pub fn is_leader_change(last: Option<&Leader>, now: Option<&Leader>) -> bool {
    match (last, now) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(l), Some(n)) => n.term > l.term || (n.term == l.term && n.member != l.member),
    }
}

/// Readiness: the leader when every member answered and all name the same leader at the
/// same term.
pub fn agreed_leader(members: &[MemberStatus]) -> Option<Leader> {
    let first = members.first()?;
    let leader = first.leader.as_ref()?;
    let all_agree = members.iter().all(|m| m.reachable && m.leader.as_ref() == Some(leader) && m.term == first.term);
    all_agree.then(|| Leader { member: leader.clone(), term: first.term })
}

/// The etcd versions seen so far — each member's server version and the cluster version
/// (etcd keeps it at the lowest member's minor version until every member runs a newer
/// one) — for the `member-version` and `cluster-version` events: one when a version is
/// first seen, one at each change.
#[derive(Debug, Default)]
pub struct VersionWatch {
    members: BTreeMap<String, String>,
    cluster: Option<String>,
}

impl VersionWatch {
    /// The events of the members whose version this poll shows for the first time or
    /// changed (a member that did not answer says nothing).
    pub fn members(&mut self, statuses: &[MemberStatus]) -> Vec<EventKind> {
        let mut out = Vec::new();
        for m in statuses.iter().filter(|m| m.reachable && !m.version.is_empty()) {
            if self.members.get(&m.member) != Some(&m.version) {
                let from = self.members.insert(m.member.clone(), m.version.clone());
                out.push(EventKind::MemberVersion { member: m.member.clone(), version: m.version.clone(), from });
            }
        }
        out
    }

    /// The event when the cluster version is seen first or changed.
    pub fn cluster(&mut self, version: &str) -> Option<EventKind> {
        if self.cluster.as_deref() == Some(version) {
            return None;
        }
        let from = self.cluster.replace(version.to_string());
        Some(EventKind::ClusterVersion { version: version.to_string(), from })
    }
}

/// The member id a `CORRUPT` alarm in a status's `errors` names: etcd lists each alarm as
/// `memberID:<decimal id> alarm:CORRUPT `, and leaves `memberID` out when it is 0 (etcd
/// 3.4's periodic check raises its alarm "by peer 0").
pub fn corrupt_alarm(error: &str) -> Option<u64> {
    if !error.contains("CORRUPT") {
        return None;
    }
    match error.split("memberID:").nth(1) {
        Some(rest) => rest.split_whitespace().next()?.parse().ok(),
        None => Some(0),
    }
}

/// Rounds between two looks at the cluster version (`/version`), when no member's version
/// changed meanwhile.
const CLUSTER_VERSION_EVERY: u64 = 10;

fn view_of(members: Vec<MemberStatus>, leader: Option<&Leader>, at_ns: u64) -> ClusterView {
    let term = match leader {
        Some(l) => l.term,
        None => members.iter().filter(|m| m.reachable).map(|m| m.term).max().unwrap_or(0),
    };
    ClusterView { leader: leader.map(|l| l.member.clone()), term, members, at_ns }
}

fn silence(timeout: Duration) -> String {
    format!("no answer within {}ms", timeout.as_millis())
}

/// Polls each member's status over its own connection; learns member names from the
/// answers' headers and, for ids it has not seen, from `member_list`.
struct Poller {
    endpoints: Vec<Endpoint>,
    connections: Vec<Option<etcd_client::Client>>,
    names: HashMap<u64, String>,
}

/// A member's raw answer.
struct Answer {
    status: etcd_client::StatusResponse,
}

impl Poller {
    fn new(endpoints: Vec<Endpoint>) -> Self {
        let connections = vec![None; endpoints.len()];
        Self { endpoints, connections, names: HashMap::new() }
    }

    /// Poll another set of members from now on (keeping the connections of those that stay).
    fn set_endpoints(&mut self, endpoints: Vec<Endpoint>) {
        let mut connections = Vec::with_capacity(endpoints.len());
        for ep in &endpoints {
            let kept = self.endpoints.iter().position(|e| e == ep).and_then(|i| self.connections[i].take());
            connections.push(kept);
        }
        self.endpoints = endpoints;
        self.connections = connections;
    }

    /// One round: every member's status, concurrently, each bounded by `timeout`.
    async fn round(&mut self, timeout: Duration) -> Vec<MemberStatus> {
        let mut pending = Vec::with_capacity(self.endpoints.len());
        for (i, ep) in self.endpoints.iter().enumerate() {
            if self.connections[i].is_none() {
                self.connections[i] = client::connect(ep, timeout).await.ok();
            }
            let conn = self.connections[i].clone();
            pending.push(tokio::spawn(async move {
                let Some(mut conn) = conn else {
                    return Err(("could not open a connection".to_string(), true));
                };
                match tokio::time::timeout(timeout, conn.status()).await {
                    Ok(Ok(status)) => Ok(Answer { status }),
                    // tonic's own request timeout and ours say the same thing.
                    Ok(Err(e)) => match client::classify_full(&e) {
                        c if c.message == client::timeout().message => Err((silence(timeout), true)),
                        c => Err((c.message, c.reconnect)),
                    },
                    Err(_) => Err((silence(timeout), true)),
                }
            }));
        }
        let mut answers = Vec::with_capacity(pending.len());
        for (i, handle) in pending.into_iter().enumerate() {
            let answer = match handle.await {
                Ok(a) => a,
                Err(e) => Err((format!("status poll failed: {e}"), true)),
            };
            if let Err((_, true)) = &answer {
                self.connections[i] = None;
            }
            if let Ok(a) = &answer {
                if let Some(h) = a.status.header() {
                    self.names.insert(h.member_id(), self.endpoints[i].member.clone());
                }
            }
            answers.push(answer);
        }
        let unknown = answers.iter().any(|a| match a {
            Ok(a) => a.status.leader() != 0 && !self.names.contains_key(&a.status.leader()),
            Err(_) => false,
        });
        if unknown {
            self.refresh_names(&answers, timeout).await;
        }
        answers
            .into_iter()
            .zip(&self.endpoints)
            .map(|(answer, ep)| match answer {
                Ok(Answer { status }) => MemberStatus {
                    member: ep.member.clone(),
                    reachable: true,
                    leader: match status.leader() {
                        0 => None,
                        id => Some(self.names.get(&id).cloned().unwrap_or_else(|| format!("{id:x}"))),
                    },
                    term: status.raft_term(),
                    raft_index: status.raft_index(),
                    revision: status.header().map(|h| h.revision()).unwrap_or(0),
                    version: status.version().to_string(),
                    error: None,
                    corrupt_alarms: status
                        .errors()
                        .iter()
                        .filter_map(|e| corrupt_alarm(e))
                        .map(|id| match id {
                            0 => "0".to_string(),
                            id => self.names.get(&id).cloned().unwrap_or_else(|| format!("{id:x}")),
                        })
                        .collect(),
                },
                Err((e, _)) => MemberStatus::unreachable(&ep.member, e),
            })
            .collect()
    }

    /// Ask the members that answered for the member list, until one tells.
    async fn refresh_names(&mut self, answers: &[Result<Answer, (String, bool)>], timeout: Duration) {
        for (i, answer) in answers.iter().enumerate() {
            let (true, Some(mut conn)) = (answer.is_ok(), self.connections[i].clone()) else {
                continue;
            };
            if let Ok(Ok(list)) = tokio::time::timeout(timeout, conn.member_list()).await {
                for m in list.members() {
                    if !m.name().is_empty() {
                        self.names.insert(m.id(), m.name().to_string());
                    }
                }
                return;
            }
        }
    }
}

/// Poll every member of `roster` (as it changes) concurrently every `interval`, publish the view
/// on `view` after each round, and emit `leader-change` on `events` whenever the cluster's
/// leader changes (see [`choose_leader`], [`is_leader_change`]). A member that does not
/// answer within twice the interval is unreachable (a paused member never answers, so a
/// round then takes that long). Returns when `stop` is cancelled.
pub async fn observe(
    mut roster: client::Roster,
    clock: Clock,
    interval: Duration,
    events: UnboundedSender<Event>,
    view: tokio::sync::watch::Sender<ClusterView>,
    stop: CancellationToken,
) {
    let mut poller = Poller::new(roster.current());
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last: Option<Leader> = None;
    let mut versions = VersionWatch::default();
    let mut alarmed_seen: Vec<String> = Vec::new();
    let mut round = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Some(eps) = roster.changed() {
            poller.set_endpoints(eps);
        }
        let at_ns = clock.now_ns();
        let members = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            members = poller.round(interval * 2) => members,
        };
        let leader = choose_leader(&members);
        if is_leader_change(last.as_ref(), leader.as_ref()) {
            if let Some(l) = &leader {
                let what = EventKind::LeaderChange { member: l.member.clone(), term: l.term };
                // A closed receiver means the runner stopped listening; keep the view going.
                let _ = events.send(Event { t: i64::try_from(at_ns).unwrap_or(i64::MAX), what });
            }
            last = leader.clone();
        }
        let t = i64::try_from(at_ns).unwrap_or(i64::MAX);
        for m in &members {
            for alarmed in &m.corrupt_alarms {
                if !alarmed_seen.contains(alarmed) {
                    alarmed_seen.push(alarmed.clone());
                    let detail = match alarmed.as_str() {
                        "0" => format!("{} lists a CORRUPT alarm for member 0 (the alarm names no member)", m.member),
                        a => format!("{} lists a CORRUPT alarm for {a}", m.member),
                    };
                    let _ = events.send(Event {
                        t,
                        what: EventKind::CorruptionDetected { member: alarmed.clone(), by: crate::events::CorruptionBy::EtcdAlarm, detail, fault: None },
                    });
                }
            }
        }
        let changed = versions.members(&members);
        let look = round % CLUSTER_VERSION_EVERY == 0 || !changed.is_empty();
        for what in changed {
            let _ = events.send(Event { t, what });
        }
        round += 1;
        if look {
            let ask = members.iter().filter(|m| m.reachable).find_map(|m| poller.endpoints.iter().find(|e| e.member == m.member).cloned());
            if let Some(ep) = ask {
                if let Some((_, Some(cluster))) = client::versions(&ep, interval * 2).await {
                    if let Some(what) = versions.cluster(&cluster) {
                        let _ = events.send(Event { t: i64::try_from(clock.now_ns()).unwrap_or(i64::MAX), what });
                    }
                }
            }
        }
        view.send_replace(view_of(members, leader.as_ref(), at_ns));
    }
}

/// How long readiness waits for one member's answer.
const READY_POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between readiness polls.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Readiness: wait until every member answers and all name the same leader at the same
/// term. `Err` after `timeout`, saying what each member last said (or why it did not).
pub async fn wait_for_leader(endpoints: &[Endpoint], timeout: Duration) -> Result<ClusterView, String> {
    if endpoints.is_empty() {
        return Err("there is no member to wait for".to_string());
    }
    let clock = Clock::start();
    let deadline = Instant::now() + timeout;
    let mut poller = Poller::new(endpoints.to_vec());
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let members = poller.round(READY_POLL_TIMEOUT.min(left).max(Duration::from_millis(50))).await;
        if let Some(leader) = agreed_leader(&members) {
            return Ok(view_of(members, Some(&leader), clock.now_ns()));
        }
        if Instant::now() >= deadline {
            let said: Vec<String> = members.iter().map(MemberStatus::describe).collect();
            return Err(format!("the members did not agree on a leader within {}: {}", humantime::format_duration(timeout), said.join("; ")));
        }
        tokio::time::sleep(READY_POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_alarm_names_its_member_by_id() {
        assert_eq!(corrupt_alarm("memberID:10276657743932975437 alarm:CORRUPT "), Some(10276657743932975437));
        assert_eq!(corrupt_alarm("memberID:1 alarm:NOSPACE "), None);
        assert_eq!(corrupt_alarm("alarm:CORRUPT "), Some(0), "member 0 is left out of the text");
        assert_eq!(corrupt_alarm("etcdserver: no leader"), None);
    }

    fn status(member: &str, leader: Option<&str>, term: u64) -> MemberStatus {
        MemberStatus {
            member: member.into(),
            reachable: true,
            leader: leader.map(String::from),
            term,
            raft_index: 10,
            revision: 5,
            version: "3.4.23".into(),
            error: None,
            corrupt_alarms: Vec::new(),
        }
    }

    fn leader(member: &str, term: u64) -> Leader {
        Leader { member: member.into(), term }
    }

    #[test]
    fn versions_are_announced_when_first_seen_and_when_they_change() {
        let mut w = VersionWatch::default();
        let mut members = [status("n1", Some("n1"), 2), status("n2", Some("n1"), 2)];
        assert_eq!(w.members(&members).len(), 2);
        assert!(w.members(&members).is_empty(), "the same versions again say nothing");
        members[1].version = "3.5.1".into();
        assert_eq!(w.members(&members), vec![EventKind::MemberVersion { member: "n2".into(), version: "3.5.1".into(), from: Some("3.4.23".into()) }]);
        // A member that does not answer says nothing about its version.
        members[0] = MemberStatus::unreachable("n1", "down".into());
        assert!(w.members(&members).is_empty());
        assert_eq!(w.cluster("3.4.0"), Some(EventKind::ClusterVersion { version: "3.4.0".into(), from: None }));
        assert_eq!(w.cluster("3.4.0"), None);
        assert_eq!(w.cluster("3.5.0"), Some(EventKind::ClusterVersion { version: "3.5.0".into(), from: Some("3.4.0".into()) }));
    }

    #[test]
    fn the_highest_term_decides_the_leader() {
        // n1 is an isolated old leader still claiming term 2; n2 and n3 elected n3 at term 3.
        let members = [status("n1", Some("n1"), 2), status("n2", Some("n3"), 3), status("n3", Some("n3"), 3)];
        assert_eq!(choose_leader(&members), Some(leader("n3", 3)));
    }

    #[test]
    fn a_campaigning_member_without_leader_does_not_hide_the_leader() {
        // n3 is partitioned and campaigns at ever higher terms, naming no leader.
        let members = [status("n1", Some("n1"), 2), status("n2", Some("n1"), 2), status("n3", None, 9)];
        assert_eq!(choose_leader(&members), Some(leader("n1", 2)));
        let view = view_of(members.to_vec(), choose_leader(&members).as_ref(), 0);
        assert_eq!((view.leader.as_deref(), view.term), (Some("n1"), 2));
    }

    #[test]
    fn unreachable_members_are_ignored_and_no_leader_is_none() {
        let mut gone = status("n1", Some("n1"), 7);
        gone.reachable = false;
        let members = [gone.clone(), status("n2", None, 3), status("n3", None, 3)];
        assert_eq!(choose_leader(&members), None);
        let view = view_of(members.to_vec(), None, 0);
        assert_eq!((view.leader, view.term), (None, 3));
        assert_eq!(choose_leader(&[]), None);
        assert_eq!(choose_leader(&[gone]), None);
    }

    #[test]
    fn disagreement_at_one_term_goes_to_the_most_named_then_the_first_name() {
        let members = [status("n1", Some("n2"), 4), status("n2", Some("n2"), 4), status("n3", Some("n1"), 4)];
        assert_eq!(choose_leader(&members), Some(leader("n2", 4)));
        let tie = [status("n1", Some("n2"), 4), status("n3", Some("n1"), 4)];
        assert_eq!(choose_leader(&tie), Some(leader("n1", 4)));
    }

    #[test]
    fn leader_changes_are_new_terms_or_new_members() {
        let n1t2 = leader("n1", 2);
        assert!(is_leader_change(None, Some(&n1t2)));
        assert!(!is_leader_change(Some(&n1t2), Some(&n1t2)));
        assert!(!is_leader_change(Some(&n1t2), None), "an election in progress is not a change yet");
        assert!(is_leader_change(Some(&n1t2), Some(&leader("n3", 3))));
        assert!(is_leader_change(Some(&n1t2), Some(&leader("n1", 5))), "re-elected at a new term");
        assert!(!is_leader_change(Some(&leader("n3", 3)), Some(&n1t2)), "a stale answer");
    }

    #[test]
    fn readiness_needs_everyone_to_agree() {
        let agreed = [status("n1", Some("n2"), 3), status("n2", Some("n2"), 3), status("n3", Some("n2"), 3)];
        assert_eq!(agreed_leader(&agreed), Some(leader("n2", 3)));
        let lagging = [status("n1", Some("n2"), 3), status("n2", Some("n2"), 3), status("n3", Some("n1"), 2)];
        assert_eq!(agreed_leader(&lagging), None);
        let mut silent = agreed.clone();
        silent[2] = MemberStatus::unreachable("n3", "connection refused".into());
        assert_eq!(agreed_leader(&silent), None);
        assert_eq!(silent[2].describe(), "n3 did not answer (connection refused)");
        assert_eq!(agreed[0].describe(), "n1 says leader n2 at term 3");
        assert_eq!(agreed_leader(&[]), None);
    }
}
