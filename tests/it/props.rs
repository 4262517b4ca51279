//! Property tests of the linearizability checker on generated register histories
//! (`faultline::checker::gen`): a history generated from a sequential execution of the model
//! with random overlap is linearizable; the same history with one read changed to a value
//! never written, or to a stale value, is not. And a differential test: small histories,
//! mutated at random so that either verdict is possible, get the same verdict from the
//! checker as from a brute-force search over every order (the definition, nothing clever).
//!
//! A disagreement is written to `/tmp/counterexamples/` as a `history.jsonl`. A longer
//! differential run: `FAULTLINE_PROPS_CASES=100000 cargo test --release --test it props::small`.

use faultline::checker::gen::{generate, Params, Plant};
use faultline::checker::models::register::{RegIn, RegOut, Register};
use faultline::checker::{self, input, Model, Operation, Verdict};
use faultline::history::{Entry, EntryType, HistoryWriter, OpKind, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

type Op = Operation<RegIn, RegOut>;

fn write(entries: &[Entry], path: &Path) {
    let mut w = HistoryWriter::create(path).unwrap();
    for e in entries {
        w.append(e).unwrap();
    }
    w.flush().unwrap();
}

/// Through the file format and the reader, as `faultline check` does.
fn read_back(entries: &[Entry], dir: &Path, name: &str) -> (Register, Vec<Op>) {
    let path = dir.join(name);
    write(entries, &path);
    input::jsonl(&path).unwrap()
}

fn verdict(model: &Register, ops: Vec<Op>) -> Verdict {
    checker::check(model, ops, Duration::from_secs(30)).verdict
}

/// Shapes across the ranges asked for: 1–8 clients, 1–4 keys, 0–30 % info, 20–300 ops.
fn shape(seed: u64) -> Params {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    Params {
        ops: r.random_range(20..=300),
        clients: r.random_range(1..=8),
        keys: r.random_range(1..=4),
        info_pct: [0.0, 2.0, 10.0, 30.0][r.random_range(0..4)],
        seed,
        ..Params::default()
    }
}

#[test]
fn generated_histories_are_linearizable_and_planted_reads_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let (mut clean, mut never, mut stale) = (0, 0, 0);
    let mut wrong = Vec::new();
    for seed in 0..100u64 {
        let p = shape(seed);
        let cases = [
            (Plant::None, Verdict::Linearizable),
            (Plant::NeverWritten, Verdict::NotLinearizable),
            (Plant::StaleRead { depth: 1 + (seed % 3) as usize }, Verdict::NotLinearizable),
        ];
        for (plant, want) in cases {
            let h = generate(&Params { plant, ..p.clone() });
            if plant != Plant::None && h.planted.is_none() {
                continue; // no read (or no stale value) to plant in this one
            }
            let (model, ops) = read_back(&h.entries, dir.path(), "h.jsonl");
            let got = verdict(&model, ops);
            match plant {
                Plant::None => clean += 1,
                Plant::NeverWritten => never += 1,
                Plant::StaleRead { .. } => stale += 1,
            }
            if got != want {
                let name = format!("gen-seed{seed}-{plant:?}.jsonl").replace([' ', '{', '}', ':'], "");
                let saved = save(&h.entries, &name);
                wrong.push(format!("{p:?} {plant:?}: expected {}, got {} (saved {saved})", want.name(), got.name()));
            }
        }
    }
    assert!(wrong.is_empty(), "{} wrong verdicts:\n{}", wrong.len(), wrong.join("\n"));
    assert!(clean == 100 && never >= 90 && stale >= 60, "too few cases: {clean} clean, {never} never-written, {stale} stale");
}

