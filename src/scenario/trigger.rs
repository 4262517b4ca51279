//! Triggers: a fault that starts `when:` something happens instead of `at:` a time, and ends
//! `until:` a condition instead of `for:` a duration (issue 19).
//!
//! ```yaml
//! ops:
//!   - {id: d1, at: 10s, op: defrag, target: n2}
//! faults:
//!   - {when: "d1 started + 20ms", for: 5s, kind: kill, target: n2}
//!   - {at: 5s, until: snapshot, within: 60s, kind: partition, mode: isolate, target: n3}
//! ```
//!
//! What a trigger waits for is a [`Happening`]: a fault or op with an `id:` started or
//! finished, or a member needs a snapshot (the leader compacted its raft log past the index
//! the member has). The walker (`runner/walk.rs`) turns a happening into a step at the time it
//! happened plus the trigger's delay; a condition that never comes within the bound makes
//! the run invalid, saying what was waited for.

use super::units::Span;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Something that happens during a run, which a trigger can wait for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Happening {
    /// The fault or op with this `id:` began: a fault's injection began, an op was sent.
    Started(String),
    /// The fault or op with this `id:` ended: a fault healed, an op answered (and verified).
    Finished(String),
    /// The leader compacted its raft log past this member's last index: the member can only
    /// catch up from a snapshot.
    NeedsSnapshot(String),
}

impl fmt::Display for Happening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Happening::Started(id) => write!(f, "{id} started"),
            Happening::Finished(id) => write!(f, "{id} finished"),
            Happening::NeedsSnapshot(m) => write!(f, "{m} needs snapshot"),
        }
    }
}

/// `when:` — a happening, and how long after it the fault starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// What it waits for.
    pub on: Happening,
    /// How long after it (`+ 20ms`).
    pub delay: Duration,
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.delay.is_zero() {
            write!(f, "{}", self.on)
        } else {
            write!(f, "{} + {}", self.on, Span(self.delay))
        }
    }
}

impl Serialize for When {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `until:` — what heals the fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// `until: snapshot`: once every member the fault hit needs a snapshot to catch up.
    Snapshot,
    /// `until: "d1 finished + 1s"`: a happening (and a delay).
    When(When),
}

impl fmt::Display for Until {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Until::Snapshot => f.write_str("snapshot"),
            Until::When(w) => w.fmt(f),
        }
    }
}

impl Serialize for Until {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An `id:` as a scenario may write it: a letter, then letters, digits, `-` or `_` — and not
/// a member's name (`n2` names a member in `"n2 needs snapshot"`).
pub fn check_id(id: &str) -> Result<(), String> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!("`id: {id}` is not a name: begin with a letter, then letters, digits, `-` or `_` (e.g. `id: d1`)"));
    }
    if is_member_name(id) {
        return Err(format!("`id: {id}` is a member's name: name faults and ops otherwise (e.g. `id: f{}`)", &id[1..]));
    }
    Ok(())
}

fn is_member_name(s: &str) -> bool {
    s.len() > 1 && s.starts_with('n') && s[1..].chars().all(|c| c.is_ascii_digit())
}

const WHEN_FORMS: &str =
    "`ID started`, `ID finished` (ID a fault's or op's `id:`) or `nK needs snapshot`, optionally `+ DURATION` (e.g. `when: \"d1 started + 20ms\"`)";

/// Read `"d1 started + 20ms"`, `"f2 finished"`, `"n2 needs snapshot"`. Which ids and members
/// exist is checked by the caller.
pub fn parse_when(text: &str) -> Result<When, String> {
    let (event, delay) = match text.split_once('+') {
        Some((e, d)) => {
            let d = d.trim();
            let span = Span::parse(d).map_err(|e| format!("`{text}`: the delay `{d}` is not a duration ({e}); write e.g. `+ 20ms`"))?;
            (e.trim(), span.0)
        }
        None => (text.trim(), Duration::ZERO),
    };
    let words: Vec<&str> = event.split_whitespace().collect();
    let on = match words.as_slice() {
        [id, "started"] => Happening::Started(id.to_string()),
        [id, "finished"] => Happening::Finished(id.to_string()),
        [m, "needs", "snapshot"] if is_member_name(m) => Happening::NeedsSnapshot(m.to_string()),
        [m, "needs", "snapshot"] => {
            return Err(format!("`{text}`: `{m}` is not a member (n1, n2, ...): `nK needs snapshot` names the member that must need one"))
        }
        [_, w] if w.starts_with("start") || w.starts_with("finish") || w.starts_with("end") || w.starts_with("heal") => {
            return Err(format!("`{text}`: say `started` or `finished`; the forms are {WHEN_FORMS}"))
        }
        _ => return Err(format!("`{text}` is not a trigger: the forms are {WHEN_FORMS}")),
    };
    Ok(When { on, delay })
}

/// Read `until:`: `snapshot` or a `when:`-form happening.
pub fn parse_until(text: &str) -> Result<Until, String> {
    match text.trim() {
        "snapshot" => Ok(Until::Snapshot),
        t => parse_when(t).map(Until::When).map_err(|e| format!("{e}; or `until: snapshot` (heal once the fault's members need a snapshot to catch up)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_read_as_written_and_print_back_the_same() {
        for (text, on, ms) in [
            ("d1 started + 20ms", Happening::Started("d1".into()), 20),
            ("f2 finished", Happening::Finished("f2".into()), 0),
            ("n2 needs snapshot", Happening::NeedsSnapshot("n2".into()), 0),
            ("  defrag-a   started+1s ", Happening::Started("defrag-a".into()), 1000),
        ] {
            let w = parse_when(text).unwrap();
            assert_eq!(w, When { on, delay: Duration::from_millis(ms) }, "{text}");
            assert_eq!(parse_when(&w.to_string()).unwrap(), w);
        }
        assert_eq!(parse_until("snapshot").unwrap(), Until::Snapshot);
        assert_eq!(parse_until("d1 finished + 1s").unwrap().to_string(), "d1 finished + 1s");
    }

    #[test]
    fn a_trigger_that_is_not_one_says_the_forms() {
        let e = parse_when("d1 begins").unwrap_err();
        assert!(e.contains("the forms are") && e.contains("needs snapshot"), "{e}");
        assert!(parse_when("d1 start").unwrap_err().contains("say `started` or `finished`"));
        assert!(parse_when("d1 started + soon").unwrap_err().contains("the delay `soon` is not a duration"));
        assert!(parse_when("leader needs snapshot").unwrap_err().contains("`leader` is not a member"));
        assert!(parse_until("healed").unwrap_err().contains("until: snapshot"));
    }

    #[test]
    fn ids_are_names_and_not_members() {
        assert!(check_id("d1").is_ok() && check_id("kill-2").is_ok());
        assert!(check_id("2x").unwrap_err().contains("begin with a letter"));
        assert!(check_id("n2").unwrap_err().contains("a member's name"));
        assert!(check_id("a b").is_err());
    }
}
