//! The layer's own cache of writes not yet made durable (modes `LoseUnsynced` and `FsyncLie`):
//! per file, non-overlapping extents (offset → bytes) that reads lay over the real file. An
//! fsync writes a file's extents to the real file; `drop_unsynced` forgets them, as a power
//! loss would.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// A file's identity on the real file system: (device, inode number). Each cached file keeps
/// an `O_PATH` descriptor open, so its inode number cannot be reused while it is cached.
pub(crate) type Key = (u64, u64);

/// Extents are not merged past this size, so overwriting inside one costs at most this much copying.
const MERGE_LIMIT: usize = 1 << 20;

/// One file's unsynced writes.
#[derive(Debug)]
pub(crate) struct FileCache {
    /// An `O_PATH` descriptor of the real file (reopened for writing on flush).
    pub(crate) fd: Arc<OwnedFd>,
    /// Offset → bytes; sorted, non-overlapping.
    extents: BTreeMap<u64, Vec<u8>>,
    /// Bytes held.
    pub(crate) bytes: u64,
    /// Writes absorbed.
    pub(crate) writes: u64,
}

impl FileCache {
    pub(crate) fn new(fd: Arc<OwnedFd>) -> Self {
        FileCache { fd, extents: BTreeMap::new(), bytes: 0, writes: 0 }
    }

    /// The end of the last cached byte (0 when empty).
    pub(crate) fn end(&self) -> u64 {
        self.extents.iter().next_back().map_or(0, |(o, d)| o + d.len() as u64)
    }

    /// Remove `[start, end)` from the cache, keeping the parts of extents outside it.
    pub(crate) fn punch(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // Extents that overlap: the one starting at or before `start`, and those inside.
        let first = self.extents.range(..=start).next_back().filter(|(o, d)| *o + d.len() as u64 > start).map(|(o, _)| *o);
        let inside: Vec<u64> = self.extents.range(start..end).map(|(o, _)| *o).collect();
        for off in first.into_iter().chain(inside) {
            let Some(data) = self.extents.remove(&off) else { continue };
            self.bytes -= data.len() as u64;
            let e_end = off + data.len() as u64;
            if off < start {
                let left = data[..(start - off) as usize].to_vec();
                self.bytes += left.len() as u64;
                self.extents.insert(off, left);
            }
            if e_end > end {
                let right = data[(end - off) as usize..].to_vec();
                self.bytes += right.len() as u64;
                self.extents.insert(end, right);
            }
        }
    }

    /// Record a write of `data` at `offset` (newer bytes win).
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        self.punch(offset, end);
        self.writes += 1;
        self.bytes += data.len() as u64;
        // Append to the extent that ends where this write starts (the WAL's sequential writes).
        if let Some((&o, prev)) = self.extents.range_mut(..offset).next_back() {
            if o + prev.len() as u64 == offset && prev.len() + data.len() <= MERGE_LIMIT {
                prev.extend_from_slice(data);
                return;
            }
        }
        self.extents.insert(offset, data.to_vec());
    }

    /// Cut the cache to a file size of `size`.
    pub(crate) fn truncate(&mut self, size: u64) {
        let end = self.end();
        if end > size {
            self.punch(size, end);
        }
    }

    /// Lay the cached bytes over `buf`, which holds the file's bytes from `offset`.
    pub(crate) fn overlay(&self, offset: u64, buf: &mut [u8]) {
        let end = offset + buf.len() as u64;
        let first = self.extents.range(..=offset).next_back().map(|(o, _)| *o);
        let from = first.unwrap_or(offset);
        for (&o, data) in self.extents.range(from..end) {
            let e_end = o + data.len() as u64;
            if e_end <= offset {
                continue;
            }
            let s = o.max(offset);
            let e = e_end.min(end);
            buf[(s - offset) as usize..(e - offset) as usize].copy_from_slice(&data[(s - o) as usize..(e - o) as usize]);
        }
    }

    /// The extents, in offset order.
    pub(crate) fn extents(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.extents.iter().map(|(o, d)| (*o, d.as_slice()))
    }
}

/// One unsynced write as it was issued (the journal that torn power losses replay a part of).
#[derive(Debug)]
pub(crate) struct Journaled {
    /// The file.
    pub(crate) key: Key,
    /// Its `O_PATH` descriptor.
    pub(crate) fd: Arc<OwnedFd>,
    /// Where the write went.
    pub(crate) offset: u64,
    /// What it wrote.
    pub(crate) data: Vec<u8>,
}

/// Every cached file, with the total of bytes held, and the unsynced writes in order of issue.
#[derive(Debug, Default)]
pub(crate) struct Unsynced {
    /// Cached files by identity.
    pub(crate) files: HashMap<Key, FileCache>,
    /// Bytes held over all files.
    pub(crate) bytes: u64,
    /// The writes still unsynced, in order of issue (a copy of their data: a later write may
    /// overwrite the cache's bytes, and a torn loss keeps writes, not bytes).
    pub(crate) journal: Vec<Journaled>,
}

