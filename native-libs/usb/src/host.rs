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
use wasi_hw_runtime::{cabi, Caller, HostModule, Resource, ResourceTable, Trap};

use crate::abi;
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
fn insert<T: Resource>(table: &mut ResourceTable, r: T) -> UsbResult<u32> {
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
    table: ResourceTable,
}

impl UsbState {
    pub(crate) fn new(policy: UsbPolicy, backend: Box<dyn UsbBackend>) -> UsbState {
        UsbState {
            policy,
            backend,
            table: ResourceTable::new(MAX_RESOURCES),
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

    fn device(&self, h: u32) -> Result<&DeviceRes, Trap> {
        self.table.get(h)
    }

    fn handle(&self, h: u32) -> Result<&HandleRes, Trap> {
        self.table.get(h)
    }

    fn transfer_mut(&mut self, h: u32) -> Result<&mut TransferRes, Trap> {
        self.table.get_mut(h)
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
            },
        ))
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
fn with_state<R>(caller: &mut Caller<'_>, f: impl FnOnce(&mut UsbState) -> R) -> R {
    match caller.data::<UsbState>() {
        Some(s) => f(s),
        None => f(&mut UsbState::empty()),
    }
}

/// Builds the three host modules. Every signature follows from the parameter types of its
/// function (`u32`, `u16`, `u8`: a flat `i32`, lifted as the canonical ABI does).
pub fn host_modules() -> Vec<HostModule> {
    vec![device_module(), transfers_module(), hotplug_module()]
}

/// A method that returns `result<_, libusb-error>` at `ret` and runs `op` on the open
/// device handle `this` (after the result area is checked).
fn unit_call(
    c: &mut Caller<'_>,
    this: u32,
    ret: u32,
    op: impl FnOnce(&mut dyn UsbDeviceHandle, &DeviceAccess) -> UsbResult<()>,
) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_UNIT)?;
    let r = with_state(c, |s| s.with_open(this, op))?;
    abi::store_result_unit(c, ret, r)
}

fn interface_guard(acc: &DeviceAccess, interface: u8) -> UsbResult<()> {
    if acc.interface_allowed(interface) {
        Ok(())
    } else {
        log::warn!("usb: interface {interface} is not granted");
        Err(UsbError::Access)
    }
}

/// `set-configuration` and `reset-device` change the whole device: refused unless the grant
/// covers every interface.
fn whole_device_guard(acc: &DeviceAccess, what: &str) -> UsbResult<()> {
    if acc.whole_device() {
        Ok(())
    } else {
        log::warn!("usb: {what} refused: only some interfaces are granted");
        Err(UsbError::Access)
    }
}

