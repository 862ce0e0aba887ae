//! Devices opened once and kept across instances (the resident host's drivers): each
//! granted I2C bus is opened when the driver is set up, and every instance of the driver
//! (first start, restart, hot update) is given the same open bus; USB devices an instance
//! leaves open are kept, claimed, for the next one (`wasi_hw_usb::UsbKeeper`).

use std::sync::Arc;

use anyhow::{Context, Result};
use wasi_hw_engine::Instance;
use wasi_hw_i2c::{BusStats, I2cConfig, SharedBus};
use wasi_hw_usb::{KeptDevice, UsbConfig, UsbKeeper};

use crate::Grants;

/// A driver's open I2C buses, by the name the grants use, and its USB devices.
#[derive(Clone, Default)]
pub struct Devices {
    i2c: Vec<(String, SharedBus)>,
    /// The device number of each bus given as a device path, when it was opened.
    i2c_rdev: Vec<(String, u64)>,
    usb: Option<Arc<UsbKeeper>>,
    /// Live handles per instance and interface (I2C, USB), if not the default.
    max_handles: Option<usize>,
}

impl Devices {
    /// Opens every bus the grants name (a device that cannot be opened is an error now,
    /// not at the driver's first transaction).
    pub fn open(grants: &Grants) -> Result<Devices> {
        let config = I2cConfig::from_grants(&grants.i2c).context("i2c")?;
        let mut i2c: Vec<(String, SharedBus)> = Vec::new();
        for name in config.policy().buses() {
            if i2c.iter().any(|(n, _)| n == name) {
                continue;
            }
            let bus = wasi_hw_i2c::open_bus(name).context("setting up I2C")?;
            i2c.push((name.to_string(), SharedBus::new(bus)));
        }
        let i2c_rdev = i2c
            .iter()
            .filter_map(|(name, _)| Some((name.clone(), rdev(name)?)))
            .collect();
        // Without a USB grant there is no USB backend at all.
        let usb = (!grants.usb.is_empty())
            .then(|| UsbConfig::from_grants(&grants.usb).context("usb"))
            .transpose()?
            .map(|c| Arc::new(c.into_keeper()));
        Ok(Devices {
            i2c,
            i2c_rdev,
            usb,
            max_handles: None,
        })
    }

    /// Opens every granted USB device present now and keeps it for the driver's instances
    /// (see [`wasi_hw_usb::UsbKeeper::open_granted`]): for a host about to switch user.
    pub fn open_usb_now(&self) -> Result<usize> {
        self.usb.as_ref().map_or(Ok(0), |k| open_granted(k))
    }

    /// At most `n` live handles per instance in each of the I2C and USB tables.
    pub fn with_max_handles(mut self, n: usize) -> Devices {
        self.max_handles = Some(n);
        self
    }

    /// The driver's USB devices (open by an instance, kept between instances, or lost).
    pub fn usb_devices(&self) -> Vec<KeptDevice> {
        self.usb.as_ref().map(|k| k.devices()).unwrap_or_default()
    }

    /// Gives back the USB devices kept between instances (the driver stops for good).
    pub fn release_usb(&self) {
        if let Some(k) = &self.usb {
            k.release_all();
        }
    }

    /// Traffic on each bus since it was opened.
    pub fn i2c_stats(&self) -> Vec<(String, BusStats)> {
        self.i2c
            .iter()
            .map(|(n, b)| (n.clone(), b.stats()))
            .collect()
    }

    /// Buses given as device paths whose device has gone since they were opened (the
    /// adapter was removed: the open descriptor is dead) or was replaced by another.
    pub fn i2c_lost(&self) -> Vec<String> {
        self.i2c_rdev
            .iter()
            .filter(|(name, was)| rdev(name) != Some(*was))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Marks a change of instance on every bus (see `SharedBus::mark_handover`).
    pub fn mark_handover(&self) {
        for (_, b) in &self.i2c {
            b.mark_handover();
        }
    }

    /// The longest bus idle time across the last marked change of instance.
    pub fn handover_gap(&self) -> Option<std::time::Duration> {
        self.i2c.iter().filter_map(|(_, b)| b.handover_gap()).max()
    }

    /// [`crate::install`], with these open buses and kept USB devices instead of freshly
    /// opened ones.
    pub fn install(&self, instance: &mut Instance, grants: &Grants) -> Result<()> {
        let mut i2c = I2cConfig::from_grants(&grants.i2c).context("i2c")?;
        for (name, bus) in &self.i2c {
            i2c = i2c.with_bus(name.clone(), bus.clone());
        }
        let usb = self.usb.as_ref().map(|keeper| keeper.build());
        crate::install_states(instance, i2c, usb, self.max_handles)
    }
}

pub(crate) fn open_granted(keeper: &UsbKeeper) -> Result<usize> {
    keeper
        .open_granted()
        .map_err(|e| anyhow::anyhow!("opening the granted USB devices: {e}"))
}

/// The device number of the character device at `name`, if it is one.
fn rdev(name: &str) -> Option<u64> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(name).ok()?;
    m.file_type().is_char_device().then(|| m.rdev())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buses_are_opened_once_and_errors_name_the_bus() {
        let grants = Grants {
            i2c: vec!["sim:0x48".into(), "sim:0x50".into()],
            usb: vec![],
        };
        let devices = Devices::open(&grants).unwrap();
        assert_eq!(devices.i2c_stats().len(), 1);
        let bad = Grants {
            i2c: vec!["/nonexistent/i2c-9:0x48".into()],
            usb: vec![],
        };
        let err = format!("{:#}", Devices::open(&bad).err().unwrap());
        assert!(err.contains("/nonexistent/i2c-9"), "{err}");
    }

    #[test]
    fn a_bus_whose_device_node_went_or_changed_is_lost() {
        let null = rdev("/dev/null").expect("/dev/null is a character device");
        let devices = Devices {
            i2c_rdev: vec![
                ("/dev/null".into(), null),
                ("/dev/zero".into(), null),
                ("/nonexistent/i2c-7".into(), null),
            ],
            ..Devices::default()
        };
        assert_eq!(devices.i2c_lost(), ["/dev/zero", "/nonexistent/i2c-7"]);
        assert_eq!(rdev("/tmp"), None, "not a character device");
    }
}
