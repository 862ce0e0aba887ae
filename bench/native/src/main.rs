//! `bench-native`: the native baseline of the benchmarks. Runs the bench drivers'
//! logic (`wasi-hw-bench-workload`, the code the guests run) against the I2C backend directly,
//! with no runtime in between.
//!
//! ```text
//! bench-native temp      [--bus sim|/dev/i2c-N] [--addr 0x48]   one tmp1x2 reading (cold start)
//! bench-native i2c-bench [--bus ..] [--addr ..] [--reads N] [--warmup N]
//! bench-native usb-rtt|usb-stream [--reads N] [--warmup N] [--size BYTES]
//! bench-native storage-rtt|storage-read [--reads N] [--warmup N] [--size BYTES]
//! bench-native time -- PROGRAM ARGS...
//! ```
//! `usb-*` use the simulated loopback device (1209:0001, bulk 0x01 → 0x81) of
//! `wasi_hw_usb::SimBackend`, the device `wasi-hw run --usb sim` shows a guest.
//! `storage-*` use the first USB mass-storage (Bulk-Only) device of the simulated backend
//! (1209:0002, `--bus sim`, the default) or of the Linux backend (`--bus usbfs`: nusb over
//! usbfs, detaching the kernel driver for the run and re-attaching it afterwards): the VM
//! benchmarks' QEMU usb-storage, which the `usb-bench` guest reads the same way.
//! `time` runs one process (output passed through) and then prints
//! `exec wall_us=T max_rss_kib=R exit=C`: the VM benchmarks' cold-start clock, where the
//! host harness cannot see inside the VM.
//! `sim` is `wasi_hw_i2c::SimBus::with_default_devices()`, the bus `wasi-hw run --i2c sim:..`
//! gives a guest.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasi_hw_bench_workload::{
    format_reading, parse_options, read_temperature, timed_read_loop, timed_round_trips,
    timed_storage_read, timed_storage_rtt, timed_stream, BulkPipe,
};
use wasi_hw_bulk_only::{BulkOnly, Transport};
use wasi_hw_i2c::{I2cBus, LinuxI2c, SimBus};
use wasi_hw_usb::backend::nusb::NusbBackend;
use wasi_hw_usb::backend::sim::{LOOPBACK_IN, LOOPBACK_OUT, SIM_TEST_PRODUCT, SIM_VENDOR};
use wasi_hw_usb::backend::{TransferRequest, TransferSetup, TransferType};
use wasi_hw_usb::descriptors::{ConfigurationDescriptor, EP_BULK};
use wasi_hw_usb::{SimBackend, UsbBackend, UsbDeviceHandle, UsbError};

/// The simulated loopback device, driven through the backend's transfer API (submit +
/// wait), which is what the WASI-USB host functions call.
struct SimLoopback(Box<dyn UsbDeviceHandle>);

impl SimLoopback {
    fn open() -> Result<SimLoopback> {
        let mut backend = SimBackend::new();
        let key = backend
            .list_devices()
            .map_err(usb_err("list-devices"))?
            .into_iter()
            .find(|d| {
                d.descriptor.vendor_id == SIM_VENDOR && d.descriptor.product_id == SIM_TEST_PRODUCT
            })
            .context("no simulated loopback device")?
            .key;
        let mut h = backend.open(key).map_err(usb_err("open"))?;
        h.claim_interface(0).map_err(usb_err("claim interface"))?;
        Ok(SimLoopback(h))
    }
}

impl BulkPipe for SimLoopback {
    type Error = UsbError;
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), UsbError> {
        bulk(&mut *self.0, LOOPBACK_OUT, data.len(), data.to_vec()).map(drop)
    }
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, UsbError> {
        bulk(&mut *self.0, LOOPBACK_IN, len, Vec::new())
    }
}

fn bulk(
    h: &mut dyn UsbDeviceHandle,
    endpoint: u8,
    length: usize,
    data: Vec<u8>,
) -> Result<Vec<u8>, UsbError> {
    let id = h.submit(TransferRequest {
        kind: TransferType::Bulk,
        setup: TransferSetup::default(),
        endpoint,
        length,
        data,
        timeout: Some(std::time::Duration::from_secs(5)),
    })?;
    h.wait(id)
}

/// The first Bulk-Only mass-storage interface of a backend's devices (simulated, or usbfs
/// through `NusbBackend`), reached the way the WASI-USB host functions reach it.
struct Storage {
    handle: Box<dyn UsbDeviceHandle>,
    interface: u8,
    ep_in: u8,
    ep_out: u8,
    reattach: bool,
}

fn usb_err(what: &str) -> impl Fn(UsbError) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{what}: {e:?}")
}

