//! Devices kept open across instances: the resident host's drivers (restart, hot update,
//! scheduled runs) share one backend, and a device handle the ending instance did not
//! close comes back here with its claims and detached kernel drivers, to be given to the
//! driver's next instance when it opens the same device. So during an update no other
//! process can claim the interface and no kernel driver rebinds in between. The host gives
//! kept devices back (released, kernel drivers re-attached) when the driver stops for good.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::reattach::Reattaching;
use super::{DeviceInfo, DeviceKey, HotplugEvent, UsbBackend, UsbDeviceHandle};
use crate::error::UsbResult;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Kept {
    handles: Vec<(DeviceKey, Reattaching)>,
    /// Every device opened through the keeper and not closed since: key → (label, times
    /// its kept handle was given to a new instance).
    open: BTreeMap<DeviceKey, (String, u64)>,
    /// False while [`DeviceKeeper::release_all`] runs, and after the keeper is dropped.
    accepting: bool,
}

/// Where an open handle goes when its instance ends (see [`Reattaching::with_home`]).
pub struct Home {
    key: DeviceKey,
    kept: Weak<Mutex<Kept>>,
}

impl Home {
    /// Takes `handle` back; gives it back to the caller when the keeper no longer keeps.
    pub(crate) fn keep(self, handle: Reattaching) -> Result<(), Reattaching> {
        let Some(kept) = self.kept.upgrade() else {
            return Err(handle);
        };
        let mut k = lock(&kept);
        if !k.accepting {
            return Err(handle);
        }
        log::debug!(
            "usb: keeping device {} open for the next instance",
            self.key
        );
        k.handles.push((self.key, handle));
        Ok(())
    }
}

/// How a device of a driver stands, for the resident host's `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptDevice {
    /// `VID:PID bus B port P.Q`.
    pub label: String,
    /// `in use` (an instance has it open), `kept` (held between instances) or `lost`
    /// (disconnected while open).
    pub state: &'static str,
    /// Times the handle, claims included, went from one instance to the next.
    pub handoffs: u64,
}

/// One driver's USB side: the backend all its instances share and the devices kept open
/// between them.
pub struct DeviceKeeper {
    backend: Arc<Mutex<Box<dyn UsbBackend>>>,
    kept: Arc<Mutex<Kept>>,
}

impl DeviceKeeper {
    pub fn new(backend: Box<dyn UsbBackend>) -> DeviceKeeper {
        DeviceKeeper {
            backend: Arc::new(Mutex::new(backend)),
            kept: Arc::new(Mutex::new(Kept {
                accepting: true,
                ..Kept::default()
            })),
        }
    }

    /// A backend for one instance: the shared one.
    pub fn backend(&self) -> Box<dyn UsbBackend> {
        Box::new(SharedBackend(Arc::clone(&self.backend)))
    }

    /// The kept handle of device `key` if there is one and the device is still there
    /// (a dead one is dropped), or a newly opened handle; either way with this keeper as
    /// its home.
    pub(crate) fn open(&self, info: &DeviceInfo) -> UsbResult<Box<dyn UsbDeviceHandle>> {
        let key = info.key;
        let taken = {
            let mut k = lock(&self.kept);
            let i = k.handles.iter().position(|(kk, _)| *kk == key);
            i.map(|i| k.handles.swap_remove(i).1)
        };
        // A kept handle of a device that has gone since is dropped.
        let alive = taken.and_then(|mut h| h.get_configuration().is_ok().then_some(h));
        let handed_over = alive.is_some();
        let handle = match alive {
            Some(h) => {
                log::debug!("usb: device {key}: the handle kept from the previous instance");
                h
            }
            None => Reattaching::new(lock(&self.backend).open(key)?),
        };
        {
            let mut k = lock(&self.kept);
            let entry = k.open.entry(key).or_insert_with(|| (label(info), 0));
            entry.1 += u64::from(handed_over);
        }
        Ok(Box::new(handle.with_home(Home {
            key,
            kept: Arc::downgrade(&self.kept),
        })))
    }

