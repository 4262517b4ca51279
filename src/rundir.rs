//! Naming a new directory for a run or a comparison: `<parent>/<stem>-<UTC time>`, with
//! `-2`, `-3`, ... appended when that name is taken (two runs started in the same second).

use std::path::{Path, PathBuf};

/// The UTC time as directory names carry it: `20261130T194023Z`.
pub fn stamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap_or_else(|_| "now".into())
}

/// A directory under `parent` that does not exist yet: `<stem>-<stamp>`, else
/// `<stem>-<stamp>-2`, `-3`, ... (nothing is created).
pub fn unique(parent: &Path, stem: &str) -> PathBuf {
    unique_at(parent, stem, &stamp())
}

/// [`unique`] with the time given.
pub fn unique_at(parent: &Path, stem: &str, stamp: &str) -> PathBuf {
    let mut dir = parent.join(format!("{stem}-{stamp}"));
    let mut i = 2;
    while dir.exists() {
        dir = parent.join(format!("{stem}-{stamp}-{i}"));
        i += 1;
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_gets_the_next_number() {
        let parent = tempfile::tempdir().unwrap();
        let first = unique_at(parent.path(), "smoke", "20261130T194023Z");
        assert_eq!(first, parent.path().join("smoke-20261130T194023Z"));
        std::fs::create_dir(&first).unwrap();
        let second = unique_at(parent.path(), "smoke", "20261130T194023Z");
        assert_eq!(second, parent.path().join("smoke-20261130T194023Z-2"));
        std::fs::create_dir(&second).unwrap();
        assert_eq!(unique_at(parent.path(), "smoke", "20261130T194023Z"), parent.path().join("smoke-20261130T194023Z-3"));
    }

    #[test]
    fn the_stamp_is_utc_to_the_second() {
        let s = stamp();
        assert_eq!(s.len(), 16, "{s}");
        assert!(s.ends_with('Z') && s.as_bytes()[8] == b'T', "{s}");
    }
}
