//! `bench-engine`: one cold run of a guest in this process, timed phase by phase.
//!
//! ```text
//! bench-engine [--i2c GRANT]... [--usb GRANT]... [--stack-size N] [--cycles N] MODULE [-- GUEST ARGS...]
//! ```
//! With `--cycles N`: N times read, load, instantiate, run and drop (engine initialised
//! once, the guest's output discarded), printing `cycle=I rss_kib=K` a hundred times along
//! the way and once at the end, and failing if a run exits non-zero: the leak check.
//! Does what `wasi-hw run` does, in the same order, with a clock read between the steps,
//! then prints (after the guest's own output) one line:
//! `phase=aot|interp hw_bound_check=0|1 init_us=.. register_us=.. read_us=.. load_us=..
//! instantiate_us=.. run_us=.. total_us=.. exit=CODE`
//! - `init`: WAMR runtime init (`Engine::new`), once per process;
//! - `register`: the native symbol tables the module can import (WASI-I2C, WASI-USB), as
//!   the CLI does (after the read: the choice depends on the module's bytes);
//! - `read`, `load`: opening the file (an .aot only root or this user can change is mapped,
//!   anything else read) and verifying its signature, `Module::from_file` (.aot → AOT, .wasm
//!   → interpreter);
//! - `instantiate`: `Instance::new` (WASI context, linear memory, exec env) and the I2C host
//!   state for the grants (default `--i2c sim:0x48`; USB state only with `--usb`, as in the CLI);
//! - `run`: the first call, `_start` (the whole driver run, first I2C transaction included);
//! - `total`: from the start of `main`.
//!
//! Whole-process time (exec, dynamic loading, exit) is measured from outside by the harness.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasi_hw_engine::{Engine, Instance, InstanceConfig, Module, ModuleKind, HW_BOUND_CHECK};

fn run(start: Instant) -> Result<i32> {
    let mut args = std::env::args().skip(1);
    let mut grants = wasi_hw_wiring::Grants::default();
    let mut config = InstanceConfig::default();
    let mut module_path = None;
    let mut guest_args = Vec::new();
    let mut cycles: Option<u64> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--i2c" => grants.i2c.push(args.next().context("--i2c needs a value")?),
            "--usb" => grants.usb.push(args.next().context("--usb needs a value")?),
            "--stack-size" => {
                config.stack_size = args
                    .next()
                    .context("--stack-size needs a value")?
                    .parse()
                    .context("--stack-size")?
            }
            "--cycles" => {
                cycles = Some(
                    args.next()
                        .context("--cycles needs a value")?
                        .parse()
                        .context("--cycles")?,
                )
            }
            "--" => {
                guest_args.extend(args.by_ref());
            }
            _ if module_path.is_none() && !a.starts_with('-') => module_path = Some(a),
            _ => bail!("unexpected argument {a:?}"),
        }
    }
    let path = module_path
        .context("usage: bench-engine [--i2c GRANT]... [--stack-size N] MODULE [-- ARGS...]")?;
    if grants.i2c.is_empty() {
        grants.i2c.push("sim:0x48".to_string());
    }
    let program = std::path::Path::new(&path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    config.wasi.args = std::iter::once(program).chain(guest_args).collect();

    if let Some(n) = cycles {
        return run_cycles(&path, &grants, config, n);
    }
    let us = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e6;
    let t0 = Instant::now();
    let engine = Engine::new()?;
    let t1 = Instant::now();
    // As the CLI: read once (kind and .aot target checked, signature verified against the
    // default keys directory, remembered in the default cache), only the tables it imports.
    let policy = wasi_hw_trust::Policy {
        cache_dir: wasi_hw_trust::default_cache_dir(),
        ..Default::default()
    };
    let file = wasi_hw_wiring::read_module_trusted(std::path::Path::new(&path), &policy)?;
    let t2 = Instant::now();
    wasi_hw_wiring::register_for(&engine, &file)?;
    let t3 = Instant::now();
    let module = Module::from_file(&engine, file).with_context(|| path.clone())?;
    let t4 = Instant::now();
    let mut instance = Instance::new(&module, &config)?;
    wasi_hw_wiring::install(&mut instance, &grants)?;
    let t5 = Instant::now();
    let code = instance.run_main()?;
    let t6 = Instant::now();
    let kind = match module.kind() {
        ModuleKind::Aot => "aot",
        ModuleKind::Wasm => "interp",
    };
    println!(
        "phase={kind} hw_bound_check={} init_us={:.2} register_us={:.2} read_us={:.2} load_us={:.2} instantiate_us={:.2} run_us={:.2} total_us={:.2} exit={code}",
        u8::from(HW_BOUND_CHECK),
        us(t0, t1),
        us(t2, t3),
        us(t1, t2),
        us(t3, t4),
        us(t4, t5),
        us(t5, t6),
        us(start, t6),
    );
    Ok(code)
}

/// Resident set size of this process, KiB.
fn rss_kib() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm")?
        .parse()
        .context("statm")?;
    Ok(pages * 4)
}

/// `--cycles`: the whole per-module path, `n` times in one process.
fn run_cycles(
    path: &str,
    grants: &wasi_hw_wiring::Grants,
    mut config: InstanceConfig,
    n: u64,
) -> Result<i32> {
    use std::os::fd::AsRawFd;
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .context("/dev/null")?;
    config.wasi.stdio = [None, Some(null.as_raw_fd()), Some(null.as_raw_fd())];
    let engine = Engine::new()?;
    let policy = wasi_hw_trust::Policy::default();
    let every = (n / 100).max(1);
    for i in 0..n {
        let file = wasi_hw_wiring::read_module_trusted(std::path::Path::new(path), &policy)?;
        wasi_hw_wiring::register_for(&engine, &file)?;
        let module = Module::from_file(&engine, file).with_context(|| path.to_string())?;
        let mut instance = Instance::new(&module, &config)?;
        wasi_hw_wiring::install(&mut instance, grants)?;
        let code = instance.run_main()?;
        if code != 0 {
            bail!("cycle {i}: the guest exited with {code}");
        }
        drop(instance);
        drop(module);
        if i % every == 0 {
            println!("cycle={i} rss_kib={}", rss_kib()?);
        }
    }
    println!("cycle={n} rss_kib={}", rss_kib()?);
    Ok(0)
}

fn main() -> ExitCode {
    let start = Instant::now();
    match run(start) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("bench-engine: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
