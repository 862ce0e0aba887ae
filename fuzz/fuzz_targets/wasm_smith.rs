//! Valid modules from wasm-smith (the MVP plus what WAMR's interpreter supports here),
//! each loop and call bounded by fuel so that it terminates: loaded, instantiated (start
//! function) and every export called. Exercises execution as well as the loader.
#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Smith(Vec<u8>);

impl<'a> Arbitrary<'a> for Smith {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Smith> {
        let config = wasm_smith::Config {
            // What this WAMR build runs: no SIMD, threads, GC, exceptions, tail calls,
            // 64-bit memories or multiple memories.
            simd_enabled: false,
            relaxed_simd_enabled: false,
            threads_enabled: false,
            gc_enabled: false,
            exceptions_enabled: false,
            tail_call_enabled: false,
            memory64_enabled: false,
            multi_value_enabled: true,
            bulk_memory_enabled: true,
            reference_types_enabled: false,
            max_memories: 1,
            max_tables: 1,
            max_memory32_bytes: 1 << 24,
            max_imports: 0,
            export_everything: true,
            ..Default::default()
        };
        let mut module = wasm_smith::Module::new(config, u)?;
        module
            .ensure_termination(10_000)
            .map_err(|_| libfuzzer_sys::arbitrary::Error::IncorrectFormat)?;
        Ok(Smith(module.to_bytes()))
    }
}

fuzz_target!(|m: Smith| {
    wasi_hw_fuzz::load_and_instantiate(&m.0, true);
});
