//! Ahead-of-time compilation of wasm modules to WAMR `.aot` files.
//!
//! The work is done by WAMR 2.4.3's own compiler (`core/iwasm/compilation`, LLVM 16),
//! built by this crate's `build.rs` into a private object whose WAMR symbols are hidden
//! from the runtime library (wasi-hw-wamr-sys) the same binary links. The C driver is
//! `src/aotc.c`; this module is its safe face. The targets are the runtime's own table,
//! [`Target`] (re-exported from wasi-hw-engine).
//!
//! What the compiler emits is fixed to what the runtime accepts: bulk memory and
//! reference types on, SIMD/threads/tail calls/GC off, and software bounds checks for
//! linear memory and the native stack (the runtime has no guard pages).

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Once;
use std::time::Instant;

use anyhow::{bail, Context};
pub use wasi_hw_engine::Target;

/// The LLVM this compiler was built against (`llvm-config --version`).
pub const LLVM_VERSION: &str = env!("WASI_HW_LLVM_VERSION");

/// How to compile. `CompileOptions::new(target)` gives the defaults for a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    pub target: Target,
    /// LLVM CPU name; `None` uses [`Target::default_cpu`].
    pub cpu: Option<String>,
    /// LLVM feature string such as `+neon,-thumb-mode`; `None` uses
    /// [`Target::default_cpu_features`].
    pub cpu_features: Option<String>,
    /// LLVM optimisation level, 0..=3 (default 3).
    pub opt_level: u32,
    /// Code size level / code model, 0..=3 (0 large, 1 medium, 2 kernel, 3 small;
    /// default 3 as wamrc).
    pub size_level: u32,
    /// Software bounds checks on linear memory accesses. Keep this on (the default):
    /// the runtime is built without guard pages, so an .aot without checks could read
    /// and write host memory. Off only makes sense for a runtime built with the
    /// `hw-bound-check` feature of wasi-hw-wamr-sys.
    pub bounds_checks: bool,
    /// Stop check points at loop back-edges and calls (default on): the resident host
    /// can then stop a driver spinning in guest code without host calls. Off saves a
    /// load and a branch per loop iteration; such a driver is then stoppable only at its
    /// host calls.
    pub stop_checks: bool,
}

impl CompileOptions {
    pub fn new(target: Target) -> CompileOptions {
        CompileOptions {
            target,
            cpu: None,
            cpu_features: None,
            opt_level: 3,
            size_level: 3,
            bounds_checks: true,
            stop_checks: true,
        }
    }
}

impl Default for CompileOptions {
    /// Defaults for the host architecture (x86_64 if the host is none of ours).
    fn default() -> Self {
        CompileOptions::new(Target::host().unwrap_or(Target::X86_64))
    }
}

/// Mirrors `struct wasi_hw_aotc_options` in src/aotc.c.
#[repr(C)]
struct RawOptions {
    target_arch: *const c_char,
    target_abi: *const c_char,
    cpu: *const c_char,
    cpu_features: *const c_char,
    opt_level: u32,
    size_level: u32,
    bounds_checks: u32,
    stop_checks: u32,
}

type LogFn = extern "C" fn(line: *const c_char, len: usize);

extern "C" {
    fn wasi_hw_aotc_compile(
        wasm: *const u8,
        wasm_len: u32,
        opts: *const RawOptions,
        out: *mut *mut u8,
        out_len: *mut u32,
        err: *mut c_char,
        err_len: u32,
    ) -> c_int;
    fn wasi_hw_aotc_free(buf: *mut u8);
    fn wasi_hw_aotc_set_log(log: Option<LogFn>);
}

/// Receives WAMR's console output (progress lines, warnings) one line at a time.
extern "C" fn log_line(line: *const c_char, len: usize) {
    if line.is_null() {
        return;
    }
    // SAFETY: the driver passes a buffer of `len` bytes that lives during this call.
    let bytes = unsafe { std::slice::from_raw_parts(line.cast::<u8>(), len) };
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    if text.contains("warning") || text.contains("Warning") {
        log::warn!(target: "wasi_hw::aotc", "{text}");
    } else {
        log::debug!(target: "wasi_hw::aotc", "{text}");
    }
}

