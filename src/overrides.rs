//! `--set KEY=VALUE` over a scenario (`faultline hunt`, `faultline shrink`): etcd's settings
//! the way `compare`'s variants set them (`cluster.etcd.version=3.5.1` picks the binary and
//! the image of that version), any other key by its dotted path in the scenario file
//! (`workload.duration=10s`, `cluster.size=1`, `faults.0.for=2s`); the result is checked
//! again as a whole scenario, so a key that does not exist or a value that does not fit is
//! refused with the reason.

use crate::compare::variant::{Variant, KEYS};
use crate::error::Error;
use crate::scenario::{self, Scenario};
use serde_json::Value;

/// The scenario with every `KEY=VALUE` applied, in order, and checked again.
pub fn apply(base: &Scenario, sets: &[String]) -> Result<Scenario, Error> {
    if sets.is_empty() {
        return Ok(base.clone());
    }
    let (mut etcd, mut paths) = (Vec::new(), Vec::new());
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            return Err(Error::BadInput(format!(
                "--set `{set}` is not KEY=VALUE: write e.g. `--set cluster.etcd.version=3.5.1` or `--set workload.duration=10s`"
            )));
        };
        let key = key.trim();
        let short = key.strip_prefix("cluster.etcd.").or_else(|| (key == "cluster.backend").then_some("backend")).unwrap_or(key);
        if KEYS.contains(&short) {
            etcd.push(format!("{short}={}", value.trim()));
        } else {
            paths.push((key.to_string(), value.trim().to_string()));
        }
    }
    let s = if etcd.is_empty() { base.clone() } else { Variant::parse("set", &etcd)?.apply(base)? };
    if paths.is_empty() {
        return Ok(s);
    }
    let mut doc: Value = serde_saphyr::from_str(&s.to_yaml()).map_err(|e| Error::harness(format!("the scenario does not read back as YAML: {e}")))?;
    for (key, value) in &paths {
        set_path(&mut doc, key, parse_value(value)).map_err(|m| Error::BadInput(format!("--set {key}={value}: {m}")))?;
    }
    let text = serde_saphyr::to_string(&doc).map_err(|e| Error::harness(format!("cannot write the scenario back: {e}")))?;
    let what = paths.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    scenario::parse(&text, &format!("{} with --set {what}", base.name))
        .map_err(|e| Error::BadInput(format!("--set {what} makes the scenario invalid: {e} (docs/formats.md §1 lists the keys)")))
}

/// A value as YAML reads it: `10s` and `3.5.1` are text, `3` a number, `true` a boolean,
/// `[a, b]` a list.
fn parse_value(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).ok().filter(|v| !v.is_null() || text == "null").unwrap_or_else(|| Value::String(text.to_string()))
}

/// Set `a.b.0.c` in `doc`, creating maps on the way; a number indexes a list.
fn set_path(doc: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("an empty part in the key: write dotted keys like `workload.duration`".into());
    }
    let mut at = doc;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let here = parts[..=i].join(".");
        at = match at {
            Value::Array(list) => {
                let n: usize = part.parse().map_err(|_| format!("`{here}`: `{}` is a list; give an index (0-based)", parts[..i].join(".")))?;
                let len = list.len();
                list.get_mut(n).ok_or_else(|| format!("`{here}`: the list has {len} entr{}", if len == 1 { "y" } else { "ies" }))?
            }
            Value::Object(map) => {
                if last {
                    map.insert(part.to_string(), value);
                    return Ok(());
                }
                map.entry(part.to_string()).or_insert_with(|| Value::Object(Default::default()))
            }
            Value::Null => {
                *at = Value::Object(Default::default());
                let Value::Object(map) = at else { unreachable!("just made a map") };
                if last {
                    map.insert(part.to_string(), value);
                    return Ok(());
                }
                map.entry(part.to_string()).or_insert_with(|| Value::Object(Default::default()))
            }
            _ => return Err(format!("`{}` is a value, not a map", parts[..i].join("."))),
        };
        if last {
            *at = value;
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name: x\nseed: 4\nworkload: {duration: 20s}\nfaults:\n  - {at: 2s, for: 3s, kind: kill, target: leader}\n";

    fn sets(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn etcd_keys_go_through_the_variant_and_others_by_their_path() {
        let base = scenario::parse(BASE, "s").unwrap();
        let s = apply(&base, &sets(&["cluster.etcd.version=3.5.1", "workload.duration=8s", "faults.0.for=1s", "cluster.size=1"])).unwrap();
        assert_eq!(s.cluster.etcd.version.as_deref(), Some("3.5.1"));
        assert_eq!(s.cluster.etcd.image, "faultline/etcd:3.5.1");
        assert_eq!(s.workload.duration.0.as_secs(), 8);
        assert_eq!(s.faults[0].for_.unwrap().0.as_secs(), 1);
        assert_eq!(s.cluster.size, 1);
        assert_eq!(s.seed, Some(4));
    }

    #[test]
    fn a_wrong_key_or_value_is_refused_with_the_reason() {
        let base = scenario::parse(BASE, "s").unwrap();
        let e = apply(&base, &sets(&["workload.durration=8s"])).unwrap_err().to_string();
        assert!(e.contains("--set workload.durration=8s makes the scenario invalid"), "{e}");
        let e = apply(&base, &sets(&["faults.3.for=1s"])).unwrap_err().to_string();
        assert!(e.contains("the list has 1 entry"), "{e}");
        let e = apply(&base, &sets(&["version=3.5"])).unwrap_err().to_string();
        assert!(e.contains("not an etcd version"), "{e}");
        let e = apply(&base, &sets(&["duration"])).unwrap_err().to_string();
        assert!(e.contains("is not KEY=VALUE"), "{e}");
        let e = apply(&base, &sets(&["name.x=1"])).unwrap_err().to_string();
        assert!(e.contains("`name` is a value, not a map"), "{e}");
    }
}
