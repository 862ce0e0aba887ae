//! The seed paper's published figures (Van Kenhove et al., "Cyber-physical WebAssembly:
//! Secure Hardware Interfaces and Pluggable Drivers", IEEE NOMS 2025, arXiv 2410.22919),
//! as summarised in the project's notes. The report prints them next to our numbers; they
//! were measured on other hardware (a Raspberry Pi with real devices), so only ratios
//! to native are comparable.

/// One published figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub experiment: &'static str,
    pub variant: &'static str,
    pub value: f64,
    pub unit: &'static str,
    /// The paper's native value for the same experiment (for the ratio).
    pub native: f64,
}

impl Figure {
    pub fn ratio_to_native(&self) -> f64 {
        self.value / self.native
    }
}

const I2C_NATIVE_MS: f64 = 3.0007;
const HTS_NATIVE_MS: f64 = 7.316;

/// Full cold start per iteration (create runtime, load, instantiate, run) of an I2C job.
pub const I2C_COLD_START: &[Figure] = &[
    Figure {
        experiment: "I2C 7-segment write, cold start (RPi)",
        variant: "native",
        value: I2C_NATIVE_MS,
        unit: "ms",
        native: I2C_NATIVE_MS,
    },
    Figure {
        experiment: "I2C 7-segment write, cold start (RPi)",
        variant: "WAMR interpreter",
        value: 3.0475,
        unit: "ms",
        native: I2C_NATIVE_MS,
    },
    Figure {
        experiment: "I2C 7-segment write, cold start (RPi)",
        variant: "wasmtime, compile on load",
        value: 10.165,
        unit: "ms",
        native: I2C_NATIVE_MS,
    },
    Figure {
        experiment: "I2C 7-segment write, cold start (RPi)",
        variant: "wasmtime, precompiled",
        value: 2.959,
        unit: "ms",
        native: I2C_NATIVE_MS,
    },
    Figure {
        experiment: "HTS221 read, cold start (RPi)",
        variant: "native",
        value: HTS_NATIVE_MS,
        unit: "ms",
        native: HTS_NATIVE_MS,
    },
    Figure {
        experiment: "HTS221 read, cold start (RPi)",
        variant: "wasmtime, compile on load",
        value: 8.702,
        unit: "ms",
        native: HTS_NATIVE_MS,
    },
    Figure {
        experiment: "HTS221 read, cold start (RPi)",
        variant: "wasmtime, precompiled",
        value: 7.887,
        unit: "ms",
        native: HTS_NATIVE_MS,
    },
];

/// USB medians (wasmtime + libusb vs native libusb).
pub const USB: &[Figure] = &[
    Figure {
        experiment: "USB sequential read, x86",
        variant: "wasmtime",
        value: 140.2,
        unit: "MiB/s",
        native: 141.0,
    },
    Figure {
        experiment: "USB sequential read, AArch64",
        variant: "wasmtime",
        value: 33.3,
        unit: "MiB/s",
        native: 34.7,
    },
    Figure {
        experiment: "USB 32-byte bulk round trip, x86",
        variant: "wasmtime",
        value: 0.188,
        unit: "ms",
        native: 0.181,
    },
    Figure {
        experiment: "USB 32-byte bulk round trip, AArch64",
        variant: "wasmtime",
        value: 0.603,
        unit: "ms",
        native: 0.558,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_match_the_papers_claims() {
        // "+7.16 ms" for wasmtime compiling on load.
        let compile = I2C_COLD_START[2];
        assert!((compile.value - compile.native - 7.16).abs() < 0.01);
        // "at most 8 %" USB overhead (AArch64 round trip).
        let worst = USB
            .iter()
            .map(|f| (f.ratio_to_native() - 1.0).abs())
            .fold(0.0, f64::max);
        assert!((worst - 0.0806).abs() < 0.001, "{worst}");
    }
}
