//! Wing & Gong's depth-first search with Lowe's improvements and Porcupine's cache of
//! (linearized set, state): the second search engine, used for keys where every operation
//! has a return (no unknown outcomes), where a depth-first search that stops at the first
//! legal order beats enumerating every configuration.
//!
//! Calls and returns form a doubly linked list in time order. The search walks it: at a
//! call, it tries to linearize the operation (legal in the model, and the resulting
//! (linearized set, state) not seen before), lifting the call and its return out of the
//! list; at a return whose call was not lifted it backtracks. The list empty = linearizable;
//! nothing left to backtrack = not.

use super::{Model, Operation};
use rustc_hash::FxHasher;
use smallvec::SmallVec;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What the search found.
pub enum Outcome {
    /// A legal order exists.
    Linearizable,
    /// None exists; the longest prefix order found, and the operation at which the search
    /// had to give up most often (the deepest failing return).
    NotLinearizable { longest: Vec<usize>, culprit: usize },
    /// Out of time.
    Unknown,
}

/// Seen (linearized set, state) pairs; the set as (leading all-ones words, the rest).
type Cache<S> = HashSet<(usize, SmallVec<[u64; 3]>, S), BuildHasherDefault<FxHasher>>;

#[derive(Clone, Copy)]
struct Node {
    op: usize,
    call: bool,
    /// For a call: the index of its return node.
    other: usize,
    prev: usize,
    next: usize,
}

const NIL: usize = usize::MAX;

/// Search one key's operations (every one must have a return).
/// `canon` maps a state to its representative (states no operation can tell apart are one).
pub fn search<M: Model>(
    model: &M,
    ops: &[&Operation<M::Input, M::Output>],
    canon: &dyn Fn(M::State) -> M::State,
    deadline: Instant,
    stop: &AtomicBool,
) -> Outcome {
    let n = ops.len();
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        let ret = op.ret.unwrap_or(u64::MAX);
        events.push((op.call, 0, i));
        events.push((ret.max(op.call), 1, i));
    }
    events.sort_by_key(|&(t, k, i)| (t, k, i));
    // Node 0 is the head sentinel.
    let mut nodes: Vec<Node> = Vec::with_capacity(2 * n + 1);
    nodes.push(Node { op: NIL, call: false, other: NIL, prev: NIL, next: NIL });
    let mut call_node = vec![NIL; n];
    for &(_, k, i) in &events {
        let idx = nodes.len();
        nodes.push(Node { op: i, call: k == 0, other: NIL, prev: idx - 1, next: NIL });
        nodes[idx - 1].next = idx;
        if k == 0 {
            call_node[i] = idx;
        } else {
            let c = call_node[i];
            nodes[c].other = idx;
        }
    }
    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    // (words all linearized, the rest up to the last set bit, state); the window inline.
    let mut cache: Cache<M::State> = HashSet::with_capacity_and_hasher(4 * n, Default::default());
    let mut full = 0; // linearized[..full] are all ones
    let mut hi = 0; // linearized[hi..] are all zeros
    let mut calls: Vec<(usize, M::State)> = Vec::new();
    let mut state = canon(model.init());
    let mut entry = nodes[0].next;
    let mut longest: Vec<usize> = Vec::new();
    let mut common = 0; // calls[..common] is a prefix of `longest`
    let mut culprit = ops.len().saturating_sub(1);
    let mut steps = 0u64;

    let lift = |nodes: &mut Vec<Node>, c: usize| {
        let r = nodes[c].other;
        let (p, nx) = (nodes[c].prev, nodes[c].next);
        nodes[p].next = nx;
        if nx != NIL {
            nodes[nx].prev = p;
        }
        let (p, nx) = (nodes[r].prev, nodes[r].next);
        nodes[p].next = nx;
        if nx != NIL {
            nodes[nx].prev = p;
        }
    };
    let unlift = |nodes: &mut Vec<Node>, c: usize| {
        let r = nodes[c].other;
        let (p, nx) = (nodes[r].prev, nodes[r].next);
        nodes[p].next = r;
        if nx != NIL {
            nodes[nx].prev = r;
        }
        let (p, nx) = (nodes[c].prev, nodes[c].next);
        nodes[p].next = c;
        if nx != NIL {
            nodes[nx].prev = c;
        }
    };

    while nodes[0].next != NIL {
        steps += 1;
        if steps % 4096 == 0 && (Instant::now() >= deadline || stop.load(Ordering::Relaxed)) {
            return Outcome::Unknown;
        }
        let node = nodes[entry];
        if node.call {
            let op = &ops[node.op];
            let mut next_state = None;
            if let Some(s2) = model.step(&state, &op.input, op.output.as_ref()).map(canon) {
                linearized[node.op / 64] |= 1 << (node.op % 64);
                while full < words && linearized[full] == u64::MAX {
                    full += 1;
                }
                // The set as (words all linearized, the rest up to the last set bit): the
                // operations are in call order, so the rest is a short window and the cache
                // does not grow with the square of the history.
                hi = hi.max(node.op / 64 + 1);
                let mut end = hi;
                while end > full && linearized[end - 1] == 0 {
                    end -= 1;
                }
                if cache.insert((full, SmallVec::from_slice(&linearized[full..end]), s2.clone())) {
                    next_state = Some(s2);
                } else {
                    linearized[node.op / 64] &= !(1 << (node.op % 64));
                    full = full.min(node.op / 64);
                }
            }
            match next_state {
                Some(s2) => {
                    calls.push((entry, std::mem::replace(&mut state, s2)));
                    lift(&mut nodes, entry);
                    entry = nodes[0].next;
                    if calls.len() > longest.len() {
                        // Copy only what differs from the last copy: linear in total.
                        longest.truncate(common);
                        longest.extend(calls[common..].iter().map(|&(e, _)| nodes[e].op));
                        common = calls.len();
                    }
                }
                None => entry = node.next,
            }
        } else {
            // A return whose call is still in the list: backtrack. A read-only operation
            // (a read, a failed cas) needs no alternative: any order that linearizes another
            // operation first can linearize it first instead.
            if calls.len() >= longest.len() {
                culprit = node.op;
            }
            loop {
                let Some((c, s)) = calls.pop() else {
                    return Outcome::NotLinearizable { longest, culprit };
                };
                common = common.min(calls.len());
                let op = &ops[nodes[c].op];
                let unchanged = op.output.as_ref().is_some_and(|out| model.read_only(&op.input, out));
                state = s;
                let op = nodes[c].op;
                linearized[op / 64] &= !(1 << (op % 64));
                full = full.min(op / 64);
                unlift(&mut nodes, c);
                entry = nodes[c].next;
                if !unchanged {
                    break;
                }
            }
        }
    }
    Outcome::Linearizable
}
