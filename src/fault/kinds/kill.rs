//! `kill`: SIGKILL (Docker: the engine's kill), the member restarted on the same data when
//! the fault heals. With `lose_unsynced: true`, what the member wrote but did not fsync is
//! thrown away from the disk layer's cache before it restarts, as a power loss would; `torn`
//! keeps part of it (one torn write, or a random subset in order of issue) and `lose_dirops`
//! undoes creates and renames not followed by an fsync of their directory.
//!
//! With `on: {call, path, nth, timing}` the fault *arms* a crash point in each target's disk
//! layer when it starts: the member is SIGKILLed by the layer at the n-th matching call from
//! then on (before or after carrying it out), losing power then when `lose_unsynced` says so.
//! A point that never fires before the fault heals makes the run invalid, with the count.

use crate::cluster::MemberState;
use crate::error::Error;
use crate::events::EventKind;
use crate::fault::api::{params_of, Active, Applied, Cx, Fault, FaultKind, Healed, Home, Kind, ParamError, Params};
use crate::fault::disk::{self, CrashPoint, CrashStatus, Cut, DiskLayer, DurabilityMode, PowerLoss, Timing, Torn};
use crate::fault::process::{self, ProcessFault};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "kill",
    mechanism:
        "SIGKILL (Docker: the engine's kill), restart on the same data dir; `on:` a crash point in faultline's FUSE layer SIGKILLs at the n-th matching call",
    params: &["lose_unsynced", "torn", "lose_dirops", "dirops_path", "on"],
    parse,
    draw: Some(draw),
};

/// Where a crash point fires.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct On {
    /// The call: write, fsync, rename, create, unlink, fallocate, fsyncdir.
    pub call: String,
    /// A glob relative to the data directory (`member/wal/*.wal`); any file when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The matching call that fires it, counted from the fault's start (1 = the first).
    pub nth: u64,
    /// `before` (the call is not carried out) or `after`.
    pub timing: String,
}

/// A kill's parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Kill {
    /// Throw away what the member wrote but did not fsync (the disk layer's cache), as a
    /// power loss would, before it restarts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lose_unsynced: bool,
    /// Keep part of the unsynced writes: `op` / `{op: sector}` / `{op: byte}` (one write torn),
    /// `seq` / `{seq: 0.5}` (each write kept with that probability, in order of issue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub torn: Option<Value>,
    /// Undo creates and renames not followed by an fsync of their directory.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lose_dirops: bool,
    /// Only directory operations on paths matching this glob are undone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirops_path: Option<String>,
    /// A crash point: kill at a call instead of at `at:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on: Option<On>,
}

/// Read `torn:`.
pub fn parse_torn(v: &Value) -> Result<Torn, String> {
    let bad = || {
        format!(
            "`torn: {v}` is not a torn loss; write `op` (one write torn at a sector boundary), `{{op: byte}}` (at any byte), `{{op: sector}}`, `seq` (each unsynced write kept with probability 0.5, in order) or `{{seq: 0.3}}`"
        )
    };
    let cut = |c: &Value| match c.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("sector") => Ok(Cut::Sector),
        Some("byte") => Ok(Cut::Byte),
        _ => Err(bad()),
    };
    let keep = |k: &Value| match k.as_f64() {
        Some(p) if (0.0..=1.0).contains(&p) => Ok(Torn::Seq { keep: p }),
        _ => Err(format!("`torn: {{seq: {k}}}`: the probability a write is kept must be a number from 0 to 1")),
    };
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("op") => Ok(Torn::Op(Cut::Sector)),
        Value::String(s) if s.eq_ignore_ascii_case("seq") => Ok(Torn::Seq { keep: 0.5 }),
        Value::Object(m) if m.len() == 1 => match m.iter().next() {
            Some((k, c)) if k == "op" => cut(c).map(Torn::Op),
            Some((k, p)) if k == "seq" => keep(p),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let on: Option<Value> = p.get("on")?;
    let on = on.map(|v| parse_on(&v)).transpose()?;
    let k = Kill {
        lose_unsynced: p.or("lose_unsynced", false)?,
        torn: p.get("torn")?,
        lose_dirops: p.or("lose_dirops", false)?,
        dirops_path: p.get("dirops_path")?,
        on,
    };
    if let Some(g) = &k.dirops_path {
        if !k.lose_dirops {
            return p.fail("`dirops_path` narrows which directory operations a power loss undoes: it needs `lose_dirops: true`");
        }
        disk::DiskRule {
            id: 0,
            action: disk::DiskAction::Fail { errno: libc::EIO },
            ops: vec![disk::IoOp::Create],
            percent: 0.0,
            path: Some(g.clone()),
            seed: 0,
        }
        .check()?;
    }
    if let Some(t) = &k.torn {
        parse_torn(t)?;
    }
    if (k.torn.is_some() || k.lose_dirops) && !k.lose_unsynced {
        return p.fail("`torn` and `lose_dirops` say what a power loss keeps: they need `lose_unsynced: true`");
    }
    Ok(FaultKind::new(k))
}

