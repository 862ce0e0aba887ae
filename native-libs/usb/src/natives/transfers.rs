//! `wasi:usb/transfers`: submitting, cancelling and awaiting transfers.

use wasi_hw_engine::{Caller, HostModule, Trap};

use crate::abi;
use crate::backend::TransferRequest;
use std::sync::Arc;

use crate::ctx::{lock, with_state, InFlight, TransferRes, TransferState};
use crate::error::{UsbError, UsbResult};

pub(super) fn module(name: &str) -> HostModule {
    HostModule::new(name)
        .func_wrap("[method]transfer.submit-transfer", submit_transfer)
        .func_wrap(
            "[method]transfer.cancel-transfer",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                let r = with_state(c, |s| -> Result<UsbResult<()>, Trap> {
                    let t = s.transfer_mut(this)?;
                    Ok(match t.state {
                        TransferState::Created => Err(UsbError::NotFound),
                        TransferState::Submitted(id) => match lock(&t.handle).as_mut() {
                            Some(dev) => dev.cancel(id),
                            None => Err(UsbError::NoDevice),
                        },
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap("await-transfer", await_transfer)
        .func_wrap(
            "[resource-drop]transfer",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| s.table.delete::<TransferRes>(this).map(drop))
            },
        )
}

fn submit_transfer(c: &mut Caller<'_>, h: u32, ptr: u32, len: u32, ret: u32) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_UNIT)?;
    c.check_range(ptr, len)?;
    let check = with_state(c, |s| -> Result<UsbResult<bool>, Trap> {
        let budget = Arc::clone(&s.in_flight);
        let t = s.transfer_mut(h)?;
        if matches!(t.state, TransferState::Submitted(_)) {
            return Ok(Err(UsbError::Busy));
        }
        let is_in = t.is_in();
        if !is_in && len != t.buf_size {
            log::debug!(
                "usb: OUT transfer data is {len} bytes, the transfer was created for {}",
                t.buf_size
            );
            return Ok(Err(UsbError::InvalidParam));
        }
        // Host memory for the transfer's data, counted until it is awaited or dropped.
        t.in_flight = InFlight::take(&budget, u64::from(t.buf_size));
        if t.in_flight.is_none() {
            log::warn!(
                "usb: submit of {} bytes refused: the instance's transfers in flight would pass {} bytes",
                t.buf_size,
                crate::natives::MAX_IN_FLIGHT
            );
            return Ok(Err(UsbError::NoMem));
        }
        Ok(Ok(is_in))
    })?;
    let r = match check {
        Err(e) => Err(e),
        Ok(is_in) => {
            // IN transfers ignore the data (as libusb's wasmtime host does); OUT data is
            // exactly buf-size bytes, which is bounded.
            let data = if is_in { Vec::new() } else { c.read(ptr, len)? };
            with_state(c, |s| -> Result<UsbResult<()>, Trap> {
                let t = s.transfer_mut(h)?;
                let req = TransferRequest {
                    kind: t.kind,
                    setup: t.setup,
                    endpoint: t.endpoint,
                    length: t.buf_size as usize,
                    data,
                    timeout: t.timeout,
                };
                let submitted = match lock(&t.handle).as_mut() {
                    Some(dev) => dev.submit(req),
                    None => Err(UsbError::NoDevice),
                };
                if submitted.is_err() {
                    t.in_flight = None;
                }
                Ok(submitted.map(|id| t.state = TransferState::Submitted(id)))
            })?
        }
    };
    abi::store_result_unit(c, ret, r)
}

fn await_transfer(c: &mut Caller<'_>, h: u32, ret: u32) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_LIST)?;
    // A stop request (resident host: stop, update) ends the wait; the instance then
    // traps at its next host call.
    let interrupt = c.interrupt();
    let stop = || interrupt.as_ref().is_some_and(|i| i.is_requested());
    let r = with_state(c, |s| -> Result<UsbResult<Vec<u8>>, Trap> {
        // `own<transfer>`: the handle moves to the host whatever the outcome.
        let mut t = s.table.delete::<TransferRes>(h)?;
        let r = match t.state {
            TransferState::Created => Err(UsbError::NotFound),
            TransferState::Submitted(id) => {
                t.state = TransferState::Created; // waited for: nothing to discard
                match lock(&t.handle).as_mut() {
                    Some(dev) => dev.wait_unless(id, &stop),
                    None => Err(UsbError::NoDevice),
                }
            }
        };
        Ok(r)
    })?;
    let lowered = match r {
        Ok(data) => Ok(abi::lower_bytes(c, &data)?),
        Err(e) => Err(e),
    };
    abi::store_result_list(c, ret, lowered)
}
