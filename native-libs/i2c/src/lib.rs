//! WASI-I2C (`wasi:i2c@0.2.0-draft`) host side for the wasi-hw WAMR engine.
//!
//! - [`backend`]: the backend trait [`I2cBus`] (embedded-hal's `transaction` contract) and
//!   the WIT [`ErrorCode`]; [`backend::hal`]: every backend is also an
//!   `embedded_hal::i2c::I2c`.
//! - [`backend::linux`]: `/dev/i2c-N` through the `i2cdev` crate (I2C_RDWR, or SMBus
//!   commands on SMBus-only adapters).
//! - [`backend::sim`]: an in-process simulated bus with a TMP102 sensor and 24Cxx EEPROMs.
//! - [`abi`]: canonical-ABI layouts of the `wasi:i2c` types; `natives/`: the host functions,
//!   one file per WIT interface; `ctx`: the per-instance state [`I2cHost`] and its builder
//!   [`I2cConfig`].
//!
//! Embedding:
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wasi_hw_engine::{Engine, Instance, InstanceConfig, Module};
//! let engine = Engine::new()?;
//! wasi_hw_i2c::register(&engine)?; // before loading modules that import wasi:i2c
//! let module = Module::new(&engine, std::fs::read("driver.aot")?)?;
//! let mut instance = Instance::new(&module, &InstanceConfig::default())?;
//! let host = wasi_hw_i2c::I2cConfig::from_grants(&["sim:0x48,0x50"])?.build()?;
//! wasi_hw_i2c::install(&mut instance, host);
//! instance.run_main()?;
//! # Ok(()) }
//! ```
pub mod abi;
pub mod backend;
mod ctx;
mod natives;

pub use backend::linux::LinuxI2c;
pub use backend::shared::{BusStats, SharedBus};
pub use backend::sim::SimBus;
pub use backend::{ErrorCode, I2cBus, NoAcknowledgeSource, Operation};
pub use ctx::{open_bus, I2cConfig, I2cHost, I2cSetupError, Limits};
pub use natives::{host_modules, BUSES_MODULE, DELAY_MODULE, I2C_MODULE};

use wasi_hw_engine::{Engine, Instance};

/// The import-module name prefixes these natives answer to (`wasi:i2c/...`, and the
/// host's `wasi-hw:host/...` for buses and delay), for registering them only when a module
/// imports from one (building the tables is part of every cold start).
pub const IMPORT_PREFIXES: &[&str] = &["wasi:i2c/", "wasi-hw:host/"];

/// Gives an instance its I2C state ([`I2cConfig::build`]): the granted buses.
pub fn install(instance: &mut Instance, host: I2cHost) {
    instance.extensions_mut().insert(host);
}

/// Registers the natives with the engine (idempotent).
pub fn register(engine: &Engine) -> Result<(), wasi_hw_engine::Error> {
    for m in host_modules() {
        engine.register_host_module(m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_module_answers_to_an_import_prefix() {
        for m in host_modules() {
            assert!(
                IMPORT_PREFIXES.iter().any(|p| m.name().starts_with(p)),
                "{}",
                m.name()
            );
        }
    }
}
