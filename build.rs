//! Builds the AOT compiler (cargo feature `aot-compiler`): WAMR 2.4.3's
//! `core/iwasm/compilation` against Debian's LLVM 16, plus a private copy of WAMR's
//! loader and runtime-common code configured like WAMR's own `wamrc`
//! (`WASM_ENABLE_WAMR_COMPILER=1`, classic interpreter loader, `aot_reloc_dummy.c`).
//!
//! That copy defines the same symbols (`wasm_runtime_load`, ...) as the runtime library
//! from `wasi-hw-wamr-sys`, with a different configuration, and both end up in the
//! same binary. So all compiler-side objects are partially linked into one relocatable
//! object and every global symbol in it except the driver's `wasi_hw_aotc_*` entry
//! points is made local (`objcopy --keep-global-symbol`). The build then checks that
//! only those symbols stay global and that the object needs nothing from WAMR outside
//! itself (which the runtime library would otherwise silently provide).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The driver's entry points (src/compiler/aotc.c): the only global symbols left.
const EXPORTS: &[&str] = &[
    "wasi_hw_aotc_compile",
    "wasi_hw_aotc_free",
    "wasi_hw_aotc_set_log",
];

/// Name prefixes of WAMR's own functions and data. None of them may stay undefined in
/// the partially linked object: the final link would resolve them from the runtime
/// library, built with a different configuration.
const WAMR_PREFIXES: &[&str] = &[
    "wasm_",
    "aot_",
    "wasi_",
    "bh_",
    "os_",
    "gc_",
    "mem_allocator",
    "ems_",
    "hmu_",
    "jit_",
    "llvm_jit_",
    "invokeNative",
    "runtime_",
    "lib_",
    "get_libc",
    "get_base_lib",
    "get_ext_lib",
    "get_spectest",
    "init_wasm",
    "orc_",
    "simd_",
    "sys_",
    "set_exception",
    "blocking_op",
    "wamr_",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_AOT_COMPILER").is_some() {
        build_aot_compiler();
    }
}

