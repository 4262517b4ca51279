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

/// A tiny history of the etcd workload (docs/formats.md §2.1): a put of k1 at revision 2, a
/// get that sees it, a txn that puts k2 at revision 3 when k1 is at mod 2 — in a directory of
/// its own.
const ETCD_HISTORY: &str = r#"{"type":"invoke","id":1,"client":0,"t":1000000,"f":"put","key":"/e/k1","value":null,"member":"n1","req":{"txn":{"then":[{"put":{"key":"/e/k1","value":"v1"}}]}}}
{"type":"ok","id":1,"client":0,"t":2000000,"f":"put","key":"/e/k1","value":null,"rev":2,"member":"n1","res":{"rev":2,"txn":{"ok":true,"results":[{"put":{}}]}}}
{"type":"invoke","id":2,"client":1,"t":2500000,"f":"get","key":"/e/k1","value":null,"member":"n2","req":{"range":{"key":"/e/k1"}}}
{"type":"ok","id":2,"client":1,"t":3000000,"f":"get","key":"/e/k1","value":null,"rev":2,"member":"n2","res":{"rev":2,"range":{"kvs":[{"key":"/e/k1","value":"v1","mod":2,"create":2,"ver":1}],"count":1}}}
{"type":"invoke","id":3,"client":0,"t":3500000,"f":"txn","key":"/e/k1","value":null,"member":"n1","req":{"txn":{"if":[{"key":"/e/k1","op":"=","target":"mod","n":2}],"then":[{"put":{"key":"/e/k2","value":"v3"}}]}}}
{"type":"ok","id":3,"client":0,"t":4000000,"f":"txn","key":"/e/k1","value":null,"rev":3,"member":"n1","res":{"rev":3,"txn":{"ok":true,"results":[{"put":{}}]}}}
"#;

fn etcd_history() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("history.jsonl");
    std::fs::write(&p, ETCD_HISTORY).unwrap();
    let s = p.display().to_string();
    (d, s)
}

#[test]
fn faultline_check_picks_the_etcd_model_for_an_etcd_history() {
    use crate::util::faultline;
    let (_d, p) = etcd_history();
    for args in [vec!["check", p.as_str()], vec!["check", "--model", "etcd", p.as_str()]] {
        let (code, out, err) = faultline(&args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert!(out.contains(&format!("{p}: LINEARIZABLE — etcd model, 3 ops, 3 revisions")), "{args:?}: {out}");
    }
    let (code, out, _) = faultline(&["check", "--json", &p]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!((v["model"].as_str(), v["ops"].as_u64()), (Some("etcd"), Some(3)), "{v}");
    assert_eq!(v["verdict"], "linearizable", "{v}");
    assert_eq!(v["stats"]["revisions"], 3, "{v}");
}

#[test]
fn faultline_check_explains_a_stale_read_of_an_etcd_history_and_draws_it() {
    use crate::util::faultline;
    // The get now answers at revision 1 (k1 absent) though the put of k1 at revision 2 had
    // returned before it was sent: a stale read.
    let stale = ETCD_HISTORY.replace(
        r#""rev":2,"member":"n2","res":{"rev":2,"range":{"kvs":[{"key":"/e/k1","value":"v1","mod":2,"create":2,"ver":1}],"count":1}}"#,
        r#""rev":1,"member":"n2","res":{"rev":1,"range":{"kvs":[],"count":0}}"#,
    );
    assert_ne!(stale, ETCD_HISTORY);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("history.jsonl");
    std::fs::write(&p, stale).unwrap();
    let page = d.path().join("v.html");
    let (code, out, err) = faultline(&["check", p.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT-LINEARIZABLE — etcd model"), "{out}");
    assert!(out.contains("op 2") && out.contains("get /e/k1"), "the culprit is named: {out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("get /e/k1") && html.contains("<svg"), "{html}");
}

#[test]
fn faultline_check_names_the_model_that_fits_when_given_the_wrong_one() {
    use crate::util::faultline;
    let (_d, p) = etcd_history();
    let (code, out, err) = faultline(&["check", "--model", "register", &p]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("check it with --model etcd"), "{err}");
    let kv = data().join("kv/c01-ok.txt");
    let (code, _, err) = faultline(&["check", "--model", "etcd", kv.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not to a kv-log file") && err.contains("--model kv"), "{err}");
    let (code, _, err) = faultline(&["check", "--model", "foo", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("foo") && err.contains("register, kv, etcd"), "{err}");
}
