//! Wires the native libraries (WASI-I2C, WASI-USB) into the engine and an instance,
//! from the CLI's grants. Nothing is granted unless asked for.

use anyhow::{Context, Result};
use wasi_hw_runtime::{Engine, Instance};

/// Registers every native symbol table once per process (before modules load, since WAMR
/// resolves imports at load time).
pub fn register(engine: &Engine) -> Result<()> {
    wasi_hw_i2c::register(engine).context("registering WASI-I2C natives")?;
    wasi_hw_usb::register(engine).context("registering WASI-USB natives")?;
    Ok(())
}

/// Registers only the native libraries `module` (.wasm or .aot bytes) can import: building
/// the WASI-USB tables costs tens of microseconds of a driver's cold start.
pub fn register_for(engine: &Engine, module: &[u8]) -> Result<()> {
    if wasi_hw_i2c::imported_by(module) {
        wasi_hw_i2c::register(engine).context("registering WASI-I2C natives")?;
    }
    if wasi_hw_usb::imported_by(module) {
        wasi_hw_usb::register(engine).context("registering WASI-USB natives")?;
    }
    Ok(())
}

/// Gives the instance its host state: the granted I2C buses and USB devices.
pub fn install(instance: &mut Instance, i2c: &[String], usb: &[String]) -> Result<()> {
    let host = wasi_hw_i2c::I2cConfig::from_grants(i2c)
        .context("--i2c")?
        .build()
        .context("setting up I2C")?;
    instance.extensions_mut().insert(host);
    // Without a grant the guest sees no USB device; skip even creating a backend then,
    // so a pure I2C driver pays nothing for USB at start-up.
    if !usb.is_empty() {
        let config = wasi_hw_usb::UsbConfig::from_args(usb).context("--usb")?;
        wasi_hw_usb::install(instance, config);
    }
    Ok(())
}