fn parse_on(v: &Value) -> Result<On, String> {
    let Value::Object(m) = v else {
        return Err(format!("`on: {v}` is not a crash point; write e.g. `on: {{call: fsync, path: \"member/wal/*.wal\", nth: 2, timing: before}}`"));
    };
    for k in m.keys() {
        if !["call", "path", "nth", "timing"].contains(&k.as_str()) {
            return Err(format!("`on` has no key `{k}`{}; its keys are call, path, nth, timing", crate::error::suggest(k, &["call", "path", "nth", "timing"])));
        }
    }
    let call = m.get("call").and_then(Value::as_str).ok_or("a crash point needs `call`: one of write, fsync, rename, create, unlink, fallocate, fsyncdir")?;
    disk::parse_crash_call(call)?;
    let path = match m.get("path") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(x) => return Err(format!("`on.path: {x}` is not a glob; write it as text relative to the data directory, e.g. \"member/wal/*.wal\"")),
    };
    if let Some(g) = &path {
        disk::DiskRule {
            id: 0,
            action: disk::DiskAction::Fail { errno: libc::EIO },
            ops: vec![disk::IoOp::Write],
            percent: 0.0,
            path: Some(g.clone()),
            seed: 0,
        }
        .check()?;
    }
    let nth = match m.get("nth") {
        None => 1,
        Some(n) => n.as_u64().filter(|n| *n >= 1).ok_or_else(|| format!("`on.nth: {n}` must be a whole number from 1 (the first matching call)"))?,
    };
    let timing = match m.get("timing") {
        None => "before".to_string(),
        Some(Value::String(s)) => Timing::parse(s).map(|t| t.name().to_string())?,
        Some(x) => return Err(format!("`on.timing: {x}` must be `before` or `after`")),
    };
    Ok(On { call: call.to_ascii_lowercase(), path, nth, timing })
}

fn draw(_: &mut ChaCha8Rng, _: usize) -> FaultKind {
    FaultKind::new(Kill::default())
}

impl Kill {
    /// The power loss this kill has, if any.
    fn loss(&self, seed: u64) -> Option<PowerLoss> {
        self.lose_unsynced.then(|| PowerLoss {
            torn: self.torn.as_ref().and_then(|t| parse_torn(t).ok()),
            dirops: self.lose_dirops,
            dirops_path: self.dirops_path.clone(),
            seed,
            prefer: self.on.as_ref().and_then(|o| o.path.clone()),
        })
    }
}

