//! The WASI-I2C natives without WAMR: arbitrary sequences of host calls with arbitrary
//! arguments against an arbitrary linear memory (a `PlainInstance`), through the same
//! canonical-ABI layer and handle table a guest reaches, on the simulated bus (a TMP102
//! at 0x48, an EEPROM at 0x50; other addresses denied). The guest's `cabi_realloc` answers
//! from the input too, wild pointers included. A trap is fine; a panic, a crash, an
//! out-of-bounds access or a leak is a finding.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use wasi_hw_engine::{HostModule, PlainInstance};

#[derive(Debug, Arbitrary)]
struct Input {
    memory: Vec<u8>,
    reallocs: Vec<u32>,
    calls: Vec<Call>,
}

#[derive(Debug, Arbitrary)]
struct Call {
    func: u8,
    args: [u64; 6],
}

/// One page of memory: pointers land in it often enough when taken modulo a bit more.
const PAGES: u32 = 1;

fn natives() -> &'static [(HostModule, Vec<(String, usize)>)] {
    static NATIVES: std::sync::OnceLock<Vec<(HostModule, Vec<(String, usize)>)>> =
        std::sync::OnceLock::new();
    NATIVES.get_or_init(|| {
        wasi_hw_i2c::host_modules()
            .into_iter()
            .map(|m| {
                let funcs = m.arities().map(|(n, a)| (n.to_string(), a)).collect();
                (m, funcs)
            })
            .collect()
    })
}

/// A slot from the input: usually a small value or an address near linear memory.
fn slot(raw: u64) -> u64 {
    match raw & 3 {
        0 => (raw >> 2) % 16,
        1 => (raw >> 2) % (u64::from(PAGES) * 65536 + 64),
        _ => raw >> 2,
    }
}

fuzz_target!(|input: Input| {
    let mut plain = PlainInstance::new(PAGES);
    let n = input.memory.len().min(plain.memory.len());
    plain.memory[..n].copy_from_slice(&input.memory[..n]);
    let host = wasi_hw_i2c::I2cConfig::from_grants(&["sim:0x48,0x50"])
        .expect("grant")
        .build()
        .expect("sim bus");
    plain.extensions.insert(host);
    let mut answers = input.reallocs.into_iter();
    let mut bump = plain.realloc;
    plain.realloc = Box::new(move |align, size| match answers.next() {
        Some(p) => Some(p),
        None => bump(align, size),
    });
    let funcs: Vec<(&HostModule, &str, usize)> = natives()
        .iter()
        .flat_map(|(m, fs)| fs.iter().map(move |(n, a)| (m, n.as_str(), *a)))
        .collect();
    for call in input.calls.iter().take(64) {
        let (module, name, arity) = funcs[call.func as usize % funcs.len()];
        let mut args: Vec<u64> = call.args[..arity].iter().map(|&a| slot(a)).collect();
        // A delay is a real sleep: keep it under a microsecond.
        if name.ends_with("delay-ns") {
            args[1] %= 1000;
        }
        let _ = module.call(name, &mut plain.caller(), &args);
    }
});
