//! Simulated USB backend: in-process devices with real descriptor sets, answering standard
//! requests over control transfers, plus their class functions (see [`model`] and
//! [`storage`]). Used by tests, benchmarks and `wasi-hw run --usb sim`.
//!
//! Devices (bus 1, high speed):
//! - `1209:0001` at address 2, port 1: bulk loopback (0x01 → 0x81) on interface 0 and a HID
//!   boot mouse (interrupt IN 0x83, [`HID_REPORT_COUNT`] reports, then NAK) on interface 1,
//!   which a simulated kernel driver (usbhid) holds until detached.
//! - `1209:0002` at address 3, port 2: Bulk-Only mass storage over a 128 KiB disk, held by a
//!   simulated usb-storage kernel driver until detached.
//!
//! A [`SimController`] unplugs and replugs devices from any thread (pending transfers then
//! fail with `no-device`).

pub mod model;
pub mod storage;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::backend::*;
use crate::descriptors::*;
use crate::error::{UsbError, UsbResult};
use model::{DeviceSpec, InOutcome, OutOutcome};

mod faults;
pub use faults::{InjectedUsb, UsbFault, UsbFaultPlan};

/// How soon a transfer wait the device NAKs notices that its instance is being stopped.
const STOP_POLL: Duration = Duration::from_millis(20);

pub use model::{
    hid_report, HID_IN, HID_REPORT_COUNT, HID_REPORT_LEN, LOOPBACK_IN, LOOPBACK_OUT,
    SIM_STORAGE_PRODUCT, SIM_TEST_PRODUCT, SIM_VENDOR, STORAGE_IN, STORAGE_OUT,
};
pub use storage::{pattern_block, BLOCK_COUNT, BLOCK_SIZE};

struct SimDevice {
    key: DeviceKey,
    bus: u8,
    address: u8,
    ports: Vec<u8>,
    spec: DeviceSpec,
    raw_configs: Vec<Vec<u8>>,
    connected: bool,
    active_config: u8,
    /// Current alternate setting per interface number.
    alt: BTreeMap<u8, u8>,
    /// Interface number → id of the handle that claimed it.
    claims: BTreeMap<u8, u64>,
    halted: BTreeSet<u8>,
    /// Interfaces a simulated kernel driver is bound to.
    drivers: BTreeSet<u8>,
}

