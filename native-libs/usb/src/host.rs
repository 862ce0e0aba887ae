//! The wasi:usb@0.2.1 imports as WAMR natives: per-instance state (resource table, policy,
//! backend), parameter lifting with the canonical ABI's checks, and the calls into the
//! backend. Results are stored by `abi`.
//!
//! Traps (the guest call aborts) for what the canonical ABI traps on: unknown or wrong-type
//! resource handles, out-of-range enum/variant discriminants, return areas or list
//! arguments outside linear memory or misaligned. Everything else is a `libusb-error`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use wasi_hw_policy::usb::{DeviceAccess, DeviceIdentity, UsbPolicy};
use wasi_hw_runtime::{Caller, HostModule, Trap, ValType};

use crate::abi::{self, GuestMem};
use crate::backend::*;
use crate::descriptors::ConfigurationDescriptor;
use crate::error::{UsbError, UsbResult};

/// Import module names (WIT interface names) the natives are registered under.
pub const DEVICE_MODULE: &str = "wasi:usb/device@0.2.1";
pub const TRANSFERS_MODULE: &str = "wasi:usb/transfers@0.2.1";
pub const HOTPLUG_MODULE: &str = "wasi:usb/hotplug@0.2.1";

/// Largest transfer (buf-size) a guest may create: bounds the host memory one transfer can
/// pin. Bulk reads of 1 MiB fit.
pub const MAX_TRANSFER_SIZE: u32 = 2 << 20;
/// Largest number of live resources (devices, handles, transfers) per instance.
pub const MAX_RESOURCES: usize = 4096;
/// Largest endpoint list accepted by alloc-streams/free-streams (an interface has at most
/// 30 endpoints).
const MAX_STREAM_ENDPOINTS: u32 = 32;

type SharedHandle = Arc<Mutex<Option<Box<dyn UsbDeviceHandle>>>>;

fn lock(h: &SharedHandle) -> MutexGuard<'_, Option<Box<dyn UsbDeviceHandle>>> {
    h.lock().unwrap_or_else(|e| e.into_inner())
}

struct DeviceRes {
    info: DeviceInfo,
    access: DeviceAccess,
}

struct HandleRes {
    key: DeviceKey,
    access: DeviceAccess,
    handle: SharedHandle,
}

enum TransferState {
    Created,
    Submitted(TransferId),
}

struct TransferRes {
    handle: SharedHandle,
    kind: TransferType,
    setup: TransferSetup,
    buf_size: u32,
    endpoint: u8,
    timeout: Option<Duration>,
    state: TransferState,
}

impl TransferRes {
    fn is_in(&self) -> bool {
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

enum Resource {
    Device(DeviceRes),
    Handle(HandleRes),
    Transfer(TransferRes),
}

impl Resource {
    fn kind(&self) -> &'static str {
        match self {
            Resource::Device(_) => "usb-device",
            Resource::Handle(_) => "device-handle",
            Resource::Transfer(_) => "transfer",
        }
    }
}

/// One handle table for every resource type of the instance, as in the component model;
/// index 0 is never a valid handle.
#[derive(Default)]
struct Table {
    slots: Vec<Option<Resource>>,
    free: Vec<u32>,
    live: usize,
}

impl Table {
    fn insert(&mut self, r: Resource) -> UsbResult<u32> {
        if self.live >= MAX_RESOURCES {
            return Err(UsbError::NoMem);
        }
        if self.slots.is_empty() {
            self.slots.push(None);
        }
        self.live += 1;
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = Some(r);
            return Ok(i);
        }
        self.slots.push(Some(r));
        Ok((self.slots.len() - 1) as u32)
    }

