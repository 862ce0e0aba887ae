//! The backend trait every bus implements, and the error codes of `wasi:i2c/i2c`. The
//! backends: [`linux`] (`/dev/i2c-N`) and [`sim`] (in-process devices); [`hal`] makes each
//! an `embedded_hal::i2c::I2c`.

use std::fmt;

pub mod hal;
pub mod linux;
pub mod shared;
pub mod sim;

/// `enum no-acknowledge-source { address, data, unknown }` (case order = discriminant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum NoAcknowledgeSource {
    Address = 0,
    Data = 1,
    Unknown = 2,
}

/// `variant error-code { bus, arbitration-loss, no-acknowledge(..), overrun, other }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Bus,
    ArbitrationLoss,
    NoAcknowledge(NoAcknowledgeSource),
    Overrun,
    Other,
}

impl ErrorCode {
    /// Canonical-ABI case index of the variant.
    pub fn discriminant(self) -> u8 {
        match self {
            ErrorCode::Bus => 0,
            ErrorCode::ArbitrationLoss => 1,
            ErrorCode::NoAcknowledge(_) => 2,
            ErrorCode::Overrun => 3,
            ErrorCode::Other => 4,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Bus => f.write_str("bus error"),
            ErrorCode::ArbitrationLoss => f.write_str("arbitration loss"),
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address) => {
                f.write_str("no acknowledge (address)")
            }
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data) => {
                f.write_str("no acknowledge (data)")
            }
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown) => {
                f.write_str("no acknowledge (unknown)")
            }
            ErrorCode::Overrun => f.write_str("overrun"),
            ErrorCode::Other => f.write_str("other error"),
        }
    }
}

impl std::error::Error for ErrorCode {}

/// One part of a transaction, with the buffer the bus fills (read) or sends (write).
#[derive(Debug, PartialEq, Eq)]
pub enum Operation<'a> {
    Read(&'a mut [u8]),
    Write(&'a [u8]),
}

/// A bus master. `transaction` follows embedded-hal 1.0's contract: a START, then the
/// operations in order, a repeated START + address whenever the direction changes (adjacent
/// operations of the same direction are sent back to back, without a new START), and a STOP
/// at the end. On error, the content of read buffers is unspecified.
pub trait I2cBus: Send {
    fn transaction(&mut self, address: u16, ops: &mut [Operation<'_>]) -> Result<(), ErrorCode>;
    /// The displays on this bus that were used, with what they show (the simulator's;
    /// real buses cannot tell).
    fn displays(&self) -> Vec<(u16, String)> {
        Vec::new()
    }

    fn read(&mut self, address: u16, buf: &mut [u8]) -> Result<(), ErrorCode> {
        self.transaction(address, &mut [Operation::Read(buf)])
    }

    fn write(&mut self, address: u16, data: &[u8]) -> Result<(), ErrorCode> {
        self.transaction(address, &mut [Operation::Write(data)])
    }

    /// Write then read in one transaction, with a repeated START in between.
    fn write_read(&mut self, address: u16, data: &[u8], buf: &mut [u8]) -> Result<(), ErrorCode> {
        self.transaction(address, &mut [Operation::Write(data), Operation::Read(buf)])
    }
}

impl<B: I2cBus + ?Sized> I2cBus for Box<B> {
    fn transaction(&mut self, address: u16, ops: &mut [Operation<'_>]) -> Result<(), ErrorCode> {
        (**self).transaction(address, ops)
    }

    fn displays(&self) -> Vec<(u16, String)> {
        (**self).displays()
    }
}

/// A transaction regrouped the way it goes over the wire: each run of adjacent
/// same-direction operations becomes one message (no START between them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Write(Vec<u8>),
    Read(usize),
}

pub(crate) fn segments(ops: &[Operation<'_>]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for op in ops {
        match (op, out.last_mut()) {
            (Operation::Write(d), Some(Segment::Write(w))) => w.extend_from_slice(d),
            (Operation::Read(b), Some(Segment::Read(n))) => *n += b.len(),
            (Operation::Write(d), _) => out.push(Segment::Write(d.to_vec())),
            (Operation::Read(b), _) => out.push(Segment::Read(b.len())),
        }
    }
    out
}

/// Hands bytes read per segment back to the read operations, in order.
pub(crate) fn scatter_reads(read_bytes: &[u8], ops: &mut [Operation<'_>]) {
    let mut at = 0;
    for op in ops.iter_mut() {
        if let Operation::Read(buf) = op {
            let n = buf.len();
            buf.copy_from_slice(&read_bytes[at..at + n]);
            at += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_merge_adjacent_same_direction() {
        let (mut a, mut b, mut c) = ([0u8; 1], [0u8; 2], [0u8; 3]);
        let ops = [
            Operation::Write(&[1, 2]),
            Operation::Write(&[3]),
            Operation::Read(&mut a),
            Operation::Read(&mut b),
            Operation::Write(&[]),
            Operation::Read(&mut c),
        ];
        assert_eq!(
            segments(&ops),
            vec![
                Segment::Write(vec![1, 2, 3]),
                Segment::Read(3),
                Segment::Write(vec![]),
                Segment::Read(3),
            ]
        );
    }

    #[test]
    fn scatter_in_order() {
        let (mut a, mut b) = ([0u8; 1], [0u8; 2]);
        let mut ops = [
            Operation::Read(&mut a),
            Operation::Write(&[9]),
            Operation::Read(&mut b),
        ];
        scatter_reads(&[7, 8, 9], &mut ops);
        assert_eq!((a, b), ([7], [8, 9]));
    }

    #[test]
    fn error_discriminants_follow_wit_case_order() {
        assert_eq!(ErrorCode::Bus.discriminant(), 0);
        assert_eq!(ErrorCode::ArbitrationLoss.discriminant(), 1);
        assert_eq!(
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown).discriminant(),
            2
        );
        assert_eq!(ErrorCode::Overrun.discriminant(), 3);
        assert_eq!(ErrorCode::Other.discriminant(), 4);
        assert_eq!(NoAcknowledgeSource::Data as u8, 1);
    }
}
