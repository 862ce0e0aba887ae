//! Build script of the export-shaped guests (reactors): links wasi-libc's
//! `crt1-reactor.o`, which gives the module `_initialize` (libc constructors, preopens)
//! for the host to call before any export. scripts/build-guests.sh names the wasi-libc
//! directory when it links without self-contained crt objects (Debian's toolchain); a
//! rustup target links the reactor object by itself.
fn main() {
    println!("cargo:rerun-if-env-changed=WASI_HW_WASI_LIBC");
    if let Ok(dir) = std::env::var("WASI_HW_WASI_LIBC") {
        println!("cargo:rustc-link-arg-cdylib={dir}/crt1-reactor.o");
    }
}
