//! `kv`: one string per key with get, put and append (Porcupine's kv model). The state
//! starts as the empty string, which is also what a get of a missing key returns.

use crate::checker::Model;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// A key's string, shared (a configuration's state is cloned by bumping a count) and with a
/// polynomial hash kept up to date as it grows: equal strings hash alike however they were
/// built, and hashing a state costs nothing however long the appends have made it.
#[derive(Clone, Debug)]
pub struct Text {
    hash: u64,
    text: Rc<str>,
}

const BASE: u64 = 0x100_0000_01b3;

fn poly(s: &str) -> u64 {
    s.bytes().fold(0u64, |h, b| h.wrapping_mul(BASE).wrapping_add(b as u64 + 1))
}

impl Text {
    /// A string as a state.
    pub fn new(s: &str) -> Text {
        Text { hash: poly(s), text: Rc::from(s) }
    }

    fn append(&self, v: &str) -> Text {
        let mut t = String::with_capacity(self.text.len() + v.len());
        t.push_str(&self.text);
        t.push_str(v);
        Text { hash: self.hash.wrapping_mul(BASE.wrapping_pow(v.len() as u32)).wrapping_add(poly(v)), text: Rc::from(t) }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Text {
    fn eq(&self, o: &Text) -> bool {
        self.hash == o.hash && (Rc::ptr_eq(&self.text, &o.text) || self.text == o.text)
    }
}

impl Eq for Text {}

impl Hash for Text {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash)
    }
}

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
    type State = Text;
    type Input = KvIn;
    type Output = KvOut;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> Text {
        Text::new("")
    }

    fn step(&self, s: &Text, i: &KvIn, o: Option<&KvOut>) -> Option<Text> {
        match (i, o) {
            (KvIn::Get, Some(KvOut::Got(v))) => (v.as_str() == s.as_str()).then(|| s.clone()),
            (KvIn::Get, _) => Some(s.clone()),
            (KvIn::Put(v), _) => Some(Text::new(v)),
            (KvIn::Append(v), _) => Some(s.append(v)),
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

    fn describe_state(&self, s: &Text) -> String {
        format!("{:?}", s.as_str())
    }

    fn read_only(&self, i: &KvIn, _o: &KvOut) -> bool {
        matches!(i, KvIn::Get)
    }

    fn unknown_is_noop(&self, i: &KvIn) -> bool {
        matches!(i, KvIn::Get)
    }
}
