//! `wasi:i2c/i2c`: reads, writes and transactions on a granted bus.

use super::{begin_method, host, lift_address};
use crate::abi;
use crate::backend::{ErrorCode, Operation};
use wasi_hw_engine::{Caller, Trap};

pub(super) fn read(
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
    abi::store_list_result(caller, retptr, r)
}

pub(super) fn write(
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

pub(super) fn write_read(
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
    abi::store_list_result(caller, retptr, r)
}

/// A transaction operation with its data copied out of the guest.
enum OwnedOp {
    Read(Vec<u8>),
    Write(Vec<u8>),
}

pub(super) fn transaction(
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
    let per_operation = owned.iter().map(|o| match o {
        OwnedOp::Read(b) => b.as_slice(),
        OwnedOp::Write(_) => &[][..],
    });
    abi::store_transaction_result(caller, retptr, per_operation)
}

pub(super) fn drop(caller: &mut Caller<'_>, handle: u32) -> Result<(), Trap> {
    host(caller)?.drop_i2c(handle)
}
