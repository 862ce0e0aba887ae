//! `wasi-hw run --timings`: where one cold start went, as one line on stderr, and the
//! parser `wasi-hw coldstart` reads it back with.

use std::time::{Duration, Instant};

/// The marker the line starts with.
pub const PREFIX: &str = "wasi-hw timings:";

/// Phase durations, each from the previous mark (the first from the start of `main`).
pub struct Timings {
    start: Instant,
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Timings {
    pub fn new(start: Instant) -> Timings {
        Timings {
            start,
            last: start,
            phases: Vec::new(),
        }
    }

    /// Ends the phase `name` now.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push((name, now - self.last));
        self.last = now;
    }

    /// `wasi-hw timings: start_us=.. read_us=.. ... total_us=..` (microseconds, 1 decimal).
    pub fn line(&self) -> String {
        let mut out = String::from(PREFIX);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        for (name, d) in &self.phases {
            out.push_str(&format!(" {name}_us={:.1}", us(*d)));
        }
        out.push_str(&format!(" total_us={:.1}", us(self.last - self.start)));
        out
    }
}

/// The (phase, microseconds) pairs of a timings line, `None` if `line` is not one.
pub fn parse(line: &str) -> Option<Vec<(String, f64)>> {
    let rest = line.strip_prefix(PREFIX)?;
    rest.split_whitespace()
        .map(|field| {
            let (name, value) = field.split_once("_us=")?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_parses_back() {
        let start = Instant::now();
        let mut t = Timings::new(start);
        t.mark("read");
        t.mark("load");
        let line = t.line();
        let fields = parse(&line).unwrap();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["read", "load", "total"]);
        let sum: f64 = fields[..2].iter().map(|(_, v)| v).sum();
        assert!((sum - fields[2].1).abs() < 0.2, "{line}");
        assert_eq!(parse("temperature: 23.5 C"), None);
        assert_eq!(parse("wasi-hw timings: read_us=x"), None);
    }
}
