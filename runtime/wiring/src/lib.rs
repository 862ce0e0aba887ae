//! One path from grants to natives, used by the CLI, the tests and the benchmarks:
//!
//! 1. [`read_module`]: a module file read once, its kind detected once, an `.aot` for
//!    another target refused before WAMR sees it;
//! 2. [`Grants`]: what an instance may touch, from `--i2c`/`--usb` values and grants files;
//! 3. [`register_for`]: the native symbol tables a module imports from ([`imports`]),
//!    registered with the engine before the module loads, and only those;
//! 4. [`install`]: the per-instance host state for the grants (nothing granted: no bus, no
//!    USB backend at all).

use std::path::Path;

use anyhow::{Context, Result};
use wasi_hw_engine::{Engine, Instance, ModuleFile};

mod grants;
pub mod imports;

pub use grants::Grants;

/// Reads a module file: `.wasm`, or an `.aot` this runtime can run (format version and
/// target checked from the header, with a message that says how to rebuild it).
pub fn read_module(path: &Path) -> Result<ModuleFile> {
    let file = read_module_file(path)?;
    if let Some(info) = file
        .aot_info()
        .with_context(|| path.display().to_string())?
    {
        info.check_runnable()
            .with_context(|| path.display().to_string())?;
    }
    Ok(file)
}

/// Reads a `.wasm` or `.aot` file of any target (for tools that only look at it).
pub fn read_module_file(path: &Path) -> Result<ModuleFile> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ModuleFile::new(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a WebAssembly (.wasm) or WAMR AOT (.aot) module",
            path.display()
        )
    })
}

/// Registers every native library (for tools that load modules of any kind).
pub fn register_all(engine: &Engine) -> Result<()> {
    wasi_hw_i2c::register(engine).context("registering WASI-I2C natives")?;
    wasi_hw_usb::register(engine).context("registering WASI-USB natives")?;
    Ok(())
}

/// Registers the native libraries `module` imports from (USB under the dialect it names),
/// after refusing a module built for a USB layout these natives do not have.
pub fn register_for(engine: &Engine, module: &ModuleFile) -> Result<()> {
    if imports::imports_any(module, wasi_hw_i2c::IMPORT_PREFIXES) {
        wasi_hw_i2c::register(engine).context("registering WASI-I2C natives")?;
    }
    let dialects = imports::usb_dialects(module);
    if !dialects.is_empty() {
        imports::check_usb_layout(module)?;
    }
    for dialect in dialects {
        wasi_hw_usb::register_dialect(engine, dialect)
            .with_context(|| format!("registering WASI-USB natives ({})", dialect.name))?;
    }
    Ok(())
}

/// Gives the instance its host state: the granted I2C buses and USB devices.
pub fn install(instance: &mut Instance, grants: &Grants) -> Result<()> {
    let host = wasi_hw_i2c::I2cConfig::from_grants(&grants.i2c)
        .context("--i2c")?
        .build()
        .context("setting up I2C")?;
    wasi_hw_i2c::install(instance, host);
    // Without a grant the guest sees no USB device; skip even creating a backend then,
    // so a pure I2C driver pays nothing for USB at start-up.
    if !grants.usb.is_empty() {
        let config = wasi_hw_usb::UsbConfig::from_grants(&grants.usb).context("--usb")?;
        wasi_hw_usb::install(instance, config.build());
    }
    Ok(())
}
