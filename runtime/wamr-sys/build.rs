//! Compiles WAMR 2.4.3 (runtime only: AOT loader/runtime, fast interpreter, libc-wasi,
//! libc-builtin) with plain compiler calls and generates bindings for `wasm_export.h`.
//!
//! Sources come from `WAMR_ROOT` when set, else `third_party/wamr` at the workspace root
//! (unpacked by `scripts/fetch-wamr.sh` from the crates.io crate wamrx-sys 0.3.0). What this
//! build shares with the AOT compiler's copy of WAMR (runtime/aotc) is described once, in
//! wasi-hw-wamr-build.

use std::env;
use std::path::PathBuf;

use wasi_hw_wamr_build::{files_with_ext, Wamr, SHARED_DEFINES};

mod patches;

/// Per-arch defines, the `invokeNative` trampoline and the AOT relocation file.
struct Arch {
    defines: &'static [(&'static str, &'static str)],
    invoke_native: &'static str,
    aot_reloc: AotReloc,
    cflags: &'static [&'static str],
}

/// Where an arch's AOT relocation code comes from.
enum AotReloc {
    /// WAMR's `core/iwasm/aot/arch/FILE`.
    Wamr(&'static str),
    /// This crate's `c/FILE`, for an arch where WAMR's file does not relocate.
    Own(&'static str),
}

fn arch() -> Arch {
    let target_arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let abi = env::var("CARGO_CFG_TARGET_ABI").unwrap_or_default();
    let target = env::var("TARGET").unwrap();
    match target_arch.as_str() {
        "x86_64" => Arch {
            defines: &[("BUILD_TARGET_X86_64", "1"), ("BUILD_TARGET", "\"X86_64\"")],
            invoke_native: "invokeNative_em64.s",
            aot_reloc: AotReloc::Wamr("aot_reloc_x86_64.c"),
            cflags: &[],
        },
        "aarch64" => Arch {
            defines: &[
                ("BUILD_TARGET_AARCH64", "1"),
                ("BUILD_TARGET", "\"AARCH64\""),
            ],
            invoke_native: "invokeNative_aarch64.s",
            aot_reloc: AotReloc::Wamr("aot_reloc_aarch64.c"),
            cflags: &[],
        },
        "arm" if target.starts_with("thumbv7") => Arch {
            defines: &[
                ("BUILD_TARGET_THUMB_VFP", "1"),
                ("BUILD_TARGET", "\"THUMBV7\""),
            ],
            invoke_native: "invokeNative_thumb_vfp.s",
            aot_reloc: AotReloc::Wamr("aot_reloc_thumb.c"),
            cflags: &["-mthumb"],
        },
        "arm" if abi.contains("hf") || target.ends_with("hf") => Arch {
            defines: &[("BUILD_TARGET_ARM_VFP", "1"), ("BUILD_TARGET", "\"ARMV7\"")],
            invoke_native: "invokeNative_arm_vfp.s",
            aot_reloc: AotReloc::Wamr("aot_reloc_arm.c"),
            cflags: &["-marm"],
        },
        // MIPS32r2 o32, little-endian (OpenWrt mipsel_24kc, MT7621's 1004Kc). The assembly
        // trampoline loads $f12/$f14 (ldc1) besides $a0-$a3, so it needs an FPU or the
        // kernel's FPU emulator; so does the whole binary, built by Debian's hard-float
        // gcc. Big-endian MIPS is refused: no board of ours is one, and nothing tests it.
        "mips" => {
            let endian = env::var("CARGO_CFG_TARGET_ENDIAN").unwrap_or_default();
            assert!(
                endian == "little",
                "wasi-hw-wamr-sys: big-endian MIPS ({target}) is not supported; build for mipsel"
            );
            Arch {
                defines: &[("BUILD_TARGET_MIPS", "1"), ("BUILD_TARGET", "\"MIPS\"")],
                invoke_native: "invokeNative_mips.s",
                aot_reloc: AotReloc::Own("aot_reloc_mipsel.c"),
                cflags: &[],
            }
        }
        other => panic!("wasi-hw-wamr-sys: unsupported target arch {other} ({target})"),
    }
}

fn main() {
    let wamr = Wamr::locate();
    let core = wamr.core();
    println!("cargo:rerun-if-changed=build.rs");
    let hw_bound_check = env::var_os("CARGO_FEATURE_HW_BOUND_CHECK").is_some();
    let arch = arch();

    let iwasm = wamr.iwasm();
    let shared = wamr.shared();
    let libc_wasi = iwasm.join("libraries/libc-wasi");
    let ssp = libc_wasi.join("sandboxed-system-primitives");

    let mut sources = wamr.shared_sources();
    sources.extend([
        shared.join("platform/common/libc-util/libc_errno.c"),
        iwasm.join("interpreter/wasm_interp_fast.c"),
        iwasm.join("libraries/libc-builtin/libc_builtin_wrapper.c"),
        libc_wasi.join("libc_wasi_wrapper.c"),
        ssp.join("src/blocking_op.c"),
        ssp.join("src/posix.c"),
        ssp.join("src/random.c"),
        ssp.join("src/str.c"),
    ]);
    sources.extend(files_with_ext(&shared.join("platform/common/posix"), "c"));
    sources.push(match arch.aot_reloc {
        AotReloc::Wamr(file) => iwasm.join("aot/arch").join(file),
        AotReloc::Own(file) => {
            let path = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap())
                .join("c")
                .join(file);
            println!("cargo:rerun-if-changed={}", path.display());
            path
        }
    });

    // Patched files are compiled from a copy in OUT_DIR, in place of the original (their
    // quoted includes resolve through the include path below, which has the originals' dirs).
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=patches.rs");
    wasi_hw_wamr_build::patch_sources(&core, patches::PATCHES, &mut sources, &out);

    let mut includes = wamr.shared_includes();
    includes.extend([
        iwasm.join("libraries/libc-builtin"),
        ssp.join("include"),
        ssp.join("src"),
        libc_wasi.clone(),
        shared.join("platform/common/libc-util"),
    ]);

    let mut defines: Vec<(&str, &str)> = SHARED_DEFINES.to_vec();
    defines.extend_from_slice(&[
        ("WASM_ENABLE_FAST_INTERP", "1"),
        ("WASM_ENABLE_LIBC_BUILTIN", "1"),
        ("WASM_ENABLE_LIBC_WASI", "1"),
        ("WASM_GLOBAL_HEAP_SIZE", "10485760"),
    ]);
    defines.extend_from_slice(arch.defines);
    if hw_bound_check {
        defines.push(("WASM_DISABLE_HW_BOUND_CHECK", "0"));
    } else {
        defines.push(("WASM_DISABLE_HW_BOUND_CHECK", "1"));
        defines.push(("WASM_DISABLE_STACK_HW_BOUND_CHECK", "1"));
    }

    let mut build = cc::Build::new();
    build
        .files(&sources)
        .file(iwasm.join("common/arch").join(arch.invoke_native))
        .includes(&includes)
        .flag_if_supported("-std=gnu99")
        .flag_if_supported("-ffunction-sections")
        .flag_if_supported("-fdata-sections")
        .flag_if_supported("-fno-strict-aliasing")
        .warnings(false)
        .extra_warnings(false);
    for flag in arch.cflags {
        build.flag(flag);
    }
    for (k, v) in &defines {
        build.define(k, Some(*v));
    }
    build.compile("iwasm");
    println!("cargo:rustc-link-lib=m");
    println!("cargo:rustc-link-lib=pthread");
    println!("cargo:rustc-link-lib=dl");
    // Tell dependents (via DEP_IWASM_*) whether linear memory uses guard pages, and where
    // the archive is: the AOT compiler's build checks its private WAMR copy against the
    // symbols this archive defines.
    println!("cargo:hw_bound_check={}", u8::from(hw_bound_check));
    println!("cargo:archive={}", out.join("libiwasm.a").display());

    let mut bindings = bindgen::Builder::default()
        .header(iwasm.join("include/wasm_export.h").to_string_lossy())
        .allowlist_function("wasm_.*")
        .allowlist_function("wasi_.*")
        .allowlist_type("wasm_.*|NativeSymbol|RuntimeInitArgs|mem_alloc_type_t|MemAllocOption|package_type_t|wasm_module_t|wasm_module_inst_t")
        .allowlist_var("WASM_.*|WAMR_.*|Wasm_Module_.*|Package_Type_.*|Alloc_With_.*")
        .blocklist_function("aot_.*")
        .prepend_enum_name(false)
        .layout_tests(false)
        .derive_default(true)
        .clang_arg(format!("-I{}", iwasm.join("include").display()));
    for (k, v) in &defines {
        bindings = bindings.clang_arg(format!("-D{k}={v}"));
    }
    if let Ok(sysroot_inc) = env::var("WASI_HW_BINDGEN_INCLUDE") {
        bindings = bindings.clang_arg(format!("-I{sysroot_inc}"));
    } else if env::var("TARGET").unwrap().starts_with("arm")
        || env::var("TARGET").unwrap().starts_with("thumb")
    {
        bindings = bindings.clang_arg("-I/usr/arm-linux-gnueabihf/include");
    }
    let target = env::var("TARGET").unwrap();
    bindings = bindings.clang_arg(format!("--target={}", target.replace("-unknown", "")));
    bindings
        .generate()
        .expect("bindgen failed on wasm_export.h")
        .write_to_file(out.join("bindings.rs"))
        .expect("writing bindings.rs");
}
