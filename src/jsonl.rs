//! JSON Lines files (`history.jsonl`, `watch.jsonl`): one object a line, written as a run
//! goes and read back with `file:line` errors.

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
