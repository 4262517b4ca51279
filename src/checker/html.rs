//! `linearizability.html`: a violation drawn for the person debugging it.
//!
//! One self-contained page (inline CSS, inline SVG drawn here, a few lines of optional JS for
//! hover highlighting; nothing fetched from the network): the key and what broke in one
//! sentence; an overview strip of the key's whole history with the window boxed; the window
//! zoomed, one row per client, each operation a bar from invocation to return (open-ended and
//! hatched when its outcome is unknown), numbered in the longest legal order found, the
//! culprit red and labelled "breaks here"; then the window as a table, the states the key
//! could hold, and the legal order in full.
//!
//! Look at a page in a real browser, headless (Debian: `apt-get install -y chromium`):
//!
//! ```sh
//! target/release/faultline check ../shared/data/porcupine-etcd/jepsen/etcd_000.log --html /tmp/l.html
//! chromium --headless --no-sandbox --disable-gpu --screenshot=/tmp/l.png --window-size=1400,900 file:///tmp/l.html
//! ```

use super::{Failure, OpView};
use crate::markup::escape as esc;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Width of both drawings (SVG user units; the page scales them to the window).
const W: f64 = 1300.0;
/// Left gutter for client names.
const X0: f64 = 92.0;
/// Right end of the time axis.
const X1: f64 = W - 16.0;
/// Width of one character of the 12px monospace labels (estimate, a little generous).
const CHAR_W: f64 = 7.3;
/// Height of one lane of the window drawing: label above, bar below.
const LANE_H: f64 = 34.0;
/// Bars drawn at most in the overview (after merging those closer than a pixel or so).
const OVERVIEW_MAX_BARS: usize = 2000;
/// Operations drawn at most around the window for context (faint, unlabelled).
const CONTEXT_MAX: usize = 1500;

/// The time unit of a history: ns in faultline's own files, line numbers in Jepsen/kv logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ns,
    Line,
}

impl Unit {
    /// Decided for the whole key, so that early operations (t < 10 ms) do not read as lines.
    fn of(ops: &[OpView]) -> Unit {
        let max = ops.iter().map(|o| o.ret.unwrap_or(0).max(o.call)).max().unwrap_or(0);
        if max > 10_000_000 {
            Unit::Ns
        } else {
            Unit::Line
        }
    }

    /// A time in a sentence: `12.345 s`, `line 85`.
    fn short(self, t: u64) -> String {
        match self {
            Unit::Ns => format!("{:.3} s", t as f64 / 1e9),
            Unit::Line => format!("line {t}"),
        }
    }

    /// A time in the table: to the microsecond, since operations can be that close.
    fn precise(self, t: u64) -> String {
        match self {
            Unit::Ns => format!("{:.6} s", t as f64 / 1e9),
            Unit::Line => format!("line {t}"),
        }
    }

    /// The axis title.
    fn axis_title(self) -> &'static str {
        match self {
            Unit::Ns => "time (s)",
            Unit::Line => "log line",
        }
    }

    /// Tick positions and labels over `[lo, hi]`, about `n` of them.
    fn ticks(self, lo: f64, hi: f64, n: usize) -> Vec<(f64, String)> {
        let span = (hi - lo).max(1.0);
        let raw = span / n.max(1) as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
        let step = match self {
            Unit::Line => step.max(1.0).round(),
            // Whole nanoseconds, and ms precision at least.
            Unit::Ns => step.max(1.0),
        };
        let decimals = match self {
            Unit::Ns => {
                let s = step / 1e9;
                let need = (-s.log10()).ceil().max(0.0) as usize;
                need.clamp(3, 9)
            }
            Unit::Line => 0,
        };
        let mut out = Vec::new();
        let mut t = (lo / step).ceil() * step;
        while t <= hi + 1e-9 && out.len() < 100 {
            let label = match self {
                Unit::Ns => format!("{:.*}", decimals, t / 1e9),
                Unit::Line => format!("{}", t as u64),
            };
            out.push((t, label));
            t += step;
        }
        out
    }
}

/// At most `n` characters of `s`, with an ellipsis when cut (kv values can be kilobytes).
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else if n == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The role of an operation on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Where every order broke.
    Culprit,
    /// In the window and in the longest legal order.
    InOrder,
    /// In the window, not in the longest legal order.
    Out,
    /// Outside the window, in the longest legal order.
    CtxOrder,
    /// Outside the window.
    Ctx,
}

impl Role {
    fn class(self) -> &'static str {
        match self {
            Role::Culprit => "bad",
            Role::InOrder => "ord",
            Role::Out => "out",
            Role::CtxOrder => "cord",
            Role::Ctx => "ctx",
        }
    }
}

/// A linear time → x scale.
struct Scale {
    lo: f64,
    hi: f64,
}

impl Scale {
    fn x(&self, t: f64) -> f64 {
        let span = (self.hi - self.lo).max(1e-9);
        (X0 + (t - self.lo) / span * (X1 - X0)).clamp(X0, X1)
    }
}

/// What is known about the failure, computed once.
struct Ctx<'a> {
    f: &'a Failure,
    unit: Unit,
    /// Position (1-based) in the longest legal order.
    pos: HashMap<usize, usize>,
    /// The window, valid indices only, in the given (invocation) order.
    window: Vec<usize>,
    culprit: Option<&'a OpView>,
}

impl<'a> Ctx<'a> {
    fn new(f: &'a Failure) -> Self {
        let pos = f.partial.iter().enumerate().filter(|(_, &i)| i < f.ops.len()).map(|(k, &i)| (i, k + 1)).collect();
        let mut window: Vec<usize> = f.window.iter().copied().filter(|&i| i < f.ops.len()).collect();
        if f.culprit < f.ops.len() && !window.contains(&f.culprit) {
            window.push(f.culprit);
        }
        Ctx { f, unit: Unit::of(&f.ops), pos, window, culprit: f.ops.get(f.culprit) }
    }

