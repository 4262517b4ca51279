//! A variant of a comparison: `KEY=VALUE` settings over `cluster.etcd` (and the backend),
//! parsed with the scenario's own unit parsers, applied to a scenario and checked again as
//! a whole.

use crate::error::Error;
use crate::scenario::units::{Size, Span};
use crate::scenario::{self, BackendChoice, Scenario};
use serde::Serialize;

/// The keys a variant may set, in the order they are listed to the user.
pub const KEYS: &[&str] =
    &["version", "binary", "image", "heartbeat_interval", "election_timeout", "snapshot_count", "quota_backend_bytes", "extra_args", "backend"];

/// One setting of a variant, parsed with the scenario's own unit parsers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum Setting {
    /// `cluster.etcd.version`: a version of faultline's store (its binary, or its image).
    Version(String),
    /// `cluster.etcd.binary` (process backend).
    Binary(String),
    /// `cluster.etcd.image` (docker backend).
    Image(String),
    /// `cluster.etcd.heartbeat_interval`.
    HeartbeatInterval(Span),
    /// `cluster.etcd.election_timeout`.
    ElectionTimeout(Span),
    /// `cluster.etcd.snapshot_count`.
    SnapshotCount(u64),
    /// `cluster.etcd.quota_backend_bytes`.
    QuotaBackendBytes(Size),
    /// `cluster.etcd.extra_args` (comma separated on the command line; replaces the scenario's).
    ExtraArgs(Vec<String>),
    /// The backend the runs of this variant use (overrides `--backend` and the scenario).
    Backend(BackendChoice),
}

impl Setting {
    /// Parse `KEY=VALUE`.
    pub fn parse(text: &str) -> Result<Setting, String> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not KEY=VALUE: write e.g. `heartbeat_interval=100ms` (keys: {}); the scenario file goes before --a and --b",
                KEYS.join(", ")
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let what = |m: String| format!("`{key}={value}`: {m}");
        let nonempty = |v: &str| if v.is_empty() { Err(what(format!("`{key}` needs a value"))) } else { Ok(v.to_string()) };
        Ok(match key {
            "version" => {
                let v = nonempty(value)?;
                if v.split('.').count() != 3 || !v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
                    return Err(what("not an etcd version: write e.g. `version=3.5.1` (`faultline doctor` lists the versions here)".into()));
                }
                Setting::Version(v)
            }
            "binary" => Setting::Binary(nonempty(value)?),
            "image" => Setting::Image(nonempty(value)?),
            "heartbeat_interval" => Setting::HeartbeatInterval(Span::parse(value).map_err(what)?),
            "election_timeout" => Setting::ElectionTimeout(Span::parse(value).map_err(what)?),
            "snapshot_count" => Setting::SnapshotCount(
                value.replace('_', "").parse().map_err(|_| what("not a whole number of entries: write e.g. `snapshot_count=10000`".into()))?,
            ),
            "quota_backend_bytes" => Setting::QuotaBackendBytes(Size::parse(value).map_err(what)?),
            "extra_args" => Setting::ExtraArgs(value.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect()),
            "backend" => Setting::Backend(BackendChoice::parse(value).map_err(what)?),
            other => return Err(format!("unknown variant key `{other}`{}: the keys are {}", did_you_mean(other), KEYS.join(", "))),
        })
    }

    /// The key as written.
    pub fn key(&self) -> &'static str {
        match self {
            Setting::Version(_) => "version",
            Setting::Binary(_) => "binary",
            Setting::Image(_) => "image",
            Setting::HeartbeatInterval(_) => "heartbeat_interval",
            Setting::ElectionTimeout(_) => "election_timeout",
            Setting::SnapshotCount(_) => "snapshot_count",
            Setting::QuotaBackendBytes(_) => "quota_backend_bytes",
            Setting::ExtraArgs(_) => "extra_args",
            Setting::Backend(_) => "backend",
        }
    }

    /// The value the way a user writes it.
    pub fn value(&self) -> String {
        match self {
            Setting::Version(s) | Setting::Binary(s) | Setting::Image(s) => s.clone(),
            Setting::HeartbeatInterval(s) | Setting::ElectionTimeout(s) => s.to_string(),
            Setting::SnapshotCount(n) => n.to_string(),
            Setting::QuotaBackendBytes(s) => s.to_string(),
            Setting::ExtraArgs(a) => a.join(","),
            Setting::Backend(b) => b.name().to_string(),
        }
    }
}

fn did_you_mean(word: &str) -> String {
    crate::error::suggest(word, KEYS)
}

/// A variant: a label (`a` or `b`) and the settings it changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// `a` or `b`.
    pub label: String,
    /// The settings, in the order given.
    pub settings: Vec<Setting>,
}