    /// A device closed by its instance is no longer the driver's.
    pub(crate) fn closed(&self, key: DeviceKey) {
        let mut k = lock(&self.kept);
        if !k.handles.iter().any(|(kk, _)| *kk == key) {
            k.open.remove(&key);
        }
    }

    /// Handles held between instances.
    pub fn kept(&self) -> usize {
        lock(&self.kept).handles.len()
    }

    /// Gives every kept device back: claims released, kernel drivers re-attached.
    pub fn release_all(&self) {
        let handles = {
            let mut k = lock(&self.kept);
            k.accepting = false;
            let handles = std::mem::take(&mut k.handles);
            for (key, _) in &handles {
                k.open.remove(key);
            }
            handles
        };
        if !handles.is_empty() {
            log::debug!("usb: giving {} kept device(s) back", handles.len());
        }
        drop(handles);
        lock(&self.kept).accepting = true;
    }

    /// The driver's open and kept devices; one that left the bus is `lost`.
    pub fn devices(&self) -> Vec<KeptDevice> {
        let present: Option<Vec<DeviceKey>> = lock(&self.backend)
            .list_devices()
            .ok()
            .map(|l| l.iter().map(|d| d.key).collect());
        let k = lock(&self.kept);
        k.open
            .iter()
            .map(|(key, (label, handoffs))| KeptDevice {
                label: label.clone(),
                handoffs: *handoffs,
                state: if present.as_ref().is_some_and(|p| !p.contains(key)) {
                    "lost"
                } else if k.handles.iter().any(|(kk, _)| kk == key) {
                    "kept"
                } else {
                    "in use"
                },
            })
            .collect()
    }
}

impl Drop for DeviceKeeper {
    fn drop(&mut self) {
        self.release_all();
        lock(&self.kept).accepting = false;
    }
}

fn label(info: &DeviceInfo) -> String {
    let ports: Vec<String> = info.ports.iter().map(u8::to_string).collect();
    format!(
        "{:04x}:{:04x} bus {} port {}",
        info.descriptor.vendor_id,
        info.descriptor.product_id,
        info.bus,
        ports.join(".")
    )
}

/// The keeper's backend as one instance sees it. Hotplug events are the backend's: an
/// instance started after an update also sees what arrived or left during the swap.
struct SharedBackend(Arc<Mutex<Box<dyn UsbBackend>>>);

