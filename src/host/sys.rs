//! Running the system tools faultline drives (`ip`, `iptables`, `nft`, `nsenter`), with
//! their stderr kept for the error message, and small process helpers.

use crate::error::Error;
use std::process::{Command, Stdio};

/// Run `program args...`; on failure the error carries the command line and its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, Error> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Environment(format!(
                "`{program}` is not installed; faultline needs it ({}). Run `faultline doctor` to see what is missing and how to install it.",
                install_hint(program)
            ))
        } else {
            Error::Harness(format!("failed to run `{program}`: {e}"))
        }
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Harness(format!("`{program} {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim())))
    }
}

/// The Debian package that provides a tool.
pub fn install_hint(program: &str) -> &'static str {
    match program {
        "ip" | "tc" => "apt-get install iproute2",
        "iptables" => "apt-get install iptables",
        "nft" => "apt-get install nftables",
        "nsenter" => "apt-get install util-linux",
        "etcd" => "apt-get install etcd-server",
        "etcdctl" => "apt-get install etcd-client",
        _ => "see faultline doctor",
    }
}

/// Whether a program is on PATH (or is an existing path).
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(program);
    if program.contains('/') {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(program)).find(|c| c.is_file()))
}

/// Whether we run as root (effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The state letter of a process from `/proc/<pid>/stat` (`R`, `S`, `T`, `Z`, ...), or
/// `None` when it is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}
