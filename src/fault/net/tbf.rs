//! Bandwidth: a token bucket (`tbf`) as the root qdisc of the member's `eth0`, so everything
//! the member sends leaves at most at the rate. `tbf` is in every stock kernel (this one
//! lacks netem but has tbf).
//!
//! ```text
//! tc qdisc add dev eth0 root handle fa01: tbf rate 8000000bit burst 10000 latency 100ms
//! ```
//!
//! The burst (bytes sent back to back at line rate after an idle spell) is 10 ms worth of the
//! rate, and never less than two full Ethernet frames (3028 bytes): a bucket smaller than
//! one frame would pass nothing, and 10 ms keeps the average honest over any window longer
//! than a few tens of milliseconds while leaving the kernel's timers slack to refill it.
//! `latency 100ms` bounds the queue: a packet that would wait longer is dropped (TCP then
//! backs off, as on a real slow link).

use super::DEV;
use crate::cluster::netns;
use crate::error::Error;
use std::path::{Path, PathBuf};

/// The handle of the `tbf` root qdisc (faultline's mark: `clean` recognises it).
pub(super) const HANDLE: &str = "fa01:";

/// Two full Ethernet frames (1514 bytes each with the header), the smallest burst used.
const MIN_BURST: u64 = 2 * 1514;

/// The lowest rate accepted, bits/s.
const MIN_RATE: u64 = 1_000;

/// The burst for a rate: 10 ms worth of it, at least two full frames (see the module doc).
pub fn burst_bytes(rate_bits_per_s: u64) -> u64 {
    (rate_bits_per_s / 8 / 100).max(MIN_BURST)
}

/// The `tc` arguments that add the limit on `dev`.
pub(super) fn add_args(dev: &str, rate_bits_per_s: u64) -> Vec<String> {
    let mut a = ["qdisc", "add", "dev", dev, "root", "handle", HANDLE, "tbf"].map(String::from).to_vec();
    a.extend(["rate".into(), format!("{rate_bits_per_s}bit"), "burst".into(), burst_bytes(rate_bits_per_s).to_string(), "latency".into(), "100ms".into()]);
    a
}

/// The `tc` arguments that remove it (naming the handle: the kernel refuses if the root
/// qdisc is not ours).
pub(super) fn del_args(dev: &str) -> Vec<String> {
    ["qdisc", "del", "dev", dev, "root", "handle", HANDLE].map(String::from).to_vec()
}

/// A bandwidth limit in force on one member's namespace; removed on [`Bandwidth::remove`] or
/// when dropped.
#[derive(Debug)]
pub struct Bandwidth {
    ns: PathBuf,
    label: String,
    rate: u64,
    removed: bool,
}

fn tc(ns: &Path, args: &[String]) -> Result<String, Error> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    netns::exec(ns, "tc", &a)
}

/// Limit everything the member in the namespace at `ns` sends on `eth0` to
/// `rate_bits_per_s`. `label` names the fault in messages (a qdisc carries no label; its
/// handle `fa01:` marks it as faultline's). On error nothing is left behind.
pub fn apply_bandwidth(ns: &Path, rate_bits_per_s: u64, label: &str) -> Result<Bandwidth, Error> {
    if rate_bits_per_s < MIN_RATE {
        return Err(Error::BadInput(format!("bandwidth {rate_bits_per_s} bit/s is below the {MIN_RATE} bit/s allowed; to cut a link, use a partition")));
    }
    tc(ns, &add_args(DEV, rate_bits_per_s)).map_err(|e| {
        e.context(format!(
            "failed to limit the bandwidth to {rate_bits_per_s} bit/s in {} ({label}); is a netem shaping or another limit already on {DEV}? \
             One root qdisc fits on an interface: remove that one first",
            ns.display()
        ))
    })?;
    Ok(Bandwidth { ns: ns.to_path_buf(), label: label.to_string(), rate: rate_bits_per_s, removed: false })
}

impl Bandwidth {
    /// The rate in force, bits/s.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// The bucket's burst, bytes.
    pub fn burst(&self) -> u64 {
        burst_bytes(self.rate)
    }

    /// The label given at apply.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Remove the limit.
    pub fn remove(mut self) -> Result<(), Error> {
        self.removed = true;
        tc(&self.ns, &del_args(DEV)).map(|_| ()).map_err(|e| e.context(format!("removing the bandwidth limit {} from {}", self.label, self.ns.display())))
    }
}

impl Drop for Bandwidth {
    fn drop(&mut self) {
        if !self.removed {
            let _ = tc(&self.ns, &del_args(DEV));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_ten_ms_of_the_rate_and_at_least_two_frames() {
        assert_eq!(burst_bytes(8_000_000), 10_000);
        assert_eq!(burst_bytes(1_000_000_000), 1_250_000);
        assert_eq!(burst_bytes(64_000), 3028);
    }

    #[test]
    fn command_lines() {
        assert_eq!(add_args("eth0", 8_000_000).join(" "), "qdisc add dev eth0 root handle fa01: tbf rate 8000000bit burst 10000 latency 100ms");
        assert_eq!(del_args("eth0").join(" "), "qdisc del dev eth0 root handle fa01:");
    }

    #[test]
    fn a_rate_too_low_is_refused_before_touching_anything() {
        let e = apply_bandwidth(Path::new("/nonexistent"), 10, "x").unwrap_err();
        assert!(matches!(e, Error::BadInput(_)), "{e}");
    }
}
