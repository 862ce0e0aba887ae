//! Per-instance WASI-I2C state: the granted buses, the instance's `i2c` and `delay`
//! resources in the engine's resource table, the limits of one call, and the host logic
//! the natives call (`natives/`); [`I2cConfig`] builds it from grants.

use crate::backend::linux::LinuxI2c;
use crate::backend::sim::SimBus;
use crate::backend::{ErrorCode, I2cBus, Operation};
use wasi_hw_engine::{Resource, ResourceTable, Trap};
use wasi_hw_policy::i2c::{I2cGrantError, I2cPolicy};

/// Bounds on what one guest call may ask of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes written plus bytes read by one call.
    pub max_transfer: u64,
    /// Operations in one `transaction`.
    pub max_operations: u32,
    /// Bytes of a bus name given to `open-i2c`.
    pub max_name_len: u32,
    /// Live `i2c` and `delay` handles of the instance.
    pub max_handles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_transfer: 64 * 1024,
            max_operations: 256,
            max_name_len: 4096,
            max_handles: ResourceTable::DEFAULT_LIMIT,
        }
    }
}

/// An `i2c` resource: a guest's handle on one granted bus.
pub(crate) struct I2cRes {
    pub(crate) bus: usize,
}

impl Resource for I2cRes {
    const KIND: &'static str = "i2c";
}

/// A `delay` resource.
pub(crate) struct DelayRes;

impl Resource for DelayRes {
    const KIND: &'static str = "delay";
}

/// Per-instance state of the I2C natives: the granted buses and the handle table. Install
/// it with [`crate::install`].
pub struct I2cHost {
    policy: I2cPolicy,
    buses: Vec<(String, Box<dyn I2cBus>)>,
    resources: ResourceTable,
    pub(crate) limits: Limits,
}

impl I2cHost {
    /// A host with no buses yet; add them with [`I2cHost::add_bus`].
    pub fn new(policy: I2cPolicy) -> Self {
        I2cHost {
            policy,
            buses: Vec::new(),
            resources: ResourceTable::default(),
            limits: Limits::default(),
        }
    }

    /// Makes `bus` available as `name`. A guest can open it only if the policy grants
    /// something on `name`.
    pub fn add_bus(&mut self, name: impl Into<String>, bus: impl I2cBus + 'static) {
        let name = name.into();
        self.buses.retain(|(n, _)| *n != name);
        self.buses.push((name, Box::new(bus)));
    }

    /// Sets the limits (before the guest runs: the handle table starts afresh).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.resources = ResourceTable::new(limits.max_handles);
    }

    /// Names of the buses a guest can open.
    pub fn bus_names(&self) -> impl Iterator<Item = &str> {
        self.buses.iter().map(|(n, _)| n.as_str())
    }

    /// What the used displays on the buses show, one line each (`BUS 0xAA: TEXT`): the
    /// simulator's screens, shown after a run.
    pub fn displays(&self) -> Vec<String> {
        self.buses
            .iter()
            .flat_map(|(name, bus)| {
                bus.displays()
                    .into_iter()
                    .map(move |(addr, text)| format!("{name} {addr:#04x}: {text}"))
            })
            .collect()
    }

    /// Live (not yet dropped) `i2c` and `delay` handles.
    pub fn live_handles(&self) -> usize {
        self.resources.len()
    }

    /// `open-i2c`: a new handle on bus `name`, if granted.
    pub fn open_i2c(&mut self, name: &str) -> Result<u32, ErrorCode> {
        if !self.policy.allows_bus(name) {
            log::warn!("i2c: open-i2c({name:?}) denied: no --i2c grant for this bus");
            return Err(ErrorCode::Other);
        }
        let Some(bus) = self.buses.iter().position(|(n, _)| n == name) else {
            log::warn!("i2c: open-i2c({name:?}): bus granted but not available on this host");
            return Err(ErrorCode::Other);
        };
        self.resources.push(I2cRes { bus }).map_err(|e| {
            log::warn!("i2c: open-i2c({name:?}): {e}");
            ErrorCode::Other
        })
    }

    /// `open-delay`: a new delay handle.
    pub fn open_delay(&mut self) -> Result<u32, Trap> {
        self.resources
            .push(DelayRes)
            .map_err(|e| Trap::new(format!("open-delay: {e}")))
    }

    pub(crate) fn bus_of(&self, handle: u32) -> Result<usize, Trap> {
        self.resources.get::<I2cRes>(handle).map(|r| r.bus)
    }

    pub(crate) fn drop_i2c(&mut self, handle: u32) -> Result<(), Trap> {
        self.resources.delete::<I2cRes>(handle).map(drop)
    }

    pub(crate) fn check_delay(&self, handle: u32) -> Result<(), Trap> {
        self.resources.get::<DelayRes>(handle).map(drop)
    }

    pub(crate) fn drop_delay(&mut self, handle: u32) -> Result<(), Trap> {
        self.resources.delete::<DelayRes>(handle).map(drop)
    }

    pub(crate) fn check_size(&self, what: &str, bytes: u64) -> Result<(), ErrorCode> {
        if bytes > self.limits.max_transfer {
            log::warn!(
                "i2c: {what} of {bytes} bytes refused: over the per-call limit of {} bytes",
                self.limits.max_transfer
            );
            return Err(ErrorCode::Other);
        }
        Ok(())
    }

    pub(crate) fn check_access(
        &self,
        bus: usize,
        address: u16,
        what: &str,
    ) -> Result<(), ErrorCode> {
        let name = &self.buses[bus].0;
        if self.policy.allows(name, address) {
            Ok(())
        } else {
            log::warn!(
                "i2c: {what} at address {address:#04x} on bus {name} denied: address not granted"
            );
            Err(ErrorCode::Other)
        }
    }

    /// Runs a transaction on a handle's bus after the grant check.
    pub(crate) fn run(
        &mut self,
        bus: usize,
        address: u16,
        what: &str,
        ops: &mut [Operation<'_>],
    ) -> Result<(), ErrorCode> {
        self.check_access(bus, address, what)?;
        let r = self.buses[bus].1.transaction(address, ops);
        if let Err(e) = r {
            log::debug!(
                "i2c: {what} at {address:#04x} on {}: {e}",
                self.buses[bus].0
            );
        }
        r
    }
}

