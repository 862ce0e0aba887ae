//! The real backend: nusb over Linux usbfs, with sysfs for what libusb also reads from
//! sysfs (raw descriptors without opening the device, the active configuration, which
//! kernel driver is bound).
//!
//! Limits of nusb that shape the mapping:
//! - Bulk/interrupt transfers complete in submission order per endpoint, and nusb can only
//!   cancel all transfers of an endpoint at once: a timeout or `cancel-transfer` on one
//!   transfer also cancels the ones queued behind it on the same endpoint (they report
//!   `interrupted`). Drivers that keep one transfer in flight per endpoint are unaffected.
//! - USB 3 bulk streams are not supported (`not-supported`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use ::nusb::descriptors::TransferType as EpType;
use ::nusb::transfer::{
    Buffer, Bulk, Completion, ControlIn, ControlOut, ControlType, In, Interrupt, Out, Recipient,
    TransferError,
};
use ::nusb::{Endpoint, MaybeFuture};
use futures_core::Stream;

use crate::backend::*;
use crate::descriptors::{DeviceDescriptor, MAX_CONFIG_LEN};
use crate::error::{UsbError, UsbResult};

/// "Forever" for nusb calls that take a timeout (it clamps to a day anyway).
const FOREVER: Duration = Duration::from_secs(24 * 60 * 60);
/// How soon a transfer wait notices that its instance is being stopped.
const STOP_POLL: Duration = Duration::from_millis(20);

/// Maps nusb's error (kind first: nusb has already interpreted the errno per call, e.g.
/// ENOENT on open means the device is gone; the errno refines `Other`).
pub fn map_error(e: &::nusb::Error) -> UsbError {
    use ::nusb::ErrorKind as K;
    match e.kind() {
        K::Disconnected => UsbError::NoDevice,
        K::Busy => UsbError::Busy,
        K::PermissionDenied => UsbError::Access,
        K::NotFound => UsbError::NotFound,
        K::Unsupported => UsbError::NotSupported,
        _ => match e.os_error() {
            Some(code) => UsbError::from_errno(code as i32),
            None => UsbError::Other,
        },
    }
}

/// Maps a transfer error. `Cancelled` is ambiguous in nusb (timeout or cancellation); the
/// caller knows which and passes it as `cancelled_means`.
pub fn map_transfer_error(e: TransferError, cancelled_means: UsbError) -> UsbError {
    match e {
        TransferError::Cancelled => cancelled_means,
        TransferError::Stall => UsbError::Pipe,
        TransferError::Disconnected => UsbError::NoDevice,
        TransferError::Fault => UsbError::Io,
        TransferError::InvalidArgument => UsbError::InvalidParam,
        TransferError::Unknown(code) => UsbError::from_errno(code as i32),
    }
}

fn map_speed(s: Option<::nusb::Speed>) -> UsbSpeed {
    match s {
        Some(::nusb::Speed::Low) => UsbSpeed::Low,
        Some(::nusb::Speed::Full) => UsbSpeed::Full,
        Some(::nusb::Speed::High) => UsbSpeed::High,
        Some(::nusb::Speed::Super) => UsbSpeed::Super,
        Some(::nusb::Speed::SuperPlus) => UsbSpeed::SuperPlus,
        _ => UsbSpeed::Unknown,
    }
}

/// Raw `descriptors` sysfs attribute: device descriptor then every configuration.
fn read_sysfs_descriptors(sysfs: &Path) -> UsbResult<Vec<u8>> {
    let raw = std::fs::read(sysfs.join("descriptors")).map_err(|e| UsbError::from_io(&e))?;
    if raw.len() > 18 + 8 * MAX_CONFIG_LEN {
        return Err(UsbError::Io);
    }
    Ok(raw)
}

/// Splits the configurations out of the sysfs `descriptors` blob.
pub fn split_configs(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = raw.first().map_or(0, |&l| usize::from(l).max(18));
    while at + 4 <= raw.len() {
        let total = usize::from(u16::from_le_bytes([raw[at + 2], raw[at + 3]]));
        if raw[at + 1] != crate::descriptors::DT_CONFIG || total < 9 || at + total > raw.len() {
            break;
        }
        out.push(raw[at..at + total].to_vec());
        at += total;
    }
    out
}

fn sysfs_config_value(sysfs: &Path) -> UsbResult<u8> {
    match std::fs::read_to_string(sysfs.join("bConfigurationValue")) {
        Ok(s) if s.trim().is_empty() => Ok(0),
        Ok(s) => s.trim().parse().map_err(|_| UsbError::Io),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(UsbError::NoDevice),
        Err(e) => Err(UsbError::from_io(&e)),
    }
}

