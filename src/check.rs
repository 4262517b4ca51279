//! The linearizability checker on history files — faultline's own `history.jsonl` (or a run
//! directory, or its epochs), Jepsen etcd logs and Porcupine kv logs: the format detected,
//! the model chosen, the file checked; the exit code for a set of files. `faultline check`
//! (`src/cmd/check.rs`) prints the results; the runner checks a run's history through
//! [`check_file`].

use crate::checker::input::{self, Format};
use crate::checker::models::kv::Kv;
use crate::checker::{self, CheckResult, Verdict};
use crate::error::{Error, Exit};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which model to check against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelName {
    /// read / write / cas per key.
    Register,
    /// get / put / append per key.
    Kv,
}

/// The outcome for one file.
#[derive(Debug)]
pub struct FileCheck {
    /// The file checked.
    pub file: PathBuf,
    /// The result.
    pub result: CheckResult,
    /// The model used.
    pub model: ModelName,
}

/// A run directory means its `history.jsonl`.
pub fn history_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("history.jsonl")
    } else {
        p.to_path_buf()
    }
}

/// The histories to check for a path: a run directory whose history was split at
/// snapshot-restores means its epochs (`history.epoch1.jsonl`, ...), which are linearizable
/// on their own where the whole is not by design; anything else is itself.
pub fn history_files(p: &Path) -> Vec<PathBuf> {
    let epochs: Vec<PathBuf> = (1..).map(|i| p.join(format!("history.epoch{i}.jsonl"))).take_while(|f| p.is_dir() && f.is_file()).collect();
    if epochs.is_empty() {
        vec![p.to_path_buf()]
    } else {
        epochs
    }
}

/// Check one file.
pub fn check_file(path: &Path, model: Option<ModelName>, format: Option<Format>, timeout: Duration) -> Result<FileCheck, Error> {
    let file = history_path(path);
    let name = file.display().to_string();
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::BadInput(format!("cannot read history {name}: {e}. Give a history.jsonl, a run directory, a Jepsen etcd log or a kv log.")))?;
    let no_operations =
        || Error::Invalid(format!("{name}: no operations to check: the history is empty, so it proves nothing (a run that recorded it is invalid, exit 5)"));
    let format = match format.or_else(|| Format::detect(&text)) {
        Some(f) => f,
        None if text.trim().is_empty() => return Err(no_operations()),
        None => return Err(Error::BadInput(format!("{name}:1: cannot tell the format of this file; pass --format jsonl|jepsen-log|kv-log"))),
    };
    let model = model.unwrap_or(match format {
        Format::KvLog => ModelName::Kv,
        _ => ModelName::Register,
    });
    let result = match (format, model) {
        (Format::Jsonl, ModelName::Register) => {
            let (m, ops) = input::jsonl(&file).map_err(Error::BadInput)?;
            checker::check(&m, ops, timeout)
        }
        (Format::JepsenLog, ModelName::Register) => {
            let (m, ops) = input::jepsen_log(&text, &name).map_err(Error::BadInput)?;
            checker::check(&m, ops, timeout)
        }
        (Format::KvLog, ModelName::Kv) => {
            let ops = input::kv_log(&text, &name).map_err(Error::BadInput)?;
            checker::check(&Kv, ops, timeout)
        }
        (f, m) => {
            return Err(Error::BadInput(format!(
                "{name}: the {m:?} model does not apply to the {f:?} format: use --model register for jsonl and jepsen-log, --model kv for kv-log"
            )))
        }
    };
    if result.ops() == 0 {
        return Err(no_operations());
    }
    Ok(FileCheck { file, result, model })
}

/// Where `--html FILE` writes the page of the `n`-th failing history (from 1): FILE itself
/// for the first, then FILE with `-n` before its extension (`l.html`, `l-2.html`, ...).
pub fn html_path(file: &Path, n: usize) -> PathBuf {
    if n <= 1 {
        return file.to_path_buf();
    }
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match file.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    file.with_file_name(name)
}

/// The exit code for a set of checks and the files that could not be checked (`problems`:
/// the exit code of each such file's error): 1 if any history is not linearizable — a
/// violation found is never hidden by another file's bad input — else the worst of the rest
/// by [`Exit::worst`] (2 for bad input, 5 for a history with no operations or one undecided
/// in time), else 0.
pub fn exit_for(results: &[FileCheck], problems: &[Exit]) -> Exit {
    if results.iter().any(|r| r.result.verdict == Verdict::NotLinearizable) {
        return Exit::GateFailed;
    }
    let unknown = results.iter().filter(|r| r.result.verdict == Verdict::Unknown).map(|_| Exit::Invalid);
    problems.iter().copied().chain(unknown).fold(Exit::Pass, Exit::worst)
}
