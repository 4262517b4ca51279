//! Thin wrappers over the `*at` system calls the layer serves requests with. Every call works
//! relative to a file descriptor of the real directory tree (opened before the mount covered
//! it), never through a path that would lead back into the mount. Errors are raw errno values,
//! which is what the kernel wants back.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A result whose error is an errno value.
pub(crate) type SysResult<T> = Result<T, i32>;

/// The errno of the last failed call.
pub(crate) fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn check(rc: libc::c_int) -> SysResult<()> {
    if rc < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

/// A name from the kernel as a C string (names never hold NUL; EINVAL if one does).
pub(crate) fn cname(name: &OsStr) -> SysResult<CString> {
    CString::new(name.as_bytes()).map_err(|_| libc::EINVAL)
}

/// `/proc/self/fd/N`: the magic link through which an `O_PATH` descriptor is reopened with
/// real access flags (the technique of libfuse's `passthrough_ll`).
pub(crate) fn proc_path(fd: RawFd) -> CString {
    // Digits only: CString::new cannot fail.
    CString::new(format!("/proc/self/fd/{fd}")).unwrap_or_default()
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)`.
pub(crate) fn openat(dir: RawFd, name: &CStr, flags: i32, mode: u32) -> SysResult<OwnedFd> {
    // SAFETY: `name` is NUL-terminated; the returned descriptor is owned by nobody else.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
    if fd < 0 {
        Err(last_errno())
    } else {
        // SAFETY: a fresh descriptor from openat.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Reopen an `O_PATH` descriptor with real access flags.
pub(crate) fn reopen(fd: RawFd, flags: i32) -> SysResult<OwnedFd> {
    openat(libc::AT_FDCWD, &proc_path(fd), flags, 0)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn stat_at(dir: RawFd, name: &CStr) -> SysResult<libc::stat> {
    // SAFETY: zeroed stat is a valid out-buffer; the name is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

/// `fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`: works on `O_PATH` descriptors.
pub(crate) fn stat_fd(fd: RawFd) -> SysResult<libc::stat> {
    // SAFETY: zeroed stat is a valid out-buffer; the path is a static empty C string.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(fd, c"".as_ptr(), &mut st, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

/// `pread` until `buf` is full or end of file; returns the bytes read.
pub(crate) fn pread_full(fd: RawFd, buf: &mut [u8], offset: u64) -> SysResult<usize> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe { libc::pread(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done, (offset + done as u64) as libc::off_t) };
        if n < 0 {
            let e = last_errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        done += n as usize;
    }
    Ok(done)
}

/// `pwrite` the whole of `data` at `offset` (std's `write_all_at` on the borrowed descriptor:
/// it retries on EINTR and short writes).
pub(crate) fn pwrite_all(fd: RawFd, data: &[u8], offset: u64) -> SysResult<()> {
    use std::os::unix::fs::FileExt;
    // SAFETY: the descriptor stays owned by the caller; ManuallyDrop never closes it.
    let file = std::mem::ManuallyDrop::new(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) });
    file.write_all_at(data, offset).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

/// `fsync`, or `fdatasync` when `datasync`.
pub(crate) fn sync(fd: RawFd, datasync: bool) -> SysResult<()> {
    // SAFETY: plain syscalls on a descriptor.
    check(unsafe {
        if datasync {
            libc::fdatasync(fd)
        } else {
            libc::fsync(fd)
        }
    })
}

/// `close` a descriptor handed to the kernel as a file handle.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: the descriptor was leaked from an OwnedFd when the handle was made and is
    // closed exactly once, on release.
    unsafe { libc::close(fd) };
}

/// `ftruncate`.
pub(crate) fn ftruncate(fd: RawFd, size: u64) -> SysResult<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::ftruncate(fd, size as libc::off_t) })
}

/// `truncate` through the magic link of an `O_PATH` descriptor.
pub(crate) fn truncate_path(fd: RawFd, size: u64) -> SysResult<()> {
    let p = proc_path(fd);
    // SAFETY: NUL-terminated path.
    check(unsafe { libc::truncate(p.as_ptr(), size as libc::off_t) })
}

/// `chmod` through the magic link of an `O_PATH` descriptor.
pub(crate) fn chmod_fd(fd: RawFd, mode: u32) -> SysResult<()> {
    let p = proc_path(fd);
    // SAFETY: NUL-terminated path.
    check(unsafe { libc::chmod(p.as_ptr(), mode as libc::mode_t) })
}

/// `fchownat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`; `u32::MAX` leaves a field alone.
pub(crate) fn chown_fd(fd: RawFd, uid: u32, gid: u32) -> SysResult<()> {
    // SAFETY: static empty path.
    check(unsafe { libc::fchownat(fd, c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) })
}

/// A time for `utimensat`: `None` leaves it alone, `Some(None)` means now.
pub(crate) type SetTime = Option<Option<SystemTime>>;

fn timespec(t: SetTime) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(None) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(Some(t)) => {
            let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
            libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long }
        }
    }
}

/// Set access and modification times through the magic link of an `O_PATH` descriptor.
pub(crate) fn utimes_fd(fd: RawFd, atime: SetTime, mtime: SetTime) -> SysResult<()> {
    let p = proc_path(fd);
    let ts = [timespec(atime), timespec(mtime)];
    // SAFETY: NUL-terminated path, two timespecs.
    check(unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), ts.as_ptr(), 0) })
}

/// `fallocate`.
pub(crate) fn fallocate(fd: RawFd, mode: i32, offset: u64, len: u64) -> SysResult<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fallocate(fd, mode, offset as libc::off_t, len as libc::off_t) })
}

/// `mkdirat`.
pub(crate) fn mkdirat(dir: RawFd, name: &CStr, mode: u32) -> SysResult<()> {
    // SAFETY: NUL-terminated name.
    check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode as libc::mode_t) })
}

/// `mknodat`.
pub(crate) fn mknodat(dir: RawFd, name: &CStr, mode: u32, rdev: u64) -> SysResult<()> {
    // SAFETY: NUL-terminated name.
    check(unsafe { libc::mknodat(dir, name.as_ptr(), mode as libc::mode_t, rdev as libc::dev_t) })
}

/// `symlinkat`.
pub(crate) fn symlinkat(target: &CStr, dir: RawFd, name: &CStr) -> SysResult<()> {
    // SAFETY: NUL-terminated strings.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) })
}

/// `linkat(fd, "", dir, name, AT_EMPTY_PATH)`: a new name for the file behind an `O_PATH` descriptor.
pub(crate) fn link_fd(fd: RawFd, dir: RawFd, name: &CStr) -> SysResult<()> {
    // SAFETY: NUL-terminated strings.
    check(unsafe { libc::linkat(fd, c"".as_ptr(), dir, name.as_ptr(), libc::AT_EMPTY_PATH) })
}

/// `unlinkat` (`AT_REMOVEDIR` for directories).
pub(crate) fn unlinkat(dir: RawFd, name: &CStr, rmdir: bool) -> SysResult<()> {
    // SAFETY: NUL-terminated name.
    check(unsafe { libc::unlinkat(dir, name.as_ptr(), if rmdir { libc::AT_REMOVEDIR } else { 0 }) })
}

/// `renameat2`.
pub(crate) fn renameat2(old_dir: RawFd, old: &CStr, new_dir: RawFd, new: &CStr, flags: u32) -> SysResult<()> {
    // SAFETY: NUL-terminated names.
    check(unsafe { libc::renameat2(old_dir, old.as_ptr(), new_dir, new.as_ptr(), flags) })
}

/// `readlinkat(fd, "")` on an `O_PATH` descriptor of a symbolic link, or of a magic link.
pub(crate) fn readlink_at(dir: RawFd, name: &CStr) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: buffer and length match.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(last_errno());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// Where an `O_PATH` descriptor's file is now, as the kernel names it (follows renames;
/// ` (deleted)` is appended once the last name is gone).
pub(crate) fn fd_path(fd: RawFd) -> SysResult<Vec<u8>> {
    readlink_at(libc::AT_FDCWD, &proc_path(fd))
}

/// `fstatvfs`.
pub(crate) fn statvfs(fd: RawFd) -> SysResult<libc::statvfs> {
    // SAFETY: zeroed statvfs is a valid out-buffer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatvfs(fd, &mut st) })?;
    Ok(st)
}

/// The entries of a directory: (inode number, d_type, name), `.` and `..` included.
pub(crate) fn read_dir(dir_fd: RawFd) -> SysResult<Vec<(u64, u8, Vec<u8>)>> {
    // A fresh descriptor, so the stream starts at the beginning and closedir owns it.
    let fd = openat(dir_fd, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    // SAFETY: fdopendir takes ownership of `raw` on success.
    let dir = unsafe { libc::fdopendir(raw) };
    if dir.is_null() {
        let e = last_errno();
        close(raw);
        return Err(e);
    }
    let mut out = Vec::new();
    loop {
        // errno must be cleared to tell the end from an error.
        // SAFETY: errno location is thread-local.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `dir` is a valid stream until closedir.
        let ent = unsafe { libc::readdir64(dir) };
        if ent.is_null() {
            let e = last_errno();
            // SAFETY: closes the stream and its descriptor.
            unsafe { libc::closedir(dir) };
            return if e == 0 { Ok(out) } else { Err(e) };
        }
        // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated.
        let (ino, typ, name) = unsafe { ((*ent).d_ino, (*ent).d_type, CStr::from_ptr((*ent).d_name.as_ptr()).to_bytes().to_vec()) };
        out.push((ino, typ, name));
    }
}

/// The process's umask, read without changing it (`/proc/self/status`), 0o022 if unreadable.
pub(crate) fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").and_then(|v| u32::from_str_radix(v.trim(), 8).ok())))
        .unwrap_or(0o022)
}

/// The raw descriptor of anything that has one (shorthand).
pub(crate) fn raw(fd: &impl AsRawFd) -> RawFd {
    fd.as_raw_fd()
}