/// Histories without a line for `info` operations (they never complete in the file) read
/// the same.
#[test]
fn info_operations_without_a_completion_line() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..20u64 {
        let p = Params { info_line: false, info_pct: 30.0, ..shape(seed) };
        let h = generate(&p);
        let (model, ops) = read_back(&h.entries, dir.path(), "h.jsonl");
        assert_eq!(verdict(&model, ops), Verdict::Linearizable, "{p:?}");
        let h = generate(&Params { plant: Plant::NeverWritten, ..p.clone() });
        let (model, ops) = read_back(&h.entries, dir.path(), "h.jsonl");
        assert_eq!(verdict(&model, ops), Verdict::NotLinearizable, "{p:?}");
    }
}

/// The definition, by brute force: is there an order of a subset of the operations that
/// contains every operation with a return, respects real time (an operation that returned
/// before another was invoked comes first), and is legal for the model? Operations with
/// unknown outcome may appear anywhere after their invocation, or not at all.
fn reference(model: &Register, ops: &[Op]) -> bool {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(&op.key).or_default().push(op);
    }
    by_key.values().all(|ops| reference_key(model, ops))
}

fn reference_key(model: &Register, ops: &[&Op]) -> bool {
    let n = ops.len();
    assert!(n <= 64);
    let must: u64 = (0..n).filter(|&i| ops[i].ret.is_some()).fold(0, |m, i| m | 1 << i);
    let pred: Vec<u64> = (0..n).map(|o| (0..n).filter(|&p| p != o && ops[p].ret.is_some_and(|r| r < ops[o].call)).fold(0, |m, p| m | 1 << p)).collect();
    let mut seen: HashSet<(u64, u32)> = HashSet::new();
    let mut stack = vec![(0u64, model.init())];
    seen.insert((0, model.init()));
    while let Some((mask, st)) = stack.pop() {
        if mask & must == must {
            return true;
        }
        for o in 0..n {
            if mask & (1 << o) != 0 || pred[o] & must & !mask != 0 {
                continue;
            }
            if let Some(s2) = model.step(&st, &ops[o].input, ops[o].output.as_ref()) {
                let m2 = mask | 1 << o;
                if seen.insert((m2, s2)) {
                    stack.push((m2, s2));
                }
            }
        }
    }
    false
}

/// Back to a history file (for saving a counterexample).
fn to_entries(model: &Register, ops: &[Op]) -> Vec<Entry> {
    let text = |v: u32| model.names.get((v as usize).wrapping_sub(1)).cloned().unwrap_or_else(|| format!("never{v}"));
    let name = |v: u32| {
        if v == 0 {
            Value::None
        } else {
            Value::One(text(v))
        }
    };
    let mut out = Vec::new();
    for (id, op) in ops.iter().enumerate() {
        let (f, value) = match op.input {
            RegIn::Read => (OpKind::Read, Value::None),
            RegIn::Write(v) => (OpKind::Write, name(v)),
            RegIn::Cas(a, b) => (OpKind::Cas, Value::Pair(text(a), text(b))),
        };
        let key = op.key.clone();
        let e = Entry {
            kind: EntryType::Invoke,
            id: id as u64,
            client: op.client as u32,
            t: op.call,
            f,
            key,
            value: value.clone(),
            rev: None,
            error: None,
            member: None,
            req: None,
            res: None,
        };
        let mut done = e.clone();
        match (op.ret, op.output) {
            (Some(r), Some(out)) => {
                done.t = r;
                match out {
                    RegOut::Read(v) => {
                        done.kind = EntryType::Ok;
                        done.value = name(v);
                    }
                    RegOut::CompareFailed => {
                        done.kind = EntryType::Fail;
                        done.error = Some(faultline::workload::register::COMPARE_FAILED.into());
                    }
                    _ => done.kind = EntryType::Ok,
                }
            }
            _ => {
                done.kind = EntryType::Info;
                done.error = Some("timeout".into());
            }
        }
        out.push(e);
        out.push(done);
    }
    out.sort_by_key(|e| (e.t, e.kind != EntryType::Invoke, e.id));
    out
}

fn save(entries: &[Entry], name: &str) -> String {
    let dir = Path::new("/tmp/counterexamples");
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    write(entries, &path);
    path.display().to_string()
}

