//! The leak check under LeakSanitizer: `leak_cycles N MODULE [ARGS...]` reads the module
//! (its signature checked), loads, instantiates, runs and drops it N times in one process
//! (I2C: the simulated bus, `sim:0x48`), as `bench-engine --cycles` does for the RSS plot.
//! Built by scripts/fuzz.sh with AddressSanitizer: its LeakSanitizer reports, at exit,
//! every allocation nothing points to any more, and fails the run.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use wasi_hw_engine::{Engine, Instance, InstanceConfig, Module};

fn cycles(n: u64, path: &Path, args: Vec<String>) -> Result<()> {
    let grants = wasi_hw_wiring::Grants {
        i2c: vec!["sim:0x48".into()],
        usb: vec![],
    };
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    let mut config = InstanceConfig::default();
    config.wasi.set_command(path, &args);
    config.wasi.stdio = [None, Some(null.as_raw_fd()), Some(null.as_raw_fd())];
    let engine = Engine::new()?;
    let policy = wasi_hw_trust::Policy::default();
    for i in 0..n {
        let file = wasi_hw_wiring::read_module_trusted(path, &policy)?;
        wasi_hw_wiring::register_for(&engine, &file)?;
        let module =
            Module::from_file(&engine, file).with_context(|| path.display().to_string())?;
        let mut instance = Instance::new(&module, &config)?;
        wasi_hw_wiring::install(&mut instance, &grants)?;
        let code = instance.run_main()?;
        if code != 0 {
            bail!("cycle {i}: the guest exited with {code}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(n), Some(path)) = (args.next().and_then(|n| n.parse().ok()), args.next()) else {
        eprintln!("usage: leak_cycles N MODULE [ARGS...]");
        return ExitCode::from(2);
    };
    match cycles(n, Path::new(&path), args.collect()) {
        Ok(()) => {
            println!("leak_cycles: {n} cycles of {path}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("leak_cycles: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