impl Variant {
    /// Parse the `KEY=VALUE` words of `--a` or `--b`. A key given twice is refused.
    pub fn parse(label: &str, words: &[String]) -> Result<Variant, Error> {
        let mut settings: Vec<Setting> = Vec::new();
        for w in words {
            let s = Setting::parse(w).map_err(|m| Error::BadInput(format!("--{label}: {m}")))?;
            if settings.iter().any(|o| o.key() == s.key()) {
                return Err(Error::BadInput(format!(
                    "--{label}: `{}` is given twice: keep one value per key (extra_args takes a comma-separated list)",
                    s.key()
                )));
            }
            settings.push(s);
        }
        if settings.is_empty() {
            return Err(Error::BadInput(format!("--{label} needs at least one KEY=VALUE (keys: {})", KEYS.join(", "))));
        }
        Ok(Variant { label: label.to_string(), settings })
    }

    /// The settings as `k=v,k=v` — the variant's name in the table and the files.
    pub fn describe(&self) -> String {
        self.settings.iter().map(|s| format!("{}={}", s.key(), s.value())).collect::<Vec<_>>().join(",")
    }

    /// The backend this variant asks for, if it sets one.
    pub fn backend(&self) -> Option<BackendChoice> {
        self.settings.iter().find_map(|s| match s {
            Setting::Backend(b) => Some(*b),
            _ => None,
        })
    }

    /// The scenario with this variant's settings, checked again as a whole (a variant that
    /// makes it invalid, such as an election timeout under 5 heartbeats, is refused with
    /// the reason).
    pub fn apply(&self, base: &Scenario) -> Result<Scenario, Error> {
        let mut s = base.clone();
        if s.cluster.attach.is_some() {
            return Err(Error::BadInput(format!(
                "--{}: the scenario attaches to a running cluster (cluster.attach), whose settings faultline does not set: compare scenarios that let faultline start the members",
                self.label
            )));
        }
        let e = &mut s.cluster.etcd;
        for set in &self.settings {
            match set {
                Setting::Version(v) => {
                    e.version = Some(v.clone());
                    e.binary = "etcd".into();
                    e.image = format!("faultline/etcd:{v}");
                }
                Setting::Binary(b) => {
                    e.version = None;
                    e.binary = b.clone();
                }
                Setting::Image(i) => {
                    e.version = None;
                    e.image = i.clone();
                }
                Setting::HeartbeatInterval(h) => e.heartbeat_interval = *h,
                Setting::ElectionTimeout(t) => e.election_timeout = *t,
                Setting::SnapshotCount(n) => e.snapshot_count = *n,
                Setting::QuotaBackendBytes(q) => e.quota_backend_bytes = *q,
                Setting::ExtraArgs(a) => e.extra_args = a.clone(),
                Setting::Backend(b) => s.cluster.backend = *b,
            }
        }
        let e = &s.cluster.etcd;
        if e.heartbeat_interval.0.is_zero() || e.election_timeout.0 < e.heartbeat_interval.0 * 5 {
            return Err(Error::BadInput(format!(
                "variant {} ({}): election_timeout ({}) must be at least 5 times heartbeat_interval ({}): etcd refuses to start otherwise; etcd's tuning guide suggests about 10 times",
                self.label,
                self.describe(),
                e.election_timeout,
                e.heartbeat_interval
            )));
        }
        // Every other rule of the scenario, by checking the result as a scenario file.
        scenario::parse(&s.to_yaml(), &format!("{} with variant {}", base.name, self.label))
            .map_err(|err| Error::BadInput(format!("variant {} ({}) makes the scenario invalid: {err}", self.label, self.describe())))
    }
}