fn wamr_root() -> PathBuf {
    println!("cargo:rerun-if-env-changed=WAMR_ROOT");
    match env::var_os("WAMR_ROOT") {
        Some(root) => PathBuf::from(root),
        None => PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("third_party/wamr"),
    }
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
            "wasi-hw: `{tool}` not found ({e}). The `aot-compiler` feature needs LLVM 16 \
             (Debian: apt install llvm-16-dev; or set LLVM_CONFIG), or build with \
             --no-default-features"
        )
    });
    assert!(out.status.success(), "{tool} {arg:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
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
            "wasi-hw: the `aot-compiler` feature cannot be cross-compiled ({host} -> {target}); \
             build the runtime for {target} with --no-default-features and compile .aot \
             files on the build machine"
        );
    }
    let root = wamr_root();
    let core = root.join("core");
    if !core.join("iwasm/compilation/aot_compiler.c").exists() {
        panic!(
            "WAMR sources not found at {}: run scripts/setup.sh (or scripts/fetch-wamr.sh), \
             or set WAMR_ROOT to a WAMR 2.4.3 checkout",
            root.display()
        );
    }
    println!("cargo:rerun-if-changed={}", core.display());
    println!("cargo:rerun-if-changed=src/compiler");

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

    let iwasm = core.join("iwasm");
    let shared = core.join("shared");
    let compilation = iwasm.join("compilation");

    // The compiler-side copy of WAMR: what wamrc links, minus libc-builtin/libc-wasi.
    // Without those native libraries no import is resolved at compile time, so every
    // import call goes through the runtime's aot_invoke_native, which handles both
    // plain and raw natives: the .aot does not depend on how the host registers its
    // functions (WASI-I2C/USB are raw natives).
    let mut c_sources = vec![
        shared.join("platform/linux/platform_init.c"),
        shared.join("mem-alloc/mem_alloc.c"),
        iwasm.join("common/arch/invokeNative_general.c"),
        iwasm.join("interpreter/wasm_loader.c"),
        iwasm.join("interpreter/wasm_runtime.c"),
        iwasm.join("interpreter/wasm_interp_classic.c"),
        iwasm.join("aot/aot_intrinsic.c"),
        iwasm.join("aot/aot_loader.c"),
        iwasm.join("aot/aot_runtime.c"),
        iwasm.join("aot/arch/aot_reloc_dummy.c"),
    ];
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
    for f in ["ems_alloc.c", "ems_gc.c", "ems_hmu.c", "ems_kfc.c"] {
        c_sources.push(shared.join("mem-alloc/ems").join(f));
    }
    c_sources.extend(files_with_ext(&shared.join("utils"), "c"));
    c_sources.extend(files_with_ext(&iwasm.join("common"), "c"));
    c_sources.extend(files_with_ext(&compilation, "c"));
    c_sources.push(PathBuf::from("src/compiler/aotc.c"));
    c_sources.push(PathBuf::from("src/compiler/aotc_link.c"));
    let mut cpp_sources = files_with_ext(&compilation, "cpp");
    cpp_sources.push(PathBuf::from("src/compiler/aotc_target.cpp"));

    let includes = [
        iwasm.join("include"),
        iwasm.join("common"),
        iwasm.join("interpreter"),
        iwasm.join("aot"),
        compilation.clone(),
        shared.join("platform/linux"),
        shared.join("platform/include"),
        shared.join("mem-alloc"),
        shared.join("utils"),
        shared.join("utils/uncommon"),
        core.clone(),
        llvm_include,
    ];
    // Wasm features must equal the runtime library's (runtime/wamr-sys/build.rs): the
    // loader here decides what the compiler accepts.
    let defines: &[(&str, &str)] = &[
        ("BH_PLATFORM_LINUX", "1"),
        ("_GNU_SOURCE", "1"),
        ("BH_MALLOC", "wasm_runtime_malloc"),
        ("BH_FREE", "wasm_runtime_free"),
        // WAMR's console output goes to the driver, which forwards it to `log`.
        ("BH_VPRINTF", "wasi_hw_aotc_vprintf"),
        ("__STDC_CONSTANT_MACROS", "1"),
        ("__STDC_FORMAT_MACROS", "1"),
        ("__STDC_LIMIT_MACROS", "1"),
        ("WASM_ENABLE_WAMR_COMPILER", "1"),
        ("WASM_ENABLE_INTERP", "1"),
        ("WASM_ENABLE_AOT", "1"),
        ("WASM_ENABLE_JIT", "0"),
        ("WASM_ENABLE_LIBC_BUILTIN", "0"),
        ("WASM_ENABLE_LIBC_WASI", "0"),
        ("WASM_ENABLE_BULK_MEMORY", "1"),
        ("WASM_ENABLE_BULK_MEMORY_OPT", "1"),
        ("WASM_ENABLE_REF_TYPES", "1"),
        ("WASM_ENABLE_CALL_INDIRECT_OVERLONG", "1"),
        ("WASM_ENABLE_SIMD", "0"),
        ("WASM_ENABLE_SHARED_MEMORY", "0"),
        ("WASM_ENABLE_THREAD_MGR", "0"),
        ("WASM_ENABLE_TAIL_CALL", "0"),
        ("WASM_ENABLE_GC", "0"),
        ("WASM_ENABLE_MEMORY64", "0"),
        ("WASM_ENABLE_MODULE_INST_CONTEXT", "1"),
        ("WASM_ENABLE_QUICK_AOT_ENTRY", "1"),
        ("WASM_ENABLE_AOT_INTRINSICS", "1"),
        ("WASM_ENABLE_SHRUNK_MEMORY", "1"),
        ("WASM_ENABLE_DUMP_CALL_STACK", "0"),
        ("WASM_HAVE_MREMAP", "1"),
        ("WASM_DISABLE_HW_BOUND_CHECK", "1"),
        ("WASM_DISABLE_STACK_HW_BOUND_CHECK", "1"),
        ("WASM_DISABLE_WRITE_GS_BASE", "1"),
    ];

    let configure = |build: &mut cc::Build| {
        build
            .includes(&includes)
            .warnings(false)
            .extra_warnings(false);
        build
            .flag_if_supported("-ffunction-sections")
            .flag_if_supported("-fdata-sections");
        for (k, v) in defines {
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

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let combined = out.join("wasi_hw_aotc_combined.o");
    let hidden = out.join("wasi_hw_aotc.o");

    // 1. One relocatable object (`ld -r` through the C compiler driver).
    let compiler = c.get_compiler();
    run(Command::new(compiler.path())
        .args(["-r", "-nostdlib", "-o"])
        .arg(&combined)
        .args(&objects));

    // 2. Nothing WAMR-ish may be left for the final link to resolve.
    let nm = binutil("nm");
    let undefined = run(Command::new(&nm).arg("-u").arg(&combined));
    let leaks: Vec<&str> = undefined
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| WAMR_PREFIXES.iter().any(|p| s.starts_with(p)))
        .collect();
    assert!(
        leaks.is_empty(),
        "wasi-hw: the AOT compiler object leaves WAMR symbols undefined (they would bind to \
         the runtime library's copy): {leaks:?}"
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
