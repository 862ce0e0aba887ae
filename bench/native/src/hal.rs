//! `embedded_hal::i2c::I2c` over a wasi-hw I2C backend, so the native bench driver runs
//! the same embedded-hal driver code as the guests, against the same backend.

use embedded_hal::i2c::{ErrorKind, ErrorType, NoAcknowledgeSource as HalNack, Operation};
use wasi_hw_i2c::{ErrorCode, I2cBus, NoAcknowledgeSource};

/// A backend error as an embedded-hal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalError(pub ErrorCode);

impl embedded_hal::i2c::Error for HalError {
    fn kind(&self) -> ErrorKind {
        match self.0 {
            ErrorCode::Bus => ErrorKind::Bus,
            ErrorCode::ArbitrationLoss => ErrorKind::ArbitrationLoss,
            ErrorCode::NoAcknowledge(s) => ErrorKind::NoAcknowledge(match s {
                NoAcknowledgeSource::Address => HalNack::Address,
                NoAcknowledgeSource::Data => HalNack::Data,
                NoAcknowledgeSource::Unknown => HalNack::Unknown,
            }),
            ErrorCode::Overrun => ErrorKind::Overrun,
            ErrorCode::Other => ErrorKind::Other,
        }
    }
}

impl std::fmt::Display for HalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HalError {}

/// Wraps a backend (e.g. `wasi_hw_i2c::SimBus`, `wasi_hw_i2c::LinuxI2c`).
pub struct HalBus<B>(pub B);

impl<B: I2cBus> ErrorType for HalBus<B> {
    type Error = HalError;
}

impl<B: I2cBus> embedded_hal::i2c::I2c for HalBus<B> {
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), HalError> {
        let mut bus_ops: Vec<wasi_hw_i2c::Operation<'_>> = ops
            .iter_mut()
            .map(|op| match op {
                Operation::Read(b) => wasi_hw_i2c::Operation::Read(b),
                Operation::Write(d) => wasi_hw_i2c::Operation::Write(d),
            })
            .collect();
        self.0
            .transaction(u16::from(address), &mut bus_ops)
            .map_err(HalError)
    }

    // Single-operation calls go straight to the backend's own methods, as the host
    // functions do, without building an operation list.
    fn read(&mut self, address: u8, read: &mut [u8]) -> Result<(), HalError> {
        self.0.read(u16::from(address), read).map_err(HalError)
    }

    fn write(&mut self, address: u8, write: &[u8]) -> Result<(), HalError> {
        self.0.write(u16::from(address), write).map_err(HalError)
    }

    fn write_read(&mut self, address: u8, write: &[u8], read: &mut [u8]) -> Result<(), HalError> {
        self.0
            .write_read(u16::from(address), write, read)
            .map_err(HalError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::{Error as _, I2c as _};
    use wasi_hw_i2c::SimBus;

    #[test]
    fn drives_the_simulated_sensor() {
        let sim = SimBus::with_default_devices();
        let t = wasi_hw_bench_driver::read_temperature(HalBus(sim.clone()), 0x48).unwrap();
        assert_eq!(
            wasi_hw_bench_driver::format_reading(t),
            "temperature: 23.50 C"
        );
        assert!(sim.traffic().transactions >= 1);
        let mut bus = HalBus(sim);
        let mut buf = [0u8; 2];
        let err = bus.read(0x10, &mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoAcknowledge(HalNack::Address));
        let mut ops = [Operation::Write(&[0]), Operation::Read(&mut buf)];
        bus.transaction(0x48, &mut ops).unwrap();
        assert_eq!(buf, [0x17, 0x80]);
    }
}