impl SimDevice {
    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            key: self.key,
            descriptor: self.spec.descriptor.clone(),
            bus: self.bus,
            address: self.address,
            ports: self.ports.clone(),
            speed: self.spec.speed,
        }
    }

    fn active(&self) -> Option<&ConfigurationDescriptor> {
        self.spec
            .configs
            .iter()
            .find(|c| c.configuration_value == self.active_config && self.active_config != 0)
    }

    fn has_interface(&self, number: u8) -> bool {
        self.active()
            .is_some_and(|c| c.interfaces.iter().any(|i| i.interface_number == number))
    }

    /// Endpoint descriptor of `address` in the current alternate setting of an interface,
    /// with that interface's number.
    fn endpoint(&self, address: u8) -> Option<(u8, EndpointDescriptor)> {
        let cfg = self.active()?;
        cfg.interfaces
            .iter()
            .filter(|i| {
                self.alt.get(&i.interface_number).copied().unwrap_or(0) == i.alternate_setting
            })
            .find_map(|i| {
                i.endpoints
                    .iter()
                    .find(|e| e.endpoint_address == address)
                    .map(|e| (i.interface_number, e.clone()))
            })
    }

    /// (Re)connection or SET_CONFIGURATION: fresh interface state, kernel drivers bound.
    fn configure(&mut self, value: u8) {
        self.active_config = value;
        self.alt.clear();
        self.halted.clear();
        self.claims.clear();
        self.drivers = if value == 0 {
            BTreeSet::new()
        } else {
            self.spec.kernel_drivers.iter().copied().collect()
        };
    }

    fn set_configuration(&mut self, handle: u64, value: u8) -> UsbResult<()> {
        if value != 0
            && !self
                .spec
                .configs
                .iter()
                .any(|c| c.configuration_value == value)
        {
            return Err(UsbError::NotFound);
        }
        // Linux refuses while another owner (kernel driver, other handle) holds an interface.
        if !self.drivers.is_empty() || self.claims.values().any(|&h| h != handle) {
            return Err(UsbError::Busy);
        }
        self.configure(value);
        Ok(())
    }

    fn set_alt(&mut self, interface: u8, alt: u8) -> UsbResult<()> {
        let cfg = self.active().ok_or(UsbError::NotFound)?;
        let intf = cfg.interface(interface, alt).ok_or(UsbError::NotFound)?;
        let eps: Vec<u8> = intf.endpoints.iter().map(|e| e.endpoint_address).collect();
        for ep in eps {
            self.halted.remove(&ep);
        }
        self.alt.insert(interface, alt);
        Ok(())
    }

    fn string(&self, index: u8) -> Option<Vec<u8>> {
        if index == 0 {
            return Some(vec![4, DT_STRING, 0x09, 0x04]); // US English only
        }
        self.spec
            .strings
            .get(usize::from(index) - 1)
            .map(|s| encode_string_descriptor(s))
    }

    /// A control transfer: standard requests here, the rest to the function.
    fn control(
        &mut self,
        handle: u64,
        setup: &TransferSetup,
        data: &[u8],
        length: usize,
    ) -> UsbResult<Vec<u8>> {
        let mut reply = match self.standard_request(handle, setup)? {
            Some(reply) => reply,
            None => self.spec.function.control(setup, data, length)?,
        };
        if setup.is_in() {
            reply.truncate(length);
        } else {
            reply.clear();
        }
        Ok(reply)
    }

    /// `Ok(None)`: not a standard request this framework handles.
    fn standard_request(&mut self, handle: u64, s: &TransferSetup) -> UsbResult<Option<Vec<u8>>> {
        if s.request_kind() != 0 {
            return Ok(None);
        }
        let ep_exists = |d: &SimDevice| d.endpoint(s.w_index as u8).is_some();
        let reply = match (s.bm_request_type, s.b_request) {
            // GET_STATUS
            (0x80, 0x00) => vec![0, 0],
            (0x81, 0x00) if self.has_interface(s.w_index as u8) => vec![0, 0],
            (0x82, 0x00) if ep_exists(self) => {
                vec![u8::from(self.halted.contains(&(s.w_index as u8))), 0]
            }
            // CLEAR_FEATURE / SET_FEATURE (ENDPOINT_HALT)
            (0x02, 0x01) if s.w_value == 0 && ep_exists(self) => {
                self.halted.remove(&(s.w_index as u8));
                Vec::new()
            }
            (0x02, 0x03) if s.w_value == 0 && ep_exists(self) => {
                self.halted.insert(s.w_index as u8);
                Vec::new()
            }
            // Device remote wakeup feature: accepted, no effect.
            (0x00, 0x01) | (0x00, 0x03) if s.w_value == 1 => Vec::new(),
            // GET_DESCRIPTOR (device recipient)
            (0x80, 0x06) => {
                let index = (s.w_value & 0xff) as u8;
                match (s.w_value >> 8) as u8 {
                    DT_DEVICE => self.spec.descriptor.to_bytes().to_vec(),
                    DT_CONFIG => self
                        .raw_configs
                        .get(usize::from(index))
                        .cloned()
                        .ok_or(UsbError::Pipe)?,
                    DT_STRING => self.string(index).ok_or(UsbError::Pipe)?,
                    _ => return Err(UsbError::Pipe),
                }
            }
            // GET_CONFIGURATION / SET_CONFIGURATION
            (0x80, 0x08) => vec![self.active_config],
            (0x00, 0x09) => {
                self.set_configuration(handle, s.w_value as u8)
                    .map_err(|_| UsbError::Pipe)?;
                Vec::new()
            }
            // GET_INTERFACE / SET_INTERFACE
            (0x81, 0x0a) if self.has_interface(s.w_index as u8) => {
                vec![self.alt.get(&(s.w_index as u8)).copied().unwrap_or(0)]
            }
            (0x01, 0x0b) => {
                self.set_alt(s.w_index as u8, s.w_value as u8)
                    .map_err(|_| UsbError::Pipe)?;
                Vec::new()
            }
            // Interface-recipient GET_DESCRIPTOR is class-specific (HID).
            (0x81, 0x06) => return Ok(None),
            _ => return Err(UsbError::Pipe),
        };
        Ok(Some(reply))
    }
}

struct World {
    devices: Vec<SimDevice>,
    next_key: DeviceKey,
    next_handle: u64,
    next_address: u8,
    /// `Some` once hotplug is enabled: events not yet polled.
    hotplug: Option<Vec<HotplugEvent>>,
    faults: Option<UsbFaultPlan>,
}

