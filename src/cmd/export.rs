//! `faultline export chaos-mesh SCENARIO`: the flags turned into [`ExportOptions`], the
//! workflow printed with its approximations and faultline-only steps in a header (and on
//! stderr).

use crate::chaos_mesh::export::{self, ExportOptions};
use crate::cli::{ExportChaosMeshArgs, ExportCommand};
use crate::error::{Error, Exit};
use std::collections::BTreeMap;

/// Carry out `faultline export ...`.
pub fn run(cmd: ExportCommand) -> Result<Exit, Error> {
    match cmd {
        ExportCommand::ChaosMesh(args) => chaos_mesh(args),
    }
}

fn chaos_mesh(args: ExportChaosMeshArgs) -> Result<Exit, Error> {
    let ExportChaosMeshArgs { scenario, namespace, selector, pods, volume_path } = args;
    let s = crate::scenario::load(&scenario)?;
    let label = selector
        .split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| Error::BadInput(format!("--selector `{selector}` is not KEY=VALUE: write e.g. `--selector app=etcd`")))?;
    let mut map = BTreeMap::new();
    for pair in pods.iter().flat_map(|p| p.split(',')).filter(|p| !p.trim().is_empty()) {
        let bad = || Error::BadInput(format!("--pods `{pair}` is not nK=POD: write e.g. `--pods n1=etcd-0,n2=etcd-1`"));
        let (m, pod) = pair.split_once('=').ok_or_else(bad)?;
        let n: u8 = m.trim().strip_prefix('n').and_then(|n| n.parse().ok()).filter(|n| (1..=7).contains(n)).ok_or_else(bad)?;
        map.insert(n, pod.trim().to_string());
    }
    let opts = ExportOptions { namespace, label, pods: map, volume_path };
    let e = export::export(&s, &opts)?;
    let mut head = format!("# Exported by `faultline export chaos-mesh {}`: a Chaos Mesh Workflow.\n", scenario.display());
    for a in &e.approximations {
        head.push_str(&format!("# approximated: {a}\n"));
        eprintln!("{}", crate::markup::terminal(&format!("faultline: approximated: {a}")));
    }
    for st in &e.steps {
        head.push_str(&format!("# faultline's runner: {st}\n"));
        eprintln!("{}", crate::markup::terminal(&format!("faultline: not in the workflow: {st}")));
    }
    let yaml = serde_saphyr::to_string(&e.workflow).map_err(|err| Error::harness(format!("cannot write the workflow: {err}")))?;
    print!("{head}{yaml}");
    Ok(Exit::Pass)
}