impl Unsynced {
    /// Record a write; `fd` is the file's `O_PATH` descriptor (kept if the file is new here).
    pub(crate) fn write(&mut self, key: Key, fd: &Arc<OwnedFd>, offset: u64, data: &[u8]) {
        let f = self.files.entry(key).or_insert_with(|| FileCache::new(fd.clone()));
        let before = f.bytes;
        f.write(offset, data);
        self.bytes = self.bytes + f.bytes - before;
        if !data.is_empty() {
            self.journal.push(Journaled { key, fd: fd.clone(), offset, data: data.to_vec() });
        }
    }

    /// Cut a file's cache and its journaled writes to a size of `size` (a truncation).
    pub(crate) fn truncate(&mut self, key: Key, size: u64) {
        self.with_file(key, |f| f.truncate(size));
        self.journal.retain_mut(|j| {
            if j.key != key || j.offset + j.data.len() as u64 <= size {
                return true;
            }
            j.data.truncate(size.saturating_sub(j.offset) as usize);
            !j.data.is_empty()
        });
    }

    /// Take everything out: the files and the journal.
    pub(crate) fn take_all(&mut self) -> (HashMap<Key, FileCache>, Vec<Journaled>) {
        self.bytes = 0;
        (std::mem::take(&mut self.files), std::mem::take(&mut self.journal))
    }

    /// Apply `f` to a file's cache, keeping the total right and removing it when empty.
    pub(crate) fn with_file(&mut self, key: Key, f: impl FnOnce(&mut FileCache)) {
        if let Some(c) = self.files.get_mut(&key) {
            let before = c.bytes;
            f(c);
            self.bytes = self.bytes + c.bytes - before;
            if c.bytes == 0 {
                self.files.remove(&key);
            }
        }
    }

    /// Take a file's cache out.
    pub(crate) fn take(&mut self, key: Key) -> Option<FileCache> {
        let c = self.files.remove(&key)?;
        self.bytes -= c.bytes;
        self.journal.retain(|j| j.key != key);
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> Arc<OwnedFd> {
        Arc::new(OwnedFd::from(std::fs::File::open("/").unwrap()))
    }

    fn read(c: &FileCache, base: &[u8], off: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        let n = base.len().saturating_sub(off as usize).min(len);
        if n > 0 {
            b[..n].copy_from_slice(&base[off as usize..off as usize + n]);
        }
        c.overlay(off, &mut b);
        b
    }

    #[test]
    fn newer_writes_win_and_extents_stay_disjoint() {
        let mut c = FileCache::new(fd());
        c.write(10, b"aaaaaaaaaa"); // 10..20
        c.write(15, b"bbbbbbbbbb"); // 15..25
        c.write(5, b"cc"); // 5..7
        c.write(12, b"d"); // inside
        assert_eq!(read(&c, &[b'.'; 30], 0, 30), b".....cc...aadaabbbbbbbbbb.....".to_vec());
        assert_eq!(c.bytes, 2 + 15);
        assert_eq!(c.end(), 25);
        let ext: Vec<(u64, usize)> = c.extents().map(|(o, d)| (o, d.len())).collect();
        for w in ext.windows(2) {
            assert!(w[0].0 + w[0].1 as u64 <= w[1].0, "{ext:?}");
        }
    }

    #[test]
    fn sequential_writes_merge() {
        let mut c = FileCache::new(fd());
        for i in 0..100u64 {
            c.write(i * 8, &[i as u8; 8]);
        }
        assert_eq!(c.extents().count(), 1);
        assert_eq!(c.writes, 100);
        assert_eq!(read(&c, &[], 792, 8), vec![99u8; 8]);
    }

    #[test]
    fn truncate_and_punch() {
        let mut c = FileCache::new(fd());
        c.write(0, b"0123456789");
        c.truncate(4);
        assert_eq!(c.end(), 4);
        assert_eq!(c.bytes, 4);
        c.write(8, b"xy");
        c.punch(1, 9);
        assert_eq!(read(&c, b"__________", 0, 10), b"0________y".to_vec());
        assert_eq!(c.bytes, 2);
    }

    #[test]
    fn totals_follow_files() {
        let mut u = Unsynced::default();
        let f = fd();
        u.write((1, 1), &f, 0, b"abc");
        u.write((1, 2), &f, 0, b"de");
        u.write((1, 1), &f, 1, b"zz");
        assert_eq!(u.bytes, 5);
        assert_eq!(u.journal.len(), 3);
        u.truncate((1, 1), 0);
        assert_eq!(u.bytes, 2);
        assert_eq!(u.journal.len(), 1, "the truncated file's writes leave the journal");
        assert!(!u.files.contains_key(&(1, 1)));
        assert_eq!(u.take((1, 2)).map(|c| c.bytes), Some(2));
        assert_eq!(u.bytes, 0);
    }
}
