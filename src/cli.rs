//! The `wasi-hw` command line: `run`, `compile`, `inspect` (`keygen`, `sign`, `verify`: in
//! `signing`). A thin layer over the library
//! crates; every failure becomes one clear line on stderr.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use wasi_hw_engine::{Engine, Instance, InstanceConfig, Module, ModuleFile, ModuleKind, Target};

#[derive(Parser, Debug)]
#[command(
    name = "wasi-hw",
    version,
    long_version = LONG_VERSION.as_str(),
    about = "Run sandboxed WebAssembly hardware drivers (WASI-I2C, WASI-USB) on WAMR"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a WASI command module (.wasm or .aot); its exit code becomes ours.
    Run(Box<RunArgs>),
    /// AOT-compile a .wasm module for a target (x86_64, armv7, thumbv7, aarch64, mipsel).
    #[cfg(feature = "aot-compiler")]
    Compile(CompileArgs),
    /// Show a module's kind, imports, exports and (for .aot) target and format version.
    /// An .aot's imports and exports are listed only if its signature verifies.
    Inspect(InspectArgs),
    /// Run a module N times as fresh processes and print median and p90 of each start-up
    /// phase and of the whole process (optionally against a native command), e.g.
    /// `wasi-hw coldstart -n 50 -- --i2c /dev/i2c-1:0x48 sensor.aot --bus /dev/i2c-1`.
    Coldstart(crate::coldstart::ColdstartArgs),
    /// Run the configured drivers as a resident host (one WAMR, each module loaded once,
    /// supervised, hot-updatable), controlled with `wasi-hw ctl`.
    Serve(crate::service::ServeArgs),
    /// Control a running `wasi-hw serve`: list, status, start, stop, restart, reload,
    /// update, invoke.
    Ctl(crate::service::CtlArgs),
    /// Make a signing key pair (signify/usign format, no passphrase).
    #[cfg(feature = "aot-compiler")]
    Keygen(crate::signing::KeygenArgs),
    /// Sign files with a secret key: writes FILE.sig (signify-compatible).
    #[cfg(feature = "aot-compiler")]
    Sign(crate::signing::SignArgs),
    /// Verify FILE.sig against the trusted keys.
    Verify(crate::signing::VerifyArgs),
    /// Compile a driver for every gateway CPU, sign each module and push them as one
    /// multi-arch OCI artifact (an image index) to a registry.
    #[cfg(all(feature = "fleet", feature = "aot-compiler"))]
    Push(crate::fleet::PushArgs),
    /// Pull a driver from an OCI registry: the build for this gateway's platform, digests
    /// and signature checked, installed atomically with its .sig.
    #[cfg(feature = "fleet")]
    Pull(crate::fleet::PullArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Preopen a host directory: HOST or HOST::GUEST (guest path defaults to HOST).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Environment variable for the guest.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub envs: Vec<String>,
    /// Execution stack size in bytes (default: 64 KiB interpreted, 16 KiB AOT, whose
    /// frames are on the native stack).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub stack_size: u32,
    /// Host-managed heap inside linear memory, bytes (WASI guests bring their own malloc).
    #[arg(long, default_value_t = 0)]
    pub heap_size: u32,
    /// Cap on the guest's linear memory in KiB (rounded up to 64 KiB pages): growing past
    /// it fails in the guest; a module that starts larger is refused.
    #[arg(long, value_name = "KIB")]
    pub max_memory_kib: Option<u32>,
    /// Cap on the guest's live handles in each of its I2C and USB handle tables (buses,
    /// delays, devices, device handles, transfers); more is an error to the guest.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_handles: Option<u32>,
    /// Wall-clock limit: the guest is stopped (at its next host call or loop back-edge)
    /// this many milliseconds after it starts, and the run fails with "timed out".
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: Option<u64>,
    /// Call an exported function instead of `_start`, with WAVE-style arguments; the types
    /// come from the module's component-type section (wit-bindgen embeds it). Handles:
    /// `i2c("BUS")` (a granted bus) and `delay`. The result is printed on stdout; an `err`
    /// result exits with 1. E.g. `--invoke 'sketch:implementation/lcd#write(i2c("sim"),
    /// delay, "Hello")'`.
    #[arg(long, value_name = "EXPORT(ARGS)")]
    pub invoke: Option<String>,
    /// Interpret a .wasm module instead of compiling it to native code first.
    #[arg(long)]
    pub interp: bool,
    /// Grant an I2C bus and addresses, e.g. `/dev/i2c-1:0x48,0x50` or `sim:0x48`.
    #[arg(long = "i2c", value_name = "BUS:ADDRS")]
    pub i2c: Vec<String>,
    /// Grant USB devices, e.g. `0781:5567` or `sim` (simulated devices).
    #[arg(long = "usb", value_name = "GRANT")]
    pub usb: Vec<String>,
    /// Read more grants from a file: one `i2c BUS:ADDRS` or `usb GRANT` per line, `#` comments.
    #[arg(long = "grants", value_name = "FILE")]
    pub grants: Option<PathBuf>,
    /// After the guest exits, print where the start went (read, init, register, load,
    /// instantiate, run, in µs) as one line on stderr.
    #[arg(long)]
    pub timings: bool,
    /// Once the grants are open (I2C buses, the granted USB devices present now, `--dir`
    /// directories), run as this user, and group if given: names from /etc/passwd and
    /// /etc/group, or numbers. Needs root. Anything opened later needs that user's rights.
    #[arg(long, value_name = "USER[:GROUP]")]
    pub user: Option<wasi_hw_sandbox::UserSpec>,
    /// Before the guest starts, install a seccomp filter allowing only the syscalls the
    /// runtime needs: exec, fork, network sockets, ptrace, mount... then fail with EPERM.
    #[arg(long)]
    pub seccomp: bool,
    #[command(flatten)]
    pub trust: crate::signing::TrustArgs,
    /// The module to run.
    pub module: PathBuf,
    /// Arguments passed to the guest (after its program name).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub trust: crate::signing::TrustArgs,
    pub module: PathBuf,
}