impl World {
    fn device(&mut self, key: DeviceKey) -> UsbResult<&mut SimDevice> {
        self.devices
            .iter_mut()
            .find(|d| d.key == key && d.connected)
            .ok_or(UsbError::NoDevice)
    }

    /// Disconnects the device `key` (if connected): claims go, a hotplug event is queued.
    fn unplug(&mut self, key: DeviceKey) -> bool {
        let Ok(dev) = self.device(key) else {
            return false;
        };
        dev.connected = false;
        dev.claims.clear();
        let info = dev.info();
        if let Some(events) = self.hotplug.as_mut() {
            events.push(HotplugEvent::Left(info));
        }
        true
    }

    fn find(&mut self, vendor: u16, product: u16) -> Option<&mut SimDevice> {
        self.devices.iter_mut().find(|d| {
            d.spec.descriptor.vendor_id == vendor && d.spec.descriptor.product_id == product
        })
    }
}

struct Shared {
    world: Mutex<World>,
    /// Signalled when a device goes away or endpoint state changes.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves plain data behind: keep going.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The simulated devices of one backend.
pub struct SimBackend {
    shared: Arc<Shared>,
}

/// Test hook: plugs simulated devices in and out, from any thread.
#[derive(Clone)]
pub struct SimController {
    shared: Arc<Shared>,
}

impl Default for SimBackend {
    fn default() -> Self {
        SimBackend::new()
    }
}

impl SimBackend {
    /// A fresh world with the two simulated devices connected.
    pub fn new() -> SimBackend {
        let mut world = World {
            devices: Vec::new(),
            next_key: 1,
            next_handle: 1,
            next_address: 2,
            hotplug: None,
            faults: None,
        };
        for (port, spec) in [(1u8, model::test_device()), (2, model::storage_device())] {
            let raw_configs = spec.configs.iter().map(|c| c.to_bytes()).collect();
            let mut dev = SimDevice {
                key: world.next_key,
                bus: 1,
                address: world.next_address,
                ports: vec![port],
                spec,
                raw_configs,
                connected: true,
                active_config: 0,
                alt: BTreeMap::new(),
                claims: BTreeMap::new(),
                halted: BTreeSet::new(),
                drivers: BTreeSet::new(),
            };
            dev.configure(1); // as Linux does after enumeration
            world.next_key += 1;
            world.next_address += 1;
            world.devices.push(dev);
        }
        SimBackend {
            shared: Arc::new(Shared {
                world: Mutex::new(world),
                changed: Condvar::new(),
            }),
        }
    }

    pub fn controller(&self) -> SimController {
        SimController {
            shared: self.shared.clone(),
        }
    }
}

impl SimController {
    /// Disconnects the device `vendor:product`; false if it is unknown or already gone.
    pub fn unplug(&self, vendor: u16, product: u16) -> bool {
        let mut w = self.shared.lock();
        let Some(key) = w
            .find(vendor, product)
            .filter(|d| d.connected)
            .map(|d| d.key)
        else {
            return false;
        };
        w.unplug(key);
        drop(w);
        self.shared.changed.notify_all();
        log::debug!("sim: unplugged {vendor:04x}:{product:04x}");
        true
    }

    /// Reconnects a device: it re-enumerates with a new address (and a new identity, so old
    /// `usb-device`s and handles stay dead).
    pub fn replug(&self, vendor: u16, product: u16) -> bool {
        let mut w = self.shared.lock();
        let key = w.next_key;
        let address = w.next_address;
        let Some(dev) = w.find(vendor, product).filter(|d| !d.connected) else {
            return false;
        };
        dev.key = key;
        dev.address = address;
        dev.connected = true;
        dev.configure(1);
        dev.spec.function.reset();
        let info = dev.info();
        w.next_key += 1;
        w.next_address = w.next_address.checked_add(1).unwrap_or(2).max(2);
        if let Some(events) = w.hotplug.as_mut() {
            events.push(HotplugEvent::Arrived(info));
        }
        true
    }

