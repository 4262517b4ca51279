//! The consistency check (what etcd operators call hash inspection): after the workload
//! and every fault has ended, wait (bounded) for the members to catch up, then compare
//! their revision, `HashKV` at a common revision and key count. A member that does not
//! answer has not diverged: it could not be compared, and the check says so and why
//! ([`Consistency::not_compared`]) apart from what differs among those that answered.

use serde::{Deserialize, Serialize};

/// One member's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberFigures {
    /// Member name.
    pub member: String,
    /// Its current revision (from its own status / response header).
    pub revision: Option<i64>,
    /// `HashKV` at the common revision.
    pub hash: Option<u32>,
    /// Number of keys it holds (serializable count on that member).
    pub keys: Option<i64>,
    /// Why a figure is missing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// The verdict of the consistency check (`consistency` in `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consistency {
    /// Every member answered and agrees on revision, hash and key count.
    pub consistent: bool,
    /// The common revision the hashes were taken at.
    pub revision: Option<i64>,
    /// Each member's figures.
    pub members: Vec<MemberFigures>,
    /// What differs among the members that answered, in words (empty when they agree).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub differences: Vec<String>,
    /// The members that could not be compared, and why (`n1 did not answer: connection
    /// refused`); empty when every member answered.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub not_compared: Vec<String>,
    /// Members left out of the comparison by design, and why: a member that refused to
    /// start on files a `corrupt` fault damaged stays down, and the check compares the
    /// others (`n2 not compared: it refused to start on its corrupted WAL (...)`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub skipped: Vec<String>,
    /// Seconds spent waiting for members to catch up.
    pub waited_s: f64,
}

impl Consistency {
    /// Members that answered disagree on revision, hash or key count.
    pub fn diverged(&self) -> bool {
        !self.differences.is_empty()
    }

    /// The answer a gate reads: `false` when members that answered disagree, `true` when
    /// every member answered and they agree, `None` when it could not be known (a member
    /// did not answer, or there were none).
    pub fn answer(&self) -> Option<bool> {
        if self.diverged() {
            Some(false)
        } else if !self.not_compared.is_empty() || self.members.is_empty() {
            None
        } else {
            Some(self.consistent)
        }
    }
}

use crate::client::{self, Endpoint};
use etcd_client::{Client, GetOptions};
use std::time::Duration;
use tokio::time::Instant;

