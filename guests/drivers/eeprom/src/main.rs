//! `eeprom`: reads and writes 24Cxx-style I²C EEPROMs.
//!
//! ```text
//! eeprom --bus NAME [--addr ADDR] [--addr-bytes 1|2] [--page-size N] [--size BYTES]
//!        [--write-delay-ms MS] read OFFSET LEN
//! eeprom --bus NAME [...same options...] write OFFSET HEXBYTES
//! ```
//! - `--bus`: bus name as granted to the instance (e.g. `/dev/i2c-1`, `sim`); required.
//! - `--addr`: 7-bit device address; default 0x50.
//! - `--addr-bytes`: memory address width: 1 (24C01..24C16) or 2 (24C32 and up);
//!   default 2 (the 24C32 of the simulated bus and most current boards). Offset bits above it go into the low device-address bits (block
//!   select, as on the 24C04/08/16), so 24C16 offset 0x1ff is device 0x51, byte 0xff.
//! - `--page-size`: write page in bytes, a power of two up to 256; default 8 (the
//!   smallest 24Cxx page, always safe; 24C32/64 take 32).
//! - `--size`: capacity in bytes; when given, accesses beyond it are refused.
//! - `--verify`: after `write`, read the bytes back and fail if they differ.
//! - `--write-delay-ms`: wait this long after each page write instead of ACK polling.
//!   By default the device is polled (a write of the memory address, every 0.5 ms,
//!   for up to 50 ms) until it acknowledges again, i.e. its write cycle has ended.
//! - `OFFSET`, `LEN`: decimal or `0x` hex. `HEXBYTES`: hex digits, two per byte,
//!   optionally `0x`-prefixed and separated by `:`, `,`, `-`, `_` or spaces.
//!
//! Output on stdout. `read` prints 16 bytes per line, each line the offset of its
//! first byte (at least 4 lowercase hex digits), a colon and the bytes as lowercase
//! hex separated by single spaces: `0000: de ad be ef`. `write` prints
//! `wrote N bytes at 0xOOOO` (with ` (verified)` appended under `--verify`). Errors: `eeprom: error: ...` on stderr, exit status 1;
//! an absent device reads `... no-acknowledge(address)`.

use std::fmt::{self, Display, Write as _};

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{Error as _, ErrorKind, I2c as I2cBus};
use wasi_hw_guest::cli::{self, Args};
use wasi_hw_guest::delay::Delay;
use wasi_hw_guest::i2c::I2c;

const PROG: &str = "eeprom";
const USAGE: &str = "usage: eeprom --bus NAME [--addr 0x50] [--addr-bytes 1|2] [--page-size N] \
[--size BYTES] [--write-delay-ms MS] (read OFFSET LEN | write [--verify] OFFSET HEXBYTES)";

/// Largest single read: keeps each host buffer small whatever LEN is.
const READ_CHUNK: usize = 128;
/// ACK polling: interval and number of attempts after a page write.
const POLL_INTERVAL_US: u32 = 500;
const POLL_ATTEMPTS: u32 = 100;

#[derive(Debug, Clone, PartialEq)]
struct Geometry {
    base: u8,
    addr_bytes: u8,
    page_size: u32,
    size: Option<u32>,
    write_delay_ms: Option<u32>,
}

#[derive(Debug, PartialEq)]
enum Command {
    Read {
        offset: u32,
        len: u32,
    },
    Write {
        offset: u32,
        data: Vec<u8>,
        verify: bool,
    },
}

#[derive(Debug, PartialEq)]
struct Options {
    bus: String,
    geometry: Geometry,
    command: Command,
}

