//! The one list of fault kinds. The scenario parser, `validate`, `doctor`, the nemesis, the
//! runner and docs/faults.md read it; adding a kind is one file in [`kinds`](super::kinds)
//! and one line here.

use super::api::Kind;
use super::kinds::*;

/// Every fault kind, in the order `doctor` lists them.
pub const ALL: &[&Kind] = &[
    &partition::KIND,
    &kill::KIND,
    &stop::KIND,
    &pause::KIND,
    &latency::KIND,
    &bandwidth::KIND,
    &io_latency::KIND,
    &io_error::KIND,
    &io_mistake::KIND,
    &fsync_lie::KIND,
    &cpu_stress::KIND,
    &cpu_limit::KIND,
    &mem_stress::KIND,
    &corrupt::KIND,
];

/// Kinds named in the design but not built yet: refused with "not supported yet", never
/// taken for a typo.
pub const NOT_YET: &[&str] = &["clock-skew"];

/// The kind called `name`.
pub fn find(name: &str) -> Option<&'static Kind> {
    ALL.iter().copied().find(|k| k.name == name)
}

/// Every kind's name.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|k| k.name).collect()
}

/// The kinds that take parameter `p`.
pub fn owners_of(p: &str) -> Vec<&'static str> {
    ALL.iter().filter(|k| k.params.contains(&p)).map(|k| k.name).collect()
}

/// Every parameter some kind takes, in registry order, without repeats.
pub fn all_params() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for p in ALL.iter().flat_map(|k| k.params.iter().copied()) {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_kind_parses_with_its_own_parameters_only() {
        let names = names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a kind is listed twice: {names:?}");
        for k in ALL {
            assert!(!k.params.iter().any(|p| ["at", "for", "every", "kind", "target"].contains(p)), "{} takes a common key as its own", k.name);
            assert!(!k.mechanism.is_empty());
        }
    }

    #[test]
    fn docs_faults_md_has_a_row_for_every_kind() {
        let doc = include_str!("../../docs/faults.md");
        // The first cell of each row of the kinds table: `kill / stop`, `io-latency / io-error`.
        let documented: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter_map(|l| l.split(" | ").next())
            .flat_map(|cell| cell.split(" / "))
            .map(|w| w.split_whitespace().next().unwrap_or(""))
            .collect();
        for k in ALL {
            assert!(documented.contains(&k.name), "docs/faults.md has no row for fault kind `{}`: add one to its table of kinds", k.name);
        }
    }
}