/// How long one request of the check may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between polls while waiting for the members to agree on a revision.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// After the workload ended and faults healed: poll (bounded by `wait`) until every member
/// answers and all report the same revision; then take `rev` = that revision (or the
/// smallest if they never agreed), `HashKV(rev)` on each member and the key count on each
/// member with a serializable count-only range over all keys at `rev` (so each member
/// answers from its own store), and compare. `consistent` = every member answered and
/// revision, hash and key count are equal; `differences` says in words what differs.
pub async fn check(endpoints: &[Endpoint], wait: Duration) -> Consistency {
    let started = Instant::now();
    let deadline = started + wait;
    let mut connections = Vec::with_capacity(endpoints.len());
    for ep in endpoints {
        connections.push(client::connect(ep, REQUEST_TIMEOUT).await.map_err(|e| client::classify(&e).1));
    }

    // 1. Wait for every member to answer with one revision.
    let mut revisions = poll_revisions(&connections).await;
    loop {
        let answered: Vec<i64> = revisions.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        let agreed = answered.len() == endpoints.len() && answered.windows(2).all(|w| w[0] == w[1]);
        if agreed || Instant::now() + POLL_INTERVAL >= deadline {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
        revisions = poll_revisions(&connections).await;
    }
    let waited_s = started.elapsed().as_secs_f64();
    let revision = revisions.iter().filter_map(|r| r.as_ref().ok().copied()).min();

    // 2. Hash and count at the common revision, every member at once.
    let mut pending = Vec::with_capacity(endpoints.len());
    for (conn, rev) in connections.iter().zip(&revisions) {
        let conn = conn.as_ref().ok().cloned();
        let answered = rev.is_ok();
        pending.push(tokio::spawn(async move {
            match (conn, revision, answered) {
                (Some(conn), Some(at), true) => figures_at(conn, at).await,
                _ => (None, None, None),
            }
        }));
    }
    let mut members = Vec::with_capacity(endpoints.len());
    for ((ep, rev), handle) in endpoints.iter().zip(revisions).zip(pending) {
        let (hash, keys, error) = handle.await.unwrap_or_else(|e| (None, None, Some(format!("check failed: {e}"))));
        let (revision, error) = match rev {
            Ok(r) => (Some(r), error),
            Err(e) => (None, Some(e)),
        };
        members.push(MemberFigures { member: ep.member.clone(), revision, hash, keys, error });
    }

    let differences = differences(&members, revision);
    let not_compared = not_compared(&members);
    let complete = !members.is_empty() && not_compared.is_empty();
    Consistency { consistent: complete && differences.is_empty(), revision, members, differences, not_compared, skipped: Vec::new(), waited_s }
}

/// Every member's revision (its status's header), or why it did not answer.
async fn poll_revisions(connections: &[Result<Client, String>]) -> Vec<Result<i64, String>> {
    let pending: Vec<_> = connections
        .iter()
        .map(|conn| {
            let conn = conn.clone();
            tokio::spawn(async move {
                let mut conn = conn?;
                match tokio::time::timeout(REQUEST_TIMEOUT, conn.status()).await {
                    Ok(Ok(s)) => s.header().map(|h| h.revision()).ok_or_else(|| "status without a header".to_string()),
                    Ok(Err(e)) => Err(client::classify(&e).1),
                    Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
                }
            })
        })
        .collect();
    let mut out = Vec::with_capacity(pending.len());
    for handle in pending {
        out.push(handle.await.unwrap_or_else(|e| Err(format!("status poll failed: {e}"))));
    }
    out
}

/// One member's `HashKV` and key count at `rev`, and what went wrong if either is missing.
async fn figures_at(mut conn: Client, rev: i64) -> (Option<u32>, Option<i64>, Option<String>) {
    let mut errors = Vec::new();
    let hash = match tokio::time::timeout(REQUEST_TIMEOUT, conn.hash_kv(rev)).await {
        Ok(Ok(h)) => Some(h.hash()),
        Ok(Err(e)) => {
            errors.push(format!("HashKV: {}", client::classify(&e).1));
            None
        }
        Err(_) => {
            errors.push("HashKV: no answer".to_string());
            None
        }
    };
    let options = GetOptions::new().with_all_keys().with_count_only().with_serializable().with_revision(rev);
    let keys = match tokio::time::timeout(REQUEST_TIMEOUT, conn.get("", Some(options))).await {
        Ok(Ok(r)) => Some(r.count()),
        Ok(Err(e)) => {
            errors.push(format!("key count: {}", client::classify(&e).1));
            None
        }
        Err(_) => {
            errors.push("key count: no answer".to_string());
            None
        }
    };
    let error = (!errors.is_empty()).then(|| errors.join("; "));
    (hash, keys, error)
}

/// The members whose HashKV differs from the largest group's (all of them when no group is
/// largest): the members faultline's own check says hold other data. Empty when the hashes
/// agree.
pub fn hash_outliers(members: &[MemberFigures]) -> Vec<String> {
    let mut groups: Vec<(u32, Vec<&str>)> = Vec::new();
    for m in members {
        if let Some(h) = m.hash {
            match groups.iter_mut().find(|(g, _)| *g == h) {
                Some((_, n)) => n.push(&m.member),
                None => groups.push((h, vec![&m.member])),
            }
        }
    }
    if groups.len() <= 1 {
        return Vec::new();
    }
    let largest = groups.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
    let majority: Vec<u32> = groups.iter().filter(|(_, n)| n.len() == largest).map(|(h, _)| *h).collect();
    let keep = |h: u32| majority.len() == 1 && majority[0] == h;
    groups.iter().filter(|(h, _)| !keep(*h)).flat_map(|(_, n)| n.iter().map(|s| s.to_string())).collect()
}

/// The members whose figures are incomplete, and why: `n2 did not answer: connection refused`.
pub fn not_compared(members: &[MemberFigures]) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.revision.is_none() || m.hash.is_none() || m.keys.is_none())
        .map(|m| format!("{} did not answer: {}", m.member, m.error.as_deref().unwrap_or("no answer")))
        .collect()
}

