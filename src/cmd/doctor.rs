//! `faultline doctor`: the table of what this machine can do, then every fault kind and how
//! faultline carries it out — both fitted to the terminal's width (`$COLUMNS`, else the
//! terminal's own, else 100 when the output is not a terminal).

use crate::error::{Error, Exit};
use crate::host::caps;

/// The width used when stdout is not a terminal and `$COLUMNS` is not set.
const DEFAULT_WIDTH: usize = 100;
/// Narrower than this, nothing readable fits; the table is drawn this wide.
const MIN_WIDTH: usize = 40;

/// Probe and print; never fails (a failing probe is a "NO" row).
pub fn run() -> Result<Exit, Error> {
    let width = terminal_width();
    let checks = caps::checks();
    // Versions and paths come from other programs: shown, not obeyed.
    println!("{}", crate::markup::terminal(&caps::render(&checks, width)));
    println!("etcd versions here (cluster.etcd.version; `make deps` installs {}):", crate::cluster::versions::INSTALLABLE.join(" and "));
    for v in crate::cluster::versions::all() {
        let tool = |p: &Option<std::path::PathBuf>| if p.is_some() { "yes" } else { "no" };
        let line = format!("  {:<11} {} (etcdctl {}, etcdutl {})", v.version, v.etcd.display(), tool(&v.etcdctl), tool(&v.etcdutl));
        println!("{}", crate::markup::terminal(&line));
    }
    println!("fault kinds and how faultline carries them out (docs/faults.md):");
    // `  <name, 11 wide> <mechanism>`, continuation lines indented under the mechanism.
    let indent = 2 + 11 + 1;
    for k in crate::fault::registry::ALL {
        for (i, line) in caps::wrap(k.mechanism, width.saturating_sub(indent)).iter().enumerate() {
            let name = if i == 0 { k.name } else { "" };
            println!("  {name:<11} {line}");
        }
    }
    Ok(Exit::Pass)
}

/// The width to fit: `$COLUMNS` when it is a number, else the terminal's (stdout), else
/// [`DEFAULT_WIDTH`]; never below [`MIN_WIDTH`].
fn terminal_width() -> usize {
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|&c| c > 0);
    from_env.or_else(tty_width).unwrap_or(DEFAULT_WIDTH).max(MIN_WIDTH)
}

/// The width of the terminal on stdout, if it is one.
fn tty_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ writes a `winsize` into the struct we pass, nothing else; on a
    // descriptor that is not a terminal it fails and we read nothing.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}