fn parse_options(args: Vec<String>) -> Result<Option<Options>, String> {
    let args = Args::parse(
        args,
        &[
            "--bus",
            "--addr",
            "--addr-bytes",
            "--page-size",
            "--size",
            "--write-delay-ms",
        ],
        &["--help", "-h", "--verify"],
    )?;
    if args.flag("--help") || args.flag("-h") {
        return Ok(None);
    }
    let bus = args.value("--bus").ok_or("--bus is required")?.to_string();
    let base: u8 = args.int_or("--addr", 0x50)?;
    if base > 0x7f {
        return Err(format!("--addr {base:#x} is not a 7-bit address"));
    }
    let addr_bytes: u8 = args.int_or("--addr-bytes", 2)?;
    if !(1..=2).contains(&addr_bytes) {
        return Err("--addr-bytes must be 1 or 2".into());
    }
    let page_size: u32 = args.int_or("--page-size", 8)?;
    if !page_size.is_power_of_two() || page_size > 256 {
        return Err("--page-size must be a power of two from 1 to 256".into());
    }
    let size = match args.value("--size") {
        Some(text) => Some(cli::int_in_range("--size", text)?),
        None => None,
    };
    let write_delay_ms = match args.value("--write-delay-ms") {
        Some(text) => Some(cli::int_in_range("--write-delay-ms", text)?),
        None => None,
    };
    let command = match args.positional.as_slice() {
        [cmd, offset, len] if cmd == "read" => Command::Read {
            offset: cli::int_in_range("OFFSET", offset)?,
            len: cli::int_in_range("LEN", len)?,
        },
        [cmd, offset, hex] if cmd == "write" => {
            let data = cli::parse_hex_bytes("HEXBYTES", hex)?;
            if data.is_empty() {
                return Err("HEXBYTES: nothing to write".into());
            }
            Command::Write {
                offset: cli::int_in_range("OFFSET", offset)?,
                data,
                verify: args.flag("--verify"),
            }
        }
        [] => return Err("missing command (read or write)".into()),
        other => return Err(format!("bad command {other:?}")),
    };
    Ok(Some(Options {
        bus,
        geometry: Geometry {
            base,
            addr_bytes,
            page_size,
            size,
            write_delay_ms,
        },
        command,
    }))
}

/// The lines `read` prints for `data` read from `offset`.
fn hex_dump(offset: u32, data: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in data.chunks(16).enumerate() {
        let at = offset as usize + i * 16;
        let _ = writeln!(out, "{at:04x}: {}", cli::hex_string(line));
    }
    out
}

#[derive(Debug, PartialEq)]
enum EepromError<E> {
    /// A bus error on the access at this memory offset.
    I2c { offset: u32, error: E },
    /// The device still did not acknowledge after the write cycle should have ended.
    Busy { offset: u32, error: E },
    /// The access does not fit the device's address space.
    Range(String),
    /// `--verify` read back something else than was written.
    Verify { offset: u32, wrote: u8, read: u8 },
}

impl<E: Display> Display for EepromError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EepromError::I2c { offset, error } => write!(f, "at offset {offset:#06x}: {error}"),
            EepromError::Busy { offset, error } => write!(
                f,
                "device still busy after the page write at offset {offset:#06x}: {error}"
            ),
            EepromError::Range(msg) => f.write_str(msg),
            EepromError::Verify {
                offset,
                wrote,
                read,
            } => write!(
                f,
                "verify failed at offset {offset:#06x}: wrote {wrote:02x}, read {read:02x}"
            ),
        }
    }
}

struct Eeprom<I, D> {
    i2c: I,
    delay: D,
    geo: Geometry,
}

impl<I: I2cBus, D: DelayNs> Eeprom<I, D> {
    /// Bytes addressed by the memory-address bytes alone (one block).
    fn block_len(&self) -> u32 {
        1 << (8 * u32::from(self.geo.addr_bytes))
    }

    fn check_range(&self, offset: u32, len: u32) -> Result<(), EepromError<I::Error>> {
        let end = u64::from(offset) + u64::from(len);
        if let Some(size) = self.geo.size {
            if end > u64::from(size) {
                return Err(EepromError::Range(format!(
                    "offset {offset:#x} + {len} bytes is beyond the {size}-byte device"
                )));
            }
        }
        // At most three block-select bits fit in the device address.
        let blocks = u64::from(self.block_len()) * 8;
        if end > blocks {
            return Err(EepromError::Range(format!(
                "offset {offset:#x} + {len} bytes is beyond what {} address byte(s) \
                 and 3 block-select bits reach",
                self.geo.addr_bytes
            )));
        }
        Ok(())
    }

    /// Device address and memory-address bytes (big endian) for `offset`.
    fn target(&self, offset: u32) -> Result<(u8, Vec<u8>), EepromError<I::Error>> {
        let block = offset / self.block_len();
        if block > 0 && u32::from(self.geo.base) & block != 0 {
            return Err(EepromError::Range(format!(
                "offset {offset:#x} needs block-select bits already set in --addr {:#04x}",
                self.geo.base
            )));
        }
        let device = self.geo.base | block as u8;
        let addr = (offset % self.block_len()).to_be_bytes();
        Ok((
            device,
            addr[4 - usize::from(self.geo.addr_bytes)..].to_vec(),
        ))
    }