fn optional_cstring(what: &str, value: Option<&str>) -> anyhow::Result<Option<CString>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| CString::new(v).with_context(|| format!("{what} contains a NUL byte")))
        .transpose()
}

fn ptr_or_null(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Compiles a wasm binary to a WAMR `.aot` file for `opts.target`.
///
/// Errors carry WAMR's message (a loader error for an invalid module, a compiler error
/// for an unsupported feature such as SIMD, an LLVM error for a bad CPU setting).
pub fn compile(wasm: &[u8], opts: &CompileOptions) -> anyhow::Result<Vec<u8>> {
    static LOG: Once = Once::new();
    // SAFETY: `log_line` is a plain function valid for the whole process.
    LOG.call_once(|| unsafe { wasi_hw_aotc_set_log(Some(log_line)) });

    let target = opts.target;
    if opts.opt_level > 3 {
        bail!("opt level {} out of range 0..=3", opts.opt_level);
    }
    if opts.size_level > 3 {
        bail!("size level {} out of range 0..=3", opts.size_level);
    }
    let wasm_len = u32::try_from(wasm.len()).context("wasm module larger than 4 GiB")?;

    let cpu = opts.cpu.as_deref().or(target.default_cpu());
    let features = opts
        .cpu_features
        .as_deref()
        .or(target.default_cpu_features());
    // LLVM ignores malformed or unknown features with a warning on stderr; catch at
    // least the malformed ones (the CPU name is checked by the driver).
    if let Some(bad) = features
        .into_iter()
        .flat_map(|f| f.split(','))
        .find(|f| !(f.len() > 1 && (f.starts_with('+') || f.starts_with('-'))))
    {
        bail!("cpu feature `{bad}` must be `+name` or `-name` (comma-separated)");
    }
    // WAMR rejects features without a CPU; "generic" is LLVM's baseline for every target.
    let cpu = match (cpu, features) {
        (None | Some(""), Some(f)) if !f.is_empty() => Some("generic"),
        _ => cpu,
    };
    // WAMR's compiler loads the module with the interpreter's loader first.
    if let Err(e) = wasi_hw_engine::check_wasm_sections(wasm) {
        bail!(
            "AOT compilation for {target} (cpu {}) failed: loading the wasm module failed: {e}",
            cpu.filter(|c| !c.is_empty()).unwrap_or("generic")
        );
    }
    let arch = CString::new(target.wamr_arch()).expect("static string");
    let abi = optional_cstring("target ABI", target.abi())?;
    let cpu_c = optional_cstring("cpu", cpu)?;
    let features_c = optional_cstring("cpu features", features)?;
    let raw = RawOptions {
        target_arch: arch.as_ptr(),
        target_abi: ptr_or_null(&abi),
        cpu: ptr_or_null(&cpu_c),
        cpu_features: ptr_or_null(&features_c),
        opt_level: opts.opt_level,
        size_level: opts.size_level,
        bounds_checks: u32::from(opts.bounds_checks),
        stop_checks: u32::from(opts.stop_checks),
    };

    let started = Instant::now();
    let mut out: *mut u8 = std::ptr::null_mut();
    let mut out_len: u32 = 0;
    let mut err = [0 as c_char; 512];
    // SAFETY: `wasm` is valid for `wasm_len` bytes; every string in `raw` is a live
    // NUL-terminated CString (or null) for the duration of the call; out/out_len/err
    // point to writable locals and `err.len()` is its true size. The driver serialises
    // calls internally.
    let ok = unsafe {
        wasi_hw_aotc_compile(
            wasm.as_ptr(),
            wasm_len,
            &raw,
            &mut out,
            &mut out_len,
            err.as_mut_ptr(),
            err.len() as u32,
        )
    };
    if ok == 0 || out.is_null() {
        // SAFETY: the driver NUL-terminates `err` (snprintf); the array was zeroed, so
        // a NUL exists within it even if nothing was written.
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        let msg = if msg.is_empty() {
            "unknown error".to_string()
        } else {
            msg
        };
        bail!(
            "AOT compilation for {target} (cpu {}) failed: {msg}",
            cpu.filter(|c| !c.is_empty()).unwrap_or("generic")
        );
    }
    // SAFETY: on success the driver returns a buffer of exactly `out_len` bytes, owned
    // by us until handed back to `wasi_hw_aotc_free`, which happens right after the copy.
    let mut aot = unsafe { std::slice::from_raw_parts(out, out_len as usize) }.to_vec();
    // SAFETY: `out` came from the driver's allocator and is freed exactly once.
    unsafe { wasi_hw_aotc_free(out) };
    // WAMR drops custom sections; `--invoke` needs the component types, so they are
    // carried over as WAMR raw custom sections (what `wamrc --emit-custom-sections` writes).
    for (name, data) in wasi_hw_invoke::component_type_sections(wasm)? {
        wasi_hw_engine::append_aot_custom_section(&mut aot, name, data)?;
    }
    log::debug!(
        "compiled {} bytes of wasm to {} bytes of AOT for {target} in {:.1?}",
        wasm.len(),
        aot.len(),
        started.elapsed()
    );
    Ok(aot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasi_hw_engine::{
        Engine, HostModule, Instance, InstanceConfig, Module, ModuleKind, Val, ValType,
    };

    const ADD: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "add") (param i32 i64) (result i64)
          local.get 0 i64.extend_i32_s local.get 1 i64.add)
        (func (export "peek") (param i32) (result i32) local.get 0 i32.load)
        (func (export "poke64") (param i32 i64) local.get 0 local.get 1 i64.store))"#;

    fn wasm(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).unwrap()
    }

    fn compile_host(wat: &str) -> Vec<u8> {
        compile(&wasm(wat), &CompileOptions::new(Target::X86_64)).unwrap()
    }

    /// e_machine and the arch string of the .aot's target-info section (the first
    /// section: type, size, bin/abi/e_type u16, e_machine u16, e_version, e_flags u32,
    /// feature flags, reserved u64, arch[16]).
    fn target_info(aot: &[u8]) -> (u16, String) {
        assert_eq!(
            u32::from_le_bytes(aot[8..12].try_into().unwrap()),
            0,
            "first section is target info"
        );
        let e_machine = u16::from_le_bytes(aot[22..24].try_into().unwrap());
        let arch = &aot[48..64];
        let end = arch.iter().position(|&b| b == 0).unwrap_or(arch.len());
        (
            e_machine,
            String::from_utf8_lossy(&arch[..end]).into_owned(),
        )
    }

    #[test]
    fn default_options_are_safe() {
        let opts = CompileOptions::default();
        assert!(opts.bounds_checks);
        assert_eq!((opts.opt_level, opts.size_level), (3, 3));
    }

    /// Loading AOT code flushes the instruction cache over the code it wrote (a no-op on
    /// x86, needed on ARM: the call itself is what can be checked here).
    #[test]
    fn aot_load_flushes_the_instruction_cache() {
        let aot = compile_host(ADD);
        let engine = Engine::new().unwrap();
        let (calls, bytes) = wasi_hw_engine::icache_flushes();
        let module = Module::new(&engine, aot).unwrap();
        assert_eq!(module.kind(), ModuleKind::Aot);
        let (calls_after, bytes_after) = wasi_hw_engine::icache_flushes();
        assert!(calls_after > calls, "no flush during the load");
        assert!(bytes_after > bytes, "the flush covered no bytes");
    }

    /// The component-type sections `--invoke` reads survive compilation as WAMR raw custom
    /// sections; the file still passes the section check and loads.
    #[test]
    fn component_type_sections_are_carried_into_the_aot() {
        let mut bytes = wasm(ADD);
        push_custom_section(&mut bytes, "component-type:demo", b"\x00asm-types");
        push_custom_section(&mut bytes, "other", b"dropped");
        let aot = compile(&bytes, &CompileOptions::new(Target::X86_64)).unwrap();
        wasi_hw_engine::check_aot_sections(&aot).unwrap();
        let sections = wasi_hw_engine::aot_custom_sections(&aot);
        assert_eq!(sections, [("component-type:demo", &b"\x00asm-types"[..])]);
        if Target::host() == Some(Target::X86_64) {
            Module::new(&Engine::new().unwrap(), aot).unwrap();
        }
    }

    /// Appends a custom section to a wasm module.
    fn push_custom_section(module: &mut Vec<u8>, name: &str, data: &[u8]) {
        let mut body = vec![name.len() as u8];
        body.extend(name.as_bytes());
        body.extend(data);
        module.push(0);
        module.push(body.len() as u8);
        module.extend(body);
    }

    #[test]
    fn compiles_for_every_target() {
        // (target, ELF e_machine, arch string the runtime's BUILD_TARGET must prefix)
        let expected = [
            (Target::X86_64, 62, "x86_64"),
            (Target::Armv7, 40, "armv7"),
            (Target::Thumbv7, 40, "thumbv7"),
            (Target::Aarch64, 183, "aarch64v8"),
            (Target::Mipsel, 8, "mipsel"),
        ];
        let bytes = wasm(ADD);
        for (target, machine, arch) in expected {
            let aot = compile(&bytes, &CompileOptions::new(target)).unwrap();
            assert_eq!(&aot[..4], b"\0aot", "{target}");
            assert_eq!(
                u32::from_le_bytes(aot[4..8].try_into().unwrap()),
                wasi_hw_engine::AOT_VERSION,
                "{target}"
            );
            assert_eq!(target_info(&aot), (machine, arch.to_string()), "{target}");
        }
    }

    #[test]
    fn rejects_non_wasm_input_with_a_message() {
        let opts = CompileOptions::new(Target::X86_64);
        for garbage in [&b""[..], b"\0as", b"hello world, not wasm", &[0xff; 64]] {
            let err = compile(garbage, &opts).unwrap_err().to_string();
            assert!(err.contains("not a WebAssembly binary"), "{err}");
        }
        let aot = compile_host(ADD);
        let err = compile(&aot, &opts).unwrap_err().to_string();
        assert!(err.contains("already an AOT module"), "{err}");
    }

    #[test]
    fn reports_loader_errors_for_broken_modules() {
        let opts = CompileOptions::new(Target::Armv7);
        let good = wasm(ADD);
        let err = compile(&good[..good.len() - 3], &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("loading the wasm module failed:"), "{err}");
        assert!(err.contains("armv7"), "{err}");
        // An export count far beyond the section's bytes: refused before WAMR allocates.
        let mut huge = b"\0asm\x01\0\0\0".to_vec();
        huge.extend_from_slice(&[7, 7, 0xfc, 0xf9, 0x92, 0x5f, 1, b'a', 0]);
        let err = compile(&huge, &opts).unwrap_err().to_string();
        assert!(
            err.contains("loading the wasm module failed: ") && err.contains("claims 199539964"),
            "{err}"
        );
        // Type error: i32.add on an i64.
        let bad = wasm(r#"(module (func (result i32) i64.const 1 i32.const 2 i32.add))"#);
        let err = compile(&bad, &opts).unwrap_err().to_string();
        assert!(err.contains("type mismatch"), "{err}");
    }

    #[test]
    fn refuses_features_the_runtime_lacks() {
        // SIMD: off in the runtime library, so the compiler must not accept it.
        let simd = wasm(
            r#"(module (func (export "f") (result i32)
                 v128.const i32x4 1 2 3 4 i32x4.extract_lane 0))"#,
        );
        assert!(compile(&simd, &CompileOptions::new(Target::X86_64)).is_err());
        // Shared memory (threads) likewise.
        let shared = wasm(r#"(module (memory 1 1 shared))"#);
        assert!(compile(&shared, &CompileOptions::new(Target::X86_64)).is_err());
        // Bulk memory and reference types are supported.
        let bulk = wasm(
            r#"(module (memory 1) (table 2 funcref)
                 (func (export "f") (param i32)
                   (memory.fill (local.get 0) (i32.const 0) (i32.const 16))
                   (drop (table.size))))"#,
        );
        for target in Target::ALL {
            compile(&bulk, &CompileOptions::new(target)).unwrap();
        }
    }

    #[test]
    fn validates_levels_and_reports_bad_cpu_settings() {
        let bytes = wasm(ADD);
        let mut opts = CompileOptions::new(Target::X86_64);
        opts.opt_level = 4;
        assert!(compile(&bytes, &opts)
            .unwrap_err()
            .to_string()
            .contains("opt level 4"));
        let mut opts = CompileOptions::new(Target::X86_64);
        opts.size_level = 9;
        assert!(compile(&bytes, &opts)
            .unwrap_err()
            .to_string()
            .contains("size level 9"));
        // Explicit CPU and feature strings reach LLVM.
        let mut opts = CompileOptions::new(Target::Aarch64);
        opts.cpu = Some("cortex-a53".into());
        opts.cpu_features = Some("+crc".into());
        assert_eq!(&compile(&bytes, &opts).unwrap()[..4], b"\0aot");
        // Unknown CPUs are errors, not LLVM warnings with a generic-CPU fallback.
        let mut opts = CompileOptions::new(Target::Armv7);
        opts.cpu = Some("cortex-a77x".into());
        let err = compile(&bytes, &opts).unwrap_err().to_string();
        assert!(
            err.contains("unknown cpu `cortex-a77x` for target armv7"),
            "{err}"
        );
        opts.cpu = Some("cortex-a53".into()); // an ARMv8 core runs armv7 code
        compile(&bytes, &opts).unwrap();
        opts.cpu_features = Some("+neon,vfp4".into());
        let err = compile(&bytes, &opts).unwrap_err().to_string();
        assert!(err.contains("cpu feature `vfp4`"), "{err}");
        let mut opts = CompileOptions::new(Target::X86_64);
        opts.cpu = Some("bad\0cpu".into());
        assert!(compile(&bytes, &opts)
            .unwrap_err()
            .to_string()
            .contains("NUL"));
    }

    #[test]
    fn x86_64_output_runs_in_the_runtime_with_bounds_checks() {
        let engine = Engine::new().unwrap();
        let module = Module::new(&engine, compile_host(ADD)).unwrap();
        assert_eq!(module.kind(), ModuleKind::Aot);
        let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
        assert_eq!(
            inst.call("add", &[Val::I32(-2), Val::I64(10)]).unwrap(),
            vec![Val::I64(8)]
        );
        assert_eq!(
            inst.call("peek", &[Val::I32(65532)]).unwrap(),
            vec![Val::I32(0)]
        );
        // Without guard pages these only trap because the compiler emitted checks.
        for addr in [65533, -1, i32::MIN] {
            let err = inst
                .call("peek", &[Val::I32(addr)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("out of bounds memory access"), "{addr}: {err}");
        }
        let err = inst
            .call("poke64", &[Val::I32(65529), Val::I64(1)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("out of bounds memory access"), "{err}");
        inst.call("poke64", &[Val::I32(65528), Val::I64(-1)])
            .unwrap();
        assert_eq!(
            inst.call("peek", &[Val::I32(65532)]).unwrap(),
            vec![Val::I32(-1)]
        );
    }

    #[test]
    fn x86_64_output_traps_on_native_stack_overflow() {
        let engine = Engine::new().unwrap();
        let wat = r#"(module (func $f (export "f") (param i64) (result i64)
            (i64.add (call $f (i64.add (local.get 0) (i64.const 1))) (local.get 0))))"#;
        let module = Module::new(&engine, compile_host(wat)).unwrap();
        let mut inst = Instance::new(&module, &InstanceConfig::default()).unwrap();
        let err = inst.call("f", &[Val::I64(0)]).unwrap_err().to_string();
        assert!(err.contains("stack overflow"), "{err}");
    }

    #[test]
    fn x86_64_output_calls_raw_host_functions_and_wasi() {
        let engine = Engine::new().unwrap();
        engine
            .register_host_module(HostModule::new("test:aotc/host").func(
                "mix",
                &[ValType::I32, ValType::I32, ValType::I64, ValType::I32],
                &[ValType::I64],
                |caller, args, results| {
                    let byte = caller.read_u8(args[3] as u32)?;
                    results[0] = (args[0] as u32 as u64)
                        + (args[1] as u32 as u64) * 10
                        + args[2]
                        + u64::from(byte);
                    Ok(())
                },
            ))
            .unwrap();
        let wat = r#"(module
            (import "test:aotc/host" "mix" (func $mix (param i32 i32 i64 i32) (result i64)))
            (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 100) "\07")
            (func (export "mix") (result i64)
              (call $mix (i32.const 1) (i32.const 2) (i64.const 0x100000000) (i32.const 100)))
            (func (export "bad") (result i64)
              (call $mix (i32.const 1) (i32.const 2) (i64.const 3) (i32.const 70000)))
            (func (export "argc") (result i32)
              (drop (call $args (i32.const 0) (i32.const 4))) (i32.load (i32.const 0))))"#;
        let module = Module::new(&engine, compile_host(wat)).unwrap();
        let mut config = InstanceConfig::default();
        config.wasi.args = vec!["prog".into(), "x".into()];
        let mut inst = Instance::new(&module, &config).unwrap();
        assert_eq!(
            inst.call("mix", &[]).unwrap(),
            vec![Val::I64(1 + 20 + 0x100000000 + 7)]
        );
        let err = inst.call("bad", &[]).unwrap_err().to_string();
        assert!(err.contains("out of bounds"), "{err}");
        assert_eq!(inst.call("argc", &[]).unwrap(), vec![Val::I32(2)]);
    }

    /// Calls into src/unaligned.wat, in order (later calls see earlier stores).
    fn unaligned_calls() -> Vec<(&'static str, Vec<Val>)> {
        use Val::*;
        vec![
            ("ld64", vec![I32(1)]),
            ("ld64hint", vec![I32(3)]),
            ("st64", vec![I32(5), I64(99)]),
            ("ldf64", vec![I32(1)]),
            ("stf64", vec![I32(3), F64(2.5)]),
            ("ld32", vec![I32(1)]),
            ("ldf32", vec![I32(1)]),
            ("const64", vec![]),
            ("constf64", vec![]),
            ("pair", vec![I32(1)]),
            ("pairst", vec![I32(3)]),
            ("globals", vec![]),
            ("sum64", vec![I32(1), I32(50)]),
            ("sumf64", vec![I32(5), I32(50)]),
            ("fill64", vec![I32(3), I32(100)]),
            ("sum64", vec![I32(3), I32(100)]),
            ("sumf64", vec![I32(4099), I32(100)]),
            ("bulk", vec![I32(7)]),
            ("ld64", vec![I32(65528)]),
        ]
    }

    fn run_calls(module: &Module) -> Vec<String> {
        let mut inst = Instance::new(module, &InstanceConfig::default()).unwrap();
        let mut out: Vec<String> = unaligned_calls()
            .into_iter()
            .map(|(name, args)| match inst.call(name, &args) {
                // Compare floats by bits: the AOT code must be exact, not just close.
                Ok(vals) => vals
                    .iter()
                    .map(|v| match v {
                        Val::F32(f) => format!("f32:{:#x}", f.to_bits()),
                        Val::F64(f) => format!("f64:{:#x}", f.to_bits()),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                Err(e) => panic!("{name}: {e}"),
            })
            .collect();
        let err = inst
            .call("ld64", &[Val::I32(65529)])
            .unwrap_err()
            .to_string();
        out.push(err.replace("Exception: ", ""));
        out
    }

    #[test]
    fn unaligned_accesses_match_the_interpreter() {
        let engine = Engine::new().unwrap();
        let bytes = wat::parse_str(include_str!("unaligned.wat")).unwrap();
        let interp = run_calls(&Module::new(&engine, bytes.clone()).unwrap());
        let aot = compile(&bytes, &CompileOptions::new(Target::X86_64)).unwrap();
        let aot = run_calls(&Module::new(&engine, aot).unwrap());
        assert_eq!(aot, interp);
        // Spot checks against hand-computed values (data bytes are 1, 2, 3, ...).
        assert_eq!(interp[0], "I64(650777868590383874)"); // 0x0908070605040302
        assert_eq!(interp[2], "I64(99)");
        assert!(interp
            .last()
            .unwrap()
            .contains("out of bounds memory access"));
        // The same module compiles for the ARM targets with their defaults.
        for target in [Target::Armv7, Target::Thumbv7, Target::Aarch64] {
            compile(&bytes, &CompileOptions::new(target)).unwrap();
        }
    }

    #[test]
    fn compiles_from_several_threads() {
        let bytes = wasm(ADD);
        let handles: Vec<_> = Target::ALL
            .into_iter()
            .map(|t| {
                let bytes = bytes.clone();
                std::thread::spawn(move || {
                    compile(&bytes, &CompileOptions::new(t)).map(|a| target_info(&a).1)
                })
            })
            .collect();
        let archs: Vec<String> = handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        assert_eq!(archs, ["x86_64", "armv7", "thumbv7", "aarch64v8", "mipsel"]);
    }
}
