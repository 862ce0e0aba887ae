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

pub use backend::keeper::KeptDevice;
pub use backend::sim::{SimBackend, SimController};
pub use backend::{UsbBackend, UsbDeviceHandle};
pub use ctx::UsbState;
pub use error::UsbError;
pub use natives::{
    host_modules, host_modules_for, signatures, Dialect, COMPONENT_USB, DEVICE_MODULE, DIALECTS,
    HOTPLUG_MODULE, MAX_IN_FLIGHT, MAX_RESOURCES, MAX_TRANSFER_SIZE, TRANSFERS_MODULE, WASI_USB,
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

    /// Devices shared by many instances, one after another (the resident host's drivers):
    /// see [`UsbKeeper`].
    pub fn into_keeper(self) -> UsbKeeper {
        UsbKeeper {
            keeper: std::sync::Arc::new(backend::keeper::DeviceKeeper::new(self.backend)),
            policy: self.policy,
            sim: self.sim,
        }
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

/// One driver's USB devices across its instances: every instance's state ([`build`]) uses
/// the same backend, and a device handle an instance leaves open when it ends (stopped for
/// an update or a restart, or trapped) is kept, claims and detached kernel drivers
/// included, and given to the next instance that opens the device. [`release_all`] gives
/// the kept devices back (the driver stops for good); dropping the keeper does too.
///
/// [`build`]: UsbKeeper::build
/// [`release_all`]: UsbKeeper::release_all
pub struct UsbKeeper {
    keeper: std::sync::Arc<backend::keeper::DeviceKeeper>,
    policy: UsbPolicy,
    sim: Option<SimController>,
}

impl UsbKeeper {
    /// The state of one more instance.
    pub fn build(&self) -> UsbState {
        UsbState::kept(self.policy.clone(), &self.keeper)
    }

    /// Opens every present device the grants allow and keeps it for the instances, which
    /// get it when they open the device. For a host that is about to give up the right to
    /// open device nodes (`--user`); a device plugged in later needs that user's access.
    /// Returns the devices opened.
    pub fn open_granted(&self) -> error::UsbResult<usize> {
        let mut backend = self.keeper.backend();
        let mut opened = 0;
        for info in backend.list_devices()? {
            let identity = wasi_hw_policy::usb::DeviceIdentity {
                vendor: info.descriptor.vendor_id,
                product: info.descriptor.product_id,
                bus: info.bus,
                ports: &info.ports,
            };
            if self.policy.device_access(&identity).is_some() {
                // Dropped unused, the handle goes to the keeper.
                drop(self.keeper.open(&info)?);
                opened += 1;
            }
        }
        Ok(opened)
    }

    /// Releases every kept device.
    pub fn release_all(&self) {
        self.keeper.release_all()
    }

    /// Device handles held between instances.
    pub fn kept(&self) -> usize {
        self.keeper.kept()
    }

    /// Every device an instance has open or the keeper holds, with its state.
    pub fn devices(&self) -> Vec<KeptDevice> {
        self.keeper.devices()
    }

    /// See [`UsbConfig::sim_controller`].
    pub fn sim_controller(&self) -> Option<SimController> {
        self.sim.clone()
    }
}

/// Registers the natives under every dialect's names with WAMR (process-global; idempotent).
/// Call before loading modules that import them.
pub fn register(engine: &Engine) -> Result<(), wasi_hw_engine::Error> {
    DIALECTS
        .iter()
        .try_for_each(|d| register_dialect(engine, d))
}

/// Registers the natives under one dialect's names (a module imports one of them: building
/// the tables is part of its cold start).
pub fn register_dialect(engine: &Engine, dialect: &Dialect) -> Result<(), wasi_hw_engine::Error> {
    for m in host_modules_for(dialect) {
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
    fn granted_devices_are_opened_up_front_and_kept_for_the_instances() {
        let keeper = UsbConfig::from_grants(&["sim"]).unwrap().into_keeper();
        let opened = keeper.open_granted().unwrap();
        assert!(opened >= 2, "the simulator's devices: {opened}");
        assert_eq!(keeper.kept(), opened);
        assert!(keeper.devices().iter().all(|d| d.state == "kept"));
    }

    #[test]
    fn dialects_name_the_same_natives() {
        let functions = |d: &Dialect| -> Vec<Vec<(String, String)>> {
            host_modules_for(d)
                .iter()
                .inspect(|m| assert!(m.name().starts_with(d.prefix), "{}", m.name()))
                .map(|m| {
                    m.functions()
                        .map(|(n, s)| (n.to_string(), s.to_string()))
                        .collect()
                })
                .collect()
        };
        assert_eq!(functions(&WASI_USB), functions(&COMPONENT_USB));
        assert_eq!(COMPONENT_USB.hotplug, "component:usb/usb-hotplug@0.2.1");
    }
}
