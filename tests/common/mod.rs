//! Shared helpers for the guest end-to-end tests: run a built guest (target/guests) in
//! process, interpreted or AOT, with host state installed and stdio captured.

#![allow(dead_code)]

pub mod mqtt;
pub mod serve;

use std::io::{Read, Seek};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use wasi_hw_engine::{Engine, Instance, InstanceConfig, Module};

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Interp,
    Aot,
}

pub const MODES: [Mode; 2] = [Mode::Interp, Mode::Aot];

pub fn guest_path(name: &str, ext: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/guests")
        .join(format!("{name}.{ext}"));
    assert!(
        p.exists(),
        "{} missing: run scripts/build-guests.sh first",
        p.display()
    );
    p
}

pub fn engine() -> Engine {
    let engine = Engine::new().unwrap();
    wasi_hw_wiring::register_all(&engine).unwrap();
    engine
}

pub fn load(name: &str, mode: Mode) -> Module {
    let ext = match mode {
        Mode::Interp => "wasm",
        Mode::Aot => "aot",
    };
    Module::new(&engine(), std::fs::read(guest_path(name, ext)).unwrap()).unwrap()
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs guest `name` with `args`; `setup` installs host state (I2C buses, USB devices).
pub fn run_guest(
    name: &str,
    mode: Mode,
    args: &[&str],
    setup: impl FnOnce(&mut Instance),
) -> Outcome {
    run_module(&load(name, mode), name, args, setup)
        .unwrap_or_else(|e| panic!("{name} ({mode:?}) failed: {e}"))
}

/// [`run_guest`] with a module loaded once by the caller; a trap is an error.
pub fn run_module(
    module: &Module,
    name: &str,
    args: &[&str],
    setup: impl FnOnce(&mut Instance),
) -> Result<Outcome, wasi_hw_engine::Error> {
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let mut config = InstanceConfig::default();
    config.wasi.args = std::iter::once(name)
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    config.wasi.stdio = [None, Some(out.as_raw_fd()), Some(err.as_raw_fd())];
    let mut instance = Instance::new(module, &config).unwrap();
    setup(&mut instance);
    let code = instance.run_main()?;
    drop(instance);
    let read = |f: &mut std::fs::File| {
        let mut s = String::new();
        f.rewind().unwrap();
        f.read_to_string(&mut s).unwrap();
        s
    };
    Ok(Outcome {
        code,
        stdout: read(&mut out),
        stderr: read(&mut err),
    })
}

/// The signing key of the tests and a keys directory that trusts only it (the built guests
/// are signed with the developer's key, which the tests do not rely on). Made once, under
/// cargo's target tmp dir, and reused by later runs.
pub struct TestKey {
    pub keys_dir: PathBuf,
    pub secret: PathBuf,
}

pub fn test_key() -> &'static TestKey {
    static KEY: std::sync::OnceLock<TestKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-signing-key");
        let key = TestKey {
            keys_dir: base.join("keys"),
            secret: base.join("test.sec"),
        };
        if !key.secret.exists() {
            // Made aside and renamed into place: test binaries may race to make it.
            let aside = base.with_extension(format!("new-{}", std::process::id()));
            std::fs::create_dir_all(aside.join("keys")).unwrap();
            wasi_hw_trust::write_key_pair(
                &aside.join("keys/test.pub"),
                &aside.join("test.sec"),
                "wasi-hw tests",
            )
            .unwrap();
            if std::fs::rename(&aside, &base).is_err() {
                std::fs::remove_dir_all(&aside).unwrap();
            }
        }
        key
    })
}

/// Signs `file` with the test key (writes `file.sig`).
pub fn sign(file: &Path) {
    let key = wasi_hw_trust::read_secret_key(&test_key().secret).unwrap();
    wasi_hw_trust::sign_file(file, &key).unwrap();
}

/// A copy of `src` in `dir`, signed with the test key.
pub fn signed_copy(src: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join(src.file_name().unwrap());
    std::fs::copy(src, &copy).unwrap();
    sign(&copy);
    copy
}

/// Spins without a host call: only stop checks (AOT) or the interpreter's suspend checks
/// can end it.
pub const SPINS: &str = r#"(module (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))"#;

/// Sleeps 60 s in WASI poll_oneoff, as Rust's thread::sleep asks for it: one relative
/// monotonic-clock subscription (userdata 0, tag 0 at 8, clock id 1 at 16, timeout ns at 24).
/// Exits with status 3 at once (a broken driver).
pub const EXITS_3: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 3))))"#;

pub const SLEEPS_60S: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 60000000000))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))"#;

/// Opens ten delay handles and keeps them.
pub const OPENS_10_DELAYS: &str = r#"(module
  (import "wasi-hw:host/buses@0.1.0" "open-delay" (func $open_delay (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32)
    (loop $l
      (drop (call $open_delay))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))))"#;

/// The bytes of an `eeprom read` dump (`OFFSET: xx xx ...` lines).
pub fn parse_dump(stdout: &str) -> Vec<u8> {
    stdout
        .lines()
        .flat_map(|l| {
            l.split_once(": ")
                .expect("OFFSET: BYTES")
                .1
                .split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
                .collect::<Vec<_>>()
        })
        .collect()
}
