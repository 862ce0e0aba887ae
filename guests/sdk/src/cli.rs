//! Small command-line helpers shared by the drivers (no clap: every byte of a guest
//! is loaded, validated and AOT-compiled by the host).

use std::fmt::Display;

/// Parsed `--name value` / `--name=value` options, `--flag`s and positional words.
#[derive(Debug, Default)]
pub struct Args {
    options: Vec<(String, String)>,
    flags: Vec<String>,
    /// Words that are not options, in order (everything after `--` included).
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `args` (without the program name). `value_options` take a value,
    /// `flags` do not (names with their leading `--`, e.g. `"--bus"`); any other
    /// word starting with `-` is an error.
    pub fn parse<I>(args: I, value_options: &[&str], flags: &[&str]) -> Result<Self, String>
    where
        I: IntoIterator<Item = String>,
    {
        let mut parsed = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                parsed.positional.extend(args.by_ref());
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                parsed.positional.push(arg);
                continue;
            }
            let (name, inline_value) = match arg.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            if value_options.contains(&name.as_str()) {
                let value = match inline_value {
                    Some(value) => value,
                    None => args
                        .next()
                        .ok_or_else(|| format!("option {name} needs a value"))?,
                };
                parsed.options.push((name, value));
            } else if flags.contains(&name.as_str()) && inline_value.is_none() {
                parsed.flags.push(name);
            } else {
                return Err(format!("unknown option {arg}"));
            }
        }
        Ok(parsed)
    }

    /// The value of option `name` (the last one if given several times).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    /// Option `name` as an integer of type `T` (see [`parse_int`]), or `default`.
    pub fn int_or<T: TryFrom<u64>>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            Some(text) => int_in_range(name, text),
            None => Ok(default),
        }
    }
}

/// Parses a decimal or `0x`-prefixed hexadecimal unsigned integer.
pub fn parse_int(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse::<u64>(),
    };
    parsed.map_err(|_| format!("not a number: {text:?}"))
}

/// Parses `text` as an integer that must fit `T`; `what` names it in errors.
pub fn int_in_range<T: TryFrom<u64>>(what: &str, text: &str) -> Result<T, String> {
    let value = parse_int(text).map_err(|e| format!("{what}: {e}"))?;
    T::try_from(value).map_err(|_| format!("{what}: {text} is out of range"))
}

/// Parses hex digits, two per byte, allowing a `0x` prefix and the separators
/// `:`, `,`, `-`, `_` and whitespace (`"de:ad"`, `"0xdead"`); `""` is no bytes.
/// `what` names the argument in errors.
pub fn parse_hex_bytes(what: &str, text: &str) -> Result<Vec<u8>, String> {
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let digits: Vec<u8> = text
        .chars()
        .filter(|c| !matches!(c, ':' | ',' | '-' | '_') && !c.is_whitespace())
        .map(|c| {
            c.to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| format!("{what}: {c:?} is not a hex digit"))
        })
        .collect::<Result<_, _>>()?;
    if !digits.len().is_multiple_of(2) {
        return Err(format!("{what}: odd number of hex digits"));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Bytes as lowercase hex separated by single spaces: `de ad be ef`.
pub fn hex_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Prints `PROG: error: MSG` to stderr and exits with status 1.
pub fn fail(prog: &str, msg: impl Display) -> ! {
    eprintln!("{prog}: error: {msg}");
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn parses_options_flags_and_positionals() {
        let a = Args::parse(
            args(&[
                "--bus",
                "sim",
                "read",
                "--addr=0x50",
                "--verbose",
                "0",
                "--",
                "--x",
            ]),
            &["--bus", "--addr"],
            &["--verbose"],
        )
        .unwrap();
        assert_eq!(a.value("--bus"), Some("sim"));
        assert_eq!(a.value("--addr"), Some("0x50"));
        assert!(a.flag("--verbose"));
        assert!(!a.flag("--help"));
        assert_eq!(a.positional, args(&["read", "0", "--x"]));
        assert_eq!(a.int_or::<u8>("--addr", 0).unwrap(), 0x50);
        assert_eq!(a.int_or::<u8>("--count", 7).unwrap(), 7);
    }

    #[test]
    fn rejects_unknown_options_and_missing_values() {
        assert!(Args::parse(args(&["--nope"]), &["--bus"], &[]).is_err());
        assert!(Args::parse(args(&["--bus"]), &["--bus"], &[]).is_err());
        assert!(Args::parse(args(&["--flag=1"]), &[], &["--flag"]).is_err());
    }

    #[test]
    fn parses_integers() {
        assert_eq!(parse_int("0x48").unwrap(), 0x48);
        assert_eq!(parse_int("0X1f").unwrap(), 0x1f);
        assert_eq!(parse_int("72").unwrap(), 72);
        assert!(parse_int("0x").is_err());
        assert!(parse_int("-1").is_err());
        assert!(parse_int("4a").is_err());
        assert!(int_in_range::<u8>("--addr", "0x100").is_err());
        assert_eq!(int_in_range::<u16>("--addr", "0x100").unwrap(), 0x100);
    }

    #[test]
    fn parses_and_prints_hex_bytes() {
        assert_eq!(parse_hex_bytes("x", "0x0102ff").unwrap(), vec![1, 2, 0xff]);
        assert_eq!(
            parse_hex_bytes("x", "01 02,03-04_05:AB").unwrap(),
            vec![1, 2, 3, 4, 5, 0xab]
        );
        assert_eq!(parse_hex_bytes("x", "").unwrap(), Vec::<u8>::new());
        assert!(parse_hex_bytes("x", "abc").is_err());
        assert!(parse_hex_bytes("x", "zz").is_err());
        assert_eq!(hex_string(&[0xde, 0xad, 0x0f]), "de ad 0f");
        assert_eq!(hex_string(&[]), "");
    }
}
