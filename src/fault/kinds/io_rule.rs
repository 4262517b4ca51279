//! What `io-latency` and `io-error` share: a rule in the disk-fault layer over each target's
//! data directory (which calls, which files, what share of them), put in, proven from the
//! layer's counters and taken out. The two kinds differ only in the rule's action.

use crate::error::Error;
use crate::fault::api::{params_of, Active, Applied, Cx, Fault, Healed, Home, Kind, ParamError, Params};
use crate::fault::disk::{self, DiskAction, DiskLayer, DiskRule, DurabilityMode, IoOp};
use crate::units::{Percent, Span};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An `io-latency` or `io-error` fault: its kind and its rule.
#[derive(Debug, Clone, PartialEq)]
pub struct IoRule {
    /// `io_latency::KIND` or `io_error::KIND`.
    pub kind: &'static Kind,
    /// The rule's parameters.
    pub rule: DiskFault,
}

impl Fault for IoRule {
    fn kind(&self) -> &'static Kind {
        self.kind
    }
    fn describe(&self) -> String {
        let what = match (self.rule.delay, &self.rule.errno) {
            (Some(d), _) => d.to_string(),
            (None, e) => e.clone().unwrap_or_else(|| "EIO".into()),
        };
        format!("{} ({what} on {})", self.kind.name, self.rule.ops.join(","))
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(&self.rule)
    }
    fn home(&self) -> Home {
        Home::Disk
    }
    fn disk_layer(&self) -> Option<DurabilityMode> {
        Some(DurabilityMode::Durable)
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        self.rule.inject(cx)
    }
}

/// The parameters of a disk rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskFault {
    /// The file operations it applies to (`write`, `fsync`, `read`, `open`, ...).
    pub ops: Vec<String>,
    /// Share of those calls it hits.
    pub percent: Percent,
    /// Only files matching this glob, relative to the data directory (`member/wal/*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// io-latency: the added delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Span>,
    /// io-latency: uniform ± variation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Span>,
    /// io-error: the errno returned (`EIO`, `ENOSPC`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
}

impl DiskFault {
    /// Read the parameters a disk rule shares (`ops`, `percent`, `path`) and the ones of
    /// `kind`, checked as the layer would.
    pub fn parse(kind: &str, p: &Params) -> Result<Self, ParamError> {
        let ops: Vec<String> = p.or("ops", Vec::new())?;
        if ops.is_empty() {
            return p.fail(format!("a {kind} fault needs `ops`: the file operations it hits, e.g. `ops: [fsync]` or `ops: [write, fsync]`"));
        }
        for o in &ops {
            IoOp::parse(o)?;
        }
        let d = DiskFault {
            ops,
            percent: p.or("percent", Percent(100.0))?,
            path: p.get("path")?,
            delay: p.get("delay")?,
            jitter: p.get("jitter")?,
            errno: p.get("errno")?,
        };
        d.rule(0, 0)?.check()?;
        Ok(d)
    }

    /// The layer's rule, with its id and seed.
    pub fn rule(&self, id: u32, seed: u64) -> Result<DiskRule, String> {
        let ops = self.ops.iter().map(|o| IoOp::parse(o)).collect::<Result<Vec<_>, _>>()?;
        let action = match (self.delay, &self.errno) {
            (Some(delay), _) => DiskAction::Delay { delay: delay.0, jitter: self.jitter.map_or(Duration::ZERO, |j| j.0) },
            (None, errno) => DiskAction::Fail { errno: disk::parse_errno(errno.as_deref().unwrap_or("EIO"))? },
        };
        Ok(DiskRule { id, action, ops, percent: self.percent.0, path: self.path.clone(), seed })
    }

    /// Put the rule on each target's layer. The proof is the rule read back from each layer,
    /// with the calls it acted on in its first second (etcd writes its WAL on every write, so
    /// under load there are some); at heal, a rule that acted on no call at all makes the
    /// fault unproven.
    pub fn inject(&self, cx: &Cx<'_>) -> Result<Applied, Error> {
        let id = cx.id as u32;
        let rule = self.rule(id, cx.draw).map_err(Error::BadInput)?;
        let layers = cx.targets.iter().map(|t| cx.layer(t).map(|l| (t.clone(), l))).collect::<Result<Vec<_>, _>>()?;
        for (_, l) in &layers {
            let mut rules: Vec<DiskRule> = l.rules();
            rules.push(rule.clone());
            l.set_rules(rules);
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline && layers.iter().any(|(_, l)| hits(l, id).1 + hits(l, id).2 == 0) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let proofs: Vec<String> = layers
            .iter()
            .map(|(t, l)| {
                let installed = l.rules().iter().any(|r| r.id == id);
                let (seen, delayed, failed) = hits(l, id);
                format!(
                    "{t}: rule {} in the layer; {seen} matching call(s), {delayed} delayed, {failed} failed in its first second",
                    if installed { "is" } else { "is NOT" }
                )
            })
            .collect();
        let mut a =
            Applied::new(InForce { rule: id, layers }, "fuse", proofs.join("; ")).param("ops", self.ops.join(",")).param("percent", self.percent.to_string());
        if let Some(p) = &self.path {
            a = a.param("path", p.clone());
        }
        if let Some(x) = self.delay {
            a = a.param("delay", x.to_string());
        }
        if let Some(x) = &self.errno {
            a = a.param("errno", x.clone());
        }
        Ok(a)
    }
}

/// (seen, delayed, failed) of rule `id` on a layer.
fn hits(l: &DiskLayer, id: u32) -> (u64, u64, u64) {
    l.counters().into_iter().find(|c| c.id == id).map_or((0, 0, 0), |c| (c.seen, c.delayed, c.failed))
}

/// A rule in force on the targets' layers.
#[derive(Debug)]
struct InForce {
    rule: u32,
    layers: Vec<(String, Arc<DiskLayer>)>,
}

impl Active for InForce {
    fn heal(&mut self, _: &Cx<'_>) -> Result<Healed, Error> {
        let mut said = Vec::new();
        let mut acted = 0;
        // Let go of the layers: they unmount when the run's last holder drops them.
        for (t, l) in std::mem::take(&mut self.layers) {
            let rules: Vec<DiskRule> = l.rules().into_iter().filter(|r| r.id != self.rule).collect();
            l.set_rules(rules);
            let (seen, delayed, failed) = hits(&l, self.rule);
            acted += delayed + failed;
            said.push(format!("{t}: {seen} matching call(s), {delayed} delayed, {failed} failed"));
        }
        if acted == 0 {
            return Err(Error::Invalid(format!(
                "the disk rule acted on no call while it was in force ({}): it cannot be shown to have taken effect; check `ops` and `path` match what etcd does (WAL: member/wal/*, write and fsync; db: member/snap/db)",
                said.join("; ")
            )));
        }
        Ok(Healed::proof(format!("rule removed ({})", said.join("; "))))
    }
}
