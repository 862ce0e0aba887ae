//! One path from grants to natives, used by the CLI, the tests and the benchmarks:
//!
//! 1. [`read_module_trusted`] (or [`read_module`], without signatures): a module file read
//!    once, its kind detected once, an `.aot` for another target refused and its signature
//!    verified before WAMR sees it;
//! 2. [`Grants`]: what an instance may touch, from `--i2c`/`--usb` values and grants files;
//! 3. [`register_for`]: the native symbol tables a module imports from ([`imports`]),
//!    registered with the engine before the module loads, and only those;
//! 4. [`install`]: the per-instance host state for the grants (nothing granted: no bus, no
//!    USB backend at all).

use std::path::Path;

use anyhow::{Context, Result};
use wasi_hw_engine::{Engine, Instance, ModuleFile, ModuleKind};

mod devices;
mod grants;
pub mod imports;

pub use devices::Devices;
pub use grants::Grants;

/// What the simulated displays an instance used show, one line each (`sim 0x27: lcd
/// "..." "..."`), to print after a run.
pub fn displays(instance: &wasi_hw_engine::Instance) -> Vec<String> {
    instance
        .extensions()
        .get::<wasi_hw_i2c::I2cHost>()
        .map(|h| h.displays())
        .unwrap_or_default()
}

/// Reads a module file as [`read_module`] does, then checks it against the signature
/// policy: `PATH.sig` is verified over the bytes just read (the same bytes the loader gets,
/// so nothing can change in between) before any byte reaches WAMR. The one entry point for
/// everything that loads modules for others (`run`, the resident host).
pub fn read_module_trusted(path: &Path, policy: &wasi_hw_trust::Policy) -> Result<ModuleFile> {
    let file = read_module(path)?;
    let stamp = file.owner_only_metadata().map(wasi_hw_trust::FileStamp::of);
    policy.check_file(path, file.bytes(), file.kind() == ModuleKind::Aot, stamp)?;
    Ok(file)
}

/// Reads a module file: `.wasm`, or an `.aot` this runtime can run (format version and
/// target checked from the header, with a message that says how to rebuild it).
pub fn read_module(path: &Path) -> Result<ModuleFile> {
    let file = read_module_file(path)?;
    if let Some(info) = file
        .aot_info()
        .with_context(|| path.display().to_string())?
    {
        info.check_runnable()
            .with_context(|| path.display().to_string())?;
    }
    Ok(file)
}

/// Opens a `.wasm` or `.aot` file of any target (an `.aot` only root or this user can
/// change is mapped rather than read: see `wasi_hw_engine::ModuleFile::open`).
pub fn read_module_file(path: &Path) -> Result<ModuleFile> {
    ModuleFile::open(path).map_err(|e| match e {
        wasi_hw_engine::Error::NotAModule => anyhow::anyhow!(
            "{} is not a WebAssembly (.wasm) or WAMR AOT (.aot) module",
            path.display()
        ),
        other => anyhow::Error::new(other),
    })
}

/// A preopen given as `HOST` or `HOST::GUEST` (guest path defaults to the host path), as
/// (host, guest).
pub fn parse_preopen(dir: &str) -> (std::path::PathBuf, String) {
    let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
    (std::path::PathBuf::from(host), guest.to_string())
}

