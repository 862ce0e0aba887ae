//! The checks that run on an `.aot` before WAMR sees it (header, section table against the
//! file size, custom sections): any bytes give an answer, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasi_hw_engine::{aot_custom_sections, check_aot_sections, AotInfo};

fuzz_target!(|data: &[u8]| {
    let _ = AotInfo::parse(data);
    if check_aot_sections(data).is_ok() {
        let _ = aot_custom_sections(data);
    }
});