#[cfg(feature = "aot-compiler")]
#[derive(Args, Debug)]
pub struct CompileArgs {
    pub input: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
    /// x86_64, armv7, thumbv7, aarch64 or mipsel.
    #[arg(long, default_value = "x86_64")]
    pub target: Target,
    /// CPU name for LLVM (default per target).
    #[arg(long)]
    pub cpu: Option<String>,
    /// LLVM CPU features, e.g. `+strict-align`.
    #[arg(long)]
    pub cpu_features: Option<String>,
    /// Optimisation level 0-3.
    #[arg(long, default_value_t = 3)]
    pub opt_level: u32,
    /// Leave out the stop check points at loop back-edges and calls: slightly faster
    /// loops, but `wasi-hw serve` can then stop the driver only at its host calls.
    #[arg(long)]
    pub no_stop_checks: bool,
}

/// `--version`: what this binary was built for and runs.
static LONG_VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(long_version);

fn long_version() -> String {
    let runs = Target::host().map_or("no", Target::name);
    let compiler = compiler_version().unwrap_or_else(|| "none (a runtime-only build)".into());
    format!(
        "{} (built for {}; runs {runs} .aot code; AOT compiler: {compiler})",
        env!("CARGO_PKG_VERSION"),
        env!("WASI_HW_BUILD_TARGET"),
    )
}

#[cfg(feature = "aot-compiler")]
fn compiler_version() -> Option<String> {
    Some(format!(
        "WAMR 2.4.3 with LLVM {}",
        wasi_hw_aotc::LLVM_VERSION
    ))
}

#[cfg(not(feature = "aot-compiler"))]
fn compiler_version() -> Option<String> {
    None
}