    /// Unplugs the device after `delay` on a helper thread (to remove it mid-transfer).
    pub fn unplug_after(
        &self,
        vendor: u16,
        product: u16,
        delay: Duration,
    ) -> std::thread::JoinHandle<bool> {
        let c = self.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            c.unplug(vendor, product)
        })
    }

    /// Injects faults into the world's transfers from now on ([`UsbFaultPlan`]); `None`
    /// ends injection.
    pub fn set_faults(&self, plan: Option<UsbFaultPlan>) {
        self.shared.lock().faults = plan;
    }

    /// The faults injected since the plan was set.
    pub fn injected(&self) -> Vec<InjectedUsb> {
        self.shared
            .lock()
            .faults
            .as_ref()
            .map(|p| p.injected().to_vec())
            .unwrap_or_default()
    }

    pub fn is_connected(&self, vendor: u16, product: u16) -> bool {
        self.shared
            .lock()
            .find(vendor, product)
            .is_some_and(|d| d.connected)
    }

    /// Whether a simulated kernel driver holds the interface.
    pub fn kernel_driver_bound(&self, vendor: u16, product: u16, interface: u8) -> bool {
        self.shared
            .lock()
            .find(vendor, product)
            .is_some_and(|d| d.drivers.contains(&interface))
    }
}

impl UsbBackend for SimBackend {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn list_devices(&mut self) -> UsbResult<Vec<DeviceInfo>> {
        let w = self.shared.lock();
        Ok(w.devices
            .iter()
            .filter(|d| d.connected)
            .map(SimDevice::info)
            .collect())
    }

    fn config_descriptors(&mut self, key: DeviceKey) -> UsbResult<Vec<Vec<u8>>> {
        Ok(self.shared.lock().device(key)?.raw_configs.clone())
    }

    fn active_configuration(&mut self, key: DeviceKey) -> UsbResult<u8> {
        Ok(self.shared.lock().device(key)?.active_config)
    }

    fn open(&mut self, key: DeviceKey) -> UsbResult<Box<dyn UsbDeviceHandle>> {
        let mut w = self.shared.lock();
        w.device(key)?;
        let id = w.next_handle;
        w.next_handle += 1;
        Ok(Box::new(SimHandle {
            shared: self.shared.clone(),
            key,
            id,
            next_transfer: 1,
            transfers: BTreeMap::new(),
        }))
    }

    fn enable_hotplug(&mut self) -> UsbResult<()> {
        let mut w = self.shared.lock();
        w.hotplug.get_or_insert_with(Vec::new);
        Ok(())
    }

