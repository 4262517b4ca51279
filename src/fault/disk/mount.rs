//! Mounting and unmounting the layer without libfuse or fusermount: `/dev/fuse` is opened and
//! handed to `mount(2)` (root only), and mounts are found again in `/proc/self/mountinfo` by
//! their file-system type `fuse.faultline` and source (the layer's label).

use crate::error::Error;
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The subtype every layer mounts with: `/proc/self/mountinfo` shows `fuse.faultline`.
pub(crate) const SUBTYPE: &str = "faultline";

/// One line of `/proc/self/mountinfo` that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    /// Where it is mounted.
    pub(crate) point: PathBuf,
    /// `fuse.faultline`, `ext4`, ...
    pub(crate) fstype: String,
    /// The source (for a layer: its label).
    pub(crate) source: String,
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Parse mountinfo text into its entries, in mount order.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let fstype = r.next()?.to_string();
            let source = String::from_utf8_lossy(&unescape(r.next()?)).into_owned();
            Some(MountEntry { point: PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(point))), fstype, source })
        })
        .collect()
}

/// The mounts of this process's mount namespace.
pub(crate) fn mounts() -> Vec<MountEntry> {
    std::fs::read_to_string("/proc/self/mountinfo").map(|t| parse_mountinfo(&t)).unwrap_or_default()
}

/// Whether the topmost mount at `point` is the layer labelled `label`.
pub(crate) fn is_ours(point: &Path, label: &str) -> bool {
    mounts().into_iter().rev().find(|m| m.point == point).is_some_and(|m| m.fstype == format!("fuse.{SUBTYPE}") && m.source == label)
}

fn cstring(p: &Path) -> Result<CString, Error> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::BadInput(format!("path {} holds a NUL byte", p.display())))
}

/// Open `/dev/fuse` and mount it over `dir` (whose mode `mode` the root takes); returns the
/// device descriptor, on which the kernel has queued the INIT request.
pub(crate) fn mount_fuse(dir: &Path, label: &str, mode: u32) -> Result<OwnedFd, Error> {
    // SAFETY: a static NUL-terminated path; the descriptor is owned from here on.
    let raw = unsafe { libc::open(c"/dev/fuse".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if raw < 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::Environment(format!(
            "cannot open /dev/fuse ({e}); the disk-fault layer needs the FUSE device: load the module (`modprobe fuse`), or in a container run with `--device /dev/fuse --cap-add SYS_ADMIN`"
        )));
    }
    // SAFETY: a fresh descriptor.
    let dev = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: plain getters.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let data = format!("fd={raw},rootmode={mode:o},user_id={uid},group_id={gid},default_permissions,allow_other");
    let target = cstring(dir)?;
    let source = CString::new(label).map_err(|_| Error::BadInput(format!("label {label:?} holds a NUL byte")))?;
    let fstype = CString::new(format!("fuse.{SUBTYPE}")).unwrap_or_default();
    let data_c = CString::new(data.clone()).unwrap_or_default();
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOATIME;
    // SAFETY: NUL-terminated strings that live across the call.
    let rc = unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), flags, data_c.as_ptr().cast()) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        let hint = if e.raw_os_error() == Some(libc::EPERM) {
            "mounting needs root (CAP_SYS_ADMIN); run faultline as root"
        } else {
            "check that the directory exists and is not itself busy"
        };
        return Err(Error::Environment(format!("cannot mount the disk-fault layer over {} ({e}; options {data}): {hint}", dir.display())));
    }
    Ok(dev)
}

/// `umount2(path, flags)`; the errno on failure.
pub(crate) fn umount(path: &Path, detach: bool) -> Result<(), i32> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
    // SAFETY: NUL-terminated path.
    let rc = unsafe { libc::umount2(c.as_ptr(), if detach { libc::MNT_DETACH } else { 0 }) };
    if rc < 0 {
        Err(super::sys::last_errno())
    } else {
        Ok(())
    }
}

/// Abort a FUSE connection through fusectl (`/sys/fs/fuse/connections/N/abort`), if that is
/// mounted: every request still pending or to come fails with ENOTCONN, and the session ends.
pub(crate) fn abort_connection(dev: u64) -> bool {
    let p = format!("/sys/fs/fuse/connections/{}/abort", libc::minor(dev as libc::dev_t));
    std::fs::write(p, b"1").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_are_parsed_and_unescaped() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    61 25 0:50 / /tmp/d/n1 rw,nosuid,nodev,noatime shared:1 - fuse.faultline faultline-abc-n1 rw,user_id=0,group_id=0,default_permissions,allow_other\n\
                    garbage\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].point, PathBuf::from("/mnt/with space"));
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[1], MountEntry { point: "/tmp/d/n1".into(), fstype: "fuse.faultline".into(), source: "faultline-abc-n1".into() });
    }
}
