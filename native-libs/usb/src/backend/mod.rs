//! The backend seam: the host functions talk to a [`UsbBackend`] (enumeration, descriptors,
//! hotplug) and to the [`UsbDeviceHandle`]s it opens (I/O). Two implementations: nusb over
//! Linux usbfs ([`nusb`]), and the in-process simulated devices ([`sim`]). Guests cannot
//! tell them apart.

use std::time::Duration;

pub mod keeper;
#[cfg(target_os = "linux")]
pub mod nusb;
pub mod reattach;
pub mod sim;

use crate::descriptors::DeviceDescriptor;
use crate::error::UsbResult;

/// `usb-speed` of wasi:usb/device, with its canonical-ABI discriminants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum UsbSpeed {
    Unknown = 0,
    Low = 1,
    Full = 2,
    High = 3,
    Super = 4,
    SuperPlus = 5,
    SuperPlusX2 = 6,
}

/// `transfer-type` of wasi:usb/transfers, with its canonical-ABI discriminants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TransferType {
    Control = 0,
    Bulk = 1,
    Interrupt = 2,
    Isochronous = 3,
}

impl TransferType {
    pub fn from_discriminant(d: u32) -> Option<TransferType> {
        Some(match d {
            0 => TransferType::Control,
            1 => TransferType::Bulk,
            2 => TransferType::Interrupt,
            3 => TransferType::Isochronous,
            _ => return None,
        })
    }
}

/// `transfer-setup`: the SETUP packet minus wLength (which is the buffer size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferSetup {
    pub bm_request_type: u8,
    pub b_request: u8,
    pub w_value: u16,
    pub w_index: u16,
}

impl TransferSetup {
    pub fn is_in(&self) -> bool {
        self.bm_request_type & 0x80 != 0
    }

    /// bmRequestType bits 5..6: 0 standard, 1 class, 2 vendor, 3 reserved.
    pub fn request_kind(&self) -> u8 {
        (self.bm_request_type >> 5) & 3
    }

    /// bmRequestType bits 0..4: 0 device, 1 interface, 2 endpoint, 3 other.
    pub fn recipient(&self) -> u8 {
        self.bm_request_type & 0x1f
    }
}

/// Identifies a device within one backend for as long as it stays connected.
pub type DeviceKey = u64;

/// One enumerated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub key: DeviceKey,
    pub descriptor: DeviceDescriptor,
    pub bus: u8,
    pub address: u8,
    /// Hub port chain from the root hub (empty for a root hub).
    pub ports: Vec<u8>,
    pub speed: UsbSpeed,
}

impl DeviceInfo {
    /// The port on the parent hub (`device-location.port-number`), 0 for root hubs.
    pub fn port_number(&self) -> u8 {
        self.ports.last().copied().unwrap_or(0)
    }
}

/// A hotplug event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotplugEvent {
    Arrived(DeviceInfo),
    Left(DeviceInfo),
}

/// A transfer as submitted to a backend. Parameters have been validated by the host layer:
/// `length` is bounded, `data.len() == length` for OUT transfers, the type is not
/// isochronous.
#[derive(Debug, Clone)]
pub struct TransferRequest {
    pub kind: TransferType,
    /// Control transfers only.
    pub setup: TransferSetup,
    /// Bulk/interrupt only: endpoint address with direction bit.
    pub endpoint: u8,
    /// Bytes requested (IN) or sent (OUT).
    pub length: usize,
    /// OUT payload (empty for IN).
    pub data: Vec<u8>,
    /// `None` waits forever (timeout-ms 0, as in libusb).
    pub timeout: Option<Duration>,
}

impl TransferRequest {
    pub fn is_in(&self) -> bool {
        match self.kind {
            TransferType::Control => self.setup.is_in(),
            _ => self.endpoint & 0x80 != 0,
        }
    }
}

/// Backend-assigned id of a submitted transfer (unique per device handle).
pub type TransferId = u64;

/// Enumeration and device access.
pub trait UsbBackend: Send {
    /// Short name for logs ("nusb", "sim").
    fn name(&self) -> &'static str;

    /// Every connected device (policy filtering happens above).
    fn list_devices(&mut self) -> UsbResult<Vec<DeviceInfo>>;

    /// Raw configuration descriptors (with sub-descriptors), in index order.
    fn config_descriptors(&mut self, key: DeviceKey) -> UsbResult<Vec<Vec<u8>>>;

    /// bConfigurationValue of the active configuration, 0 if unconfigured.
    fn active_configuration(&mut self, key: DeviceKey) -> UsbResult<u8>;

    /// Opens a device for I/O.
    fn open(&mut self, key: DeviceKey) -> UsbResult<Box<dyn UsbDeviceHandle>>;

    /// Starts watching for arrivals and removals.
    fn enable_hotplug(&mut self) -> UsbResult<()>;

    /// Events since the last call; never blocks.
    fn poll_hotplug(&mut self) -> Vec<HotplugEvent>;
}

/// An open device.
pub trait UsbDeviceHandle: Send {
    fn get_configuration(&mut self) -> UsbResult<u8>;
    fn set_configuration(&mut self, value: u8) -> UsbResult<()>;
    fn claim_interface(&mut self, interface: u8) -> UsbResult<()>;
    fn release_interface(&mut self, interface: u8) -> UsbResult<()>;
    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> UsbResult<()>;
    fn clear_halt(&mut self, endpoint: u8) -> UsbResult<()>;
    fn reset(&mut self) -> UsbResult<()>;
    fn kernel_driver_active(&mut self, interface: u8) -> UsbResult<bool>;
    fn detach_kernel_driver(&mut self, interface: u8) -> UsbResult<()>;
    fn attach_kernel_driver(&mut self, interface: u8) -> UsbResult<()>;

    /// Starts a transfer; errors here are submission errors (libusb_submit_transfer's).
    fn submit(&mut self, req: TransferRequest) -> UsbResult<TransferId>;
    /// Blocks until the transfer completes, fails or times out; returns IN data (empty for
    /// OUT). Each submitted transfer is waited for at most once.
    fn wait(&mut self, id: TransferId) -> UsbResult<Vec<u8>> {
        self.wait_unless(id, &|| false)
    }
    /// [`wait`](Self::wait), but gives up soon after `stop` turns true (the embedder stops
    /// the instance): the endpoint's pending transfers are cancelled and this one ends
    /// with `interrupted`. A backend whose transfers never block may ignore `stop`.
    fn wait_unless(&mut self, id: TransferId, stop: &dyn Fn() -> bool) -> UsbResult<Vec<u8>>;
    /// Requests cancellation; the transfer then completes with `interrupted`.
    fn cancel(&mut self, id: TransferId) -> UsbResult<()>;
    /// Forgets a transfer that will never be waited for (cancelling it if still pending).
    fn discard(&mut self, id: TransferId);
    /// Closes the handle for good (the guest closed or dropped it). A plain drop is the
    /// same, except for a handle the resident host keeps for the driver's next instance
    /// ([`keeper`]), which a drop sends back to the keeper.
    fn close(self: Box<Self>) {}
}