    fn read(&mut self, offset: u32, len: u32) -> Result<Vec<u8>, EepromError<I::Error>> {
        self.check_range(offset, len)?;
        let mut data = vec![0u8; len as usize];
        let mut done = 0usize;
        while done < data.len() {
            let at = offset + done as u32;
            let to_block_end = (self.block_len() - at % self.block_len()) as usize;
            let n = (data.len() - done).min(READ_CHUNK).min(to_block_end);
            let (device, addr) = self.target(at)?;
            self.i2c
                .write_read(device, &addr, &mut data[done..done + n])
                .map_err(|error| EepromError::I2c { offset: at, error })?;
            done += n;
        }
        Ok(data)
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), EepromError<I::Error>> {
        self.check_range(offset, data.len() as u32)?;
        let mut done = 0usize;
        while done < data.len() {
            let at = offset + done as u32;
            // Never cross a page: the device would wrap to the start of the page.
            let to_page_end = (self.geo.page_size - at % self.geo.page_size) as usize;
            let n = (data.len() - done).min(to_page_end);
            let (device, mut frame) = self.target(at)?;
            frame.extend_from_slice(&data[done..done + n]);
            self.i2c
                .write(device, &frame)
                .map_err(|error| EepromError::I2c { offset: at, error })?;
            self.wait_write_cycle(device, &frame[..usize::from(self.geo.addr_bytes)], at)?;
            done += n;
        }
        Ok(())
    }

    /// Reads `data` back from `offset` and compares.
    fn verify(&mut self, offset: u32, data: &[u8]) -> Result<(), EepromError<I::Error>> {
        let read = self.read(offset, data.len() as u32)?;
        match data.iter().zip(&read).position(|(w, r)| w != r) {
            None => Ok(()),
            Some(i) => Err(EepromError::Verify {
                offset: offset + i as u32,
                wrote: data[i],
                read: read[i],
            }),
        }
    }

    /// Waits for the internal write cycle: a fixed delay, or ACK polling (the device
    /// does not acknowledge its address until the cycle is over).
    fn wait_write_cycle(
        &mut self,
        device: u8,
        addr: &[u8],
        offset: u32,
    ) -> Result<(), EepromError<I::Error>> {
        if let Some(ms) = self.geo.write_delay_ms {
            self.delay.delay_ms(ms);
            return Ok(());
        }
        let mut attempt = 0;
        loop {
            // Writing just the memory address moves the pointer and stores nothing.
            match self.i2c.write(device, addr) {
                Ok(()) => return Ok(()),
                Err(error) if matches!(error.kind(), ErrorKind::NoAcknowledge(_)) => {
                    attempt += 1;
                    if attempt >= POLL_ATTEMPTS {
                        return Err(EepromError::Busy { offset, error });
                    }
                    self.delay.delay_us(POLL_INTERVAL_US);
                }
                Err(error) => return Err(EepromError::I2c { offset, error }),
            }
        }
    }
}

