//! Raw bytes as a `.wasm`: WAMR's loader (interpreter mode) and instantiation must refuse
//! anything malformed with an error, never crash or hang. `.aot` bytes are not fed: an
//! `.aot` is native code and only loads signed (the signature check comes first).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasi_hw_fuzz::load_and_instantiate;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"\0asm") {
        load_and_instantiate(data, false);
    }
});
