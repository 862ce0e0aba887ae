//! wasi-hw: sandboxed WebAssembly hardware drivers (WASI-I2C, WASI-USB) on WAMR.

#[cfg(feature = "aot-compiler")]
pub mod compiler;
pub mod cli;
pub mod hostlibs;
