//! Giving interfaces back to the kernel: a device handle that remembers which interfaces'
//! kernel drivers it detached and, when it is dropped, releases them and attaches the
//! drivers again (libusb's auto-detach behaviour). So a guest that traps, or is stopped by
//! the resident host before its own clean-up runs, still leaves the device as it found it.

use std::collections::BTreeSet;

use super::{TransferId, TransferRequest, UsbDeviceHandle};
use crate::error::UsbResult;

pub struct Reattaching {
    inner: Box<dyn UsbDeviceHandle>,
    detached: BTreeSet<u8>,
}

impl Reattaching {
    pub fn new(inner: Box<dyn UsbDeviceHandle>) -> Reattaching {
        Reattaching {
            inner,
            detached: BTreeSet::new(),
        }
    }
}

impl Drop for Reattaching {
    fn drop(&mut self) {
        for &interface in &self.detached {
            // A claim must go before the kernel driver can bind again.
            let _ = self.inner.release_interface(interface);
            if let Err(e) = self.inner.attach_kernel_driver(interface) {
                log::debug!("usb: re-attaching the kernel driver of interface {interface}: {e}");
            }
        }
    }
}

impl UsbDeviceHandle for Reattaching {
    fn get_configuration(&mut self) -> UsbResult<u8> {
        self.inner.get_configuration()
    }
    fn set_configuration(&mut self, value: u8) -> UsbResult<()> {
        self.inner.set_configuration(value)
    }
    fn claim_interface(&mut self, interface: u8) -> UsbResult<()> {
        self.inner.claim_interface(interface)
    }
    fn release_interface(&mut self, interface: u8) -> UsbResult<()> {
        self.inner.release_interface(interface)
    }
    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> UsbResult<()> {
        self.inner.set_alt_setting(interface, alt)
    }
    fn clear_halt(&mut self, endpoint: u8) -> UsbResult<()> {
        self.inner.clear_halt(endpoint)
    }
    fn reset(&mut self) -> UsbResult<()> {
        self.inner.reset()
    }
    fn kernel_driver_active(&mut self, interface: u8) -> UsbResult<bool> {
        self.inner.kernel_driver_active(interface)
    }
    fn detach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.inner.detach_kernel_driver(interface)?;
        self.detached.insert(interface);
        Ok(())
    }
    fn attach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.inner.attach_kernel_driver(interface)?;
        self.detached.remove(&interface);
        Ok(())
    }
    fn submit(&mut self, req: TransferRequest) -> UsbResult<TransferId> {
        self.inner.submit(req)
    }
    fn wait_unless(&mut self, id: TransferId, stop: &dyn Fn() -> bool) -> UsbResult<Vec<u8>> {
        self.inner.wait_unless(id, stop)
    }
    fn cancel(&mut self, id: TransferId) -> UsbResult<()> {
        self.inner.cancel(id)
    }
    fn discard(&mut self, id: TransferId) {
        self.inner.discard(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::model::{SIM_STORAGE_PRODUCT, SIM_VENDOR};
    use crate::backend::sim::SimBackend;
    use crate::backend::UsbBackend;

    #[test]
    fn a_dropped_handle_gives_detached_kernel_drivers_back() {
        let mut sim = SimBackend::new();
        let storage = sim
            .list_devices()
            .unwrap()
            .into_iter()
            .find(|d| d.descriptor.product_id == SIM_STORAGE_PRODUCT)
            .unwrap();
        let world = sim.controller();
        let bound = || world.kernel_driver_bound(SIM_VENDOR, SIM_STORAGE_PRODUCT, 0);
        assert!(bound());
        // Detached and claimed, then dropped without clean-up (a trapped or stopped guest).
        let mut h = Reattaching::new(sim.open(storage.key).unwrap());
        h.detach_kernel_driver(0).unwrap();
        h.claim_interface(0).unwrap();
        assert!(!bound());
        drop(h);
        assert!(bound(), "the kernel driver is bound again");
        // A guest that re-attached by itself is not re-attached twice.
        let mut h = Reattaching::new(sim.open(storage.key).unwrap());
        h.detach_kernel_driver(0).unwrap();
        h.attach_kernel_driver(0).unwrap();
        assert!(h.detached.is_empty());
        drop(h);
        assert!(bound());
    }
}
