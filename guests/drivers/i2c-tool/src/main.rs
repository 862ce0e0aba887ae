//! `i2c-tool`: raw WASI-I2C access from the command line (one call per command, so
//! it also exercises every `wasi:i2c/i2c` method end to end).
//!
//! ```text
//! i2c-tool --bus NAME read ADDR LEN
//! i2c-tool --bus NAME write ADDR HEXBYTES
//! i2c-tool --bus NAME write-read ADDR HEXBYTES LEN
//! i2c-tool --bus NAME transaction ADDR OP...     OP = w:HEXBYTES | r:LEN
//! i2c-tool --bus NAME scan [FIRST LAST]          default 0x08 0x77
//! ```
//! `ADDR`, `LEN`, `FIRST`, `LAST`: decimal or `0x` hex; `HEXBYTES` as for
//! [`wasi_hw_guest::cli::parse_hex_bytes`] (`""` writes no data bytes).
//!
//! Output on stdout: `read`/`write-read` print the bytes as one line of lowercase hex
//! separated by spaces (`de ad be ef`, an empty line for none); `transaction` prints
//! one such line per `r:` operation, in order; `write` prints `ok`; `scan` prints
//! each address that acknowledged a 1-byte read as `0x48`, one per line. Errors:
//! `i2c-tool: error: ...` on stderr, exit status 1 (a NACK reads
//! `... no-acknowledge(address)`).

use embedded_hal::i2c::{Error as _, ErrorKind, Operation};
use wasi_hw_guest::cli::{self, Args};
use wasi_hw_guest::i2c::I2c;

const PROG: &str = "i2c-tool";
const USAGE: &str = "usage: i2c-tool --bus NAME (read ADDR LEN | write ADDR HEXBYTES | \
write-read ADDR HEXBYTES LEN | transaction ADDR (w:HEXBYTES | r:LEN)... | scan [FIRST LAST])";

/// Largest read accepted from the command line (the host has its own limit too).
const MAX_LEN: usize = 4096;

#[derive(Debug, PartialEq)]
enum Op {
    Read(usize),
    Write(Vec<u8>),
}

#[derive(Debug, PartialEq)]
enum Command {
    Read { addr: u8, len: usize },
    Write { addr: u8, data: Vec<u8> },
    WriteRead { addr: u8, data: Vec<u8>, len: usize },
    Transaction { addr: u8, ops: Vec<Op> },
    Scan { first: u8, last: u8 },
}

fn addr(text: &str) -> Result<u8, String> {
    let a: u8 = cli::int_in_range("ADDR", text)?;
    if a > 0x7f {
        return Err(format!("ADDR {a:#x} is not a 7-bit address"));
    }
    Ok(a)
}

fn len(text: &str) -> Result<usize, String> {
    let n: usize = cli::int_in_range("LEN", text)?;
    if n > MAX_LEN {
        return Err(format!("LEN {n} is more than {MAX_LEN}"));
    }
    Ok(n)
}

fn parse_op(text: &str) -> Result<Op, String> {
    match text.split_once(':') {
        Some(("r", n)) => Ok(Op::Read(len(n)?)),
        Some(("w", hex)) => Ok(Op::Write(cli::parse_hex_bytes("OP", hex)?)),
        _ => Err(format!(
            "operation {text:?} is neither w:HEXBYTES nor r:LEN"
        )),
    }
}

fn parse_options(args: Vec<String>) -> Result<Option<(String, Command)>, String> {
    let args = Args::parse(args, &["--bus"], &["--help", "-h"])?;
    if args.flag("--help") || args.flag("-h") {
        return Ok(None);
    }
    let bus = args.value("--bus").ok_or("--bus is required")?.to_string();
    let words: Vec<&str> = args.positional.iter().map(String::as_str).collect();
    let command = match words.as_slice() {
        ["read", a, n] => Command::Read {
            addr: addr(a)?,
            len: len(n)?,
        },
        ["write", a, hex] => Command::Write {
            addr: addr(a)?,
            data: cli::parse_hex_bytes("HEXBYTES", hex)?,
        },
        ["write-read", a, hex, n] => Command::WriteRead {
            addr: addr(a)?,
            data: cli::parse_hex_bytes("HEXBYTES", hex)?,
            len: len(n)?,
        },
        ["transaction", a, ops @ ..] if !ops.is_empty() => Command::Transaction {
            addr: addr(a)?,
            ops: ops
                .iter()
                .map(|op| parse_op(op))
                .collect::<Result<_, _>>()?,
        },
        ["scan"] => Command::Scan {
            first: 0x08,
            last: 0x77,
        },
        ["scan", first, last] => Command::Scan {
            first: addr(first)?,
            last: addr(last)?,
        },
        [] => return Err("missing command".into()),
        other => return Err(format!("bad command {other:?}")),
    };
    Ok(Some((bus, command)))
}

