//! `faultline import chaos-mesh MANIFEST...`: the manifests read, turned into faults by
//! [`crate::chaos_mesh::import`], the scenario printed.

use crate::chaos_mesh::import;
use crate::cli::{ImportChaosMeshArgs, ImportCommand};
use crate::error::{Error, Exit};

/// Carry out `faultline import ...`.
pub fn run(cmd: ImportCommand) -> Result<Exit, Error> {
    match cmd {
        ImportCommand::ChaosMesh(args) => chaos_mesh(args),
    }
}

fn read(p: &std::path::Path) -> Result<String, Error> {
    std::fs::read_to_string(p).map_err(|e| Error::BadInput(format!("cannot read {}: {e}", p.display())))
}

fn chaos_mesh(args: ImportChaosMeshArgs) -> Result<Exit, Error> {
    let ImportChaosMeshArgs { manifests, into } = args;
    let mut files = Vec::new();
    for m in &manifests {
        files.push((m.display().to_string(), read(m)?));
    }
    let imported = import::import(&files)?;
    let sources: Vec<String> = files.iter().map(|(f, _)| f.clone()).collect();
    let target = match &into {
        Some(p) => Some((p.display().to_string(), read(p)?)),
        None => None,
    };
    let text = import::render(&imported, &sources, target.as_ref().map(|(o, t)| (o.as_str(), t.as_str())))?;
    for n in &imported.notes {
        eprintln!("{}", crate::markup::terminal(&format!("faultline: note: {n}")));
    }
    print!("{text}");
    Ok(Exit::Pass)
}
