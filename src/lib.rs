//! wasi-hw: sandboxed WebAssembly hardware drivers (WASI-I2C, WASI-USB) on WAMR.

pub mod cli;
#[cfg(feature = "aot-compiler")]
pub mod compiler;