/// Runs `command`, returning the lines to print.
fn run<B: embedded_hal::i2c::I2c>(bus: &mut B, command: Command) -> Result<Vec<String>, B::Error> {
    Ok(match command {
        Command::Read { addr, len } => {
            let mut buf = vec![0u8; len];
            bus.read(addr, &mut buf)?;
            vec![cli::hex_string(&buf)]
        }
        Command::Write { addr, data } => {
            bus.write(addr, &data)?;
            vec!["ok".to_string()]
        }
        Command::WriteRead { addr, data, len } => {
            let mut buf = vec![0u8; len];
            bus.write_read(addr, &data, &mut buf)?;
            vec![cli::hex_string(&buf)]
        }
        Command::Transaction { addr, ops } => {
            let mut reads: Vec<Vec<u8>> = ops
                .iter()
                .filter_map(|op| match op {
                    Op::Read(n) => Some(vec![0u8; *n]),
                    Op::Write(_) => None,
                })
                .collect();
            {
                let mut read_bufs = reads.iter_mut();
                let mut hal_ops: Vec<Operation<'_>> = ops
                    .iter()
                    .map(|op| match op {
                        Op::Read(_) => Operation::Read(read_bufs.next().expect("one per read")),
                        Op::Write(data) => Operation::Write(data),
                    })
                    .collect();
                bus.transaction(addr, &mut hal_ops)?;
            }
            reads.iter().map(|r| cli::hex_string(r)).collect()
        }
        Command::Scan { first, last } => {
            let mut found = Vec::new();
            for a in first..=last {
                let mut byte = [0u8; 1];
                match bus.read(a, &mut byte) {
                    Ok(()) => found.push(format!("{a:#04x}")),
                    // Absent (NACK), or not granted to this instance: not listed.
                    Err(e)
                        if matches!(e.kind(), ErrorKind::NoAcknowledge(_) | ErrorKind::Other) => {}
                    Err(e) => return Err(e),
                }
            }
            found
        }
    })
}

fn main() {
    let (bus_name, command) = match parse_options(std::env::args().skip(1).collect()) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(msg) => cli::fail(PROG, format!("{msg}\n{USAGE}")),
    };
    let mut bus = I2c::open(&bus_name)
        .unwrap_or_else(|e| cli::fail(PROG, format!("cannot open I2C bus {bus_name:?}: {e}")));
    match run(&mut bus, command) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
        }
        Err(e) => cli::fail(PROG, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::NoAcknowledgeSource;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    fn command(w: &[&str]) -> Result<Command, String> {
        parse_options(words(w)).map(|o| o.unwrap().1)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            command(&["--bus", "sim", "read", "0x48", "2"]),
            Ok(Command::Read { addr: 0x48, len: 2 })
        );
        assert_eq!(
            command(&["--bus", "sim", "write", "0x50", ""]),
            Ok(Command::Write {
                addr: 0x50,
                data: vec![]
            })
        );
        assert_eq!(
            command(&["--bus", "sim", "transaction", "0x50", "w:0010", "r:3"]),
            Ok(Command::Transaction {
                addr: 0x50,
                ops: vec![Op::Write(vec![0, 0x10]), Op::Read(3)]
            })
        );
        assert_eq!(
            command(&["--bus", "sim", "scan"]),
            Ok(Command::Scan {
                first: 0x08,
                last: 0x77
            })
        );
        for bad in [
            &["--bus", "sim"][..],
            &["--bus", "sim", "read", "0x80", "1"],
            &["--bus", "sim", "read", "0x48", "5000"],
            &["--bus", "sim", "transaction", "0x48"],
            &["--bus", "sim", "transaction", "0x48", "x:1"],
            &["read", "0x48", "1"],
        ] {
            assert!(command(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// Device 0x48 answers reads with 0xa0, 0xa1, ...; everything else NACKs.
    struct Counter;

    impl embedded_hal::i2c::ErrorType for Counter {
        type Error = ErrorKind;
    }

    impl embedded_hal::i2c::I2c for Counter {
        fn transaction(
            &mut self,
            address: u8,
            operations: &mut [Operation<'_>],
        ) -> Result<(), ErrorKind> {
            if address != 0x48 {
                return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
            }
            for op in operations {
                if let Operation::Read(buf) = op {
                    for (i, b) in buf.iter_mut().enumerate() {
                        *b = 0xa0 + i as u8;
                    }
                }
            }
            Ok(())
        }
    }

    #[test]
    fn commands_run_and_print() {
        let out = run(
            &mut Counter,
            Command::Transaction {
                addr: 0x48,
                ops: vec![Op::Write(vec![1]), Op::Read(2), Op::Read(0), Op::Read(1)],
            },
        )
        .unwrap();
        assert_eq!(out, vec!["a0 a1", "", "a0"]);
        let out = run(
            &mut Counter,
            Command::Scan {
                first: 0x40,
                last: 0x50,
            },
        )
        .unwrap();
        assert_eq!(out, vec!["0x48"]);
        let err = run(&mut Counter, Command::Read { addr: 0x49, len: 1 }).unwrap_err();
        assert_eq!(err, ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
    }
}
