//! Text for the pages faultline writes (`report.html`, `linearizability.html`,
//! `compare.html`) and the JUnit XML.

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
