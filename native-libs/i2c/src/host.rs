//! The natives: `wasi:i2c/i2c`, `wasi:i2c/delay` and `wasi-hw:host/buses`, served to a core
//! module in the canonical ABI's flat form (see [`crate::abi`] for the memory layouts).
//!
//! | module | field | params | result |
//! |---|---|---|---|
//! | `wasi:i2c/i2c@0.2.0-draft` | `[method]i2c.read` | `(self i32, address i32, len i64, retptr i32)` | — |
//! | | `[method]i2c.write` | `(self i32, address i32, data_ptr i32, data_len i32, retptr i32)` | — |
//! | | `[method]i2c.write-read` | `(self i32, address i32, write_ptr i32, write_len i32, read_len i64, retptr i32)` | — |
//! | | `[method]i2c.transaction` | `(self i32, address i32, ops_ptr i32, ops_len i32, retptr i32)` | — |
//! | | `[resource-drop]i2c` | `(handle i32)` | — |
//! | `wasi:i2c/delay@0.2.0-draft` | `[method]delay.delay-ns` | `(self i32, ns i32)` | — |
//! | | `[resource-drop]delay` | `(handle i32)` | — |
//! | `wasi-hw:host/buses@0.1.0` | `open-i2c` | `(name_ptr i32, name_len i32, retptr i32)` | — |
//! | | `open-delay` | `()` | `i32` |
//!
//! Checks, in order, for every call: the handle (unknown or wrong-type handle → trap), the
//! `retptr` area (misaligned or out of bounds → trap, before any bus traffic), size limits
//! (over [`Limits`] → `error-code::other`, nothing allocated), guest buffers (out of bounds →
//! trap), the address grant (denied → `error-code::other` and a warning, the bus is not
//! touched), then the bus. `transaction` returns one list per operation, in order: the
//! bytes read for a `read`, an empty list for a `write`.

use crate::abi;
use crate::bus::{ErrorCode, I2cBus, Operation};
use crate::linux::LinuxI2c;
use crate::sim::SimBus;
use std::time::Duration;
use wasi_hw_policy::i2c::{I2cGrantError, I2cPolicy};
use wasi_hw_runtime::{cabi, Caller, Engine, HostModule, Resource, ResourceTable, Trap};

pub const I2C_MODULE: &str = "wasi:i2c/i2c@0.2.0-draft";
pub const DELAY_MODULE: &str = "wasi:i2c/delay@0.2.0-draft";
pub const BUSES_MODULE: &str = "wasi-hw:host/buses@0.1.0";

/// Bounds on what one guest call may ask of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes written plus bytes read by one call.
    pub max_transfer: u64,
    /// Operations in one `transaction`.
    pub max_operations: u32,
    /// Bytes of a bus name given to `open-i2c`.
    pub max_name_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_transfer: 64 * 1024,
            max_operations: 256,
            max_name_len: 4096,
        }
    }
}

/// An `i2c` resource: a guest's handle on one granted bus.
struct I2cRes {
    bus: usize,
}

impl Resource for I2cRes {
    const KIND: &'static str = "i2c";
}

/// A `delay` resource.
struct DelayRes;

impl Resource for DelayRes {
    const KIND: &'static str = "delay";
}

/// Per-instance state of the I2C natives: the granted buses and the handle table. Install
/// it with `instance.extensions_mut().insert(host)`.
pub struct I2cHost {
    policy: I2cPolicy,
    buses: Vec<(String, Box<dyn I2cBus>)>,
    resources: ResourceTable,
    limits: Limits,
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

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn policy(&self) -> &I2cPolicy {
        &self.policy
    }

