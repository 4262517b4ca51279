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
use rustc_hash::FxHasher;
use smallvec::SmallVec;
use std::collections::HashMap as StdHashMap;
use std::hash::BuildHasherDefault;

/// A hash map with a fixed hasher: the same input gives the same search order, the same
/// explanation and the same page, run after run.
type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;
use std::cell::Cell;
use std::rc::Rc;

/// No slot.
const NONE: usize = usize::MAX;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A growable bit set with a canonical form (no trailing zero words), so equal sets hash alike.
/// Slots are reused, so sets are small: two words inline, no allocation.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
struct Bits(SmallVec<[u64; 2]>);

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

impl Drop for Path {
    // Dropped iteratively: a recursive drop of a long order would overflow the stack.
    fn drop(&mut self) {
        let mut prev = self.prev.take();
        while let Some(rc) = prev {
            match Rc::try_unwrap(rc) {
                Ok(mut p) => prev = p.prev.take(),
                Err(_) => break,
            }
        }
    }
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
    Call = 0,
    Return = 1,
    // After the return of the last operation that observes an unknown operation's effect by
    // token, it is only tried just before an operation that needs any change (a "helper").
    Demote = 2,
    // After the return of the last operation that could observe it at all, it is forgotten.
    Retire = 3,
}

/// Check one key's operations. `stop` asks an early end (another key already failed).
pub fn check_key<M: Model>(model: &M, key: &str, ops: &[Operation<M::Input, M::Output>], deadline: Instant, stop: &AtomicBool) -> (KeyResult, Option<Failure>) {
    let started = Instant::now();
    // What completed operations observe: the last return of an observer of each token, the
    // last return of an operation helped by any change, and the tokens those must not see.
    let mut last_seen: HashMap<u64, u64> = HashMap::default();
    let mut last_any_but: Option<u64> = None;
    let mut hindered: HashMap<u64, u64> = HashMap::default(); // token → last return of an op it hinders
    let mut any_but = vec![false; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        if let (Some(out), Some(ret)) = (&op.output, op.ret) {
            match model.observes(&op.input, out) {
                Observation::Token(tok) => {
                    let e = last_seen.entry(tok).or_insert(0);
                    *e = (*e).max(ret);
                }
                Observation::AnyBut(except) => {
                    last_any_but = last_any_but.max(Some(ret));
                    let e = hindered.entry(except).or_insert(0);
                    *e = (*e).max(ret);
                    any_but[i] = true;
                }
                Observation::Nothing => {}
            }
        }
    }
    let any_until = |op: &Operation<M::Input, M::Output>| last_any_but.filter(|&t| t >= op.call);
    // An unknown operation may be linearized freely until the last operation that could
    // observe its effect by token returns; an unknown cas observes its `from` for as long as
    // it lives itself, so chains of unknown operations keep each other alive: iterate to a
    // fixpoint.
    let mut token_until: Vec<Option<u64>> = vec![None; ops.len()];
    loop {
        let mut changed = false;
        for (i, op) in ops.iter().enumerate() {
            if op.ret.is_some() || model.unknown_is_noop(&op.input) {
                continue;
            }
            let Some(tok) = model.effect(&op.input) else {
                continue;
            };
            let t1 = last_seen.get(&tok).copied().filter(|t| *t >= op.call);
            if t1 != token_until[i] {
                token_until[i] = t1;
                changed = true;
            }
            if let (Some(t), Observation::Token(dep)) = (t1.max(any_until(op)), model.observes_if_unknown(&op.input)) {
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
    // At time `now`, states whose token no operation still to be linearized can observe
    // (every reader returned before `now`, every cas it would fail returned too) are all
    // alike (see `Model::anonymous`). `now` = 0: tokens nobody observes at all.
    let anonymous = model.anonymous();
    let quiet = |t: u64, now: u64| last_seen.get(&t).is_none_or(|&r| r < now) && hindered.get(&t).is_none_or(|&r| r < now);
    let canon_at = |st: M::State, now: u64| -> M::State {
        match (&anonymous, model.state_token(&st)) {
            (Some(a), Some(t)) if quiet(t, now) => a.clone(),
            _ => st,
        }
    };
    let canon = |st: M::State| canon_at(st, 0);
    let mut events: Vec<(u64, Kind, usize)> = Vec::with_capacity(ops.len() * 2);
    let mut dropped = 0;
    let mut unknown_kept = 0;
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
                if model.effect(&op.input).is_none() {
                    // Cannot tell who observes it: pending for the rest of the history.
                    events.push((op.call, Kind::Call, i));
                    unknown_kept += 1;
                    continue;
                }
                match (token_until[i], any_until(op)) {
                    (None, None) => dropped += 1,
                    (Some(t1), t2) if t2.is_none_or(|t2| t2 <= t1) => {
                        events.push((op.call, Kind::Call, i));
                        events.push((t1, Kind::Retire, i));
                        unknown_kept += 1;
                    }
                    (t1, t2) => {
                        events.push((op.call, Kind::Call, i));
                        events.push((t1.unwrap_or(op.call), Kind::Demote, i));
                        events.push((t2.unwrap_or(op.call), Kind::Retire, i));
                        unknown_kept += 1;
                    }
                }
            }
        }
    }
    events.sort_by_key(|&(t, k, i)| (t, k, i));
    if unknown_kept == 0 {
        // Every operation that matters returns: a depth-first search finds an order fastest.
        // In call order, so that the search's linearized sets are a prefix and a short window.
        let mut kept: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_some()).collect();
        kept.sort_by_key(|&i| (ops[i].call, i));
        let sub: Vec<&Operation<M::Input, M::Output>> = kept.iter().map(|&i| &ops[i]).collect();
        let checked = sub.len();
        let (verdict, failure) = match super::wgl::search(model, &sub, &canon, deadline, stop) {
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
        let r =
            KeyResult { key: key.to_string(), ops: checked, dropped: ops.len() - checked, verdict, seconds: started.elapsed().as_secs_f64(), peak_configs: 0 };
        return (r, failure);
    }

    let mut configs: Frontier<M::State> = Frontier::default();
    configs.insert(canon(model.init()), Bits::default(), Bits::default(), None);
    // Operations with a return use "definite" slots; unknown ones "info" slots. A
    // configuration with fewer info operations linearized dominates one with more at the
    // same state and definite set (it can still linearize them later), so only the minimal
    // info sets are kept.
    // A slot per operation invoked and not yet returned or retired; a demoted unknown operation
    // that no configuration has linearized gives its slot back (NONE) and takes one again
    // only when some configuration uses it as a helper, so bit sets stay a word or two.
    let slot_of: Vec<Cell<usize>> = (0..ops.len()).map(|_| Cell::new(NONE)).collect();
    let mut def_slots = Slots::default();
    let mut info_slots = Slots::default();
    let mut pending: Vec<usize> = Vec::new(); // op indices that may be linearized freely
                                              // Demoted unknown operations, tried only as helpers just before an operation that needs
                                              // any change. `plain` ones (unconditional, with a token no operation must not see) are
                                              // interchangeable: trying the first that helps is enough. The others are all tried.
    let mut plain: Vec<usize> = Vec::new();
    let mut special: Vec<usize> = Vec::new();
    let mut returns = 0usize;
    let mut unhinder: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize)>> = Default::default();
    // Conditional helpers by the token they need (an unknown cas by its `from`): only those
    // whose token the state holds can change it.
    let mut special_dep: HashMap<u64, Vec<usize>> = HashMap::default();
    let mut peak = 1;
    let checked = ops.len() - dropped;

    let result = |verdict, peak, failure| {
        (KeyResult { key: key.to_string(), ops: checked, dropped, verdict, seconds: started.elapsed().as_secs_f64(), peak_configs: peak }, failure)
    };
    let timed_out = || Instant::now() >= deadline || stop.load(Ordering::Relaxed);

    let mut moves: Vec<(Option<usize>, usize, M::State)> = Vec::new();
    // For pruning: the token each completed operation must observe, the operations whose
    // effect is each token, and which operations are invoked and not yet returned or retired.
    let observed: Vec<Option<u64>> = ops
        .iter()
        .map(|op| match (&op.output, op.ret) {
            (Some(out), Some(_)) => match model.observes(&op.input, out) {
                Observation::Token(t) => Some(t),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut readers: HashMap<u64, Vec<usize>> = HashMap::default();
    for (i, t) in observed.iter().enumerate() {
        if let Some(t) = t {
            readers.entry(*t).or_default().push(i);
        }
    }
    for rs in readers.values_mut() {
        rs.sort_by_key(|&q| (ops[q].call, q));
    }
    let mut writers: HashMap<u64, Vec<usize>> = HashMap::default();
    for (i, op) in ops.iter().enumerate() {
        if let Some(t) = model.effect(&op.input) {
            writers.entry(t).or_default().push(i);
        }
    }
    let mut live = vec![false; ops.len()];
    for (n, &(_, kind, o)) in events.iter().enumerate() {
        if n % 64 == 0 && timed_out() {
            return result(Verdict::Unknown, peak, None);
        }
        match kind {
            Kind::Call => {
                live[o] = true;
                slot_of[o].set(if ops[o].ret.is_some() { def_slots.take() } else { info_slots.take() });
                pending.push(o);
            }
            Kind::Demote => {
                pending.retain(|&p| p != o);
                let input = &ops[o].input;
                let t = ops[o].call.max(token_until[o].unwrap_or(0));
                let hindered_until = model.effect(input).and_then(|tok| hindered.get(&tok).copied()).filter(|&h| h >= t);
                match (model.unconditional(input), hindered_until, model.observes_if_unknown(input)) {
                    (true, None, _) => plain.push(o),
                    (true, Some(h), _) => {
                        // Plain once the operations its token would hinder have all returned.
                        special.push(o);
                        unhinder.push(std::cmp::Reverse((h, o)));
                    }
                    (false, _, Observation::Token(dep)) => special_dep.entry(dep).or_default().push(o),
                    (false, _, _) => special.push(o),
                }
                let s = slot_of[o].get();
                if !configs.any(|info| info.has(s)) {
                    info_slots.give(s);
                    slot_of[o].set(NONE);
                }
            }
            Kind::Retire => {
                live[o] = false;
                let s = slot_of[o].get();
                pending.retain(|&p| p != o);
                plain.retain(|&p| p != o);
                special.retain(|&p| p != o);
                if let Observation::Token(dep) = model.observes_if_unknown(&ops[o].input) {
                    if let Some(v) = special_dep.get_mut(&dep) {
                        v.retain(|&p| p != o);
                    }
                }
                if s != NONE {
                    info_slots.give(s);
                    configs.forget(s);
                }
            }
            Kind::Return => {
                let s = slot_of[o].get();
                let now = ops[o].ret.unwrap_or(u64::MAX);
                let mut starved: Option<usize> = None;
                while let Some(&std::cmp::Reverse((h, u))) = unhinder.peek() {
                    if h >= now {
                        break;
                    }
                    unhinder.pop();
                    if let Some(i) = special.iter().position(|&x| x == u) {
                        special.swap_remove(i);
                        plain.push(u);
                    }
                }
                let old = std::mem::take(&mut configs);
                let mut next: Frontier<M::State> = Frontier::default();
                let mut seen: Frontier<M::State> = Frontier::default();
                let mut stack: Vec<(M::State, Bits, Bits, Trail)> = Vec::new();
                let mut best: Option<Rc<Path>> = None;
                let mut before: Vec<M::State> = Vec::new();
                for (st, def, info, path) in old.into_iter() {
                    let st = canon_at(st, now);
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
                    if steps % 256 == 0 && timed_out() {
                        return result(Verdict::Unknown, peak, None);
                    }
                    if len(&path) > len(&best) {
                        best = path.clone();
                    }
                    let linearized = |p: usize| {
                        if ops[p].ret.is_none() {
                            info.has(slot_of[p].get())
                        } else {
                            def.has(slot_of[p].get())
                        }
                    };
                    let mut tried: Vec<(usize, Option<M::State>)> = Vec::new();
                    let mut eager = None;
                    for &p in &pending {
                        if linearized(p) {
                            continue;
                        }
                        let op = &ops[p];
                        let r = model.step(&st, &op.input, op.output.as_ref());
                        // A read-only operation legal here is linearized at once and alone:
                        // any order that places it later can place it here instead.
                        if r.is_some() && op.output.as_ref().is_some_and(|out| model.read_only(&op.input, out)) {
                            eager = Some((p, st.clone()));
                            break;
                        }
                        let r = r.map(|s2| canon_at(s2, now));
                        tried.push((p, r));
                    }
                    if let Some((p, st2)) = eager {
                        moves.push((None, p, st2));
                        tried.clear();
                    }
                    for (p, r) in tried {
                        let op = &ops[p];
                        if let Some(st2) = r {
                            moves.push((None, p, st2));
                            continue;
                        }
                        if !any_but[p] {
                            continue;
                        }
                        // Illegal here, but legal after some change: try the demoted helpers.
                        let mut helped = |u: usize| -> bool {
                            if info.has(slot_of[u].get()) {
                                return false;
                            }
                            let Some(s1) = model.step(&st, &ops[u].input, None).map(|s1| canon_at(s1, now)) else {
                                return false;
                            };
                            if s1 == st {
                                return false;
                            }
                            match model.step(&s1, &op.input, op.output.as_ref()).map(|s2| canon_at(s2, now)) {
                                Some(s2) => {
                                    moves.push((Some(u), p, s2));
                                    true
                                }
                                None => false,
                            }
                        };
                        let mut conditional = false;
                        let by_dep = model.state_token(&st).and_then(|t| special_dep.get(&t)).map_or(&[][..], |v| &v[..]);
                        for &u in special.iter().chain(by_dep) {
                            if helped(u) && !model.unconditional(&ops[u].input) {
                                // A conditional helper is the least flexible: when one
                                // helps, using it instead of a plain one loses nothing.
                                conditional = true;
                            }
                        }
                        if !conditional {
                            for &u in &plain {
                                if helped(u) {
                                    break;
                                }
                            }
                        }
                    }
                    for (helper, p, st2) in moves.drain(..) {
                        // A token overwritten for good while an operation that must observe it
                        // is still pending: no order can satisfy that operation any more.
                        if let Some(old) = model.state_token(&st).filter(|&t| model.state_token(&st2) != Some(t)) {
                            let done = |q: usize| q == p || Some(q) == helper || linearized(q);
                            // One still pending, or one not even invoked yet.
                            let doomed = pending
                                .iter()
                                .copied()
                                .find(|&q| observed[q] == Some(old) && !done(q))
                                .or_else(|| readers.get(&old).and_then(|rs| rs.iter().copied().find(|&q| ops[q].call > now)));
                            if let Some(q) = doomed {
                                let back = writers.get(&old).is_some_and(|ws| ws.iter().any(|&w| ops[w].call > now || (live[w] && !done(w))));
                                if !back {
                                    starved = Some(q);
                                    continue;
                                }
                            }
                        }
                        let mut path2 = path.clone();
                        let mut info2 = info.clone();
                        if let Some(u) = helper {
                            path2 = extend(&path2, u);
                            if slot_of[u].get() == NONE {
                                slot_of[u].set(info_slots.take());
                            }
                            info2 = info2.with(slot_of[u].get());
                        }
                        let path2 = extend(&path2, p);
                        if p == o {
                            next.insert(st2, def.clone(), info2, path2);
                        } else {
                            let ps = slot_of[p].get();
                            let (d2, i2) = if ops[p].ret.is_none() { (def.clone(), info2.with(ps)) } else { (def.with(ps), info2) };
                            if seen.insert(st2.clone(), d2.clone(), i2.clone(), None) {
                                stack.push((st2, d2, i2, path2));
                            }
                        }
                    }
                }
                peak = peak.max(seen.len()).max(next.len());
                if next.is_empty() {
                    // When the last orders died because a pending operation could no longer
                    // observe what it returned, that operation is the one to show.
                    let culprit = starved.unwrap_or(o);
                    let window: Vec<usize> = if culprit == o {
                        pending.clone()
                    } else {
                        // The operations around the starved one, and the one whose return
                        // forced its value to be overwritten.
                        let (c, r) = (ops[culprit].call, ops[culprit].ret.unwrap_or(u64::MAX));
                        let mut w: Vec<usize> =
                            (0..ops.len()).filter(|&i| ops[i].call <= r && ops[i].ret.unwrap_or(u64::MAX) >= c && ops[i].ret.is_some()).collect();
                        w.push(o);
                        w
                    };
                    let mut failure = build_failure(model, key, ops, culprit, &window, order(&best), &before);
                    failure.forced_by = (culprit != o).then_some(o);
                    return result(Verdict::NotLinearizable, peak, Some(failure));
                }
                configs = next;
                returns += 1;
                if returns % 256 == 0 {
                    // Helpers every configuration has used can never be used again; those none
                    // has used need no slot.
                    let mut done: Vec<usize> = Vec::new();
                    for &u in plain.iter().chain(&special).chain(special_dep.values().flatten()) {
                        let su = slot_of[u].get();
                        if su == NONE {
                            continue;
                        }
                        if configs.all(|info| info.has(su)) {
                            done.push(u);
                        } else if configs.any(|info| info.has(su)) {
                            continue;
                        }
                        info_slots.give(su);
                        configs.forget(su);
                        slot_of[u].set(NONE);
                    }
                    plain.retain(|u| !done.contains(u));
                    special.retain(|u| !done.contains(u));
                    special_dep.values_mut().for_each(|v| v.retain(|u| !done.contains(u)));
                }
                live[o] = false;
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

    /// Whether some configuration's info set satisfies `f`.
    fn any(&self, f: impl Fn(&Bits) -> bool) -> bool {
        self.map.values().flatten().any(|(i, _)| f(i))
    }

    /// Whether every configuration's info set satisfies `f`.
    fn all(&self, f: impl Fn(&Bits) -> bool) -> bool {
        self.map.values().flatten().all(|(i, _)| f(i))
    }

    /// Clear an info slot in every configuration (merging those that become equal).
    fn forget(&mut self, s: usize) {
        let old = std::mem::take(self);
        for (st, def, info, path) in old.into_iter() {
            self.insert(st, def, info.without(s), path);
        }
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
        forced_by: None,
    }
}