    fn get(&self, h: u32) -> Option<&Resource> {
        self.slots.get(h as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, h: u32) -> Option<&mut Resource> {
        self.slots.get_mut(h as usize).and_then(Option::as_mut)
    }

    fn remove(&mut self, h: u32) -> Option<Resource> {
        let r = self.slots.get_mut(h as usize).and_then(Option::take);
        if r.is_some() {
            self.live -= 1;
            self.free.push(h);
        }
        r
    }
}

fn bad_handle(what: &str, h: u32, found: Option<&Resource>) -> Trap {
    match found {
        Some(r) => Trap::new(format!("handle {h} is a {}, not a {what}", r.kind())),
        None => Trap::new(format!("unknown {what} handle {h}")),
    }
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
        Box::new(crate::nusb_backend::NusbBackend::new())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Box::new(NullBackend { unsupported: true })
    }
}

/// Per-instance USB state (an instance extension).
pub struct UsbState {
    policy: UsbPolicy,
    backend: Box<dyn UsbBackend>,
    table: Table,
}

impl UsbState {
    pub(crate) fn new(policy: UsbPolicy, backend: Box<dyn UsbBackend>) -> UsbState {
        UsbState {
            policy,
            backend,
            table: Table::default(),
        }
    }

    fn empty() -> UsbState {
        UsbState::new(
            UsbPolicy::none(),
            Box::new(NullBackend { unsupported: false }),
        )
    }

    /// Number of live resources (for tests and leak diagnostics).
    pub fn live_resources(&self) -> usize {
        self.table.live
    }

    fn access_of(&self, info: &DeviceInfo) -> Option<DeviceAccess> {
        self.policy.device_access(&DeviceIdentity {
            vendor: info.descriptor.vendor_id,
            product: info.descriptor.product_id,
            bus: info.bus,
            ports: &info.ports,
        })
    }

    fn device(&self, h: u32) -> Result<&DeviceRes, Trap> {
        match self.table.get(h) {
            Some(Resource::Device(d)) => Ok(d),
            other => Err(bad_handle("usb-device", h, other)),
        }
    }

    fn handle(&self, h: u32) -> Result<&HandleRes, Trap> {
        match self.table.get(h) {
            Some(Resource::Handle(d)) => Ok(d),
            other => Err(bad_handle("device-handle", h, other)),
        }
    }

    fn transfer_mut(&mut self, h: u32) -> Result<&mut TransferRes, Trap> {
        match self.table.get_mut(h) {
            Some(Resource::Transfer(t)) => Ok(t),
            other => Err(bad_handle("transfer", h, other.map(|r| &*r))),
        }
    }

