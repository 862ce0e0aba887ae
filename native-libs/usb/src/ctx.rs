//! Per-instance WASI-USB state: the grants (policy), the backend that serves them, and the
//! instance's resources (`usb-device`, `device-handle`, `transfer`) in the engine's
//! resource table, with the host logic the natives call (`natives/`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use wasi_hw_engine::{Caller, Resource, ResourceTable, Trap};
use wasi_hw_policy::usb::{DeviceAccess, DeviceIdentity, UsbPolicy};

use crate::abi;
use crate::backend::keeper::DeviceKeeper;
use crate::backend::reattach::Reattaching;
use crate::backend::*;
use crate::descriptors::ConfigurationDescriptor;
use crate::error::{UsbError, UsbResult};
use crate::natives::{MAX_IN_FLIGHT, MAX_RESOURCES, MAX_TRANSFER_SIZE};

pub(crate) type SharedHandle = Arc<Mutex<Option<Box<dyn UsbDeviceHandle>>>>;

pub(crate) fn lock(h: &SharedHandle) -> MutexGuard<'_, Option<Box<dyn UsbDeviceHandle>>> {
    h.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct DeviceRes {
    pub(crate) info: DeviceInfo,
    pub(crate) access: DeviceAccess,
}

pub(crate) struct HandleRes {
    pub(crate) key: DeviceKey,
    pub(crate) access: DeviceAccess,
    pub(crate) handle: SharedHandle,
}

pub(crate) enum TransferState {
    Created,
    Submitted(TransferId),
}

/// Bytes of a submitted transfer, counted against the instance's in-flight budget
/// ([`MAX_IN_FLIGHT`]) until the transfer is awaited or dropped. A 32-bit counter: the
/// budget is far below 4 GiB, and 32-bit MIPS has no 64-bit atomics.
pub(crate) struct InFlight {
    counter: Arc<AtomicU32>,
    bytes: u32,
}