/// Change the history so that its verdict is anyone's guess.
fn mutate(r: &mut ChaCha8Rng, ops: &mut Vec<Op>) {
    let i = r.random_range(0..ops.len());
    // Values seen on the key (0 = absent).
    let mut vals: Vec<u32> = vec![0];
    for op in ops.iter().filter(|o| o.key == ops[i].key) {
        match op.input {
            RegIn::Write(v) => vals.push(v),
            RegIn::Cas(a, b) => vals.extend([a, b]),
            RegIn::Read => {}
        }
    }
    let pick = vals[r.random_range(0..vals.len())];
    let other_call = ops[r.random_range(0..ops.len())].call;
    let op = &mut ops[i];
    match (r.random_range(0..7), op.input, op.output) {
        (0 | 1, RegIn::Read, Some(RegOut::Read(_))) => op.output = Some(RegOut::Read(pick)),
        (2, RegIn::Cas(..), Some(RegOut::Swapped)) => op.output = Some(RegOut::CompareFailed),
        (2, RegIn::Cas(..), Some(RegOut::CompareFailed)) => op.output = Some(RegOut::Swapped),
        (3, RegIn::Write(_) | RegIn::Cas(..), Some(_)) => {
            // A definite result becomes unknown.
            op.ret = None;
            op.output = None;
        }
        (3, RegIn::Write(_), None) => {
            // An unknown write becomes definite.
            op.ret = Some(op.call + r.random_range(1..20_000_000));
            op.output = Some(RegOut::Written);
        }
        (3, RegIn::Cas(..), None) => {
            op.ret = Some(op.call + r.random_range(1..20_000_000));
            op.output = Some(if r.random_bool(0.5) { RegOut::Swapped } else { RegOut::CompareFailed });
        }
        (4, _, _) => {
            ops.remove(i);
        }
        (5, RegIn::Cas(_, b), _) => op.input = RegIn::Cas(pick, b),
        (5, RegIn::Write(_), Some(_)) => {
            // Stretch or shrink the window.
            if let Some(ret) = op.ret {
                op.ret = Some(op.call + (ret - op.call) * r.random_range(1..6) / 3 + 1);
            }
        }
        (6, RegIn::Read, Some(_)) => {
            // Move a read elsewhere in time (same length): stale or from the future.
            if let Some(ret) = op.ret {
                let len = ret - op.call;
                op.call = other_call + 1;
                op.ret = Some(op.call + len);
            }
        }
        _ => {}
    }
}

#[test]
fn small_mutated_histories_agree_with_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let (mut lin, mut not) = (0, 0);
    let mut wrong = Vec::new();
    // FAULTLINE_PROPS_CASES=N runs more (a fuzzing campaign; use --release).
    let cases: u64 = std::env::var("FAULTLINE_PROPS_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    for seed in 0..cases {
        let keys = rng.random_range(1..=2);
        let p = Params {
            ops: rng.random_range(4..=14) * keys as usize,
            clients: rng.random_range(1..=6),
            keys,
            info_pct: [0.0, 10.0, 30.0, 60.0][rng.random_range(0..4)],
            min_ns: 1_000_000,
            max_ns: [2_000_000, 5_000_000, 20_000_000][rng.random_range(0..3)],
            seed: 1000 + seed,
            ..Params::default()
        };
        let h = generate(&p);
        let (model, mut ops) = read_back(&h.entries, dir.path(), "m.jsonl");
        if rng.random_bool(0.3) && model.names.len() >= 3 {
            // Jepsen-like: values from a small domain, written many times.
            let m = rng.random_range(1..=3u32);
            let f = |v: u32| if v == 0 { 0 } else { (v - 1) % m + 1 };
            for op in &mut ops {
                op.input = match op.input {
                    RegIn::Write(v) => RegIn::Write(f(v)),
                    RegIn::Cas(a, b) => RegIn::Cas(f(a), f(b)),
                    RegIn::Read => RegIn::Read,
                };
                if let Some(RegOut::Read(v)) = op.output {
                    op.output = Some(RegOut::Read(f(v)));
                }
            }
        }
        for _ in 0..rng.random_range(1..=3) {
            if !ops.is_empty() {
                mutate(&mut rng, &mut ops);
            }
        }
        let want = reference(&model, &ops);
        let got = verdict(&model, ops.clone());
        if want {
            lin += 1;
        } else {
            not += 1;
        }
        let want_v = if want { Verdict::Linearizable } else { Verdict::NotLinearizable };
        if got != want_v {
            let saved = save(&to_entries(&model, &ops), &format!("mutated-{seed}.jsonl"));
            wrong.push(format!("case {seed} ({} ops): brute force says {}, the checker {} (saved {saved})", ops.len(), want_v.name(), got.name()));
        }
    }
    assert!(wrong.is_empty(), "{} wrong verdicts:\n{}", wrong.len(), wrong.join("\n"));
    assert!(lin > 200 && not > 200, "too one-sided: {lin} linearizable, {not} not");
}

