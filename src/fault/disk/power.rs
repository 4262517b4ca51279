//! Power losses beyond "every unsynced write is gone" (issue 19): a torn write (a prefix of one
//! write kept), a torn sequence (a random subset of the unsynced writes kept, in order of
//! issue), and lost directory operations (a create or rename not followed by an fsync of its
//! directory undone). The layer journals, in the modes that cache writes, every unsynced
//! write (with its data) and every create and rename since its directory's last fsync;
//! [`Shared::lose_power`] replays the part of the journal a loss keeps and undoes the rest.

use super::cache::Key;
use super::fs::Shared;
use super::rules::compile_glob;
use super::sys::{self, raw};
use super::Dropped;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Sector size a `sector` cut keeps whole sectors of.
pub const SECTOR: u64 = 512;

/// Where a torn write is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// At a 512-byte sector boundary (of the file's offsets) inside the write.
    Sector,
    /// After any byte of the write but its last.
    Byte,
}

/// Which unsynced writes a power loss keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Torn {
    /// One file's unsynced writes before its last one, and a prefix of that last one, cut as
    /// [`Cut`] says; every other unsynced write is lost.
    Op(Cut),
    /// Each unsynced write kept with probability `keep` (0..=1), in order of issue; the others lost.
    Seq {
        /// The probability a write is kept.
        keep: f64,
    },
}

/// A power loss: what is kept of the unsynced writes, and whether directory operations not
/// made durable by an fsync of their directory are undone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PowerLoss {
    /// `None`: every unsynced write is lost (what `drop_unsynced` does).
    pub torn: Option<Torn>,
    /// Undo creates and renames not followed by an fsync of their directory.
    pub dirops: bool,
    /// Only the directory operations on paths matching this glob are undone (the path when the
    /// operation was made or now; for a rename, either name); `None`: all of them.
    pub dirops_path: Option<String>,
    /// The seed of the draws (which file a torn write is in, where it is cut, which writes a
    /// torn sequence keeps).
    pub seed: u64,
    /// A glob (relative to the data directory): a torn write is drawn among the files matching
    /// it when any has unsynced writes.
    pub prefer: Option<String>,
}

/// What a power loss did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LossReport {
    /// What was unsynced when the power went: files, bytes, writes.
    pub unsynced: Dropped,
    /// Bytes of unsynced writes written to the real files (kept by a torn loss).
    pub kept_bytes: u64,
    /// Writes kept whole or in part.
    pub kept_writes: u64,
    /// Per file: the byte ranges kept and lost, in words.
    pub torn: Vec<String>,
    /// The directory operations undone (and those that could not be), in words.
    pub undone: Vec<String>,
}

impl LossReport {
    /// In words, for a proof.
    pub fn describe(&self) -> String {
        let lost = self.unsynced.bytes.saturating_sub(self.kept_bytes);
        let mut s = format!(
            "{} unsynced byte(s) in {} write(s) to {} file(s): {lost} byte(s) lost, {} kept",
            self.unsynced.bytes, self.unsynced.writes, self.unsynced.files, self.kept_bytes
        );
        if !self.torn.is_empty() {
            let _ = write!(s, " ({})", self.torn.join("; "));
        }
        if !self.undone.is_empty() {
            let _ = write!(s, "; directory operations undone: {}", self.undone.join("; "));
        }
        s
    }
}

/// A directory operation not yet made durable.
#[derive(Debug)]
pub(crate) enum DirOp {
    /// `name` created in `dir` (also mknod, symlink, link).
    Create { dir: Arc<OwnedFd>, dir_key: Key, name: OsString, key: Key, path: String },
    /// `from_dir/from` renamed to `to_dir/to`.
    Rename { from_dir: Arc<OwnedFd>, from_key: Key, from: OsString, to_dir: Arc<OwnedFd>, to_key: Key, to: OsString, key: Key, replaced: bool, path: String },
}

impl DirOp {
    /// Whether an fsync of the directory `dir` makes it durable.
    pub(crate) fn synced_by(&self, dir: Key) -> bool {
        match self {
            DirOp::Create { dir_key, .. } => *dir_key == dir,
            DirOp::Rename { from_key, to_key, .. } => *from_key == dir || *to_key == dir,
        }
    }

    /// Undo it on the real directory; says what happened.
    fn undo(&self) -> String {
        let same = |dir: &OwnedFd, name: &OsString, key: Key| {
            sys::cname(name).ok().and_then(|c| sys::stat_at(raw(dir), &c).ok()).is_some_and(|st| (st.st_dev, st.st_ino) == key)
        };
        match self {
            DirOp::Create { dir, name, key, path, .. } => {
                if !same(dir, name, *key) {
                    return format!("create of {path} not undone (the name no longer holds that file)");
                }
                let is_dir =
                    sys::cname(name).ok().and_then(|c| sys::stat_at(raw(&**dir), &c).ok()).is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
                match sys::cname(name).and_then(|c| sys::unlinkat(raw(&**dir), &c, is_dir)) {
                    Ok(()) => format!("create of {path} undone (removed)"),
                    Err(e) => format!("create of {path} not undone ({})", std::io::Error::from_raw_os_error(e)),
                }
            }
            DirOp::Rename { from_dir, from, to_dir, to, key, replaced, path, .. } => {
                if !same(to_dir, to, *key) {
                    return format!("rename {path} not undone (the new name no longer holds that file)");
                }
                let res = sys::cname(to)
                    .and_then(|t| sys::cname(from).and_then(|f| sys::renameat2(raw(&**to_dir), &t, raw(&**from_dir), &f, libc::RENAME_NOREPLACE)));
                match res {
                    Ok(()) if *replaced => format!("rename {path} undone (put back; the file it replaced is not restored)"),
                    Ok(()) => format!("rename {path} undone (put back)"),
                    Err(e) => format!("rename {path} not undone ({})", std::io::Error::from_raw_os_error(e)),
                }
            }
        }
    }
}