impl Fault for Kill {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        let mut s = match &self.on {
            Some(o) => format!("kill {} the {} {}{}", o.timing, ordinal(o.nth), o.call, o.path.as_ref().map(|p| format!(" of {p}")).unwrap_or_default()),
            None => "kill".into(),
        };
        if self.lose_unsynced {
            let mut what = vec!["losing unsynced writes".to_string()];
            if let Some(t) = &self.torn {
                what.push(format!("torn {}", t.as_str().map_or_else(|| t.to_string(), str::to_string)));
            }
            if self.lose_dirops {
                what.push(format!("directory operations not fsync'd{}", self.dirops_path.as_ref().map(|g| format!(" on {g}")).unwrap_or_default()));
            }
            s = format!("{s} ({})", what.join(", "));
        }
        s
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Process
    }
    fn disk_layer(&self) -> Option<DurabilityMode> {
        if self.lose_unsynced {
            Some(DurabilityMode::LoseUnsynced)
        } else {
            self.on.as_ref().map(|_| DurabilityMode::Durable)
        }
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        if let Some(on) = &self.on {
            return self.arm(cx, on);
        }
        let mut applied = process::inject(cx, ProcessFault::Kill)?;
        if self.lose_unsynced {
            // The member is dead: what it wrote but did not fsync goes, as in a power loss.
            let mut said = Vec::new();
            for t in &cx.targets {
                let layer = cx.layer(t)?;
                match self.loss(cx.draw) {
                    Some(loss) if loss.torn.is_some() || loss.dirops => said.push(format!("{t}: {}", layer.lose_power(&loss).describe())),
                    _ => {
                        let d = layer.drop_unsynced();
                        said.push(format!("{t}: dropped {} unsynced byte(s) in {} write(s) to {} file(s)", d.bytes, d.writes, d.files));
                    }
                }
            }
            applied.proof = format!("{}; {}", applied.proof, said.join("; "));
            applied.active = Box::new(process::PowerLost);
            applied = self.loss_params(applied);
        }
        Ok(applied)
    }
}

impl Kill {
    /// Arm the crash point on every target.
    fn arm(&self, cx: &Cx<'_>, on: &On) -> Result<Applied, Error> {
        let call = disk::parse_crash_call(&on.call).map_err(Error::BadInput)?;
        let timing = Timing::parse(&on.timing).map_err(Error::BadInput)?;
        let mut armed = Vec::new();
        let mut said = Vec::new();
        for t in &cx.targets {
            let layer = cx.layer(t)?;
            let pid = cx.backend.member(t)?.pid;
            let Some(pid) = pid.filter(|_| cx.backend.state(t) != MemberState::Down) else {
                return Err(Error::Invalid(format!("{t} was already down when the crash point was to be armed (overlapping faults)")));
            };
            layer.arm_crash(CrashPoint { call, path: on.path.clone(), nth: on.nth, timing, pid, loss: self.loss(cx.draw) })?;
            said.push(format!("{t} (pid {pid}): crash point armed"));
            armed.push((t.clone(), layer));
        }
        let what =
            format!("SIGKILL {} the {} {} call{}", on.timing, ordinal(on.nth), on.call, on.path.as_ref().map(|p| format!(" of {p}")).unwrap_or_default());
        let a =
            Applied::new(Armed { layers: armed, what: what.clone(), nth: on.nth, lost: self.lose_unsynced }, "fuse", format!("{what}: {}", said.join("; ")))
                .param("on", serde_json::to_value(on).unwrap_or_default());
        Ok(self.loss_params(a))
    }

