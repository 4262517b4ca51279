//! Chaos Mesh out and back: every shipped scenario exports to a Workflow that Chaos Mesh's own
//! CRD schema accepts (and that names no field the schema does not know — the schema itself
//! lets unknown fields through, tests/fixtures/chaos-mesh-crds/README.md), and a scenario
//! whose faults map exactly comes back from import ∘ export with the same schedule.

use faultline::chaos_mesh::{export, import};
use serde_json::Value;
use std::path::Path;

fn workflow_schema() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chaos-mesh-crds/chaos-mesh.org_workflows.yaml");
    let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema").unwrap().clone()
}

/// The OpenAPI v3 subset CRDs use: type, enum, required, properties (and, unlike the API
/// server, no field the properties do not name), items, additionalProperties,
/// x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields.
fn check(v: &Value, schema: &Value, at: &str, errs: &mut Vec<String>) {
    let int_or_string = schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true);
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string() || (int_or_string && v.is_number()),
            "integer" => v.as_i64().is_some() || (int_or_string && v.is_string()),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => true,
        };
        if !ok {
            errs.push(format!("{at}: {v} is not {t}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(m) = v.as_object() {
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !m.contains_key(r) {
                errs.push(format!("{at}: `{r}` is required"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        let extra = schema.get("additionalProperties");
        let open = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
        for (k, x) in m {
            match (props.and_then(|p| p.get(k)), extra) {
                (Some(s), _) => check(x, s, &format!("{at}.{k}"), errs),
                (None, Some(s)) if s.is_object() => check(x, s, &format!("{at}.{k}"), errs),
                (None, _) if open || props.is_none() => {}
                (None, _) => errs.push(format!("{at}: unknown field `{k}`")),
            }
        }
    }
    if let (Some(a), Some(items)) = (v.as_array(), schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            check(x, items, &format!("{at}[{i}]"), errs);
        }
    }
}

#[test]
fn every_shipped_scenario_exports_to_a_workflow_chaos_meshs_schema_accepts() {
    let schema = workflow_schema();
    let mut exported = 0;
    for p in crate::util::shipped_scenarios() {
        let s = faultline::scenario::load(&p).unwrap();
        let e = export::export(&s, &export::ExportOptions::default()).unwrap_or_else(|err| panic!("{}: {err}", p.display()));
        let mut errs = Vec::new();
        check(&e.workflow, &schema, "workflow", &mut errs);
        assert!(errs.is_empty(), "{}: {errs:#?}\n{}", p.display(), serde_json::to_string_pretty(&e.workflow).unwrap());
        exported += e.workflow.pointer("/spec/templates").and_then(Value::as_array).map_or(0, |t| t.len());
    }
    assert!(exported > 50, "the scenarios' faults became templates ({exported})");
}

#[test]
fn the_validator_refuses_what_the_schema_would_let_through() {
    let schema = workflow_schema();
    let mut errs = Vec::new();
    let bad = serde_json::json!({"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Workflow", "metadata": {"name": "x"},
        "spec": {"entry": "e", "templates": [{"name": "e", "templateType": "Serial", "childern": ["a"]}, {"name": "a", "templateType": "Suspend", "children": "b"}]}});
    check(&bad, &schema, "workflow", &mut errs);
    assert!(errs.iter().any(|e| e.contains("unknown field `childern`")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("templates[1].children") && e.contains("is not array")), "{errs:?}");
}

#[test]
fn import_of_export_gives_back_the_schedule_where_the_mapping_is_exact() {
    let text = "name: round-trip\ncluster: {size: 3}\nworkload: {duration: 60s}\nfaults:\n  - {at: 5s, for: 10s, kind: partition, target: n2, mode: isolate}\n  - {at: 20s, for: 3s, kind: kill, target: n1}\n  - {at: 25s, for: 5s, kind: io-latency, target: n3, delay: 50ms, ops: [fsync], path: \"member/wal/*\", percent: 100%}\n  - {at: 20s, for: 2s, every: 15s, kind: stop, target: all}\n  - {at: 30s, for: 4s, kind: cpu-stress, target: n2, workers: 2, load: 80%}\n";
    let s = faultline::scenario::parse(text, "s").unwrap();
    let e = export::export(&s, &export::ExportOptions::default()).unwrap();
    assert!(e.approximations.is_empty() && e.steps.is_empty(), "{:?} {:?}", e.approximations, e.steps);
    let yaml = serde_saphyr::to_string(&e.workflow).unwrap();
    let imp = import::import(&[("wf.yaml".into(), yaml)]).unwrap();
    let back = faultline::scenario::parse(&import::render(&imp, &["wf.yaml".into()], None).unwrap(), "back").unwrap();
    let key = |s: &faultline::scenario::Scenario| {
        let mut v: Vec<(String, String, Option<String>, Option<String>, String)> = s
            .faults
            .iter()
            .map(|f| (f.at.to_string(), f.kind.name().to_string(), f.for_.map(|d| d.to_string()), f.every.map(|d| d.to_string()), f.target.to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&back), key(&s));
    let lat = back.faults.iter().find(|f| f.kind.name() == "io-latency").unwrap().kind.to_map();
    assert_eq!((lat["delay"].as_str(), lat["path"].as_str(), lat["percent"].as_str()), (Some("50ms"), Some("member/wal/*"), Some("100%")));
}

#[test]
fn roles_chaos_mesh_cannot_select_and_faults_it_has_no_kind_for_are_said() {
    let s = faultline::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bugs/etcd-14685-crash-during-defrag.yaml")).unwrap();
    let e = export::export(&s, &export::ExportOptions::default()).unwrap();
    assert!(e.steps.iter().any(|x| x.contains("waits for a trigger")), "{:?}", e.steps);
    assert!(e.steps.iter().any(|x| x.contains("op defrag")), "{:?}", e.steps);
    let s = faultline::scenario::parse("name: x\nfaults:\n  - {at: 1s, for: 2s, kind: kill, target: leader}\n  - {at: 4s, kind: fsync-lie, target: all}\n", "s").unwrap();
    let e = export::export(&s, &export::ExportOptions::default()).unwrap();
    assert!(e.approximations.iter().any(|a| a.contains("`target: leader` becomes `mode: one`")), "{:?}", e.approximations);
    assert!(e.steps.iter().any(|x| x.contains("fsync-lie")), "{:?}", e.steps);
}