/// Why the I2C host could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum I2cSetupError {
    #[error(transparent)]
    Grant(#[from] I2cGrantError),
    #[error("cannot open I2C bus {bus}: {source}")]
    Open { bus: String, source: std::io::Error },
    #[error("unknown I2C bus {0:?}: use `sim` or a device path such as /dev/i2c-1")]
    UnknownBus(String),
}

/// Opens the bus a grant names: `sim` → [`SimBus::with_default_devices`], a path →
/// [`LinuxI2c::open`].
pub fn open_bus(name: &str) -> Result<Box<dyn I2cBus>, I2cSetupError> {
    if name == "sim" {
        Ok(Box::new(SimBus::with_default_devices()))
    } else if name.starts_with('/') {
        let bus = LinuxI2c::open(name).map_err(|source| I2cSetupError::Open {
            bus: name.to_string(),
            source,
        })?;
        log::info!("i2c: opened {name} ({:#010x})", bus.functionality());
        Ok(Box::new(bus))
    } else {
        Err(I2cSetupError::UnknownBus(name.to_string()))
    }
}

/// Builder for an [`I2cHost`] from grants (what the CLI does).
///
/// ```no_run
/// # use wasi_hw_i2c::{I2cConfig, SimBus};
/// let host = I2cConfig::from_grants(&["sim:0x48,0x50", "/dev/i2c-1:0x20"])?
///     .with_bus("sim", SimBus::with_default_devices()) // optional: this is the default for "sim"
///     .build()?;
/// # Ok::<(), wasi_hw_i2c::I2cSetupError>(())
/// ```
pub struct I2cConfig {
    policy: I2cPolicy,
    buses: Vec<(String, Box<dyn I2cBus>)>,
    limits: Limits,
}

