//! The CPU targets of this project: what the AOT compiler emits and what a runtime build
//! executes. One table, so the compiler and the runtime's `.aot` check cannot disagree.

use std::fmt;
use std::str::FromStr;

/// CPU architectures the compiler targets (and the runtime is built for).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    X86_64,
    /// 32-bit ARMv7-A, ARM instruction set, hard-float ABI.
    Armv7,
    /// 32-bit ARMv7-A, Thumb-2 instruction set, hard-float ABI.
    Thumbv7,
    Aarch64,
    /// 32-bit MIPS32r2, little-endian, o32 hard-float ABI (OpenWrt `mipsel_24kc`).
    Mipsel,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::X86_64,
        Target::Armv7,
        Target::Thumbv7,
        Target::Aarch64,
        Target::Mipsel,
    ];

    /// The target this runtime executes (the code it was built as), if it is one of ours.
    pub fn host() -> Option<Target> {
        if cfg!(target_arch = "x86_64") {
            Some(Target::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Target::Aarch64)
        } else if cfg!(all(target_arch = "arm", target_feature = "thumb-mode")) {
            Some(Target::Thumbv7)
        } else if cfg!(target_arch = "arm") {
            // 32-bit ARM binaries of this project are built as armv7 hard-float.
            Some(Target::Armv7)
        } else if cfg!(all(target_arch = "mips", target_endian = "little")) {
            Some(Target::Mipsel)
        } else {
            None
        }
    }

    /// The target whose WAMR arch string (as in an `.aot` header) is `arch`.
    pub fn from_wamr_arch(arch: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.wamr_arch() == arch)
    }

    /// The name used on the command line (`FromStr`/`Display`).
    pub fn name(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64",
            Target::Armv7 => "armv7",
            Target::Thumbv7 => "thumbv7",
            Target::Aarch64 => "aarch64",
            Target::Mipsel => "mipsel",
        }
    }

    /// WAMR's `--target`. It is also the arch string recorded in the .aot, which the
    /// runtime compares with its own `BUILD_TARGET` as a prefix ("AARCH64" accepts
    /// "aarch64v8", "ARMV7" accepts "armv7" but not "thumbv7").
    pub fn wamr_arch(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64",
            Target::Armv7 => "armv7",
            Target::Thumbv7 => "thumbv7",
            Target::Aarch64 => "aarch64v8",
            Target::Mipsel => "mipsel",
        }
    }

    /// WAMR's `--target-abi`; `None` is WAMR's default, "gnu".
    pub fn abi(self) -> Option<&'static str> {
        match self {
            // The ARM runtimes are built with arm-linux-gnueabihf-gcc: float arguments
            // in VFP registers. A soft-float .aot would pass them in core registers.
            Target::Armv7 | Target::Thumbv7 => Some("gnueabihf"),
            // o32 with hard float, as Debian's mipsel gcc builds the runtime: an .aot
            // that calls a runtime function with a float argument passes it in $f12/$f14.
            Target::X86_64 | Target::Aarch64 | Target::Mipsel => None,
        }
    }

    /// Default `--cpu`. `None` is LLVM's generic CPU for the target, so the .aot runs
    /// on any CPU of the architecture (never the build machine's CPU, which is what
    /// WAMR picks when no target is given).
    pub fn default_cpu(self) -> Option<&'static str> {
        match self {
            // Generic x86-64 (SSE2 only) and generic ARMv8-A: portable.
            Target::X86_64 | Target::Aarch64 => None,
            // The ARMv7-A cores of the boards we run on (Cortex-A7: Raspberry Pi 2,
            // Allwinner H3; Cortex-A9: i.MX6). Both have VFPv3/NEON, which the
            // hard-float ABI needs anyway; LLVM's generic armv7 CPU would have no FPU.
            Target::Armv7 => Some("cortex-a7"),
            Target::Thumbv7 => Some("cortex-a9"),
            // MIPS32 release 2: the 24Kc/74Kc/1004Kc cores of OpenWrt's mipsel routers
            // (ath79 is big-endian; ramips MT7621/MT7628 are these).
            Target::Mipsel => Some("mips32r2"),
        }
    }

    /// Default `--cpu-features`: none. On ARMv7 this leaves unaligned LDR/STR
    /// allowed (the architecture supports them in user mode). Wasm accesses of unknown
    /// alignment are emitted with alignment 1, so LLVM never uses the instructions that
    /// fault on unaligned addresses (LDRD/STRD, LDM/STM, VLDR/VSTR) for them; for i64
    /// and f64 it uses pairs of LDR/STR or NEON VLD1.8, which do not fault.
    /// `+strict-align` (byte-wise accesses, several times slower on memory-heavy code)
    /// is not needed: runtime/aotc/src/unaligned.wat ran fault-free under qemu-arm, which
    /// enforces alignment like a 32-bit ARM process on an arm64 kernel (no fixups).
    pub fn default_cpu_features(self) -> Option<&'static str> {
        None
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A target name none of [`Target::ALL`] answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTarget(pub String);

impl fmt::Display for UnknownTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown target `{}` (expected one of: x86_64, armv7, thumbv7, aarch64, mipsel){}",
            self.0,
            if matches!(self.0.as_str(), "mips" | "mipseb" | "mips-be") {
                "; big-endian MIPS is not supported"
            } else {
                ""
            }
        )
    }
}

impl std::error::Error for UnknownTarget {}

impl FromStr for Target {
    type Err = UnknownTarget;

    fn from_str(s: &str) -> Result<Target, UnknownTarget> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Target::X86_64),
            "armv7" | "arm" => Ok(Target::Armv7),
            "thumbv7" | "thumb" => Ok(Target::Thumbv7),
            "aarch64" | "arm64" => Ok(Target::Aarch64),
            "mipsel" | "mipsle" => Ok(Target::Mipsel),
            _ => Err(UnknownTarget(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Target::ALL {
            assert_eq!(t.to_string().parse::<Target>().unwrap(), t);
            assert_eq!(Target::from_wamr_arch(t.wamr_arch()), Some(t));
        }
        assert_eq!("arm64".parse::<Target>().unwrap(), Target::Aarch64);
        let err = "riscv64".parse::<Target>().unwrap_err().to_string();
        assert!(err.contains("unknown target `riscv64`"), "{err}");
        assert_eq!(Target::from_wamr_arch("mips"), None);
        assert_eq!("mipsle".parse::<Target>().unwrap(), Target::Mipsel);
        let err = "mips".parse::<Target>().unwrap_err().to_string();
        assert!(err.contains("big-endian MIPS is not supported"), "{err}");
    }

    #[test]
    fn this_build_is_a_target() {
        assert!(Target::host().is_some());
    }
}