/// `start`: when `main` began (the first phase of `--timings` is the command line).
pub fn run(args: RunArgs, start: std::time::Instant) -> Result<i32> {
    let mut timings = crate::timings::Timings::new(start);
    timings.mark("start");
    let mut grants = wasi_hw_wiring::Grants {
        i2c: args.i2c.clone(),
        usb: args.usb.clone(),
    };
    if let Some(path) = &args.grants {
        grants.add_file(path)?;
    }
    let preopens: Vec<(PathBuf, String)> = args
        .dirs
        .iter()
        .map(|d| wasi_hw_wiring::parse_preopen(d))
        .collect();
    let sandbox = wasi_hw_sandbox::Sandbox {
        user: args.user.clone(),
        seccomp: args.seccomp,
    };
    // A wrong user name is an error before anything is opened.
    let ids = sandbox.resolve()?;
    let hosts: Vec<&Path> = preopens.iter().map(|(h, _)| h.as_path()).collect();
    wasi_hw_wiring::refuse_module_in_preopens(&args.module, &hosts)?;
    let file = wasi_hw_wiring::read_module_trusted(&args.module, &args.trust.policy())?;
    timings.mark("read");
    let engine = Engine::new()?;
    timings.mark("init");
    wasi_hw_wiring::register_for(&engine, &file)
        .with_context(|| args.module.display().to_string())?;
    timings.mark("register");
    // The export's types are read before the load, which frees an .aot's bytes.
    let call = match &args.invoke {
        Some(text) => {
            let exports = wasi_hw_invoke::exports_of(file.bytes(), file.kind())
                .with_context(|| args.module.display().to_string())?;
            Some(wasi_hw_invoke::Call::parse(text, &exports)?)
        }
        None => None,
    };
    let file = match file.kind() {
        ModuleKind::Wasm if !args.interp => compile_for_host(file)?,
        ModuleKind::Aot if args.interp => bail!(
            "--interp needs a .wasm module; {} is AOT-compiled",
            args.module.display()
        ),
        _ => file,
    };
    let module =
        Module::from_file(&engine, file).with_context(|| format!("{}", args.module.display()))?;
    timings.mark("load");
    let mut config = InstanceConfig {
        stack_size: args.stack_size,
        heap_size: args.heap_size,
        max_memory_pages: args.max_memory_kib.map_or(0, wasi_hw_engine::pages_for_kib),
        ..Default::default()
    };
    config.wasi.set_command(&args.module, &args.args);
    for kv in &args.envs {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--env {kv}: expected KEY=VALUE"))?;
        config.wasi.env.push((k.to_string(), v.to_string()));
    }
    for (dir, (host, guest)) in args.dirs.iter().zip(preopens) {
        if !host.is_dir() {
            bail!("--dir {dir}: {} is not a directory", host.display());
        }
        config.wasi.preopens.push((host, guest));
    }
    let mut instance = Instance::new(&module, &config)?;
    let max_handles = args.max_handles.map(|n| n as usize);
    if ids.is_some() {
        let n = wasi_hw_wiring::install_opening_usb_now(&mut instance, &grants, max_handles)?;
        log::debug!("opened {n} granted USB device(s) before switching user");
    } else {
        wasi_hw_wiring::install_limited(&mut instance, &grants, max_handles)?;
    }
    timings.mark("instantiate");
    if !sandbox.is_empty() {
        sandbox.enter(ids.as_ref())?;
        timings.mark("sandbox");
    }
    let interrupt = instance.interrupt();
    if let Some(ms) = args.timeout_ms {
        // The process ends with the run, so the timer thread is never joined.
        let interrupt = interrupt.clone();
        std::thread::Builder::new()
            .name("timeout".into())
            .spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                interrupt.request();
            })
            .context("cannot start the --timeout-ms timer")?;
    }
    let result = match &call {
        Some(call) => invoke(&mut instance, call),
        None => instance.run_main().map_err(anyhow::Error::from),
    };
    show_displays(&instance);
    if interrupt.is_requested() {
        bail!(
            "timed out after {} ms",
            args.timeout_ms.expect("only the timer interrupts")
        );
    }
    let code = result?;
    timings.mark("run");
    log::debug!("guest exited with {code}");
    if args.timings {
        eprintln!("{}", timings.line());
    }
    Ok(code)
}

/// Runs `--invoke`: the result on stdout; exit code 1 for an `err` result.
fn invoke(instance: &mut Instance, call: &wasi_hw_invoke::Call) -> Result<i32> {
    let returned = wasi_hw_invoke::invoke(instance, call, &mut wasi_hw_invoke::handles::make)?;
    if let Some(text) = &returned.text {
        println!("{text}");
    }
    Ok(i32::from(returned.is_err))
}

/// What the simulated displays the guest used show, on stderr.
fn show_displays(instance: &Instance) {
    for line in wasi_hw_wiring::displays(instance) {
        eprintln!("{line}");
    }
}

#[cfg(feature = "aot-compiler")]
pub(crate) fn compile_for_host(wasm: ModuleFile) -> Result<ModuleFile> {
    log::info!("compiling .wasm to native code in memory (use --interp to interpret)");
    let target =
        Target::host().context("no AOT target for this host architecture; use --interp")?;
    let aot = wasi_hw_aotc::compile(wasm.bytes(), &wasi_hw_aotc::CompileOptions::new(target))?;
    Ok(ModuleFile::new(aot)?)
}

#[cfg(not(feature = "aot-compiler"))]
fn compile_for_host(wasm: ModuleFile) -> Result<ModuleFile> {
    // Gateway builds carry no compiler: interpret .wasm, run precompiled .aot natively.
    Ok(wasm)
}