impl UsbBackend for SharedBackend {
    fn name(&self) -> &'static str {
        lock(&self.0).name()
    }
    fn list_devices(&mut self) -> UsbResult<Vec<DeviceInfo>> {
        lock(&self.0).list_devices()
    }
    fn config_descriptors(&mut self, key: DeviceKey) -> UsbResult<Vec<Vec<u8>>> {
        lock(&self.0).config_descriptors(key)
    }
    fn active_configuration(&mut self, key: DeviceKey) -> UsbResult<u8> {
        lock(&self.0).active_configuration(key)
    }
    fn open(&mut self, key: DeviceKey) -> UsbResult<Box<dyn UsbDeviceHandle>> {
        lock(&self.0).open(key)
    }
    fn enable_hotplug(&mut self) -> UsbResult<()> {
        lock(&self.0).enable_hotplug()
    }
    fn poll_hotplug(&mut self) -> Vec<HotplugEvent> {
        lock(&self.0).poll_hotplug()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::model::{SIM_STORAGE_PRODUCT, SIM_VENDOR};
    use crate::backend::sim::SimBackend;
    use crate::error::UsbError;

    fn storage(b: &mut dyn UsbBackend) -> DeviceInfo {
        b.list_devices()
            .unwrap()
            .into_iter()
            .find(|d| d.descriptor.product_id == SIM_STORAGE_PRODUCT)
            .unwrap()
    }

    /// A keeper over a fresh simulated world, the world, and its storage device.
    fn keeper_with_storage() -> (DeviceKeeper, crate::backend::sim::SimController, DeviceInfo) {
        let sim = SimBackend::new();
        let world = sim.controller();
        let keeper = DeviceKeeper::new(Box::new(sim));
        let info = storage(keeper.backend().as_mut());
        (keeper, world, info)
    }

    #[test]
    fn a_handle_left_open_is_kept_claimed_for_the_next_instance() {
        let (keeper, world, info) = keeper_with_storage();
        let bound = || world.kernel_driver_bound(SIM_VENDOR, SIM_STORAGE_PRODUCT, 0);

        // First instance: detaches the kernel driver, claims, and ends without clean-up.
        let mut h = keeper.open(&info).unwrap();
        h.detach_kernel_driver(0).unwrap();
        h.claim_interface(0).unwrap();
        drop(h);
        assert_eq!(keeper.kept(), 1);
        assert!(
            !bound(),
            "the kernel driver stays detached between instances"
        );
        let mut other = keeper.backend().open(info.key).unwrap();
        assert_eq!(
            other.claim_interface(0),
            Err(UsbError::Busy),
            "nobody else gets it"
        );
        assert_eq!(keeper.devices()[0].state, "kept");

        // Second instance: the same claim, without detaching again.
        let mut h = keeper.open(&info).unwrap();
        assert_eq!(keeper.kept(), 0);
        assert!(!h.kernel_driver_active(0).unwrap());
        h.claim_interface(0).unwrap();
        assert_eq!(keeper.devices()[0].state, "in use");
        assert_eq!(keeper.devices()[0].handoffs, 1);
        drop(h);

        // The driver stops for good: released, the kernel driver is back.
        keeper.release_all();
        assert_eq!(keeper.kept(), 0);
        assert!(bound());
        assert!(keeper.devices().is_empty());
        other.claim_interface(0).unwrap_err(); // the kernel driver has it again
    }

    #[test]
    fn a_closed_handle_is_released_at_once_and_a_gone_device_is_lost() {
        let (keeper, world, info) = keeper_with_storage();
        let mut h = keeper.open(&info).unwrap();
        h.detach_kernel_driver(0).unwrap();
        h.claim_interface(0).unwrap();
        h.close();
        keeper.closed(info.key);
        assert_eq!(keeper.kept(), 0);
        assert!(world.kernel_driver_bound(SIM_VENDOR, SIM_STORAGE_PRODUCT, 0));
        assert!(keeper.devices().is_empty());

        // Kept, then unplugged: reported lost; after a replug the device is new, and the
        // dead handle is not handed out for it.
        let mut h = keeper.open(&info).unwrap();
        h.detach_kernel_driver(0).unwrap();
        drop(h);
        assert!(world.unplug(SIM_VENDOR, SIM_STORAGE_PRODUCT));
        assert_eq!(keeper.devices()[0].state, "lost");
        assert!(keeper.open(&info).is_err(), "the old device is gone");
        assert!(world.replug(SIM_VENDOR, SIM_STORAGE_PRODUCT));
        let fresh = storage(keeper.backend().as_mut());
        assert_ne!(fresh.key, info.key);
        let mut h = keeper.open(&fresh).unwrap();
        assert!(
            h.kernel_driver_active(0).unwrap(),
            "a fresh handle of the new device"
        );
    }

    #[test]
    fn dropping_the_keeper_gives_kept_devices_back() {
        let (keeper, world, info) = keeper_with_storage();
        let mut h = keeper.open(&info).unwrap();
        h.detach_kernel_driver(0).unwrap();
        drop(h);
        assert!(!world.kernel_driver_bound(SIM_VENDOR, SIM_STORAGE_PRODUCT, 0));
        drop(keeper);
        assert!(world.kernel_driver_bound(SIM_VENDOR, SIM_STORAGE_PRODUCT, 0));
    }
}
