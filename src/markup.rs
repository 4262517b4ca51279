//! Text made safe for where faultline writes it: the pages (`report.html`,
//! `linearizability.html`, `compare.html`) and the JUnit XML ([`escape`]), and the terminal
//! ([`terminal`]: a scenario's description, names from files, log lines quoted from etcd must
//! not reach the user's terminal as escape sequences).

use std::fmt::Write;

/// Escape text for HTML, SVG and XML (elements and attribute values). Control characters other
/// than tab and newline become U+FFFD, so the page stays well-formed.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' => o.push(c),
            c if c.is_control() => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Text for the terminal: every control character except newline and tab is shown visibly
/// instead of acted on — ESC as `\e`, carriage return as `\r`, the rest of C0 and DEL as
/// `\xNN`, C1 controls (which some terminals obey like ESC sequences) as `\u{NN}` — so a
/// string from a file (a scenario's description, a key, a member's log line) cannot move the
/// cursor, recolour, retitle or clear the user's terminal. Everything else is unchanged.
pub fn terminal(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return s.to_string();
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\t' => o.push(c),
            '\u{1b}' => o.push_str("\\e"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_shows_control_characters_instead_of_obeying_them() {
        assert_eq!(terminal("plain text, ünïcode — and\ttabs\nlines"), "plain text, ünïcode — and\ttabs\nlines");
        assert_eq!(terminal("\u{1b}[31mred\u{1b}[0m"), "\\e[31mred\\e[0m");
        assert_eq!(terminal("\u{1b}]0;title\u{7}"), "\\e]0;title\\x07");
        assert_eq!(terminal("over\rwrite\u{0}\u{7f}"), "over\\rwrite\\x00\\x7f");
        assert_eq!(terminal("\u{9b}2J"), "\\u{9b}2J");
        assert!(!terminal("\u{1b}\u{9b}\u{7}\r").chars().any(|c| c.is_control()));
    }
}
