//! `corrupt`: damage a member's files at rest. The member is stopped (SIGTERM, SIGKILL after
//! 15 s, like `stop`), the files its data directory holds under `path:` are changed in place
//! (`mode: bitflip|zero|random|truncate`), synced, read back, and the member is started on them
//! when the fault heals. A member whose etcd then exits — a WAL whose CRC no longer matches,
//! a db etcd's initial corruption check refuses — is a right outcome, not a broken run: the
//! heal says "n2 refused its WAL: <etcd's words>", records a `corruption-detected` event and
//! leaves the member down.
//!
//! Where: `offset:` is a byte offset (`offset: 4096`), a negative offset from the end
//! (`offset: -100`), or `tail` (the last `bytes` bytes). The end is the end of the file's
//! *used part*: up to its last non-zero byte, because etcd preallocates WAL files (64 MiB of
//! zeros) and a change among those zeros changes nothing etcd reads. Without `offset:` the
//! place is drawn from the fault's seed inside the used part — and, in a bbolt file
//! (`member/snap/db`), among the values of etcd's `key` bucket (the last `bytes` bytes of one
//! key-value record), so that a change is data etcd serves and hashes, not a page header or
//! the freelist, which bbolt would trip over or never read.
//!
//! Which file: the one drawn from the seed among those `path:` matches, or every one with
//! `files: all`.

use crate::cluster::MemberState;
use crate::error::Error;
use crate::events::{CorruptionBy, EventKind};
use crate::fault::api::{params_of, Active, Applied, Cx, Fault, FaultKind, Healed, Home, Kind, ParamError, Params};
use crate::fault::process::{self, ProcessFault, Restarted};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "corrupt",
    mechanism: "member stopped, its files changed in place (bit flips, zeros, random bytes, truncation), restarted at heal",
    params: &["path", "mode", "bytes", "offset", "files"],
    parse,
    draw: None,
};

/// How long a member restarted on corrupted files is watched for its etcd exiting.
const START_WATCH: Duration = Duration::from_secs(4);
/// The most bytes one fault changes.
const MAX_BYTES: u64 = 16 << 20;
/// How many bytes of old and new contents an event shows.
const SHOW: usize = 16;

/// What is done to the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One bit flipped in each byte of the range (the bit drawn from the seed).
    Bitflip,
    /// The range set to zero.
    Zero,
    /// The range set to random bytes, each different from the one it replaces.
    Random,
    /// The file cut short.
    Truncate,
}

impl Mode {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "bitflip" => Ok(Mode::Bitflip),
            "zero" => Ok(Mode::Zero),
            "random" => Ok(Mode::Random),
            "truncate" => Ok(Mode::Truncate),
            _ => Err(format!(
                "`mode: {s}` is not a corruption mode{}: use bitflip (flip one bit in each of `bytes` bytes), zero, random or truncate (cut `bytes` bytes from the end)",
                crate::error::suggest(s, &["bitflip", "zero", "random", "truncate"])
            )),
        }
    }

    /// The bytes changed when a scenario gives no `bytes:`.
    fn default_bytes(self) -> u64 {
        match self {
            Mode::Bitflip => 1,
            Mode::Zero | Mode::Random => 512,
            Mode::Truncate => 4096,
        }
    }
}

/// Where in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// From the start of the file.
    At(u64),
    /// This many bytes before the end of the used part.
    FromEnd(u64),
    /// The last `bytes` bytes of the used part.
    Tail,
}

impl Serialize for Offset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Offset::At(n) => s.serialize_u64(*n),
            Offset::FromEnd(n) => s.serialize_i64(-(*n as i64)),
            Offset::Tail => s.serialize_str("tail"),
        }
    }
}

impl Offset {
    fn parse(v: &Value) -> Result<Self, String> {
        let bad = || {
            format!("`offset: {v}` is not an offset: write a byte offset (`offset: 4096`), a negative offset from the end of the file's used part (`offset: -100`), or `offset: tail` (the last `bytes` bytes)")
        };
        let n = match v {
            Value::Number(n) => n.as_i64().ok_or_else(bad)?,
            Value::String(s) if s.trim() == "tail" => return Ok(Offset::Tail),
            Value::String(s) => s.trim().replace('_', "").parse::<i64>().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        Ok(if n < 0 { Offset::FromEnd(n.unsigned_abs()) } else { Offset::At(n as u64) })
    }
}

/// Which of the matched files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Files {
    /// One, drawn from the fault's seed.
    One,
    /// Every one.
    All,
}

