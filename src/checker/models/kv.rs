//! `kv`: one string per key with get, put and append (Porcupine's kv model). The state
//! starts as the empty string, which is also what a get of a missing key returns.

use crate::checker::Model;

/// What a kv operation asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvIn {
    /// Read the string.
    Get,
    /// Replace it.
    Put(String),
    /// Concatenate to it.
    Append(String),
}

/// What it returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvOut {
    /// A get's string.
    Got(String),
    /// A put or append took effect.
    Done,
}

/// The kv model.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

impl Model for Kv {
    type State = String;
    type Input = KvIn;
    type Output = KvOut;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> String {
        String::new()
    }

    fn step(&self, s: &String, i: &KvIn, o: Option<&KvOut>) -> Option<String> {
        match (i, o) {
            (KvIn::Get, Some(KvOut::Got(v))) => (v == s).then(|| s.clone()),
            (KvIn::Get, _) => Some(s.clone()),
            (KvIn::Put(v), _) => Some(v.clone()),
            (KvIn::Append(v), _) => Some(format!("{s}{v}")),
        }
    }

    fn describe(&self, i: &KvIn, o: Option<&KvOut>) -> String {
        match (i, o) {
            (KvIn::Get, Some(KvOut::Got(v))) => format!("get → {v:?}"),
            (KvIn::Get, _) => "get → ?".into(),
            (KvIn::Put(v), _) => format!("put {v:?}"),
            (KvIn::Append(v), _) => format!("append {v:?}"),
        }
    }

    fn describe_state(&self, s: &String) -> String {
        format!("{s:?}")
    }

    fn read_only(&self, i: &KvIn, _o: &KvOut) -> bool {
        matches!(i, KvIn::Get)
    }

    fn unknown_is_noop(&self, i: &KvIn) -> bool {
        matches!(i, KvIn::Get)
    }
}
