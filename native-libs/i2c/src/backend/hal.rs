//! The backends as embedded-hal 1.0 buses. [`ErrorCode`] is an `embedded_hal::i2c::Error`,
//! and every backend ([`SimBus`], [`LinuxI2c`], a boxed [`I2cBus`]) implements
//! `embedded_hal::i2c::I2c`, so host-side tools and the native benchmarks run the same
//! embedded-hal driver crates as the guests, on the same backends, with no adapter.
//!
//! The contract is the same: `I2cBus::transaction` already follows embedded-hal's rules
//! for STARTs and STOPs. Single-operation calls go to the backend's own `read` / `write` /
//! `write_read`, as the host functions do, without building an operation list.

use embedded_hal::i2c::{self as hal, ErrorKind, ErrorType};

use crate::backend::linux::LinuxI2c;
use crate::backend::sim::SimBus;
use crate::backend::{ErrorCode, I2cBus, NoAcknowledgeSource, Operation};

impl hal::Error for ErrorCode {
    fn kind(&self) -> ErrorKind {
        match *self {
            ErrorCode::Bus => ErrorKind::Bus,
            ErrorCode::ArbitrationLoss => ErrorKind::ArbitrationLoss,
            ErrorCode::NoAcknowledge(s) => ErrorKind::NoAcknowledge(match s {
                NoAcknowledgeSource::Address => hal::NoAcknowledgeSource::Address,
                NoAcknowledgeSource::Data => hal::NoAcknowledgeSource::Data,
                NoAcknowledgeSource::Unknown => hal::NoAcknowledgeSource::Unknown,
            }),
            ErrorCode::Overrun => ErrorKind::Overrun,
            ErrorCode::Other => ErrorKind::Other,
        }
    }
}

/// `embedded_hal::i2c::I2c` for a backend type (a blanket impl over `I2cBus` is not
/// allowed for a foreign trait, so each backend gets its own).
macro_rules! embedded_hal_bus {
    ($($bus:ty),*) => {$(
        impl ErrorType for $bus {
            type Error = ErrorCode;
        }

        impl hal::I2c for $bus {
            fn transaction(
                &mut self,
                address: u8,
                ops: &mut [hal::Operation<'_>],
            ) -> Result<(), ErrorCode> {
                let mut bus_ops: Vec<Operation<'_>> = ops
                    .iter_mut()
                    .map(|op| match op {
                        hal::Operation::Read(b) => Operation::Read(b),
                        hal::Operation::Write(d) => Operation::Write(d),
                    })
                    .collect();
                I2cBus::transaction(self, u16::from(address), &mut bus_ops)
            }

            fn read(&mut self, address: u8, read: &mut [u8]) -> Result<(), ErrorCode> {
                I2cBus::read(self, u16::from(address), read)
            }

            fn write(&mut self, address: u8, write: &[u8]) -> Result<(), ErrorCode> {
                I2cBus::write(self, u16::from(address), write)
            }

            fn write_read(
                &mut self,
                address: u8,
                write: &[u8],
                read: &mut [u8],
            ) -> Result<(), ErrorCode> {
                I2cBus::write_read(self, u16::from(address), write, read)
            }
        }
    )*};
}

embedded_hal_bus!(SimBus, LinuxI2c, Box<dyn I2cBus>);

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::Error as _;

    #[test]
    fn an_embedded_hal_driver_runs_on_the_simulated_bus() {
        let sim = SimBus::with_default_devices();
        let mut sensor = tmp1x2::Tmp1x2::new(sim.clone(), tmp1x2::SlaveAddr::default());
        assert_eq!(sensor.read_temperature().unwrap(), 23.5);
        assert!(sim.traffic().transactions >= 1);
    }

    #[test]
    fn boxed_backends_and_errors_follow_embedded_hal() {
        let mut bus: Box<dyn I2cBus> = Box::new(SimBus::with_default_devices());
        let mut buf = [0u8; 2];
        let err = hal::I2c::read(&mut bus, 0x10, &mut buf).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::NoAcknowledge(hal::NoAcknowledgeSource::Address)
        );
        let mut ops = [hal::Operation::Write(&[0]), hal::Operation::Read(&mut buf)];
        hal::I2c::transaction(&mut bus, 0x48, &mut ops).unwrap();
        assert_eq!(buf, [0x17, 0x80]);
        assert_eq!(ErrorCode::Overrun.kind(), ErrorKind::Overrun);
        assert_eq!(ErrorCode::Other.kind(), ErrorKind::Other);
    }
}
