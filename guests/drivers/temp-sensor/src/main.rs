//! `temp-sensor`: prints the temperature of a TMP102/TMP105/LM75-style sensor.
//!
//! ```text
//! temp-sensor --bus NAME [--addr ADDR] [--count N] [--interval-ms MS]
//! ```
//! - `--bus`: bus name as granted to the instance (e.g. `/dev/i2c-1`, `sim`); required.
//! - `--addr`: 7-bit address, 0x48..=0x4b (TMP102 address pins); default 0x48.
//! - `--count`: number of readings (>= 1); default 1.
//! - `--interval-ms`: pause between readings (host delay resource); default 0.
//!
//! Output, one line per reading on stdout: `temperature: 25.50 C` (degrees Celsius,
//! two decimals). Errors: `temp-sensor: error: ...` on stderr and exit status 1; an
//! absent device reads `... no-acknowledge(address)`.

use embedded_hal::delay::DelayNs;
use tmp1x2::{SlaveAddr, Tmp1x2};
use wasi_hw_guest::cli::{self, Args};
use wasi_hw_guest::delay::Delay;
use wasi_hw_guest::i2c::I2c;

const PROG: &str = "temp-sensor";
const USAGE: &str =
    "usage: temp-sensor --bus NAME [--addr 0x48..0x4b] [--count N] [--interval-ms MS]";

#[derive(Debug, PartialEq)]
struct Options {
    bus: String,
    addr: u8,
    count: u32,
    interval_ms: u32,
}

fn parse_options(args: Vec<String>) -> Result<Option<Options>, String> {
    let args = Args::parse(
        args,
        &["--bus", "--addr", "--count", "--interval-ms"],
        &["--help", "-h"],
    )?;
    if args.flag("--help") || args.flag("-h") {
        return Ok(None);
    }
    if let Some(extra) = args.positional.first() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    let bus = args.value("--bus").ok_or("--bus is required")?.to_string();
    let addr: u8 = args.int_or("--addr", 0x48)?;
    if !(0x48..=0x4b).contains(&addr) {
        return Err(format!(
            "--addr {addr:#04x}: a TMP102 answers at 0x48..0x4b"
        ));
    }
    let count = args.int_or("--count", 1)?;
    if count == 0 {
        return Err("--count must be at least 1".into());
    }
    let interval_ms = args.int_or("--interval-ms", 0)?;
    Ok(Some(Options {
        bus,
        addr,
        count,
        interval_ms,
    }))
}

/// The line printed for one reading.
fn format_reading(celsius: f32) -> String {
    format!("temperature: {celsius:.2} C")
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
    let bus = I2c::open(&opts.bus)
        .unwrap_or_else(|e| cli::fail(PROG, format!("cannot open I2C bus {:?}: {e}", opts.bus)));
    // SlaveAddr encodes the two address-pin bits above the 0x48 base.
    let pins = SlaveAddr::Alternative(opts.addr & 0b10 != 0, opts.addr & 0b01 != 0);
    let mut sensor = Tmp1x2::new(bus, pins);
    let mut delay = (opts.count > 1 && opts.interval_ms > 0).then(Delay::open);
    for i in 0..opts.count {
        if i > 0 {
            if let Some(delay) = delay.as_mut() {
                delay.delay_ms(opts.interval_ms);
            }
        }
        match sensor.read_temperature() {
            Ok(celsius) => println!("{}", format_reading(celsius)),
            Err(tmp1x2::Error::I2C(e)) => cli::fail(
                PROG,
                format!("reading {:#04x} on {}: {e}", opts.addr, opts.bus),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_and_defaults() {
        let o = parse_options(words(&["--bus", "sim"])).unwrap().unwrap();
        assert_eq!(
            o,
            Options {
                bus: "sim".into(),
                addr: 0x48,
                count: 1,
                interval_ms: 0
            }
        );
        let o = parse_options(words(&[
            "--bus=/dev/i2c-1",
            "--addr",
            "0x4b",
            "--count",
            "3",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((o.bus.as_str(), o.addr, o.count), ("/dev/i2c-1", 0x4b, 3));
        assert_eq!(parse_options(words(&["--help"])).unwrap(), None);
    }

    #[test]
    fn bad_options_are_rejected() {
        assert!(parse_options(words(&[])).is_err());
        assert!(parse_options(words(&["--bus", "sim", "--addr", "0x50"])).is_err());
        assert!(parse_options(words(&["--bus", "sim", "--count", "0"])).is_err());
        assert!(parse_options(words(&["--bus", "sim", "extra"])).is_err());
    }

    /// A sensor that answers every register read with fixed bytes.
    struct FixedRegister([u8; 2]);

    impl embedded_hal::i2c::ErrorType for FixedRegister {
        type Error = embedded_hal::i2c::ErrorKind;
    }

    impl embedded_hal::i2c::I2c for FixedRegister {
        fn transaction(
            &mut self,
            address: u8,
            operations: &mut [embedded_hal::i2c::Operation<'_>],
        ) -> Result<(), Self::Error> {
            assert_eq!(address, 0x49);
            for op in operations {
                if let embedded_hal::i2c::Operation::Read(buf) = op {
                    buf.copy_from_slice(&self.0);
                }
            }
            Ok(())
        }
    }

    fn read_with_tmp1x2(register: [u8; 2]) -> f32 {
        let mut sensor = Tmp1x2::new(FixedRegister(register), SlaveAddr::Alternative(false, true));
        sensor.read_temperature().unwrap()
    }

    #[test]
    fn tmp105_and_lm75_registers_decode() {
        // TMP105 12-bit: 0x198 * 0.0625 = 25.5; 0xFFF = -0.0625.
        assert_eq!(read_with_tmp1x2([0x19, 0x80]), 25.5);
        assert_eq!(read_with_tmp1x2([0xff, 0xf0]), -0.0625);
        assert_eq!(read_with_tmp1x2([0x19, 0x90]), 25.5625);
        // LM75 9-bit (0.5 C steps, same left-justified register): -25.0.
        assert_eq!(read_with_tmp1x2([0xe7, 0x00]), -25.0);
    }

    #[test]
    fn readings_print_two_decimals() {
        assert_eq!(format_reading(25.5), "temperature: 25.50 C");
        assert_eq!(format_reading(-0.0625), "temperature: -0.06 C");
        assert_eq!(format_reading(127.9375), "temperature: 127.94 C");
    }
}
