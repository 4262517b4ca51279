//! `register`: one value per key with read, write and compare-and-set (the workload of
//! `faultline run`, and Jepsen's etcd register). Values are interned to numbers by the
//! history readers; 0 means "absent" (a read that found no key).
//!
//! A cas that failed because its compare was false is evidence too: at its linearization
//! point the value was not `from` (as Porcupine's etcd model uses it).

use crate::checker::{Model, Observation};

/// A register value: 0 = absent, else an interned value.
pub type Val = u32;

/// The state standing for any value that no operation observes (see [`Model::anonymous`]).
pub const ANONYMOUS: Val = Val::MAX;

/// What a register operation asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegIn {
    /// Read the value.
    Read,
    /// Store a value.
    Write(Val),
    /// If the value is `from`, store `to`.
    Cas(Val, Val),
}

/// What it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegOut {
    /// A read's value (0 = absent).
    Read(Val),
    /// A write took effect.
    Written,
    /// A cas found `from` and stored `to`.
    Swapped,
    /// A cas found a value other than `from` and changed nothing.
    CompareFailed,
}

/// The register model; `names` turns interned values back into text for messages.
#[derive(Debug, Clone, Default)]
pub struct Register {
    /// Interned value texts (index = value - 1).
    pub names: Vec<String>,
}

impl Register {
    fn show(&self, v: Val) -> String {
        if v == ANONYMOUS {
            "(a value no operation reads)".into()
        } else if v == 0 {
            "nil".into()
        } else {
            self.names.get(v as usize - 1).cloned().unwrap_or_else(|| format!("#{v}"))
        }
    }
}

impl Model for Register {
    type State = Val;
    type Input = RegIn;
    type Output = RegOut;

    fn name(&self) -> &'static str {
        "register"
    }

    fn init(&self) -> Val {
        0
    }

    fn step(&self, s: &Val, i: &RegIn, o: Option<&RegOut>) -> Option<Val> {
        match (i, o) {
            (RegIn::Read, Some(RegOut::Read(v))) => (v == s).then_some(*s),
            (RegIn::Read, _) => Some(*s),
            (RegIn::Write(v), _) => Some(*v),
            (RegIn::Cas(from, to), Some(RegOut::Swapped)) => (from == s).then_some(*to),
            (RegIn::Cas(from, _), Some(RegOut::CompareFailed)) => (from != s).then_some(*s),
            (RegIn::Cas(from, to), None) => Some(if from == s { *to } else { *s }),
            (RegIn::Cas(..), Some(_)) => None,
        }
    }

    fn describe(&self, i: &RegIn, o: Option<&RegOut>) -> String {
        match (i, o) {
            (RegIn::Read, Some(RegOut::Read(v))) => format!("read → {}", self.show(*v)),
            (RegIn::Read, _) => "read → ?".into(),
            (RegIn::Write(v), None) => format!("write {} (outcome unknown)", self.show(*v)),
            (RegIn::Write(v), _) => format!("write {}", self.show(*v)),
            (RegIn::Cas(f, t), Some(RegOut::CompareFailed)) => format!("cas {}→{} failed (value was not {})", self.show(*f), self.show(*t), self.show(*f)),
            (RegIn::Cas(f, t), None) => {
                format!("cas {}→{} (outcome unknown)", self.show(*f), self.show(*t))
            }
            (RegIn::Cas(f, t), _) => format!("cas {}→{}", self.show(*f), self.show(*t)),
        }
    }

    fn describe_state(&self, s: &Val) -> String {
        self.show(*s)
    }

    fn effect(&self, i: &RegIn) -> Option<u64> {
        match i {
            RegIn::Write(v) | RegIn::Cas(_, v) => Some(*v as u64),
            RegIn::Read => None,
        }
    }

    fn observes(&self, i: &RegIn, o: &RegOut) -> Observation {
        match (i, o) {
            (RegIn::Read, RegOut::Read(v)) => Observation::Token(*v as u64),
            (RegIn::Cas(f, _), RegOut::Swapped) => Observation::Token(*f as u64),
            // Any other value makes a failed compare legal.
            (RegIn::Cas(f, _), RegOut::CompareFailed) => Observation::AnyBut(*f as u64),
            _ => Observation::Nothing,
        }
    }

    fn observes_if_unknown(&self, i: &RegIn) -> Observation {
        match i {
            RegIn::Cas(f, _) => Observation::Token(*f as u64),
            _ => Observation::Nothing,
        }
    }

    fn read_only(&self, i: &RegIn, o: &RegOut) -> bool {
        matches!((i, o), (RegIn::Read, _) | (RegIn::Cas(..), RegOut::CompareFailed))
    }

    fn state_token(&self, s: &Val) -> Option<u64> {
        (*s != ANONYMOUS).then_some(*s as u64)
    }

    fn anonymous(&self) -> Option<Val> {
        Some(ANONYMOUS)
    }

    fn unconditional(&self, i: &RegIn) -> bool {
        matches!(i, RegIn::Write(_))
    }

    fn unknown_is_noop(&self, i: &RegIn) -> bool {
        matches!(i, RegIn::Read)
    }
}