    /// Runs `f` on the open backend handle; traps if the guest closed it.
    fn with_open<T>(
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

    fn list_devices(&mut self) -> UsbResult<Vec<[u8; 28]>> {
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
            match self
                .table
                .insert(Resource::Device(DeviceRes { info, access }))
            {
                Ok(h) => {
                    created.push(h);
                    out.push(abi::list_devices_elem(h, &elem_info));
                }
                Err(e) => {
                    for h in created {
                        self.table.remove(h);
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

    fn config_by_index(
        &mut self,
        h: u32,
        index: u8,
    ) -> Result<UsbResult<ConfigurationDescriptor>, Trap> {
        Ok(self.configs(h)?.and_then(|raw| {
            let r = raw.get(usize::from(index)).ok_or(UsbError::NotFound)?;
            ConfigurationDescriptor::parse(r).ok_or(UsbError::Io)
        }))
    }

    fn config_by_value(
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

    fn active_config(&mut self, h: u32) -> Result<UsbResult<ConfigurationDescriptor>, Trap> {
        let key = self.device(h)?.info.key;
        match self.backend.active_configuration(key) {
            Ok(0) => Ok(Err(UsbError::NotFound)),
            Ok(v) => self.config_by_value(h, v),
            Err(e) => Ok(Err(e)),
        }
    }

    fn open(&mut self, h: u32) -> Result<UsbResult<u32>, Trap> {
        let (key, access) = {
            let d = self.device(h)?;
            (d.info.key, d.access.clone())
        };
        Ok(self.backend.open(key).and_then(|handle| {
            self.table.insert(Resource::Handle(HandleRes {
                key,
                access,
                handle: Arc::new(Mutex::new(Some(handle))),
            }))
        }))
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
    fn endpoint_allowed(&mut self, h: u32, address: u8) -> Result<bool, Trap> {
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
    fn control_allowed(&mut self, h: u32, s: &TransferSetup) -> Result<bool, Trap> {
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
    fn new_transfer(
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
        Ok(self.table.insert(Resource::Transfer(TransferRes {
            handle: shared,
            kind,
            setup,
            buf_size,
            endpoint,
            timeout,
            state: TransferState::Created,
        })))
    }

    fn hotplug_events(&mut self) -> Result<Vec<u8>, Trap> {
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
            let h = self
                .table
                .insert(Resource::Device(DeviceRes { info, access }))
                .map_err(|_| {
                    Trap::new("usb: resource table full (the guest leaks usb-device handles)")
                })?;
            out.extend_from_slice(&abi::hotplug_elem(arrived, &elem_info, h));
        }
        Ok(out)
    }
}

/// Runs `f` on the instance's USB state, or on an empty one (nothing granted) when the
/// embedder installed none.
fn with_state<R>(caller: &mut Caller<'_>, f: impl FnOnce(&mut UsbState) -> R) -> R {
    match caller.data::<UsbState>() {
        Some(s) => f(s),
        None => f(&mut UsbState::empty()),
    }
}

fn arg(args: &[u64], i: usize) -> u32 {
    args[i] as u32
}

/// Canonical ABI lift of a `u8` from an i32: the low 8 bits.
fn arg_u8(args: &[u64], i: usize) -> u8 {
    args[i] as u8
}

fn arg_u16(args: &[u64], i: usize) -> u16 {
    args[i] as u16
}

const I: ValType = ValType::I32;

/// Builds the three host modules.
pub fn host_modules() -> Vec<HostModule> {
    vec![device_module(), transfers_module(), hotplug_module()]
}

fn unit_method(
    m: HostModule,
    name: &str,
    extra: usize,
    op: fn(&mut dyn UsbDeviceHandle, &DeviceAccess, &[u64]) -> UsbResult<()>,
) -> HostModule {
    let params = vec![I; 2 + extra];
    m.func(name, &params, &[], move |c, a, _| {
        let ret = arg(a, 1 + extra);
        abi::check_area(c, ret, abi::RESULT_UNIT)?;
        let r = with_state(c, |s| s.with_open(arg(a, 0), |h, acc| op(h, acc, a)))?;
        abi::store_result_unit(c, ret, r)
    })
}

fn interface_guard(acc: &DeviceAccess, interface: u8) -> UsbResult<()> {
    if acc.interface_allowed(interface) {
        Ok(())
    } else {
        log::warn!("usb: interface {interface} is not granted");
        Err(UsbError::Access)
    }
}

fn device_module() -> HostModule {
    let m = HostModule::new(DEVICE_MODULE)
        .func("init", &[I], &[], |c, a, _| {
            let ret = arg(a, 0);
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            with_state(c, |s| {
                log::debug!("usb: init ({} backend)", s.backend.name())
            });
            abi::store_result_unit(c, ret, Ok(()))
        })
        .func("list-devices", &[I], &[], |c, a, _| {
            let ret = arg(a, 0);
            abi::check_area(c, ret, abi::RESULT_LIST)?;
            let r = with_state(c, |s| s.list_devices());
            let lowered = match r {
                Ok(elems) => Ok(abi::lower_array(
                    c,
                    &elems.concat(),
                    abi::LIST_DEVICES_ELEM_SIZE,
                    abi::LIST_DEVICES_ELEM_ALIGN,
                )?),
                Err(e) => Err(e),
            };
            abi::store_result_list(c, ret, lowered)
        })
        .func("[method]usb-device.open", &[I, I], &[], |c, a, _| {
            let ret = arg(a, 1);
            abi::check_area(c, ret, abi::RESULT_HANDLE)?;
            let r = with_state(c, |s| s.open(arg(a, 0)))?;
            abi::store_result_handle(c, ret, r)
        })
        .func(
            "[method]usb-device.get-configuration-descriptor",
            &[I, I, I],
            &[],
            |c, a, _| {
                let ret = arg(a, 2);
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.config_by_index(arg(a, 0), arg_u8(a, 1)))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func(
            "[method]usb-device.get-configuration-descriptor-by-value",
            &[I, I, I],
            &[],
            |c, a, _| {
                let ret = arg(a, 2);
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.config_by_value(arg(a, 0), arg_u8(a, 1)))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func(
            "[method]usb-device.get-active-configuration-descriptor",
            &[I, I],
            &[],
            |c, a, _| {
                let ret = arg(a, 1);
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.active_config(arg(a, 0)))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func(
            "[method]device-handle.get-configuration",
            &[I, I],
            &[],
            |c, a, _| {
                let ret = arg(a, 1);
                abi::check_area(c, ret, abi::RESULT_U8)?;
                let r = with_state(c, |s| s.with_open(arg(a, 0), |h, _| h.get_configuration()))?;
                abi::store_result_u8(c, ret, r)
            },
        )
        .func(
            "[method]device-handle.set-configuration",
            &[I, I, I, I],
            &[],
            |c, a, _| {
                let ret = arg(a, 3);
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                // variant config-value { unconfigured, value(u8) }: (discriminant, payload).
                let value = match arg(a, 1) {
                    0 => 0,
                    1 => arg_u8(a, 2),
                    d => return Err(Trap::new(format!("invalid config-value discriminant {d}"))),
                };
                let r = with_state(c, |s| {
                    s.with_open(arg(a, 0), |h, acc| {
                        if !acc.whole_device() {
                            log::warn!(
                                "usb: set-configuration refused: only some interfaces are granted"
                            );
                            return Err(UsbError::Access);
                        }
                        h.set_configuration(value)
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        );
    let m = unit_method(
        m,
        "[method]device-handle.claim-interface",
        1,
        |h, acc, a| {
            interface_guard(acc, arg_u8(a, 1))?;
            h.claim_interface(arg_u8(a, 1))
        },
    );
    let m = unit_method(
        m,
        "[method]device-handle.release-interface",
        1,
        |h, acc, a| {
            interface_guard(acc, arg_u8(a, 1))?;
            h.release_interface(arg_u8(a, 1))
        },
    );
    let m = unit_method(
        m,
        "[method]device-handle.set-interface-altsetting",
        2,
        |h, acc, a| {
            interface_guard(acc, arg_u8(a, 1))?;
            h.set_alt_setting(arg_u8(a, 1), arg_u8(a, 2))
        },
    );
    let m = unit_method(m, "[method]device-handle.reset-device", 0, |h, acc, _| {
        if !acc.whole_device() {
            log::warn!("usb: reset-device refused: only some interfaces are granted");
            return Err(UsbError::Access);
        }
        h.reset()
    });
    let m = unit_method(
        m,
        "[method]device-handle.detach-kernel-driver",
        1,
        |h, acc, a| {
            interface_guard(acc, arg_u8(a, 1))?;
            h.detach_kernel_driver(arg_u8(a, 1))
        },
    );
    let m = unit_method(
        m,
        "[method]device-handle.attach-kernel-driver",
        1,
        |h, acc, a| {
            interface_guard(acc, arg_u8(a, 1))?;
            h.attach_kernel_driver(arg_u8(a, 1))
        },
    );
    m.func(
        "[method]device-handle.clear-halt",
        &[I, I, I],
        &[],
        |c, a, _| {
            let ret = arg(a, 2);
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            let ep = arg_u8(a, 1);
            let r = with_state(c, |s| {
                if !s.endpoint_allowed(arg(a, 0), ep)? {
                    return s.with_open(arg(a, 0), |_, _| Err(UsbError::Access));
                }
                s.with_open(arg(a, 0), |h, _| h.clear_halt(ep))
            })?;
            abi::store_result_unit(c, ret, r)
        },
    )
    .func(
        "[method]device-handle.kernel-driver-active",
        &[I, I, I],
        &[],
        |c, a, _| {
            let ret = arg(a, 2);
            abi::check_area(c, ret, abi::RESULT_U8)?;
            let r = with_state(c, |s| {
                s.with_open(arg(a, 0), |h, acc| {
                    interface_guard(acc, arg_u8(a, 1))?;
                    h.kernel_driver_active(arg_u8(a, 1))
                })
            })?;
            abi::store_result_u8(c, ret, r.map(u8::from))
        },
    )
    .func(
        "[method]device-handle.alloc-streams",
        &[I, I, I, I, I],
        &[],
        |c, a, _| {
            let ret = arg(a, 4);
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            abi::check_range(c, arg(a, 2), arg(a, 3))?;
            let r = with_state(c, |s| {
                s.with_open(arg(a, 0), |_, _| {
                    if arg(a, 3) > MAX_STREAM_ENDPOINTS {
                        return Err(UsbError::InvalidParam);
                    }
                    log::warn!("usb: bulk streams are not supported by this backend");
                    Err(UsbError::NotSupported)
                })
            })?;
            abi::store_result_unit(c, ret, r)
        },
    )
    .func(
        "[method]device-handle.free-streams",
        &[I, I, I, I],
        &[],
        |c, a, _| {
            let ret = arg(a, 3);
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            abi::check_range(c, arg(a, 1), arg(a, 2))?;
            let r = with_state(c, |s| {
                s.with_open(arg(a, 0), |_, _| {
                    if arg(a, 2) > MAX_STREAM_ENDPOINTS {
                        return Err(UsbError::InvalidParam);
                    }
                    Err(UsbError::NotSupported)
                })
            })?;
            abi::store_result_unit(c, ret, r)
        },
    )
    .func(
        "[method]device-handle.new-transfer",
        &[I; 12],
        &[],
        |c, a, _| {
            let ret = arg(a, 11);
            abi::check_area(c, ret, abi::RESULT_HANDLE)?;
            let kind = TransferType::from_discriminant(arg(a, 1)).ok_or_else(|| {
                Trap::new(format!("invalid transfer-type discriminant {}", arg(a, 1)))
            })?;
            let setup = TransferSetup {
                bm_request_type: arg_u8(a, 2),
                b_request: arg_u8(a, 3),
                w_value: arg_u16(a, 4),
                w_index: arg_u16(a, 5),
            };
            // transfer-options: endpoint (7), timeout-ms (8), stream-id (9), iso-packets (10).
            let r = with_state(c, |s| {
                s.new_transfer(
                    arg(a, 0),
                    kind,
                    setup,
                    arg(a, 6),
                    arg_u8(a, 7),
                    arg(a, 8),
                    arg(a, 9),
                )
            })?;
            abi::store_result_handle(c, ret, r)
        },
    )
    .func("[method]device-handle.close", &[I], &[], |c, a, _| {
        with_state(c, |s| {
            let res = s.handle(arg(a, 0))?;
            // Dropping the backend handle releases its interfaces; transfers made from it
            // now fail with no-device.
            let old = lock(&res.handle).take();
            drop(old);
            Ok(())
        })
    })
    .func("[resource-drop]usb-device", &[I], &[], |c, a, _| {
        with_state(c, |s| {
            s.device(arg(a, 0))?;
            s.table.remove(arg(a, 0));
            Ok(())
        })
    })
    .func("[resource-drop]device-handle", &[I], &[], |c, a, _| {
        with_state(c, |s| {
            let h = arg(a, 0);
            s.handle(h)?;
            if let Some(Resource::Handle(res)) = s.table.remove(h) {
                let old = lock(&res.handle).take();
                drop(old);
            }
            Ok(())
        })
    })
}

fn transfers_module() -> HostModule {
    HostModule::new(TRANSFERS_MODULE)
        .func("[method]transfer.submit-transfer", &[I, I, I, I], &[], |c, a, _| {
            let (h, ptr, len, ret) = (arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3));
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            abi::check_range(c, ptr, len)?;
            let check = with_state(c, |s| -> Result<UsbResult<bool>, Trap> {
                let t = s.transfer_mut(h)?;
                if matches!(t.state, TransferState::Submitted(_)) {
                    return Ok(Err(UsbError::Busy));
                }
                let is_in = t.is_in();
                if !is_in && len != t.buf_size {
                    log::debug!("usb: OUT transfer data is {len} bytes, the transfer was created for {}", t.buf_size);
                    return Ok(Err(UsbError::InvalidParam));
                }
                Ok(Ok(is_in))
            })?;
            let r = match check {
                Err(e) => Err(e),
                Ok(is_in) => {
                    // IN transfers ignore the data (as libusb's wasmtime host does); OUT data
                    // is exactly buf-size bytes, which is bounded.
                    let data = if is_in { Vec::new() } else { c.read(ptr, len)? };
                    with_state(c, |s| -> Result<UsbResult<()>, Trap> {
                        let t = s.transfer_mut(h)?;
                        let req = TransferRequest {
                            kind: t.kind,
                            setup: t.setup,
                            endpoint: t.endpoint,
                            length: t.buf_size as usize,
                            data,
                            timeout: t.timeout,
                        };
                        let submitted = match lock(&t.handle).as_mut() {
                            Some(dev) => dev.submit(req),
                            None => Err(UsbError::NoDevice),
                        };
                        Ok(submitted.map(|id| t.state = TransferState::Submitted(id)))
                    })?
                }
            };
            abi::store_result_unit(c, ret, r)
        })
        .func("[method]transfer.cancel-transfer", &[I, I], &[], |c, a, _| {
            let ret = arg(a, 1);
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            let r = with_state(c, |s| -> Result<UsbResult<()>, Trap> {
                let t = s.transfer_mut(arg(a, 0))?;
                Ok(match t.state {
                    TransferState::Created => Err(UsbError::NotFound),
                    TransferState::Submitted(id) => match lock(&t.handle).as_mut() {
                        Some(dev) => dev.cancel(id),
                        None => Err(UsbError::NoDevice),
                    },
                })
            })?;
            abi::store_result_unit(c, ret, r)
        })
        .func("await-transfer", &[I, I], &[], |c, a, _| {
            let (h, ret) = (arg(a, 0), arg(a, 1));
            abi::check_area(c, ret, abi::RESULT_LIST)?;
            let r = with_state(c, |s| -> Result<UsbResult<Vec<u8>>, Trap> {
                s.transfer_mut(h)?;
                // `own<transfer>`: the handle moves to the host whatever the outcome.
                let Some(Resource::Transfer(mut t)) = s.table.remove(h) else {
                    unreachable!("checked above")
                };
                let r = match t.state {
                    TransferState::Created => Err(UsbError::NotFound),
                    TransferState::Submitted(id) => {
                        t.state = TransferState::Created; // waited for: nothing to discard
                        match lock(&t.handle).as_mut() {
                            Some(dev) => dev.wait(id),
                            None => Err(UsbError::NoDevice),
                        }
                    }
                };
                Ok(r)
            })?;
            let lowered = match r {
                Ok(data) => Ok(abi::lower_bytes(c, &data)?),
                Err(e) => Err(e),
            };
            abi::store_result_list(c, ret, lowered)
        })
        .func("[resource-drop]transfer", &[I], &[], |c, a, _| {
            with_state(c, |s| {
                s.transfer_mut(arg(a, 0))?;
                s.table.remove(arg(a, 0));
                Ok(())
            })
        })
}

fn hotplug_module() -> HostModule {
    HostModule::new(HOTPLUG_MODULE)
        .func("enable-hotplug", &[I], &[], |c, a, _| {
            let ret = arg(a, 0);
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            let r = with_state(c, |s| s.backend.enable_hotplug());
            abi::store_result_unit(c, ret, r)
        })
        .func("poll-events", &[I], &[], |c, a, _| {
            let ret = arg(a, 0);
            abi::check_area(c, ret, abi::LIST_RET)?;
            let encoded = with_state(c, |s| s.hotplug_events())?;
            let (ptr, len) =
                abi::lower_array(c, &encoded, abi::HOTPLUG_ELEM_SIZE, abi::HOTPLUG_ELEM_ALIGN)?;
            let mut b = [0u8; 8];
            b[0..4].copy_from_slice(&ptr.to_le_bytes());
            b[4..8].copy_from_slice(&len.to_le_bytes());
            GuestMem::write(c, ret, &b)
        })
}

/// Names and core signatures of every native, for tests against the WIT.
pub fn signatures() -> BTreeMap<(&'static str, &'static str), usize> {
    let mut m = BTreeMap::new();
    for (module, name, params) in [
        (DEVICE_MODULE, "init", 1),
        (DEVICE_MODULE, "list-devices", 1),
        (DEVICE_MODULE, "[method]usb-device.open", 2),
        (
            DEVICE_MODULE,
            "[method]usb-device.get-configuration-descriptor",
            3,
        ),
        (
            DEVICE_MODULE,
            "[method]usb-device.get-configuration-descriptor-by-value",
            3,
        ),
        (
            DEVICE_MODULE,
            "[method]usb-device.get-active-configuration-descriptor",
            2,
        ),
        (DEVICE_MODULE, "[method]device-handle.get-configuration", 2),
        (DEVICE_MODULE, "[method]device-handle.set-configuration", 4),
        (DEVICE_MODULE, "[method]device-handle.claim-interface", 3),
        (DEVICE_MODULE, "[method]device-handle.release-interface", 3),
        (
            DEVICE_MODULE,
            "[method]device-handle.set-interface-altsetting",
            4,
        ),
        (DEVICE_MODULE, "[method]device-handle.clear-halt", 3),
        (DEVICE_MODULE, "[method]device-handle.reset-device", 2),
        (DEVICE_MODULE, "[method]device-handle.alloc-streams", 5),
        (DEVICE_MODULE, "[method]device-handle.free-streams", 4),
        (
            DEVICE_MODULE,
            "[method]device-handle.kernel-driver-active",
            3,
        ),
        (
            DEVICE_MODULE,
            "[method]device-handle.detach-kernel-driver",
            3,
        ),
        (
            DEVICE_MODULE,
            "[method]device-handle.attach-kernel-driver",
            3,
        ),
        (DEVICE_MODULE, "[method]device-handle.new-transfer", 12),
        (DEVICE_MODULE, "[method]device-handle.close", 1),
        (DEVICE_MODULE, "[resource-drop]usb-device", 1),
        (DEVICE_MODULE, "[resource-drop]device-handle", 1),
        (TRANSFERS_MODULE, "[method]transfer.submit-transfer", 4),
        (TRANSFERS_MODULE, "[method]transfer.cancel-transfer", 2),
        (TRANSFERS_MODULE, "await-transfer", 2),
        (TRANSFERS_MODULE, "[resource-drop]transfer", 1),
        (HOTPLUG_MODULE, "enable-hotplug", 1),
        (HOTPLUG_MODULE, "poll-events", 1),
    ] {
        m.insert((module, name), params);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_reserves_zero_and_reuses_slots() {
        let mut t = Table::default();
        let dummy = || {
            Resource::Device(DeviceRes {
                info: DeviceInfo {
                    key: 1,
                    descriptor: crate::sim::model::test_device().descriptor,
                    bus: 1,
                    address: 2,
                    ports: vec![1],
                    speed: UsbSpeed::High,
                },
                access: DeviceAccess::All,
            })
        };
        let a = t.insert(dummy()).unwrap();
        let b = t.insert(dummy()).unwrap();
        assert_eq!((a, b), (1, 2));
        assert!(t.get(0).is_none());
        assert!(t.remove(a).is_some());
        assert!(t.remove(a).is_none(), "double drop is detected");
        assert_eq!(t.insert(dummy()).unwrap(), a);
        assert_eq!(t.live, 2);
        for _ in 2..MAX_RESOURCES {
            t.insert(dummy()).unwrap();
        }
        assert_eq!(t.insert(dummy()).err(), Some(UsbError::NoMem));
    }
}