    /// Names of the buses a guest can open.
    pub fn bus_names(&self) -> impl Iterator<Item = &str> {
        self.buses.iter().map(|(n, _)| n.as_str())
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

    fn open_delay(&mut self) -> Result<u32, Trap> {
        self.resources
            .push(DelayRes)
            .map_err(|e| Trap::new(format!("open-delay: {e}")))
    }

    fn bus_of(&self, handle: u32) -> Result<usize, Trap> {
        self.resources.get::<I2cRes>(handle).map(|r| r.bus)
    }

    fn drop_i2c(&mut self, handle: u32) -> Result<(), Trap> {
        self.resources.delete::<I2cRes>(handle).map(drop)
    }

    fn check_delay(&self, handle: u32) -> Result<(), Trap> {
        self.resources.get::<DelayRes>(handle).map(drop)
    }

    fn drop_delay(&mut self, handle: u32) -> Result<(), Trap> {
        self.resources.delete::<DelayRes>(handle).map(drop)
    }

    fn check_size(&self, what: &str, bytes: u64) -> Result<(), ErrorCode> {
        if bytes > self.limits.max_transfer {
            log::warn!(
                "i2c: {what} of {bytes} bytes refused: over the per-call limit of {} bytes",
                self.limits.max_transfer
            );
            return Err(ErrorCode::Other);
        }
        Ok(())
    }

    fn check_access(&self, bus: usize, address: u16, what: &str) -> Result<(), ErrorCode> {
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
    fn run(
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

/// Builder for an [`I2cHost`] from grants (what the CLI does).
///
/// ```no_run
/// # use wasi_hw_i2c::{I2cConfig, sim::SimBus};
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
            } else if name == "sim" {
                host.add_bus(name, SimBus::with_default_devices());
            } else if name.starts_with('/') {
                let bus = LinuxI2c::open(name).map_err(|source| I2cSetupError::Open {
                    bus: name.to_string(),
                    source,
                })?;
                log::info!("i2c: opened {name} ({:#010x})", bus.functionality());
                host.add_bus(name, bus);
            } else {
                return Err(I2cSetupError::UnknownBus(name.to_string()));
            }
        }
        for (n, _) in supplied {
            log::warn!("i2c: bus {n:?} was configured but nothing on it is granted; ignored");
        }
        Ok(host)
    }
}

fn host<'a>(caller: &'a mut Caller<'_>) -> Result<&'a mut I2cHost, Trap> {
    caller
        .data::<I2cHost>()
        .ok_or_else(|| Trap::new("wasi:i2c: no I2C host state installed on this instance"))
}

/// The checks every `[method]i2c.*` call starts with, in this order, before any bus
/// traffic: the handle names an i2c resource, and the return area is aligned and in bounds.
/// Returns the handle's bus.
fn begin_method(
    caller: &mut Caller<'_>,
    handle: u32,
    retptr: u32,
    (size, align): (u32, u32),
) -> Result<usize, Trap> {
    let bus = host(caller)?.bus_of(handle)?;
    cabi::check_area(caller, retptr, (size, align))?;
    Ok(bus)
}

fn store_list_result(
    caller: &mut Caller<'_>,
    retptr: u32,
    r: Result<Vec<u8>, ErrorCode>,
) -> Result<(), Trap> {
    let bytes = match r {
        Ok(data) => {
            let (ptr, len) = cabi::lower_bytes(caller, &data)?;
            abi::result_list_ok(ptr, len)
        }
        Err(e) => abi::result_list_err(e),
    };
    caller.write(retptr, &bytes)
}

/// Lifting a `u16` from its flat `i32` keeps the low 16 bits (CanonicalABI.md, lift_flat).
fn lift_address(flat: u32) -> u16 {
    flat as u16
}

fn i2c_read(
    caller: &mut Caller<'_>,
    handle: u32,
    address: u32,
    len: u64,
    retptr: u32,
) -> Result<(), Trap> {
    let address = lift_address(address);
    let bus = begin_method(
        caller,
        handle,
        retptr,
        (abi::RESULT_LIST_SIZE, abi::RESULT_LIST_ALIGN),
    )?;
    let h = host(caller)?;
    let r = h.check_size("read", len).and_then(|()| {
        let mut buf = vec![0u8; len as usize];
        h.run(bus, address, "read", &mut [Operation::Read(&mut buf)])
            .map(|()| buf)
    });
    store_list_result(caller, retptr, r)
}

fn i2c_write(
    caller: &mut Caller<'_>,
    handle: u32,
    address: u32,
    ptr: u32,
    len: u32,
    retptr: u32,
) -> Result<(), Trap> {
    let address = lift_address(address);
    let bus = begin_method(
        caller,
        handle,
        retptr,
        (abi::RESULT_UNIT_SIZE, abi::RESULT_UNIT_ALIGN),
    )?;
    let r = match host(caller)?.check_size("write", u64::from(len)) {
        Err(e) => Err(e),
        Ok(()) => {
            let data = caller.read(ptr, len)?;
            host(caller)?.run(bus, address, "write", &mut [Operation::Write(&data)])
        }
    };
    caller.write(retptr, &abi::result_unit(r))
}

