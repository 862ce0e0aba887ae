//! WASI-I2C (`wasi:i2c@0.2.0-draft`) host side for the wasi-hw WAMR engine.
//!
//! - [`bus`]: the backend trait [`I2cBus`] (embedded-hal-like `transaction`) and the WIT
//!   [`ErrorCode`].
//! - [`linux`]: `/dev/i2c-N` through the `i2cdev` crate (I2C_RDWR, or SMBus commands on
//!   SMBus-only adapters).
//! - [`sim`]: an in-process simulated bus with a TMP102 sensor and 24Cxx EEPROMs.
//! - [`abi`]: canonical-ABI layouts; [`host`]: the natives, per-instance state [`I2cHost`]
//!   and its builder [`I2cConfig`].
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
pub mod host;
pub mod linux;
pub mod sim;

pub use bus::{ErrorCode, I2cBus, NoAcknowledgeSource, Operation};
pub use host::{
    host_modules, imported_by, register, I2cConfig, I2cHost, I2cSetupError, Limits, BUSES_MODULE,
    DELAY_MODULE, I2C_MODULE,
};
pub use linux::LinuxI2c;
pub use sim::SimBus;
