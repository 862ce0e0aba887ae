//! WASI-USB (`wasi:usb@0.2.1`) for drivers: enumeration, descriptors, control, bulk and
//! interrupt transfers, over the raw bindings that `wit-bindgen` generates from
//! `wit/usb` (see [`bindings`]).
//!
//! ```no_run
//! use wasi_hw_guest::usb;
//! usb::init()?;
//! for dev in usb::devices()? {
//!     let h = dev.open()?;
//!     let name = h.string_descriptor(dev.descriptor.product_index)?;
//!     println!("{:04x}:{:04x} {name}", dev.vendor_id(), dev.product_id());
//! }
//! # Ok::<(), usb::Error>(())
//! ```
//!
//! The host shows a driver only the devices it was granted (`wasi-hw run --usb
//! VID:PID`, or `--usb sim` for the simulated devices); everything else is absent from
//! [`devices`]. Transfers follow the proposal's shape: `new-transfer`, `submit-transfer`,
//! then `await-transfer` blocks until completion, timeout or cancellation; the
//! synchronous helpers ([`Handle::bulk_in`] etc.) do all three.

pub mod hid;
pub mod storage;

/// Raw `wit-bindgen` bindings for the `wasi:usb/imports` world.
#[cfg(not(feature = "component-usb-names"))]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/usb",
        world: "wasi:usb/imports@0.2.1",
        ownership: Borrowing { duplicate_if_necessary: false },
        generate_all,
    });
}

/// The same bindings under the wasi-usb proposal repository's names
/// (`component:usb/...@0.2.1`, `usb-hotplug`), from the copy of `wit/usb` that
/// scripts/build-guests.sh generates with those names: a driver built with this feature
/// imports what a guest built from that repository's WIT imports.
#[cfg(feature = "component-usb-names")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../target/wit/component-usb",
        world: "component:usb/imports@0.2.1",
        ownership: Borrowing { duplicate_if_necessary: false },
        generate_all,
    });
    /// The paths the SDK uses, whichever names were imported.
    pub mod wasi {
        pub mod usb {
            pub use super::super::component::usb::usb_hotplug as hotplug;
            pub use super::super::component::usb::{
                configuration, descriptors, device, errors, transfers,
            };
        }
    }
}

use core::fmt;

use bindings::wasi::usb::configuration::ConfigValue;
use bindings::wasi::usb::device as raw;
use bindings::wasi::usb::transfers as xfer;

pub use bindings::wasi::usb::descriptors::{
    ConfigurationDescriptor, DeviceDescriptor, EndpointDescriptor, InterfaceDescriptor,
};
pub use bindings::wasi::usb::device::{DeviceLocation, UsbSpeed};
pub use bindings::wasi::usb::errors::LibusbError;
pub use bindings::wasi::usb::transfers::{TransferSetup, TransferType};

/// A `libusb-error` from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(pub LibusbError);

impl From<LibusbError> for Error {
    fn from(e: LibusbError) -> Self {
        Error(e)
    }
}

