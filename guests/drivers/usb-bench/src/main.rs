//! `usb-bench`: the USB benchmark of `bench/`, as a guest.
//!
//! ```text
//! usb-bench usb-rtt|usb-stream [--reads N] [--warmup N] [--size BYTES]
//! ```
//! Opens the simulated loopback device (1209:0001, granted with `--usb sim`), claims
//! interface 0 and runs `wasi_hw_bench_driver::timed_round_trips` (`usb-rtt`: `--reads`
//! round trips of `--size` bytes, OUT 0x01 then IN 0x81) or `timed_stream` (`usb-stream`:
//! the same with large chunks, for throughput), then prints one line:
//! `bench=usb-rtt ops=N bytes=B elapsed_ns=T checksum=C`. `bench-native` runs the same
//! loops on the simulated backend directly.

use wasi_hw_bench_driver::{parse_options, timed_round_trips, timed_stream, BulkPipe};
use wasi_hw_guest::cli;
use wasi_hw_guest::usb::{self, Handle};

const PROG: &str = "usb-bench";
const VENDOR: u16 = 0x1209;
const PRODUCT: u16 = 0x0001;
const EP_OUT: u8 = 0x01;
const EP_IN: u8 = 0x81;
const TIMEOUT_MS: u32 = 1000;

struct Loopback(Handle);

impl BulkPipe for Loopback {
    type Error = usb::Error;
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), usb::Error> {
        self.0.bulk_out(EP_OUT, data, TIMEOUT_MS)
    }
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, usb::Error> {
        self.0.bulk_in(EP_IN, len as u32, TIMEOUT_MS)
    }
}

fn open() -> Result<Loopback, usb::Error> {
    usb::init()?;
    let dev = usb::devices()?
        .into_iter()
        .find(|d| d.vendor_id() == VENDOR && d.product_id() == PRODUCT)
        .ok_or(usb::Error(usb::LibusbError::NoDevice))?;
    let h = dev.open()?;
    h.claim_interface(0)?;
    Ok(Loopback(h))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let opts = parse_options(args).unwrap_or_else(|e| cli::fail(PROG, e));
    let mut pipe = open().unwrap_or_else(|e| cli::fail(PROG, format!("opening 1209:0001: {e}")));
    let r = match mode.as_str() {
        "usb-rtt" => timed_round_trips(&mut pipe, opts.size, opts.reads, opts.warmup),
        "usb-stream" => timed_stream(&mut pipe, opts.size, opts.reads),
        _ => cli::fail(
            PROG,
            "usage: usb-bench usb-rtt|usb-stream [--reads N] [--size B]",
        ),
    };
    match r {
        Ok(r) => println!("{}", r.line()),
        Err(e) => cli::fail(PROG, format!("{mode}: {e:?}")),
    }
}
