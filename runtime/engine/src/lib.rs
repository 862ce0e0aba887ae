//! Safe embedding API over WAMR, shaped after wasmtime's: an [`Engine`] (WAMR's process-wide
//! runtime), a [`Module`] loaded from `.wasm` or `.aot` bytes, an [`Instance`] with WASI
//! preview1, and [`HostModule`]s of typed host functions (native symbol tables) that the
//! WASI-I2C and WASI-USB libraries register.
//!
//! All `unsafe` of the project's embedding lives in this crate, at the FFI seam.

pub mod cabi;
mod caller;
mod engine;
mod error;
mod host;
mod instance;
mod module;
mod resource;
mod target;

pub use caller::{Caller, Extensions};
pub use engine::Engine;
pub use error::{Error, Trap};
pub use host::{HostFunc, HostModule, IntoHostFunc, ValType, WasmRet, WasmTy};
pub use instance::{Instance, InstanceConfig, Val, WasiConfig};
pub use module::{AotInfo, ExternKind, ImportExport, Module, ModuleFile, ModuleKind, AOT_VERSION};
pub use resource::{Resource, ResourceTable, TableError};
pub use target::{Target, UnknownTarget};

/// Whether linear memory is protected by guard pages in this build (see wasi-hw-wamr-sys).
pub const HW_BOUND_CHECK: bool = wasi_hw_wamr_sys::HW_BOUND_CHECK;
