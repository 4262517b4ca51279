//! An etcd-model violation for the person debugging it: in a few lines for the terminal
//! ([`text`]), and as a self-contained page ([`html`], `linearizability.html` of a run and
//! `faultline check --model etcd --html FILE`) with the same words and a timeline — one row
//! per client, a bar per operation from its call to its return, the culprit and the other
//! operation of the conflict highlighted.
//!
//! Both take the [`Violation`] as the checker gives it and never panic on it: an index out of
//! range is shown as missing, not followed.

use super::{OpView, Violation};
use crate::markup::escape as esc;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A time of the history (ns) in ms, on the run's clock.
fn ms(t: u64) -> String {
    format!("{:.3} ms", t as f64 / 1e6)
}

/// A time relative to `t0` in ms, signed (`+1.250`).
fn rel(t: u64, t0: u64) -> String {
    let d = t as f64 - t0 as f64;
    format!("{}{:.3}", if d < 0.0 { "-" } else { "+" }, d.abs() / 1e6)
}

/// Who ran an operation: `client 2's op 3 (history line 5)`.
fn who(o: &OpView) -> String {
    let line = if o.line > 0 { format!(" (history line {})", o.line) } else { String::new() };
    format!("client {}'s op {}{line}", o.client, o.id)
}

/// When an operation ran: `called at 1.000 ms and returned at 2.500 ms`.
fn when(o: &OpView) -> String {
    let ret = match o.ret {
        Some(r) => format!("returned at {}", ms(r)),
        None => "never returned (outcome unknown)".to_string(),
    };
    format!("called at {} and {ret}", ms(o.call))
}

/// An operation in one sentence: `client 3's op 12 `put k=v` (history line 40), answered
/// `rev 5`, called at 1.000 ms and returned at 2.500 ms`.
fn sentence(o: &OpView) -> String {
    let line = if o.line > 0 { format!(" (history line {})", o.line) } else { String::new() };
    format!("client {}'s op {} `{}`{line}, answered `{}`, {}", o.client, o.id, o.text, o.answer, when(o))
}

/// What the violation is about: `revision 57, keys /e/k3, /e/k5`.
fn about(v: &Violation) -> String {
    let mut parts = Vec::new();
    if let Some(r) = v.revision {
        parts.push(format!("revision {r}"));
    }
    match v.keys.len() {
        0 => {}
        1 => parts.push(format!("key {}", v.keys[0])),
        _ => parts.push(format!("keys {}", v.keys.join(", "))),
    }
    parts.join(", ")
}

/// The earliest call among the operations shown (the zero of their relative times).
fn first_call(v: &Violation) -> u64 {
    v.ops.iter().map(|o| o.call).min().unwrap_or(0)
}

/// The mark of an operation in the list.
fn mark(v: &Violation, i: usize) -> &'static str {
    if i == v.culprit {
        "  <- breaks here"
    } else if v.other == Some(i) {
        "  <- the other operation"
    } else {
        ""
    }
}

/// Explain a violation in a few lines: the operation where it broke, the other one of the
/// conflict, what the model expected and what etcd said, why no order works, then the
/// operations around it with times relative to the first (ms).
pub fn text(v: &Violation) -> String {
    let mut o = String::new();
    let what = about(v);
    let _ = writeln!(
        o,
        "  the etcd model: no order of the operations explains what etcd answered{}.",
        if what.is_empty() { String::new() } else { format!(" ({what})") }
    );
    match v.ops.get(v.culprit) {
        Some(c) => {
            let _ = writeln!(o, "  it breaks at {}", sentence(c));
        }
        None => {
            let _ = writeln!(o, "  it breaks at an operation the checker did not include (index {})", v.culprit);
        }
    }
    if let Some(other) = v.other {
        match v.ops.get(other) {
            Some(w) => {
                let _ = writeln!(o, "  against {}", sentence(w));
            }
            None => {
                let _ = writeln!(o, "  against an operation the checker did not include (index {other})");
            }
        }
    }
    let _ = writeln!(o, "  expected:  {}", v.expected);
    let _ = writeln!(o, "  etcd said: {}", v.got);
    let _ = writeln!(o, "  why: {}", v.why);
    if !v.ops.is_empty() {
        let t0 = first_call(v);
        let _ = writeln!(o, "  the operations around it (in invocation order; ms from the first call, at {}):", ms(t0));
        for (i, op) in v.ops.iter().enumerate() {
            let ret = op.ret.map_or("?".to_string(), |r| rel(r, t0));
            let _ =
                writeln!(o, "    op {:<6} client {:<4} {:>10} .. {:<10} {} → {}{}", op.id, op.client, rel(op.call, t0), ret, op.text, op.answer, mark(v, i));
        }
    }
    o.trim_end().to_string()
}