pub struct NusbBackend {
    known: HashMap<DeviceKey, ::nusb::DeviceInfo>,
    keys: HashMap<::nusb::DeviceId, DeviceKey>,
    next_key: DeviceKey,
    watch: Option<::nusb::hotplug::HotplugWatch>,
}

impl NusbBackend {
    pub fn new() -> NusbBackend {
        NusbBackend {
            known: HashMap::new(),
            keys: HashMap::new(),
            next_key: 1,
            watch: None,
        }
    }

    fn key_for(&mut self, info: &::nusb::DeviceInfo) -> DeviceKey {
        let next = &mut self.next_key;
        let key = *self.keys.entry(info.id()).or_insert_with(|| {
            *next += 1;
            *next - 1
        });
        self.known.insert(key, info.clone());
        key
    }

    fn info(&self, key: DeviceKey) -> UsbResult<&::nusb::DeviceInfo> {
        self.known.get(&key).ok_or(UsbError::NoDevice)
    }

    fn describe(key: DeviceKey, info: &::nusb::DeviceInfo) -> UsbResult<DeviceInfo> {
        let raw = read_sysfs_descriptors(info.sysfs_path())?;
        let descriptor = DeviceDescriptor::parse(&raw).ok_or(UsbError::Io)?;
        Ok(DeviceInfo {
            key,
            descriptor,
            bus: info.busnum(),
            address: info.device_address(),
            ports: info.port_chain().to_vec(),
            speed: map_speed(info.speed()),
        })
    }
}

impl Default for NusbBackend {
    fn default() -> Self {
        NusbBackend::new()
    }
}

impl UsbBackend for NusbBackend {
    fn name(&self) -> &'static str {
        "nusb"
    }

    fn list_devices(&mut self) -> UsbResult<Vec<DeviceInfo>> {
        if !Path::new("/sys/bus/usb/devices").exists() {
            // No USB subsystem (e.g. a container): no devices, rather than an error.
            return Ok(Vec::new());
        }
        let list: Vec<::nusb::DeviceInfo> = ::nusb::list_devices()
            .wait()
            .map_err(|e| map_error(&e))?
            .collect();
        // Forget devices that are gone: their `usb-device`s then report no-device.
        let present: std::collections::HashSet<::nusb::DeviceId> =
            list.iter().map(|i| i.id()).collect();
        self.keys.retain(|id, _| present.contains(id));
        let live: std::collections::HashSet<DeviceKey> = self.keys.values().copied().collect();
        self.known.retain(|k, _| live.contains(k));
        let mut out = Vec::with_capacity(list.len());
        for info in list {
            let key = self.key_for(&info);
            match Self::describe(key, &info) {
                Ok(d) => out.push(d),
                Err(e) => log::warn!(
                    "usb: skipping {:?}: cannot read its descriptors ({e})",
                    info.sysfs_path()
                ),
            }
        }
        Ok(out)
    }

    fn config_descriptors(&mut self, key: DeviceKey) -> UsbResult<Vec<Vec<u8>>> {
        let raw = read_sysfs_descriptors(self.info(key)?.sysfs_path())?;
        Ok(split_configs(&raw))
    }

    fn active_configuration(&mut self, key: DeviceKey) -> UsbResult<u8> {
        sysfs_config_value(self.info(key)?.sysfs_path())
    }

    fn open(&mut self, key: DeviceKey) -> UsbResult<Box<dyn UsbDeviceHandle>> {
        let info = self.info(key)?.clone();
        let device = info.open().wait().map_err(|e| map_error(&e))?;
        Ok(Box::new(NusbHandle {
            device,
            sysfs: info.sysfs_path().to_path_buf(),
            interfaces: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            controls: BTreeMap::new(),
            ep_of: BTreeMap::new(),
            next_id: 1,
        }))
    }

    fn enable_hotplug(&mut self) -> UsbResult<()> {
        if self.watch.is_none() {
            self.watch = Some(::nusb::watch_devices().map_err(|e| map_error(&e))?);
            // Learn the current devices so that their removal can be reported.
            self.list_devices()?;
        }
        Ok(())
    }

    fn poll_hotplug(&mut self) -> Vec<HotplugEvent> {
        let mut events = Vec::new();
        let Some(mut watch) = self.watch.take() else {
            return events;
        };
        let mut cx = Context::from_waker(Waker::noop());
        // Bounded: at most this many events per poll, the rest stay queued in the socket.
        for _ in 0..256 {
            match Pin::new(&mut watch).poll_next(&mut cx) {
                Poll::Ready(Some(::nusb::hotplug::HotplugEvent::Connected(info))) => {
                    let key = self.key_for(&info);
                    match Self::describe(key, &info) {
                        Ok(d) => events.push(HotplugEvent::Arrived(d)),
                        Err(e) => log::warn!("usb hotplug: cannot describe new device: {e}"),
                    }
                }
                Poll::Ready(Some(::nusb::hotplug::HotplugEvent::Disconnected(id))) => {
                    let Some(key) = self.keys.remove(&id) else {
                        continue;
                    };
                    if let Some(info) = self.known.remove(&key) {
                        // The descriptor can no longer be read: report what nusb cached.
                        let descriptor = DeviceDescriptor {
                            length: 18,
                            descriptor_type: crate::descriptors::DT_DEVICE,
                            usb_version_bcd: info.usb_version(),
                            device_class: info.class(),
                            device_subclass: info.subclass(),
                            device_protocol: info.protocol(),
                            max_packet_size0: 0,
                            vendor_id: info.vendor_id(),
                            product_id: info.product_id(),
                            device_version_bcd: info.device_version(),
                            manufacturer_index: 0,
                            product_index: 0,
                            serial_number_index: 0,
                            num_configurations: 0,
                        };
                        events.push(HotplugEvent::Left(DeviceInfo {
                            key,
                            descriptor,
                            bus: info.busnum(),
                            address: info.device_address(),
                            ports: info.port_chain().to_vec(),
                            speed: map_speed(info.speed()),
                        }));
                    }
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        self.watch = Some(watch);
        events
    }
}

enum Ep {
    BulkIn(Endpoint<Bulk, In>),
    BulkOut(Endpoint<Bulk, Out>),
    IntIn(Endpoint<Interrupt, In>),
    IntOut(Endpoint<Interrupt, Out>),
}

macro_rules! each_ep {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            Ep::BulkIn($e) => $body,
            Ep::BulkOut($e) => $body,
            Ep::IntIn($e) => $body,
            Ep::IntOut($e) => $body,
        }
    };
}

