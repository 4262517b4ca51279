//! The checker against real histories: every file of the Porcupine test data (Jepsen runs
//! against etcd, and kv logs) gets the verdict in EXPECTED.tsv. The data is a copy in
//! `tests/fixtures/porcupine-etcd/` (its README says where it comes from and its licence),
//! so the tests need nothing outside the repository.

use faultline::checker::{self, input, models::kv::Kv, Verdict};
use std::path::PathBuf;
use std::time::Duration;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/porcupine-etcd")
}

fn expected() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(data().join("EXPECTED.tsv")).expect("tests/fixtures/porcupine-etcd/EXPECTED.tsv");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[3].to_string())
        })
        .collect()
}

fn verdict_of(file: &str) -> Verdict {
    let path = data().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    if file.starts_with("jepsen/") {
        let (model, ops) = input::jepsen_log(&text, file).unwrap();
        checker::check(&model, ops, Duration::from_secs(60)).verdict
    } else {
        let ops = input::kv_log(&text, file).unwrap();
        checker::check(&Kv, ops, Duration::from_secs(60)).verdict
    }
}

#[test]
fn every_porcupine_file_gets_its_expected_verdict() {
    let mut wrong = Vec::new();
    let all = expected();
    assert_eq!(all.len(), 109);
    for (file, want) in &all {
        let got = verdict_of(file);
        let want_v = match want.as_str() {
            "linearizable" | "empty" => Verdict::Linearizable,
            "not-linearizable" => Verdict::NotLinearizable,
            other => panic!("unknown expectation {other}"),
        };
        if got != want_v {
            wrong.push(format!("{file}: expected {want}, got {}", got.name()));
        }
    }
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn kv_logs_get_the_same_verdict_without_splitting_by_key() {
    use faultline::checker::models::kv_map::{unsplit, KvMap};
    for (file, want) in expected()
        .iter()
        .filter(|(f, _)| f.starts_with("kv/c01") || f.starts_with("kv/c10"))
        .filter(|(f, _)| cfg!(not(debug_assertions)) || !f.starts_with("kv/c10-ok"))
    {
        let text = std::fs::read_to_string(data().join(file)).unwrap();
        let ops = unsplit(input::kv_log(&text, file).unwrap());
        let got = checker::check(&KvMap, ops, Duration::from_secs(60)).verdict;
        assert_eq!(got.name(), want.as_str(), "{file} unsplit");
    }
}
