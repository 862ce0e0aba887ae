//! WASI-I2C (`wasi:i2c@0.2.0-draft`) host side for the wasi-hw WAMR engine.
//!
//! - [`bus`]: the backend trait [`I2cBus`] (embedded-hal's `transaction` contract) and the
//!   WIT [`ErrorCode`]; [`hal`]: every backend is also an `embedded_hal::i2c::I2c`.
//! - [`linux`]: `/dev/i2c-N` through the `i2cdev` crate (I2C_RDWR, or SMBus commands on
//!   SMBus-only adapters).
//! - [`sim`]: an in-process simulated bus with a TMP102 sensor and 24Cxx EEPROMs.
//! - [`abi`]: canonical-ABI layouts of the `wasi:i2c` types; `natives/`: the host functions,
//!   one file per WIT interface; `ctx`: the per-instance state [`I2cHost`] and its builder
//!   [`I2cConfig`].
//!
//! Embedding:
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wasi_hw_runtime::{Engine, Instance, InstanceConfig, Module};
//! let engine = Engine::new()?;
//! wasi_hw_i2c::register(&engine)?; // before loading modules that import wasi:i2c
//! let module = Module::new(&engine, std::fs::read("driver.aot")?)?;
//! let mut instance = Instance::new(&module, &InstanceConfig::default())?;
//! let host = wasi_hw_i2c::I2cConfig::from_grants(&["sim:0x48,0x50"])?.build()?;
//! instance.extensions_mut().insert(host);
//! instance.run_main()?;
//! # Ok(()) }
//! ```
pub mod abi;
pub mod bus;
mod ctx;
pub mod hal;
pub mod linux;
mod natives;
pub mod sim;

pub use bus::{ErrorCode, I2cBus, NoAcknowledgeSource, Operation};
pub use ctx::{I2cConfig, I2cHost, I2cSetupError, Limits};
pub use linux::LinuxI2c;
pub use natives::{host_modules, BUSES_MODULE, DELAY_MODULE, I2C_MODULE};
pub use sim::SimBus;

use wasi_hw_runtime::Engine;

/// Whether a module (`.wasm` or `.aot` bytes) can import these natives, so that a caller
/// registers them only when needed (building the tables is part of every cold start).
/// Import module names are stored verbatim in both formats; only the part of the module
/// that holds them is searched ([`wasi_hw_runtime::import_region`]).
pub fn imported_by(module: &[u8]) -> bool {
    let imports = wasi_hw_runtime::import_region(module);
    ["wasi:i2c/", "wasi-hw:host/"]
        .iter()
        .any(|p| memchr::memmem::find(imports, p.as_bytes()).is_some())
}

/// Registers the natives with the engine (idempotent).
pub fn register(engine: &Engine) -> Result<(), wasi_hw_runtime::Error> {
    for m in host_modules() {
        engine.register_host_module(m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_recognised_by_package_name() {
        // (Not a parsable module: the whole input is searched.)
        assert!(imported_by(b"\0asm..wasi:i2c/i2c@0.2.0-draft.."));
        assert!(imported_by(b"..wasi-hw:host/buses@0.1.0"));
        assert!(!imported_by(b"\0asm..wasi:usb/device@0.2.1..wasi:i2c"));
    }
}