impl Ep {
    fn max_packet_size(&self) -> usize {
        each_ep!(self, e => e.max_packet_size())
    }
    fn submit(&mut self, b: Buffer) {
        each_ep!(self, e => e.submit(b))
    }
    fn wait_next_complete(&mut self, t: Duration) -> Option<Completion> {
        each_ep!(self, e => e.wait_next_complete(t))
    }
    fn cancel_all(&mut self) {
        each_ep!(self, e => e.cancel_all())
    }
    fn pending(&self) -> usize {
        each_ep!(self, e => e.pending())
    }
    fn clear_halt(&mut self) -> Result<(), ::nusb::Error> {
        each_ep!(self, e => e.clear_halt().wait())
    }
}

struct Queued {
    id: TransferId,
    is_in: bool,
    length: usize,
    deadline: Option<Instant>,
    timed_out: bool,
    cancelled: bool,
}

struct EpState {
    interface: u8,
    ep: Ep,
    queue: VecDeque<Queued>,
    done: BTreeMap<TransferId, UsbResult<Vec<u8>>>,
}

type ControlWait = Box<dyn FnOnce() -> Result<Vec<u8>, TransferError> + Send>;

struct ControlPending {
    run: ControlWait,
    cancelled: bool,
}

struct NusbHandle {
    device: ::nusb::Device,
    sysfs: PathBuf,
    interfaces: BTreeMap<u8, ::nusb::Interface>,
    endpoints: BTreeMap<u8, EpState>,
    controls: BTreeMap<TransferId, ControlPending>,
    /// Bulk/interrupt transfer id → endpoint address.
    ep_of: BTreeMap<TransferId, u8>,
    next_id: TransferId,
}

