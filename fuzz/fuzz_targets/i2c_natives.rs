//! The WASI-I2C natives without WAMR: arbitrary sequences of host calls with arbitrary
//! arguments against an arbitrary linear memory (a `PlainInstance`), through the same
//! canonical-ABI layer and handle table a guest reaches, on the simulated bus (a TMP102
//! at 0x48, an EEPROM at 0x50; other addresses denied). The guest's `cabi_realloc` answers
//! from the input too, wild pointers included. A trap is fine; a panic, a crash, an
//! out-of-bounds access or a leak is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasi_hw_fuzz::{plain_instance, NativeCalls, Natives};

fuzz_target!(|input: NativeCalls| {
    static NATIVES: std::sync::OnceLock<Natives> = std::sync::OnceLock::new();
    let natives = NATIVES.get_or_init(|| Natives::new(wasi_hw_i2c::host_modules()));
    let mut plain = plain_instance();
    let host = wasi_hw_i2c::I2cConfig::from_grants(&["sim:0x48,0x50"])
        .expect("grant")
        .build()
        .expect("sim bus");
    plain.extensions.insert(host);
    natives.drive(plain, input, |name, args| {
        // A delay is a real sleep: keep it under a microsecond.
        if name.ends_with("delay-ns") {
            args[1] %= 1000;
        }
    });
});