    fn role(&self, i: usize) -> Role {
        let in_window = self.window.contains(&i);
        if i == self.f.culprit {
            Role::Culprit
        } else if in_window && self.pos.contains_key(&i) {
            Role::InOrder
        } else if in_window {
            Role::Out
        } else if self.pos.contains_key(&i) {
            Role::CtxOrder
        } else {
            Role::Ctx
        }
    }

    /// The text of an operation, with "(outcome unknown)" when it has no return and its
    /// text does not say so already.
    fn op_text(&self, o: &OpView) -> String {
        if o.ret.is_none() && !o.text.contains("unknown") {
            format!("{} (outcome unknown)", o.text)
        } else {
            o.text.clone()
        }
    }

    /// A one-line description for tooltips.
    fn tooltip(&self, i: usize) -> String {
        let o = &self.f.ops[i];
        let mut s = format!(
            "client {} · {} · invoked {}, {}",
            o.client,
            cut(&self.op_text(o), 300),
            self.unit.precise(o.call),
            o.ret.map_or("outcome unknown (never returned)".to_string(), |r| format!("returned {}", self.unit.precise(r)))
        );
        if i == self.f.culprit {
            s.push_str(" · breaks here");
        } else if let Some(p) = self.pos.get(&i) {
            let _ = write!(s, " · #{p} of {} in the longest legal order", self.f.partial.len());
        }
        if !o.origin.is_empty() {
            let _ = write!(s, " · {}", o.origin);
        }
        s
    }

    /// Where the culprit stands against another operation in real time.
    fn relation(&self, i: usize) -> &'static str {
        let (Some(c), o) = (self.culprit, &self.f.ops[i]) else {
            return "";
        };
        if i == self.f.culprit {
            return "—";
        }
        if o.ret.is_some_and(|r| r < c.call) {
            "before it"
        } else if c.ret.is_some_and(|r| r < o.call) {
            "after it"
        } else {
            "concurrent"
        }
    }
}

/// Render the page for one failure. `title` heads the page (e.g. the file or run checked).
pub fn render(f: &Failure, title: &str) -> String {
    let cx = Ctx::new(f);
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — key {} not linearizable</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(title),
        esc(&format!("{:?}", f.key)),
        CSS
    );
    let _ = writeln!(o, "<header><h1>{}</h1>", esc(title));
    summary(&mut o, &cx);
    o.push_str("</header>\n");
    if cx.culprit.is_none() || cx.window.is_empty() {
        o.push_str("<p class=\"note\">The checker gave no operations to draw for this failure.</p>\n");
    } else {
        legend(&mut o);
        overview(&mut o, &cx);
        let zoom = zoom_range(&cx);
        detail(&mut o, &cx, zoom, "The window, zoomed", "the operations that cannot be ordered together, one row per client");
        if let Some(close) = close_up(&cx, zoom) {
            detail(&mut o, &cx, close, "Close-up around the culprit", "the short operations of the window and the culprit");
        }
        table(&mut o, &cx);
        order_list(&mut o, &cx);
    }
    let _ = write!(
        o,
        "<details><summary>As printed on the terminal</summary><pre>{}</pre></details>\n<script>{}</script>\n</body>\n</html>\n",
        esc(&if cx.culprit.is_some() && f.window.iter().all(|&i| i < f.ops.len()) { super::explain::text(f) } else { String::new() }),
        JS
    );
    o
}

/// The key and what broke, in words.
fn summary(o: &mut String, cx: &Ctx) {
    let f = cx.f;
    let _ = write!(o, "<p class=\"lead\"><b>Key <code>{}</code> is not linearizable</b>: no order of its operations is legal.", esc(&format!("{:?}", f.key)));
    if let Some(c) = cx.culprit {
        let _ = write!(
            o,
            " It breaks at client {}’s <code class=\"bad\">{}</code>{}, invoked at {} and {}: no legal order of the operations so far includes it.",
            c.client,
            esc(&cx.op_text(c)),
            if c.origin.is_empty() { String::new() } else { format!(" (<span class=\"origin\">{}</span>)", esc(&c.origin)) },
            esc(&cx.unit.short(c.call)),
            c.ret.map_or("whose outcome is unknown".to_string(), |r| format!("returned at {}", esc(&cx.unit.short(r))))
        );
    }
    o.push_str("</p>\n<p>");
    if f.states_before.is_empty() {
        o.push_str("The checker did not record which values the key could hold just before the culprit returned");
    } else {
        let states: Vec<String> = f.states_before.iter().map(|s| format!("<code>{}</code>", esc(s))).collect();
        match f.forced_by.and_then(|w| f.ops.get(w)) {
            Some(w) => {
                let _ = write!(
                    o,
                    "By the return of client {}’s <code>{}</code> at {}, every legal order had overwritten what the culprit returns, for good; the key could then only hold {}",
                    w.client,
                    esc(&cx.op_text(w)),
                    esc(&w.ret.map_or("?".to_string(), |r| cx.unit.short(r))),
                    states.join(" or ")
                );
            }
            None => {
                let _ = write!(o, "Just before the culprit returned, the key could only hold {}", states.join(" or "));
            }
        }
    }
    let _ = writeln!(
        o,
        "; the longest legal order found has {} operation(s). {} operations of this key in all, {} in the window below.</p>",
        f.partial.len(),
        f.ops.len(),
        cx.window.len()
    );
}

