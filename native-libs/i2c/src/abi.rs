//! Canonical-ABI memory layouts of the `wasi:i2c` types, for a core module (no component
//! model in WAMR). Encoders/decoders over byte buffers, and the two stores of list results
//! through the engine's canonical-ABI layer ([`wasi_hw_engine::cabi`]), used by the WAMR
//! natives (`natives/`) and by the benchmarks' wasmtime host alike.
//!
//! Layouts (little endian, offsets in bytes; derived from CanonicalABI.md: a variant is its
//! discriminant, then the payload at the maximum case alignment; the guest SDK's
//! `guests/sdk/src/abi.rs` documents the same table):
//!
//! | type | size | align | layout |
//! |---|---|---|---|
//! | `error-code` | 2 | 1 | +0 case (0 bus, 1 arbitration-loss, 2 no-acknowledge, 3 overrun, 4 other), +1 no-acknowledge-source (0 address, 1 data, 2 unknown) |
//! | `operation` | 16 | 8 | +0 case (0 read, 1 write); read: +8 u64; write: +8 ptr, +12 len |
//! | `list<T>` | 8 | 4 | +0 ptr, +4 element count |
//! | `result<list<u8>, error-code>` and `result<list<list<u8>>, error-code>` | 12 | 4 | +0 (0 ok, 1 err); ok: +4 list; err: +4 error-code |
//! | `result<_, error-code>` | 3 | 1 | +0 (0 ok, 1 err); err: +1 error-code |
//! | `result<own<i2c>, error-code>` | 8 | 4 | +0 (0 ok, 1 err); ok: +4 u32 handle; err: +4 error-code |

use wasi_hw_engine::cabi::{self, GuestMemory};
use wasi_hw_engine::Trap;

use crate::backend::{ErrorCode, NoAcknowledgeSource};

pub const ERROR_CODE_SIZE: u32 = 2;
pub const OPERATION_SIZE: u32 = 16;
pub const OPERATION_ALIGN: u32 = 8;
pub const LIST_SIZE: u32 = 8;
pub const LIST_ALIGN: u32 = 4;
pub const RESULT_LIST_SIZE: u32 = 12;
pub const RESULT_LIST_ALIGN: u32 = 4;
pub const RESULT_UNIT_SIZE: u32 = 3;
pub const RESULT_UNIT_ALIGN: u32 = 1;
pub const RESULT_HANDLE_SIZE: u32 = 8;
pub const RESULT_HANDLE_ALIGN: u32 = 4;

/// `error-code` in memory.
pub fn encode_error_code(e: ErrorCode) -> [u8; 2] {
    let payload = match e {
        ErrorCode::NoAcknowledge(src) => src as u8,
        _ => 0,
    };
    [e.discriminant(), payload]
}

/// Reads an `error-code` back (used by tests and tools inspecting guest memory). `None` for
/// an invalid discriminant.
pub fn decode_error_code(b: [u8; 2]) -> Option<ErrorCode> {
    Some(match b[0] {
        0 => ErrorCode::Bus,
        1 => ErrorCode::ArbitrationLoss,
        2 => ErrorCode::NoAcknowledge(match b[1] {
            0 => NoAcknowledgeSource::Address,
            1 => NoAcknowledgeSource::Data,
            2 => NoAcknowledgeSource::Unknown,
            _ => return None,
        }),
        3 => ErrorCode::Overrun,
        4 => ErrorCode::Other,
        _ => return None,
    })
}

/// `result<list<..>, error-code>`: ok with a list at (ptr, len).
pub fn result_list_ok(ptr: u32, len: u32) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[4..8].copy_from_slice(&ptr.to_le_bytes());
    b[8..12].copy_from_slice(&len.to_le_bytes());
    b
}

/// Stores `result<list<u8>, error-code>` at `retptr` (checked before, with
/// [`cabi::check_area`]): the bytes go to a fresh guest allocation.
pub fn store_list_result(
    mem: &mut dyn GuestMemory,
    retptr: u32,
    r: Result<Vec<u8>, ErrorCode>,
) -> Result<(), Trap> {
    let bytes = match r {
        Ok(data) => {
            let (ptr, len) = cabi::lower_bytes(mem, &data)?;
            result_list_ok(ptr, len)
        }
        Err(e) => result_list_err(e),
    };
    mem.write(retptr, &bytes)
}

/// Stores a transaction's `result<list<list<u8>>, error-code>` (ok) at `retptr`: one list
/// per operation, the bytes read or an empty list for a write.
pub fn store_transaction_result<'a>(
    mem: &mut dyn GuestMemory,
    retptr: u32,
    per_operation: impl ExactSizeIterator<Item = &'a [u8]>,
) -> Result<(), Trap> {
    let mut elems = Vec::with_capacity(per_operation.len() * LIST_SIZE as usize);
    for bytes in per_operation {
        elems.extend_from_slice(&cabi::encode_list(cabi::lower_bytes(mem, bytes)?));
    }
    let (outer, n) = cabi::lower_array(mem, &elems, LIST_SIZE, LIST_ALIGN)?;
    mem.write(retptr, &result_list_ok(outer, n))
}

/// `result<list<..>, error-code>`: err.
pub fn result_list_err(e: ErrorCode) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[0] = 1;
    b[4..6].copy_from_slice(&encode_error_code(e));
    b
}

