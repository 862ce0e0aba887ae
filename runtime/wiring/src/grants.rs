//! Grants: what an instance may touch, from `--i2c`/`--usb` values and grants files (one
//! parser for both kinds of line).

use std::path::Path;

use anyhow::{bail, Context, Result};

/// What one instance may touch: the values of every `--i2c` and `--usb` option, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// `BUS:ADDRS` (see `wasi_hw_policy::i2c`).
    pub i2c: Vec<String>,
    /// `sim`, `VID:PID`, ... (see `wasi_hw_policy::usb`).
    pub usb: Vec<String>,
}

impl Grants {
    /// Adds the grants of a grants file: one `i2c BUS:ADDRS` or `usb GRANT` per line,
    /// blank lines and `#` comments ignored. The grants themselves are checked when
    /// installed, with the same messages as flags.
    pub fn add_lines(&mut self, text: &str) -> Result<()> {
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match line.split_once(char::is_whitespace) {
                Some(("i2c", grant)) => self.i2c.push(grant.trim().to_string()),
                Some(("usb", grant)) => self.usb.push(grant.trim().to_string()),
                _ => bail!(
                    "line {}: expected `i2c BUS:ADDRS` or `usb GRANT`, got {line:?}",
                    n + 1
                ),
            }
        }
        Ok(())
    }

    /// [`Grants::add_lines`] of the file at `path`.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        self.add_lines(&text)
            .with_context(|| path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_file_adds_to_the_flags() {
        let mut g = Grants {
            i2c: vec!["sim:0x48".to_string()],
            usb: vec![],
        };
        let text = "# sensors\ni2c /dev/i2c-1:0x48,0x50  # the board's bus\n\nusb 0781:5567\n";
        g.add_lines(text).unwrap();
        assert_eq!(g.i2c, ["sim:0x48", "/dev/i2c-1:0x48,0x50"]);
        assert_eq!(g.usb, ["0781:5567"]);
        let err = g.add_lines("gpio 4\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(g.add_lines("i2c\n").is_err());
        let err = g.add_file(Path::new("/nonexistent/grants")).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    #[test]
    fn grant_lines_reach_the_policy() {
        // What the policy makes of file lines (formerly I2cPolicy::parse_grant_lines).
        let mut g = Grants::default();
        g.add_lines("# sensors\ni2c sim:0x48   # tmp102\n\n  i2c /dev/i2c-1:0x50-0x57\n")
            .unwrap();
        let p = wasi_hw_policy_of(&g);
        assert!(p.allows("sim", 0x48));
        assert!(p.allows("/dev/i2c-1", 0x57));
        assert!(!p.allows("sim", 0x50));
        let mut bad = Grants::default();
        bad.add_lines("i2c sim\n").unwrap();
        assert!(wasi_hw_i2c::I2cConfig::from_grants(&bad.i2c).is_err());
    }

    fn wasi_hw_policy_of(g: &Grants) -> wasi_hw_policy::i2c::I2cPolicy {
        wasi_hw_policy::i2c::I2cPolicy::from_grants(&g.i2c).unwrap()
    }
}
