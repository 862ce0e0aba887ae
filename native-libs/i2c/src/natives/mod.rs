//! The natives, one file per WIT interface: `wasi:i2c/i2c`, `wasi:i2c/delay` and
//! `wasi-hw:host/buses`, served to a core module in the canonical ABI's flat form (see
//! [`crate::abi`] for the memory layouts); the host logic is [`I2cHost`](crate::I2cHost)'s.
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
//! (over [`Limits`](crate::Limits) → `error-code::other`, nothing allocated), guest buffers (out of bounds →
//! trap), the address grant (denied → `error-code::other` and a warning, the bus is not
//! touched), then the bus. `transaction` returns one list per operation, in order: the
//! bytes read for a `read`, an empty list for a `write`.

mod buses;
mod delay;
mod i2c;

use crate::ctx::I2cHost;
use wasi_hw_engine::{cabi, Caller, HostModule, Trap};

pub const I2C_MODULE: &str = "wasi:i2c/i2c@0.2.0-draft";
pub const DELAY_MODULE: &str = "wasi:i2c/delay@0.2.0-draft";
pub const BUSES_MODULE: &str = "wasi-hw:host/buses@0.1.0";

pub(crate) fn host<'a>(caller: &'a mut Caller<'_>) -> Result<&'a mut I2cHost, Trap> {
    caller
        .data::<I2cHost>()
        .ok_or_else(|| Trap::new("wasi:i2c: no I2C host state installed on this instance"))
}

/// The checks every `[method]i2c.*` call starts with, in this order, before any bus
/// traffic: the handle names an i2c resource, and the return area is aligned and in bounds.
/// Returns the handle's bus.
pub(crate) fn begin_method(
    caller: &mut Caller<'_>,
    handle: u32,
    retptr: u32,
    (size, align): (u32, u32),
) -> Result<usize, Trap> {
    let bus = host(caller)?.bus_of(handle)?;
    cabi::check_area(caller, retptr, (size, align))?;
    Ok(bus)
}

/// Lifting a `u16` from its flat `i32` keeps the low 16 bits (CanonicalABI.md, lift_flat).
pub(crate) fn lift_address(flat: u32) -> u16 {
    flat as u16
}

/// The three host modules. Register them (see [`register`](crate::register)) before
/// loading a guest.
pub fn host_modules() -> Vec<HostModule> {
    // Each signature follows from the function's parameter types (u32 = i32, u64 = i64).
    let i2c = HostModule::new(I2C_MODULE)
        .func_wrap("[method]i2c.read", i2c::read)
        .func_wrap("[method]i2c.write", i2c::write)
        .func_wrap("[method]i2c.write-read", i2c::write_read)
        .func_wrap("[method]i2c.transaction", i2c::transaction)
        .func_wrap("[resource-drop]i2c", i2c::drop);
    let delay = HostModule::new(DELAY_MODULE)
        .func_wrap("[method]delay.delay-ns", delay::delay_ns)
        .func_wrap("[resource-drop]delay", delay::drop);
    let buses = HostModule::new(BUSES_MODULE)
        .func_wrap("open-i2c", buses::open_i2c)
        .func_wrap("open-delay", buses::open_delay);
    vec![i2c, delay, buses]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_tables() {
        let mods = host_modules();
        let names: Vec<&str> = mods.iter().map(|m| m.name()).collect();
        assert_eq!(names, vec![I2C_MODULE, DELAY_MODULE, BUSES_MODULE]);
    }
}
