//! The one owner of errors and exit codes (docs/formats.md §4).
//!
//! Every failure that reaches `main` is an [`Error`], and every [`Error`] maps onto one of
//! the documented exit codes through [`Error::exit`]. Messages are written for the
//! person at the terminal: what went wrong, and what to do about it, in one paragraph.

use std::fmt;

/// The exit codes of docs/formats.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Every gate passed.
    Pass = 0,
    /// A gate failed (a non-linearizable history included).
    GateFailed = 1,
    /// Bad input: scenario, flags, history file.
    BadInput = 2,
    /// The environment: missing etcd, no root where namespaces are needed, no Docker engine.
    Environment = 3,
    /// The harness itself failed.
    Harness = 4,
    /// The run is invalid: the test did not test.
    Invalid = 5,
}

impl Exit {
    /// The numeric code handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The exit code a number stands for, as a run records it (`summary.json`'s and
    /// `compare.json`'s `exit_code`); a number that is no documented code is the harness's
    /// failure.
    pub fn from_code(code: u8) -> Exit {
        match code {
            0 => Exit::Pass,
            1 => Exit::GateFailed,
            2 => Exit::BadInput,
            3 => Exit::Environment,
            5 => Exit::Invalid,
            _ => Exit::Harness,
        }
    }

    /// Worst of two exit codes, for several scenarios in one `run`:
    /// harness > environment > bad input > invalid > gate failed > pass.
    pub fn worst(self, other: Exit) -> Exit {
        fn rank(e: Exit) -> u8 {
            match e {
                Exit::Pass => 0,
                Exit::GateFailed => 1,
                Exit::Invalid => 2,
                Exit::BadInput => 3,
                Exit::Environment => 4,
                Exit::Harness => 5,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// A failure with the category that decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input is wrong (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// The machine lacks something the run needs (exit 3).
    #[error("{0}")]
    Environment(String),
    /// The run could not test what it was asked to test (exit 5).
    #[error("{0}")]
    Invalid(String),
    /// The harness itself failed (exit 4).
    #[error("{0}")]
    Harness(String),
}

impl Error {
    /// The exit code this error maps to.
    pub fn exit(&self) -> Exit {
        match self {
            Error::BadInput(_) => Exit::BadInput,
            Error::Environment(_) => Exit::Environment,
            Error::Invalid(_) => Exit::Invalid,
            Error::Harness(_) => Exit::Harness,
        }
    }

    /// Every further run of the same scenario would meet it too (bad input, the machine):
    /// `compare`, `hunt` and `shrink` stop their series of runs at it.
    pub fn repeats(&self) -> bool {
        matches!(self, Error::BadInput(_) | Error::Environment(_))
    }

    /// A harness failure built from anything printable.
    pub fn harness(msg: impl fmt::Display) -> Self {
        Error::Harness(msg.to_string())
    }

    /// Prefix the message with what was being done, keeping the category.
    pub fn context(self, what: impl fmt::Display) -> Self {
        match self {
            Error::BadInput(m) => Error::BadInput(format!("{what}: {m}")),
            Error::Environment(m) => Error::Environment(format!("{what}: {m}")),
            Error::Invalid(m) => Error::Invalid(format!("{what}: {m}")),
            Error::Harness(m) => Error::Harness(format!("{what}: {m}")),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Harness(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach context to any result whose error is printable, as a harness failure.
pub trait Context<T> {
    /// Wrap the error as [`Error::Harness`] with `what` in front.
    fn ctx(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::Harness(format!("{what}: {e}")))
    }
}

/// ` (did you mean `x`?)` when a known word is close to `word`, else empty: the one
/// suggester every "unknown name" message uses.
pub fn suggest(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_ranks_harness_over_gate_failure() {
        assert_eq!(Exit::Pass.worst(Exit::GateFailed), Exit::GateFailed);
        assert_eq!(Exit::GateFailed.worst(Exit::Invalid), Exit::Invalid);
        assert_eq!(Exit::Harness.worst(Exit::Pass), Exit::Harness);
        assert_eq!(Error::Invalid("x".into()).exit().code(), 5);
    }

    #[test]
    fn every_code_reads_back_as_itself() {
        for e in [Exit::Pass, Exit::GateFailed, Exit::BadInput, Exit::Environment, Exit::Harness, Exit::Invalid] {
            assert_eq!(Exit::from_code(e.code()), e);
        }
        assert_eq!(Exit::from_code(42), Exit::Harness);
    }
}