/// What a power loss leaves the kernel to forget: nodes whose pages and sizes changed, and
/// (parent node, name) entries that changed.
#[derive(Debug, Default)]
pub(crate) struct Forget {
    pub(crate) nodes: Vec<u64>,
    pub(crate) entries: Vec<(u64, OsString)>,
}

/// Byte ranges `[start, end)` of a file.
type Ranges = Vec<(u64, u64)>;

/// Ranges in words: `0..4096, 8192..8704`, at most 6 listed.
fn ranges(r: &[(u64, u64)]) -> String {
    let mut v: Vec<String> = r.iter().take(6).map(|(a, b)| format!("{a}..{b}")).collect();
    if r.len() > 6 {
        v.push(format!("and {} more", r.len() - 6));
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Merge touching ranges (writes in order of issue are mostly sequential).
fn push_range(v: &mut Vec<(u64, u64)>, a: u64, b: u64) {
    if a >= b {
        return;
    }
    if let Some(last) = v.last_mut() {
        if last.1 == a {
            last.1 = b;
            return;
        }
    }
    v.push((a, b));
}

impl Shared {
    /// Record a directory operation (in the modes that cache writes).
    pub(crate) fn journal_dirop(&self, op: impl FnOnce() -> Option<DirOp>) {
        if self.mode() == super::DurabilityMode::Durable {
            return;
        }
        if let Some(op) = op() {
            self.dirops.lock().unwrap_or_else(|p| p.into_inner()).push(op);
        }
    }

    /// An fsync of the directory `dir` made its operations durable.
    pub(crate) fn dir_synced(&self, dir: Key) {
        self.dirops.lock().unwrap_or_else(|p| p.into_inner()).retain(|op| !op.synced_by(dir));
    }

    /// Lose power: keep what `loss` keeps of the unsynced writes (written to the real files),
    /// forget the rest, and undo the directory operations not made durable when `loss.dirops`.
    pub(crate) fn lose_power(&self, loss: &PowerLoss) -> (LossReport, Forget) {
        let mut rng = ChaCha8Rng::seed_from_u64(loss.seed);
        let (files, journal) = {
            let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            self.cached_files.store(0, std::sync::atomic::Ordering::Relaxed);
            c.take_all()
        };
        let dirops = std::mem::take(&mut *self.dirops.lock().unwrap_or_else(|p| p.into_inner()));
        let mut report = LossReport {
            unsynced: Dropped { files: files.len(), bytes: files.values().map(|f| f.bytes).sum(), writes: files.values().map(|f| f.writes).sum() },
            ..LossReport::default()
        };
        let mut forget = Forget::default();
        {
            let inodes = self.inodes.read().unwrap_or_else(|p| p.into_inner());
            forget.nodes = files.keys().filter_map(|k| inodes.by_key.get(k).copied()).collect();
        }
        // Which bytes of which writes are kept: (journal index, bytes kept of it).
        let mut keep: Vec<(usize, usize)> = Vec::new();
        match loss.torn {
            None => {}
            Some(Torn::Seq { keep: p }) => {
                for (i, j) in journal.iter().enumerate() {
                    if rng.random::<f64>() < p {
                        keep.push((i, j.data.len()));
                    }
                }
            }
            Some(Torn::Op(cut)) => {
                let mut keys: Vec<(String, Key)> = files.iter().filter_map(|(k, f)| self.fd_rel_path(&f.fd).map(|p| (p, *k))).collect();
                keys.sort();
                if let Some(g) = loss.prefer.as_deref().and_then(|p| compile_glob(p).ok()) {
                    if keys.iter().any(|(p, _)| g.is_match(p)) {
                        keys.retain(|(p, _)| g.is_match(p));
                    }
                }
                if !keys.is_empty() {
                    let key = keys[rng.random_range(0..keys.len())].1;
                    let idx: Vec<usize> = journal.iter().enumerate().filter(|(_, j)| j.key == key).map(|(i, _)| i).collect();
                    if let Some((&last, before)) = idx.split_last() {
                        keep.extend(before.iter().map(|&i| (i, journal[i].data.len())));
                        let j = &journal[last];
                        let len = j.data.len() as u64;
                        let kept = match cut {
                            Cut::Byte if len > 1 => rng.random_range(1..len),
                            Cut::Byte => 0,
                            Cut::Sector => {
                                // Sector boundaries strictly inside the write.
                                let first = (j.offset / SECTOR + 1) * SECTOR;
                                let end = j.offset + len;
                                if first >= end {
                                    0
                                } else {
                                    let n = (end - 1 - first) / SECTOR + 1;
                                    first + rng.random_range(0..n) * SECTOR - j.offset
                                }
                            }
                        };
                        keep.push((last, kept as usize));
                    }
                }
            }
        }
        // Write the kept parts to the real files, in order of issue; say per file what was kept.
        let mut per_file: Vec<(Key, String, Ranges, Ranges)> = Vec::new();
        let kept_at: std::collections::HashMap<usize, usize> = keep.iter().copied().collect();
        if loss.torn.is_some() {
            for (i, j) in journal.iter().enumerate() {
                let k = kept_at.get(&i).copied().unwrap_or(0);
                let pos = match per_file.iter().position(|(key, ..)| *key == j.key) {
                    Some(p) => p,
                    None => {
                        per_file.push((j.key, self.fd_rel_path(&j.fd).unwrap_or_else(|| "?".into()), Vec::new(), Vec::new()));
                        per_file.len() - 1
                    }
                };
                let end = j.offset + j.data.len() as u64;
                if k > 0 {
                    let res = sys::reopen(raw(&*j.fd), libc::O_WRONLY).and_then(|w| sys::pwrite_all(raw(&w), &j.data[..k], j.offset));
                    if res.is_ok() {
                        report.kept_bytes += k as u64;
                        report.kept_writes += 1;
                        push_range(&mut per_file[pos].2, j.offset, j.offset + k as u64);
                    }
                }
                push_range(&mut per_file[pos].3, j.offset + k as u64, end);
            }
            let torn_write = match loss.torn {
                Some(Torn::Op(_)) => keep.last().map(|&(i, k)| (i, k)),
                _ => None,
            };
            for (key, path, kept, lost) in &per_file {
                let mut s = format!("{path}: kept {}; lost {}", ranges(kept), ranges(lost));
                if let Some((i, k)) = torn_write.filter(|(i, _)| journal[*i].key == *key) {
                    let j = &journal[i];
                    let _ = write!(s, "; torn write {}..{} cut after {k} byte(s) at {}", j.offset, j.offset + j.data.len() as u64, j.offset + k as u64);
                }
                report.torn.push(s);
            }
        }
        if loss.dirops {
            let only = loss.dirops_path.as_deref().and_then(|p| compile_glob(p).ok());
            let inodes = self.inodes.read().unwrap_or_else(|p| p.into_inner());
            for op in dirops.iter().rev() {
                if let Some(g) = &only {
                    if !self.dirop_paths(op).iter().any(|p| g.is_match(p)) {
                        continue;
                    }
                }
                report.undone.push(op.undo());
                match op {
                    DirOp::Create { dir_key, name, .. } => forget.entries.extend(inodes.by_key.get(dir_key).map(|n| (*n, name.clone()))),
                    DirOp::Rename { from_key, from, to_key, to, .. } => {
                        forget.entries.extend(inodes.by_key.get(from_key).map(|n| (*n, from.clone())));
                        forget.entries.extend(inodes.by_key.get(to_key).map(|n| (*n, to.clone())));
                    }
                }
            }
        }
        (report, forget)
    }

    /// The paths a directory operation is known by: when it was made, and now.
    fn dirop_paths(&self, op: &DirOp) -> Vec<String> {
        let now = |dir: &OwnedFd, name: &OsString| {
            self.fd_rel_path(dir).map(|d| if d == "." { name.to_string_lossy().into_owned() } else { format!("{d}/{}", name.to_string_lossy()) })
        };
        match op {
            DirOp::Create { dir, name, path, .. } => std::iter::once(path.clone()).chain(now(dir, name)).collect(),
            DirOp::Rename { from_dir, from, to_dir, to, path, .. } => {
                path.split(" -> ").map(str::to_string).chain(now(from_dir, from)).chain(now(to_dir, to)).collect()
            }
        }
    }

    /// The path of an `O_PATH` descriptor's file relative to the mounted directory.
    pub(crate) fn fd_rel_path(&self, fd: &OwnedFd) -> Option<String> {
        let mut p = sys::fd_path(raw(fd)).ok()?;
        if p.ends_with(b" (deleted)") {
            p.truncate(p.len() - b" (deleted)".len());
        }
        let rest = p.strip_prefix(self.root_real.as_slice())?;
        let rest = rest.strip_prefix(b"/").unwrap_or(rest);
        Some(if rest.is_empty() { ".".into() } else { String::from_utf8_lossy(rest).into_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_read() {
        let mut v = Vec::new();
        push_range(&mut v, 0, 10);
        push_range(&mut v, 10, 20);
        push_range(&mut v, 30, 30);
        push_range(&mut v, 40, 50);
        assert_eq!(v, vec![(0, 20), (40, 50)]);
        assert_eq!(ranges(&v), "0..20, 40..50");
        assert_eq!(ranges(&[]), "none");
    }
}
