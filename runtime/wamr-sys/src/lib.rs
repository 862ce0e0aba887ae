//! Raw FFI bindings to WAMR 2.4.3, compiled from source by `build.rs` with AOT, the fast
//! interpreter, libc-wasi and libc-builtin. Safe wrappers live in `wasi-hw-engine`.
#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code
)]
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// Whether linear memory is protected by guard pages (cargo feature `hw-bound-check`).
/// When false, AOT code must carry software bounds checks.
pub const HW_BOUND_CHECK: bool = cfg!(feature = "hw-bound-check");

extern "C" {
    /// Calls of WAMR's `os_icache_flush` (the loader's "code written, make it executable"
    /// step) and the bytes they covered, since the process started; counted by a patch.
    /// Read them atomically (they are `unsigned long`, pointer-sized on Linux, updated
    /// with relaxed atomics: 32-bit MIPS has no 64-bit ones).
    pub static wasi_hw_icache_flushes: std::ffi::c_ulong;
    pub static wasi_hw_icache_flushed_bytes: std::ffi::c_ulong;
    /// Sets the exec env's terminate flag (atomically): AOT code compiled by wasi-hw-aotc
    /// returns at its next suspend check point (loop back-edge, call). A patch adds it.
    pub fn wasi_hw_request_terminate(exec_env: wasm_exec_env_t);
}
