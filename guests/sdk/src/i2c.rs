//! WASI-I2C bus handle with an `embedded_hal::i2c::I2c` implementation.

use core::fmt;

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource, Operation, SevenBitAddress};

use crate::bindings::wasi::i2c::i2c as raw;
use crate::bindings::wasi_hw::host::buses;

/// An I²C error: a WASI-I2C `error-code` from the host, or a host answer that does
/// not fit the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// `error-code::bus`
    Bus,
    /// `error-code::arbitration-loss`
    ArbitrationLoss,
    /// `error-code::no-acknowledge(source)`
    NoAcknowledge(NoAcknowledgeSource),
    /// `error-code::overrun`
    Overrun,
    /// `error-code::other` (also what the host answers for a bus that was not granted)
    Other,
    /// The host returned a different amount of data than was asked for.
    UnexpectedResponse {
        /// Bytes (or, for a transaction, result buffers) requested.
        expected: usize,
        /// Bytes (or result buffers) received.
        got: usize,
    },
}

impl From<raw::ErrorCode> for Error {
    fn from(code: raw::ErrorCode) -> Self {
        match code {
            raw::ErrorCode::Bus => Error::Bus,
            raw::ErrorCode::ArbitrationLoss => Error::ArbitrationLoss,
            raw::ErrorCode::NoAcknowledge(source) => Error::NoAcknowledge(match source {
                raw::NoAcknowledgeSource::Address => NoAcknowledgeSource::Address,
                raw::NoAcknowledgeSource::Data => NoAcknowledgeSource::Data,
                raw::NoAcknowledgeSource::Unknown => NoAcknowledgeSource::Unknown,
            }),
            raw::ErrorCode::Overrun => Error::Overrun,
            raw::ErrorCode::Other => Error::Other,
        }
    }
}

impl embedded_hal::i2c::Error for Error {
    fn kind(&self) -> ErrorKind {
        match *self {
            Error::Bus => ErrorKind::Bus,
            Error::ArbitrationLoss => ErrorKind::ArbitrationLoss,
            Error::NoAcknowledge(source) => ErrorKind::NoAcknowledge(source),
            Error::Overrun => ErrorKind::Overrun,
            Error::Other | Error::UnexpectedResponse { .. } => ErrorKind::Other,
        }
    }
}

