//! Reading histories for the checker: faultline's `history.jsonl` (docs/formats.md §2), Jepsen's
//! etcd logs and Porcupine's kv logs. A malformed line is reported as `file:line: what was
//! expected` — and so is a line that breaks the pairing of `history.jsonl` (a completion
//! without its invocation, with another `f` or key, or stamped before it): the checker never
//! judges a history it had to guess at.

use super::models::kv::{KvIn, KvOut};
use super::models::register::{RegIn, RegOut, Register, Val};
use super::Operation;
use crate::history::{EntryType, OpKind, Value};
use std::collections::HashMap;
use std::path::Path;

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// faultline's history.jsonl.
    Jsonl,
    /// Jepsen's etcd log (`INFO  jepsen.util - 0 :invoke :read nil`).
    JepsenLog,
    /// Porcupine's kv log (`{:process 0, :type :invoke, :f :get, :key "7", :value nil}`).
    KvLog,
}

impl Format {
    /// Parse a `--format` value (`auto` is `None`).
    pub fn parse(s: &str) -> Result<Option<Format>, String> {
        match s {
            "auto" => Ok(None),
            "jsonl" => Ok(Some(Format::Jsonl)),
            "jepsen-log" => Ok(Some(Format::JepsenLog)),
            "kv-log" => Ok(Some(Format::KvLog)),
            other => Err(format!("unknown format `{other}`: use auto, jsonl, jepsen-log or kv-log")),
        }
    }

    /// As `--format` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::JepsenLog => "jepsen-log",
            Format::KvLog => "kv-log",
        }
    }

    /// Guess from the first non-empty line.
    pub fn detect(text: &str) -> Option<Format> {
        let first = text.lines().find(|l| !l.trim().is_empty())?.trim_start();
        if first.starts_with("{\"") {
            Some(Format::Jsonl)
        } else if first.starts_with("{:") {
            Some(Format::KvLog)
        } else if first.starts_with("INFO") {
            Some(Format::JepsenLog)
        } else {
            None
        }
    }
}

/// Interns register values to numbers (0 = absent).
#[derive(Default)]
pub struct Interner {
    ids: HashMap<String, Val>,
    /// The model that prints them back.
    pub model: Register,
}

impl Interner {
    /// The number of a value.
    pub fn id(&mut self, v: &str) -> Val {
        if let Some(&i) = self.ids.get(v) {
            return i;
        }
        self.model.names.push(v.to_string());
        let i = self.model.names.len() as Val;
        self.ids.insert(v.to_string(), i);
        i
    }
}

type RegOp = Operation<RegIn, RegOut>;
type KvOp = Operation<KvIn, KvOut>;

/// Jepsen etcd log → register operations on one key.
pub fn jepsen_log(text: &str, file: &str) -> Result<(Register, Vec<RegOp>), String> {
    let mut interner = Interner::default();
    let mut ops: Vec<RegOp> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let ln = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| format!("{file}:{ln}: {what}; expected `INFO  jepsen.util - <process> :invoke|:ok|:fail|:info :read|:write|:cas <value>`");
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 7 || f[0] != "INFO" || f[1] != "jepsen.util" || f[2] != "-" {
            return Err(bad("not a Jepsen log line"));
        }
        let process: u64 = f[3].parse().map_err(|_| bad(&format!("process `{}` is not a number", f[3])))?;
        let value = f[6..].join(" ");
        let kind = f[4];
        let func = f[5];
        let val = |s: &str, interner: &mut Interner| -> Result<Val, String> {
            match s {
                "nil" => Ok(0),
                v if v.parse::<i64>().is_ok() => Ok(interner.id(v)),
                v => Err(bad(&format!("`{v}` is not nil or an integer"))),
            }
        };
        let pair = |s: &str, interner: &mut Interner| -> Result<(Val, Val), String> {
            let inner = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')).ok_or_else(|| bad(&format!("`{s}` is not [from to]")))?;
            let parts: Vec<&str> = inner.split_whitespace().collect();
            if parts.len() != 2 {
                return Err(bad(&format!("`{s}` is not [from to]")));
            }
            Ok((val(parts[0], interner)?, val(parts[1], interner)?))
        };
        match kind {
            ":invoke" => {
                let input = match func {
                    ":read" => RegIn::Read,
                    ":write" => RegIn::Write(val(&value, &mut interner)?),
                    ":cas" => {
                        let (a, b) = pair(&value, &mut interner)?;
                        RegIn::Cas(a, b)
                    }
                    other => return Err(bad(&format!("unknown operation `{other}`"))),
                };
                open.insert(process, ops.len());
                ops.push(Operation {
                    client: process,
                    key: "register".into(),
                    call: ln as u64,
                    ret: None,
                    input,
                    output: None,
                    origin: format!("{file}:{ln}"),
                });
            }
            ":ok" | ":fail" | ":info" => {
                let Some(i) = open.remove(&process) else {
                    return Err(bad(&format!("process {process} completes an operation it never invoked")));
                };
                let op = &mut ops[i];
                match (kind, &op.input) {
                    (":info", _) => {}                    // unknown: stays open, returns "at infinity"
                    (_, _) if value == ":timed-out" => {} // unknown result
                    (":ok", RegIn::Read) => {
                        op.output = Some(RegOut::Read(val(&value, &mut interner)?));
                        op.ret = Some(ln as u64);
                    }
                    (":ok", RegIn::Write(_)) => {
                        op.output = Some(RegOut::Written);
                        op.ret = Some(ln as u64);
                    }
                    (":ok", RegIn::Cas(..)) => {
                        op.output = Some(RegOut::Swapped);
                        op.ret = Some(ln as u64);
                    }
                    (":fail", RegIn::Cas(..)) => {
                        op.output = Some(RegOut::CompareFailed);
                        op.ret = Some(ln as u64);
                    }
                    (":fail", _) => {
                        // Took no effect: a read or write that failed constrains nothing.
                        op.output = None;
                        op.input = RegIn::Read;
                    }
                    _ => return Err(bad(&format!("unknown completion `{kind}`"))),
                }
            }
            other => return Err(bad(&format!("unknown type `{other}`"))),
        }
    }
    Ok((interner.model, ops))
}

