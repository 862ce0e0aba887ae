//! Builds the AOT compiler: WAMR 2.4.3's
//! `core/iwasm/compilation` against Debian's LLVM 16, plus a private copy of WAMR's
//! loader and runtime-common code configured like WAMR's own `wamrc`
//! (`WASM_ENABLE_WAMR_COMPILER=1`, classic interpreter loader, `aot_reloc_dummy.c`).
//!
//! That copy defines the same symbols (`wasm_runtime_load`, ...) as the runtime library
//! from `wasi-hw-wamr-sys`, with a different configuration, and both end up in the
//! same binary. So all compiler-side objects are partially linked into one relocatable
//! object and every global symbol in it except the driver's `wasi_hw_aotc_*` entry
//! points is made local (`objcopy --keep-global-symbol`). The build then checks that
//! only those symbols stay global and that the object needs nothing that the runtime
//! library's archive defines (the final link would otherwise silently bind it to WAMR
//! built with another configuration). The sources and defines both WAMR builds share
//! are wasi-hw-wamr-build's.

use std::collections::BTreeSet;
use std::env;
use std::path::PathBuf;
use std::process::Command;

use wasi_hw_wamr_build::{files_with_ext, Wamr, SHARED_DEFINES};

mod patches;

/// The driver's entry points (src/aotc.c): the only global symbols left.
const EXPORTS: &[&str] = &[
    "wasi_hw_aotc_compile",
    "wasi_hw_aotc_free",
    "wasi_hw_aotc_set_log",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    build_aot_compiler();
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("non-UTF-8 tool output")
}