/// A corruption's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Corrupt {
    /// A glob relative to the member's data directory (`member/wal/*.wal`).
    pub path: String,
    /// What is done to the bytes.
    pub mode: Mode,
    /// Bytes changed (truncate: bytes cut from the end of the used part).
    pub bytes: u64,
    /// Where; `None`: drawn from the seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<Offset>,
    /// One matched file or all of them.
    pub files: Files,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let path: String = p.need(
        "corrupt",
        "path",
        "the files to damage, a glob relative to the member's data directory, e.g. `path: member/wal/*.wal`, `path: member/snap/db`",
    )?;
    let path = path.trim().to_string();
    if path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return p.fail(format!("`path: {path}` must stay inside the member's data directory: give it relative to it, e.g. `member/wal/*.wal`"));
    }
    globset::Glob::new(&path).map_err(|e| p.fail_msg(format!("`path: {path}` is not a glob: {e}")))?;
    let mode = Mode::parse(&p.or::<String>("mode", "bitflip".into())?)?;
    let bytes = match p.get::<Value>("bytes")? {
        None => mode.default_bytes(),
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().replace('_', "").parse().ok())) {
            Some(n) if (1..=MAX_BYTES).contains(&n) => n,
            _ => {
                return p
                    .fail(format!("`bytes: {v}` is not a byte count from 1 to {MAX_BYTES} (16 MiB): how many bytes to change (truncate: to cut from the end)"))
            }
        },
    };
    let offset = p.get::<Value>("offset")?.map(|v| Offset::parse(&v)).transpose()?;
    if mode == Mode::Truncate && matches!(offset, Some(Offset::Tail)) {
        return p.fail("`offset: tail` with `mode: truncate` says nothing: truncate already cuts `bytes` bytes from the end; give `bytes:`, or `offset:` where the file should end");
    }
    let files = match p.or::<String>("files", "one".into())?.as_str() {
        "one" => Files::One,
        "all" => Files::All,
        other => {
            return p.fail(format!("`files: {other}` is not one or all: one (drawn from the fault's seed among the files `path` matches, the default) or all"))
        }
    };
    Ok(FaultKind::new(Corrupt { path, mode, bytes, offset, files }))
}

impl Fault for Corrupt {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        let how = match self.mode {
            Mode::Bitflip => format!("{} bit flip(s)", self.bytes),
            Mode::Zero => format!("{} zero byte(s)", self.bytes),
            Mode::Random => format!("{} random byte(s)", self.bytes),
            Mode::Truncate => match self.offset {
                Some(Offset::At(n)) => format!("truncated at {n}"),
                _ => format!("{} byte(s) cut", self.bytes),
            },
        };
        format!("corrupt ({how} in {}{})", self.path, if self.files == Files::All { ", every match" } else { "" })
    }
    fn params(&self) -> serde_json::Map<String, Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Process
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        if cx.backend.attached() {
            return Err(Error::Invalid("a corrupt fault changes a member's files: an attached cluster's data directories are not faultline's to reach".into()));
        }
        // What the glob matches, before anything is stopped: a path that matches nothing is
        // the scenario's mistake, said with what the directory holds.
        let mut chosen: Vec<(String, Vec<String>)> = Vec::new();
        for t in &cx.targets {
            let dir = cx.member(t)?.data_dir.clone();
            let matched = matching(&dir, &self.path)?;
            if matched.is_empty() {
                let held = listing(&dir);
                return Err(Error::Invalid(format!(
                    "`path: {}` matches no file in {t}'s data directory ({}), which holds: {}",
                    self.path,
                    dir.display(),
                    if held.is_empty() { "nothing".to_string() } else { held.join(", ") }
                )));
            }
            let files = match self.files {
                Files::All => matched,
                Files::One => vec![matched[cx.rng.random_range(0..matched.len())].clone()],
            };
            chosen.push((t.clone(), files));
        }
        let (stop_proof, mut events) = process::signal(cx.backend, ProcessFault::Stop, &cx.targets)?;
        let mut changes = Vec::new();
        let mut proofs = Vec::new();
        let mut held = Vec::new();
        for (t, files) in &chosen {
            let dir = cx.member(t)?.data_dir.clone();
            for f in files {
                match self.apply(&dir.join(f), &mut cx.rng) {
                    Ok(c) => {
                        proofs.push(format!("{t} {f}: {}", c.describe()));
                        changes.push(c.to_json(t, f));
                    }
                    Err(e) => {
                        // Put the members back before saying so.
                        let mut evs = Vec::new();
                        for (m, _) in &chosen {
                            let _ = process::start_watched(cx.backend, m, Duration::from_millis(300), &mut evs);
                        }
                        return Err(Error::Invalid(format!("could not corrupt {t}'s {f}: {e}")));
                    }
                }
            }
            held.push((t.clone(), what_of(files)));
        }
        let mut a = Applied::new(InForce { held }, "file", format!("{stop_proof}; {}", proofs.join("; ")));
        a.events.append(&mut events);
        Ok(a.param("changes", Value::Array(changes)))
    }
}

