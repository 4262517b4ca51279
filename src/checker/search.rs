//! The search for one key: Lowe's just-in-time linearization over configurations.
//!
//! Events (invocations and returns) are visited in time order. A *configuration* is a model
//! state plus the set of pending operations (invoked, not yet returned) already linearized.
//! At an invocation the operation joins the pending slots. At the return of operation `o`,
//! every configuration that has not linearized `o` is extended by linearizing pending
//! operations one at a time, in every order, until `o` is linearized; configurations are
//! deduplicated at each step. If none survives, no legal order exists: the history is not
//! linearizable and `o` is where it broke. Configurations carry one linearization order that
//! reached them (a shared list), for the explanation.

use super::{Failure, KeyResult, Model, Observation, OpView, Operation, Verdict};
use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// A hash map with a fixed hasher: the same input gives the same search order, the same
/// explanation and the same page, run after run.
type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<DefaultHasher>>;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A growable bit set with a canonical form (no trailing zero words), so equal sets hash alike.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
struct Bits(Vec<u64>);

impl Bits {
    fn has(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn with(&self, i: usize) -> Bits {
        let mut b = self.clone();
        if b.0.len() <= i / 64 {
            b.0.resize(i / 64 + 1, 0);
        }
        b.0[i / 64] |= 1 << (i % 64);
        b
    }
    fn without(mut self, i: usize) -> Bits {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }
}

/// One linearization order, as a shared singly linked list (newest first).
struct Path {
    op: usize,
    len: usize,
    prev: Option<Rc<Path>>,
}

fn extend(prev: &Option<Rc<Path>>, op: usize) -> Option<Rc<Path>> {
    let len = prev.as_ref().map_or(0, |p| p.len) + 1;
    Some(Rc::new(Path { op, len, prev: prev.clone() }))
}

fn len(p: &Option<Rc<Path>>) -> usize {
    p.as_ref().map_or(0, |p| p.len)
}

/// A path as shared by configurations.
type Trail = Option<Rc<Path>>;

fn order(p: &Option<Rc<Path>>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut cur = p.clone();
    while let Some(n) = cur {
        out.push(n.op);
        cur = n.prev.clone();
    }
    out.reverse();
    out
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // At equal times, invocations come first: operations touching at an instant overlap.
    // A retirement comes after the return of the last operation that could observe it.
    Call = 0,
    Return = 1,
    Retire = 2,
}

/// Check one key's operations. `stop` asks an early end (another key already failed).
pub fn check_key<M: Model>(
    model: &M,
    key: &str,
    ops: &[Operation<M::Input, M::Output>],
    deadline: Instant,
    stop: &AtomicBool,
) -> (KeyResult, Option<Failure>) {
    let started = Instant::now();
    // Drop what cannot matter: unknown no-ops (reads), and unknown operations whose effect
    // nobody observes. Retire the others after the last operation that could observe them.
    let mut last_seen: HashMap<u64, u64> = HashMap::default();
    let mut last_any: Option<u64> = None;
    for op in ops {
        if let (Some(out), Some(ret)) = (&op.output, op.ret) {
            match model.observes(&op.input, out) {
                Observation::Token(tok) => {
                    let e = last_seen.entry(tok).or_insert(0);
                    *e = (*e).max(ret);
                }
                Observation::Any => last_any = Some(last_any.unwrap_or(0).max(ret)),
                Observation::Nothing => {}
            }
        }
    }
    // An unknown operation lives until the last operation that could observe its effect;
    // an unknown cas observes its `from` for as long as it lives, so chains of unknown
    // operations keep each other alive: iterate to a fixpoint.
    let mut retire: Vec<Option<u64>> = vec![None; ops.len()];
    loop {
        let mut changed = false;
        for (i, op) in ops.iter().enumerate() {
            if op.ret.is_some() || model.unknown_is_noop(&op.input) {
                continue;
            }
            let Some(tok) = model.effect(&op.input) else { continue };
            let until = last_seen.get(&tok).copied().max(last_any).filter(|t| *t >= op.call);
            if until != retire[i] {
                retire[i] = until;
                changed = true;
            }
            if let (Some(t), Observation::Token(dep)) = (until, model.observes_if_unknown(&op.input)) {
                let e = last_seen.entry(dep).or_insert(0);
                if *e < t {
                    *e = t;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut events: Vec<(u64, Kind, usize)> = Vec::with_capacity(ops.len() * 2);
    let mut dropped = 0;
    for (i, op) in ops.iter().enumerate() {
        match op.ret {
            Some(r) => {
                events.push((op.call, Kind::Call, i));
                events.push((r.max(op.call), Kind::Return, i));
            }
            None => {
                if model.unknown_is_noop(&op.input) {
                    dropped += 1;
                    continue;
                }
                match (model.effect(&op.input), retire[i]) {
                    (None, _) => events.push((op.call, Kind::Call, i)),
                    (Some(_), Some(t)) => {
                        events.push((op.call, Kind::Call, i));
                        events.push((t, Kind::Retire, i));
                    }
                    (Some(_), None) => dropped += 1,
                }
            }
        }
    }
    events.sort_by_key(|&(t, k, i)| (t, k, i));
    if events.iter().all(|&(_, k, _)| k != Kind::Retire) && ops.iter().all(|op| op.ret.is_some() || model.unknown_is_noop(&op.input)) {
        // Every operation that matters returns: a depth-first search finds an order fastest.
        let kept: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_some()).collect();
        let sub: Vec<Operation<M::Input, M::Output>> = kept.iter().map(|&i| ops[i].clone()).collect();
        let checked = sub.len();
        let (verdict, failure) = match super::wgl::search(model, &sub, deadline, stop) {
            super::wgl::Outcome::Linearizable => (Verdict::Linearizable, None),
            super::wgl::Outcome::Unknown => (Verdict::Unknown, None),
            super::wgl::Outcome::NotLinearizable { longest, culprit } => {
                let partial: Vec<usize> = longest.iter().map(|&i| kept[i]).collect();
                let c = kept[culprit];
                let pending: Vec<usize> = (0..ops.len())
                    .filter(|&i| ops[i].ret.is_some() && ops[i].call <= ops[c].ret.unwrap_or(u64::MAX) && ops[i].ret.unwrap_or(u64::MAX) >= ops[c].call)
                    .collect();
                // The state the longest legal order leaves the key in.
                let mut st = model.init();
                for &i in &partial {
                    if let Some(s2) = model.step(&st, &ops[i].input, ops[i].output.as_ref()) {
                        st = s2;
                    }
                }
                (Verdict::NotLinearizable, Some(build_failure(model, key, ops, c, &pending, partial, &[st])))
            }
        };
        let r = KeyResult { key: key.to_string(), ops: checked, dropped: ops.len() - checked, verdict, seconds: started.elapsed().as_secs_f64(), peak_configs: 0 };
        return (r, failure);
    }

    let mut configs: Frontier<M::State> = Frontier::default();
    configs.insert(model.init(), Bits::default(), Bits::default(), None);
    // Operations with a return use "definite" slots; unknown ones "info" slots. A
    // configuration with fewer info operations linearized dominates one with more at the
    // same state and definite set (it can still linearize them later), so only the minimal
    // info sets are kept.
    let mut slot_of: Vec<usize> = vec![usize::MAX; ops.len()];
    let mut def_slots = Slots::default();
    let mut info_slots = Slots::default();
    let mut pending: Vec<usize> = Vec::new(); // op indices currently pending
    let mut peak = 1;
    let checked = ops.len() - dropped;

    let result = |verdict, peak, failure| {
        (
            KeyResult { key: key.to_string(), ops: checked, dropped, verdict, seconds: started.elapsed().as_secs_f64(), peak_configs: peak },
            failure,
        )
    };

    for (n, &(_, kind, o)) in events.iter().enumerate() {
        if n % 64 == 0 && (Instant::now() >= deadline || stop.load(Ordering::Relaxed)) {
            return result(Verdict::Unknown, peak, None);
        }
        match kind {
            Kind::Call => {
                slot_of[o] = if ops[o].ret.is_some() { def_slots.take() } else { info_slots.take() };
                pending.push(o);
            }
            Kind::Retire => {
                let s = slot_of[o];
                pending.retain(|&p| p != o);
                info_slots.give(s);
                let old = std::mem::take(&mut configs);
                for (st, def, info, path) in old.into_iter() {
                    configs.insert(st, def, info.without(s), path);
                }
            }
            Kind::Return => {
                let s = slot_of[o];
                let old = std::mem::take(&mut configs);
                let mut next: Frontier<M::State> = Frontier::default();
                let mut seen: Frontier<M::State> = Frontier::default();
                let mut stack: Vec<(M::State, Bits, Bits, Trail)> = Vec::new();
                let mut best: Option<Rc<Path>> = None;
                let mut before: Vec<M::State> = Vec::new();
                for (st, def, info, path) in old.into_iter() {
                    if before.len() < 8 && !before.contains(&st) {
                        before.push(st.clone());
                    }
                    if def.has(s) {
                        next.insert(st, def.without(s), info, path);
                    } else if seen.insert(st.clone(), def.clone(), info.clone(), None) {
                        stack.push((st, def, info, path));
                    }
                }
                let mut steps = 0usize;
                while let Some((st, def, info, path)) = stack.pop() {
                    steps += 1;
                    if steps % 4096 == 0 && Instant::now() >= deadline {
                        return result(Verdict::Unknown, peak, None);
                    }
                    if len(&path) > len(&best) {
                        best = path.clone();
                    }
                    for &p in &pending {
                        let ps = slot_of[p];
                        let is_info = ops[p].ret.is_none();
                        if (is_info && info.has(ps)) || (!is_info && def.has(ps)) {
                            continue;
                        }
                        let op = &ops[p];
                        let Some(st2) = model.step(&st, &op.input, op.output.as_ref()) else { continue };
                        let path2 = extend(&path, p);
                        if p == o {
                            next.insert(st2, def.clone(), info.clone(), path2);
                        } else {
                            let (d2, i2) = if is_info { (def.clone(), info.with(ps)) } else { (def.with(ps), info.clone()) };
                            if seen.insert(st2.clone(), d2.clone(), i2.clone(), None) {
                                stack.push((st2, d2, i2, path2));
                            }
                        }
                    }
                }
                peak = peak.max(seen.len()).max(next.len());
                if next.is_empty() {
                    let failure = build_failure(model, key, ops, o, &pending, order(&best), &before);
                    return result(Verdict::NotLinearizable, peak, Some(failure));
                }
                configs = next;
                pending.retain(|&p| p != o);
                def_slots.give(s);
            }
        }
    }
    result(Verdict::Linearizable, peak, None)
}

/// Slot numbers, reused once freed so bit sets stay small.
#[derive(Default)]
struct Slots {
    free: Vec<usize>,
    next: usize,
}

impl Slots {
    fn take(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
    fn give(&mut self, s: usize) {
        self.free.push(s);
    }
}

impl Bits {
    fn subset_of(&self, other: &Bits) -> bool {
        self.0.iter().enumerate().all(|(i, w)| w & !other.0.get(i).copied().unwrap_or(0) == 0)
    }
}

/// Configurations: for each (state, definite set), the minimal info sets (an antichain
/// under inclusion), each with one order that reached it.
struct Frontier<S> {
    map: HashMap<(S, Bits), Vec<(Bits, Trail)>>,
    count: usize,
}

impl<S> Default for Frontier<S> {
    fn default() -> Self {
        Frontier { map: HashMap::default(), count: 0 }
    }
}

impl<S: Eq + std::hash::Hash + Clone> Frontier<S> {
    /// Add a configuration unless one that dominates it is present; true if added.
    fn insert(&mut self, st: S, def: Bits, info: Bits, path: Option<Rc<Path>>) -> bool {
        let v = self.map.entry((st, def)).or_default();
        if v.iter().any(|(i, _)| i.subset_of(&info)) {
            return false;
        }
        let before = v.len();
        v.retain(|(i, _)| !info.subset_of(i));
        self.count -= before - v.len();
        v.push((info, path));
        self.count += 1;
        true
    }

    fn len(&self) -> usize {
        self.count
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn into_iter(self) -> impl Iterator<Item = (S, Bits, Bits, Option<Rc<Path>>)> {
        self.map.into_iter().flat_map(|((st, def), v)| v.into_iter().map(move |(info, p)| (st.clone(), def.clone(), info, p)))
    }
}

/// The explanation of a failure at operation `culprit`.
fn build_failure<M: Model>(
    model: &M,
    key: &str,
    ops: &[Operation<M::Input, M::Output>],
    culprit: usize,
    pending: &[usize],
    partial: Vec<usize>,
    before: &[M::State],
) -> Failure {
    let views: Vec<OpView> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| OpView {
            index: i,
            client: op.client,
            call: op.call,
            ret: op.ret,
            text: model.describe(&op.input, op.output.as_ref()),
            origin: op.origin.clone(),
        })
        .collect();
    // The window: everything pending when the culprit returned (it had to be ordered with the
    // culprit), plus the last few operations of the longest legal order (what fixed the
    // state), in time order.
    let mut window: Vec<usize> = pending.to_vec();
    for &p in partial.iter().rev().take(4) {
        if !window.contains(&p) {
            window.push(p);
        }
    }
    if !window.contains(&culprit) {
        window.push(culprit);
    }
    window.sort_by_key(|&i| (ops[i].call, i));
    Failure {
        key: key.to_string(),
        ops: views,
        culprit,
        window,
        partial,
        states_before: before.iter().map(|s| model.describe_state(s)).collect(),
    }
}