/// A setting the chosen backend ignores (`binary` on docker, `image` on process), said as a warning.
pub fn unused_setting(v: &Variant, backend: BackendChoice) -> Option<String> {
    v.settings.iter().find_map(|s| match (s, backend) {
        (Setting::Binary(_), BackendChoice::Docker) => Some(
            "`binary` is for the process backend; on docker the members run `image` (build one from a binary with `faultline image build --etcd PATH`)".into(),
        ),
        (Setting::Image(_), BackendChoice::Process) => Some("`image` is for the docker backend; on the process backend the members run `binary`".into()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    fn base() -> Scenario {
        scenario::parse("name: t\ncluster: {size: 3}\nworkload: {duration: 3s}\n", "t.yaml").unwrap()
    }

    #[test]
    fn settings_parse_with_the_scenario_units() {
        let v = Variant::parse(
            "a",
            &words(&[
                "heartbeat_interval=100ms",
                "election_timeout=1s",
                "quota_backend_bytes=4GiB",
                "snapshot_count=5_000",
                "extra_args=--a=1, --b=2",
                "backend=process",
            ]),
        )
        .unwrap();
        assert_eq!(v.settings[0], Setting::HeartbeatInterval(Span(Duration::from_millis(100))));
        assert_eq!(v.settings[2], Setting::QuotaBackendBytes(Size(4 << 30)));
        assert_eq!(v.settings[3], Setting::SnapshotCount(5000));
        assert_eq!(v.settings[4], Setting::ExtraArgs(vec!["--a=1".into(), "--b=2".into()]));
        assert_eq!(v.backend(), Some(BackendChoice::Process));
        assert_eq!(
            v.describe(),
            "heartbeat_interval=100ms,election_timeout=1s,quota_backend_bytes=4GiB,snapshot_count=5000,extra_args=--a=1,--b=2,backend=process"
        );
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let e = Variant::parse("b", &words(&["heartbeat_intervl=10ms"])).unwrap_err().to_string();
        assert!(e.contains("did you mean `heartbeat_interval`") && e.contains("election_timeout, snapshot_count"), "{e}");
        let e = Variant::parse("a", &words(&["heartbeat_interval=10"])).unwrap_err().to_string();
        assert!(e.contains("--a") && e.contains("no unit"), "{e}");
        let e = Variant::parse("a", &words(&["scenario.yaml"])).unwrap_err().to_string();
        assert!(e.contains("not KEY=VALUE"), "{e}");
        let e = Variant::parse("a", &words(&["image=x", "image=y"])).unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        assert!(Variant::parse("a", &[]).is_err());
        assert!(Variant::parse("a", &words(&["backend=dokcer"])).unwrap_err().to_string().contains("did you mean `docker`"));
    }

    #[test]
    fn a_variant_is_applied_and_checked() {
        let v = Variant::parse("b", &words(&["heartbeat_interval=20ms", "election_timeout=200ms", "binary=/usr/bin/etcd"])).unwrap();
        let s = v.apply(&base()).unwrap();
        assert_eq!(s.cluster.etcd.heartbeat_interval.0, Duration::from_millis(20));
        assert_eq!(s.cluster.etcd.election_timeout.0, Duration::from_millis(200));
        assert_eq!(s.cluster.etcd.binary, "/usr/bin/etcd");
        // Only the heartbeat: the scenario's 1 s election timeout stays, 5× rule broken by 300ms.
        let bad = Variant::parse("b", &words(&["heartbeat_interval=300ms"])).unwrap();
        let e = bad.apply(&base()).unwrap_err().to_string();
        assert!(e.contains("variant b") && e.contains("5 times"), "{e}");
    }

    #[test]
    fn every_shipped_scenario_survives_a_variant() {
        let v = Variant::parse("a", &words(&["heartbeat_interval=50ms", "election_timeout=500ms"])).unwrap();
        for p in crate::scenario::shipped() {
            let s = scenario::load(&p).unwrap();
            if s.cluster.attach.is_some() {
                continue;
            }
            let t = v.apply(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(t.faults, s.faults, "{}", p.display());
            assert_eq!(t.cluster.etcd.heartbeat_interval.0, Duration::from_millis(50));
        }
    }

    #[test]
    fn a_setting_the_backend_ignores_is_named() {
        let v = Variant::parse("b", &words(&["binary=/opt/etcd"])).unwrap();
        assert!(unused_setting(&v, BackendChoice::Docker).unwrap().contains("process backend"));
        assert_eq!(unused_setting(&v, BackendChoice::Process), None);
        let v = Variant::parse("b", &words(&["image=faultline/etcd:3.5.17"])).unwrap();
        assert!(unused_setting(&v, BackendChoice::Process).is_some());
        assert_eq!(unused_setting(&v, BackendChoice::Auto), None);
    }

    #[test]
    fn a_version_variant_picks_the_store_binary_and_its_image() {
        let v = Variant::parse("b", &words(&["version=3.5.1"])).unwrap();
        let s = v.apply(&base()).unwrap();
        assert_eq!((s.cluster.etcd.version.as_deref(), s.cluster.etcd.image.as_str()), (Some("3.5.1"), "faultline/etcd:3.5.1"));
        // A binary of one's own replaces a version the scenario names.
        let with = scenario::parse("name: t\ncluster: {etcd: {version: \"3.5.1\"}}\n", "t.yaml").unwrap();
        let s = Variant::parse("a", &words(&["binary=/usr/bin/etcd"])).unwrap().apply(&with).unwrap();
        assert_eq!((s.cluster.etcd.version.as_deref(), s.cluster.etcd.binary.as_str()), (None, "/usr/bin/etcd"));
        assert!(Variant::parse("a", &words(&["version=newest"])).unwrap_err().to_string().contains("version=3.5.1"));
    }
}
