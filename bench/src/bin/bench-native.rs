//! `bench-native`: the native baseline of the benchmarks. Runs the bench drivers'
//! logic (`wasi-hw-bench-driver`, the code the guests run) against the I2C backend directly,
//! with no runtime in between.
//!
//! ```text
//! bench-native temp      [--bus sim|/dev/i2c-N] [--addr 0x48]   one tmp1x2 reading (cold start)
//! bench-native i2c-bench [--bus ..] [--addr ..] [--reads N] [--warmup N]
//! bench-native usb-rtt|usb-stream [--reads N] [--warmup N] [--size BYTES]
//! ```
//! The USB modes use the simulated loopback device (1209:0001, bulk 0x01 → 0x81) of
//! `wasi_hw_usb::SimBackend`, the device `wasi-hw run --usb sim` shows a guest.
//! `sim` is `wasi_hw_i2c::SimBus::with_default_devices()`, the bus `wasi-hw run --i2c sim:..`
//! gives a guest.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasi_hw_bench::hal::HalBus;
use wasi_hw_bench_driver::{
    format_reading, parse_options, read_temperature, timed_read_loop, timed_round_trips,
    timed_stream, BulkPipe,
};
use wasi_hw_i2c::{I2cBus, LinuxI2c, SimBus};
use wasi_hw_usb::backend::{TransferRequest, TransferSetup, TransferType};
use wasi_hw_usb::sim::{LOOPBACK_IN, LOOPBACK_OUT, SIM_TEST_PRODUCT, SIM_VENDOR};
use wasi_hw_usb::{SimBackend, UsbBackend, UsbDeviceHandle, UsbError};

/// The simulated loopback device, driven through the backend's transfer API (submit +
/// wait), which is what the WASI-USB host functions call.
struct SimLoopback(Box<dyn UsbDeviceHandle>);

impl SimLoopback {
    fn open() -> Result<SimLoopback> {
        let mut backend = SimBackend::new();
        let key = backend
            .list_devices()
            .map_err(|e| anyhow::anyhow!("list-devices: {e:?}"))?
            .into_iter()
            .find(|d| {
                d.descriptor.vendor_id == SIM_VENDOR && d.descriptor.product_id == SIM_TEST_PRODUCT
            })
            .context("no simulated loopback device")?
            .key;
        let mut h = backend
            .open(key)
            .map_err(|e| anyhow::anyhow!("open: {e:?}"))?;
        h.claim_interface(0)
            .map_err(|e| anyhow::anyhow!("claim-interface: {e:?}"))?;
        Ok(SimLoopback(h))
    }

    fn transfer(
        &mut self,
        endpoint: u8,
        length: usize,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, UsbError> {
        let id = self.0.submit(TransferRequest {
            kind: TransferType::Bulk,
            setup: TransferSetup::default(),
            endpoint,
            length,
            data,
            timeout: Some(std::time::Duration::from_secs(1)),
        })?;
        self.0.wait(id)
    }
}

impl BulkPipe for SimLoopback {
    type Error = UsbError;
    fn bulk_out(&mut self, data: &[u8]) -> Result<(), UsbError> {
        self.transfer(LOOPBACK_OUT, data.len(), data.to_vec())
            .map(drop)
    }
    fn bulk_in(&mut self, len: usize) -> Result<Vec<u8>, UsbError> {
        self.transfer(LOOPBACK_IN, len, Vec::new())
    }
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
    let opts = parse_options(args).map_err(anyhow::Error::msg)?;
    if let Some(r) = match mode.as_str() {
        "usb-rtt" => Some(timed_round_trips(
            &mut SimLoopback::open()?,
            opts.size,
            opts.reads,
            opts.warmup,
        )),
        "usb-stream" => Some(timed_stream(
            &mut SimLoopback::open()?,
            opts.size,
            opts.reads,
        )),
        _ => None,
    } {
        let r = r.map_err(|e| anyhow::anyhow!("{mode}: {e:?}"))?;
        println!("{}", r.line());
        return Ok(());
    }
    let bus = HalBus(open_bus(&opts.bus)?);
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
            "usage: bench-native temp|i2c-bench [--bus B] [--addr A] [--reads N] [--warmup N]"
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
