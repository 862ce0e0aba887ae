//! Devices opened once and kept across instances (the resident host's drivers): each
//! granted I2C bus is opened when the driver is set up, and every instance of the driver
//! (first start, restart, hot update) is given the same open bus.

use anyhow::{Context, Result};
use wasi_hw_engine::Instance;
use wasi_hw_i2c::{BusStats, I2cConfig, SharedBus};

use crate::Grants;

/// A driver's open I2C buses, by the name the grants use.
#[derive(Clone, Default)]
pub struct Devices {
    i2c: Vec<(String, SharedBus)>,
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
        Ok(Devices { i2c })
    }

    /// Traffic on each bus since it was opened.
    pub fn i2c_stats(&self) -> Vec<(String, BusStats)> {
        self.i2c
            .iter()
            .map(|(n, b)| (n.clone(), b.stats()))
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

    /// [`crate::install`], with these open buses instead of freshly opened ones.
    pub fn install(&self, instance: &mut Instance, grants: &Grants) -> Result<()> {
        let mut config = I2cConfig::from_grants(&grants.i2c).context("i2c")?;
        for (name, bus) in &self.i2c {
            config = config.with_bus(name.clone(), bus.clone());
        }
        wasi_hw_i2c::install(instance, config.build().context("setting up I2C")?);
        crate::install_usb(instance, grants)
    }
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
}