/// Spelled with the WIT case names, so that messages match the interface
/// (e.g. `no-acknowledge(address)`).
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bus => f.write_str("bus"),
            Error::ArbitrationLoss => f.write_str("arbitration-loss"),
            Error::NoAcknowledge(source) => {
                let source = match source {
                    NoAcknowledgeSource::Address => "address",
                    NoAcknowledgeSource::Data => "data",
                    NoAcknowledgeSource::Unknown => "unknown",
                };
                write!(f, "no-acknowledge({source})")
            }
            Error::Overrun => f.write_str("overrun"),
            Error::Other => f.write_str("other"),
            Error::UnexpectedResponse { expected, got } => {
                write!(
                    f,
                    "unexpected host response (expected {expected}, got {got})"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// An I²C bus granted to this instance by the host.
pub struct I2c {
    raw: raw::I2c,
}

impl I2c {
    /// Opens the bus `name` as granted on the host command line (e.g. `/dev/i2c-1`
    /// or `sim`). A bus that was not granted fails with [`Error::Other`].
    pub fn open(name: &str) -> Result<Self, Error> {
        Ok(Self::from_raw(buses::open_i2c(name)?))
    }

    /// Wraps a handle obtained through the raw bindings.
    pub fn from_raw(raw: raw::I2c) -> Self {
        Self { raw }
    }

    /// The raw WIT-level handle (16-bit addresses, returned `Vec`s).
    pub fn raw(&self) -> &raw::I2c {
        &self.raw
    }

    /// Gives the handle back; dropping it releases it on the host.
    pub fn into_raw(self) -> raw::I2c {
        self.raw
    }
}

impl embedded_hal::i2c::ErrorType for I2c {
    type Error = Error;
}

impl embedded_hal::i2c::I2c<SevenBitAddress> for I2c {
    fn read(&mut self, address: u8, read: &mut [u8]) -> Result<(), Error> {
        let data = self.raw.read(address.into(), read.len() as u64)?;
        copy_exact(read, &data)
    }

    fn write(&mut self, address: u8, write: &[u8]) -> Result<(), Error> {
        Ok(self.raw.write(address.into(), write)?)
    }

    fn write_read(&mut self, address: u8, write: &[u8], read: &mut [u8]) -> Result<(), Error> {
        let data = self
            .raw
            .write_read(address.into(), write, read.len() as u64)?;
        copy_exact(read, &data)
    }

    fn transaction(&mut self, address: u8, operations: &mut [Operation<'_>]) -> Result<(), Error> {
        let results = {
            let ops: Vec<raw::Operation<'_>> = operations
                .iter()
                .map(|op| match op {
                    Operation::Read(buf) => raw::Operation::Read(buf.len() as u64),
                    Operation::Write(bytes) => raw::Operation::Write(bytes),
                })
                .collect();
            self.raw.transaction(address.into(), &ops)?
        };
        fill_reads(operations, results)
    }
}

/// Copies the host's answer into the caller's buffer; it must be exactly as long.
fn copy_exact(dst: &mut [u8], src: &[u8]) -> Result<(), Error> {
    if dst.len() != src.len() {
        return Err(Error::UnexpectedResponse {
            expected: dst.len(),
            got: src.len(),
        });
    }
    dst.copy_from_slice(src);
    Ok(())
}

/// Distributes the buffers returned by `transaction` into the `Read` operations.
///
/// Accepts both conventions found in hosts: one entry per operation (entries of
/// `Write`s are ignored) or one entry per `Read`, in order. Each read entry must
/// have exactly the requested length.
pub fn fill_reads(operations: &mut [Operation<'_>], results: Vec<Vec<u8>>) -> Result<(), Error> {
    let reads = operations
        .iter()
        .filter(|op| matches!(op, Operation::Read(_)))
        .count();
    if results.len() == operations.len() {
        for (op, data) in operations.iter_mut().zip(&results) {
            if let Operation::Read(buf) = op {
                copy_exact(buf, data)?;
            }
        }
        Ok(())
    } else if results.len() == reads {
        let read_bufs = operations.iter_mut().filter_map(|op| match op {
            Operation::Read(buf) => Some(buf),
            Operation::Write(_) => None,
        });
        for (buf, data) in read_bufs.zip(&results) {
            copy_exact(buf, data)?;
        }
        Ok(())
    } else {
        Err(Error::UnexpectedResponse {
            expected: operations.len(),
            got: results.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::Error as _;

    #[test]
    fn error_codes_map_to_embedded_hal_kinds() {
        let cases = [
            (raw::ErrorCode::Bus, ErrorKind::Bus),
            (raw::ErrorCode::ArbitrationLoss, ErrorKind::ArbitrationLoss),
            (
                raw::ErrorCode::NoAcknowledge(raw::NoAcknowledgeSource::Address),
                ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
            ),
            (
                raw::ErrorCode::NoAcknowledge(raw::NoAcknowledgeSource::Data),
                ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data),
            ),
            (
                raw::ErrorCode::NoAcknowledge(raw::NoAcknowledgeSource::Unknown),
                ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown),
            ),
            (raw::ErrorCode::Overrun, ErrorKind::Overrun),
            (raw::ErrorCode::Other, ErrorKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(Error::from(code).kind(), kind);
        }
        let mismatch = Error::UnexpectedResponse {
            expected: 2,
            got: 1,
        };
        assert_eq!(mismatch.kind(), ErrorKind::Other);
    }

    #[test]
    fn errors_display_with_wit_names() {
        let nack = Error::from(raw::ErrorCode::NoAcknowledge(
            raw::NoAcknowledgeSource::Address,
        ));
        assert_eq!(nack.to_string(), "no-acknowledge(address)");
        assert_eq!(
            Error::from(raw::ErrorCode::ArbitrationLoss).to_string(),
            "arbitration-loss"
        );
    }

    #[test]
    fn fill_reads_one_entry_per_operation() {
        let (mut a, mut b) = ([0u8; 2], [0u8; 1]);
        let mut ops = [
            Operation::Write(&[0x10]),
            Operation::Read(&mut a),
            Operation::Write(&[0x20, 0x21]),
            Operation::Read(&mut b),
        ];
        let results = vec![vec![], vec![1, 2], vec![], vec![3]];
        fill_reads(&mut ops, results).unwrap();
        assert_eq!((a, b), ([1, 2], [3]));
    }

    #[test]
    fn fill_reads_one_entry_per_read() {
        let (mut a, mut b) = ([0u8; 2], [0u8; 3]);
        let mut ops = [
            Operation::Write(&[0x10]),
            Operation::Read(&mut a),
            Operation::Read(&mut b),
        ];
        fill_reads(&mut ops, vec![vec![9, 8], vec![7, 6, 5]]).unwrap();
        assert_eq!((a, b), ([9, 8], [7, 6, 5]));
    }

    #[test]
    fn fill_reads_rejects_wrong_counts_and_lengths() {
        let mut a = [0u8; 2];
        let mut ops = [Operation::Write(&[1]), Operation::Read(&mut a)];
        assert_eq!(
            fill_reads(&mut ops, vec![]),
            Err(Error::UnexpectedResponse {
                expected: 2,
                got: 0
            })
        );
        assert_eq!(
            fill_reads(&mut ops, vec![vec![1, 2, 3]]),
            Err(Error::UnexpectedResponse {
                expected: 2,
                got: 3
            })
        );
        assert_eq!(a, [0, 0], "a wrongly sized answer is not copied");
    }
}
