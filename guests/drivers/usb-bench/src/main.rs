//! `usb-bench`: the USB benchmark of `bench/`, as a guest.
//!
//! ```text
//! usb-bench usb-rtt|usb-stream [--reads N] [--warmup N] [--size BYTES]
//! usb-bench storage-rtt|storage-read [--reads N] [--warmup N] [--size BYTES]
//! ```
//! `usb-*` open the simulated loopback device (1209:0001, granted with `--usb sim`), claim
//! interface 0 and run `wasi_hw_bench_workload::timed_round_trips` (`usb-rtt`: `--reads`
//! round trips of `--size` bytes, OUT 0x01 then IN 0x81) or `timed_stream` (`usb-stream`:
//! the same with large chunks, for throughput).
//! `storage-*` use the first granted USB mass-storage (Bulk-Only) device, detaching its
//! kernel driver for the run, and run `timed_storage_rtt` (TEST UNIT READY round trips) or
//! `timed_storage_read` (READ(10) of `--size` bytes per command): the VM benchmarks on
//! QEMU's usb-storage.
//! Prints one line: `bench=MODE ops=N bytes=B elapsed_ns=T checksum=C`. `bench-native`
//! runs the same loops on the backends directly.

use wasi_hw_bench_workload::{
    parse_options, timed_round_trips, timed_storage_read, timed_storage_rtt, timed_stream,
    BulkPipe, LoopResult, LoopbackError,
};
use wasi_hw_guest::cli;
use wasi_hw_guest::usb::{self, storage, Handle};

const PROG: &str = "usb-bench";
const VENDOR: u16 = 0x1209;
const PRODUCT: u16 = 0x0001;
const TIMEOUT_MS: u32 = 5000;

/// A claimed interface's bulk OUT / IN endpoint pair.
struct Pipe<'h> {
    handle: &'h Handle,
    ep_out: u8,
    ep_in: u8,
}

impl BulkPipe for Pipe<'_> {
    type Error = usb::Error;
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), usb::Error> {
        self.handle.bulk_out(self.ep_out, data, TIMEOUT_MS)
    }
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, usb::Error> {
        self.handle.bulk_in(self.ep_in, len as u32, TIMEOUT_MS)
    }
}

fn open_loopback() -> Result<Handle, String> {
    let fail = |e: usb::Error| format!("opening {VENDOR:04x}:{PRODUCT:04x}: {e}");
    usb::init().map_err(fail)?;
    let dev = usb::devices()
        .map_err(fail)?
        .into_iter()
        .find(|d| d.vendor_id() == VENDOR && d.product_id() == PRODUCT)
        .ok_or_else(|| fail(usb::Error(usb::LibusbError::NoDevice)))?;
    let handle = dev.open().map_err(fail)?;
    handle.claim_interface(0).map_err(fail)?;
    Ok(handle)
}

/// Runs `bench` on the first granted mass-storage interface (kernel driver detached for
/// the run, see `Handle::with_interface`).
fn with_storage(
    bench: impl FnOnce(&mut storage::MassStorage) -> Result<LoopResult, storage::StorageError>,
) -> Result<LoopResult, String> {
    let (dev, intf) = usb::find_device_with_interface((None, None), storage::is_bulk_only)?
        .ok_or("no Bulk-Only mass-storage device granted")?;
    let handle = dev.open().map_err(|e| format!("open: {e}"))?;
    handle.with_interface(intf.interface_number, |handle| {
        let mut msc = storage::open(handle, &intf).map_err(|e| e.to_string())?;
        bench(&mut msc).map_err(|e| e.to_string())
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let opts = parse_options(args).unwrap_or_else(|e| cli::fail(PROG, e));
    let fmt = |e: LoopbackError<usb::Error>| format!("{e:?}");
    let loopback = || open_loopback().unwrap_or_else(|e| cli::fail(PROG, e));
    let pipe = |handle| Pipe {
        handle,
        ep_out: 0x01,
        ep_in: 0x81,
    };
    let r = match mode.as_str() {
        "usb-rtt" => timed_round_trips(&mut pipe(&loopback()), opts.size, opts.reads, opts.warmup)
            .map_err(fmt),
        "usb-stream" => timed_stream(&mut pipe(&loopback()), opts.size, opts.reads).map_err(fmt),
        "storage-rtt" => with_storage(|p| timed_storage_rtt(p, opts.reads, opts.warmup)),
        "storage-read" => with_storage(|p| timed_storage_read(p, opts.size, opts.reads)),
        _ => cli::fail(
            PROG,
            "usage: usb-bench usb-rtt|usb-stream|storage-rtt|storage-read [--reads N] [--warmup N] [--size B]",
        ),
    };
    match r {
        Ok(r) => println!("{}", r.line()),
        Err(e) => cli::fail(PROG, format!("{mode}: {e}")),
    }
}
