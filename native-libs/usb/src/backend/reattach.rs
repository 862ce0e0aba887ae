//! Giving interfaces back to the kernel: a device handle that remembers which interfaces'
//! kernel drivers it detached and, when it is dropped, releases them and attaches the
//! drivers again (libusb's auto-detach behaviour). So a guest that traps, or is stopped by
//! the resident host before its own clean-up runs, still leaves the device as it found it.
//!
//! A handle with a home (see [`super::keeper`]) goes back there instead when the instance
//! that holds it ends without closing it: the claims and detached drivers stay with the
//! host, for the driver's next instance.

use std::collections::BTreeSet;

use super::keeper::Home;
use super::{TransferId, TransferRequest, UsbDeviceHandle};
use crate::error::UsbResult;

pub struct Reattaching {
    /// Always present; taken only when the handle moves home.
    inner: Option<Box<dyn UsbDeviceHandle>>,
    detached: BTreeSet<u8>,
    home: Option<Home>,
}

impl Reattaching {
    pub fn new(inner: Box<dyn UsbDeviceHandle>) -> Reattaching {
        Reattaching {
            inner: Some(inner),
            detached: BTreeSet::new(),
            home: None,
        }
    }

    /// Where the handle goes when it is dropped without [`UsbDeviceHandle::close`].
    pub(crate) fn with_home(mut self, home: Home) -> Reattaching {
        self.home = Some(home);
        self
    }

    fn h(&mut self) -> &mut dyn UsbDeviceHandle {
        self.inner.as_deref_mut().expect("present until dropped")
    }
}

impl Drop for Reattaching {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            let kept = Reattaching {
                inner: self.inner.take(),
                detached: std::mem::take(&mut self.detached),
                home: None,
            };
            // The keeper is gone or releasing: give the device back now.
            let Err(mut back) = home.keep(kept) else {
                return;
            };
            self.inner = back.inner.take();
            self.detached = std::mem::take(&mut back.detached);
        }
        let Some(inner) = self.inner.as_deref_mut() else {
            return;
        };
        for &interface in &self.detached {
            // A claim must go before the kernel driver can bind again.
            let _ = inner.release_interface(interface);
            if let Err(e) = inner.attach_kernel_driver(interface) {
                log::debug!("usb: re-attaching the kernel driver of interface {interface}: {e}");
            }
        }
    }
}

impl UsbDeviceHandle for Reattaching {
    fn get_configuration(&mut self) -> UsbResult<u8> {
        self.h().get_configuration()
    }
    fn set_configuration(&mut self, value: u8) -> UsbResult<()> {
        self.h().set_configuration(value)
    }
    fn claim_interface(&mut self, interface: u8) -> UsbResult<()> {
        self.h().claim_interface(interface)
    }
    fn release_interface(&mut self, interface: u8) -> UsbResult<()> {
        self.h().release_interface(interface)
    }
    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> UsbResult<()> {
        self.h().set_alt_setting(interface, alt)
    }
    fn clear_halt(&mut self, endpoint: u8) -> UsbResult<()> {
        self.h().clear_halt(endpoint)
    }
    fn reset(&mut self) -> UsbResult<()> {
        self.h().reset()
    }
    fn kernel_driver_active(&mut self, interface: u8) -> UsbResult<bool> {
        self.h().kernel_driver_active(interface)
    }
    fn close(mut self: Box<Self>) {
        // Closed by the guest: released now, never kept.
        self.home = None;
    }
    fn detach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.h().detach_kernel_driver(interface)?;
        self.detached.insert(interface);
        Ok(())
    }
    fn attach_kernel_driver(&mut self, interface: u8) -> UsbResult<()> {
        self.h().attach_kernel_driver(interface)?;
        self.detached.remove(&interface);
        Ok(())
    }
    fn submit(&mut self, req: TransferRequest) -> UsbResult<TransferId> {
        self.h().submit(req)
    }
    fn wait_unless(&mut self, id: TransferId, stop: &dyn Fn() -> bool) -> UsbResult<Vec<u8>> {
        self.h().wait_unless(id, stop)
    }
    fn cancel(&mut self, id: TransferId) -> UsbResult<()> {
        self.h().cancel(id)
    }
    fn discard(&mut self, id: TransferId) {
        self.h().discard(id)
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
