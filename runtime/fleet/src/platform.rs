//! Platforms as the image spec names them (`linux/arm/v7`), and which one a CPU target of
//! this project is: what an index entry is chosen by.

use anyhow::{bail, Result};
use oci_spec::image::{Arch, Os, Platform, PlatformBuilder};
use wasi_hw_engine::Target;

/// The portable platform of the wasm convention.
pub fn portable_platform() -> Platform {
    platform(Os::Other("wasip1".into()), Arch::Wasm, None)
}

/// A Linux platform as the image spec names it (`arm` with variant `v7`, `mipsle`...).
pub fn linux_platform(architecture: &str, variant: Option<&str>) -> Platform {
    platform(Os::Linux, Arch::from(architecture), variant)
}

fn platform(os: Os, architecture: Arch, variant: Option<&str>) -> Platform {
    let mut p = PlatformBuilder::default()
        .os(os)
        .architecture(architecture)
        .build()
        .expect("os and architecture are set");
    p.set_variant(variant.map(str::to_string));
    p
}

/// `linux/arm/v7`-style name of a platform.
pub fn platform_name(p: &Platform) -> String {
    match p.variant() {
        Some(v) => format!("{}/{}/{v}", p.os(), p.architecture()),
        None => format!("{}/{}", p.os(), p.architecture()),
    }
}

/// Parses `OS/ARCH[/VARIANT]`.
pub fn parse_platform(s: &str) -> Result<Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [os, arch] => Ok(platform(Os::from(*os), Arch::from(*arch), None)),
        [os, arch, variant] => Ok(platform(Os::from(*os), Arch::from(*arch), Some(variant))),
        _ => bail!("a platform is OS/ARCH[/VARIANT], e.g. linux/arm/v7: {s:?}"),
    }
}

/// The platform a target's `.aot` runs on.
pub fn platform_of(target: Target) -> Platform {
    let (arch, variant) = match target {
        Target::X86_64 => ("amd64", None),
        Target::Armv7 | Target::Thumbv7 => ("arm", Some("v7")),
        Target::Aarch64 => ("arm64", None),
        Target::Mipsel => ("mipsle", None),
    };
    linux_platform(arch, variant)
}

/// This build's platform, if it runs `.aot` code.
pub fn host_platform() -> Option<Platform> {
    Target::host().map(platform_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_round_trip() {
        for s in ["linux/arm/v7", "linux/amd64", "linux/mipsle", "wasip1/wasm"] {
            assert_eq!(platform_name(&parse_platform(s).unwrap()), s);
        }
        assert!(parse_platform("linux").is_err());
        assert_eq!(parse_platform("wasip1/wasm").unwrap(), portable_platform());
    }

    #[test]
    fn every_target_has_a_platform_and_arm_modes_share_one() {
        assert_eq!(platform_name(&platform_of(Target::Mipsel)), "linux/mipsle");
        assert_eq!(platform_of(Target::Armv7), platform_of(Target::Thumbv7));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(platform_name(&host_platform().unwrap()), "linux/amd64");
        }
    }
}