impl Storage {
    /// A Bulk-Only session on [`Storage::open`]'s interface.
    fn session(bus: &str) -> Result<BulkOnly<Storage>> {
        Ok(BulkOnly::new(Storage::open(bus)?))
    }

    fn open(bus: &str) -> Result<Storage> {
        let mut backend: Box<dyn UsbBackend> = match bus {
            "sim" => Box::new(SimBackend::new()),
            "usbfs" => Box::new(NusbBackend::new()),
            _ => bail!("unknown USB backend {bus:?}: use sim or usbfs"),
        };
        for dev in backend.list_devices().map_err(usb_err("list-devices"))? {
            let configs = backend
                .config_descriptors(dev.key)
                .map_err(usb_err("config descriptors"))?;
            let found = configs
                .iter()
                .filter_map(|raw| ConfigurationDescriptor::parse(raw))
                .flat_map(|c| c.interfaces)
                .find(|i| {
                    (
                        i.interface_class,
                        i.interface_subclass,
                        i.interface_protocol,
                    ) == (8, 6, 0x50)
                });
            let Some(intf) = found else { continue };
            let ep = |want_in: bool| {
                intf.endpoints
                    .iter()
                    .find(|e| e.transfer_type() == EP_BULK && e.is_in() == want_in)
                    .map(|e| e.endpoint_address)
                    .context("mass-storage interface without a bulk endpoint pair")
            };
            let (ep_in, ep_out) = (ep(true)?, ep(false)?);
            let n = intf.interface_number;
            let mut handle = backend.open(dev.key).map_err(usb_err("open"))?;
            let reattach = handle.kernel_driver_active(n).unwrap_or(false);
            if reattach {
                handle
                    .detach_kernel_driver(n)
                    .map_err(usb_err("detach kernel driver"))?;
            }
            handle
                .claim_interface(n)
                .map_err(usb_err("claim interface"))?;
            return Ok(Storage {
                handle,
                interface: n,
                ep_in,
                ep_out,
                reattach,
            });
        }
        bail!("no USB mass-storage (Bulk-Only) device found")
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.interface);
        if self.reattach {
            let _ = self.handle.attach_kernel_driver(self.interface);
        }
    }
}

impl Transport for Storage {
    type Error = UsbError;
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), UsbError> {
        bulk(&mut *self.handle, self.ep_out, data.len(), data.to_vec()).map(drop)
    }
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, UsbError> {
        bulk(&mut *self.handle, self.ep_in, len, Vec::new())
    }
    fn is_stall(e: &UsbError) -> bool {
        *e == UsbError::Pipe
    }
    fn clear_halt(&mut self, dir_in: bool) -> Result<(), UsbError> {
        self.handle
            .clear_halt(if dir_in { self.ep_in } else { self.ep_out })
    }
    fn mass_storage_reset(&mut self) -> Result<(), UsbError> {
        let id = self.handle.submit(TransferRequest {
            kind: TransferType::Control,
            setup: TransferSetup {
                bm_request_type: 0x21,
                b_request: 0xff,
                w_value: 0,
                w_index: u16::from(self.interface),
            },
            endpoint: 0,
            length: 0,
            data: Vec::new(),
            timeout: Some(std::time::Duration::from_secs(5)),
        })?;
        self.handle.wait(id).map(drop)
    }
}

/// `time -- PROGRAM ARGS...`: spawn, wait, report wall time and the child's peak RSS.
fn time_process(mut argv: impl Iterator<Item = String>) -> Result<()> {
    let program = match argv.next().as_deref() {
        Some("--") => argv.next(),
        other => other.map(str::to_string),
    }
    .context("usage: bench-native time -- PROGRAM ARGS...")?;
    let args: Vec<String> = argv.collect();
    let t0 = Instant::now();
    let status = std::process::Command::new(&program)
        .args(&args)
        .status()
        .with_context(|| format!("starting {program}"))?;
    let wall = t0.elapsed();
    // SAFETY: getrusage only writes the struct it is given; zeroed is a valid rusage.
    let rss = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    };
    println!(
        "exec wall_us={:.1} max_rss_kib={rss} exit={}",
        wall.as_secs_f64() * 1e6,
        status.code().unwrap_or(-1)
    );
    Ok(())
}

fn open_bus(name: &str) -> Result<Box<dyn I2cBus>> {
    Ok(if name == "sim" {
        Box::new(SimBus::with_default_devices())
    } else if name.starts_with('/') {
        Box::new(LinuxI2c::open(name).with_context(|| format!("opening {name}"))?)
    } else {
        bail!("unknown bus {name:?}: use sim or /dev/i2c-N")
    })
}

