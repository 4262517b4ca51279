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
use std::collections::HashSet;
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
pub fn search<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>], deadline: Instant, stop: &AtomicBool) -> Outcome {
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
    let mut cache: HashSet<(Vec<u64>, M::State)> = HashSet::new();
    let mut calls: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    let mut entry = nodes[0].next;
    let mut longest: Vec<usize> = Vec::new();
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
            if let Some(s2) = model.step(&state, &op.input, op.output.as_ref()) {
                linearized[node.op / 64] |= 1 << (node.op % 64);
                if cache.insert((linearized.clone(), s2.clone())) {
                    next_state = Some(s2);
                } else {
                    linearized[node.op / 64] &= !(1 << (node.op % 64));
                }
            }
            match next_state {
                Some(s2) => {
                    calls.push((entry, std::mem::replace(&mut state, s2)));
                    lift(&mut nodes, entry);
                    entry = nodes[0].next;
                    if calls.len() > longest.len() {
                        longest = calls.iter().map(|&(e, _)| nodes[e].op).collect();
                    }
                }
                None => entry = node.next,
            }
        } else {
            // A return whose call is still in the list: backtrack.
            let Some((c, s)) = calls.pop() else {
                return Outcome::NotLinearizable { longest, culprit };
            };
            if calls.len() + 1 >= longest.len() {
                culprit = node.op;
            }
            state = s;
            let op = nodes[c].op;
            linearized[op / 64] &= !(1 << (op % 64));
            unlift(&mut nodes, c);
            entry = nodes[c].next;
        }
    }
    Outcome::Linearizable
}