fn i2c_write_read(
    caller: &mut Caller<'_>,
    handle: u32,
    address: u32,
    ptr: u32,
    len: u32,
    read_len: u64,
    retptr: u32,
) -> Result<(), Trap> {
    let address = lift_address(address);
    let bus = begin_method(
        caller,
        handle,
        retptr,
        (abi::RESULT_LIST_SIZE, abi::RESULT_LIST_ALIGN),
    )?;
    let total = u64::from(len).saturating_add(read_len);
    let r = match host(caller)?.check_size("write-read", total) {
        Err(e) => Err(e),
        Ok(()) => {
            let data = caller.read(ptr, len)?;
            let mut buf = vec![0u8; read_len as usize];
            host(caller)?
                .run(
                    bus,
                    address,
                    "write-read",
                    &mut [Operation::Write(&data), Operation::Read(&mut buf)],
                )
                .map(|()| buf)
        }
    };
    store_list_result(caller, retptr, r)
}

/// A transaction operation with its data copied out of the guest.
enum OwnedOp {
    Read(Vec<u8>),
    Write(Vec<u8>),
}

fn i2c_transaction(
    caller: &mut Caller<'_>,
    handle: u32,
    address: u32,
    ops_ptr: u32,
    ops_len: u32,
    retptr: u32,
) -> Result<(), Trap> {
    let address = lift_address(address);
    let bus = begin_method(
        caller,
        handle,
        retptr,
        (abi::RESULT_LIST_SIZE, abi::RESULT_LIST_ALIGN),
    )?;
    let limits = host(caller)?.limits;
    if ops_len > limits.max_operations {
        log::warn!(
            "i2c: transaction of {ops_len} operations refused: over the limit of {}",
            limits.max_operations
        );
        return caller.write(retptr, &abi::result_list_err(ErrorCode::Other));
    }
    if !ops_ptr.is_multiple_of(abi::OPERATION_ALIGN) {
        return Err(Trap::new(format!(
            "misaligned list<operation> pointer {ops_ptr:#x}"
        )));
    }
    // ops_len ≤ max_operations, so this cannot overflow.
    let raw = caller.read(ops_ptr, ops_len * abi::OPERATION_SIZE)?;
    let ops = abi::decode_operations(&raw)
        .map_err(|i| Trap::new(format!("invalid operation discriminant at index {i}")))?;
    let total = ops.iter().fold(0u64, |acc, op| {
        acc.saturating_add(match op {
            abi::RawOperation::Read(n) => *n,
            abi::RawOperation::Write { len, .. } => u64::from(*len),
        })
    });
    if let Err(e) = host(caller)?.check_size("transaction", total) {
        return caller.write(retptr, &abi::result_list_err(e));
    }
    let mut owned = Vec::with_capacity(ops.len());
    for op in &ops {
        owned.push(match *op {
            abi::RawOperation::Read(n) => OwnedOp::Read(vec![0u8; n as usize]),
            abi::RawOperation::Write { ptr, len } => OwnedOp::Write(caller.read(ptr, len)?),
        });
    }
    let r = {
        let mut bus_ops: Vec<Operation<'_>> = owned
            .iter_mut()
            .map(|o| match o {
                OwnedOp::Read(b) => Operation::Read(b.as_mut_slice()),
                OwnedOp::Write(d) => Operation::Write(d.as_slice()),
            })
            .collect();
        host(caller)?.run(bus, address, "transaction", &mut bus_ops)
    };
    if let Err(e) = r {
        return caller.write(retptr, &abi::result_list_err(e));
    }
    // One list per operation: the bytes read, or an empty list for a write.
    let mut elems = Vec::with_capacity(owned.len() * abi::LIST_SIZE as usize);
    for o in &owned {
        let list = match o {
            OwnedOp::Read(b) => cabi::lower_bytes(caller, b)?,
            OwnedOp::Write(_) => cabi::lower_bytes(caller, &[])?,
        };
        elems.extend_from_slice(&cabi::encode_list(list));
    }
    let (outer, n) = cabi::lower_array(caller, &elems, abi::LIST_SIZE, abi::LIST_ALIGN)?;
    caller.write(retptr, &abi::result_list_ok(outer, n))
}

