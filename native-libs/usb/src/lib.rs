//! WASI-USB (`wasi:usb@0.2.1`, the WIT in `wit/usb/`) for wasi-hw: host functions that WAMR
//! calls through the canonical ABI on a core module, over two interchangeable backends —
//! nusb (Linux usbfs) for real devices and an in-process simulation for tests.
//!
//! Embedding (what the `wasi-hw` CLI does):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (engine, module_bytes) = (wasi_hw_engine::Engine::new()?, Vec::<u8>::new());
//! use wasi_hw_usb::{install, register, UsbConfig};
//! register(&engine)?;                                    // once, before loading modules
//! let usb = UsbConfig::from_grants(&["sim"])?;           // the values of every --usb option
//! let module = wasi_hw_engine::Module::new(&engine, module_bytes)?;
//! let mut instance = wasi_hw_engine::Instance::new(&module, &Default::default())?;
//! install(&mut instance, usb.build());                   // per instance
//! instance.run_main()?;
//! # Ok(()) }
//! ```
//!
//! An instance without [`install`] sees no devices (`list-devices` returns an empty list).

pub mod abi;
pub mod backend;
mod ctx;
pub mod descriptors;
pub mod error;
mod natives;

use wasi_hw_engine::{Engine, Instance};
use wasi_hw_policy::usb::{UsbBackendKind, UsbPolicy};

pub use backend::sim::{SimBackend, SimController};
pub use backend::{UsbBackend, UsbDeviceHandle};
pub use ctx::UsbState;
pub use error::UsbError;
pub use natives::{
    host_modules, signatures, DEVICE_MODULE, HOTPLUG_MODULE, MAX_RESOURCES, MAX_TRANSFER_SIZE,
    TRANSFERS_MODULE,
};
pub use wasi_hw_policy::usb::UsbGrantError;

/// What one instance may do with USB: the grants and the backend that serves them.
pub struct UsbConfig {
    policy: UsbPolicy,
    backend: Box<dyn UsbBackend>,
    sim: Option<SimController>,
}

impl UsbConfig {
    /// Parses the values of the `--usb` options (see `wasi_hw_policy::usb` for the syntax:
    /// `sim`, `VID:PID`, `VID:PID@BUS-PORT[.PORT]`, `...:ifN`).
    pub fn from_grants<S: AsRef<str>>(values: &[S]) -> Result<UsbConfig, UsbGrantError> {
        Ok(UsbConfig::from_policy(UsbPolicy::from_grants(values)?))
    }

    /// The backend the policy selects: a fresh simulated world for `sim`, else the host's
    /// USB (nusb; no devices on platforms other than Linux).
    pub fn from_policy(policy: UsbPolicy) -> UsbConfig {
        match policy.backend() {
            UsbBackendKind::Sim => {
                let sim = SimBackend::new();
                let controller = sim.controller();
                UsbConfig {
                    policy,
                    backend: Box::new(sim),
                    sim: Some(controller),
                }
            }
            UsbBackendKind::Host => UsbConfig {
                policy,
                backend: ctx::host_backend(),
                sim: None,
            },
        }
    }

    /// Plugs the simulated devices in and out (only with the `sim` backend).
    pub fn sim_controller(&self) -> Option<SimController> {
        self.sim.clone()
    }

    /// The per-instance state [`install`] adds.
    pub fn build(self) -> UsbState {
        log::debug!(
            "usb: {} grant(s), backend {:?}",
            self.policy.grants().len(),
            self.policy.backend()
        );
        UsbState::new(self.policy, self.backend)
    }
}

/// The import-module name prefix these natives answer to (see
/// `wasi_hw_i2c::IMPORT_PREFIXES`).
pub const IMPORT_PREFIXES: &[&str] = &["wasi:usb/"];

/// Registers the wasi:usb natives with WAMR (process-global; idempotent). Call before
/// loading modules that import them.
pub fn register(engine: &Engine) -> Result<(), wasi_hw_engine::Error> {
    for m in host_modules() {
        engine.register_host_module(m)?;
    }
    Ok(())
}

/// Gives an instance its USB state ([`UsbConfig::build`]): the grants and the backend.
pub fn install(instance: &mut Instance, state: UsbState) {
    instance.extensions_mut().insert(state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_module_answers_to_the_import_prefix() {
        for m in host_modules() {
            assert!(
                IMPORT_PREFIXES.iter().any(|p| m.name().starts_with(p)),
                "{}",
                m.name()
            );
        }
    }
}
