//! JSON Lines files (`history.jsonl`, `events.jsonl`, `watch.jsonl`): one object a line,
//! written as a run goes and read back with `file:line` errors. [`Record`] is the writer of
//! a run's record: it keeps the first write error, says it as `could not write <file>: <os
//! error>`, and writes nothing more to that file.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::marker::PhantomData;
use std::path::Path;

/// Streams records of type `T` to a file, one JSON object a line, flushed every 64 lines
/// (call [`flush`](Self::flush) when idle), so a crash of the harness loses at most the last
/// few.
pub struct Writer<T> {
    out: BufWriter<File>,
    unflushed: usize,
    records: PhantomData<fn(&T)>,
}

impl<T: Serialize> Writer<T> {
    /// Create (truncate) the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self { out: BufWriter::new(File::create(path)?), unflushed: 0, records: PhantomData })
    }

    /// Append one record.
    pub fn append(&mut self, r: &T) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")?;
        self.unflushed += 1;
        if self.unflushed >= 64 {
            self.flush()?;
        }
        Ok(())
    }

    /// Write out what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.unflushed = 0;
        self.out.flush()
    }

    /// Close the file without writing what is still buffered (after a write error: trying
    /// again would only fail again).
    pub fn discard(self) {
        let (_file, _unwritten) = self.out.into_parts();
    }
}

/// A record of a run written as the run goes (`history.jsonl`, `events.jsonl`,
/// `watch.jsonl`). A failed write does not stop the run: the first error is kept (see
/// [`Record::error`]), the file is closed, and later records are not attempted, so one full
/// disk gives one reason, not thousands. The run decides what a lost record means (it makes
/// the run invalid).
pub struct Record<T> {
    name: String,
    writer: Option<Writer<T>>,
    error: Option<String>,
}

impl<T: Serialize> Record<T> {
    /// Create (truncate) the file; it is named by its file name in the error.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Record { name, writer: Some(Writer::create(path)?), error: None })
    }

    /// Append one record (buffered); nothing after a write error.
    pub fn append(&mut self, r: &T) {
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.append(r) {
                self.fail(e);
            }
        }
    }

    /// Write out what is buffered; nothing after a write error.
    pub fn flush(&mut self) {
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.flush() {
                self.fail(e);
            }
        }
    }

    fn fail(&mut self, e: std::io::Error) {
        self.error = Some(format!("could not write {}: {e}", self.name));
        if let Some(w) = self.writer.take() {
            w.discard();
        }
    }

    /// The first write error, as `could not write <file>: <os error>`.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Flush and close; the first write error, if any.
    pub fn finish(mut self) -> Option<String> {
        self.flush();
        self.writer = None;
        self.error
    }
}

/// Read a JSON Lines file of `T`; a malformed line is reported as
/// `file:line: expected <what>: why`. Blank lines are skipped.
pub fn read<T: DeserializeOwned>(path: &Path, what: &str) -> Result<Vec<T>, String> {
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| format!("{}:{}: expected {what}: {e}", path.display(), i + 1))?);
    }
    Ok(out)
}

/// Stream the lines of a JSON Lines file: `f(n, line)` for each non-blank line (`n` from 1),
/// until the file ends or `f` answers `Ok(false)`; errors as `FILE:N: ...`. Only one line is
/// held at a time, so a history of millions of lines costs what the caller keeps.
pub fn for_each_line(path: &Path, mut f: impl FnMut(usize, &str) -> Result<bool, String>) -> Result<(), String> {
    use std::io::BufRead;
    let file = path.display().to_string();
    let h = std::fs::File::open(path).map_err(|e| format!("{file}: cannot read the history: {e}"))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, h);
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        n += 1;
        if reader.read_line(&mut line).map_err(|e| format!("{file}:{n}: {e}"))? == 0 {
            return Ok(());
        }
        if line.trim().is_empty() {
            continue;
        }
        if !f(n, &line).map_err(|m| format!("{file}:{n}: {m}"))? {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_record_on_a_full_device_keeps_its_first_error_and_writes_no_more() {
        let mut r: Record<u32> = Record::create(Path::new("/dev/full")).expect("/dev/full opens for writing");
        r.append(&1);
        assert_eq!(r.error(), None, "buffered: nothing written yet");
        r.flush();
        let e = r.error().expect("the flush fails").to_string();
        assert_eq!(e, format!("could not write full: {}", std::io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(e.contains("No space left on device"), "{e}");
        assert!(r.writer.is_none(), "the file is closed after its first error");
        // Later records are not attempted: the first error stays.
        for i in 0..1000 {
            r.append(&i);
        }
        assert_eq!(r.finish(), Some(e));
    }

    #[test]
    fn a_record_that_writes_has_no_error_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("r.jsonl");
        let mut r: Record<u32> = Record::create(&path).unwrap();
        for i in 0..100 {
            r.append(&i);
        }
        assert_eq!(r.finish(), None);
        assert_eq!(read::<u32>(&path, "a number").unwrap(), (0..100).collect::<Vec<_>>());
    }
}
