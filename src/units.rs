//! The units a scenario is written in: durations (`250ms`, `10s`, `2m`), sizes (`512MiB`,
//! `2GiB`), percentages (`5%`) and rates (`400/s`). Each parses from a YAML string (or a
//! bare number where that is unambiguous) and prints back the way a user writes it.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A span of time written as `250ms`, `10s`, `2m`, `1h` or `7d` (docs/formats.md §1), 0 to 7
/// days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(pub Duration);

impl Span {
    /// Parse `250ms`, `1.5s`, `10s`, `2m`, `1h`, `7d`, `500us`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| format!("`{s}` has no unit: write e.g. `250ms`, `10s` or `2m`"))?;
        let (num, unit) = s.split_at(split);
        let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration: write e.g. `250ms`, `10s` or `2m`"))?;
        let secs = match unit.trim() {
            "us" | "µs" => n / 1e6,
            "ms" => n / 1e3,
            "s" => n,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86_400.0,
            other => return Err(format!("`{other}` is not a unit of time in `{s}`: use us, ms, s, m, h or d")),
        };
        if !secs.is_finite() || !(0.0..=7.0 * 24.0 * 3600.0).contains(&secs) {
            return Err(format!("`{s}` is out of range (0 to 7 days)"));
        }
        Ok(Span(Duration::from_secs_f64(secs)))
    }

    /// Seconds as a float.
    pub fn secs(self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if self.0.subsec_nanos() % 1_000_000 != 0 {
            write!(f, "{}us", self.0.as_micros())
        } else if ms % 1000 != 0 {
            write!(f, "{ms}ms")
        } else if ms % 60_000 == 0 && ms >= 60_000 {
            write!(f, "{}m", ms / 60_000)
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).map_err(de::Error::custom)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A size in bytes written as `512MiB`, `2GiB`, `64KB` or a bare number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub u64);

impl Size {
    /// Parse `2GiB`, `512MiB`, `100MB`, `4096`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a size: write e.g. `512MiB` or `2GiB`"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            other => return Err(format!("`{other}` is not a unit of size in `{s}`: use B, KiB, MiB, GiB, KB, MB or GB")),
        };
        n.checked_mul(mult).map(Size).ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b >= 1 << 30 && b % (1 << 30) == 0 {
            write!(f, "{}GiB", b >> 30)
        } else if b >= 1 << 20 && b % (1 << 20) == 0 {
            write!(f, "{}MiB", b >> 20)
        } else if b >= 1 << 10 && b % (1 << 10) == 0 {
            write!(f, "{}KiB", b >> 10)
        } else {
            write!(f, "{b}B")
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(f64),
    Str(String),
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) if n >= 0.0 && n.fract() == 0.0 => Ok(Size(n as u64)),
            NumOrStr::Num(n) => Err(de::Error::custom(format!("`{n}` is not a whole number of bytes"))),
            NumOrStr::Str(s) => Size::parse(&s).map_err(de::Error::custom),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A percentage written as `5%` or `5` (0 to 100).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl Percent {
    /// Parse `5%`, `12.5%` or `5`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().trim_end_matches('%').trim();
        let n: f64 = t.parse().map_err(|_| format!("`{s}` is not a percentage: write e.g. `5%`"))?;
        Percent::new(n)
    }

    fn new(n: f64) -> Result<Self, String> {
        if (0.0..=100.0).contains(&n) {
            Ok(Percent(n))
        } else {
            Err(format!("{n}% is out of range: a percentage is from 0% to 100%"))
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => Percent::new(n).map_err(de::Error::custom),
            NumOrStr::Str(s) => Percent::parse(&s).map_err(de::Error::custom),
        }
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// An operation rate written as `400/s`, `400` (per second) or `6000/m`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl Rate {
    /// Parse `400/s`, `6000/m` or `400`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (num, per) = match s.split_once('/') {
            Some((n, p)) => (n.trim(), p.trim()),
            None => (s, "s"),
        };
        let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a rate: write e.g. `400/s`"))?;
        let per_s = match per {
            "s" => n,
            "m" | "min" => n / 60.0,
            other => return Err(format!("`/{other}` in `{s}`: a rate is per second (`/s`) or per minute (`/m`)")),
        };
        if !(per_s > 0.0 && per_s <= 1_000_000.0) {
            return Err(format!("`{s}` is out of range: a rate is above 0 and at most 1000000/s"));
        }
        Ok(Rate(per_s))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => Rate::parse(&n.to_string()).map_err(de::Error::custom),
            NumOrStr::Str(s) => Rate::parse(&s).map_err(de::Error::custom),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print_back() {
        for (s, ms) in [("250ms", 250), ("10s", 10_000), ("2m", 120_000), ("1.5s", 1500), ("1h", 3_600_000)] {
            let span = Span::parse(s).unwrap();
            assert_eq!(span.0.as_millis(), ms, "{s}");
        }
        assert_eq!(Span::parse("90s").unwrap().to_string(), "90s");
        assert_eq!(Span::parse("2m").unwrap().to_string(), "2m");
        assert_eq!(Span::parse("250ms").unwrap().to_string(), "250ms");
        assert!(Span::parse("10").unwrap_err().contains("no unit"));
        assert!(Span::parse("10 parsecs").unwrap_err().contains("not a unit of time"));
        assert_eq!(Span::parse("7d").unwrap().0, Duration::from_secs(7 * 86_400));
        assert_eq!(Span::parse("0.5d").unwrap().0, Duration::from_secs(43_200));
        assert!(Span::parse("7.5d").unwrap_err().contains("0 to 7 days"));
    }

    #[test]
    fn sizes_percentages_and_rates() {
        assert_eq!(Size::parse("2GiB").unwrap().0, 2 << 30);
        assert_eq!(Size::parse("512MiB").unwrap().to_string(), "512MiB");
        assert!(Size::parse("3 furlongs").is_err());
        assert_eq!(Percent::parse("5%").unwrap().0, 5.0);
        assert!(Percent::parse("150%").unwrap_err().contains("out of range"));
        assert_eq!(Rate::parse("400/s").unwrap().0, 400.0);
        assert_eq!(Rate::parse("600/m").unwrap().0, 10.0);
        assert!(Rate::parse("0/s").is_err());
    }
}