/// Width of the timeline (SVG user units; the page scales it to the window).
const W: f64 = 1200.0;
/// Left gutter for client names.
const X0: f64 = 90.0;
/// Right end of the time axis.
const X1: f64 = W - 20.0;
/// Height of one client's row.
const ROW_H: f64 = 30.0;

/// The role of an operation on the page, as a CSS class.
fn class(v: &Violation, i: usize, o: &OpView) -> &'static str {
    if i == v.culprit {
        "bad"
    } else if v.other == Some(i) {
        "other"
    } else if o.ret.is_none() {
        "unk"
    } else {
        "op"
    }
}

/// One operation's tooltip.
fn tooltip(o: &OpView, t0: u64) -> String {
    format!(
        "op {} (client {}): {} → {}; called {} ms, {}",
        o.id,
        o.client,
        o.text,
        o.answer,
        rel(o.call, t0),
        o.ret.map_or("outcome unknown".to_string(), |r| format!("returned {} ms", rel(r, t0)))
    )
}

/// The timeline: one row per client, a bar per operation from call to return (to the right
/// end, dashed, when the outcome is unknown).
fn timeline(o: &mut String, v: &Violation) {
    let t0 = first_call(v);
    let hi = v.ops.iter().map(|op| op.ret.unwrap_or(op.call).max(op.call)).max().unwrap_or(t0);
    let span = (hi.saturating_sub(t0)).max(1) as f64;
    let x = |t: u64| X0 + (t.saturating_sub(t0)) as f64 / span * (X1 - X0);
    let mut rows: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, op) in v.ops.iter().enumerate() {
        rows.entry(op.client).or_default().push(i);
    }
    let h = rows.len() as f64 * ROW_H + 40.0;
    let _ = writeln!(o, "<section><h2>Timeline <small>one row per client; ms from the first call</small></h2>");
    let _ = writeln!(o, "<svg class=\"timeline\" viewBox=\"0 0 {W} {h:.0}\" role=\"img\">");
    for (row, (client, ops)) in rows.iter().enumerate() {
        let y = row as f64 * ROW_H + 8.0;
        if row % 2 == 1 {
            let _ = writeln!(o, "<rect class=\"stripe\" x=\"0\" y=\"{:.1}\" width=\"{W}\" height=\"{ROW_H}\"/>", y - 4.0);
        }
        let _ = writeln!(o, "<text class=\"client\" x=\"{:.1}\" y=\"{:.1}\">client {client}</text>", X0 - 8.0, y + 15.0);
        for &i in ops {
            let op = &v.ops[i];
            let cls = class(v, i, op);
            let xa = x(op.call);
            let xb = match op.ret {
                Some(r) => x(r.max(op.call)),
                None => X1,
            };
            let open = if op.ret.is_none() { " open" } else { "" };
            let _ = writeln!(
                o,
                "<rect class=\"bar {cls}{open}\" x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" rx=\"2\"><title>{}</title></rect>",
                y + 4.0,
                (xb - xa).max(2.0),
                esc(&tooltip(op, t0))
            );
        }
    }
    // The axis: the first call and the last return.
    let ya = rows.len() as f64 * ROW_H + 14.0;
    let _ = writeln!(o, "<line class=\"axis\" x1=\"{X0}\" y1=\"{ya:.1}\" x2=\"{X1}\" y2=\"{ya:.1}\"/>");
    let _ = writeln!(o, "<text class=\"tl\" x=\"{X0}\" y=\"{:.1}\">+0.000</text>", ya + 16.0);
    let _ = writeln!(o, "<text class=\"tl\" x=\"{X1}\" y=\"{:.1}\">{} ms</text>", ya + 16.0, esc(&rel(hi, t0)));
    o.push_str("</svg>\n</section>\n");
}