fn edn_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(name)? + name.len();
    let rest = line[start..].trim_start();
    if let Some(q) = rest.strip_prefix('"') {
        let end = q.find('"')?;
        Some(&rest[..end + 2])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

/// Porcupine kv log → kv operations, split by key.
pub fn kv_log(text: &str, file: &str) -> Result<Vec<KvOp>, String> {
    let mut ops: Vec<KvOp> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let ln = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| format!("{file}:{ln}: {what}; expected `{{:process N, :type :invoke|:ok, :f :get|:put|:append, :key \"K\", :value \"V\"|nil}}`");
        let get = |name: &str| edn_field(line, name).ok_or_else(|| bad(&format!("no {name}")));
        let process: u64 = get(":process ")?.parse().map_err(|_| bad("`:process` is not a number"))?;
        let kind = get(":type ")?;
        let f = get(":f ")?;
        let key = get(":key ")?.trim_matches('"').to_string();
        let value = get(":value ")?;
        let string = |v: &str| -> Result<String, String> {
            v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).map(str::to_string).ok_or_else(|| bad(&format!("`{v}` is not a string")))
        };
        match kind {
            ":invoke" => {
                let input = match f {
                    ":get" => KvIn::Get,
                    ":put" => KvIn::Put(string(value)?),
                    ":append" => KvIn::Append(string(value)?),
                    other => return Err(bad(&format!("unknown operation `{other}`"))),
                };
                open.insert(process, ops.len());
                ops.push(Operation { client: process, key, call: ln as u64, ret: None, input, output: None, origin: format!("{file}:{ln}") });
            }
            ":ok" => {
                let Some(i) = open.remove(&process) else {
                    return Err(bad(&format!("process {process} completes an operation it never invoked")));
                };
                let op = &mut ops[i];
                op.ret = Some(ln as u64);
                op.output = Some(match op.input {
                    KvIn::Get => KvOut::Got(if value == "nil" { String::new() } else { string(value)? }),
                    _ => KvOut::Done,
                });
            }
            ":fail" | ":info" => {
                open.remove(&process);
            }
            other => return Err(bad(&format!("unknown type `{other}`"))),
        }
    }
    Ok(ops)
}

/// An entry type as the history writes it.
fn entry_name(t: EntryType) -> &'static str {
    match t {
        EntryType::Invoke => "invoke",
        EntryType::Ok => "ok",
        EntryType::Fail => "fail",
        EntryType::Info => "info",
    }
}

