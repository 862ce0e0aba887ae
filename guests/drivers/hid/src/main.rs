//! `hid`: reads input reports from a HID boot-protocol mouse or keyboard.
//!
//! ```text
//! hid [-d VID:PID] [--count N] [--timeout MS]     defaults: 10 reports, 10000 ms each
//! ```
//!
//! Finds the first granted device with a boot interface (class 3, subclass 1, protocol 1
//! keyboard or 2 mouse), detaches the kernel driver if one is bound, claims the
//! interface, selects the boot protocol if the device is not already using it, and
//! prints each report from the interrupt IN endpoint as one line of lowercase hex
//! (`01 fb 03 00`). What device was found goes to stderr, so stdout holds the reports
//! only. A report that does not arrive within the timeout is an error (`hid: error:
//! report 3: timeout`, exit status 1).

use wasi_hw_guest::cli::{self, Args};
use wasi_hw_guest::usb::{self, hid};

const PROG: &str = "hid";
const USAGE: &str = "usage: hid [-d VID:PID] [--count N] [--timeout MS]";

fn run(count: u32, timeout_ms: u32, filter: (Option<u16>, Option<u16>)) -> Result<(), String> {
    let (dev, intf) = usb::find_device_with_interface(filter, hid::is_boot_interface)?
        .ok_or("no HID boot keyboard or mouse granted")?;
    let n = intf.interface_number;
    let (ep, mps) =
        hid::input_endpoint(&intf).ok_or("the HID interface has no interrupt IN endpoint")?;
    eprintln!(
        "hid: boot {} {:04x}:{:04x}, interface {n}, endpoint 0x{ep:02x} ({mps} bytes)",
        hid::kind(&intf),
        dev.vendor_id(),
        dev.product_id()
    );
    let handle = dev.open().map_err(|e| format!("open: {e}"))?;
    handle.with_interface(n, |handle| {
        hid::ensure_boot_protocol(handle, n).map_err(|e| format!("SET_PROTOCOL: {e}"))?;
        hid::set_idle_infinite(handle, n).map_err(|e| format!("SET_IDLE: {e}"))?;
        for i in 0..count {
            let report = handle
                .interrupt_in(ep, u32::from(mps.max(1)), timeout_ms)
                .map_err(|e| format!("report {i}: {e}"))?;
            println!("{}", cli::hex_string(&report));
        }
        Ok(())
    })
}

fn main() {
    let args = Args::parse(
        std::env::args().skip(1),
        &["-d", "--count", "--timeout"],
        &[],
    )
    .unwrap_or_else(|e| cli::fail(PROG, format!("{e}\n{USAGE}")));
    if !args.positional.is_empty() {
        cli::fail(PROG, USAGE);
    }
    let count: u32 = args
        .int_or("--count", 10)
        .unwrap_or_else(|e| cli::fail(PROG, e));
    let timeout: u32 = args
        .int_or("--timeout", 10_000)
        .unwrap_or_else(|e| cli::fail(PROG, e));
    let filter = match args.value("-d") {
        Some(f) => usb::parse_vid_pid(f).unwrap_or_else(|e| cli::fail(PROG, format!("-d: {e}"))),
        None => (None, None),
    };
    if let Err(e) = run(count, timeout, filter) {
        cli::fail(PROG, e);
    }
}
