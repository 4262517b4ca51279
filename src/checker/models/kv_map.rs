//! `kv` without splitting by key: the whole map is one object (Porcupine's unpartitioned kv
//! model). Slower than checking key by key, and it must give the same verdict: the tests use
//! it to show P-compositionality holds on real histories.

use super::kv::{Kv, KvIn, KvOut, Text};
use crate::checker::{Model, Operation};
use std::collections::BTreeMap;

/// The map model.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvMap;

impl Model for KvMap {
    type State = BTreeMap<String, String>;
    type Input = (String, KvIn);
    type Output = KvOut;

    fn name(&self) -> &'static str {
        "kv-map"
    }

    fn init(&self) -> Self::State {
        BTreeMap::new()
    }

    fn step(&self, s: &Self::State, (key, i): &Self::Input, o: Option<&KvOut>) -> Option<Self::State> {
        let cur = s.get(key).cloned().unwrap_or_default();
        let next = Kv.step(&Text::new(&cur), i, o)?.as_str().to_string();
        if next == cur {
            return Some(s.clone());
        }
        let mut s2 = s.clone();
        s2.insert(key.clone(), next);
        Some(s2)
    }

    fn describe(&self, (key, i): &Self::Input, o: Option<&KvOut>) -> String {
        format!("{key}: {}", Kv.describe(i, o))
    }

    fn describe_state(&self, s: &Self::State) -> String {
        format!("{s:?}")
    }

    fn read_only(&self, (_, i): &Self::Input, _o: &KvOut) -> bool {
        matches!(i, KvIn::Get)
    }

    fn unknown_is_noop(&self, (_, i): &Self::Input) -> bool {
        matches!(i, KvIn::Get)
    }
}

/// The same operations as one object: every operation's key goes into its input.
pub fn unsplit(ops: Vec<Operation<KvIn, KvOut>>) -> Vec<Operation<(String, KvIn), KvOut>> {
    ops.into_iter()
        .map(|o| Operation { client: o.client, key: "*".into(), call: o.call, ret: o.ret, input: (o.key, o.input), output: o.output, origin: o.origin })
        .collect()
}