/// `result<_, error-code>`.
pub fn result_unit(r: Result<(), ErrorCode>) -> [u8; 3] {
    match r {
        Ok(()) => [0, 0, 0],
        Err(e) => {
            let [d, p] = encode_error_code(e);
            [1, d, p]
        }
    }
}

/// `result<own<i2c>, error-code>`.
pub fn result_handle(r: Result<u32, ErrorCode>) -> [u8; 8] {
    let mut b = [0u8; 8];
    match r {
        Ok(h) => b[4..8].copy_from_slice(&h.to_le_bytes()),
        Err(e) => {
            b[0] = 1;
            b[4..6].copy_from_slice(&encode_error_code(e));
        }
    }
    b
}

/// An `operation` as it lies in guest memory; `write` still points into the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawOperation {
    Read(u64),
    Write { ptr: u32, len: u32 },
}

/// Decodes `list<operation>` elements. `Err` carries the index of the element with an
/// invalid discriminant (the canonical ABI traps on it).
pub fn decode_operations(bytes: &[u8]) -> Result<Vec<RawOperation>, usize> {
    bytes
        .chunks_exact(OPERATION_SIZE as usize)
        .enumerate()
        .map(|(i, c)| {
            let u32_at = |o: usize| u32::from_le_bytes(c[o..o + 4].try_into().expect("4 bytes"));
            match c[0] {
                0 => Ok(RawOperation::Read(u64::from_le_bytes(
                    c[8..16].try_into().expect("8 bytes"),
                ))),
                1 => Ok(RawOperation::Write {
                    ptr: u32_at(8),
                    len: u32_at(12),
                }),
                _ => Err(i),
            }
        })
        .collect()
}

/// Encodes operations the way a guest lays them out (for tests).
pub fn encode_operation(op: RawOperation) -> [u8; 16] {
    let mut b = [0u8; 16];
    match op {
        RawOperation::Read(n) => b[8..16].copy_from_slice(&n.to_le_bytes()),
        RawOperation::Write { ptr, len } => {
            b[0] = 1;
            b[8..12].copy_from_slice(&ptr.to_le_bytes());
            b[12..16].copy_from_slice(&len.to_le_bytes());
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_layout() {
        assert_eq!(encode_error_code(ErrorCode::Bus), [0, 0]);
        assert_eq!(encode_error_code(ErrorCode::ArbitrationLoss), [1, 0]);
        assert_eq!(
            encode_error_code(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address)),
            [2, 0]
        );
        assert_eq!(
            encode_error_code(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data)),
            [2, 1]
        );
        assert_eq!(
            encode_error_code(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown)),
            [2, 2]
        );
        assert_eq!(encode_error_code(ErrorCode::Overrun), [3, 0]);
        assert_eq!(encode_error_code(ErrorCode::Other), [4, 0]);
    }

    #[test]
    fn error_code_round_trip_and_invalid() {
        for e in [
            ErrorCode::Bus,
            ErrorCode::ArbitrationLoss,
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address),
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data),
            ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown),
            ErrorCode::Overrun,
            ErrorCode::Other,
        ] {
            assert_eq!(decode_error_code(encode_error_code(e)), Some(e));
        }
        assert_eq!(decode_error_code([5, 0]), None);
        assert_eq!(decode_error_code([2, 3]), None);
    }

    #[test]
    fn result_layouts() {
        assert_eq!(
            result_list_ok(0x1234, 5),
            [0, 0, 0, 0, 0x34, 0x12, 0, 0, 5, 0, 0, 0]
        );
        assert_eq!(
            result_list_err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data)),
            [1, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(result_unit(Ok(())), [0, 0, 0]);
        assert_eq!(result_unit(Err(ErrorCode::Other)), [1, 4, 0]);
        assert_eq!(
            result_unit(Err(ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown))),
            [1, 2, 2]
        );
        assert_eq!(result_handle(Ok(7)), [0, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(
            result_handle(Err(ErrorCode::Other)),
            [1, 0, 0, 0, 4, 0, 0, 0]
        );
        assert_eq!(RESULT_LIST_SIZE as usize, result_list_ok(0, 0).len());
        assert_eq!(RESULT_UNIT_SIZE as usize, result_unit(Ok(())).len());
        assert_eq!(RESULT_HANDLE_SIZE as usize, result_handle(Ok(0)).len());
    }

    #[test]
    fn operations() {
        let mut mem = Vec::new();
        mem.extend_from_slice(&encode_operation(RawOperation::Write {
            ptr: 0x100,
            len: 2,
        }));
        mem.extend_from_slice(&encode_operation(RawOperation::Read(1 << 40)));
        assert_eq!(&mem[0..1], &[1]);
        assert_eq!(&mem[8..16], &[0, 1, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&mem[16..17], &[0]);
        assert_eq!(&mem[24..32], &(1u64 << 40).to_le_bytes());
        assert_eq!(
            decode_operations(&mem),
            Ok(vec![
                RawOperation::Write { ptr: 0x100, len: 2 },
                RawOperation::Read(1 << 40)
            ])
        );
        mem[16] = 2;
        assert_eq!(decode_operations(&mem), Err(1));
        assert_eq!(decode_operations(&[]), Ok(vec![]));
    }
}
