//! WAMR 2.4.3 is compiled twice into one `wasi-hw` binary: as the runtime library
//! (wasi-hw-wamr-sys: AOT loader, fast interpreter, libc-wasi) and as the AOT compiler's
//! private copy (wasi-hw-aotc: the classic-interpreter loader WAMR's `wamrc` uses, plus
//! `core/iwasm/compilation`). What the two share is written here once, so that the
//! compiler can never accept a wasm feature the runtime was built without: the
//! compiler's loader decides what it compiles, the runtime's what it runs.
//!
//! A build-dependency of both build scripts; it compiles nothing itself.

use std::env;
use std::path::{Path, PathBuf};

/// A WAMR source tree.
pub struct Wamr {
    root: PathBuf,
}

/// Defines of both builds: the platform, WAMR's allocator, and the wasm feature set.
pub const SHARED_DEFINES: &[(&str, &str)] = &[
    ("BH_PLATFORM_LINUX", "1"),
    ("_GNU_SOURCE", "1"),
    ("BH_MALLOC", "wasm_runtime_malloc"),
    ("BH_FREE", "wasm_runtime_free"),
    ("WASM_ENABLE_INTERP", "1"),
    ("WASM_ENABLE_AOT", "1"),
    // Wasm features: on.
    ("WASM_ENABLE_BULK_MEMORY", "1"),
    ("WASM_ENABLE_BULK_MEMORY_OPT", "1"),
    ("WASM_ENABLE_REF_TYPES", "1"),
    ("WASM_ENABLE_CALL_INDIRECT_OVERLONG", "1"),
    // Wasm features: off (SIMD would need the runtime's SIMD support on every arch;
    // threads, tail calls, GC and memory64 are not in the drivers' toolchain targets).
    ("WASM_ENABLE_SIMD", "0"),
    ("WASM_ENABLE_SHARED_MEMORY", "0"),
    ("WASM_ENABLE_THREAD_MGR", "0"),
    ("WASM_ENABLE_TAIL_CALL", "0"),
    ("WASM_ENABLE_GC", "0"),
    ("WASM_ENABLE_MEMORY64", "0"),
    // How AOT code reaches the runtime: the .aot's layout depends on these.
    ("WASM_ENABLE_MODULE_INST_CONTEXT", "1"),
    ("WASM_ENABLE_QUICK_AOT_ENTRY", "1"),
    ("WASM_ENABLE_AOT_INTRINSICS", "1"),
    ("WASM_ENABLE_SHRUNK_MEMORY", "1"),
    ("WASM_ENABLE_DUMP_CALL_STACK", "0"),
    ("WASM_HAVE_MREMAP", "1"),
    ("WASM_DISABLE_WRITE_GS_BASE", "1"),
];

impl Wamr {
    /// The tree at `WAMR_ROOT`, else `third_party/wamr` at the workspace root (unpacked by
    /// `scripts/fetch-wamr.sh`). Panics with what to do when it is missing. Tells cargo to
    /// rebuild when the tree or the variable changes.
    pub fn locate() -> Wamr {
        println!("cargo:rerun-if-env-changed=WAMR_ROOT");
        let root = match env::var_os("WAMR_ROOT") {
            Some(root) => PathBuf::from(root),
            // Every crate that builds WAMR sits at runtime/<name>.
            None => PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("run from a build script"))
                .join("../../third_party/wamr"),
        };
        let wamr = Wamr { root };
        if !wamr.iwasm().join("include/wasm_export.h").exists() {
            panic!(
                "WAMR sources not found at {}: run scripts/setup.sh (or scripts/fetch-wamr.sh), \
                 or set WAMR_ROOT to a WAMR 2.4.3 checkout",
                wamr.root.display()
            );
        }
        println!("cargo:rerun-if-changed={}", wamr.core().display());
        wamr
    }

    pub fn core(&self) -> PathBuf {
        self.root.join("core")
    }

    pub fn iwasm(&self) -> PathBuf {
        self.core().join("iwasm")
    }

    pub fn shared(&self) -> PathBuf {
        self.core().join("shared")
    }

    /// C sources of both builds: platform, allocator, utilities, the runtime-common code,
    /// the wasm loader and the AOT loader/runtime. Each build adds its interpreter, its
    /// relocation file and its libraries.
    pub fn shared_sources(&self) -> Vec<PathBuf> {
        let (iwasm, shared) = (self.iwasm(), self.shared());
        let mut sources = vec![
            shared.join("platform/linux/platform_init.c"),
            shared.join("mem-alloc/mem_alloc.c"),
            iwasm.join("interpreter/wasm_loader.c"),
            iwasm.join("interpreter/wasm_runtime.c"),
            iwasm.join("aot/aot_intrinsic.c"),
            iwasm.join("aot/aot_loader.c"),
            iwasm.join("aot/aot_runtime.c"),
        ];
        sources.extend(
            ["ems_alloc.c", "ems_gc.c", "ems_hmu.c", "ems_kfc.c"]
                .map(|f| shared.join("mem-alloc/ems").join(f)),
        );
        sources.extend(files_with_ext(&shared.join("utils"), "c"));
        sources.extend(files_with_ext(&iwasm.join("common"), "c"));
        sources
    }

    /// Include directories of both builds.
    pub fn shared_includes(&self) -> Vec<PathBuf> {
        let (iwasm, shared) = (self.iwasm(), self.shared());
        vec![
            iwasm.join("include"),
            iwasm.join("common"),
            iwasm.join("interpreter"),
            iwasm.join("aot"),
            shared.join("platform/linux"),
            shared.join("platform/include"),
            shared.join("mem-alloc"),
            shared.join("utils"),
            shared.join("utils/uncommon"),
            self.core(),
        ]
    }
}

