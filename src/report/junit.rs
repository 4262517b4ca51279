//! JUnit XML for CI systems (`faultline run --junit FILE`): one `<testsuite>` per scenario,
//! one `<testcase>` per gate (a failed gate is a `<failure>` with the figures and the run
//! directory; a gate that could not be evaluated, an invalid or interrupted run, or a run that
//! could not start is an `<error>`), the format Jenkins, GitLab and GitHub test reporters show.

use super::summary::Summary;
use crate::gates::GateStatus;
use std::fmt::Write;

/// What one scenario of a `run` came to.
pub enum Outcome<'a> {
    /// It ran (whatever its verdict).
    Ran(&'a Summary),
    /// It could not run: the scenario's name and the error.
    Failed(&'a str, String),
}

/// Escape text for XML content and attribute values (the HTML escaper's rules are XML's).
fn esc(s: &str) -> String {
    crate::markup::escape(s)
}

/// The JUnit document for the scenarios of one `faultline run`.
pub fn render(outcomes: &[Outcome<'_>]) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors, mut time) = (0, 0, 0, 0.0);
    for o in outcomes {
        match o {
            Outcome::Ran(s) => {
                let (mut f, mut e) = (0, 0);
                let mut cases = String::new();
                for g in &s.gates {
                    let _ = write!(cases, "    <testcase classname=\"faultline.{}\" name=\"{}\" time=\"0\">", esc(&s.scenario), esc(&g.name));
                    let figures = format!("actual {}, limit {}: {}. Run directory: {}", g.actual, g.limit, g.message, s.run_dir);
                    match g.status {
                        GateStatus::Pass => {}
                        GateStatus::Fail => {
                            f += 1;
                            let _ = write!(
                                cases,
                                "\n      <failure message=\"{}\" type=\"gate\">{}</failure>\n    ",
                                esc(&format!("{} failed: {}", g.name, g.message)),
                                esc(&figures)
                            );
                        }
                        GateStatus::Unknown => {
                            e += 1;
                            let _ = write!(
                                cases,
                                "\n      <error message=\"{}\" type=\"unknown\">{}</error>\n    ",
                                esc(&format!("{} could not be evaluated", g.name)),
                                esc(&figures)
                            );
                        }
                    }
                    cases.push_str("</testcase>\n");
                }
                // The run itself: invalid (a fault unproven, the cluster never healthy) or
                // interrupted runs prove nothing, whatever their gates say.
                let _ = write!(cases, "    <testcase classname=\"faultline.{}\" name=\"valid run\" time=\"{:.3}\">", esc(&s.scenario), s.duration_s);
                if s.verdict == "invalid" || s.interrupted {
                    e += 1;
                    let why = if s.interrupted { "interrupted".to_string() } else { s.invalid_reasons.join("; ") };
                    let _ = write!(
                        cases,
                        "\n      <error message=\"{}\" type=\"{}\">{}</error>\n    ",
                        esc(&format!("the run is {}", s.verdict)),
                        esc(&s.verdict),
                        esc(&format!("{why}. Run directory: {}", s.run_dir))
                    );
                }
                cases.push_str("</testcase>\n");
                let n = s.gates.len() + 1;
                tests += n;
                failures += f;
                errors += e;
                time += s.duration_s;
                let _ = write!(
                    suites,
                    "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{f}\" errors=\"{e}\" time=\"{:.3}\">\n    <properties>\n      <property name=\"seed\" value=\"{}\"/>\n      <property name=\"backend\" value=\"{}\"/>\n      <property name=\"etcd_version\" value=\"{}\"/>\n      <property name=\"run_dir\" value=\"{}\"/>\n      <property name=\"verdict\" value=\"{}\"/>\n    </properties>\n{cases}  </testsuite>\n",
                    esc(&s.scenario),
                    s.duration_s,
                    s.seed,
                    esc(&s.backend),
                    esc(&s.etcd_version),
                    esc(&s.run_dir),
                    esc(&s.verdict)
                );
            }
            Outcome::Failed(name, msg) => {
                tests += 1;
                errors += 1;
                let _ = write!(
                    suites,
                    "  <testsuite name=\"{n}\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"0\">\n    <testcase classname=\"faultline.{n}\" name=\"run\" time=\"0\">\n      <error message=\"the scenario could not run\" type=\"error\">{m}</error>\n    </testcase>\n  </testsuite>\n",
                    n = esc(name),
                    m = esc(msg)
                );
            }
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"faultline\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">\n{suites}</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_xml() {
        // What an XML reader reads back is the text, in content and in attributes.
        let text = "a<b & \"c\" 'd'>";
        let doc = format!("<x a=\"{}\">{}</x>", esc(text), esc(text));
        let x = roxmltree::Document::parse(&doc).unwrap();
        assert_eq!((x.root_element().attribute("a"), x.root_element().text()), (Some(text), Some(text)));
        // A control character XML forbids becomes U+FFFD: the file stays well-formed.
        assert_eq!(esc("bell\u{7}"), "bell\u{FFFD}");
        assert!(roxmltree::Document::parse(&format!("<x>{}</x>", esc("bell\u{7}"))).is_ok());
    }

    #[test]
    fn a_scenario_that_could_not_run_is_an_error_case() {
        let x = render(&[Outcome::Failed("smoke", "no etcd <here>".into())]);
        assert!(x.contains("errors=\"1\"") && x.contains("no etcd &lt;here&gt;"), "{x}");
    }
}