impl InFlight {
    /// Takes `bytes` from the budget, or `None` if that would exceed it.
    pub(crate) fn take(counter: &Arc<AtomicU32>, bytes: u64) -> Option<InFlight> {
        let bytes = u32::try_from(bytes).ok()?;
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes)
                    .filter(|&n| u64::from(n) <= MAX_IN_FLIGHT)
            })
            .ok()?;
        Some(InFlight {
            counter: Arc::clone(counter),
            bytes,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

pub(crate) struct TransferRes {
    pub(crate) handle: SharedHandle,
    pub(crate) kind: TransferType,
    pub(crate) setup: TransferSetup,
    pub(crate) buf_size: u32,
    pub(crate) endpoint: u8,
    pub(crate) timeout: Option<Duration>,
    pub(crate) state: TransferState,
    /// Held while submitted.
    pub(crate) in_flight: Option<InFlight>,
}

impl TransferRes {
    pub(crate) fn is_in(&self) -> bool {
        match self.kind {
            TransferType::Control => self.setup.is_in(),
            _ => self.endpoint & 0x80 != 0,
        }
    }
}

impl Drop for TransferRes {
    fn drop(&mut self) {
        // A transfer dropped before being awaited is cancelled (libusb_free_transfer after
        // libusb_cancel_transfer).
        if let TransferState::Submitted(id) = self.state {
            if let Some(h) = lock(&self.handle).as_mut() {
                h.discard(id);
            }
        }
    }
}

impl Resource for DeviceRes {
    const KIND: &'static str = "usb-device";
}

impl Resource for HandleRes {
    const KIND: &'static str = "device-handle";
}

impl Resource for TransferRes {
    const KIND: &'static str = "transfer";
}

/// One handle table for every resource type of the instance (the engine's rule: handles are
/// never reused); a full table is `no-mem` to the guest.
pub(crate) fn insert<T: Resource>(table: &mut ResourceTable, r: T) -> UsbResult<u32> {
    table.push(r).map_err(|e| {
        log::warn!("usb: {e}");
        UsbError::NoMem
    })
}

/// A backend with no devices: used when the embedder installed no USB state (nothing
/// granted), and on platforms without a real backend.
struct NullBackend {
    unsupported: bool,
}

impl UsbBackend for NullBackend {
    fn name(&self) -> &'static str {
        "none"
    }
    fn list_devices(&mut self) -> UsbResult<Vec<DeviceInfo>> {
        if self.unsupported {
            Err(UsbError::NotSupported)
        } else {
            Ok(Vec::new())
        }
    }
    fn config_descriptors(&mut self, _: DeviceKey) -> UsbResult<Vec<Vec<u8>>> {
        Err(UsbError::NoDevice)
    }
    fn active_configuration(&mut self, _: DeviceKey) -> UsbResult<u8> {
        Err(UsbError::NoDevice)
    }
    fn open(&mut self, _: DeviceKey) -> UsbResult<Box<dyn UsbDeviceHandle>> {
        Err(UsbError::NoDevice)
    }
    fn enable_hotplug(&mut self) -> UsbResult<()> {
        if self.unsupported {
            Err(UsbError::NotSupported)
        } else {
            Ok(())
        }
    }
    fn poll_hotplug(&mut self) -> Vec<HotplugEvent> {
        Vec::new()
    }
}

/// The real backend of this platform.
pub(crate) fn host_backend() -> Box<dyn UsbBackend> {
    #[cfg(target_os = "linux")]
    {
        Box::new(crate::backend::nusb::NusbBackend::new())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Box::new(NullBackend { unsupported: true })
    }
}

/// Per-instance USB state (an instance extension).
pub struct UsbState {
    policy: UsbPolicy,
    pub(crate) backend: Box<dyn UsbBackend>,
    /// The resident host's: where devices are opened, and kept when the instance ends.
    keeper: Option<Arc<DeviceKeeper>>,
    pub(crate) table: ResourceTable,
    /// Bytes of the instance's transfers in flight.
    pub(crate) in_flight: Arc<AtomicU32>,
}

impl UsbState {
    pub(crate) fn new(policy: UsbPolicy, backend: Box<dyn UsbBackend>) -> UsbState {
        UsbState {
            policy,
            backend,
            keeper: None,
            table: ResourceTable::new(MAX_RESOURCES),
            in_flight: Arc::new(AtomicU32::new(0)),
        }
    }

    /// An instance's state whose devices come from, and go back to, `keeper`.
    pub(crate) fn kept(policy: UsbPolicy, keeper: &Arc<DeviceKeeper>) -> UsbState {
        UsbState {
            keeper: Some(Arc::clone(keeper)),
            ..UsbState::new(policy, keeper.backend())
        }
    }

    /// At most `n` live resources (usb-device, device-handle, transfer) at a time; more is
    /// `no-mem` to the guest.
    pub fn with_max_resources(mut self, n: usize) -> UsbState {
        self.table = ResourceTable::new(n);
        self
    }

    pub(crate) fn empty() -> UsbState {
        UsbState::new(
            UsbPolicy::deny_all(),
            Box::new(NullBackend { unsupported: false }),
        )
    }

    /// Number of live resources (for tests and leak diagnostics).
    pub fn live_resources(&self) -> usize {
        self.table.len()
    }

    fn access_of(&self, info: &DeviceInfo) -> Option<DeviceAccess> {
        self.policy.device_access(&DeviceIdentity {
            vendor: info.descriptor.vendor_id,
            product: info.descriptor.product_id,
            bus: info.bus,
            ports: &info.ports,
        })
    }

    pub(crate) fn device(&self, h: u32) -> Result<&DeviceRes, Trap> {
        self.table.get(h)
    }

    pub(crate) fn handle(&self, h: u32) -> Result<&HandleRes, Trap> {
        self.table.get(h)
    }

    pub(crate) fn transfer_mut(&mut self, h: u32) -> Result<&mut TransferRes, Trap> {
        self.table.get_mut(h)
    }

    /// Runs `f` on the open backend handle; traps if the guest closed it.
    pub(crate) fn with_open<T>(
        &mut self,
        h: u32,
        f: impl FnOnce(&mut dyn UsbDeviceHandle, &DeviceAccess) -> UsbResult<T>,
    ) -> Result<UsbResult<T>, Trap> {
        let res = self.handle(h)?;
        let shared = res.handle.clone();
        let access = res.access.clone();
        let mut guard = lock(&shared);
        let dev = guard
            .as_mut()
            .ok_or_else(|| Trap::new(format!("device-handle {h} used after close")))?;
        Ok(f(dev.as_mut(), &access))
    }

    pub(crate) fn list_devices(&mut self) -> UsbResult<Vec<[u8; 28]>> {
        let mut devices = self.backend.list_devices()?;
        devices.sort_by_key(|d| (d.bus, d.address));
        let total = devices.len();
        let mut out = Vec::new();
        let mut created = Vec::new();
        for info in devices {
            let Some(access) = self.access_of(&info) else {
                continue;
            };
            let elem_info = info.clone();
            match insert(&mut self.table, DeviceRes { info, access }) {
                Ok(h) => {
                    created.push(h);
                    out.push(abi::list_devices_elem(h, &elem_info));
                }
                Err(e) => {
                    for h in created {
                        let _ = self.table.delete::<DeviceRes>(h);
                    }
                    return Err(e);
                }
            }
        }
        log::debug!(
            "usb: list-devices via {}: {} visible of {total}",
            self.backend.name(),
            out.len()
        );
        Ok(out)
    }

    fn configs(&mut self, h: u32) -> Result<UsbResult<Vec<Vec<u8>>>, Trap> {
        let key = self.device(h)?.info.key;
        Ok(self.backend.config_descriptors(key))
    }

    pub(crate) fn config_by_index(
        &mut self,
        h: u32,
        index: u8,
    ) -> Result<UsbResult<ConfigurationDescriptor>, Trap> {
        Ok(self.configs(h)?.and_then(|raw| {
            let r = raw.get(usize::from(index)).ok_or(UsbError::NotFound)?;
            ConfigurationDescriptor::parse(r).ok_or(UsbError::Io)
        }))
    }

    pub(crate) fn config_by_value(
        &mut self,
        h: u32,
        value: u8,
    ) -> Result<UsbResult<ConfigurationDescriptor>, Trap> {
        Ok(self.configs(h)?.and_then(|raw| {
            let r = raw
                .iter()
                .find(|r| r.len() >= 9 && r[5] == value)
                .ok_or(UsbError::NotFound)?;
            ConfigurationDescriptor::parse(r).ok_or(UsbError::Io)
        }))
    }

    pub(crate) fn active_config(
        &mut self,
        h: u32,
    ) -> Result<UsbResult<ConfigurationDescriptor>, Trap> {
        let key = self.device(h)?.info.key;
        match self.backend.active_configuration(key) {
            Ok(0) => Ok(Err(UsbError::NotFound)),
            Ok(v) => self.config_by_value(h, v),
            Err(e) => Ok(Err(e)),
        }
    }

    pub(crate) fn open(&mut self, h: u32) -> Result<UsbResult<u32>, Trap> {
        let (info, access) = {
            let d = self.device(h)?;
            (d.info.clone(), d.access.clone())
        };
        let key = info.key;
        let opened = match &self.keeper {
            Some(k) => k.open(&info),
            // Kernel drivers the guest detaches are given back when the handle goes,
            // even if the guest never got to do it.
            None => self
                .backend
                .open(key)
                .map(|raw| Box::new(Reattaching::new(raw)) as Box<dyn UsbDeviceHandle>),
        };
        Ok(opened.and_then(|handle| {
            insert(
                &mut self.table,
                HandleRes {
                    key,
                    access,
                    handle: Arc::new(Mutex::new(Some(handle))),
                },
            )
        }))
    }

    /// The guest's `close` or drop of a device handle: its interfaces are released now
    /// (never kept for another instance); transfers made from it then fail with no-device.
    pub(crate) fn close(&self, res: &HandleRes) {
        let old = lock(&res.handle).take();
        if let Some(h) = old {
            h.close();
            if let Some(k) = &self.keeper {
                k.closed(res.key);
            }
        }
    }

    /// The interface (any alternate setting of the active configuration) that has endpoint
    /// `address`.
    fn endpoint_interface(&mut self, key: DeviceKey, address: u8) -> Option<u8> {
        let active = self.backend.active_configuration(key).ok()?;
        let raw = self.backend.config_descriptors(key).ok()?;
        let cfg = raw
            .iter()
            .filter_map(|r| ConfigurationDescriptor::parse(r))
            .find(|c| c.configuration_value == active)?;
        cfg.interfaces
            .iter()
            .find(|i| i.endpoints.iter().any(|e| e.endpoint_address == address))
            .map(|i| i.interface_number)
    }

    /// Policy for an endpoint-addressed operation under an interface-restricted grant.
    pub(crate) fn endpoint_allowed(&mut self, h: u32, address: u8) -> Result<bool, Trap> {
        let res = self.handle(h)?;
        if res.access.whole_device() {
            return Ok(true);
        }
        let (key, access) = (res.key, res.access.clone());
        Ok(self
            .endpoint_interface(key, address)
            .is_some_and(|i| access.interface_allowed(i)))
    }

    /// Policy for a control request under an interface-restricted grant: requests to a
    /// granted interface or its endpoints, and the read-only standard device requests
    /// (GET_STATUS, GET_DESCRIPTOR, GET_CONFIGURATION).
    pub(crate) fn control_allowed(&mut self, h: u32, s: &TransferSetup) -> Result<bool, Trap> {
        let res = self.handle(h)?;
        if res.access.whole_device() {
            return Ok(true);
        }
        let access = res.access.clone();
        Ok(match s.recipient() {
            0 => s.is_in() && s.request_kind() == 0 && matches!(s.b_request, 0x00 | 0x06 | 0x08),
            1 => access.interface_allowed(s.w_index as u8),
            2 => self.endpoint_allowed(h, s.w_index as u8)?,
            _ => false,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_transfer(
        &mut self,
        h: u32,
        kind: TransferType,
        setup: TransferSetup,
        buf_size: u32,
        endpoint: u8,
        timeout_ms: u32,
        stream_id: u32,
    ) -> Result<UsbResult<u32>, Trap> {
        let shared = self.handle(h)?.handle.clone();
        if lock(&shared).is_none() {
            return Err(Trap::new(format!("device-handle {h} used after close")));
        }
        let check = || -> UsbResult<()> {
            if kind == TransferType::Isochronous {
                log::warn!("usb: isochronous transfers are not supported (nusb has no isochronous API); returning not-supported");
                return Err(UsbError::NotSupported);
            }
            if buf_size > MAX_TRANSFER_SIZE {
                log::warn!("usb: transfer of {buf_size} bytes refused (limit {MAX_TRANSFER_SIZE})");
                return Err(UsbError::InvalidParam);
            }
            if kind == TransferType::Control {
                if buf_size > u32::from(u16::MAX) {
                    return Err(UsbError::InvalidParam); // wLength is 16 bits
                }
            } else {
                if endpoint & 0x0f == 0 || endpoint & 0x70 != 0 {
                    return Err(UsbError::InvalidParam);
                }
                if stream_id != 0 {
                    return Err(UsbError::NotSupported);
                }
            }
            Ok(())
        };
        if let Err(e) = check() {
            return Ok(Err(e));
        }
        if kind == TransferType::Control && !self.control_allowed(h, &setup)? {
            log::warn!("usb: control request {setup:?} refused: outside the granted interfaces");
            return Ok(Err(UsbError::Access));
        }
        let timeout = (timeout_ms != 0).then(|| Duration::from_millis(u64::from(timeout_ms)));
        Ok(insert(
            &mut self.table,
            TransferRes {
                handle: shared,
                kind,
                setup,
                buf_size,
                endpoint,
                timeout,
                state: TransferState::Created,
                in_flight: None,
            },
        ))
    }

    pub(crate) fn hotplug_events(&mut self) -> Result<Vec<u8>, Trap> {
        let events = self.backend.poll_hotplug();
        let mut out = Vec::new();
        for ev in events {
            let (arrived, info) = match ev {
                HotplugEvent::Arrived(i) => (true, i),
                HotplugEvent::Left(i) => (false, i),
            };
            let Some(access) = self.access_of(&info) else {
                continue;
            };
            let elem_info = info.clone();
            let h = insert(&mut self.table, DeviceRes { info, access }).map_err(|_| {
                Trap::new("usb: resource table full (the guest leaks usb-device handles)")
            })?;
            out.extend_from_slice(&abi::hotplug_elem(arrived, &elem_info, h));
        }
        Ok(out)
    }
}

/// Runs `f` on the instance's USB state, or on an empty one (nothing granted) when the
/// embedder installed none.
pub(crate) fn with_state<R>(caller: &mut Caller<'_>, f: impl FnOnce(&mut UsbState) -> R) -> R {
    match caller.data::<UsbState>() {
        Some(s) => f(s),
        None => f(&mut UsbState::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_never_reuses_handles_and_is_bounded() {
        let mut t = ResourceTable::new(MAX_RESOURCES);
        let dummy = || DeviceRes {
            info: DeviceInfo {
                key: 1,
                descriptor: crate::backend::sim::model::test_device().descriptor,
                bus: 1,
                address: 2,
                ports: vec![1],
                speed: UsbSpeed::High,
            },
            access: DeviceAccess::All,
        };
        let a = insert(&mut t, dummy()).unwrap();
        let b = insert(&mut t, dummy()).unwrap();
        assert_eq!((a, b), (1, 2));
        assert!(t.get::<DeviceRes>(0).is_err());
        assert!(t.delete::<DeviceRes>(a).is_ok());
        assert!(t.delete::<DeviceRes>(a).is_err(), "double drop is detected");
        assert_eq!(
            insert(&mut t, dummy()).unwrap(),
            3,
            "handle 1 is not reused"
        );
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.get::<TransferRes>(b).err().unwrap().message(),
            "handle 2 is a usb-device, not a transfer"
        );
        for _ in 2..MAX_RESOURCES {
            insert(&mut t, dummy()).unwrap();
        }
        assert_eq!(insert(&mut t, dummy()).err(), Some(UsbError::NoMem));
    }
}