fn main() {
    let opts = match parse_options(std::env::args().skip(1).collect()) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(msg) => cli::fail(PROG, format!("{msg}\n{USAGE}")),
    };
    let i2c = I2c::open(&opts.bus)
        .unwrap_or_else(|e| cli::fail(PROG, format!("cannot open I2C bus {:?}: {e}", opts.bus)));
    let mut eeprom = Eeprom {
        i2c,
        delay: Delay::open(),
        geo: opts.geometry,
    };
    match opts.command {
        Command::Read { offset, len } => match eeprom.read(offset, len) {
            Ok(data) => print!("{}", hex_dump(offset, &data)),
            Err(e) => cli::fail(PROG, e),
        },
        Command::Write {
            offset,
            data,
            verify,
        } => {
            let result = eeprom.write(offset, &data).and_then(|()| {
                if verify {
                    eeprom.verify(offset, &data)
                } else {
                    Ok(())
                }
            });
            match result {
                Ok(()) => println!(
                    "wrote {} bytes at {offset:#06x}{}",
                    data.len(),
                    if verify { " (verified)" } else { "" }
                ),
                Err(e) => cli::fail(PROG, e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::{NoAcknowledgeSource, Operation};

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_and_defaults() {
        let o = parse_options(words(&["--bus", "sim", "read", "0x10", "4"]))
            .unwrap()
            .unwrap();
        assert_eq!(o.bus, "sim");
        assert_eq!(
            o.geometry,
            Geometry {
                base: 0x50,
                addr_bytes: 2,
                page_size: 8,
                size: None,
                write_delay_ms: None
            }
        );
        assert_eq!(o.command, Command::Read { offset: 16, len: 4 });
        let o = parse_options(words(&[
            "--bus",
            "/dev/i2c-1",
            "--addr",
            "0x57",
            "--addr-bytes",
            "2",
            "--page-size",
            "32",
            "--write-delay-ms",
            "5",
            "write",
            "--verify",
            "256",
            "de:ad:BE:ef",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.geometry.base, 0x57);
        assert_eq!(o.geometry.addr_bytes, 2);
        assert_eq!(o.geometry.page_size, 32);
        assert_eq!(o.geometry.write_delay_ms, Some(5));
        assert_eq!(
            o.command,
            Command::Write {
                offset: 256,
                data: vec![0xde, 0xad, 0xbe, 0xef],
                verify: true,
            }
        );
    }

    #[test]
    fn bad_options_are_rejected() {
        for bad in [
            &["read", "0", "1"][..],
            &["--bus", "sim"],
            &["--bus", "sim", "erase", "0", "1"],
            &["--bus", "sim", "read", "0"],
            &["--bus", "sim", "--addr-bytes", "3", "read", "0", "1"],
            &["--bus", "sim", "--page-size", "12", "read", "0", "1"],
            &["--bus", "sim", "--addr", "0x80", "read", "0", "1"],
            &["--bus", "sim", "write", "0", "abc"],
            &["--bus", "sim", "write", "0", "zz"],
            &["--bus", "sim", "write", "0", ""],
        ] {
            assert!(parse_options(words(bad)).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn hex_dump_lines() {
        let data: Vec<u8> = (0..18).collect();
        assert_eq!(
            hex_dump(0x10, &data),
            "0010: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n0020: 10 11\n"
        );
        assert_eq!(hex_dump(0x1_0000, &[0xab]), "10000: ab\n");
        assert_eq!(hex_dump(0, &[]), "");
    }

    /// A simulated 24Cxx: block-select bits in the device address, page wrap on
    /// writes, and a write cycle during which the device NACKs its address.
    struct SimEeprom {
        mem: Vec<u8>,
        base: u8,
        addr_bytes: usize,
        page_size: usize,
        pointer: usize,
        busy_for: u32,
        busy_left: u32,
        data_writes: Vec<(u8, usize)>,
    }

    impl SimEeprom {
        fn new(size: usize, addr_bytes: usize, page_size: usize, busy_for: u32) -> Self {
            SimEeprom {
                mem: vec![0xff; size],
                base: 0x50,
                addr_bytes,
                page_size,
                pointer: 0,
                busy_for,
                busy_left: 0,
                data_writes: Vec::new(),
            }
        }

        fn block_len(&self) -> usize {
            1 << (8 * self.addr_bytes)
        }
    }

    impl embedded_hal::i2c::ErrorType for SimEeprom {
        type Error = ErrorKind;
    }

    impl embedded_hal::i2c::I2c for SimEeprom {
        fn transaction(
            &mut self,
            address: u8,
            operations: &mut [Operation<'_>],
        ) -> Result<(), ErrorKind> {
            let blocks = self.mem.len().div_ceil(self.block_len()).max(1);
            let block = address.wrapping_sub(self.base) as usize;
            if address < self.base || block >= blocks {
                return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
            }
            if self.busy_left > 0 {
                self.busy_left -= 1;
                return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
            }
            for op in operations {
                match op {
                    Operation::Write(bytes) => {
                        let (addr, data) = bytes.split_at(self.addr_bytes);
                        let offset = addr.iter().fold(0usize, |a, b| (a << 8) | *b as usize);
                        self.pointer = block * self.block_len() + offset;
                        if !data.is_empty() {
                            let page_start = self.pointer - self.pointer % self.page_size;
                            for (i, byte) in data.iter().enumerate() {
                                let at = page_start + (self.pointer + i) % self.page_size;
                                self.mem[at] = *byte;
                            }
                            self.data_writes.push((address, data.len()));
                            self.busy_left = self.busy_for;
                        }
                    }
                    Operation::Read(buf) => {
                        for byte in buf.iter_mut() {
                            *byte = self.mem[self.pointer % self.mem.len()];
                            self.pointer += 1;
                        }
                    }
                }
            }
            Ok(())
        }
    }

    #[derive(Default)]
    struct CountingDelay {
        total_ns: u64,
    }

    impl DelayNs for CountingDelay {
        fn delay_ns(&mut self, ns: u32) {
            self.total_ns += u64::from(ns);
        }
    }

    fn eeprom(sim: SimEeprom, page_size: u32) -> Eeprom<SimEeprom, CountingDelay> {
        let geo = Geometry {
            base: 0x50,
            addr_bytes: sim.addr_bytes as u8,
            page_size,
            size: Some(sim.mem.len() as u32),
            write_delay_ms: None,
        };
        Eeprom {
            i2c: sim,
            delay: CountingDelay::default(),
            geo,
        }
    }

    #[test]
    fn writes_split_at_pages_and_read_back() {
        let mut e = eeprom(SimEeprom::new(256, 1, 8, 0), 8);
        let data: Vec<u8> = (1..=20).collect();
        e.write(5, &data).unwrap();
        // 3 bytes to the end of the first page, then 8, 8, 1.
        let sizes: Vec<usize> = e.i2c.data_writes.iter().map(|w| w.1).collect();
        assert_eq!(sizes, vec![3, 8, 8, 1]);
        assert_eq!(&e.i2c.mem[5..25], &data[..]);
        assert_eq!(e.i2c.mem[4], 0xff);
        assert_eq!(e.i2c.mem[25], 0xff);
        assert_eq!(e.read(5, 20).unwrap(), data);
    }

    #[test]
    fn ack_polling_waits_for_the_write_cycle() {
        let mut e = eeprom(SimEeprom::new(256, 1, 8, 3), 8);
        e.write(0, &[0xaa; 16]).unwrap();
        assert_eq!(e.i2c.data_writes.len(), 2);
        // Three NACKed polls per page, each followed by a 500 us pause.
        assert_eq!(e.delay.total_ns, 2 * 3 * 500_000);
        assert_eq!(e.read(0, 16).unwrap(), vec![0xaa; 16]);
    }

    #[test]
    fn ack_polling_gives_up_with_a_nack_error() {
        let mut e = eeprom(SimEeprom::new(256, 1, 8, u32::MAX), 8);
        let err = e.write(0, &[1]).unwrap_err();
        assert!(
            matches!(err, EepromError::Busy { offset: 0, .. }),
            "{err:?}"
        );
        assert_eq!(u64::from(POLL_ATTEMPTS - 1) * 500_000, e.delay.total_ns);
    }

    #[test]
    fn fixed_write_delay_replaces_polling() {
        let mut e = eeprom(SimEeprom::new(256, 1, 8, 0), 8);
        e.geo.write_delay_ms = Some(5);
        e.write(0, &[1; 9]).unwrap();
        assert_eq!(e.delay.total_ns, 2 * 5_000_000);
    }

    #[test]
    fn one_byte_addressing_uses_block_select_bits() {
        // 24C04: 512 bytes, the ninth offset bit selects device 0x51.
        let mut e = eeprom(SimEeprom::new(512, 1, 16, 0), 16);
        e.write(0xfe, &[1, 2, 3, 4]).unwrap();
        let devices: Vec<u8> = e.i2c.data_writes.iter().map(|w| w.0).collect();
        assert_eq!(devices, vec![0x50, 0x51]);
        assert_eq!(&e.i2c.mem[0xfe..0x102], &[1, 2, 3, 4]);
        assert_eq!(
            e.read(0xfc, 8).unwrap(),
            vec![0xff, 0xff, 1, 2, 3, 4, 0xff, 0xff]
        );
    }

    #[test]
    fn two_byte_addressing_and_long_reads() {
        let mut sim = SimEeprom::new(4096, 2, 32, 1);
        for (i, b) in sim.mem.iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut e = eeprom(sim, 32);
        let got = e.read(0x100, 300).unwrap();
        assert_eq!(
            got,
            (0x100..0x100 + 300).map(|i| i as u8).collect::<Vec<_>>()
        );
        e.write(0xff0, &[9; 16]).unwrap();
        assert_eq!(&e.i2c.mem[0xff0..], &[9; 16]);
    }

    #[test]
    fn verify_detects_a_write_that_did_not_stick() {
        let mut e = eeprom(SimEeprom::new(256, 1, 8, 0), 8);
        e.write(8, &[1, 2, 3]).unwrap();
        e.verify(8, &[1, 2, 3]).unwrap();
        assert_eq!(
            e.verify(8, &[1, 9, 3]),
            Err(EepromError::Verify {
                offset: 9,
                wrote: 9,
                read: 2
            })
        );
    }

    #[test]
    fn accesses_beyond_the_device_are_refused() {
        let mut e = eeprom(SimEeprom::new(256, 1, 8, 0), 8);
        assert!(matches!(e.read(250, 10), Err(EepromError::Range(_))));
        assert!(matches!(e.write(256, &[1]), Err(EepromError::Range(_))));
        e.geo.size = None;
        // Without --size the limit is 8 blocks of 256 bytes.
        assert!(matches!(e.read(2047, 2), Err(EepromError::Range(_))));
    }

    #[test]
    fn a_missing_device_reports_no_acknowledge() {
        let mut e = eeprom(SimEeprom::new(256, 1, 8, 0), 8);
        e.geo.base = 0x60;
        let err = e.read(0, 1).unwrap_err();
        assert_eq!(
            err,
            EepromError::I2c {
                offset: 0,
                error: ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
            }
        );
    }
}