fn llvm_config(arg: &[&str]) -> String {
    println!("cargo:rerun-if-env-changed=LLVM_CONFIG");
    let tool = env::var("LLVM_CONFIG").unwrap_or_else(|_| "llvm-config-16".into());
    let out = Command::new(&tool).args(arg).output().unwrap_or_else(|e| {
        panic!(
            "wasi-hw-aotc: `{tool}` not found ({e}). The AOT compiler needs LLVM 16 \
             (Debian: apt install llvm-16-dev; or set LLVM_CONFIG); a wasi-hw without it \
             is built with --no-default-features"
        )
    });
    assert!(out.status.success(), "{tool} {arg:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A tool from binutils (or its LLVM equivalent) for the host.
fn binutil(name: &str) -> String {
    let var = format!("WASI_HW_{}", name.to_uppercase());
    println!("cargo:rerun-if-env-changed={var}");
    if let Ok(tool) = env::var(&var) {
        return tool;
    }
    for candidate in [
        name.to_string(),
        format!("llvm-{name}-16"),
        format!("llvm-{name}"),
    ] {
        if Command::new(&candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate;
        }
    }
    panic!("wasi-hw: `{name}` not found (binutils), needed to build the AOT compiler");
}

fn build_aot_compiler() {
    // The compiler links the build machine's libLLVM: it only exists for native builds.
    let (host, target) = (env::var("HOST").unwrap(), env::var("TARGET").unwrap());
    if host != target {
        panic!(
            "wasi-hw-aotc: the AOT compiler cannot be cross-compiled ({host} -> {target}); \
             build the runtime for {target} with --no-default-features and compile .aot \
             files on the build machine"
        );
    }
    let wamr = Wamr::locate();
    println!("cargo:rerun-if-changed=src");

    let llvm_version = llvm_config(&["--version"]);
    let llvm_include = PathBuf::from(llvm_config(&["--includedir"]));
    let llvm_libdir = llvm_config(&["--libdir"]);
    let llvm_libs = llvm_config(&["--libs", "--link-shared"]);
    let major: u32 = llvm_version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 16,
        "wasi-hw: the AOT compiler needs LLVM >= 16, found {llvm_version}"
    );

    let iwasm = wamr.iwasm();
    let shared = wamr.shared();
    let compilation = iwasm.join("compilation");

    // The compiler-side copy of WAMR: what wamrc links, minus libc-builtin/libc-wasi.
    // Without those native libraries no import is resolved at compile time, so every
    // import call goes through the runtime's aot_invoke_native, which handles both
    // plain and raw natives: the .aot does not depend on how the host registers its
    // functions (WASI-I2C/USB are raw natives).
    let mut c_sources = wamr.shared_sources();
    c_sources.extend([
        iwasm.join("common/arch/invokeNative_general.c"),
        iwasm.join("interpreter/wasm_interp_classic.c"),
        iwasm.join("aot/arch/aot_reloc_dummy.c"),
    ]);
    for f in [
        "posix_blocking_op.c",
        "posix_malloc.c",
        "posix_memmap.c",
        "posix_sleep.c",
        "posix_thread.c",
        "posix_time.c",
    ] {
        c_sources.push(shared.join("platform/common/posix").join(f));
    }
    c_sources.extend(files_with_ext(&compilation, "c"));
    c_sources.push(PathBuf::from("src/aotc.c"));
    c_sources.push(PathBuf::from("src/aotc_link.c"));
    let mut cpp_sources = files_with_ext(&compilation, "cpp");
    cpp_sources.push(PathBuf::from("src/aotc_target.cpp"));

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=patches.rs");
    wasi_hw_wamr_build::patch_sources(&wamr.core(), patches::PATCHES, &mut c_sources, &out);

    let mut includes = wamr.shared_includes();
    includes.extend([compilation.clone(), llvm_include]);
    let mut defines: Vec<(&str, &str)> = SHARED_DEFINES.to_vec();
    defines.extend_from_slice(&[
        // WAMR's console output goes to the driver, which forwards it to `log`.
        ("BH_VPRINTF", "wasi_hw_aotc_vprintf"),
        ("__STDC_CONSTANT_MACROS", "1"),
        ("__STDC_FORMAT_MACROS", "1"),
        ("__STDC_LIMIT_MACROS", "1"),
        ("WASM_ENABLE_WAMR_COMPILER", "1"),
        ("WASM_ENABLE_JIT", "0"),
        ("WASM_ENABLE_LIBC_BUILTIN", "0"),
        ("WASM_ENABLE_LIBC_WASI", "0"),
        // The compiler emits software bounds checks (the runtime has no guard pages).
        ("WASM_DISABLE_HW_BOUND_CHECK", "1"),
        ("WASM_DISABLE_STACK_HW_BOUND_CHECK", "1"),
    ]);

    let configure = |build: &mut cc::Build| {
        build
            .includes(&includes)
            .warnings(false)
            .extra_warnings(false);
        build
            .flag_if_supported("-ffunction-sections")
            .flag_if_supported("-fdata-sections");
        for (k, v) in &defines {
            build.define(k, Some(*v));
        }
    };

    let mut c = cc::Build::new();
    configure(&mut c);
    c.files(&c_sources)
        .flag_if_supported("-std=gnu99")
        .flag_if_supported("-fno-strict-aliasing");
    let mut objects = c.compile_intermediates();

    let mut cxx = cc::Build::new();
    configure(&mut cxx);
    // As WAMR's iwasm_compl.cmake: no RTTI, to match LLVM's own build.
    cxx.cpp(true)
        .files(&cpp_sources)
        .flag("-std=c++17")
        .flag("-fno-rtti")
        .flag("-fno-exceptions");
    objects.extend(cxx.compile_intermediates());

    let combined = out.join("wasi_hw_aotc_combined.o");
    let hidden = out.join("wasi_hw_aotc.o");

    // 1. One relocatable object (`ld -r` through the C compiler driver).
    let compiler = c.get_compiler();
    run(Command::new(compiler.path())
        .args(["-r", "-nostdlib", "-o"])
        .arg(&combined)
        .args(&objects));

    // 2. Nothing the runtime library defines may be left for the final link to resolve:
    //    it would bind to WAMR built with the runtime's configuration. The archive says
    //    which symbols those are.
    let nm = binutil("nm");
    println!("cargo:rerun-if-env-changed=DEP_IWASM_ARCHIVE");
    let archive = env::var("DEP_IWASM_ARCHIVE")
        .expect("wasi-hw-wamr-sys tells its dependents where libiwasm.a is");
    let runtime_defines: BTreeSet<String> = run(Command::new(&nm)
        .args(["-g", "--defined-only", "--format=just-symbols"])
        .arg(&archive))
    .lines()
    .filter(|l| !l.is_empty() && !l.ends_with(':'))
    .map(str::to_string)
    .collect();
    assert!(
        runtime_defines.contains("wasm_runtime_load"),
        "wasi-hw: no WAMR symbols read from {archive}"
    );
    let undefined = run(Command::new(&nm)
        .args(["-u", "--format=just-symbols"])
        .arg(&combined));
    let leaks: Vec<&str> = undefined
        .lines()
        .filter(|s| runtime_defines.contains(*s))
        .collect();
    assert!(
        leaks.is_empty(),
        "wasi-hw: the AOT compiler object leaves symbols of the runtime library undefined \
         (they would bind to its differently configured copy of WAMR): {leaks:?}"
    );

    // 3. Localise everything but the entry points, and the GNU-unique symbols (`u`):
    //    C++ template statics from LLVM's headers such as llvm::Any::TypeId<T>::Id, whose
    //    address is a type identity shared with libLLVM (a private copy would make
    //    LLVM's any_cast of pass-instrumentation IR units fail; objcopy leaves them
    //    global in any case, they are listed so the check below is exact). They are
    //    C++ names, never WAMR's.
    let defined = run(Command::new(&nm).arg("--defined-only").arg(&combined));
    let mut keep: Vec<String> = EXPORTS.iter().map(|s| s.to_string()).collect();
    for line in defined.lines() {
        let mut fields = line.split_whitespace().rev();
        if let (Some(name), Some("u")) = (fields.next(), fields.next()) {
            assert!(
                name.starts_with("_Z"),
                "wasi-hw: unexpected unique symbol {name}"
            );
            keep.push(name.to_string());
        }
    }
    keep.sort_unstable();
    keep.dedup();
    let objcopy = binutil("objcopy");
    let mut cmd = Command::new(&objcopy);
    for sym in &keep {
        cmd.arg(format!("--keep-global-symbol={sym}"));
    }
    run(cmd.arg(&combined).arg(&hidden));

    let globals = run(Command::new(&nm)
        .args(["-g", "--defined-only"])
        .arg(&hidden));
    let mut exported: Vec<&str> = globals
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    exported.sort_unstable();
    assert_eq!(
        exported, keep,
        "wasi-hw: unexpected global symbols in the AOT compiler object"
    );

    // 4. Archive it and link it with libLLVM (shared) and libstdc++.
    let lib = out.join("libwasi_hw_aotc.a");
    let _ = std::fs::remove_file(&lib);
    let ar = binutil("ar");
    run(Command::new(&ar).arg("crs").arg(&lib).arg(&hidden));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=wasi_hw_aotc");
    println!("cargo:rustc-link-search=native={llvm_libdir}");
    for flag in llvm_libs.split_whitespace() {
        if let Some(name) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={name}");
        }
    }
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=m");
    println!("cargo:rustc-link-lib=dylib=pthread");
    println!("cargo:rustc-env=WASI_HW_LLVM_VERSION={llvm_version}");
}