impl Error {
    /// The WIT case name (`no-device`, `timeout`, ...).
    pub fn name(&self) -> &'static str {
        match self.0 {
            LibusbError::Io => "io",
            LibusbError::InvalidParam => "invalid-param",
            LibusbError::Access => "access",
            LibusbError::NoDevice => "no-device",
            LibusbError::NotFound => "not-found",
            LibusbError::Busy => "busy",
            LibusbError::Timeout => "timeout",
            LibusbError::Overflow => "overflow",
            LibusbError::Pipe => "pipe",
            LibusbError::Interrupted => "interrupted",
            LibusbError::NoMem => "no-mem",
            LibusbError::NotSupported => "not-supported",
            LibusbError::Other => "other",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

/// Endpoint direction bit.
pub const ENDPOINT_IN: u8 = 0x80;
/// bmRequestType: device-to-host, standard, device.
pub const REQUEST_IN_STANDARD_DEVICE: u8 = 0x80;
/// Standard request GET_DESCRIPTOR.
pub const GET_DESCRIPTOR: u8 = 0x06;
/// Descriptor type STRING.
pub const DT_STRING: u8 = 0x03;
/// Transfer type bits of an endpoint's bmAttributes.
pub const EP_BULK: u8 = 2;
pub const EP_INTERRUPT: u8 = 3;

/// Initialises the host's USB backend (`init`).
pub fn init() -> Result<()> {
    raw::init().map_err(Error)
}

/// A device the driver may use, with its device descriptor and location.
pub struct Device {
    raw: raw::UsbDevice,
    pub descriptor: DeviceDescriptor,
    pub location: DeviceLocation,
}

/// Every device granted to this driver (`list-devices`), in bus/address order.
pub fn devices() -> Result<Vec<Device>> {
    Ok(raw::list_devices()?
        .into_iter()
        .map(|(raw, descriptor, location)| Device {
            raw,
            descriptor,
            location,
        })
        .collect())
}

impl Device {
    pub fn vendor_id(&self) -> u16 {
        self.descriptor.vendor_id
    }

    pub fn product_id(&self) -> u16 {
        self.descriptor.product_id
    }

    /// Opens the device for I/O.
    pub fn open(&self) -> Result<Handle> {
        Ok(Handle {
            raw: self.raw.open()?,
        })
    }

    /// Configuration descriptor by index (0-based).
    pub fn config_descriptor(&self, index: u8) -> Result<ConfigurationDescriptor> {
        Ok(self.raw.get_configuration_descriptor(index)?)
    }

    /// Configuration descriptor by bConfigurationValue.
    pub fn config_descriptor_by_value(&self, value: u8) -> Result<ConfigurationDescriptor> {
        Ok(self.raw.get_configuration_descriptor_by_value(value)?)
    }

    /// Descriptor of the active configuration (`not-found` if unconfigured).
    pub fn active_config_descriptor(&self) -> Result<ConfigurationDescriptor> {
        Ok(self.raw.get_active_configuration_descriptor()?)
    }

    /// The active configuration if there is one, else the first.
    pub fn current_or_first_config(&self) -> Result<ConfigurationDescriptor> {
        match self.active_config_descriptor() {
            Err(Error(LibusbError::NotFound)) => self.config_descriptor(0),
            other => other,
        }
    }

    /// The raw resource, for the WIT-level API.
    pub fn raw(&self) -> &raw::UsbDevice {
        &self.raw
    }
}

/// Finds the first interface (alternate setting) matching `pred`.
pub fn find_interface(
    config: &ConfigurationDescriptor,
    pred: impl Fn(&InterfaceDescriptor) -> bool,
) -> Option<&InterfaceDescriptor> {
    config.interfaces.iter().find(|i| pred(i))
}

/// Initialises WASI-USB and returns the first granted device matching `filter`
/// (vendor, product) whose current (or first) configuration has an interface for which
/// `pred` holds, with that interface; `None` when no granted device has one. Errors are
/// messages for the driver's user.
pub fn find_device_with_interface(
    filter: (Option<u16>, Option<u16>),
    pred: impl Fn(&InterfaceDescriptor) -> bool,
) -> core::result::Result<Option<(Device, InterfaceDescriptor)>, String> {
    init().map_err(|e| format!("init: {e}"))?;
    let devices = devices().map_err(|e| format!("list-devices: {e}"))?;
    for dev in devices.into_iter().filter(|d| d.matches(filter)) {
        let Ok(cfg) = dev.current_or_first_config() else {
            continue;
        };
        if let Some(intf) = find_interface(&cfg, &pred).cloned() {
            return Ok(Some((dev, intf)));
        }
    }
    Ok(None)
}

/// The first endpoint of `intf` with this transfer type and direction.
pub fn find_endpoint(
    intf: &InterfaceDescriptor,
    transfer_type: u8,
    dir_in: bool,
) -> Option<&EndpointDescriptor> {
    intf.endpoints.iter().find(|e| {
        e.attributes & 3 == transfer_type && (e.endpoint_address & ENDPOINT_IN != 0) == dir_in
    })
}

/// A transfer submitted and not yet awaited.
pub struct Pending {
    raw: xfer::Transfer,
}

impl Pending {
    /// Requests cancellation; [`Pending::wait`] then reports `interrupted`.
    pub fn cancel(&self) -> Result<()> {
        Ok(self.raw.cancel_transfer()?)
    }

    /// Blocks until the transfer completes, fails or times out (`await-transfer`).
    pub fn wait(self) -> Result<Vec<u8>> {
        Ok(xfer::await_transfer(self.raw)?)
    }
}

/// An open device.
pub struct Handle {
    raw: raw::DeviceHandle,
}

fn no_setup() -> TransferSetup {
    TransferSetup {
        bm_request_type: 0,
        b_request: 0,
        w_value: 0,
        w_index: 0,
    }
}

impl Handle {
    pub fn get_configuration(&self) -> Result<u8> {
        Ok(self.raw.get_configuration()?)
    }

    /// `None` unconfigures the device.
    pub fn set_configuration(&self, value: Option<u8>) -> Result<()> {
        let v = match value {
            Some(v) => ConfigValue::Value(v),
            None => ConfigValue::Unconfigured,
        };
        Ok(self.raw.set_configuration(v)?)
    }

    pub fn claim_interface(&self, interface: u8) -> Result<()> {
        Ok(self.raw.claim_interface(interface)?)
    }

    pub fn release_interface(&self, interface: u8) -> Result<()> {
        Ok(self.raw.release_interface(interface)?)
    }

    pub fn set_alt_setting(&self, interface: u8, alt: u8) -> Result<()> {
        Ok(self.raw.set_interface_altsetting(interface, alt)?)
    }

    pub fn clear_halt(&self, endpoint: u8) -> Result<()> {
        Ok(self.raw.clear_halt(endpoint)?)
    }

    pub fn reset(&self) -> Result<()> {
        Ok(self.raw.reset_device()?)
    }

    pub fn kernel_driver_active(&self, interface: u8) -> Result<bool> {
        Ok(self.raw.kernel_driver_active(interface)?)
    }

    pub fn detach_kernel_driver(&self, interface: u8) -> Result<()> {
        Ok(self.raw.detach_kernel_driver(interface)?)
    }

    pub fn attach_kernel_driver(&self, interface: u8) -> Result<()> {
        Ok(self.raw.attach_kernel_driver(interface)?)
    }

    /// Runs `f` with `interface` claimed, taking it from the kernel for the duration: a
    /// bound kernel driver is detached first and re-attached afterwards (so the device
    /// goes back to the system as it was), the interface is released after `f` whatever
    /// it returned. Errors are messages for the driver's user.
    pub fn with_interface<T>(
        &self,
        interface: u8,
        f: impl FnOnce(&Handle) -> core::result::Result<T, String>,
    ) -> core::result::Result<T, String> {
        // Not every platform can tell; claiming then says if the interface is taken.
        let detached = matches!(self.kernel_driver_active(interface), Ok(true));
        if detached {
            self.detach_kernel_driver(interface)
                .map_err(|e| format!("detach kernel driver: {e}"))?;
        }
        let result = match self.claim_interface(interface) {
            Ok(()) => {
                let r = f(self);
                let _ = self.release_interface(interface);
                r
            }
            Err(e) => Err(format!("claim interface {interface}: {e}")),
        };
        if detached {
            let _ = self.attach_kernel_driver(interface);
        }
        result
    }

    /// Creates and submits a transfer (`new-transfer` + `submit-transfer`). `len` is
    /// the IN length or must equal `data.len()` for OUT; `setup` is used by control
    /// transfers, `endpoint` by the others. `timeout_ms` 0 waits forever.
    pub fn submit(
        &self,
        kind: TransferType,
        setup: TransferSetup,
        endpoint: u8,
        len: u32,
        data: &[u8],
        timeout_ms: u32,
    ) -> Result<Pending> {
        let opts = xfer::TransferOptions {
            endpoint,
            timeout_ms,
            stream_id: 0,
            iso_packets: 0,
        };
        let t = self.raw.new_transfer(kind, setup, len, opts)?;
        t.submit_transfer(data)?;
        Ok(Pending { raw: t })
    }

    /// A control transfer reading up to `len` bytes.
    pub fn control_in(
        &self,
        request_type: u8,
        request: u8,
        value: u16,
        index: u16,
        len: u16,
        timeout_ms: u32,
    ) -> Result<Vec<u8>> {
        let setup = TransferSetup {
            bm_request_type: request_type | ENDPOINT_IN,
            b_request: request,
            w_value: value,
            w_index: index,
        };
        self.submit(
            TransferType::Control,
            setup,
            0,
            u32::from(len),
            &[],
            timeout_ms,
        )?
        .wait()
    }

    /// A control transfer sending `data` (possibly empty).
    pub fn control_out(
        &self,
        request_type: u8,
        request: u8,
        value: u16,
        index: u16,
        data: &[u8],
        timeout_ms: u32,
    ) -> Result<()> {
        let setup = TransferSetup {
            bm_request_type: request_type & !ENDPOINT_IN,
            b_request: request,
            w_value: value,
            w_index: index,
        };
        self.submit(
            TransferType::Control,
            setup,
            0,
            data.len() as u32,
            data,
            timeout_ms,
        )?
        .wait()
        .map(|_| ())
    }

    /// Reads up to `len` bytes from a bulk IN endpoint.
    pub fn bulk_in(&self, endpoint: u8, len: u32, timeout_ms: u32) -> Result<Vec<u8>> {
        self.submit(
            TransferType::Bulk,
            no_setup(),
            endpoint,
            len,
            &[],
            timeout_ms,
        )?
        .wait()
    }

    /// Writes `data` to a bulk OUT endpoint.
    pub fn bulk_out(&self, endpoint: u8, data: &[u8], timeout_ms: u32) -> Result<()> {
        self.submit(
            TransferType::Bulk,
            no_setup(),
            endpoint,
            data.len() as u32,
            data,
            timeout_ms,
        )?
        .wait()
        .map(|_| ())
    }

    /// Reads one report (up to `len` bytes) from an interrupt IN endpoint.
    pub fn interrupt_in(&self, endpoint: u8, len: u32, timeout_ms: u32) -> Result<Vec<u8>> {
        self.submit(
            TransferType::Interrupt,
            no_setup(),
            endpoint,
            len,
            &[],
            timeout_ms,
        )?
        .wait()
    }

    /// Writes `data` to an interrupt OUT endpoint.
    pub fn interrupt_out(&self, endpoint: u8, data: &[u8], timeout_ms: u32) -> Result<()> {
        self.submit(
            TransferType::Interrupt,
            no_setup(),
            endpoint,
            data.len() as u32,
            data,
            timeout_ms,
        )?
        .wait()
        .map(|_| ())
    }

    /// Reads string descriptor `index` in the device's first language (`Ok("")` for
    /// index 0, which means "no string").
    pub fn string_descriptor(&self, index: u8) -> Result<String> {
        if index == 0 {
            return Ok(String::new());
        }
        let langs = self.control_in(
            REQUEST_IN_STANDARD_DEVICE,
            GET_DESCRIPTOR,
            u16::from(DT_STRING) << 8,
            0,
            255,
            1000,
        )?;
        let lang = if langs.len() >= 4 {
            u16::from_le_bytes([langs[2], langs[3]])
        } else {
            0x0409
        };
        let d = self.control_in(
            REQUEST_IN_STANDARD_DEVICE,
            GET_DESCRIPTOR,
            (u16::from(DT_STRING) << 8) | u16::from(index),
            lang,
            255,
            1000,
        )?;
        decode_string_descriptor(&d).ok_or(Error(LibusbError::Io))
    }

    /// Closes the handle now (it is also closed when dropped).
    pub fn close(self) {
        self.raw.close();
    }

    /// The raw resource, for the WIT-level API.
    pub fn raw(&self) -> &raw::DeviceHandle {
        &self.raw
    }
}

/// Decodes a string descriptor (UTF-16LE after the 2-byte header).
pub fn decode_string_descriptor(d: &[u8]) -> Option<String> {
    if d.len() < 2 || d[1] != DT_STRING {
        return None;
    }
    let end = usize::from(d[0]).min(d.len());
    let units: Vec<u16> = d[2..end.max(2)]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// `usb-speed` as lsusb spells it.
pub fn speed_name(s: UsbSpeed) -> &'static str {
    match s {
        UsbSpeed::Unknown => "unknown",
        UsbSpeed::Low => "1.5M",
        UsbSpeed::Full => "12M",
        UsbSpeed::High => "480M",
        UsbSpeed::Super => "5000M",
        UsbSpeed::SuperPlus => "10000M",
        UsbSpeed::SuperPlusX2 => "20000M",
    }
}

/// Parses a `VID:PID` filter (hex, as lsusb's `-d`); either side may be empty for "any".
pub fn parse_vid_pid(text: &str) -> core::result::Result<(Option<u16>, Option<u16>), String> {
    let (v, p) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not VID:PID"))?;
    let id = |s: &str| -> core::result::Result<Option<u16>, String> {
        if s.is_empty() {
            return Ok(None);
        }
        u16::from_str_radix(s, 16)
            .map(Some)
            .map_err(|_| format!("{s:?} is not a hex id"))
    };
    Ok((id(v)?, id(p)?))
}

impl Device {
    /// Whether the device matches a [`parse_vid_pid`] filter.
    pub fn matches(&self, filter: (Option<u16>, Option<u16>)) -> bool {
        filter.0.is_none_or(|v| v == self.vendor_id())
            && filter.1.is_none_or(|p| p == self.product_id())
    }
}