fn run(start: Instant) -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    if mode == "time" {
        return time_process(args);
    }
    let opts = parse_options(args).map_err(anyhow::Error::msg)?;
    if let Some(r) = match mode.as_str() {
        "usb-rtt" => Some(
            timed_round_trips(
                &mut SimLoopback::open()?,
                opts.size,
                opts.reads,
                opts.warmup,
            )
            .map_err(|e| format!("{e:?}")),
        ),
        "usb-stream" => Some(
            timed_stream(&mut SimLoopback::open()?, opts.size, opts.reads)
                .map_err(|e| format!("{e:?}")),
        ),
        "storage-rtt" => Some(
            timed_storage_rtt(&mut Storage::session(&opts.bus)?, opts.reads, opts.warmup)
                .map_err(|e| e.to_string()),
        ),
        "storage-read" => Some(
            timed_storage_read(&mut Storage::session(&opts.bus)?, opts.size, opts.reads)
                .map_err(|e| e.to_string()),
        ),
        _ => None,
    } {
        let r = r.map_err(|e| anyhow::anyhow!("{mode}: {e}"))?;
        println!("{}", r.line());
        return Ok(());
    }
    // Every backend is an embedded-hal bus (wasi_hw_i2c::backend::hal): no adapter.
    let bus = open_bus(&opts.bus)?;
    match mode.as_str() {
        "temp" => {
            let t0 = Instant::now();
            let t = read_temperature(bus, opts.addr)
                .map_err(|e| anyhow::anyhow!("reading {:#04x}: {e:?}", opts.addr))?;
            println!("{}", format_reading(t));
            let t1 = Instant::now();
            // Same line shape as bench-engine's: the driver run is the "first call".
            println!(
                "phase=native run_us={:.2} total_us={:.2} exit=0",
                (t1 - t0).as_secs_f64() * 1e6,
                (t1 - start).as_secs_f64() * 1e6
            );
        }
        "i2c-bench" => {
            let mut bus = bus;
            let r = timed_read_loop(&mut bus, opts.addr, opts.reads, opts.warmup)
                .with_context(|| format!("read at {:#04x}", opts.addr))?;
            println!("{}", r.line());
        }
        _ => bail!(
            "usage: bench-native temp|i2c-bench|usb-rtt|usb-stream|storage-rtt|storage-read|time (see the crate docs)"
        ),
    }
    Ok(())
}

fn main() -> ExitCode {
    let start = Instant::now();
    match run(start) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-native: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tests/usb_guests.rs expects the `usb-bench` guest to read the same from the
    /// simulated disk: `storage-read --reads 20 --size 4096`.
    const SIM_STORAGE_READ_CHECKSUM: u32 = 3_347_203_768;

    #[test]
    fn the_bench_driver_reads_the_simulated_sensor() {
        let sim = SimBus::with_default_devices();
        let t = read_temperature(sim.clone(), 0x48).unwrap();
        assert_eq!(format_reading(t), "temperature: 23.50 C");
        assert!(sim.traffic().transactions >= 1);
        let bus: Box<dyn I2cBus> = Box::new(sim);
        assert!(read_temperature(bus, 0x4b).is_err(), "no device at 0x4b");
    }

    #[test]
    fn storage_read_on_the_simulated_disk() {
        // The simulated disk, like a real one, answers the first command after power-on
        // with CHECK CONDITION / UNIT ATTENTION: the loops must get past it.
        let r = timed_storage_read(&mut Storage::session("sim").unwrap(), 4096, 20).unwrap();
        assert_eq!((r.ops, r.bytes), (20, 20 * 4096));
        assert_eq!(r.checksum, SIM_STORAGE_READ_CHECKSUM);
        let rtt = timed_storage_rtt(&mut Storage::session("sim").unwrap(), 5, 1).unwrap();
        assert_eq!(rtt.ops, 5);
        assert!(Storage::open("nope").is_err());
    }

    /// The checksum above, computed from the simulated disk's content instead of the
    /// transfers: the first 16 bytes of every 4096-byte chunk (8 blocks from LBA 8 * n,
    /// after the untimed read of chunk 0) and the whole last chunk, FNV-1a folded.
    #[test]
    fn storage_read_checksum_is_the_disks_content() {
        let fold = |c: u32, d: &[u8]| {
            d.iter()
                .fold(c, |c, &b| (c ^ u32::from(b)).wrapping_mul(0x0100_0193))
        };
        let chunk = |n: u32| -> Vec<u8> {
            (8 * n..8 * n + 8)
                .flat_map(wasi_hw_usb::backend::sim::storage::pattern_block)
                .collect()
        };
        let mut c = 0x811c_9dc5;
        for n in 0..20 {
            c = fold(c, &chunk(n)[..16]);
        }
        assert_eq!(fold(c, &chunk(19)), SIM_STORAGE_READ_CHECKSUM);
    }
}
