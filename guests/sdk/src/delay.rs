//! WASI-I2C `delay` resource with an `embedded_hal::delay::DelayNs` implementation.

use crate::bindings::wasi::i2c::delay as raw;
use crate::bindings::wasi_hw::host::buses;

/// A host delay provider: blocks this instance for at least the requested time.
pub struct Delay {
    raw: raw::Delay,
}

impl Delay {
    /// Obtains a delay provider from the host (always granted).
    pub fn open() -> Self {
        Self::from_raw(buses::open_delay())
    }

    /// Wraps a handle obtained through the raw bindings.
    pub fn from_raw(raw: raw::Delay) -> Self {
        Self { raw }
    }

    /// The raw WIT-level handle.
    pub fn raw(&self) -> &raw::Delay {
        &self.raw
    }
}

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        self.raw.delay_ns(ns);
    }
    // delay_us/delay_ms: the trait's defaults already make one host call per
    // request (chunked only beyond u32::MAX ns).
}