/// The two search engines agree on larger histories: a key where every operation returns is
/// searched depth-first (wgl.rs); give the same key an unknown write, invoked after everything
/// else, and a read of its value after that, and it goes to the configuration search
/// (search.rs) with the same verdict, since both can be ordered last.
#[test]
fn both_engines_agree_on_larger_mutated_histories() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cases: u64 = std::env::var("FAULTLINE_PROPS_CASES").ok().and_then(|s| s.parse::<u64>().ok()).map_or(100, |n| n / 10);
    let (mut lin, mut not) = (0, 0);
    let mut wrong = Vec::new();
    for seed in 0..cases {
        let p = Params {
            ops: rng.random_range(30..=250),
            clients: rng.random_range(1..=8),
            keys: rng.random_range(1..=2),
            info_pct: 0.0,
            max_ns: [2_000_000, 5_000_000, 20_000_000][rng.random_range(0..3)],
            seed: 50_000 + seed,
            ..Params::default()
        };
        let h = generate(&p);
        let (model, mut ops) = read_back(&h.entries, dir.path(), "e.jsonl");
        for _ in 0..rng.random_range(0..=2) {
            mutate(&mut rng, &mut ops);
        }
        // Mutations may have made some operations unknown: make them definite again.
        ops.retain(|o| o.ret.is_some());
        let end = ops.iter().map(|o| o.ret.unwrap_or(o.call).max(o.call)).max().unwrap_or(0);
        let keys: std::collections::BTreeSet<String> = ops.iter().map(|o| o.key.clone()).collect();
        let mut with = ops.clone();
        for (k, key) in keys.iter().enumerate() {
            let x = model.names.len() as u32 + 1 + k as u32;
            let t = end + 10 + 100 * k as u64;
            let base =
                Operation { client: 90_000 + k as u64, key: key.clone(), call: t, ret: None, input: RegIn::Write(x), output: None, origin: "added".into() };
            with.push(base.clone());
            with.push(Operation { client: 91_000 + k as u64, call: t + 10, ret: Some(t + 20), input: RegIn::Read, output: Some(RegOut::Read(x)), ..base });
        }
        let a = checker::check(&model, ops.clone(), Duration::from_secs(30));
        let b = checker::check(&model, with.clone(), Duration::from_secs(30));
        assert!(a.keys.iter().all(|k| k.peak_configs == 0), "expected the depth-first engine");
        if a.verdict == Verdict::Linearizable {
            lin += 1;
        } else {
            not += 1;
        }
        if a.verdict != b.verdict || a.verdict == Verdict::Unknown {
            let saved = save(&to_entries(&model, &with), &format!("engines-{seed}.jsonl"));
            wrong.push(format!("case {seed} ({} ops): depth-first {}, configurations {} (saved {saved})", ops.len(), a.verdict.name(), b.verdict.name()));
        }
    }
    assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
    assert!(lin > cases / 10 && not > cases / 10, "too one-sided: {lin} linearizable, {not} not");
}
