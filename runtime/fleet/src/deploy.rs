//! A pull a gateway can act on: the module for its platform, digests checked, the `.aot`
//! checked to be built for that CPU, and its signature verified against the gateway's
//! trusted keys, all before a byte is written; then installed atomically. What `wasi-hw
//! pull` and the resident host's roll-out both do.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use wasi_hw_engine::{ModuleFile, ModuleKind, Target};
use wasi_hw_trust::{Keyring, Verified};

use crate::artifact::{pull, Pulled, Want};
use crate::platform::{platform_name, platform_of};
use crate::registry::Registry;

/// A verified pull.
pub struct Fetched {
    pub pulled: Pulled,
    pub verified: Verified,
    /// `linux/arm/v7`-style name of the manifest it came from.
    pub from: String,
    /// Where it is to be installed.
    pub dest: PathBuf,
}

/// Pulls `repo:reference` for `want` and verifies it as the file `place` names for the
/// module's name (its layer title) would be.
pub fn fetch(
    registry: &mut Registry,
    repo: &str,
    reference: &str,
    want: &Want,
    keyring: &Keyring,
    place: impl FnOnce(&str) -> PathBuf,
) -> Result<Fetched> {
    let pulled = pull(registry, repo, reference, want)?;
    let from = pulled
        .platform
        .as_ref()
        .map(platform_name)
        .unwrap_or_else(|| "no platform".into());
    check_kind(&pulled.module.bytes, pulled.native, want, &from)?;
    let dest = place(&pulled.module.name);
    let verified = wasi_hw_trust::verify_detached(
        &dest,
        &pulled.module.bytes,
        &pulled.module.signature,
        keyring,
    )?;
    Ok(Fetched {
        pulled,
        verified,
        from,
        dest,
    })
}

/// The layer is what its manifest says: an `.aot` is built for the platform pulled for
/// (a mislabelled build is a clear error here, not a load failure on the gateway).
fn check_kind(bytes: &[u8], native: bool, want: &Want, from: &str) -> Result<()> {
    let file = ModuleFile::new(bytes.to_vec()).context("the pulled layer is not a module")?;
    if !native {
        if file.kind() != ModuleKind::Wasm {
            bail!("the {from} manifest's wasm layer is not a .wasm module: refused");
        }
        return Ok(());
    }
    let Some(info) = file.aot_info()? else {
        bail!("the {from} manifest's aot layer is not an .aot module: refused");
    };
    let Want::Native(platform) = want else {
        return Ok(());
    };
    let built_for = Target::from_wamr_arch(&info.arch).map(platform_of);
    if built_for.as_ref() != Some(platform) {
        bail!(
            "the {from} manifest's .aot is built for {}: refused",
            info.arch
        );
    }
    Ok(())
}