impl Corrupt {
    /// Change one file as the parameters say, sync it, and read it back: what changed.
    fn apply(&self, path: &Path, rng: &mut ChaCha8Rng) -> Result<Change, String> {
        let mut file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| e.to_string())?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(|e| e.to_string())?;
        let used = used_len(&data);
        if used == 0 {
            return Err(format!("the file holds no data ({} bytes, all zero)", data.len()));
        }
        if self.mode == Mode::Truncate {
            let to = match self.offset {
                Some(Offset::At(n)) => n,
                Some(Offset::FromEnd(n)) => used.checked_sub(n).ok_or_else(|| format!("offset -{n} is before the start of its {used} used bytes"))?,
                _ => used.checked_sub(self.bytes).ok_or_else(|| format!("it has {used} used bytes, fewer than `bytes: {}` to cut", self.bytes))?,
            };
            if to >= data.len() as u64 {
                return Err(format!("offset {to} is not inside the file ({} bytes): nothing to cut", data.len()));
            }
            file.set_len(to).map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            let now = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
            if now != to {
                return Err(format!("it is {now} bytes after truncating to {to}"));
            }
            let cut = &data[to as usize..];
            return Ok(Change {
                offset: to,
                old: cut[..cut.len().min(SHOW)].to_vec(),
                new: Vec::new(),
                len: cut.len() as u64,
                bits: Vec::new(),
                truncated_from: Some(data.len() as u64),
            });
        }
        let n = self.bytes.min(used);
        let offset = match self.offset {
            Some(Offset::At(o)) => o,
            Some(Offset::FromEnd(back)) => used.checked_sub(back).ok_or_else(|| format!("offset -{back} is before the start of its {used} used bytes"))?,
            Some(Offset::Tail) => used - n,
            None => match bbolt::key_values(&data) {
                Some(vals) if !vals.is_empty() => {
                    let (at, len) = vals[rng.random_range(0..vals.len())];
                    at + len - n.min(len)
                }
                _ => rng.random_range(0..=used - n),
            },
        };
        let end = offset
            .checked_add(n)
            .filter(|e| *e <= data.len() as u64)
            .ok_or_else(|| format!("bytes {offset}..{} are not inside the file ({} bytes)", offset + n, data.len()))?;
        let range = offset as usize..end as usize;
        let old = data[range.clone()].to_vec();
        let mut new = old.clone();
        let mut bits = Vec::new();
        for b in new.iter_mut() {
            match self.mode {
                Mode::Bitflip => {
                    let bit = rng.random_range(0..8u8);
                    *b ^= 1 << bit;
                    bits.push(bit);
                }
                Mode::Zero => *b = 0,
                Mode::Random => *b ^= rng.random_range(1..=255u8),
                Mode::Truncate => unreachable!("handled above"),
            }
        }
        if new == old {
            return Err(format!("bytes {offset}..{end} are already zero: nothing would change"));
        }
        file.seek(SeekFrom::Start(offset)).map_err(|e| e.to_string())?;
        file.write_all(&new).map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        drop(file);
        // Read back: the proof is what the file now holds.
        let mut back = vec![0u8; new.len()];
        let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        f.seek(SeekFrom::Start(offset)).and_then(|_| f.read_exact(&mut back)).map_err(|e| e.to_string())?;
        if back != new {
            return Err(format!("bytes {offset}..{end} read back as {} after writing {}", hex(&back), hex(&new)));
        }
        Ok(Change { offset, len: n, old, new, bits, truncated_from: None })
    }
}