/// What differs between the figures of the members that answered, in words: revisions,
/// hashes and key counts, each phrased against the members that agree. A member that did
/// not answer is not a difference (see [`not_compared`]).
pub fn differences(members: &[MemberFigures], rev: Option<i64>) -> Vec<String> {
    let mut out = Vec::new();
    let at = rev.map(|r| r.to_string()).unwrap_or_else(|| "?".to_string());
    fn column(members: &[MemberFigures], f: impl Fn(&MemberFigures) -> Option<i64>) -> Vec<(&str, i64)> {
        members.iter().filter_map(|m| f(m).map(|v| (m.member.as_str(), v))).collect()
    }

    let revisions = column(members, |m| m.revision);
    out.extend(phrase(
        &revisions,
        |v| v.to_string(),
        |who, v, others, w| format!("{} {} revision {v}, {others} {w}", join(who), verb(who, "has", "have")),
        "the revisions differ",
    ));

    let hashes = column(members, |m| m.hash.map(i64::from));
    let hex = |v: &i64| format!("{v:#010x}");
    out.extend(phrase(
        &hashes,
        hex,
        |who, v, others, w| {
            let others = if others == "the others" { "the others'".to_string() } else { possessive(&others) };
            format!("{} HashKV at {at} is {v}, {others} {w}", possessive(&join(who)))
        },
        &format!("the HashKVs at {at} differ"),
    ));

    let keys = column(members, |m| m.keys);
    out.extend(phrase(
        &keys,
        |v| v.to_string(),
        |who, v, others, w| format!("{} {} {v} keys at revision {at}, {others} {w}", join(who), verb(who, "holds", "hold")),
        &format!("the key counts at revision {at} differ"),
    ));
    out
}

/// Phrase the disagreement in `values`: against the largest group when there is one
/// (`sentence(outliers, their value, "the others" or the group's names, group's value)`),
/// else as a list after `heading`. Nothing when all agree.
fn phrase(values: &[(&str, i64)], show: impl Fn(&i64) -> String, sentence: impl Fn(&[&str], String, String, String) -> String, heading: &str) -> Vec<String> {
    let mut groups: Vec<(i64, Vec<&str>)> = Vec::new();
    for &(who, v) in values {
        match groups.iter_mut().find(|(g, _)| *g == v) {
            Some((_, names)) => names.push(who),
            None => groups.push((v, vec![who])),
        }
    }
    if groups.len() <= 1 {
        return Vec::new();
    }
    let largest = groups.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
    let mut leaders = groups.iter().filter(|(_, n)| n.len() == largest);
    let majority = match (leaders.next(), leaders.next()) {
        (Some(g), None) => g.clone(),
        _ => {
            let list: Vec<String> = values.iter().map(|(who, v)| format!("{who} {}", show(v))).collect();
            return vec![format!("{heading}: {}", list.join(", "))];
        }
    };
    groups
        .iter()
        .filter(|(v, _)| *v != majority.0)
        .map(|(v, who)| {
            let others = if who.len() + majority.1.len() == values.len() { "the others".to_string() } else { join(&majority.1) };
            sentence(who.as_slice(), show(v), others, show(&majority.0))
        })
        .collect()
}

