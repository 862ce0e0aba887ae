//! wasi-hw: sandboxed WebAssembly hardware drivers (WASI-I2C, WASI-USB) on WAMR.
//! The binary's command line; the work is done by the crates under `runtime/` and
//! `native-libs/`.

pub mod cli;
pub mod coldstart;
#[cfg(feature = "fleet")]
pub mod fleet;
pub mod service;
pub mod signing;
pub mod timings;
