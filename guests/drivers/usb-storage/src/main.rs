//! `usb-storage`: reads one block from a USB mass-storage device over Bulk-Only Transport.
//!
//! ```text
//! usb-storage [-d VID:PID] [BLOCK]          BLOCK: decimal or 0x hex, default 0
//! ```
//!
//! Finds the first granted device with a Bulk-Only SCSI interface (class 8, subclass 6,
//! protocol 0x50), detaches the kernel driver if one is bound, claims the interface, runs
//! INQUIRY, READ CAPACITY(10) and READ(10) of BLOCK, and prints:
//!
//! ```text
//! Device: Bus 001 Device 003: ID 1209:0002, interface 0 (bulk IN 0x82, OUT 0x02)
//! Vendor: WASI-HW
//! Product: SIM DISK
//! Revision: 0001
//! Capacity: 256 blocks of 512 bytes (131072 bytes)
//! Block 3:
//! 00000600  57 41 53 49 2d 48 57 20  4c 42 41 20 30 30 30 33  |WASI-HW LBA 0003|
//! ...
//! ```
//!
//! (hexdump offsets are byte offsets on the disk). Afterwards the interface is released
//! and the kernel driver re-attached if it was detached. Errors: `usb-storage: error:
//! ...` on stderr, exit status 1.

use wasi_hw_guest::cli::{self, Args};
use wasi_hw_guest::usb::storage;
use wasi_hw_guest::usb::{self, Handle};

const PROG: &str = "usb-storage";
const USAGE: &str = "usage: usb-storage [-d VID:PID] [BLOCK]";

fn run(block: u64, filter: (Option<u16>, Option<u16>)) -> Result<(), String> {
    let (dev, intf) = usb::find_device_with_interface(filter, storage::is_bulk_only)?
        .ok_or("no Bulk-Only mass-storage device granted")?;
    let handle = dev.open().map_err(|e| format!("open: {e}"))?;
    handle.with_interface(intf.interface_number, |h| read(h, &intf, &dev, block))
}

fn read(
    handle: &Handle,
    intf: &usb::InterfaceDescriptor,
    dev: &usb::Device,
    block: u64,
) -> Result<(), String> {
    let mut msc = storage::open(handle, intf).map_err(|e| e.to_string())?;
    let (ep_in, ep_out) = (
        usb::find_endpoint(intf, usb::EP_BULK, true).map_or(0, |e| e.endpoint_address),
        usb::find_endpoint(intf, usb::EP_BULK, false).map_or(0, |e| e.endpoint_address),
    );
    println!(
        "Device: Bus {:03} Device {:03}: ID {:04x}:{:04x}, interface {} (bulk IN 0x{ep_in:02x}, OUT 0x{ep_out:02x})",
        dev.location.bus_number,
        dev.location.device_address,
        dev.vendor_id(),
        dev.product_id(),
        intf.interface_number
    );
    msc.transport()
        .max_lun()
        .map_err(|e| format!("Get Max LUN: {e}"))?;
    let inq = msc.inquiry().map_err(|e| format!("INQUIRY: {e}"))?;
    println!("Vendor: {}", inq.vendor);
    println!("Product: {}", inq.product);
    println!("Revision: {}", inq.revision);
    msc.wait_ready(storage::READY_TRIES)
        .map_err(|e| format!("TEST UNIT READY: {e}"))?;
    let (blocks, block_len) = msc
        .read_capacity()
        .map_err(|e| format!("READ CAPACITY: {e}"))?;
    println!(
        "Capacity: {blocks} blocks of {block_len} bytes ({} bytes)",
        blocks * u64::from(block_len)
    );
    if block >= blocks {
        return Err(format!(
            "block {block} is past the end of the medium ({blocks} blocks)"
        ));
    }
    if block_len == 0 || block_len > storage::MAX_TRANSFER {
        return Err(format!("unsupported block length {block_len}"));
    }
    let lba =
        u32::try_from(block).map_err(|_| "block number beyond READ(10)'s 32 bits".to_string())?;
    let data = msc
        .read10(lba, 1, block_len)
        .map_err(|e| format!("READ(10): {e}"))?;
    println!("Block {block}:");
    print!("{}", storage::hexdump(&data, block * u64::from(block_len)));
    Ok(())
}

fn main() {
    let args = Args::parse(std::env::args().skip(1), &["-d"], &[])
        .unwrap_or_else(|e| cli::fail(PROG, format!("{e}\n{USAGE}")));
    let block = match args.positional.as_slice() {
        [] => 0,
        [b] => cli::int_in_range::<u64>("BLOCK", b).unwrap_or_else(|e| cli::fail(PROG, e)),
        _ => cli::fail(PROG, USAGE),
    };
    let filter = match args.value("-d") {
        Some(f) => usb::parse_vid_pid(f).unwrap_or_else(|e| cli::fail(PROG, format!("-d: {e}"))),
        None => (None, None),
    };
    if let Err(e) = run(block, filter) {
        cli::fail(PROG, e);
    }
}