impl I2cConfig {
    pub fn new(policy: I2cPolicy) -> Self {
        I2cConfig {
            policy,
            buses: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// Parses `--i2c` strings (`BUS:ADDRS`, see `wasi_hw_policy::i2c`).
    pub fn from_grants<S: AsRef<str>>(grants: &[S]) -> Result<Self, I2cSetupError> {
        Ok(Self::new(I2cPolicy::from_grants(grants)?))
    }

    /// Uses `bus` for the granted bus `name` instead of the default backend.
    pub fn with_bus(mut self, name: impl Into<String>, bus: impl I2cBus + 'static) -> Self {
        self.buses.push((name.into(), Box::new(bus)));
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn policy(&self) -> &I2cPolicy {
        &self.policy
    }

    /// Opens every granted bus: a bus given with [`with_bus`](Self::with_bus), else `sim` →
    /// [`SimBus::with_default_devices`], a path → [`LinuxI2c::open`].
    pub fn build(self) -> Result<I2cHost, I2cSetupError> {
        let mut supplied = self.buses;
        let mut host = I2cHost::new(self.policy.clone());
        host.set_limits(self.limits);
        for name in self.policy.buses() {
            if let Some(i) = supplied.iter().position(|(n, _)| n == name) {
                let (n, bus) = supplied.swap_remove(i);
                host.buses.push((n, bus));
            } else if !host.buses.iter().any(|(n, _)| n == name) {
                host.buses.push((name.to_string(), open_bus(name)?));
            }
        }
        for (n, _) in supplied {
            log::warn!("i2c: bus {n:?} was configured but nothing on it is granted; ignored");
        }
        Ok(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_with_sim(grants: &[&str]) -> (I2cHost, SimBus) {
        let sim = SimBus::with_default_devices();
        let host = I2cConfig::from_grants(grants)
            .unwrap()
            .with_bus("sim", sim.clone())
            .build()
            .unwrap();
        (host, sim)
    }

    #[test]
    fn open_requires_a_grant() {
        let (mut h, _) = host_with_sim(&["sim:0x48"]);
        assert_eq!(h.open_i2c("/dev/i2c-1"), Err(ErrorCode::Other));
        assert_eq!(h.open_i2c(""), Err(ErrorCode::Other));
        let a = h.open_i2c("sim").unwrap();
        let b = h.open_i2c("sim").unwrap();
        assert_ne!(a, b);
        assert!(a >= 1);
        assert_eq!(h.live_handles(), 2);
    }

    #[test]
    fn handles_are_not_reused_and_typed() {
        let (mut h, _) = host_with_sim(&["sim:0x48"]);
        let a = h.open_i2c("sim").unwrap();
        h.drop_i2c(a).unwrap();
        let b = h.open_i2c("sim").unwrap();
        assert_ne!(a, b, "a freed handle number must not come back at once");
        assert_eq!(
            h.drop_i2c(a).unwrap_err().message(),
            format!("unknown i2c handle {a}")
        );
        let d = h.open_delay().unwrap();
        assert!(h.bus_of(d).unwrap_err().message().contains("is a delay"));
        assert!(h
            .check_delay(b)
            .unwrap_err()
            .message()
            .contains("not a delay"));
        h.drop_delay(d).unwrap();
        assert!(h.drop_delay(d).is_err());
        assert_eq!(h.live_handles(), 1);
    }

    #[test]
    fn a_full_handle_table_is_an_error() {
        // (Handle-space exhaustion is the same error: wasi_hw_engine::ResourceTable's tests.)
        let (mut h, _) = host_with_sim(&["sim:0x48"]);
        h.set_limits(Limits {
            max_handles: 2,
            ..Limits::default()
        });
        assert_eq!(h.open_i2c("sim"), Ok(1));
        assert_eq!(h.open_i2c("sim"), Ok(2));
        assert_eq!(h.open_i2c("sim"), Err(ErrorCode::Other));
        assert!(h.open_delay().is_err());
    }

    #[test]
    fn denied_address_does_not_touch_the_bus() {
        let (mut h, sim) = host_with_sim(&["sim:0x48"]);
        let handle = h.open_i2c("sim").unwrap();
        let bus = h.bus_of(handle).unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(
            h.run(bus, 0x50, "read", &mut [Operation::Read(&mut buf)]),
            Err(ErrorCode::Other)
        );
        assert!(sim.traffic().is_idle());
        h.run(
            bus,
            0x48,
            "write-read",
            &mut [Operation::Write(&[0]), Operation::Read(&mut buf)],
        )
        .unwrap();
        assert_eq!(buf, [0x17, 0x80]);
        assert_eq!(sim.traffic().transactions, 1);
    }

    #[test]
    fn size_limit() {
        let (h, _) = host_with_sim(&["sim:0x48"]);
        assert!(h.check_size("read", 64 * 1024).is_ok());
        assert_eq!(h.check_size("read", 64 * 1024 + 1), Err(ErrorCode::Other));
        assert_eq!(h.check_size("read", u64::MAX), Err(ErrorCode::Other));
    }

    #[test]
    fn config_errors() {
        assert!(matches!(
            I2cConfig::from_grants(&["sim"]),
            Err(I2cSetupError::Grant(_))
        ));
        assert!(matches!(
            I2cConfig::from_grants(&["i2c-1:0x48"]).unwrap().build(),
            Err(I2cSetupError::UnknownBus(b)) if b == "i2c-1"
        ));
        assert!(matches!(
            I2cConfig::from_grants(&["/nonexistent/i2c-7:0x48"])
                .unwrap()
                .build(),
            Err(I2cSetupError::Open { .. })
        ));
        // `sim` without an explicit bus gets the default devices.
        let mut h = I2cConfig::from_grants(&["sim:*"]).unwrap().build().unwrap();
        assert_eq!(h.bus_names().collect::<Vec<_>>(), vec!["sim"]);
        let handle = h.open_i2c("sim").unwrap();
        let bus = h.bus_of(handle).unwrap();
        let mut t = [0u8; 2];
        h.run(
            bus,
            0x48,
            "t",
            &mut [Operation::Write(&[0]), Operation::Read(&mut t)],
        )
        .unwrap();
        assert_eq!(t, [0x17, 0x80]);
    }

    #[test]
    fn ungranted_configured_bus_is_not_reachable() {
        let h = I2cConfig::from_grants(&["sim:0x48"])
            .unwrap()
            .with_bus("other", SimBus::new())
            .build()
            .unwrap();
        assert_eq!(h.bus_names().collect::<Vec<_>>(), vec!["sim"]);
    }
}