    /// What the power loss takes, recorded with the fault (`lose_unsynced`, `torn`,
    /// `lose_dirops`, `dirops_path` as given).
    fn loss_params(&self, mut a: Applied) -> Applied {
        if self.lose_unsynced {
            a = a.param("lose_unsynced", true);
        }
        if let Some(t) = &self.torn {
            a = a.param("torn", t.clone());
        }
        if self.lose_dirops {
            a = a.param("lose_dirops", true);
        }
        if let Some(g) = &self.dirops_path {
            a = a.param("dirops_path", g.clone());
        }
        a
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, ...
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A crash point armed on the targets' layers.
#[derive(Debug)]
struct Armed {
    layers: Vec<(String, Arc<DiskLayer>)>,
    what: String,
    nth: u64,
    /// Unsynced data is dropped when it fires: a member refusing to start is etcd's answer.
    lost: bool,
}

impl Active for Armed {
    fn heal(&mut self, cx: &Cx<'_>) -> Result<Healed, Error> {
        let mut proofs = Vec::new();
        let mut events = Vec::new();
        let mut missed = Vec::new();
        let mut killed = Vec::new();
        for (t, l) in std::mem::take(&mut self.layers) {
            match l.disarm_crash() {
                Some(CrashStatus { fired: Some(f), .. }) if f.kill.is_ok() => {
                    proofs.push(format!("{t}: {}", f.describe()));
                    events.push(EventKind::MemberStop {
                        member: t.clone(),
                        how: format!("SIGKILL by the disk layer {} the {} {} of {}", f.timing.name(), ordinal(f.n), f.call, f.path),
                    });
                    killed.push(t);
                }
                Some(CrashStatus { fired: Some(f), .. }) => missed.push(format!("{t}: the point fired but {}", f.describe())),
                Some(s) => missed.push(format!("{t}: {} matching call(s) while it was armed, the {} was needed", s.seen, ordinal(self.nth))),
                None => missed.push(format!("{t}: its layer had no crash point armed any more")),
            }
        }
        for t in &killed {
            if !cx.backend.wait_exit(t, Duration::from_secs(5)) {
                missed.push(format!("{t} did not exit within 5 s of the layer's SIGKILL"));
            }
        }
        if self.lost && missed.is_empty() {
            let mut h = process::restart_after_loss(cx.backend, &killed, cx.id)?;
            h.proof = format!("{}; {}", proofs.join("; "), h.proof);
            h.events.extend(events);
            return Ok(h);
        }
        let (restarted, started) = process::restart(cx.backend, &killed).map_err(|e| match e {
            // Say what the crash did next to why the member did not come back.
            Error::Invalid(m) => Error::Invalid(format!("after the crash point ({}: {}), {m}", self.what, proofs.join("; "))),
            e => e,
        })?;
        if !restarted.is_empty() {
            proofs.push(restarted);
        }
        events.extend(started);
        if !missed.is_empty() {
            return Err(Error::Invalid(format!(
                "the crash point ({}) did not take effect: {}{}",
                self.what,
                missed.join("; "),
                if proofs.is_empty() { String::new() } else { format!(" (elsewhere: {})", proofs.join("; ")) }
            )));
        }
        Ok(Healed { proof: proofs.join("; "), events, timed: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_forms_parse_and_bad_ones_say_what_is_taken() {
        assert_eq!(parse_torn(&Value::from("op")), Ok(Torn::Op(Cut::Sector)));
        assert_eq!(parse_torn(&serde_json::json!({"op": "byte"})), Ok(Torn::Op(Cut::Byte)));
        assert_eq!(parse_torn(&Value::from("seq")), Ok(Torn::Seq { keep: 0.5 }));
        assert_eq!(parse_torn(&serde_json::json!({"seq": 0.25})), Ok(Torn::Seq { keep: 0.25 }));
        assert!(parse_torn(&Value::from("half")).unwrap_err().contains("`seq`"));
        assert!(parse_torn(&serde_json::json!({"seq": 2})).unwrap_err().contains("from 0 to 1"));
    }

    #[test]
    fn crash_points_parse_with_defaults_and_refuse_other_calls() {
        let on = parse_on(&serde_json::json!({"call": "fdatasync", "path": "member/wal/*.wal"})).unwrap();
        assert_eq!(on, On { call: "fdatasync".into(), path: Some("member/wal/*.wal".into()), nth: 1, timing: "before".into() });
        let e = parse_on(&serde_json::json!({"call": "read"})).unwrap_err();
        assert!(e.contains("write, fsync, rename, create, unlink, fallocate, fsyncdir"), "{e}");
        assert!(parse_on(&serde_json::json!({"call": "fsync", "nth": 0})).unwrap_err().contains("from 1"));
        assert!(parse_on(&serde_json::json!({"call": "fsync", "timing": "during"})).unwrap_err().contains("before"));
        assert!(parse_on(&serde_json::json!({"call": "fsync", "count": 2})).unwrap_err().contains("its keys are call, path, nth, timing"));
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(21), "21st");
    }
}
