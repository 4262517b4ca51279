//! The linearizability checker on history files — faultline's own `history.jsonl` (or a run
//! directory, or its epochs; a register history or one of etcd's API), Jepsen etcd logs and
//! Porcupine kv logs: the format detected, the model chosen (the etcd model for a history of
//! the `etcd` and `kubernetes` workloads), the file checked; the exit code for a set of files. `faultline check`
//! (`src/cmd/check.rs`) prints the results; the runner checks a run's history through
//! [`check_file`].

use crate::checker::etcd::{self, EtcdCheck};
use crate::checker::input::{self, Format};
use crate::checker::models::kv::Kv;
use crate::checker::{self, CheckResult, Verdict};
use crate::error::{Error, Exit};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Which model to check against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelName {
    /// read / write / cas per key.
    Register,
    /// get / put / append per key.
    Kv,
    /// etcd's API over the whole store: revisions, ranges, txns, leases, compaction.
    Etcd,
}

impl ModelName {
    /// Parse a `--model` value.
    pub fn parse(s: &str) -> Result<ModelName, String> {
        match s {
            "register" => Ok(ModelName::Register),
            "kv" => Ok(ModelName::Kv),
            "etcd" => Ok(ModelName::Etcd),
            other => Err(format!("--model: unknown model `{other}`: use register, kv or etcd (or leave --model out to pick it from the history)")),
        }
    }

    /// As `--model` and `--json` write it.
    pub fn name(self) -> &'static str {
        match self {
            ModelName::Register => "register",
            ModelName::Kv => "kv",
            ModelName::Etcd => "etcd",
        }
    }
}

/// A check's result, by the checker that gave it.
#[derive(Debug)]
pub enum Outcome {
    /// The register or kv model's checker (per key).
    Register(CheckResult),
    /// The etcd model's checker (the whole store).
    Etcd(EtcdCheck),
}

impl Outcome {
    /// linearizable, not, or unknown.
    pub fn verdict(&self) -> Verdict {
        match self {
            Outcome::Register(r) => r.verdict,
            Outcome::Etcd(r) => r.verdict,
        }
    }

    /// Operations checked.
    pub fn ops(&self) -> usize {
        match self {
            Outcome::Register(r) => r.ops(),
            Outcome::Etcd(r) => r.stats.ops,
        }
    }

    /// Wall-clock seconds the check took.
    pub fn seconds(&self) -> f64 {
        match self {
            Outcome::Register(r) => r.seconds,
            Outcome::Etcd(r) => r.seconds,
        }
    }
}