/// Refuses to run a module that lies inside a directory the guest is given (`--dir`):
/// WASI preopens are writable, so the guest could rewrite its own code for the next run
/// (or, for a mapped `.aot`, under the running loader).
pub fn refuse_module_in_preopens(module: &Path, preopens: &[&Path]) -> Result<()> {
    let Ok(module_full) = module.canonicalize() else {
        return Ok(()); // reading it will say what is wrong
    };
    for dir in preopens {
        let Ok(dir_full) = dir.canonicalize() else {
            continue;
        };
        if module_full.starts_with(&dir_full) {
            anyhow::bail!(
                "{} is inside {}, which --dir gives the guest write access to: the guest could \
                 rewrite its own code; keep modules outside the directories a guest is given",
                module.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Registers every native library (for tools that load modules of any kind).
pub fn register_all(engine: &Engine) -> Result<()> {
    wasi_hw_i2c::register(engine).context("registering WASI-I2C natives")?;
    wasi_hw_usb::register(engine).context("registering WASI-USB natives")?;
    Ok(())
}

/// Registers the native libraries `module` imports from (USB under the dialect it names),
/// after refusing a module built for a USB layout these natives do not have.
pub fn register_for(engine: &Engine, module: &ModuleFile) -> Result<()> {
    let imports = imports::Imports::of(module);
    if imports.any(wasi_hw_i2c::IMPORT_PREFIXES) {
        wasi_hw_i2c::register(engine).context("registering WASI-I2C natives")?;
    }
    let dialects = imports.usb_dialects();
    if !dialects.is_empty() {
        imports::check_usb_layout(module)?;
    }
    for dialect in dialects {
        wasi_hw_usb::register_dialect(engine, dialect)
            .with_context(|| format!("registering WASI-USB natives ({})", dialect.name))?;
    }
    Ok(())
}

/// Gives the instance its host state: the granted I2C buses and USB devices.
pub fn install(instance: &mut Instance, grants: &Grants) -> Result<()> {
    install_limited(instance, grants, None)
}

/// [`install`], with at most `max_handles` live handles in each of the instance's I2C and
/// USB handle tables (`None`: the engine's default).
pub fn install_limited(
    instance: &mut Instance,
    grants: &Grants,
    max_handles: Option<usize>,
) -> Result<()> {
    install_with(instance, grants, max_handles, false).map(|_| ())
}

/// [`install_limited`], and every granted USB device present now is opened now, for a host
/// about to give up the right to open device nodes (`--user`): the guest's open of such a
/// device gets the handle opened here. Returns how many were opened.
pub fn install_opening_usb_now(
    instance: &mut Instance,
    grants: &Grants,
    max_handles: Option<usize>,
) -> Result<usize> {
    install_with(instance, grants, max_handles, true)
}

fn install_with(
    instance: &mut Instance,
    grants: &Grants,
    max_handles: Option<usize>,
    open_usb_now: bool,
) -> Result<usize> {
    let i2c = wasi_hw_i2c::I2cConfig::from_grants(&grants.i2c).context("--i2c")?;
    // Without a grant the guest sees no USB device; skip even creating a backend then,
    // so a pure I2C driver pays nothing for USB at start-up.
    let (usb, opened) = if grants.usb.is_empty() {
        (None, 0)
    } else {
        let config = wasi_hw_usb::UsbConfig::from_grants(&grants.usb).context("--usb")?;
        if open_usb_now {
            let keeper = config.into_keeper();
            let opened = devices::open_granted(&keeper)?;
            (Some(keeper.build()), opened)
        } else {
            (Some(config.build()), 0)
        }
    };
    install_states(instance, i2c, usb, max_handles)?;
    Ok(opened)
}

/// Installs the I2C state `i2c` builds and the USB state, each handle table capped at
/// `max_handles` if given (the one place the cap is applied: `run` and the resident host).
fn install_states(
    instance: &mut Instance,
    mut i2c: wasi_hw_i2c::I2cConfig,
    usb: Option<wasi_hw_usb::UsbState>,
    max_handles: Option<usize>,
) -> Result<()> {
    if let Some(n) = max_handles {
        i2c = i2c.with_limits(wasi_hw_i2c::Limits {
            max_handles: n,
            ..wasi_hw_i2c::Limits::default()
        });
    }
    wasi_hw_i2c::install(instance, i2c.build().context("setting up I2C")?);
    if let Some(mut state) = usb {
        if let Some(n) = max_handles {
            state = state.with_max_resources(n);
        }
        wasi_hw_usb::install(instance, state);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_inside_a_given_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let inside = data.join("drivers/x.aot");
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, b"").unwrap();
        let outside = tmp.path().join("x.aot");
        std::fs::write(&outside, b"").unwrap();
        let err = refuse_module_in_preopens(&inside, &[&data]).unwrap_err();
        assert!(err.to_string().contains("rewrite its own code"), "{err}");
        assert!(refuse_module_in_preopens(&outside, &[&data]).is_ok());
        // Through another spelling of the same directory, and the directory itself given.
        let dotted = data.join("../data");
        assert!(refuse_module_in_preopens(&inside, &[&dotted]).is_err());
        assert!(refuse_module_in_preopens(&outside, &[tmp.path()]).is_err());
        // "data2" is not inside "data".
        let sibling = tmp.path().join("data2.aot");
        std::fs::write(&sibling, b"").unwrap();
        assert!(refuse_module_in_preopens(&sibling, &[&data]).is_ok());
    }
}
