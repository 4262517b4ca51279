//! A violation in words, for the terminal: the key, the operation where every order broke,
//! and the window of operations around it.

use super::Failure;
use std::fmt::Write;

/// History times are ns in faultline's own files and line numbers in Jepsen/kv logs; the
/// unit is decided once per key, from its largest time.
fn clock(f: &Failure) -> impl Fn(u64) -> String {
    let ns = f.ops.iter().map(|o| o.ret.unwrap_or(o.call)).max().unwrap_or(0) > 10_000_000;
    move |t: u64| {
        if ns {
            format!("{:.3}s", t as f64 / 1e9)
        } else {
            format!("#{t}")
        }
    }
}

/// Explain a failure in a few lines.
pub fn text(f: &Failure) -> String {
    let mut o = String::new();
    let t = clock(f);
    let c = &f.ops[f.culprit];
    let _ = writeln!(
        o,
        "  key {:?}: no order of its operations is legal. It breaks at client {}'s `{}` ({}), invoked {} and returned {}:",
        f.key,
        c.client,
        c.text,
        c.origin,
        t(c.call),
        c.ret.map_or("never".to_string(), &t)
    );
    let states = if f.states_before.is_empty() { "nothing".to_string() } else { f.states_before.join(" or ") };
    match f.forced_by.and_then(|w| f.ops.get(w)) {
        Some(w) => {
            let _ = writeln!(
                o,
                "  by the return of client {}'s `{}` at {}, every legal order had overwritten what it returns, for good;\n  the key could then only hold {}; the longest legal order found has {} operation(s).",
                w.client,
                w.text,
                w.ret.map_or("?".to_string(), &t),
                states,
                f.partial.len()
            );
        }
        None => {
            let _ =
                writeln!(o, "  just before it returned the key could only hold {states}; the longest legal order found has {} operation(s).", f.partial.len());
        }
    }
    let _ = writeln!(o, "  the operations that cannot be ordered together (in invocation order):");
    for &i in &f.window {
        let op = &f.ops[i];
        let mark = if i == f.culprit {
            "  <- breaks here"
        } else if f.partial.contains(&i) {
            "  (in the legal order)"
        } else {
            ""
        };
        let _ = writeln!(o, "    client {:<4} {:>10} .. {:<10} {}{}", op.client, t(op.call), op.ret.map_or("?".to_string(), &t), op.text, mark);
    }
    o.trim_end().to_string()
}