impl NusbHandle {
    fn new_id(&mut self) -> TransferId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Opens (or reuses) the endpoint, which must be in the current alternate setting of an
    /// interface this handle claimed.
    fn endpoint(&mut self, address: u8, kind: Option<TransferType>) -> UsbResult<&mut EpState> {
        if !self.endpoints.contains_key(&address) {
            let mut found = None;
            for (&n, intf) in &self.interfaces {
                if let Some(d) = intf.descriptor() {
                    if let Some(ep) = d.endpoints().find(|e| e.address() == address) {
                        found = Some((n, intf.clone(), ep.transfer_type()));
                        break;
                    }
                }
            }
            let (n, intf, ty) = found.ok_or(UsbError::NotFound)?;
            let is_in = address & 0x80 != 0;
            let ep = match (ty, is_in) {
                (EpType::Bulk, true) => intf.endpoint::<Bulk, In>(address).map(Ep::BulkIn),
                (EpType::Bulk, false) => intf.endpoint::<Bulk, Out>(address).map(Ep::BulkOut),
                (EpType::Interrupt, true) => intf.endpoint::<Interrupt, In>(address).map(Ep::IntIn),
                (EpType::Interrupt, false) => {
                    intf.endpoint::<Interrupt, Out>(address).map(Ep::IntOut)
                }
                _ => return Err(UsbError::NotSupported),
            }
            .map_err(|e| map_error(&e))?;
            self.endpoints.insert(
                address,
                EpState {
                    interface: n,
                    ep,
                    queue: VecDeque::new(),
                    done: BTreeMap::new(),
                },
            );
        }
        let st = self.endpoints.get_mut(&address).expect("inserted above");
        let matches = matches!(
            (kind, &st.ep),
            (None, _)
                | (Some(TransferType::Bulk), Ep::BulkIn(_) | Ep::BulkOut(_))
                | (Some(TransferType::Interrupt), Ep::IntIn(_) | Ep::IntOut(_))
        );
        if !matches {
            return Err(UsbError::InvalidParam);
        }
        Ok(st)
    }

    /// Closes the endpoints of an interface (needed before changing its alternate setting
    /// or releasing it). Busy if transfers are still in flight.
    fn close_endpoints(&mut self, interface: u8, force: bool) -> UsbResult<()> {
        let busy = self
            .endpoints
            .values()
            .any(|s| s.interface == interface && s.ep.pending() > 0);
        if busy && !force {
            return Err(UsbError::Busy);
        }
        let ids: Vec<u8> = self
            .endpoints
            .iter()
            .filter(|(_, s)| s.interface == interface)
            .map(|(&a, _)| a)
            .collect();
        for a in ids {
            if let Some(mut s) = self.endpoints.remove(&a) {
                s.ep.cancel_all();
                self.ep_of.retain(|_, ep| *ep != a);
            }
        }
        Ok(())
    }

    fn complete(c: Completion, q: &Queued) -> UsbResult<Vec<u8>> {
        match c.status {
            Ok(()) if q.is_in => {
                if c.buffer.len() > q.length {
                    return Err(UsbError::Overflow);
                }
                Ok(c.buffer.into_vec())
            }
            Ok(()) => Ok(Vec::new()),
            Err(e) => {
                let cancelled_means = if q.timed_out {
                    UsbError::Timeout
                } else {
                    UsbError::Interrupted
                };
                Err(map_transfer_error(e, cancelled_means))
            }
        }
    }
}

impl UsbDeviceHandle for NusbHandle {
    fn get_configuration(&mut self) -> UsbResult<u8> {
        sysfs_config_value(&self.sysfs)
    }

    fn set_configuration(&mut self, value: u8) -> UsbResult<()> {
        self.device
            .set_configuration(value)
            .wait()
            .map_err(|e| map_error(&e))?;
        self.endpoints.clear();
        self.ep_of.clear();
        self.interfaces.clear();
        Ok(())
    }

    fn claim_interface(&mut self, interface: u8) -> UsbResult<()> {
        if self.interfaces.contains_key(&interface) {
            return Ok(());
        }
        let intf = self
            .device
            .claim_interface(interface)
            .wait()
            .map_err(|e| map_error(&e))?;
        self.interfaces.insert(interface, intf);
        Ok(())
    }

    fn release_interface(&mut self, interface: u8) -> UsbResult<()> {
        if !self.interfaces.contains_key(&interface) {
            return Err(UsbError::NotFound);
        }
        self.close_endpoints(interface, true)?;
        let intf = self.interfaces.remove(&interface).expect("checked");
        intf.release().wait().map_err(|e| map_error(&e))
    }

    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> UsbResult<()> {
        if !self.interfaces.contains_key(&interface) {
            return Err(UsbError::NotFound);
        }
        self.close_endpoints(interface, false)?;
        let intf = &self.interfaces[&interface];
        intf.set_alt_setting(alt).wait().map_err(|e| map_error(&e))
    }

    fn clear_halt(&mut self, endpoint: u8) -> UsbResult<()> {
        let st = self.endpoint(endpoint, None)?;
        st.ep.clear_halt().map_err(|e| map_error(&e))
    }