/// `n1`, `n1 and n2`, `n1, n2 and n3`.
fn join(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `n3's`, `n2 and n3's` reads badly; `n2's and n3's` for a list.
fn possessive(joined: &str) -> String {
    joined.split(" and ").map(|part| part.split(", ").map(|n| format!("{n}'s")).collect::<Vec<_>>().join(", ")).collect::<Vec<_>>().join(" and ")
}

fn verb(who: &[&str], one: &'static str, many: &'static str) -> &'static str {
    if who.len() == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(member: &str, revision: i64, hash: u32, keys: i64) -> MemberFigures {
        MemberFigures { member: member.into(), revision: Some(revision), hash: Some(hash), keys: Some(keys), error: None }
    }

    #[test]
    fn agreement_has_no_differences() {
        let members = [figures("n1", 410, 7, 16), figures("n2", 410, 7, 16), figures("n3", 410, 7, 16)];
        assert!(differences(&members, Some(410)).is_empty());
    }

    #[test]
    fn one_member_off_is_named_against_the_others() {
        let members = [figures("n1", 410, 0x1234, 16), figures("n2", 410, 0x1234, 16), figures("n3", 412, 0xbad, 17)];
        assert_eq!(
            differences(&members, Some(410)),
            [
                "n3 has revision 412, the others 410",
                "n3's HashKV at 410 is 0x00000bad, the others' 0x00001234",
                "n3 holds 17 keys at revision 410, the others 16",
            ]
        );
    }

    #[test]
    fn several_groups_and_ties_are_listed() {
        let five = [figures("n1", 10, 1, 1), figures("n2", 10, 1, 1), figures("n3", 10, 1, 1), figures("n4", 11, 1, 1), figures("n5", 12, 1, 1)];
        assert_eq!(differences(&five, Some(10)), ["n4 has revision 11, n1, n2 and n3 10", "n5 has revision 12, n1, n2 and n3 10"]);
        let split = [figures("n1", 10, 1, 1), figures("n2", 10, 2, 1), figures("n3", 10, 2, 1), figures("n4", 10, 1, 1)];
        assert_eq!(differences(&split, Some(10)), ["the HashKVs at 10 differ: n1 0x00000001, n2 0x00000002, n3 0x00000002, n4 0x00000001"]);
        let pair = [figures("n1", 10, 1, 1), figures("n2", 10, 1, 1), figures("n3", 10, 5, 1), figures("n4", 10, 5, 1), figures("n5", 10, 1, 1)];
        assert_eq!(differences(&pair, Some(10)), ["n3's and n4's HashKV at 10 is 0x00000005, the others' 0x00000001"]);
    }

    /// Issue 15 item 5: a member that does not answer has not diverged.
    #[test]
    fn a_silent_member_is_not_compared_rather_than_diverged() {
        let silent = MemberFigures { member: "n2".into(), revision: None, hash: None, keys: None, error: Some("connection refused".into()) };
        let members = vec![figures("n1", 10, 1, 1), silent];
        assert!(differences(&members, Some(10)).is_empty());
        assert_eq!(not_compared(&members), ["n2 did not answer: connection refused"]);
        let c = Consistency {
            consistent: false,
            revision: Some(10),
            differences: differences(&members, Some(10)),
            not_compared: not_compared(&members),
            members,
            skipped: Vec::new(),
            waited_s: 0.0,
        };
        assert!(!c.diverged());
        assert_eq!(c.answer(), None, "not known, not false");
    }

    #[test]
    fn the_member_with_another_hash_is_the_outlier() {
        let members = [figures("n1", 10, 1, 1), figures("n2", 10, 9, 1), figures("n3", 10, 1, 1)];
        assert_eq!(hash_outliers(&members), ["n2"]);
        assert!(hash_outliers(&members[..1]).is_empty());
        let tie = [figures("n1", 10, 1, 1), figures("n2", 10, 9, 1)];
        assert_eq!(hash_outliers(&tie), ["n1", "n2"], "no majority: both named");
    }

    #[test]
    fn names_are_joined_in_english() {
        assert_eq!(join(&["n1"]), "n1");
        assert_eq!(join(&["n1", "n2"]), "n1 and n2");
        assert_eq!(join(&["n1", "n2", "n3"]), "n1, n2 and n3");
        assert_eq!(possessive("n1, n2 and n3"), "n1's, n2's and n3's");
    }
}