/// A `.wasm` file about to be compiled, checked as far as it must be before compiling.
#[cfg(feature = "aot-compiler")]
pub(crate) fn read_wasm_to_compile(path: &Path) -> Result<ModuleFile> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = match ModuleFile::new(wasm) {
        Ok(file) if file.kind() == ModuleKind::Wasm => file,
        _ => bail!("{} is not a WebAssembly (.wasm) module", path.display()),
    };
    // An .aot keeps no custom sections: the USB layout check must happen here.
    wasi_hw_wiring::imports::check_usb_layout(&file).with_context(|| path.display().to_string())?;
    Ok(file)
}

#[cfg(feature = "aot-compiler")]
pub fn compile(args: CompileArgs) -> Result<()> {
    let wasm = read_wasm_to_compile(&args.input)?.into_bytes();
    let mut opts = wasi_hw_aotc::CompileOptions::new(args.target);
    if args.cpu.is_some() {
        opts.cpu = args.cpu;
    }
    if args.cpu_features.is_some() {
        opts.cpu_features = args.cpu_features;
    }
    opts.opt_level = args.opt_level;
    opts.stop_checks = !args.no_stop_checks;
    let aot = wasi_hw_aotc::compile(&wasm, &opts)
        .with_context(|| format!("compiling {}", args.input.display()))?;
    std::fs::write(&args.output, &aot)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    log::info!(
        "wrote {} ({} bytes, {})",
        args.output.display(),
        aot.len(),
        args.target
    );
    Ok(())
}

pub fn inspect(args: &InspectArgs) -> Result<String> {
    let path = args.module.as_path();
    use std::fmt::Write;
    let file = wasi_hw_wiring::read_module_file(path)?;
    let mut out = String::new();
    writeln!(out, "file: {}", path.display())?;
    writeln!(out, "size: {} bytes", file.bytes().len())?;
    let mut loadable = true;
    match file.aot_info()? {
        None => writeln!(out, "kind: wasm")?,
        Some(info) => {
            writeln!(out, "kind: aot")?;
            writeln!(out, "aot-version: {}", info.version)?;
            writeln!(out, "target: {}", info.arch)?;
            writeln!(out, "bits: {}", if info.is_64_bit { 64 } else { 32 })?;
            writeln!(out, "feature-flags: {:#x}", info.feature_flags)?;
            loadable = info.check_runnable().is_ok();
            if !loadable {
                writeln!(
                    out,
                    "note: built for another target or version; imports/exports not listed"
                )?;
            } else {
                // Listing them means loading it into WAMR: not for native code of unknown
                // origin (a corrupt .aot can crash the loader).
                match args.trust.policy().check(path, file.bytes(), true) {
                    Ok(wasi_hw_trust::Verdict::Verified(v)) => writeln!(
                        out,
                        "signature: verified (key {}, {})",
                        v.key,
                        v.key_file.display()
                    )?,
                    Ok(_) => writeln!(out, "signature: not checked (--allow-unsigned)")?,
                    Err(e) => {
                        loadable = false;
                        writeln!(out, "signature: {e}")?;
                        writeln!(out, "note: not verified; imports/exports not listed")?;
                    }
                }
            }
        }
    }
    for dialect in wasi_hw_wiring::imports::Imports::of(&file).usb_dialects() {
        writeln!(out, "usb-dialect: {}", dialect.name)?;
    }
    if let Err(e) = wasi_hw_wiring::imports::check_usb_layout(&file) {
        writeln!(out, "note: {e}")?;
    }
    // What `run --invoke` can call, with the types it checks arguments against.
    match wasi_hw_invoke::exports_of(file.bytes(), file.kind()) {
        Ok(funcs) => {
            for f in funcs {
                writeln!(out, "invokable: {f}")?;
            }
        }
        Err(e) => writeln!(out, "note: {e:#}")?,
    }
    if loadable {
        let engine = Engine::new()?;
        wasi_hw_wiring::register_all(&engine)?;
        let module = Module::load_unchecked(file.into_bytes())?;
        for i in module.imports() {
            let status = if i.linked {
                ""
            } else {
                "  (not provided by this runtime)"
            };
            writeln!(
                out,
                "import: {}::{} ({:?}){status}",
                i.module, i.name, i.kind
            )?;
        }
        for e in module.exports() {
            writeln!(out, "export: {} ({:?})", e.name, e.kind)?;
        }
    }
    Ok(out)
}
