//! `wasi-hw:host/buses`: how a driver obtains its `i2c` and `delay` handles.

use super::host;
use crate::abi;
use crate::backend::ErrorCode;
use wasi_hw_engine::{cabi, Caller, Trap};

pub(super) fn open_i2c(
    caller: &mut Caller<'_>,
    ptr: u32,
    len: u32,
    retptr: u32,
) -> Result<(), Trap> {
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

pub(super) fn open_delay(caller: &mut Caller<'_>) -> Result<u32, Trap> {
    host(caller)?.open_delay()
}
