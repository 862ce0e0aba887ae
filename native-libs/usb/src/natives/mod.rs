//! The wasi:usb@0.2.1 imports as WAMR natives, one file per WIT interface (`device`,
//! `transfers`, `hotplug`): parameter lifting with the canonical ABI's checks, then the
//! host logic of [`UsbState`](crate::ctx::UsbState). Results are stored by `abi`.
//!
//! Traps (the guest call aborts) for what the canonical ABI traps on: unknown or wrong-type
//! resource handles, out-of-range enum/variant discriminants, return areas or list
//! arguments outside linear memory or misaligned. Everything else is a `libusb-error`.

mod device;
mod hotplug;
mod transfers;

use std::collections::BTreeMap;

use wasi_hw_engine::{Caller, HostModule, Trap};
use wasi_hw_policy::usb::DeviceAccess;

use crate::abi;
use crate::backend::UsbDeviceHandle;
use crate::ctx::with_state;
use crate::error::{UsbError, UsbResult};

/// Import module names (WIT interface names) the natives are registered under.
pub const DEVICE_MODULE: &str = "wasi:usb/device@0.2.1";
pub const TRANSFERS_MODULE: &str = "wasi:usb/transfers@0.2.1";
pub const HOTPLUG_MODULE: &str = "wasi:usb/hotplug@0.2.1";

/// One set of import-module names for the same natives. The WIT of the wasi-usb proposal
/// repository (`component:usb@0.2.1`) has the signatures and layouts of ours
/// (`wasi:usb@0.2.1`, which wasmtime-wasi-usb serves), under another package name and with
/// the hotplug interface called `usb-hotplug`: guests built from either run unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// How `inspect` names it.
    pub name: &'static str,
    /// What every one of its import-module names starts with.
    pub prefix: &'static str,
    pub device: &'static str,
    pub transfers: &'static str,
    pub hotplug: &'static str,
}

/// `wasi:usb@0.2.1` (wit/usb).
pub const WASI_USB: Dialect = Dialect {
    name: "wasi:usb@0.2.1",
    prefix: "wasi:usb/",
    device: DEVICE_MODULE,
    transfers: TRANSFERS_MODULE,
    hotplug: HOTPLUG_MODULE,
};

/// `component:usb@0.2.1`, the wasi-usb proposal repository's WIT.
pub const COMPONENT_USB: Dialect = Dialect {
    name: "component:usb@0.2.1 (the wasi-usb proposal repository's names)",
    prefix: "component:usb/",
    device: "component:usb/device@0.2.1",
    transfers: "component:usb/transfers@0.2.1",
    hotplug: "component:usb/usb-hotplug@0.2.1",
};

/// Every dialect the natives answer to.
pub const DIALECTS: [Dialect; 2] = [WASI_USB, COMPONENT_USB];

/// Largest transfer (buf-size) a guest may create: bounds the host memory one transfer can
/// pin. Bulk reads of 1 MiB fit.
pub const MAX_TRANSFER_SIZE: u32 = 2 << 20;
/// Largest sum of buf-size over an instance's submitted, not yet awaited transfers: the
/// host memory all its transfers in flight can pin (beyond it, submit is `no-mem`).
pub const MAX_IN_FLIGHT: u64 = 16 << 20;
/// Largest number of live resources (devices, handles, transfers) per instance.
pub const MAX_RESOURCES: usize = 4096;
/// Largest endpoint list accepted by alloc-streams/free-streams (an interface has at most
/// 30 endpoints).
pub(crate) const MAX_STREAM_ENDPOINTS: u32 = 32;

/// Builds the three host modules under `wasi:usb` names. Every signature follows from the
/// parameter types of its function (`u32`, `u16`, `u8`: a flat `i32`, lifted as the
/// canonical ABI does).
pub fn host_modules() -> Vec<HostModule> {
    host_modules_for(&WASI_USB)
}

/// The same natives under a dialect's names.
pub fn host_modules_for(dialect: &Dialect) -> Vec<HostModule> {
    vec![
        device::module(dialect.device),
        transfers::module(dialect.transfers),
        hotplug::module(dialect.hotplug),
    ]
}

/// A method that returns `result<_, libusb-error>` at `ret` and runs `op` on the open
/// device handle `this` (after the result area is checked).
pub(crate) fn unit_call(
    c: &mut Caller<'_>,
    this: u32,
    ret: u32,
    op: impl FnOnce(&mut dyn UsbDeviceHandle, &DeviceAccess) -> UsbResult<()>,
) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_UNIT)?;
    let r = with_state(c, |s| s.with_open(this, op))?;
    abi::store_result_unit(c, ret, r)
}

/// [`unit_call`] of a method on one interface, which must be granted.
pub(crate) fn interface_call(
    c: &mut Caller<'_>,
    this: u32,
    interface: u8,
    ret: u32,
    op: impl FnOnce(&mut dyn UsbDeviceHandle) -> UsbResult<()>,
) -> Result<(), Trap> {
    unit_call(c, this, ret, |h, acc| {
        interface_guard(acc, interface)?;
        op(h)
    })
}

pub(crate) fn interface_guard(acc: &DeviceAccess, interface: u8) -> UsbResult<()> {
    if acc.interface_allowed(interface) {
        Ok(())
    } else {
        log::warn!("usb: interface {interface} is not granted");
        Err(UsbError::Access)
    }
}

/// `set-configuration` and `reset-device` change the whole device: refused unless the grant
/// covers every interface.
pub(crate) fn whole_device_guard(acc: &DeviceAccess, what: &str) -> UsbResult<()> {
    if acc.whole_device() {
        Ok(())
    } else {
        log::warn!("usb: {what} refused: only some interfaces are granted");
        Err(UsbError::Access)
    }
}

/// `(module, name) -> number of flat parameters` of every native, read off the host
/// modules themselves (for tests against the WIT).
pub fn signatures() -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for module in host_modules() {
        for (name, sig) in module.functions() {
            let params = sig[1..sig.find(')').expect("signature has a ')'")].len();
            m.insert((module.name().to_string(), name.to_string()), params);
        }
    }
    m
}