/// What was changed in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Where the change starts (truncate: the new length).
    pub offset: u64,
    /// Bytes changed (truncate: bytes cut).
    pub len: u64,
    /// The bytes before (truncate: the first of those cut).
    pub old: Vec<u8>,
    /// The bytes after (empty for truncate).
    pub new: Vec<u8>,
    /// Bitflip: the bit flipped in each byte.
    pub bits: Vec<u8>,
    /// Truncate: the length before.
    pub truncated_from: Option<u64>,
}

impl Change {
    /// In words: `1 byte at 40312: 3a → 3b (bit 0)`, `cut from 8192 to 4096 bytes (cut 00 11 …)`.
    pub fn describe(&self) -> String {
        match self.truncated_from {
            Some(from) => format!("cut from {from} to {} bytes (the {} bytes cut began {})", self.offset, self.len, hex(&self.old)),
            None => {
                let bits = if self.bits.len() == 1 { format!(" (bit {})", self.bits[0]) } else { String::new() };
                format!("{} byte(s) at {}..{}: {} → {}{bits}", self.len, self.offset, self.offset + self.len, hex(&self.old), hex(&self.new))
            }
        }
    }

    fn to_json(&self, member: &str, file: &str) -> Value {
        let mut v = json!({ "member": member, "file": file, "offset": self.offset, "bytes": self.len, "old": hex(&self.old) });
        match self.truncated_from {
            Some(from) => v["truncated_from"] = from.into(),
            None => v["new"] = hex(&self.new).into(),
        }
        v
    }
}

/// Bytes in hex, the first [`SHOW`] of them: `3a 0f …`.
pub fn hex(b: &[u8]) -> String {
    let mut s: Vec<String> = b.iter().take(SHOW).map(|x| format!("{x:02x}")).collect();
    if b.len() > SHOW {
        s.push("…".into());
    }
    s.join(" ")
}

/// The used part of a file: up to its last non-zero byte.
pub fn used_len(data: &[u8]) -> u64 {
    data.iter().rposition(|b| *b != 0).map_or(0, |i| i as u64 + 1)
}

/// The files under `dir` matching the glob (relative paths, sorted).
fn matching(dir: &Path, glob: &str) -> Result<Vec<String>, Error> {
    let m = globset::Glob::new(glob).map_err(|e| Error::BadInput(format!("`path: {glob}`: {e}")))?.compile_matcher();
    Ok(listing(dir).into_iter().filter(|f| m.is_match(f)).collect())
}

