//! The CLI's build script: records what the binary was built for, for `wasi-hw --version`.
//! Everything native is built by the crates under runtime/ (WAMR by wasi-hw-wamr-sys, the
//! AOT compiler by wasi-hw-aotc).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    println!("cargo:rustc-env=WASI_HW_BUILD_TARGET={target}");
}