fn legend(o: &mut String) {
    o.push_str("<p class=\"legend\">");
    for (class, what) in [
        ("ord", "in the longest legal order (numbered in that order)"),
        ("out", "in the window, not in that order"),
        ("bad", "breaks here"),
        ("unk", "outcome unknown: may take effect any time after invocation, or never"),
        ("ctx", "other operations"),
        ("win", "the window"),
        ("cband", "while the culprit ran"),
    ] {
        let _ = write!(o, "<span class=\"item\"><span class=\"sw {class}\"></span>{what}</span> ");
    }
    o.push_str("</p>\n");
}

/// The time span `[start, end]` an operation covers, `end` = `None` for an unknown outcome.
fn span(o: &OpView) -> (u64, Option<u64>) {
    (o.call, o.ret.map(|r| r.max(o.call)))
}

/// The key's whole history as a strip: one thin row per client, bars merged to the pixel,
/// the window boxed, the culprit marked.
fn overview(o: &mut String, cx: &Ctx) {
    let f = cx.f;
    let lo = f.ops.iter().map(|op| op.call).min().unwrap_or(0) as f64;
    let hi = f.ops.iter().map(|op| op.ret.unwrap_or(op.call).max(op.call)).max().unwrap_or(0) as f64;
    let margin = ((hi - lo) * 0.01).max(if cx.unit == Unit::Line { 1.0 } else { 1e6 });
    let sc = Scale { lo: (lo - margin).max(0.0), hi: hi + margin };
    let clients: Vec<u64> = {
        let mut c: Vec<u64> = f.ops.iter().map(|op| op.client).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    let row_of: HashMap<u64, usize> = clients.iter().enumerate().map(|(k, &c)| (c, k)).collect();
    let rh = (150.0 / clients.len().max(1) as f64).clamp(0.6, 6.0);
    let top = 8.0;
    let rows_h = rh * clients.len() as f64;
    let axis_y = top + rows_h + 4.0;
    let height = axis_y + 22.0;

    // Segments per (class, row), in pixels.
    let mut segs: BTreeMap<(&'static str, usize), Vec<(f64, f64)>> = BTreeMap::new();
    for (i, op) in f.ops.iter().enumerate() {
        let (a, b) = span(op);
        let class = match (cx.role(i), b) {
            (Role::Ctx, None) => "unk",
            (r, _) => r.class(),
        };
        let xa = sc.x(a as f64);
        let xb = b.map_or(X1, |b| sc.x(b as f64)).max(xa + 1.2);
        segs.entry((class, row_of[&op.client])).or_default().push((xa, xb));
    }
    // Merge bars closer than `gap` pixels, widening the gap until few enough remain.
    let mut gap = 0.8;
    let merged = loop {
        let mut out: BTreeMap<(&'static str, usize), Vec<(f64, f64)>> = BTreeMap::new();
        let mut n = 0;
        for (k, v) in &segs {
            let mut v = v.clone();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut m: Vec<(f64, f64)> = Vec::new();
            for (a, b) in v {
                match m.last_mut() {
                    Some(last) if a <= last.1 + gap && k.0 != "bad" && k.0 != "ord" && k.0 != "out" => last.1 = last.1.max(b),
                    _ => m.push((a, b)),
                }
            }
            n += m.len();
            out.insert(*k, m);
        }
        if n <= OVERVIEW_MAX_BARS || gap > 256.0 {
            break out;
        }
        gap *= 2.0;
    };

    let _ = writeln!(
        o,
        "<section><h2>The whole history of the key <small>{} operations, {} clients (one thin row each); the yellow box is the part drawn below</small></h2>",
        f.ops.len(),
        clients.len()
    );
    let _ = writeln!(o, "<svg class=\"overview\" viewBox=\"0 0 {W} {height:.1}\" width=\"{W}\" height=\"{height:.1}\" role=\"img\" aria-label=\"overview of the key's history\">");
    // The hatchings of unknown outcomes, used by the drawings below too.
    o.push_str(DEFS);
    // The zoomed range.
    let (zlo, zhi) = zoom_range(cx);
    let (za, zb) = (sc.x(zlo), sc.x(zhi).max(sc.x(zlo) + 3.0));
    let _ = writeln!(o, "<path class=\"zoom\" d=\"M{za:.1} {:.1}H{zb:.1}V{:.1}H{za:.1}Z\"/>", top - 4.0, top + rows_h + 2.0);
    let _ = writeln!(o, "<text class=\"gut\" x=\"{:.1}\" y=\"{:.1}\">all clients</text>", X0 - 8.0, top + rows_h / 2.0 + 4.0);
    for class in ["unk", "ctx", "cord", "out", "ord", "bad"] {
        let mut d = String::new();
        for ((c, row), v) in &merged {
            if *c != class {
                continue;
            }
            let y = top + (*row as f64 + 0.5) * rh;
            for (a, b) in v {
                let _ = write!(d, "M{a:.1} {y:.1}H{b:.1}");
            }
        }
        if !d.is_empty() {
            let w = if class == "bad" || class == "ord" || class == "out" { (rh * 0.9).max(2.0) } else { (rh * 0.8).max(0.6) };
            let _ = writeln!(o, "<path class=\"ov {class}\" stroke-width=\"{w:.1}\" d=\"{d}\"/>");
        }
    }
    if let Some(c) = cx.culprit {
        let x = sc.x(c.call as f64);
        let _ = writeln!(
            o,
            "<path class=\"cmark\" d=\"M{x:.1} {:.1}V{:.1}\"/><path class=\"cmark-head\" d=\"M{:.1} 0H{:.1}L{x:.1} 6Z\"/>",
            top - 2.0,
            top + rows_h + 2.0,
            x - 5.0,
            x + 5.0
        );
    }
    axis(o, cx.unit, &sc, axis_y, None, 10);
    o.push_str("</svg>\n</section>\n");
}

/// The range drawn in the window view: the window's operations with a margin. Operations
/// with unknown outcome invoked long before the rest are cut at the left (they may take
/// effect at any point after invocation, so their start says little).
fn zoom_range(cx: &Ctx) -> (f64, f64) {
    let ops = &cx.f.ops;
    let w = &cx.window;
    let hi = w.iter().map(|&i| ops[i].ret.unwrap_or(ops[i].call).max(ops[i].call)).max().unwrap_or(0) as f64;
    let lo_all = w.iter().map(|&i| ops[i].call).min().unwrap_or(0) as f64;
    let lo_known = w.iter().filter(|&&i| ops[i].ret.is_some() || i == cx.f.culprit).map(|&i| ops[i].call).min().map_or(lo_all, |t| t as f64);
    let known_span = (hi - lo_known).max(1.0);
    let lo = if lo_known - lo_all > 4.0 * known_span { lo_known - known_span * 0.75 } else { lo_all };
    let margin = ((hi - lo) * 0.04).max(if cx.unit == Unit::Line { 1.0 } else { 1e6 });
    ((lo - margin).max(0.0), hi + margin)
}

/// A second, closer range when the culprit is a sliver in the window view (long operations
/// stretch the window): the culprit and the window's short operations (a tenth of the
/// window's range at most) that returned.
fn close_up(cx: &Ctx, (lo, hi): (f64, f64)) -> Option<(f64, f64)> {
    let c = cx.culprit?;
    let range = hi - lo;
    let c_end = c.ret? as f64;
    if (c_end - c.call as f64) / range * (X1 - X0) >= 24.0 {
        return None;
    }
    let short: Vec<(f64, f64)> = cx
        .window
        .iter()
        .filter_map(|&i| {
            let op = &cx.f.ops[i];
            let r = op.ret? as f64;
            (r - op.call as f64 <= range / 10.0 || i == cx.f.culprit).then_some((op.call as f64, r))
        })
        .collect();
    let a = short.iter().map(|s| s.0).fold(f64::MAX, f64::min);
    let b = short.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    if b - a > range / 3.0 {
        return None;
    }
    let margin = ((b - a) * 0.06).max(if cx.unit == Unit::Line { 1.0 } else { 1e6 });
    Some(((a - margin).max(0.0), b + margin))
}

/// An axis at `y` with its tick labels below it, or above it when gridlines run down to
/// `grid_to` (the window view, whose rows are below the axis).
fn axis(o: &mut String, unit: Unit, sc: &Scale, y: f64, grid_to: Option<f64>, n: usize) {
    let (label_y, tick) = if grid_to.is_some() { (y - 7.0, -4.0) } else { (y + 15.0, 4.0) };
    let _ = writeln!(o, "<path class=\"axis\" d=\"M{X0:.1} {y:.1}H{X1:.1}\"/>");
    let _ = writeln!(o, "<text class=\"gut\" x=\"{:.1}\" y=\"{label_y:.1}\">{}</text>", X0 - 10.0, unit.axis_title());
    let mut last_end = f64::MIN;
    for (t, label) in unit.ticks(sc.lo, sc.hi, n) {
        let x = sc.x(t);
        if let Some(g) = grid_to {
            let _ = writeln!(o, "<path class=\"grid\" d=\"M{x:.1} {y:.1}V{g:.1}\"/>");
        }
        let _ = write!(o, "<path class=\"tick\" d=\"M{x:.1} {y:.1}v{tick}\"/>");
        // Labels are centred on their tick, but kept clear of the axis title on the left.
        let half = label.len() as f64 * 3.3;
        let lx = x.max(X0 - 4.0 + half);
        if lx - half > last_end + 6.0 && lx + half <= W {
            let _ = write!(o, "<text class=\"tl\" x=\"{lx:.1}\" y=\"{label_y:.1}\">{}</text>", esc(&label));
            last_end = lx + half;
        }
        o.push('\n');
    }
}

/// One bar of the window view.
struct Bar {
    op: usize,
    role: Role,
    xa: f64,
    xb: f64,
    /// Starts before the drawn range.
    clipped: bool,
    /// Returns after the drawn range.
    cut: bool,
    /// Outcome unknown: open to the right edge.
    open: bool,
}

/// The window zoomed: one row per client of the window, lanes where a client's operations
/// overlap (an unknown outcome stays open), labels above the bars.
fn detail(o: &mut String, cx: &Ctx, (lo, hi): (f64, f64), heading: &str, what: &str) {
    let f = cx.f;
    let sc = Scale { lo, hi };
    let in_range = |i: usize| {
        let (a, b) = span(&f.ops[i]);
        (a as f64) <= hi && b.is_none_or(|b| b as f64 >= lo)
    };
    // Rows: the window's clients, in order of their first operation in the window.
    let mut clients: Vec<u64> = Vec::new();
    for &i in &cx.window {
        if in_range(i) && !clients.contains(&f.ops[i].client) {
            clients.push(f.ops[i].client);
        }
    }
    // Operations drawn: the window, plus the same clients' other operations in range.
    let mut by_client: HashMap<u64, Vec<usize>> = HashMap::new();
    for &i in cx.window.iter().filter(|&&i| in_range(i)) {
        by_client.entry(f.ops[i].client).or_default().push(i);
    }
    let mut context = 0;
    for (i, op) in f.ops.iter().enumerate() {
        if context >= CONTEXT_MAX || cx.window.contains(&i) || !clients.contains(&op.client) {
            continue;
        }
        if in_range(i) {
            by_client.entry(op.client).or_default().push(i);
            context += 1;
        }
    }

    // Lanes per client: greedy interval packing, window operations first so they get the top lanes.
    let mut rows: Vec<(u64, Vec<Vec<Bar>>)> = Vec::new();
    for &c in &clients {
        let mut ids = by_client.remove(&c).unwrap_or_default();
        ids.sort_by_key(|&i| (cx.role(i) == Role::Ctx || cx.role(i) == Role::CtxOrder, f.ops[i].call, i));
        let mut lanes: Vec<Vec<Bar>> = Vec::new();
        for i in ids {
            let op = &f.ops[i];
            let (a, b) = span(op);
            let xa = sc.x(a as f64);
            let xb = b.map_or(X1, |b| sc.x(b as f64)).max(xa + 3.0);
            let bar = Bar { op: i, role: cx.role(i), xa, xb, clipped: (a as f64) < lo, cut: b.is_some_and(|b| b as f64 > hi), open: b.is_none() };
            let free = lanes.iter().position(|l| l.iter().all(|x| x.xb + 2.0 < bar.xa || bar.xb + 2.0 < x.xa));
            match free {
                Some(k) => lanes[k].push(bar),
                None => lanes.push(vec![bar]),
            }
        }
        for l in &mut lanes {
            l.sort_by(|a, b| a.xa.total_cmp(&b.xa));
        }
        rows.push((c, lanes));
    }

    let top = 30.0;
    let lanes_total: usize = rows.iter().map(|r| r.1.len()).sum();
    let bottom = top + lanes_total as f64 * LANE_H + 4.0;
    let height = bottom + 4.0;
    let _ = writeln!(
        o,
        "<section><h2>{} <small>{} to {}: {}</small></h2>",
        esc(heading),
        esc(&cx.unit.short(lo.round() as u64)),
        esc(&cx.unit.short(hi.round() as u64)),
        esc(what)
    );
    let _ =
        writeln!(o, "<svg class=\"detail\" viewBox=\"0 0 {W} {height:.1}\" width=\"{W}\" height=\"{height:.1}\" role=\"img\" aria-label=\"{}\">", esc(heading));
    // The window's extent and the culprit's run.
    let wlo = cx.window.iter().map(|&i| f.ops[i].call).min().unwrap_or(0) as f64;
    let whi = cx.window.iter().map(|&i| f.ops[i].ret.unwrap_or(f.ops[i].call)).max().unwrap_or(0) as f64;
    let (wa, wb) = (sc.x(wlo), sc.x(whi));
    let _ = writeln!(o, "<path class=\"winband\" d=\"M{wa:.1} {top:.1}H{wb:.1}V{bottom:.1}H{wa:.1}Z\"/>");
    axis(o, cx.unit, &sc, top - 2.0, Some(bottom), 12);
    if let Some(c) = cx.culprit {
        let (a, b) = (sc.x(c.call as f64), c.ret.map_or(X1, |r| sc.x(r as f64)));
        let _ = writeln!(
            o,
            "<path class=\"cband\" d=\"M{a:.1} {top:.1}H{b:.1}V{bottom:.1}H{a:.1}Z\"/><path class=\"cline\" d=\"M{a:.1} {top:.1}V{bottom:.1}M{b:.1} {top:.1}V{bottom:.1}\"/>"
        );
    }
    // Rows.
    let mut y = top;
    for (k, (client, lanes)) in rows.iter().enumerate() {
        let row_h = lanes.len() as f64 * LANE_H;
        if k % 2 == 1 {
            let _ = writeln!(o, "<path class=\"stripe\" d=\"M0 {y:.1}H{X0:.1}V{:.1}H0Z\"/>", y + row_h);
        }
        let _ = writeln!(o, "<path class=\"sep\" d=\"M0 {:.1}H{X1:.1}\"/>", y + row_h);
        let _ = writeln!(o, "<text class=\"client\" x=\"{:.1}\" y=\"{:.1}\">client {}</text>", X0 - 8.0, y + 27.0, client);
        for lane in lanes {
            lane_svg(o, cx, lane, y);
            y += LANE_H;
        }
    }
    o.push_str("</svg>\n</section>\n");
}

/// The bars and labels of one lane whose top is at `y`.
fn lane_svg(o: &mut String, cx: &Ctx, lane: &[Bar], y: f64) {
    let by = y + 17.0;
    let bh = 12.0;
    // Context first (unlabelled, faint), then the window's bars with labels.
    for b in lane.iter().filter(|b| matches!(b.role, Role::Ctx | Role::CtxOrder)) {
        let ym = by + bh / 2.0;
        let _ = writeln!(
            o,
            "<path class=\"cx {}{}\" data-op=\"{}\" d=\"M{:.1} {ym:.1}H{:.1}\"><title>{}</title></path>",
            b.role.class(),
            if b.open { " open" } else { "" },
            b.op,
            b.xa,
            b.xb,
            esc(&cx.tooltip(b.op))
        );
    }
    let labelled: Vec<&Bar> = lane.iter().filter(|b| !matches!(b.role, Role::Ctx | Role::CtxOrder)).collect();
    let mut cursor = X0 - 4.0;
    for (k, b) in labelled.iter().enumerate() {
        let op = &cx.f.ops[b.op];
        let class = b.role.class();
        let fill = if b.open { format!(" fill=\"url(#h-{class})\"") } else { String::new() };
        let _ = writeln!(
            o,
            "<rect class=\"bar {class}{}\" data-op=\"{}\" x=\"{:.1}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" rx=\"2\"{fill}><title>{}</title></rect>",
            if b.open { " open" } else { "" },
            b.op,
            b.xa,
            b.xb - b.xa,
            esc(&cx.tooltip(b.op))
        );
        if b.open {
            let _ = writeln!(o, "<text class=\"q {class}\" x=\"{:.1}\" y=\"{:.1}\">?</text>", X1 + 3.0, by + 10.0);
        }
        if b.clipped {
            let _ = writeln!(o, "<path class=\"clip {class}\" d=\"M{:.1} {by:.1}l-6 {:.1}l6 {:.1}Z\"/>", b.xa, bh / 2.0, bh / 2.0);
        }
        if b.cut {
            let _ = writeln!(o, "<path class=\"clip {class}\" d=\"M{:.1} {by:.1}l6 {:.1}l-6 {:.1}Z\"/>", b.xb, bh / 2.0, bh / 2.0);
        }
        // The label: [number | breaks here] text, above the bar, cut to the room it has.
        let badge = match b.role {
            Role::Culprit => Some("✖ breaks here".to_string()),
            _ => cx.pos.get(&b.op).map(|p| format!("{p}")),
        };
        let mut text = cx.op_text(op);
        if b.clipped {
            text = format!("{text} · invoked at {}", cx.unit.short(op.call));
        }
        let badge_chars = badge.as_ref().map_or(0, |s| s.chars().count() + 1);
        let want = (badge_chars + text.chars().count()) as f64 * CHAR_W;
        let limit = labelled.get(k + 1).map_or(X1, |n| n.xa - 8.0);
        let mut start = b.xa.max(cursor);
        if start + want > limit {
            start = (limit - want).max(cursor).min(b.xa.max(cursor));
        }
        let room = ((limit - start) / CHAR_W + 0.01).floor().max(0.0) as usize;
        if room < 2 {
            continue;
        }
        let _ = write!(o, "<text class=\"lbl {class}\" x=\"{start:.1}\" y=\"{:.1}\">", y + 13.0);
        let mut used = 0;
        if let Some(bdg) = &badge {
            let s = cut(bdg, room);
            used += s.chars().count() + 1;
            let _ = write!(o, "<tspan class=\"badge {class}\">{}</tspan> ", esc(&s));
        }
        let s = cut(&text, room.saturating_sub(used));
        used += s.chars().count();
        let _ = writeln!(o, "{}</text>", esc(&s));
        cursor = start + used as f64 * CHAR_W + 10.0;
    }
}

/// The window as a table.
fn table(o: &mut String, cx: &Ctx) {
    let f = cx.f;
    o.push_str("<section><h2>The window’s operations <small>in invocation order</small></h2>\n<table>\n<thead><tr><th>op</th><th>client</th><th>invoked</th><th>returned</th><th>operation</th><th>in the legal order</th><th>against the culprit</th><th>origin</th></tr></thead>\n<tbody>\n");
    for &i in &cx.window {
        let op = &f.ops[i];
        let role = cx.role(i);
        let position = match role {
            Role::Culprit => "<span class=\"badge bad\">✖ breaks here</span>".to_string(),
            _ => cx.pos.get(&i).map_or("—".to_string(), |p| format!("<span class=\"badge ord\">{p}</span> of {}", f.partial.len())),
        };
        let _ = writeln!(
            o,
            "<tr class=\"{}\" data-op=\"{i}\" title=\"{}\"><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"optext\"><code>{}</code></td><td>{position}</td><td>{}</td><td class=\"origin\" title=\"{}\">{}</td></tr>",
            role.class(),
            esc(&cx.tooltip(i)),
            op.index,
            op.client,
            esc(&cx.unit.precise(op.call)),
            op.ret.map_or("<i>unknown</i>".to_string(), |r| esc(&cx.unit.precise(r))),
            esc(&cut(&cx.op_text(op), 4000)),
            cx.relation(i),
            esc(&op.origin),
            esc(op.origin.rsplit('/').next().unwrap_or(&op.origin))
        );
    }
    o.push_str("</tbody>\n</table>\n");
    if f.states_before.is_empty() {
        o.push_str("<p>States the key could hold just before the culprit returned: <i>not recorded by the checker</i>.</p>\n");
    } else {
        let _ = writeln!(
            o,
            "<p>States the key could hold just before {}: {}.</p>",
            if f.forced_by.is_some() { "the operation that forced the overwrite returned" } else { "the culprit returned" },
            f.states_before.iter().map(|s| format!("<code>{}</code>", esc(s))).collect::<Vec<_>>().join(" or ")
        );
    }
    o.push_str("</section>\n");
}

/// The longest legal order in full (the last 500 when longer).
fn order_list(o: &mut String, cx: &Ctx) {
    let f = cx.f;
    let n = f.partial.len();
    let skip = n.saturating_sub(500);
    let _ = writeln!(
        o,
        "<details><summary>The longest legal order found ({n} operations{})</summary>",
        if skip > 0 { format!("; the last {}", n - skip) } else { String::new() }
    );
    let _ = writeln!(o, "<ol start=\"{}\" class=\"order\">", skip + 1);
    for &i in f.partial.iter().skip(skip) {
        let Some(op) = f.ops.get(i) else { continue };
        let _ = writeln!(
            o,
            "<li data-op=\"{i}\"><span class=\"who\">client {}</span> <code>{}</code> <span class=\"when\">{} – {}</span></li>",
            op.client,
            esc(&cut(&cx.op_text(op), 300)),
            esc(&cx.unit.short(op.call)),
            op.ret.map_or("?".to_string(), |r| esc(&cx.unit.short(r)))
        );
    }
    o.push_str("</ol>\n</details>\n");
}

const DEFS: &str = "<defs>\
<pattern id=\"h-ord\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><path d=\"M0 0H7V7H0Z\" fill=\"#e3ebfb\"/><path d=\"M0 0V7\" stroke=\"#3b6fd8\" stroke-width=\"3\"/></pattern>\
<pattern id=\"h-out\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><path d=\"M0 0H7V7H0Z\" fill=\"#eceef1\"/><path d=\"M0 0V7\" stroke=\"#7a828e\" stroke-width=\"3\"/></pattern>\
<pattern id=\"h-bad\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><path d=\"M0 0H7V7H0Z\" fill=\"#fbe1e1\"/><path d=\"M0 0V7\" stroke=\"#d62828\" stroke-width=\"3\"/></pattern>\
</defs>\n";

const CSS: &str = r#"
:root { --ord: #3b6fd8; --out: #7a828e; --bad: #d62828; --ctx: #c3c8d0; --win: #fff6d5; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d2330; margin: 18px 24px; max-width: 1340px; }
h1 { font-size: 18px; margin: 0 0 6px; color: #555d6b; font-weight: 600; }
h2 { font-size: 16px; margin: 18px 0 6px; }
h2 small { font-weight: normal; color: #667; font-size: 13px; margin-left: 6px; }
p.lead { font-size: 17px; margin: 4px 0; }
code, .lbl, .tl, .client, .gut, td.num, .when { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
code { background: #f1f3f6; padding: 0 3px; border-radius: 3px; font-size: 0.92em; word-break: break-word; }
code.bad { background: #fde4e4; color: #a40f0f; }
.origin { color: #667; font-size: 13px; }
.legend { font-size: 13px; color: #444; margin: 10px 0 0; } .legend > span.item { white-space: nowrap; margin-right: 10px; }
.sw { display: inline-block; width: 22px; height: 11px; border-radius: 2px; vertical-align: -1px; margin: 0 3px 0 0; }
.sw.ord { background: var(--ord); } .sw.out { background: var(--out); } .sw.bad { background: var(--bad); }
.sw.ctx { background: var(--ctx); height: 4px; vertical-align: 2px; }
.sw.unk { background: repeating-linear-gradient(45deg, #3b6fd8 0 2px, #e3ebfb 2px 5px); }
.sw.win { background: var(--win); border: 1px solid #e5cf73; } .sw.cband { background: #fdeeee; border: 1px dashed var(--bad); }
svg { display: block; width: 100%; height: auto; overflow: visible; }
svg text { font-size: 12px; fill: #1d2330; }
.gut, .client { text-anchor: end; fill: #555d6b; }
.client { font-size: 12px; font-weight: 600; }
.tl { text-anchor: middle; font-size: 11px; fill: #555d6b; }
.axis { stroke: #8a919c; } .tick { stroke: #8a919c; } .grid { stroke: #eceef2; }
.sep { stroke: #e6e8ec; } .stripe { fill: #f6f7f9; }
.winband { fill: var(--win); }
.cband { fill: #d62828; fill-opacity: 0.07; } .cline { stroke: var(--bad); stroke-dasharray: 4 3; stroke-width: 1; fill: none; }
.zoom { fill: #ffe066; fill-opacity: 0.35; stroke: #c9a400; stroke-width: 1.5; }
.cmark { stroke: var(--bad); stroke-width: 2; } .cmark-head { fill: var(--bad); }
path.ov { fill: none; stroke-linecap: butt; }
path.ov.ctx { stroke: #b8bec8; } path.ov.unk { stroke: #d9dde3; } path.ov.cord { stroke: #9db5e9; }
path.ov.ord { stroke: var(--ord); } path.ov.out { stroke: var(--out); } path.ov.bad { stroke: var(--bad); }
rect.bar.ord { fill: var(--ord); } rect.bar.out { fill: var(--out); } rect.bar.bad { fill: var(--bad); }
rect.bar.open { stroke-width: 1; } rect.bar.open.ord { fill: url(#h-ord); } rect.bar.open.out { fill: url(#h-out); } rect.bar.open.bad { fill: url(#h-bad); } rect.bar.open.ord { stroke: var(--ord); } rect.bar.open.out { stroke: var(--out); } rect.bar.open.bad { stroke: var(--bad); }
rect.bar.hl, path.cx.hl { stroke: #111; stroke-width: 2.5; }
path.cx { stroke-width: 5; fill: none; } path.cx.ctx { stroke: var(--ctx); } path.cx.cord { stroke: #9db5e9; } path.cx.open { stroke-dasharray: 3 3; }
path.clip.ord { fill: var(--ord); } path.clip.out { fill: var(--out); } path.clip.bad { fill: var(--bad); }
.q { font-weight: 700; } .q.ord { fill: var(--ord); } .q.out { fill: var(--out); } .q.bad { fill: var(--bad); }
.lbl { white-space: pre; } .lbl.bad { fill: #a40f0f; font-weight: 700; }
tspan.badge { font-weight: 700; } tspan.badge.ord { fill: var(--ord); } tspan.badge.bad { fill: var(--bad); }
table { border-collapse: collapse; font-size: 13.5px; margin-top: 4px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e6e8ec; vertical-align: top; }
th { background: #f3f4f7; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
td.optext code { white-space: pre-wrap; }
tr.bad td { background: #fdecec; } tr.bad td.optext code { background: #fbd3d3; color: #8c0b0b; font-weight: 700; }
tr.hl td { background: #fff3bf !important; } li.hl { background: #fff3bf; }
span.badge { display: inline-block; min-width: 18px; padding: 0 5px; border-radius: 9px; color: #fff; font-weight: 700; text-align: center; font-size: 12px; }
span.badge.ord { background: var(--ord); } span.badge.bad { background: var(--bad); }
details { margin: 16px 0; } summary { cursor: pointer; font-weight: 600; }
ol.order { font-size: 13.5px; columns: 2; } .who { color: #555d6b; } .when { color: #889; font-size: 12px; }
pre { background: #f6f7f9; padding: 10px; overflow-x: auto; font-size: 12.5px; }
p.note { color: #a40f0f; }
"#;

/// Hover an operation anywhere (bar, table row, list item) to highlight it everywhere. The
/// page reads the same without it.
const JS: &str = r#"
(function () {
  function mark(id, on) {
    document.querySelectorAll('[data-op="' + id + '"]').forEach(function (e) { e.classList.toggle('hl', on); });
  }
  document.querySelectorAll('[data-op]').forEach(function (e) {
    e.addEventListener('mouseenter', function () { mark(e.getAttribute('data-op'), true); });
    e.addEventListener('mouseleave', function () { mark(e.getAttribute('data-op'), false); });
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn op(index: usize, client: u64, call: u64, ret: Option<u64>, text: &str) -> OpView {
        OpView { index, client, call, ret, text: text.to_string(), origin: format!("h.jsonl:{}", index + 1) }
    }

    /// A stale read of `"a<b>"` after a write of `"c&d"` returned, with an unknown cas.
    fn failure() -> Failure {
        Failure {
            key: "k\"<1>".to_string(),
            ops: vec![
                op(0, 1, 1_000_000_000, Some(1_010_000_000), "write \"a<b>\""),
                op(1, 2, 1_020_000_000, Some(1_030_000_000), "write \"c&d\""),
                op(2, 3, 1_025_000_000, None, "cas \"c&d\"→\"e\" (outcome unknown)"),
                op(3, 1, 1_040_000_000, Some(1_050_000_000), "read → \"a<b>\""),
            ],
            culprit: 3,
            window: vec![0, 1, 2, 3],
            partial: vec![0, 1],
            states_before: vec!["\"c&d\"".to_string(), "\"e\"".to_string()],
            forced_by: None,
        }
    }

    #[test]
    fn page_names_the_key_and_escapes_the_culprit() {
        let page = render(&failure(), "run <x>");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("k\\&quot;&lt;1&gt;"), "the key, escaped");
        assert!(page.contains("read → &quot;a&lt;b&gt;&quot;"), "the culprit's text, escaped");
        assert!(!page.contains("read → \"a<b>\""));
        assert!(page.contains("breaks here"));
        assert!(page.contains("run &lt;x&gt;"));
        assert!(page.contains("&quot;c&amp;d&quot; or &quot;e&quot;"), "states before");
    }

    #[test]
    fn one_rect_per_window_operation_and_balanced_svg() {
        let f = failure();
        let page = render(&f, "t");
        assert_eq!(page.matches("<rect").count(), f.window.len());
        assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
        assert_eq!(page.matches("<svg").count(), 2, "overview and window");
        assert_eq!(page.matches("<table").count(), page.matches("</table>").count());
        assert_eq!(page.matches("<text").count(), page.matches("</text>").count());
        // The unknown outcome is hatched and open.
        assert!(page.contains("fill=\"url(#h-out)\""));
    }

    #[test]
    fn self_contained() {
        let page = render(&failure(), "t");
        assert!(!page.contains("http://"));
        assert!(!page.contains("https://"));
        assert!(!page.contains("<link"));
        assert!(!page.contains("src="));
    }

    #[test]
    fn time_units() {
        assert_eq!(Unit::of(&failure().ops), Unit::Ns);
        let lines = vec![op(0, 1, 85, Some(86), "read → 2")];
        assert_eq!(Unit::of(&lines), Unit::Line);
        let t = Unit::Line.ticks(50.0, 90.0, 8);
        assert!(t.iter().all(|(v, l)| v.fract() == 0.0 && l.parse::<u64>().is_ok()));
        let t = Unit::Ns.ticks(1.0e9, 1.05e9, 8);
        assert!(t.iter().any(|(_, l)| l == "1.010"), "{t:?}");
        let page = render(&Failure { key: "r".into(), ops: lines, culprit: 0, window: vec![0], partial: vec![], states_before: vec![], forced_by: None }, "t");
        assert!(page.contains("log line"));
        assert!(page.contains("not recorded"));
    }

    #[test]
    fn large_histories_stay_small() {
        // 20 000 operations by 50 clients; the window is the last few.
        let mut ops = Vec::new();
        for i in 0..20_000u64 {
            ops.push(op(i as usize, i % 50, 1_000_000_000 + i * 1_000_000, Some(1_000_000_000 + i * 1_000_000 + 40_000_000), "write 1"));
        }
        let n = ops.len();
        let f = Failure {
            key: "k".into(),
            ops,
            culprit: n - 1,
            window: (n - 8..n).collect(),
            partial: (0..n - 8).collect(),
            states_before: vec!["1".into()],
            forced_by: None,
        };
        let page = render(&f, "big");
        assert_eq!(page.matches("<rect").count(), 8);
        let ov = &page[page.find("class=\"overview\"").unwrap()..page.find("class=\"detail\"").unwrap()];
        assert!(ov.matches('M').count() <= OVERVIEW_MAX_BARS + 50, "{} segments", ov.matches('M').count());
        assert!(page.len() < 400_000, "{} bytes", page.len());
    }

    #[test]
    fn several_pages_get_numbered_names() {
        use crate::check::html_path;
        use std::path::{Path, PathBuf};
        assert_eq!(html_path(Path::new("/tmp/l.html"), 1), PathBuf::from("/tmp/l.html"));
        assert_eq!(html_path(Path::new("/tmp/l.html"), 2), PathBuf::from("/tmp/l-2.html"));
        assert_eq!(html_path(Path::new("page"), 3), PathBuf::from("page-3"));
    }

    #[test]
    fn bad_indices_do_not_panic() {
        let mut f = failure();
        f.window.push(99);
        f.partial.push(77);
        f.culprit = 42;
        let page = render(&f, "t");
        assert!(page.contains("</html>"));
    }
}