/// The operations as a table.
fn table(o: &mut String, v: &Violation) {
    let t0 = first_call(v);
    o.push_str("<section><h2>The operations around it <small>in invocation order</small></h2>\n<table>\n<thead><tr><th>op</th><th>client</th><th>called (ms)</th><th>returned (ms)</th><th>request</th><th>answer</th><th>line</th><th></th></tr></thead>\n<tbody>\n");
    for (i, op) in v.ops.iter().enumerate() {
        let cls = class(v, i, op);
        let role = match cls {
            "bad" => "<span class=\"badge bad\">breaks here</span>",
            "other" => "<span class=\"badge other\">the other operation</span>",
            _ => "",
        };
        let _ = writeln!(
            o,
            "<tr class=\"{cls}\"><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{}</td><td>{role}</td></tr>",
            op.id,
            op.client,
            esc(&rel(op.call, t0)),
            esc(&op.ret.map_or("?".to_string(), |r| rel(r, t0))),
            esc(&op.text),
            esc(&op.answer),
            if op.line > 0 { op.line.to_string() } else { String::new() },
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

/// The page for one violation. `title` heads it (the file or run checked). Self-contained:
/// inline CSS and SVG, nothing fetched; every string from the history is escaped.
pub fn html(v: &Violation, title: &str) -> String {
    let mut o = String::with_capacity(16 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — not linearizable (etcd model)</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    );
    let _ = writeln!(o, "<header><h1>{}</h1>", esc(title));
    let what = about(v);
    let _ = write!(
        o,
        "<p class=\"lead\"><b>Not linearizable</b> against the etcd model: no order of the operations explains what etcd answered{}.</p>\n</header>\n",
        if what.is_empty() { String::new() } else { format!(" ({})", esc(&what)) }
    );
    o.push_str("<dl>\n");
    let op_line = |o: &mut String, label: &str, cls: &str, i: usize| {
        let said = match v.ops.get(i) {
            Some(op) => {
                format!("<code class=\"{cls}\">{}</code> — {}, answered <code>{}</code>, {}", esc(&op.text), esc(&who(op)), esc(&op.answer), esc(&when(op)))
            }
            None => format!("an operation the checker did not include (index {i})"),
        };
        let _ = writeln!(o, "<dt>{label}</dt><dd>{said}</dd>");
    };
    op_line(&mut o, "It breaks at", "bad", v.culprit);
    if let Some(other) = v.other {
        op_line(&mut o, "Against", "other", other);
    }
    let _ = writeln!(o, "<dt>The model expected</dt><dd>{}</dd>", esc(&v.expected));
    let _ = writeln!(o, "<dt>etcd said</dt><dd class=\"got\">{}</dd>", esc(&v.got));
    let _ = writeln!(o, "<dt>Why no order works</dt><dd>{}</dd>", esc(&v.why));
    o.push_str("</dl>\n");
    if v.ops.is_empty() {
        o.push_str("<p class=\"note\">The checker gave no operations to draw for this violation.</p>\n");
    } else {
        o.push_str("<p class=\"legend\"><span class=\"sw bad\"></span>breaks here <span class=\"sw other\"></span>the other operation <span class=\"sw op\"></span>other operations <span class=\"sw unk\"></span>outcome unknown</p>\n");
        timeline(&mut o, v);
        table(&mut o, v);
    }
    let _ = write!(o, "<details><summary>As printed on the terminal</summary><pre>{}</pre></details>\n</body>\n</html>\n", esc(&text(v)));
    o
}

const CSS: &str = r#"
:root { --op: #3b6fd8; --bad: #d62828; --other: #e08a00; --unk: #9aa1ab; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d2330; margin: 18px 24px; max-width: 1240px; }
h1 { font-size: 18px; margin: 0 0 6px; color: #555d6b; font-weight: 600; }
h2 { font-size: 16px; margin: 18px 0 6px; }
h2 small { font-weight: normal; color: #667; font-size: 13px; margin-left: 6px; }
p.lead { font-size: 17px; margin: 4px 0; }
code, .client, .tl, td.num { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
code { background: #f1f3f6; padding: 0 3px; border-radius: 3px; font-size: 0.92em; word-break: break-word; }
code.bad { background: #fde4e4; color: #a40f0f; } code.other { background: #fdf0d9; color: #8a5200; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 12px 0; }
dt { font-weight: 600; } dd { margin: 0; } dd.got { color: #a40f0f; }
.legend { font-size: 13px; color: #444; margin: 10px 0 0; }
.sw { display: inline-block; width: 22px; height: 11px; border-radius: 2px; vertical-align: -1px; margin: 0 3px 0 10px; }
.sw.op { background: var(--op); } .sw.bad { background: var(--bad); } .sw.other { background: var(--other); }
.sw.unk { background: repeating-linear-gradient(45deg, var(--unk) 0 2px, #eceef1 2px 5px); }
svg { display: block; width: 100%; height: auto; overflow: visible; }
svg text { font-size: 12px; fill: #1d2330; }
.client { text-anchor: end; fill: #555d6b; font-weight: 600; }
.tl { text-anchor: middle; font-size: 11px; fill: #555d6b; }
.axis { stroke: #8a919c; } .stripe { fill: #f6f7f9; }
rect.bar.op { fill: var(--op); } rect.bar.bad { fill: var(--bad); } rect.bar.other { fill: var(--other); } rect.bar.unk { fill: var(--unk); }
rect.bar.open { fill-opacity: 0.35; stroke-dasharray: 4 3; stroke-width: 1.5; stroke: #555d6b; }
rect.bar.open.bad { stroke: var(--bad); } rect.bar.open.other { stroke: var(--other); }
table { border-collapse: collapse; font-size: 13.5px; margin-top: 4px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e6e8ec; vertical-align: top; }
th { background: #f3f4f7; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
tr.bad td { background: #fdecec; } tr.other td { background: #fdf3e1; }
span.badge { display: inline-block; padding: 0 6px; border-radius: 9px; color: #fff; font-weight: 700; font-size: 12px; }
span.badge.bad { background: var(--bad); } span.badge.other { background: var(--other); }
details { margin: 16px 0; } summary { cursor: pointer; font-weight: 600; }
pre { background: #f6f7f9; padding: 10px; overflow-x: auto; font-size: 12.5px; }
p.note { color: #a40f0f; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: u64, client: u32, call: u64, ret: Option<u64>, text: &str, answer: &str) -> OpView {
        OpView {
            id,
            client,
            call,
            ret,
            text: text.to_string(),
            answer: answer.to_string(),
            rev: None,
            outcome: if ret.is_some() { "ok" } else { "info" },
            line: id as usize * 2 - 1,
        }
    }

    /// A stale read: a put of `k<1>` acknowledged at revision 5, then a get answered at
    /// revision 4 with the old value; an unknown delete beside them.
    fn violation() -> Violation {
        Violation {
            culprit: 2,
            other: Some(0),
            revision: Some(5),
            keys: vec!["k<1>".to_string()],
            expected: "a read after revision 5 sees k<1>=\"b&c\"".to_string(),
            got: "rev 4: k<1>=\"a\" (mod 4, create 2, ver 2)".to_string(),
            why: "the put returned before the get was called, so the get cannot be ordered before it".to_string(),
            ops: vec![
                op(1, 1, 1_000_000_000, Some(1_002_000_000), "put k<1>=b&c", "rev 5"),
                op(2, 3, 1_001_000_000, None, "delete j", "unknown (timeout)"),
                op(3, 2, 1_003_000_000, Some(1_004_500_000), "get k<1>", "rev 4: k<1>=\"a\""),
            ],
        }
    }

    #[test]
    fn text_names_the_culprit_the_other_what_was_expected_and_the_ops_around_it() {
        let t = text(&violation());
        assert!(t.contains("revision 5, key k<1>"), "{t}");
        assert!(
            t.contains(
                "it breaks at client 2's op 3 `get k<1>` (history line 5), answered `rev 4: k<1>=\"a\"`, called at 1003.000 ms and returned at 1004.500 ms"
            ),
            "{t}"
        );
        assert!(t.contains("against client 1's op 1 `put k<1>=b&c`"), "{t}");
        assert!(t.contains("expected:  a read after revision 5") && t.contains("etcd said: rev 4") && t.contains("why: the put returned"), "{t}");
        let lines: Vec<&str> = t.lines().collect();
        let ops: Vec<&&str> = lines.iter().filter(|l| l.trim_start().starts_with("op ")).collect();
        assert_eq!(ops.len(), 3, "{t}");
        assert!(ops[0].contains("+0.000") && ops[0].contains("+2.000") && ops[0].ends_with("<- the other operation"), "{}", ops[0]);
        assert!(ops[1].contains("+1.000") && ops[1].contains(" ? ") && ops[1].contains("unknown (timeout)"), "{}", ops[1]);
        assert!(ops[2].contains("+3.000") && ops[2].contains("+4.500") && ops[2].ends_with("<- breaks here"), "{}", ops[2]);
    }

    #[test]
    fn text_survives_indices_out_of_range_and_no_ops() {
        let mut v = violation();
        v.culprit = 9;
        v.other = Some(7);
        let t = text(&v);
        assert!(t.contains("did not include (index 9)") && t.contains("(index 7)"), "{t}");
        v.ops.clear();
        v.revision = None;
        v.keys.clear();
        let t = text(&v);
        assert!(t.contains("explains what etcd answered.") && !t.contains("around it"), "{t}");
        assert!(html(&v, "t").contains("no operations to draw"));
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_draws_a_bar_per_operation() {
        let v = violation();
        let page = html(&v, "run <x>");
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("run &lt;x&gt;"));
        assert!(page.contains("get k&lt;1&gt;") && page.contains("put k&lt;1&gt;=b&amp;c"), "the ops, escaped");
        assert!(!page.contains("k<1>"), "unescaped text from the history");
        assert!(page.contains("a read after revision 5") && page.contains("the put returned before"));
        assert!(page.contains("client 2&#39;s op 3 (history line 5)") && page.contains("called at 1003.000 ms and returned at 1004.500 ms"), "the culprit");
        // One bar per operation, the culprit and the other highlighted, the unknown open.
        assert_eq!(page.matches("<rect class=\"bar").count(), v.ops.len());
        assert_eq!(page.matches("class=\"bar bad\"").count(), 1);
        assert_eq!(page.matches("class=\"bar other\"").count(), 1);
        assert_eq!(page.matches("class=\"bar unk open\"").count(), 1);
        // One row per client.
        assert_eq!(page.matches("<text class=\"client\"").count(), 3);
        assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
        assert_eq!(page.matches("<table").count(), page.matches("</table>").count());
        // Nothing fetched.
        assert!(!page.contains("<link") && !page.contains("src=") && !page.contains("http://") && !page.contains("https://"));
    }
}
