//! Read mistakes (issue 19, Chaos Mesh IOChaos's `mistake`): reads of matching files that reach
//! the layer come back with a run of up to `bytes` bytes bit-flipped, zeroed or randomised, at
//! `percent` of those reads, drawn from a seed; the file on disk is not touched. While one is in
//! force, matching files opened are opened with direct I/O (every read reaches the layer), and
//! the kernel is told to forget their cached pages when it starts and when it ends (so a page
//! read with a mistake does not outlive the fault).

use super::fs::Shared;
use super::rules::compile_glob;
use crate::error::suggest;
use globset::GlobMatcher;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What a mistake does to the bytes it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MistakeMode {
    /// Flip one random bit of each byte.
    Bitflip,
    /// Set each byte to zero.
    Zero,
    /// Replace each byte with a random different one.
    Random,
}

impl MistakeMode {
    /// `bitflip`, `zero`, `random`.
    pub fn name(self) -> &'static str {
        match self {
            MistakeMode::Bitflip => "bitflip",
            MistakeMode::Zero => "zero",
            MistakeMode::Random => "random",
        }
    }

    /// Parse a mode name.
    pub fn parse(s: &str) -> Result<MistakeMode, String> {
        let w = s.trim().to_ascii_lowercase();
        [MistakeMode::Bitflip, MistakeMode::Zero, MistakeMode::Random]
            .into_iter()
            .find(|m| m.name() == w)
            .ok_or_else(|| format!("unknown mistake mode `{s}`{}; the modes are: bitflip, zero, random", suggest(&w, &["bitflip", "zero", "random"])))
    }
}

/// A read mistake to put in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Mistake {
    /// A glob relative to the data directory (`None`: every file).
    pub path: Option<String>,
    /// What is done to the bytes.
    pub mode: MistakeMode,
    /// At most this many bytes (one run) of a read are changed; at least 1.
    pub bytes: u32,
    /// Share of matching reads changed, 0 to 100.
    pub percent: f64,
    /// The seed of the draws.
    pub seed: u64,
}

impl Mistake {
    /// Check it before use: percent within 0..=100, a glob that compiles.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.percent) {
            return Err(format!("io-mistake: percent {} is outside 0..=100", self.percent));
        }
        if let Some(p) = &self.path {
            compile_glob(p)?;
        }
        Ok(())
    }
}

/// What a mistake did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MistakeCounters {
    /// Matching reads that reached the layer.
    pub reads: u64,
    /// Reads changed.
    pub changed: u64,
    /// Bytes that differ from the file's.
    pub bytes: u64,
    /// The first changed ranges: `path offset..end`.
    pub samples: Vec<String>,
}

/// Changed ranges kept for the proof.
const SAMPLES: usize = 8;

pub(crate) struct Armed {
    pub(crate) glob: Option<GlobMatcher>,
    mistake: Mistake,
    rng: Mutex<ChaCha8Rng>,
    reads: AtomicU64,
    changed: AtomicU64,
    bytes: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Armed {
    pub(crate) fn new(m: Mistake) -> Result<Armed, String> {
        let glob = m.path.as_deref().map(compile_glob).transpose()?;
        Ok(Armed {
            glob,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(m.seed)),
            mistake: m,
            reads: AtomicU64::new(0),
            changed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            samples: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn matches(&self, path: Option<&str>) -> bool {
        match (&self.glob, path) {
            (None, _) => true,
            (Some(g), Some(p)) => g.is_match(p),
            (Some(_), None) => false,
        }
    }

    pub(crate) fn counters(&self) -> MistakeCounters {
        MistakeCounters {
            reads: self.reads.load(Ordering::Relaxed),
            changed: self.changed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            samples: self.samples.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Maybe change `buf` (the answer to a read of `path` at `offset`).
    pub(crate) fn apply(&self, path: &str, offset: u64, buf: &mut [u8]) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if buf.is_empty() {
            return;
        }
        let m = &self.mistake;
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        if m.percent < 100.0 && rng.random::<f64>() * 100.0 >= m.percent {
            return;
        }
        let len = (m.bytes.max(1) as usize).min(buf.len());
        let start = rng.random_range(0..=buf.len() - len);
        let mut differ = 0u64;
        for b in &mut buf[start..start + len] {
            let old = *b;
            *b = match m.mode {
                MistakeMode::Bitflip => old ^ (1u8 << rng.random_range(0..8)),
                MistakeMode::Zero => 0,
                MistakeMode::Random => old ^ rng.random_range(1..=255u8),
            };
            differ += u64::from(*b != old);
        }
        drop(rng);
        self.changed.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(differ, Ordering::Relaxed);
        let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() < SAMPLES {
            let a = offset + start as u64;
            s.push(format!("{path} {a}..{}", a + len as u64));
        }
    }
}

impl Shared {
    /// The mistake in force, if any.
    pub(crate) fn mistake(&self) -> Option<std::sync::Arc<Armed>> {
        if !self.mistake_on.load(Ordering::Relaxed) {
            return None;
        }
        self.mistake.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether a file at `path` is read through a mistake now (it is then opened with direct I/O).
    pub(crate) fn mistaken(&self, node: u64) -> bool {
        self.mistake().is_some_and(|m| m.matches(self.node_path(node).as_deref()))
    }
}
