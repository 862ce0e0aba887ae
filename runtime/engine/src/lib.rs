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
mod interrupt;
mod module;
mod module_file;
mod resource;
mod target;
mod wasm_sections;

pub use caller::{Caller, Extensions, PlainInstance};
pub use engine::Engine;
pub use error::{Error, Trap};
pub use host::{HostFunc, HostModule, IntoHostFunc, ValType, WasmRet, WasmTy};
pub use instance::{
    pages_for_kib, Instance, InstanceConfig, Val, WasiConfig, AOT_STACK_SIZE, INTERP_STACK_SIZE,
};
pub use interrupt::{Interrupt, INTERRUPTED};
pub use module::{
    aot_custom_sections, append_aot_custom_section, check_aot_sections, AotInfo, ExternKind,
    ImportExport, Module, ModuleKind, AOT_VERSION,
};
pub use module_file::ModuleFile;
pub use resource::{Resource, ResourceTable, TableError};
pub use target::{Target, UnknownTarget};
pub use wasm_sections::check_wasm_sections;

/// Whether linear memory is protected by guard pages in this build (see wasi-hw-wamr-sys).
pub const HW_BOUND_CHECK: bool = wasi_hw_wamr_sys::HW_BOUND_CHECK;

/// How often, and over how many bytes, the AOT loader has flushed the instruction cache
/// for code it wrote, since the process started (a patched WAMR counts them): on ARM,
/// AArch64 and MIPS a load that skipped it could run stale instructions.
pub fn icache_flushes() -> (u64, u64) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // SAFETY: both are aligned `unsigned long` statics of the C library (the size and
    // alignment of usize on Linux), live for the whole process, and only ever updated with
    // atomic adds.
    let (calls, bytes) = unsafe {
        (
            AtomicUsize::from_ptr(
                std::ptr::addr_of!(wasi_hw_wamr_sys::wasi_hw_icache_flushes)
                    .cast_mut()
                    .cast(),
            ),
            AtomicUsize::from_ptr(
                std::ptr::addr_of!(wasi_hw_wamr_sys::wasi_hw_icache_flushed_bytes)
                    .cast_mut()
                    .cast(),
            ),
        )
    };
    (
        calls.load(Ordering::Relaxed) as u64,
        bytes.load(Ordering::Relaxed) as u64,
    )
}
