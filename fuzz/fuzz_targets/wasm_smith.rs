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
        wasi_hw_fuzz::smith_module(u, false).map(Smith)
    }
}

fuzz_target!(|m: Smith| {
    wasi_hw_fuzz::load_and_instantiate(&m.0, true);
});
