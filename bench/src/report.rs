//! Markdown output: tables, number formatting, and filling the README template
//! (`bench/report-template.md`), whose `{{name}}` markers the harness replaces with
//! generated sections. Prose lives in the template; every number comes from here.

use std::collections::BTreeMap;

use crate::stats::Summary;

/// A markdown table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are left empty, extra cells are an error of the caller.
    pub fn row(&mut self, cells: Vec<String>) {
        assert!(cells.len() <= self.header.len(), "row wider than header");
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        out.push_str(&format!(
            "| {} |\n",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        out.push_str(&format!(
            "|{}\n",
            self.header.iter().map(|_| "---|").collect::<String>()
        ));
        for r in &self.rows {
            let cells: Vec<String> = (0..self.header.len())
                .map(|i| esc(r.get(i).map(String::as_str).unwrap_or("")))
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }
}

/// A number with about three significant digits, without exponent notation
/// (`0.0123`, `1.23`, `12.3`, `123`, `12345`).
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let a = x.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // Enough decimals for three significant digits, at most 6.
        ((-a.log10()).floor() as usize + 3).min(6)
    };
    format!("{x:.decimals$}")
}

/// `median (p10–p90)`.
pub fn spread(s: &Summary) -> String {
    format!("{} ({}–{})", num(s.median), num(s.p10), num(s.p90))
}

/// `1.23×`, or `–` without a ratio.
pub fn times(r: Option<f64>) -> String {
    r.map(|r| format!("{}×", num(r)))
        .unwrap_or_else(|| "–".into())
}

/// Signed percentage: `+3.5 %`, `-4.1 %`.
pub fn percent(r: Option<f64>) -> String {
    r.map(|r| {
        let p = (r - 1.0) * 100.0;
        format!("{}{} %", if p >= 0.0 { "+" } else { "" }, num(p))
    })
    .unwrap_or_else(|| "–".into())
}

/// Bytes as KiB/MiB.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{} MiB", num(n / (1024.0 * 1024.0)))
    } else {
        format!("{} KiB", num(n / 1024.0))
    }
}

/// Replaces every `{{name}}` marker of `template` with `sections[name]`. Every marker must
/// have a section and every section a marker, so template and harness cannot drift apart.
pub fn fill_template(
    template: &str,
    sections: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut used = std::collections::BTreeSet::new();
    let mut missing = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            return Err("unterminated {{ marker".into());
        };
        let name = rest[start + 2..start + 2 + len].trim();
        out.push_str(&rest[..start]);
        match sections.get(name) {
            Some(text) => {
                out.push_str(text.trim_end_matches('\n'));
                used.insert(name.to_string());
            }
            None => missing.push(name.to_string()),
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    if !missing.is_empty() {
        return Err(format!("no section for marker(s): {}", missing.join(", ")));
    }
    let unused: Vec<&str> = sections
        .keys()
        .filter(|k| !used.contains(*k))
        .map(String::as_str)
        .collect();
    if !unused.is_empty() {
        return Err(format!("section(s) without marker: {}", unused.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_markdown() {
        let mut t = Table::new(&["a", "b|c"]);
        assert!(t.is_empty());
        t.row(vec!["1".into(), "x|y".into()]);
        t.row(vec!["2".into()]);
        assert_eq!(
            t.to_markdown(),
            "| a | b\\|c |\n|---|---|\n| 1 | x\\|y |\n| 2 |  |\n"
        );
    }

    #[test]
    fn number_formats() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.012345), "0.0123");
        assert_eq!(num(0.5), "0.500");
        assert_eq!(num(1.2345), "1.23");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(123.45), "123");
        assert_eq!(num(-4.12), "-4.12");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(times(Some(1.5)), "1.50×");
        assert_eq!(times(None), "–");
        assert_eq!(percent(Some(1.035)), "+3.50 %");
        assert_eq!(percent(Some(0.959)), "-4.10 %");
        assert_eq!(bytes(2048), "2.00 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.00 MiB");
        let s = Summary::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(spread(&s), "2.00 (1.20–2.80)");
    }

    #[test]
    fn template_markers() {
        let mut s = BTreeMap::new();
        s.insert("a".to_string(), "A\n".to_string());
        s.insert("b".to_string(), "B".to_string());
        assert_eq!(fill_template("x {{a}} y {{ b }}", &s).unwrap(), "x A y B");
        let err = fill_template("{{a}} {{c}}", &s).unwrap_err();
        assert!(err.contains("c"), "{err}");
        let err = fill_template("{{a}}", &s).unwrap_err();
        assert!(err.contains("without marker: b"), "{err}");
        assert!(fill_template("{{a", &s).is_err());
    }
}