    fn poll_hotplug(&mut self) -> Vec<HotplugEvent> {
        let mut w = self.shared.lock();
        w.hotplug.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

struct Pending {
    endpoint: u8,
    is_in: bool,
    length: usize,
    data: Vec<u8>,
    deadline: Option<Instant>,
    cancelled: bool,
}

enum SimTransfer {
    Done(UsbResult<Vec<u8>>),
    Pending(Pending),
}

struct SimHandle {
    shared: Arc<Shared>,
    key: DeviceKey,
    id: u64,
    next_transfer: TransferId,
    transfers: BTreeMap<TransferId, SimTransfer>,
}

impl SimHandle {
    fn with_device<T>(&self, f: impl FnOnce(&mut SimDevice, u64) -> UsbResult<T>) -> UsbResult<T> {
        let mut w = self.shared.lock();
        let dev = w.device(self.key)?;
        f(dev, self.id)
    }

    fn claimed_by_me(dev: &SimDevice, me: u64, interface: u8) -> UsbResult<()> {
        if dev.claims.get(&interface) == Some(&me) {
            Ok(())
        } else {
            Err(UsbError::NotFound)
        }
    }

    /// Moves a bulk/interrupt transfer forward. `None`: the device NAKed and `block` is
    /// false. With `block`, waits for a change (removal, data from another handle) until the
    /// transfer's deadline.
    /// One attempt at `p`; with `block`, waits (device changes, the deadline) until it
    /// completes, or `stop` turns true (checked every [`STOP_POLL`]).
    fn step(
        &self,
        p: &Pending,
        block: bool,
        stop: &dyn Fn() -> bool,
    ) -> Option<UsbResult<Vec<u8>>> {
        if p.cancelled {
            return Some(Err(UsbError::Interrupted));
        }
        let mut w = self.shared.lock();
        loop {
            let dev = match w.device(self.key) {
                Ok(d) => d,
                Err(e) => return Some(Err(e)),
            };
            if dev.halted.contains(&p.endpoint) {
                return Some(Err(UsbError::Pipe));
            }
            if p.is_in {
                match dev.spec.function.bulk_in(p.endpoint, p.length) {
                    InOutcome::Data(d) if d.len() > p.length => {
                        return Some(Err(UsbError::Overflow))
                    }
                    InOutcome::Data(d) => return Some(Ok(d)),
                    InOutcome::Stall => {
                        dev.halted.insert(p.endpoint);
                        return Some(Err(UsbError::Pipe));
                    }
                    InOutcome::Nak => {}
                }
            } else {
                match dev.spec.function.bulk_out(p.endpoint, &p.data) {
                    OutOutcome::Accepted => {
                        self.shared.changed.notify_all();
                        return Some(Ok(Vec::new()));
                    }
                    OutOutcome::Stall => {
                        dev.halted.insert(p.endpoint);
                        return Some(Err(UsbError::Pipe));
                    }
                    OutOutcome::Nak => {}
                }
            }
            if !block {
                return None;
            }
            if stop() {
                return Some(Err(UsbError::Interrupted));
            }
            let now = Instant::now();
            let wait = match p.deadline {
                Some(d) if now >= d => return Some(Err(UsbError::Timeout)),
                Some(d) => (d - now).min(STOP_POLL),
                None => STOP_POLL,
            };
            w = self
                .shared
                .changed
                .wait_timeout(w, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Runs a transfer to completion (or timeout, cancellation, removal).
    fn resolve(&mut self, id: TransferId, stop: &dyn Fn() -> bool) -> UsbResult<Vec<u8>> {
        match self.transfers.remove(&id) {
            None => Err(UsbError::NotFound),
            Some(SimTransfer::Done(r)) => r,
            Some(SimTransfer::Pending(p)) => {
                self.step(&p, true, stop).unwrap_or(Err(UsbError::Other))
            }
        }
    }
}

impl UsbDeviceHandle for SimHandle {
    fn get_configuration(&mut self) -> UsbResult<u8> {
        self.with_device(|d, _| Ok(d.active_config))
    }

    fn set_configuration(&mut self, value: u8) -> UsbResult<()> {
        self.with_device(|d, me| d.set_configuration(me, value))
    }

    fn claim_interface(&mut self, interface: u8) -> UsbResult<()> {
        self.with_device(|d, me| {
            if !d.has_interface(interface) {
                return Err(UsbError::NotFound);
            }
            if d.drivers.contains(&interface) {
                return Err(UsbError::Busy);
            }
            match d.claims.get(&interface) {
                Some(&h) if h != me => Err(UsbError::Busy),
                _ => {
                    d.claims.insert(interface, me);
                    Ok(())
                }
            }
        })
    }

    fn release_interface(&mut self, interface: u8) -> UsbResult<()> {
        self.with_device(|d, me| {
            Self::claimed_by_me(d, me, interface)?;
            d.claims.remove(&interface);
            // libusb/Linux put the interface back to alternate setting 0.
            let _ = d.set_alt(interface, 0);
            Ok(())
        })
    }

    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> UsbResult<()> {
        self.with_device(|d, me| {
            Self::claimed_by_me(d, me, interface)?;
            d.set_alt(interface, alt)
        })
    }

    fn clear_halt(&mut self, endpoint: u8) -> UsbResult<()> {
        self.with_device(|d, _| {
            d.endpoint(endpoint).ok_or(UsbError::NotFound)?;
            d.halted.remove(&endpoint);
            Ok(())
        })?;
        self.shared.changed.notify_all();
        Ok(())
    }

    fn reset(&mut self) -> UsbResult<()> {
        self.with_device(|d, _| {
            d.alt.clear();
            d.halted.clear();
            d.spec.function.reset();
            Ok(())
        })?;
        for t in self.transfers.values_mut() {
            if let SimTransfer::Pending(p) = t {
                p.cancelled = true;
            }
        }
        Ok(())
    }

    fn kernel_driver_active(&mut self, interface: u8) -> UsbResult<bool> {
        self.with_device(|d, _| {
            if !d.has_interface(interface) {
                return Err(UsbError::NotFound);
            }
            Ok(d.drivers.contains(&interface))
        })
    }

    fn detach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.with_device(|d, _| {
            if !d.has_interface(interface) {
                return Err(UsbError::NotFound);
            }
            if !d.drivers.remove(&interface) {
                return Err(UsbError::NotFound);
            }
            Ok(())
        })
    }

    fn attach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.with_device(|d, _| {
            if !d.has_interface(interface) {
                return Err(UsbError::NotFound);
            }
            if d.claims.contains_key(&interface) || d.drivers.contains(&interface) {
                return Err(UsbError::Busy);
            }
            d.drivers.insert(interface);
            Ok(())
        })
    }

    fn submit(&mut self, req: TransferRequest) -> UsbResult<TransferId> {
        let is_in = req.is_in();
        let endpoint = if req.kind == TransferType::Control {
            0
        } else {
            req.endpoint
        };
        let fault = {
            let mut w = self.shared.lock();
            let fault = w
                .faults
                .as_mut()
                .and_then(|p| p.on_transfer(endpoint, is_in));
            match fault {
                Some(UsbFault::Stall) if endpoint != 0 => {
                    if let Ok(d) = w.device(self.key) {
                        d.halted.insert(endpoint);
                    }
                }
                Some(UsbFault::Disconnect) => {
                    w.unplug(self.key);
                }
                _ => {}
            }
            fault
        };
        if fault == Some(UsbFault::Disconnect) {
            self.shared.changed.notify_all();
        }
        let pending = if fault.is_some() {
            Err(Err(UsbError::Other)) // replaced by the fault below
        } else {
            self.with_device(|d, me| {
                if req.kind == TransferType::Control {
                    // Control transfers run to completion right away; a stall is the result.
                    return Ok(Err(d.control(me, &req.setup, &req.data, req.length)));
                }
                let (interface, ep) = d.endpoint(req.endpoint).ok_or(UsbError::NotFound)?;
                Self::claimed_by_me(d, me, interface)?;
                let wanted = match req.kind {
                    TransferType::Bulk => EP_BULK,
                    TransferType::Interrupt => EP_INTERRUPT,
                    _ => return Err(UsbError::NotSupported),
                };
                if ep.transfer_type() != wanted {
                    return Err(UsbError::InvalidParam);
                }
                Ok(Ok(Pending {
                    endpoint: req.endpoint,
                    is_in,
                    length: req.length,
                    data: req.data,
                    deadline: req.timeout.map(|t| Instant::now() + t),
                    cancelled: false,
                }))
            })?
        };
        let transfer = match (fault, pending) {
            // The device never saw the transfer (a control request is not carried out).
            (Some(f), _) => SimTransfer::Done(Err(f.error())),
            (None, pending) => match pending {
                Err(control_result) => SimTransfer::Done(control_result),
                // OUT data goes to the device at submission, as a host controller would send it;
                // if the device NAKs, the transfer stays pending until awaited.
                Ok(p) if !is_in => match self.step(&p, false, &|| false) {
                    Some(r) => SimTransfer::Done(r),
                    None => SimTransfer::Pending(p),
                },
                Ok(p) => SimTransfer::Pending(p),
            },
        };
        let id = self.next_transfer;
        self.next_transfer += 1;
        self.transfers.insert(id, transfer);
        Ok(id)
    }

    /// Simulated transfers run when waited for; one the device NAKs waits for the device,
    /// its deadline or `stop` (then it ends `interrupted`, as after a cancel).
    fn wait_unless(&mut self, id: TransferId, stop: &dyn Fn() -> bool) -> UsbResult<Vec<u8>> {
        let ep = match self.transfers.get(&id) {
            None => return Err(UsbError::NotFound),
            Some(SimTransfer::Done(_)) => return self.resolve(id, stop),
            Some(SimTransfer::Pending(p)) => p.endpoint,
        };
        // Earlier transfers on the same endpoint complete first (hardware order).
        let earlier: Vec<TransferId> = self
            .transfers
            .range(..id)
            .filter(|(_, t)| matches!(t, SimTransfer::Pending(p) if p.endpoint == ep))
            .map(|(&k, _)| k)
            .collect();
        for e in earlier {
            let r = self.resolve(e, stop);
            self.transfers.insert(e, SimTransfer::Done(r));
        }
        self.resolve(id, stop)
    }

    fn cancel(&mut self, id: TransferId) -> UsbResult<()> {
        match self.transfers.get_mut(&id) {
            Some(SimTransfer::Pending(p)) if !p.cancelled => {
                p.cancelled = true;
                Ok(())
            }
            // Already complete (or already cancelled): nothing to cancel, as in libusb.
            _ => Err(UsbError::NotFound),
        }
    }

    fn discard(&mut self, id: TransferId) {
        self.transfers.remove(&id);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let mut w = self.shared.lock();
        if let Ok(dev) = w.device(self.key) {
            let me = self.id;
            dev.claims.retain(|_, h| *h != me);
        }
    }
}