    fn reset(&mut self) -> UsbResult<()> {
        self.device.reset().wait().map_err(|e| map_error(&e))
    }

    fn kernel_driver_active(&mut self, interface: u8) -> UsbResult<bool> {
        let config = sysfs_config_value(&self.sysfs)?;
        if config == 0 {
            return Err(UsbError::NotFound);
        }
        let name = self
            .sysfs
            .file_name()
            .ok_or(UsbError::Other)?
            .to_string_lossy();
        let dir = self.sysfs.join(format!("{name}:{config}.{interface}"));
        if !dir.exists() {
            return Err(UsbError::NotFound);
        }
        // libusb: a claim through usbfs is not a kernel driver.
        match std::fs::read_link(dir.join("driver")) {
            Ok(target) => Ok(target.file_name().is_some_and(|n| n != "usbfs")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(UsbError::from_io(&e)),
        }
    }

    fn detach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.device
            .detach_kernel_driver(interface)
            .map_err(|e| map_error(&e))
    }

    fn attach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.device
            .attach_kernel_driver(interface)
            .map_err(|e| map_error(&e))
    }

    fn submit(&mut self, req: TransferRequest) -> UsbResult<TransferId> {
        let timeout = req.timeout;
        if req.kind == TransferType::Control {
            let s = req.setup;
            let control_type = match s.request_kind() {
                0 => ControlType::Standard,
                1 => ControlType::Class,
                2 => ControlType::Vendor,
                _ => return Err(UsbError::InvalidParam),
            };
            let recipient = match s.recipient() {
                0 => Recipient::Device,
                1 => Recipient::Interface,
                2 => Recipient::Endpoint,
                3 => Recipient::Other,
                _ => return Err(UsbError::InvalidParam),
            };
            let t = timeout.unwrap_or(FOREVER);
            // nusb submits on creation; `wait` later collects the result.
            let run: ControlWait = if s.is_in() {
                let fut = self.device.control_in(
                    ControlIn {
                        control_type,
                        recipient,
                        request: s.b_request,
                        value: s.w_value,
                        index: s.w_index,
                        length: req.length as u16,
                    },
                    t,
                );
                Box::new(move || fut.wait())
            } else {
                let fut = self.device.control_out(
                    ControlOut {
                        control_type,
                        recipient,
                        request: s.b_request,
                        value: s.w_value,
                        index: s.w_index,
                        data: &req.data,
                    },
                    t,
                );
                Box::new(move || fut.wait().map(|()| Vec::new()))
            };
            let id = self.new_id();
            self.controls.insert(
                id,
                ControlPending {
                    run,
                    cancelled: false,
                },
            );
            return Ok(id);
        }
        let id = self.next_id;
        let st = self.endpoint(req.endpoint, Some(req.kind))?;
        let is_in = req.endpoint & 0x80 != 0;
        let buf = if is_in {
            // nusb wants a non-zero multiple of the packet size; more than asked is overflow.
            let mps = st.ep.max_packet_size().max(1);
            Buffer::new(req.length.max(1).div_ceil(mps) * mps)
        } else {
            Buffer::from(req.data)
        };
        st.ep.submit(buf);
        st.queue.push_back(Queued {
            id,
            is_in,
            length: req.length,
            deadline: timeout.map(|t| Instant::now() + t),
            timed_out: false,
            cancelled: false,
        });
        self.next_id += 1;
        self.ep_of.insert(id, req.endpoint);
        Ok(id)
    }

    fn wait_unless(&mut self, id: TransferId, stop: &dyn Fn() -> bool) -> UsbResult<Vec<u8>> {
        if let Some(c) = self.controls.remove(&id) {
            if c.cancelled {
                // Dropping the future abandons the request (nusb cleans up on completion).
                drop(c.run);
                return Err(UsbError::Interrupted);
            }
            // nusb cancels a control transfer only when its timeout expires.
            return (c.run)().map_err(|e| map_transfer_error(e, UsbError::Timeout));
        }
        let address = self.ep_of.remove(&id).ok_or(UsbError::NotFound)?;
        let st = self.endpoints.get_mut(&address).ok_or(UsbError::NotFound)?;
        loop {
            if let Some(r) = st.done.remove(&id) {
                return r;
            }
            if stop() && st.queue.front().is_some_and(|f| !f.cancelled) {
                // The instance is being stopped: cancel what is pending; the completions
                // (with `interrupted`) are collected below like any other.
                for q in st.queue.iter_mut() {
                    q.cancelled = true;
                }
                st.ep.cancel_all();
            }
            let Some(front) = st.queue.front_mut() else {
                return Err(UsbError::NotFound);
            };
            let wait = match front.deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => FOREVER,
            };
            // Woken at least this often to look at `stop`.
            match st.ep.wait_next_complete(wait.min(STOP_POLL)) {
                Some(c) => {
                    let q = st.queue.pop_front().expect("front exists");
                    let r = Self::complete(c, &q);
                    st.done.insert(q.id, r);
                }
                None if front.deadline.is_some_and(|d| Instant::now() >= d) && !front.timed_out => {
                    front.timed_out = true;
                    st.ep.cancel_all();
                }
                None => {}
            }
        }
    }

    fn cancel(&mut self, id: TransferId) -> UsbResult<()> {
        if let Some(c) = self.controls.get_mut(&id) {
            if c.cancelled {
                return Err(UsbError::NotFound);
            }
            c.cancelled = true;
            return Ok(());
        }
        let address = *self.ep_of.get(&id).ok_or(UsbError::NotFound)?;
        let st = self.endpoints.get_mut(&address).ok_or(UsbError::NotFound)?;
        match st.queue.iter_mut().find(|q| q.id == id) {
            Some(q) if !q.cancelled => {
                q.cancelled = true;
                st.ep.cancel_all();
                Ok(())
            }
            _ => Err(UsbError::NotFound),
        }
    }

    fn discard(&mut self, id: TransferId) {
        self.controls.remove(&id);
        if let Some(address) = self.ep_of.remove(&id) {
            if let Some(st) = self.endpoints.get_mut(&address) {
                st.done.remove(&id);
                if st.queue.iter().any(|q| q.id == id) {
                    // Its completion will still come; make sure it is not waited for forever.
                    st.ep.cancel_all();
                    // Drain so the queue matches nusb's pending list again.
                    while let Some(q) = st.queue.pop_front() {
                        match st.ep.wait_next_complete(Duration::from_secs(1)) {
                            Some(c) if q.id != id => {
                                let r = Self::complete(c, &q);
                                st.done.insert(q.id, r);
                            }
                            Some(_) => {}
                            None => {
                                log::warn!("usb: cancelled transfer did not complete within 1 s");
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sysfs_descriptor_blob() {
        let dev = [
            18u8, 1, 0, 2, 0, 0, 0, 64, 0x09, 0x12, 1, 0, 0, 1, 1, 2, 3, 2,
        ];
        let c1 = [
            9u8, 2, 18, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 0, 0xff, 0, 0, 0,
        ];
        let c2 = [9u8, 2, 9, 0, 0, 2, 0, 0x80, 50];
        let mut blob = dev.to_vec();
        blob.extend_from_slice(&c1);
        blob.extend_from_slice(&c2);
        assert_eq!(split_configs(&blob), vec![c1.to_vec(), c2.to_vec()]);
        // Truncated trailing config is dropped, not read past the end.
        assert_eq!(split_configs(&blob[..blob.len() - 1]), vec![c1.to_vec()]);
        assert!(split_configs(&dev).is_empty());
    }

    #[test]
    fn transfer_errors_map_like_libusb() {
        assert_eq!(
            map_transfer_error(TransferError::Stall, UsbError::Interrupted),
            UsbError::Pipe
        );
        assert_eq!(
            map_transfer_error(TransferError::Disconnected, UsbError::Interrupted),
            UsbError::NoDevice
        );
        assert_eq!(
            map_transfer_error(TransferError::Cancelled, UsbError::Timeout),
            UsbError::Timeout
        );
        assert_eq!(
            map_transfer_error(TransferError::Fault, UsbError::Timeout),
            UsbError::Io
        );
        assert_eq!(
            map_transfer_error(
                TransferError::Unknown(libc::EOVERFLOW as u32),
                UsbError::Timeout
            ),
            UsbError::Overflow
        );
    }

    #[test]
    fn lists_host_devices_without_failing() {
        // Works with or without USB devices (CI containers usually have none); must not
        // fail when /sys/bus/usb exists, and every listed device must carry a descriptor.
        let mut b = NusbBackend::new();
        let devices = b.list_devices().expect("enumeration");
        for d in devices {
            assert_eq!(d.descriptor.descriptor_type, 1);
            assert!(
                !b.config_descriptors(d.key).unwrap().is_empty()
                    || d.descriptor.num_configurations == 0
            );
        }
    }
}