fn device_module() -> HostModule {
    HostModule::new(DEVICE_MODULE)
        .func_wrap("init", |c: &mut Caller<'_>, ret: u32| {
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            with_state(c, |s| {
                log::debug!("usb: init ({} backend)", s.backend.name())
            });
            abi::store_result_unit(c, ret, Ok(()))
        })
        .func_wrap("list-devices", |c: &mut Caller<'_>, ret: u32| {
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
        .func_wrap(
            "[method]usb-device.open",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_HANDLE)?;
                let r = with_state(c, |s| s.open(this))?;
                abi::store_result_handle(c, ret, r)
            },
        )
        .func_wrap(
            "[method]usb-device.get-configuration-descriptor",
            |c: &mut Caller<'_>, this: u32, index: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.config_by_index(this, index))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func_wrap(
            "[method]usb-device.get-configuration-descriptor-by-value",
            |c: &mut Caller<'_>, this: u32, value: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.config_by_value(this, value))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func_wrap(
            "[method]usb-device.get-active-configuration-descriptor",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.active_config(this))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func_wrap(
            "[method]device-handle.get-configuration",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_U8)?;
                let r = with_state(c, |s| s.with_open(this, |h, _| h.get_configuration()))?;
                abi::store_result_u8(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.set-configuration",
            // variant config-value { unconfigured, value(u8) }: (discriminant, payload).
            |c: &mut Caller<'_>, this: u32, case: u32, value: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                let value = match case {
                    0 => 0,
                    1 => value,
                    d => return Err(Trap::new(format!("invalid config-value discriminant {d}"))),
                };
                let r = with_state(c, |s| {
                    s.with_open(this, |h, acc| {
                        whole_device_guard(acc, "set-configuration")?;
                        h.set_configuration(value)
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.claim-interface",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                unit_call(c, this, ret, |h, acc| {
                    interface_guard(acc, interface)?;
                    h.claim_interface(interface)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.release-interface",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                unit_call(c, this, ret, |h, acc| {
                    interface_guard(acc, interface)?;
                    h.release_interface(interface)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.set-interface-altsetting",
            |c: &mut Caller<'_>, this: u32, interface: u8, alt: u8, ret: u32| {
                unit_call(c, this, ret, |h, acc| {
                    interface_guard(acc, interface)?;
                    h.set_alt_setting(interface, alt)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.reset-device",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                unit_call(c, this, ret, |h, acc| {
                    whole_device_guard(acc, "reset-device")?;
                    h.reset()
                })
            },
        )
        .func_wrap(
            "[method]device-handle.detach-kernel-driver",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                unit_call(c, this, ret, |h, acc| {
                    interface_guard(acc, interface)?;
                    h.detach_kernel_driver(interface)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.attach-kernel-driver",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                unit_call(c, this, ret, |h, acc| {
                    interface_guard(acc, interface)?;
                    h.attach_kernel_driver(interface)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.clear-halt",
            |c: &mut Caller<'_>, this: u32, endpoint: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                let r = with_state(c, |s| {
                    if !s.endpoint_allowed(this, endpoint)? {
                        return s.with_open(this, |_, _| Err(UsbError::Access));
                    }
                    s.with_open(this, |h, _| h.clear_halt(endpoint))
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.kernel-driver-active",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_U8)?;
                let r = with_state(c, |s| {
                    s.with_open(this, |h, acc| {
                        interface_guard(acc, interface)?;
                        h.kernel_driver_active(interface)
                    })
                })?;
                abi::store_result_u8(c, ret, r.map(u8::from))
            },
        )
        .func_wrap(
            "[method]device-handle.alloc-streams",
            |c: &mut Caller<'_>, this: u32, _num_streams: u32, eps: u32, eps_len: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                c.check_range(eps, eps_len)?;
                let r = with_state(c, |s| {
                    s.with_open(this, |_, _| {
                        if eps_len > MAX_STREAM_ENDPOINTS {
                            return Err(UsbError::InvalidParam);
                        }
                        log::warn!("usb: bulk streams are not supported by this backend");
                        Err(UsbError::NotSupported)
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.free-streams",
            |c: &mut Caller<'_>, this: u32, eps: u32, eps_len: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                c.check_range(eps, eps_len)?;
                let r = with_state(c, |s| {
                    s.with_open(this, |_, _| {
                        if eps_len > MAX_STREAM_ENDPOINTS {
                            return Err(UsbError::InvalidParam);
                        }
                        Err(UsbError::NotSupported)
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap("[method]device-handle.new-transfer", new_transfer)
        .func_wrap(
            "[method]device-handle.close",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| {
                    let res = s.handle(this)?;
                    // Dropping the backend handle releases its interfaces; transfers made
                    // from it now fail with no-device.
                    let old = lock(&res.handle).take();
                    drop(old);
                    Ok(())
                })
            },
        )
        .func_wrap(
            "[resource-drop]usb-device",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| s.table.delete::<DeviceRes>(this).map(drop))
            },
        )
        .func_wrap(
            "[resource-drop]device-handle",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| {
                    let res = s.table.delete::<HandleRes>(this)?;
                    let old = lock(&res.handle).take();
                    drop(old);
                    Ok(())
                })
            },
        )
}

/// `[method]device-handle.new-transfer(this, transfer-type, transfer-setup, buf-size,
/// transfer-options) -> result<transfer, libusb-error>`, flattened: the setup record is
/// four fields, the options record (endpoint, timeout-ms, stream-id, iso-packets) four more.
#[allow(clippy::too_many_arguments)]
fn new_transfer(
    c: &mut Caller<'_>,
    this: u32,
    kind: u32,
    bm_request_type: u8,
    b_request: u8,
    w_value: u16,
    w_index: u16,
    buf_size: u32,
    endpoint: u8,
    timeout_ms: u32,
    stream_id: u32,
    _iso_packets: u32,
    ret: u32,
) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_HANDLE)?;
    let kind = TransferType::from_discriminant(kind)
        .ok_or_else(|| Trap::new(format!("invalid transfer-type discriminant {kind}")))?;
    let setup = TransferSetup {
        bm_request_type,
        b_request,
        w_value,
        w_index,
    };
    let r = with_state(c, |s| {
        s.new_transfer(this, kind, setup, buf_size, endpoint, timeout_ms, stream_id)
    })?;
    abi::store_result_handle(c, ret, r)
}

fn transfers_module() -> HostModule {
    HostModule::new(TRANSFERS_MODULE)
        .func_wrap("[method]transfer.submit-transfer", submit_transfer)
        .func_wrap(
            "[method]transfer.cancel-transfer",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                let r = with_state(c, |s| -> Result<UsbResult<()>, Trap> {
                    let t = s.transfer_mut(this)?;
                    Ok(match t.state {
                        TransferState::Created => Err(UsbError::NotFound),
                        TransferState::Submitted(id) => match lock(&t.handle).as_mut() {
                            Some(dev) => dev.cancel(id),
                            None => Err(UsbError::NoDevice),
                        },
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap("await-transfer", await_transfer)
        .func_wrap(
            "[resource-drop]transfer",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| s.table.delete::<TransferRes>(this).map(drop))
            },
        )
}

fn submit_transfer(c: &mut Caller<'_>, h: u32, ptr: u32, len: u32, ret: u32) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_UNIT)?;
    c.check_range(ptr, len)?;
    let check = with_state(c, |s| -> Result<UsbResult<bool>, Trap> {
        let t = s.transfer_mut(h)?;
        if matches!(t.state, TransferState::Submitted(_)) {
            return Ok(Err(UsbError::Busy));
        }
        let is_in = t.is_in();
        if !is_in && len != t.buf_size {
            log::debug!(
                "usb: OUT transfer data is {len} bytes, the transfer was created for {}",
                t.buf_size
            );
            return Ok(Err(UsbError::InvalidParam));
        }
        Ok(Ok(is_in))
    })?;
    let r = match check {
        Err(e) => Err(e),
        Ok(is_in) => {
            // IN transfers ignore the data (as libusb's wasmtime host does); OUT data is
            // exactly buf-size bytes, which is bounded.
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
}

fn await_transfer(c: &mut Caller<'_>, h: u32, ret: u32) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_LIST)?;
    let r = with_state(c, |s| -> Result<UsbResult<Vec<u8>>, Trap> {
        // `own<transfer>`: the handle moves to the host whatever the outcome.
        let mut t = s.table.delete::<TransferRes>(h)?;
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
}

fn hotplug_module() -> HostModule {
    HostModule::new(HOTPLUG_MODULE)
        .func_wrap("enable-hotplug", |c: &mut Caller<'_>, ret: u32| {
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            let r = with_state(c, |s| s.backend.enable_hotplug());
            abi::store_result_unit(c, ret, r)
        })
        .func_wrap("poll-events", |c: &mut Caller<'_>, ret: u32| {
            abi::check_area(c, ret, abi::LIST_RET)?;
            let encoded = with_state(c, |s| s.hotplug_events())?;
            let list =
                abi::lower_array(c, &encoded, abi::HOTPLUG_ELEM_SIZE, abi::HOTPLUG_ELEM_ALIGN)?;
            c.write(ret, &cabi::encode_list(list))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_never_reuses_handles_and_is_bounded() {
        let mut t = ResourceTable::new(MAX_RESOURCES);
        let dummy = || DeviceRes {
            info: DeviceInfo {
                key: 1,
                descriptor: crate::sim::model::test_device().descriptor,
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
