//! `wasi:i2c/delay`: sleeping the calling instance.

use std::time::Duration;

use super::host;
use wasi_hw_engine::{Caller, Trap};

pub(super) fn delay_ns(caller: &mut Caller<'_>, handle: u32, ns: u32) -> Result<(), Trap> {
    host(caller)?.check_delay(handle)?;
    // ns is a u32, so one call sleeps at most ~4.3 s; a stop request from the embedder
    // ends the sleep at once (the resident host stops a driver this way).
    caller.sleep(Duration::from_nanos(u64::from(ns)))
}

pub(super) fn drop(caller: &mut Caller<'_>, handle: u32) -> Result<(), Trap> {
    host(caller)?.drop_delay(handle)
}