/// Every file under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(d) else { return };
        for e in entries.flatten() {
            let p: PathBuf = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(base, &p, out),
                Ok(t) if t.is_file() => {
                    if let Ok(rel) = p.strip_prefix(base) {
                        out.push(rel.display().to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// What the files are to etcd, for "n2 refused its WAL": `WAL`, `db`, `snapshot`, or
/// `data`.
fn what_of(files: &[String]) -> String {
    let mut kinds: Vec<&str> = files
        .iter()
        .map(|f| {
            if f.contains("/wal/") || f.ends_with(".wal") {
                "WAL"
            } else if f.ends_with("/db") || f == "db" {
                "db"
            } else if f.ends_with(".snap") || f.ends_with(".snap.db") {
                "snapshot"
            } else {
                "data"
            }
        })
        .collect();
    kinds.dedup();
    kinds.join(" and ")
}

/// The members stopped and corrupted, and what of theirs was (`WAL`, `db`).
#[derive(Debug)]
struct InForce {
    held: Vec<(String, String)>,
}

impl Active for InForce {
    fn heal(&mut self, cx: &Cx<'_>) -> Result<Healed, Error> {
        let mut proofs = Vec::new();
        let mut events = Vec::new();
        for (t, what) in &self.held {
            if cx.backend.member(t).is_err() {
                proofs.push(format!("{t} was removed from the cluster meanwhile: nothing to start"));
                continue;
            }
            if cx.backend.state(t) != MemberState::Down {
                proofs.push(format!("{t} was already running again"));
                continue;
            }
            match process::start_watched(cx.backend, t, START_WATCH, &mut events)? {
                Restarted::Up { pid } => {
                    proofs.push(format!("{t} started on its corrupted {what} as pid {pid} and was still running {} s later", START_WATCH.as_secs()))
                }
                Restarted::Refused { words, after, at, .. } => {
                    let said = format!("{t} refused its {what}: {words}");
                    events.push((
                        at,
                        EventKind::CorruptionDetected { member: t.clone(), by: CorruptionBy::EtcdRefusedStart, detail: said.clone(), fault: Some(cx.id) },
                    ));
                    proofs.push(format!("{said} (exited {:.1} s after its start; it stays down)", after.as_secs_f64()));
                }
            }
        }
        Ok(Healed { proof: proofs.join("; "), events: Vec::new(), timed: events })
    }
}

/// Just enough of bbolt's file format to find where etcd's key-value records are: the
/// newest valid meta page, the root bucket, the `key` bucket in it, and its leaf pages'
/// values (each a marshalled `mvccpb.KeyValue`). Pages the tree does not reach (free pages,
/// old copies) are never chosen: a change there is never read.
mod bbolt {
    const MAGIC: u32 = 0xED0C_DAED;
    const BRANCH: u16 = 0x01;
    const LEAF: u16 = 0x02;
    const BUCKET_LEAF: u32 = 0x01;
    const HEADER: usize = 16;

    fn u16_at(d: &[u8], o: usize) -> Option<u16> {
        Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?))
    }
    fn u32_at(d: &[u8], o: usize) -> Option<u32> {
        Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?))
    }
    fn u64_at(d: &[u8], o: usize) -> Option<u64> {
        Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?))
    }

    /// The file offsets and lengths of the values in etcd's `key` bucket; `None` when `data`
    /// is not a bbolt file or its tree could not be followed.
    pub fn key_values(data: &[u8]) -> Option<Vec<(u64, u64)>> {
        if u32_at(data, HEADER)? != MAGIC {
            return None;
        }
        let page_size = u32_at(data, HEADER + 8)? as usize;
        if !(512..=65536).contains(&page_size) {
            return None;
        }
        // The meta page with the higher transaction id.
        let meta =
            [0, page_size].into_iter().filter(|&p| u32_at(data, p + HEADER) == Some(MAGIC)).max_by_key(|&p| u64_at(data, p + HEADER + 48).unwrap_or(0))?;
        let root = u64_at(data, meta + HEADER + 16)?;
        let mut buckets = Vec::new();
        leaves(data, page_size, page_of(root, page_size)?, 0, &mut |flags, key, voff, vlen| {
            if flags & BUCKET_LEAF != 0 && key == b"key" {
                buckets.push((voff, vlen));
            }
        })?;
        let &(voff, vlen) = buckets.first()?;
        let broot = u64_at(data, voff)?;
        let mut out = Vec::new();
        let start = if broot == 0 {
            // An inline bucket: its page follows the bucket header inside the value.
            if vlen < 16 + HEADER {
                return Some(out);
            }
            voff + 16
        } else {
            page_of(broot, page_size)?
        };
        leaves(data, page_size, start, 0, &mut |flags, _, voff, vlen| {
            if flags & BUCKET_LEAF == 0 && vlen > 0 {
                out.push((voff as u64, vlen as u64));
            }
        })?;
        Some(out)
    }

    fn page_of(id: u64, page_size: usize) -> Option<usize> {
        usize::try_from(id).ok()?.checked_mul(page_size)
    }

    /// Call `f(flags, key, value offset, value length)` for every leaf element under the page
    /// at `at`.
    /// What [`leaves`] calls for each leaf element: flags, key, value offset, value length.
    type Visit<'a> = dyn FnMut(u32, &[u8], usize, usize) + 'a;

    fn leaves(data: &[u8], page_size: usize, at: usize, depth: usize, f: &mut Visit<'_>) -> Option<()> {
        if depth > 32 {
            return None;
        }
        let flags = u16_at(data, at + 8)?;
        let count = u16_at(data, at + 10)? as usize;
        for i in 0..count {
            let e = at + HEADER + i * 16;
            if flags & LEAF != 0 {
                let (eflags, pos, ksize, vsize) =
                    (u32_at(data, e)?, u32_at(data, e + 4)? as usize, u32_at(data, e + 8)? as usize, u32_at(data, e + 12)? as usize);
                let k = e + pos;
                let key = data.get(k..k + ksize)?;
                data.get(k + ksize..k + ksize + vsize)?;
                f(eflags, key, k + ksize, vsize);
            } else if flags & BRANCH != 0 {
                let child = u64_at(data, e + 8)?;
                leaves(data, page_size, page_of(child, page_size)?, depth + 1, f)?;
            } else {
                return None;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::api::RawParams;
    use rand::SeedableRng;

    fn parsed(yaml: &str) -> Result<Corrupt, String> {
        let raw: RawParams = serde_saphyr::from_str(yaml).expect("yaml");
        match parse(&Params::new(&raw, 3)) {
            Ok(f) => Ok(f.downcast::<Corrupt>().expect("a corrupt fault").clone()),
            Err(e) => Err(e.msg),
        }
    }

    #[test]
    fn parameters_parse_with_defaults() {
        let c = parsed("path: member/wal/*.wal").unwrap();
        assert_eq!(c, Corrupt { path: "member/wal/*.wal".into(), mode: Mode::Bitflip, bytes: 1, offset: None, files: Files::One });
        let c = parsed("{path: member/snap/db, mode: zero, bytes: 64, offset: -100, files: all}").unwrap();
        assert_eq!((c.mode, c.bytes, c.offset, c.files), (Mode::Zero, 64, Some(Offset::FromEnd(100)), Files::All));
        assert_eq!(parsed("{path: a, offset: tail}").unwrap().offset, Some(Offset::Tail));
        assert_eq!(parsed("{path: a, offset: 4096}").unwrap().offset, Some(Offset::At(4096)));
        assert_eq!(parsed("{path: a, mode: truncate}").unwrap().bytes, 4096);
        // As a scenario writes it back.
        let p = serde_json::to_value(parsed("{path: a, mode: random, bytes: 8, offset: -5}").unwrap()).unwrap();
        assert_eq!(p, json!({"path": "a", "mode": "random", "bytes": 8, "offset": -5, "files": "one"}));
    }

    #[test]
    fn bad_parameters_are_refused_in_words() {
        assert!(parsed("mode: zero").unwrap_err().contains("a corrupt fault needs `path`"));
        let e = parsed("{path: a, mode: bitflips}").unwrap_err();
        assert!(e.contains("not a corruption mode") && e.contains("did you mean `bitflip`"), "{e}");
        assert!(parsed("{path: a, bytes: 0}").unwrap_err().contains("not a byte count from 1"));
        assert!(parsed("{path: a, bytes: lots}").unwrap_err().contains("not a byte count"));
        assert!(parsed("{path: a, offset: middle}").unwrap_err().contains("not an offset"));
        assert!(parsed("{path: a, mode: truncate, offset: tail}").unwrap_err().contains("says nothing"));
        assert!(parsed("{path: /etc/passwd}").unwrap_err().contains("inside the member's data directory"));
        assert!(parsed("{path: ../n1/member/snap/db}").unwrap_err().contains("inside the member's data directory"));
        assert!(parsed("{path: 'member/[wal'}").unwrap_err().contains("not a glob"));
        assert!(parsed("{path: a, files: some}").unwrap_err().contains("not one or all"));
    }

    fn file_with(data: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, data).unwrap();
        (dir, p)
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn fault(mode: Mode, bytes: u64, offset: Option<Offset>) -> Corrupt {
        Corrupt { path: "f".into(), mode, bytes, offset, files: Files::One }
    }

    #[test]
    fn a_bitflip_flips_exactly_one_bit_in_each_of_n_bytes_as_recorded() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8 | 1).chain(std::iter::repeat_n(0, 4096)).collect();
        let (_d, p) = file_with(&data);
        let c = fault(Mode::Bitflip, 5, None).apply(&p, &mut rng()).unwrap();
        let after = std::fs::read(&p).unwrap();
        let flipped: u32 = data.iter().zip(&after).map(|(a, b)| (a ^ b).count_ones()).sum();
        assert_eq!(flipped, 5, "five bits flipped in all");
        let changed: Vec<usize> = (0..data.len()).filter(|&i| data[i] != after[i]).collect();
        assert_eq!(changed, (c.offset as usize..c.offset as usize + 5).collect::<Vec<_>>(), "the recorded range and nothing else");
        assert!(c.offset + 5 <= 4096, "inside the used part, not in the zeros after it: {}", c.offset);
        assert_eq!(c.old, data[c.offset as usize..c.offset as usize + 5]);
        assert_eq!(c.new, after[c.offset as usize..c.offset as usize + 5]);
        assert_eq!(c.bits.len(), 5);
    }

    #[test]
    fn zero_random_and_truncate_change_the_range_they_record() {
        let data = vec![0xabu8; 1000];
        let (_d, p) = file_with(&data);
        let c = fault(Mode::Zero, 10, Some(Offset::At(100))).apply(&p, &mut rng()).unwrap();
        let after = std::fs::read(&p).unwrap();
        assert_eq!((c.offset, c.len), (100, 10));
        assert!(after[100..110].iter().all(|b| *b == 0) && after[..100] == data[..100] && after[110..] == data[110..]);
        assert!(c.describe().starts_with("10 byte(s) at 100..110: ab ab"), "{}", c.describe());

        let (_d, p) = file_with(&data);
        let c = fault(Mode::Random, 20, Some(Offset::Tail)).apply(&p, &mut rng()).unwrap();
        let after = std::fs::read(&p).unwrap();
        assert_eq!(c.offset, 980);
        assert!(after[980..].iter().all(|b| *b != 0xab), "every byte differs from the one it replaced");
        assert_eq!(after[..980], data[..980]);

        let (_d, p) = file_with(&data);
        let c = fault(Mode::Random, 4, Some(Offset::FromEnd(10))).apply(&p, &mut rng()).unwrap();
        assert_eq!(c.offset, 990);

        // Truncate cuts from the end of the used part, not of the preallocated zeros.
        let mut padded = data.clone();
        padded.extend(std::iter::repeat_n(0, 3000));
        let (_d, p) = file_with(&padded);
        let c = fault(Mode::Truncate, 300, None).apply(&p, &mut rng()).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 700);
        assert_eq!((c.offset, c.len, c.truncated_from), (700, 3300, Some(4000)));
        assert!(c.describe().contains("cut from 4000 to 700 bytes"), "{}", c.describe());
    }

    #[test]
    fn a_change_that_changes_nothing_or_misses_the_file_is_refused() {
        let (_d, p) = file_with(&[1, 0, 0, 0, 0, 0, 0, 0]);
        assert!(fault(Mode::Zero, 4, Some(Offset::At(2))).apply(&p, &mut rng()).unwrap_err().contains("already zero"));
        assert!(fault(Mode::Bitflip, 4, Some(Offset::At(100))).apply(&p, &mut rng()).unwrap_err().contains("not inside the file"));
        assert!(fault(Mode::Truncate, 5, None).apply(&p, &mut rng()).unwrap_err().contains("fewer than"));
        let (_d, p) = file_with(&[0; 64]);
        assert!(fault(Mode::Bitflip, 1, None).apply(&p, &mut rng()).unwrap_err().contains("holds no data"));
    }

    /// A small bbolt file as etcd's backend leaves it: meta pages 0 and 1 (the newer names the
    /// root), a root leaf holding the `key` and `meta` buckets, the `key` bucket's leaf with two
    /// records, the `meta` bucket's leaf, and a stale copy of a key page that nothing reaches.
    fn bbolt_file() -> (Vec<u8>, Vec<(u64, u64)>) {
        const PS: usize = 4096;
        let mut d = vec![0u8; PS * 7];
        let put16 = |d: &mut [u8], o: usize, v: u16| d[o..o + 2].copy_from_slice(&v.to_le_bytes());
        let put32 = |d: &mut [u8], o: usize, v: u32| d[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let put64 = |d: &mut [u8], o: usize, v: u64| d[o..o + 8].copy_from_slice(&v.to_le_bytes());
        for (page, txid, root) in [(0usize, 2u64, 3u64), (1, 1, 6)] {
            let m = page * PS;
            put64(&mut d, m, page as u64);
            put16(&mut d, m + 8, 0x04);
            put32(&mut d, m + 16, 0xED0C_DAED);
            put32(&mut d, m + 20, 2);
            put32(&mut d, m + 24, PS as u32);
            put64(&mut d, m + 32, root);
            put64(&mut d, m + 64, txid);
        }
        // A leaf page at `page` with elements (flags, key, value); the values' file offsets.
        let leaf = |d: &mut Vec<u8>, page: usize, elems: &[(u32, &[u8], Vec<u8>)]| -> Vec<(u64, u64)> {
            let p = page * PS;
            put64(d, p, page as u64);
            put16(d, p + 8, 0x02);
            put16(d, p + 10, elems.len() as u16);
            let mut data = p + 16 + elems.len() * 16;
            let mut out = Vec::new();
            for (i, (flags, k, v)) in elems.iter().enumerate() {
                let e = p + 16 + i * 16;
                put32(d, e, *flags);
                put32(d, e + 4, (data - e) as u32);
                put32(d, e + 8, k.len() as u32);
                put32(d, e + 12, v.len() as u32);
                d[data..data + k.len()].copy_from_slice(k);
                d[data + k.len()..data + k.len() + v.len()].copy_from_slice(v);
                out.push(((data + k.len()) as u64, v.len() as u64));
                data += k.len() + v.len();
            }
            out
        };
        let bucket = |root: u64| -> Vec<u8> { root.to_le_bytes().into_iter().chain([0u8; 8]).collect() };
        leaf(&mut d, 3, &[(1, b"key", bucket(4)), (1, b"meta", bucket(5))]);
        let rev = |n: u8| -> Vec<u8> { vec![0, 0, 0, 0, 0, 0, 0, n, b'_', 0, 0, 0, 0, 0, 0, 0, 0] };
        let values = leaf(&mut d, 4, &[(0, &rev(2), b"\x0a\x02k1value-one".to_vec()), (0, &rev(3), b"\x0a\x02k2value-two".to_vec())]);
        leaf(&mut d, 5, &[(0, b"consistent_index", vec![0, 0, 0, 0, 0, 0, 0, 9])]);
        // The old tree (meta 1's): a stale copy of the key page, reached from no current root.
        leaf(&mut d, 6, &[(1, b"key", bucket(2))]);
        (d, values)
    }

    #[test]
    fn in_a_bbolt_file_the_values_of_etcds_key_bucket_are_found_from_the_newest_meta() {
        let (d, values) = bbolt_file();
        assert_eq!(bbolt::key_values(&d), Some(values.clone()), "the two records of the key bucket, not the meta bucket's");
        assert_eq!(bbolt::key_values(&[0u8; 8192]), None, "not a bbolt file");
        // The default offset lands on the last byte of one of those records.
        let (_dir, p) = file_with(&d);
        for seed in 0..8 {
            let c = fault(Mode::Bitflip, 1, None).apply(&p, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            assert!(values.iter().any(|(at, len)| c.offset == at + len - 1), "seed {seed}: offset {} is not the last byte of a value {values:?}", c.offset);
        }
    }

    #[test]
    fn files_are_named_by_what_they_are_to_etcd() {
        assert_eq!(what_of(&["member/wal/0000000000000000-0000000000000000.wal".into()]), "WAL");
        assert_eq!(what_of(&["member/snap/db".into()]), "db");
        assert_eq!(what_of(&["member/snap/0000000000000002-0000000000000005.snap".into()]), "snapshot");
        assert_eq!(hex(&[0x3a, 0]), "3a 00");
        assert!(hex(&[0; 20]).ends_with('…'));
    }
}