/// faultline's history.jsonl → register operations split by key. Streamed: only operations
/// still open are held, so a history of a million operations needs no more than its result.
pub fn jsonl(path: &Path) -> Result<(Register, Vec<RegOp>), String> {
    let file = path.display().to_string();
    let mut interner = Interner::default();
    let compare_failed = crate::workload::register::COMPARE_FAILED;
    // Invocations waiting for their completion: id → (line, operation without its outcome,
    // its f, its invocation time).
    let mut open: HashMap<u64, (usize, RegOp, OpKind, u64)> = HashMap::new();
    // Operations already completed: id → the completion's line (a second completion is bad).
    let mut completed: HashMap<u64, usize> = HashMap::new();
    let mut ops: Vec<(usize, RegOp)> = Vec::new();
    crate::jsonl::for_each_line(path, |n, line| {
        let bad = |what: &str| what.to_string();
        let e: crate::history::Entry = serde_json::from_str(line).map_err(|e| bad(&format!("expected a history entry (docs/formats.md §2): {e}")))?;
        if e.kind == EntryType::Invoke {
            let input = match (e.f, &e.value) {
                (OpKind::Read, _) => RegIn::Read,
                (OpKind::Write, Value::None) => RegIn::Write(0),
                (OpKind::Write, Value::One(x)) => RegIn::Write(interner.id(x)),
                (OpKind::Write, Value::Pair(..)) => return Err(bad("expected a single value, found [from, to]")),
                (OpKind::Cas, Value::Pair(a, b)) => RegIn::Cas(interner.id(a), interner.id(b)),
                (OpKind::Cas, _) => return Err(bad("a cas needs [from, to]")),
                (f, _) => {
                    return Err(bad(&format!(
                        "`{}` is an operation of the etcd-API workloads (etcd, kubernetes), which the register model cannot judge: check this history with the etcd model (`faultline check --model etcd`)",
                        f.name()
                    )))
                }
            };
            if open.contains_key(&e.id) || completed.contains_key(&e.id) {
                return Err(bad(&format!("operation {} is invoked twice; expected one invoke line per operation id", e.id)));
            }
            let op = Operation { client: e.client as u64, key: e.key, call: e.t, ret: None, input, output: None, origin: format!("{file}:{n} (op {})", e.id) };
            open.insert(e.id, (n, op, e.f, e.t));
            return Ok(true);
        }
        let Some((at, mut op, f, invoked)) = open.remove(&e.id) else {
            return Err(bad(&match completed.get(&e.id) {
                Some(first) => {
                    format!("operation {} completes a second time (its completion is line {first}); expected exactly one completion per invocation", e.id)
                }
                None => format!(
                    "`{}` of operation {}, which was never invoked; expected its `invoke` line (same id) before its completion",
                    entry_name(e.kind),
                    e.id
                ),
            }));
        };
        completed.insert(e.id, n);
        if e.f != f || e.key != op.key {
            return Err(bad(&format!(
                "the completion of operation {} is `{}` on key `{}`, its invocation (line {at}) `{}` on key `{}`; expected the same f and key as the invocation",
                e.id,
                e.f.name(),
                e.key,
                f.name(),
                op.key
            )));
        }
        if e.t < invoked {
            return Err(bad(&format!(
                "operation {} completes at t={} ns, before its invocation at t={invoked} ns (line {at}); expected a completion's t at or after its invocation's",
                e.id, e.t
            )));
        }
        let output = match (e.kind, &op.input) {
            (EntryType::Ok, RegIn::Read) => Some(RegOut::Read(match &e.value {
                Value::None => 0,
                Value::One(s) => interner.id(s),
                Value::Pair(..) => return Err(bad("a read returned [from, to]")),
            })),
            (EntryType::Ok, RegIn::Write(_)) => Some(RegOut::Written),
            (EntryType::Ok, RegIn::Cas(..)) => Some(RegOut::Swapped),
            (EntryType::Fail, RegIn::Cas(..)) if e.error.as_deref() == Some(compare_failed) => Some(RegOut::CompareFailed),
            (EntryType::Fail, _) => return Ok(true), // took no effect
            (EntryType::Info, _) => None,
            (EntryType::Invoke, _) => unreachable!("handled above"),
        };
        if output.is_some() {
            op.ret = Some(e.t);
        }
        op.output = output;
        ops.push((at, op));
        Ok(true)
    })?;
    // Operations the history never completed: outcome unknown.
    ops.extend(open.into_values().map(|(at, op, _, _)| (at, op)));
    ops.sort_by_key(|(at, _)| *at);
    Ok((interner.model, ops.into_iter().map(|(_, op)| op).collect()))
}