/// The outcome for one file.
#[derive(Debug)]
pub struct FileCheck {
    /// The file checked.
    pub file: PathBuf,
    /// The result.
    pub result: Outcome,
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
    // A history of etcd's API is told by its first invocation.
    let etcd_history = format == Format::Jsonl && etcd::is_etcd_text(&text);
    let model = model.unwrap_or(match format {
        Format::KvLog => ModelName::Kv,
        Format::Jsonl if etcd_history => ModelName::Etcd,
        _ => ModelName::Register,
    });
    let result = match (format, model) {
        (Format::Jsonl, ModelName::Register) if etcd_history => {
            return Err(Error::BadInput(format!(
                "{name}: this is a history of etcd's API (the etcd or kubernetes workload), which the register model cannot judge: check it with --model etcd (or leave --model out)"
            )))
        }
        (Format::Jsonl, ModelName::Etcd) if !etcd_history => {
            return Err(Error::BadInput(format!(
                "{name}: this is a register history (read/write/cas), not one of etcd's API: check it with --model register (or leave --model out); --model etcd is for histories of the etcd and kubernetes workloads"
            )))
        }
        (Format::Jsonl, ModelName::Register) => {
            let (m, ops) = input::jsonl(&file).map_err(Error::BadInput)?;
            Outcome::Register(checker::check(&m, ops, timeout))
        }
        (Format::Jsonl, ModelName::Etcd) => {
            let ops = etcd::read_jsonl(&file).map_err(Error::BadInput)?;
            if ops.is_empty() {
                return Err(no_operations());
            }
            // Nothing cancels a `faultline check` but its time limit.
            Outcome::Etcd(etcd::check(&ops, timeout, &AtomicBool::new(false)))
        }
        (Format::JepsenLog, ModelName::Register) => {
            let (m, ops) = input::jepsen_log(&text, &name).map_err(Error::BadInput)?;
            Outcome::Register(checker::check(&m, ops, timeout))
        }
        (Format::KvLog, ModelName::Kv) => {
            let ops = input::kv_log(&text, &name).map_err(Error::BadInput)?;
            Outcome::Register(checker::check(&Kv, ops, timeout))
        }
        (f, ModelName::Etcd) => {
            return Err(Error::BadInput(format!(
                "{name}: the etcd model applies only to faultline's history.jsonl of the etcd and kubernetes workloads, not to a {} file: use --model {} for it",
                f.name(),
                if f == Format::KvLog { "kv" } else { "register" }
            )))
        }
        (f, m) => {
            return Err(Error::BadInput(format!(
                "{name}: the {} model does not apply to the {} format: use --model register for jsonl and jepsen-log, --model kv for kv-log, --model etcd for a jsonl history of etcd's API",
                m.name(),
                f.name()
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
    if results.iter().any(|r| r.result.verdict() == Verdict::NotLinearizable) {
        return Exit::GateFailed;
    }
    let unknown = results.iter().filter(|r| r.result.verdict() == Verdict::Unknown).map(|_| Exit::Invalid);
    problems.iter().copied().chain(unknown).fold(Exit::Pass, Exit::worst)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A put of k=v at revision 2, then a get that sees it (docs/formats.md §2.1).
    pub(crate) const ETCD: &str = r#"{"type":"invoke","id":1,"client":0,"t":1000000,"f":"put","key":"k","value":null,"req":{"txn":{"then":[{"put":{"key":"k","value":"v"}}]}}}
{"type":"ok","id":1,"client":0,"t":2000000,"f":"put","key":"k","value":null,"rev":2,"res":{"rev":2,"txn":{"ok":true,"results":[{"put":{}}]}}}
{"type":"invoke","id":2,"client":1,"t":3000000,"f":"get","key":"k","value":null,"req":{"range":{"key":"k"}}}
{"type":"ok","id":2,"client":1,"t":4000000,"f":"get","key":"k","value":null,"rev":2,"res":{"rev":2,"range":{"kvs":[{"key":"k","value":"v","mod":2,"create":2,"ver":1}],"count":1}}}
"#;

    /// A write of 1, then a read of it.
    const REGISTER: &str = r#"{"type":"invoke","id":1,"client":0,"t":1000,"f":"write","key":"k","value":"1"}
{"type":"ok","id":1,"client":0,"t":2000,"f":"write","key":"k","value":"1"}
{"type":"invoke","id":2,"client":1,"t":3000,"f":"read","key":"k","value":null}
{"type":"ok","id":2,"client":1,"t":4000,"f":"read","key":"k","value":"1"}
"#;

    const KV_LOG: &str = "{:process 0, :type :invoke, :f :put, :key \"7\", :value \"x\"}\n{:process 0, :type :ok, :f :put, :key \"7\", :value \"x\"}\n";

    fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    fn check(p: &Path, model: Option<ModelName>) -> Result<FileCheck, Error> {
        check_file(p, model, None, Duration::from_secs(5))
    }

    fn bad_input(r: Result<FileCheck, Error>) -> String {
        match r {
            Err(Error::BadInput(m)) => m,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn an_etcd_history_is_checked_with_the_etcd_model_without_being_told() {
        let (_d, p) = file("history.jsonl", ETCD);
        for model in [None, Some(ModelName::Etcd)] {
            let c = check(&p, model).unwrap();
            assert_eq!(c.model, ModelName::Etcd);
            assert!(matches!(c.result, Outcome::Etcd(_)), "{:?}", c.result);
            assert_eq!(c.result.ops(), 2);
        }
        // A run directory means its history.
        let c = check(p.parent().unwrap(), None).unwrap();
        assert_eq!(c.model, ModelName::Etcd);
    }

    #[test]
    fn a_register_history_stays_with_the_register_model() {
        let (_d, p) = file("history.jsonl", REGISTER);
        let c = check(&p, None).unwrap();
        assert_eq!(c.model, ModelName::Register);
        assert!(matches!(c.result, Outcome::Register(_)));
        assert_eq!(c.result.verdict(), Verdict::Linearizable);
        assert_eq!(exit_for(&[c], &[]), Exit::Pass);
    }

    #[test]
    fn the_wrong_model_for_a_history_is_bad_input_naming_the_right_one() {
        let (_d, p) = file("history.jsonl", ETCD);
        let m = bad_input(check(&p, Some(ModelName::Register)));
        assert!(m.contains("history of etcd's API") && m.contains("--model etcd"), "{m}");
        let (_d, p) = file("history.jsonl", REGISTER);
        let m = bad_input(check(&p, Some(ModelName::Etcd)));
        assert!(m.contains("register history") && m.contains("--model register"), "{m}");
        // A register history with an etcd operation in it: the register reader names the model.
        let mixed = format!("{REGISTER}{}", ETCD.lines().next().unwrap());
        let (_d, p) = file("history.jsonl", &mixed);
        let m = bad_input(check(&p, None));
        assert!(m.starts_with(&format!("{}:5: ", p.display())) && m.contains("--model etcd") && !m.contains("not built"), "{m}");
        let (_d, p) = file("kv.log", KV_LOG);
        let m = bad_input(check(&p, Some(ModelName::Etcd)));
        assert!(m.contains("not to a kv-log file") && m.contains("--model kv"), "{m}");
        let (_d, p) = file("kv.log", KV_LOG);
        let m = bad_input(check_file(&p, Some(ModelName::Etcd), Some(Format::JepsenLog), Duration::from_secs(5)));
        assert!(m.contains("not to a jepsen-log file") && m.contains("--model register"), "{m}");
    }

    #[test]
    fn an_etcd_history_that_breaks_the_format_is_bad_input_at_its_line() {
        let (_d, p) = file("history.jsonl", &ETCD.replace(r#""res":{"rev":2,"range""#, r#""res":{"rev":0,"range""#));
        let m = bad_input(check(&p, None));
        assert!(m.starts_with(&format!("{}:4: ", p.display())) && m.contains("at least 1"), "{m}");
    }

    #[test]
    fn an_undecided_etcd_history_exits_5() {
        let c = FileCheck {
            file: "h".into(),
            model: ModelName::Etcd,
            result: Outcome::Etcd(EtcdCheck {
                verdict: Verdict::Unknown,
                violation: None,
                cause: Some("out of time".into()),
                interrupted: false,
                seconds: 1.0,
                stats: Default::default(),
            }),
        };
        assert_eq!(exit_for(&[c], &[]), Exit::Invalid);
    }

    #[test]
    fn model_names_parse_and_an_unknown_one_lists_them() {
        for m in [ModelName::Register, ModelName::Kv, ModelName::Etcd] {
            assert_eq!(ModelName::parse(m.name()), Ok(m));
        }
        let e = ModelName::parse("foo").unwrap_err();
        assert!(e.contains("`foo`") && e.contains("register, kv or etcd"), "{e}");
    }
}