/// The files in `dir` ending in `.ext`, sorted (for reproducible builds).
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// Source edits to WAMR 2.4.3: (file under `core/`, [(anchor, replacement)]). Each anchor
/// must occur exactly once in the pristine file, so another WAMR version fails the build
/// loudly instead of compiling a half-patched file. An anchor that starts with
/// `[every N]` and a newline stands for the rest of it occurring exactly N times, each
/// occurrence replaced.
pub type Patches = &'static [(&'static str, &'static [(&'static str, &'static str)])];

/// Applies `edits` to `text`; panics naming the anchor that is missing or not found as
/// often as expected.
pub fn apply(file: &str, text: &str, edits: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (anchor, replacement) in edits {
        let (expected, anchor) = match anchor
            .strip_prefix("[every ")
            .and_then(|r| r.split_once("]\n"))
        {
            Some((n, rest)) => (n.parse::<usize>().expect("[every N]: N is a number"), rest),
            None => (1, *anchor),
        };
        let n = out.matches(anchor).count();
        assert!(
            n == expected,
            "wasi-hw-wamr-build: patching {file}: anchor found {n} times, not {expected} (WAMR 2.4.3 expected):\n{anchor}"
        );
        out = out.replace(anchor, replacement);
    }
    out
}

/// Compiles each patched file from a copy in `out` in place of the original: the copy
/// replaces the original's entry in `sources` (its quoted includes resolve through the
/// include path, which must list the originals' directories).
pub fn patch_sources(core: &Path, patches: Patches, sources: &mut [PathBuf], out: &Path) {
    for (file, edits) in patches {
        let original = core.join(file);
        let text = std::fs::read_to_string(&original)
            .unwrap_or_else(|e| panic!("reading {}: {e}", original.display()));
        let copy = out.join(Path::new(file).file_name().expect("a file name"));
        std::fs::write(&copy, apply(file, &text, edits))
            .unwrap_or_else(|e| panic!("writing {}: {e}", copy.display()));
        let slot = sources
            .iter_mut()
            .find(|s| **s == original)
            .unwrap_or_else(|| panic!("{file} is not a source file"));
        *slot = copy;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "anchor found 2 times")]
    fn an_anchor_must_be_unique() {
        apply("f.c", "x x", &[("x", "y")]);
    }

    #[test]
    fn an_every_anchor_replaces_each_of_exactly_n() {
        assert_eq!(apply("f.c", "x x y", &[("[every 2]\nx", "z")]), "z z y");
        let wrong = std::panic::catch_unwind(|| apply("f.c", "x x x", &[("[every 2]\nx", "z")]));
        assert!(wrong.is_err());
    }

    #[test]
    fn every_define_is_given_once() {
        let mut names: Vec<&str> = SHARED_DEFINES.iter().map(|(k, _)| *k).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