fn i2c_drop(caller: &mut Caller<'_>, handle: u32) -> Result<(), Trap> {
    host(caller)?.drop_i2c(handle)
}

fn delay_ns(caller: &mut Caller<'_>, handle: u32, ns: u32) -> Result<(), Trap> {
    host(caller)?.check_delay(handle)?;
    // ns is a u32, so one call sleeps at most ~4.3 s.
    std::thread::sleep(Duration::from_nanos(u64::from(ns)));
    Ok(())
}

fn delay_drop(caller: &mut Caller<'_>, handle: u32) -> Result<(), Trap> {
    host(caller)?.drop_delay(handle)
}

fn open_i2c(caller: &mut Caller<'_>, ptr: u32, len: u32, retptr: u32) -> Result<(), Trap> {
    cabi::check_area(
        caller,
        retptr,
        (abi::RESULT_HANDLE_SIZE, abi::RESULT_HANDLE_ALIGN),
    )?;
    let max = host(caller)?.limits.max_name_len;
    let r = if len > max {
        log::warn!("i2c: open-i2c with a {len}-byte name refused (limit {max})");
        Err(ErrorCode::Other)
    } else {
        let bytes = caller.read(ptr, len)?;
        // Lifting a `string` traps on invalid UTF-8 (canonical ABI).
        let name = String::from_utf8(bytes)
            .map_err(|_| Trap::new("open-i2c: bus name is not valid UTF-8"))?;
        host(caller)?.open_i2c(&name)
    };
    caller.write(retptr, &abi::result_handle(r))
}

fn open_delay(caller: &mut Caller<'_>) -> Result<u32, Trap> {
    host(caller)?.open_delay()
}

/// The three host modules. Register them (see [`register`]) before loading a guest.
pub fn host_modules() -> Vec<HostModule> {
    // Each signature follows from the function's parameter types (u32 = i32, u64 = i64).
    let i2c = HostModule::new(I2C_MODULE)
        .func_wrap("[method]i2c.read", i2c_read)
        .func_wrap("[method]i2c.write", i2c_write)
        .func_wrap("[method]i2c.write-read", i2c_write_read)
        .func_wrap("[method]i2c.transaction", i2c_transaction)
        .func_wrap("[resource-drop]i2c", i2c_drop);
    let delay = HostModule::new(DELAY_MODULE)
        .func_wrap("[method]delay.delay-ns", delay_ns)
        .func_wrap("[resource-drop]delay", delay_drop);
    let buses = HostModule::new(BUSES_MODULE)
        .func_wrap("open-i2c", open_i2c)
        .func_wrap("open-delay", open_delay);
    vec![i2c, delay, buses]
}

/// Whether a module (`.wasm` or `.aot` bytes) can import these natives, so that a caller
/// registers them only when needed (building the tables is part of every cold start).
/// Import module names are stored verbatim in both formats; only the part of the module
/// that holds them is searched ([`wasi_hw_runtime::import_region`]).
pub fn imported_by(module: &[u8]) -> bool {
    let imports = wasi_hw_runtime::import_region(module);
    ["wasi:i2c/", "wasi-hw:host/"]
        .iter()
        .any(|p| memchr::memmem::find(imports, p.as_bytes()).is_some())
}

/// Registers the natives with the engine (idempotent).
pub fn register(engine: &Engine) -> Result<(), wasi_hw_runtime::Error> {
    for m in host_modules() {
        engine.register_host_module(m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimBus;

    #[test]
    fn imports_are_recognised_by_package_name() {
        // (Not a parsable module: the whole input is searched.)
        assert!(imported_by(b"\0asm..wasi:i2c/i2c@0.2.0-draft.."));
        assert!(imported_by(b"..wasi-hw:host/buses@0.1.0"));
        assert!(!imported_by(b"\0asm..wasi:usb/device@0.2.1..wasi:i2c"));
    }

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
        // (Handle-space exhaustion is the same error: wasi_hw_runtime::ResourceTable's tests.)
        let (mut h, _) = host_with_sim(&["sim:0x48"]);
        h.resources = ResourceTable::new(2);
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

    #[test]
    fn module_tables() {
        let mods = host_modules();
        let names: Vec<&str> = mods.iter().map(|m| m.name()).collect();
        assert_eq!(names, vec![I2C_MODULE, DELAY_MODULE, BUSES_MODULE]);
    }
}
